"""Sizing a run by compute (Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models").

    python -m pretrain.plan --flops 1e20
    python -m pretrain.plan --gpu-hours 500 --gpu h100 --mfu 0.4

Training compute is C = 6 N D (N parameters, D tokens). The compute-optimal split keeps D/N near 20 tokens per
parameter (the paper's Table 3 goes from 20 at 400M to 22 at 1T parameters), so N = sqrt(C / (6 * 20)) and
D = 20 N. Hoffmann et al. count every parameter, the embedding table included (Kaplan et al. left it out), and
so does this module. The arithmetic is pure functions, tested against the paper's Table 3.
"""
from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass

import configs
from pretrain.config import PretrainConfig
from pretrain.model import flops_per_token, num_params
from raypretrain.config import ConfigError, load

TOKENS_PER_PARAM = 20.0
"""Hoffmann et al.'s compute-optimal ratio of training tokens to parameters."""
CHINCHILLA_TABLE3 = [  # (parameters, training FLOPs, tokens): the paper's compute-optimal estimates (approach 1)
    (400e6, 1.92e19, 8.0e9), (1e9, 1.21e20, 20.2e9), (10e9, 1.23e22, 205.1e9), (67e9, 5.76e23, 1.5e12),
    (175e9, 3.85e24, 3.7e12), (280e9, 9.90e24, 5.9e12), (520e9, 3.43e25, 11.0e12), (1e12, 1.27e26, 21.2e12),
    (10e12, 1.30e28, 216.2e12),
]
GPU_PEAK_BF16 = {"h100": 989e12, "h200": 989e12, "a100": 312e12, "l4": 121e12, "a10g": 125e12}
"""Dense bf16 tensor-core peak FLOP/s per GPU, from the vendors' data sheets (no sparsity)."""


def compute_optimal(flops: float, tokens_per_param: float = TOKENS_PER_PARAM) -> tuple[float, float]:
    """(parameters, tokens) that spend `flops` compute-optimally: C = 6 N D with D = tokens_per_param * N."""
    params = math.sqrt(flops / (6.0 * tokens_per_param))
    return params, tokens_per_param * params


def gpu_flops(gpu_hours: float, gpu: str, mfu: float) -> float:
    """Training FLOPs that `gpu_hours` of `gpu` deliver at model-FLOPs utilisation `mfu`."""
    if gpu not in GPU_PEAK_BF16:
        raise ConfigError(f"--gpu: {gpu!r} is not one of {', '.join(GPU_PEAK_BF16)}")
    return gpu_hours * 3600.0 * GPU_PEAK_BF16[gpu] * mfu


@dataclass(frozen=True)
class RunPlan:
    """What a config will spend: its model's size, FLOPs per token, tokens and steps."""

    params: int
    non_embedding_params: int
    flops_per_token: float
    tokens: int
    steps: int

    @property
    def total_flops(self) -> float:
        return self.flops_per_token * self.tokens

    def line(self) -> str:
        return (f"[pretrain] plan: {self.params / 1e6:,.1f}M parameters ({self.non_embedding_params / 1e6:,.1f}M "
                f"without embeddings), {self.flops_per_token / 1e6:,.1f} MFLOPs/token, {self.tokens:,} tokens "
                f"= {self.total_flops:.3g} FLOPs, {self.steps:,} steps")


def plan_of(cfg: PretrainConfig) -> RunPlan:
    steps = cfg.total_steps()
    return RunPlan(num_params(cfg.model), num_params(cfg.model, non_embedding=True),
                   flops_per_token(cfg.model, cfg.model.seq_len), steps * cfg.train.global_batch_tokens, steps)


def nearest_preset(params: float) -> tuple[str, PretrainConfig]:
    """The shipped pretrain preset whose model size is nearest `params` (on a log scale)."""
    sized = [(name, load(PretrainConfig, path)) for name, path in configs.presets("pretrain").items()]
    return min(sized, key=lambda nc: abs(math.log(num_params(nc[1].model) / params)))


def advice(flops: float, tokens_per_param: float = TOKENS_PER_PARAM) -> str:
    params, tokens = compute_optimal(flops, tokens_per_param)
    name, cfg = nearest_preset(params)
    n = num_params(cfg.model)
    preset_tokens = int(tokens_per_param * n)
    steps = math.ceil(preset_tokens / cfg.train.global_batch_tokens)
    return "\n".join([
        f"compute {flops:.3g} FLOPs → compute-optimal {params / 1e6:,.0f}M parameters on {tokens / 1e9:,.2f}B tokens "
        f"({tokens_per_param:g} tokens per parameter)",
        f"nearest preset: {name} ({n / 1e6:,.1f}M parameters): {preset_tokens / 1e9:,.2f}B tokens, "
        f"{steps:,} steps of {cfg.train.global_batch_tokens:,} tokens, {6 * n * preset_tokens:.3g} FLOPs",
        f"run it: python -m pretrain --config {name} --set train.max_tokens=chinchilla"
        + (f" --set train.tokens_per_param={tokens_per_param:g}" if tokens_per_param != TOKENS_PER_PARAM else "")
        + f" --set train.max_steps={steps}",
    ])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pretrain.plan", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    budget = p.add_mutually_exclusive_group(required=True)
    budget.add_argument("--flops", type=float, help="training compute in FLOPs, e.g. 1e20")
    budget.add_argument("--gpu-hours", type=float, help="GPU hours (with --gpu and --mfu)")
    p.add_argument("--gpu", default="h100", help=f"GPU kind for --gpu-hours: {', '.join(GPU_PEAK_BF16)}")
    p.add_argument("--mfu", type=float, default=0.4, help="model-FLOPs utilisation to expect (default 0.4)")
    p.add_argument("--tokens-per-param", type=float, default=TOKENS_PER_PARAM, help="default 20 (Hoffmann et al.)")
    args = p.parse_args(argv)
    try:
        for name in ("flops", "gpu_hours", "tokens_per_param"):
            value = getattr(args, name)
            if value is not None and not value > 0:
                raise ConfigError(f"--{name.replace('_', '-')}: must be positive, got {value:g}")
        if not 0 < args.mfu <= 1:
            raise ConfigError(f"--mfu: must be in (0, 1], got {args.mfu:g}")
        flops = args.flops or gpu_flops(args.gpu_hours, args.gpu.lower(), args.mfu)
    except ConfigError as e:
        print(f"pretrain.plan: error: {e}", file=sys.stderr)
        return 2
    print(advice(flops, args.tokens_per_param))
    return 0


if __name__ == "__main__":
    sys.exit(main())
