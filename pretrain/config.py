"""The pretrain job's config tree: model, data, optimisation, DeepSpeed, scaling and run.

Loaded from `configs/pretrain/<preset>.yaml` plus `--set key=value` overrides. It crosses
the Ray boundary as a plain dict (`to_dict`) and each worker rebuilds it (`from_dict`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from datapipe.config import DatapipeConfig, check_name
from raypretrain.config import ConfigError, Range, RangeError, at_least, check_ranges, fraction
from pretrain.model import GPTConfig, num_params


@dataclass(frozen=True)
class StageConfig:
    """One stage of a curriculum (`data.schedule`): its mix of sources, and where it ends."""

    weights: dict[str, float] = field(default_factory=dict)
    """Mixing weight per source name in this stage; sources left out get weight 0."""
    until_step: int = 0
    """The stage ends before this optimizer step (0: see until_tokens; the last stage may leave both 0)."""
    until_tokens: int = 0
    """The stage ends once this many training tokens are planned (rounded up to a whole step)."""
    blend_steps: int = 0
    """Over the stage's last blend_steps steps the mix moves linearly to the next stage's weights."""

    def __post_init__(self) -> None:
        check_ranges(self, {"weights": at_least(0), "until_step": at_least(0), "until_tokens": at_least(0),
                            "blend_steps": at_least(0)})
        if not self.weights or not sum(self.weights.values()):
            raise RangeError("weights: not all 0")
        if self.until_step and self.until_tokens:
            raise RangeError("until_step: set until_step or until_tokens, not both")

    def end_step(self, global_batch_tokens: int) -> int:
        """The first step after the stage (0: none given)."""
        return self.until_step or -(-self.until_tokens // global_batch_tokens)


@dataclass(frozen=True)
class DataConfig:
    mode: Literal["shards", "live"] = "shards"
    """shards: read packed shards written by `python -m datapipe`; live: run the datapipe
    stages lazily (read → clean → streaming dedup → tokenize → pack) and train on the stream."""
    shards: str = ""
    """datapipe output folder holding manifest.json; empty builds the sample corpus with
    datapipe (config `data.datapipe`) into outputs/datapipe once and uses that."""
    weights: dict[str, float] = field(default_factory=dict)
    """Mixing weight per source name; sources left out get weight 0; empty means every
    source in proportion to its train tokens."""
    seed: int = 0
    """Seed of the per-epoch block order within each source."""
    prefetch_batches: int = 2
    """Batches Ray Data prepares ahead of the training step on each worker."""
    datapipe: DatapipeConfig = field(default_factory=DatapipeConfig)
    """The datapipe config used to build the sample shards, and in live mode the pipeline itself."""
    live_tokenizer: str = ""
    """Live mode: tokenizer.json to encode with; empty takes the one in `shards` (or the sample's)."""
    schedule: tuple[StageConfig, ...] = ()
    """A curriculum: stages in order, each with its own `weights` until its `until_step` or `until_tokens`
    (the last stage runs to the end), optionally blending into the next over `blend_steps`. Empty: `weights`
    for the whole run. Shards mode only; the stream stays a pure function of (seed, schedule, manifest)."""

    def __post_init__(self) -> None:
        check_ranges(self, {"seed": at_least(0), "prefetch_batches": Range(0, 1024), "weights": at_least(0)})
        if self.weights and not sum(self.weights.values()):
            raise RangeError("weights: not all 0")
        if self.schedule and self.weights:
            raise ConfigError("data.schedule: set either data.weights or data.schedule (each stage has its weights)")
        if self.schedule and self.mode == "live":
            raise ConfigError("data.schedule: live mode reads the raw stream in file order and cannot mix by "
                              "source; use data.mode=shards for a curriculum")


@dataclass(frozen=True)
class OptimConfig:
    lr: float = 1e-3
    """Peak learning rate, reached at the end of warmup."""
    min_lr_ratio: float = 0.1
    """Cosine decay ends at lr × min_lr_ratio."""
    warmup_steps: int = 20
    """Linear warmup from 0 over this many optimizer steps."""
    weight_decay: float = 0.1
    """AdamW weight decay on 2-D weights (never on norms, biases or embeddings)."""
    beta1: float = 0.9
    """AdamW beta1."""
    beta2: float = 0.95
    """AdamW beta2."""
    eps: float = 1e-8
    """AdamW epsilon."""
    grad_clip: float = 1.0
    """Clip the global gradient norm to this (0 disables)."""

    def __post_init__(self) -> None:
        check_ranges(self, {"lr": Range(0, 10, lo_open=True), "min_lr_ratio": fraction(), "warmup_steps": at_least(0),
                            "weight_decay": at_least(0), "beta1": fraction(hi_open=True),
                            "beta2": fraction(hi_open=True), "eps": Range(0, 1, lo_open=True), "grad_clip": at_least(0)})


@dataclass(frozen=True)
class TrainConfig:
    objective: Literal["clm", "mlm"] = "clm"
    """clm: causal next-token prediction; mlm: masked LM (bidirectional attention, loss on masked positions)."""
    mlm_prob: float = 0.15
    """Share of positions masked by the MLM objective (80% mask token, 10% random, 10% kept)."""
    max_steps: int = 300
    """Optimizer steps to train (the LR schedule spans them)."""
    max_tokens: int | Literal["chinchilla"] = 0
    """Stop after this many training tokens if that comes before max_steps (0: no token budget); `chinchilla` is
    tokens_per_param × the model's parameters (Hoffmann et al.'s compute-optimal budget; `python -m pretrain.plan`)."""
    tokens_per_param: float = 20.0
    """Training tokens per model parameter when max_tokens is `chinchilla` (20 is Hoffmann et al.'s optimum)."""
    global_batch_tokens: int = 16384
    """Tokens per optimizer step over all workers; must be a multiple of seq_len × micro_batch_size × workers."""
    micro_batch_size: int = 8
    """Sequences per worker per forward/backward; gradient accumulation makes up the rest."""
    eval_every: int = 50
    """Evaluate validation loss and perplexity every N steps (and at the last step)."""
    eval_blocks: int = 64
    """Validation blocks evaluated, spread over the workers."""
    checkpoint_every: int = 100
    """Save a checkpoint every N steps (and at the last step)."""
    keep_checkpoints: int = 2
    """Checkpoints kept by Ray (the newest)."""
    log_every: int = 10
    """Print a progress line and write TensorBoard scalars every N steps."""
    seed: int = 0
    """Seed of model init, dropout and MLM masking."""
    compile: bool = False
    """torch.compile the model inside the DeepSpeed engine (`engine.compile`, inductor; on CPU too): the first steps
    and the first eval pay the compile (tens of seconds), later steps run faster on GPU. Checkpoints are the same."""
    compile_mode: Literal["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"] = "default"
    """torch.compile's mode when compile is on (reduce-overhead and max-autotune use CUDA graphs on GPU)."""
    record_trace: bool = False
    """Debug: each rank appends (step, loss, global sample positions) to <run>/trace/rank<r>.jsonl."""
    debug_crash_in_save_at_step: int = -1
    """Debug (tests): every rank dies in the middle of the checkpoint save at this step, once."""

    def __post_init__(self) -> None:
        if self.max_tokens != "chinchilla":
            check_ranges(self, {"max_tokens": at_least(0)})
        check_ranges(self, {"mlm_prob": fraction(lo_open=True, hi_open=True), "max_steps": at_least(1),
                            "global_batch_tokens": at_least(1), "tokens_per_param": Range(0, 1e6, lo_open=True),
                            "micro_batch_size": at_least(1), "eval_every": at_least(1), "eval_blocks": at_least(1),
                            "checkpoint_every": at_least(1), "keep_checkpoints": at_least(1),
                            "log_every": at_least(1), "seed": Range(0, 2**63 - 1),
                            "debug_crash_in_save_at_step": at_least(-1)})


@dataclass(frozen=True)
class DeepSpeedConfig:
    zero_stage: int = 2
    """ZeRO stage 0-3: 1 shards optimizer state, 2 also gradients, 3 also parameters."""
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    """Training precision; auto is bf16 on GPU and fp32 on CPU."""
    offload_optimizer: bool = False
    """Keep optimizer state in CPU memory (ZeRO 1-3)."""
    offload_params: bool = False
    """Keep parameters in CPU memory (ZeRO 3 only)."""
    config_file: str = ""
    """A raw DeepSpeed JSON file merged on top of the generated config (expert knobs)."""

    def __post_init__(self) -> None:
        check_ranges(self, {"zero_stage": Range(0, 3)})


@dataclass(frozen=True)
class ScalingConfig:
    num_workers: int = 2
    """Ray Train workers, one DeepSpeed rank each."""
    use_gpu: Literal["auto", "yes", "no"] = "auto"
    """Train on GPUs (NCCL) or CPUs (gloo); auto uses GPUs when the cluster has them or RAYPRETRAIN_GPU_NODES=1 says it can start them."""
    cpus_per_worker: float = 1.0
    """CPUs each worker reserves (fractions let Tune trials share a small machine)."""
    resources_per_worker: dict[str, float] = field(default_factory=dict)
    """Extra Ray resources each worker asks for, e.g. {train_node: 1} or {"accelerator_type:A100": 0.001}: pins workers to the nodes that have them."""

    def __post_init__(self) -> None:
        check_ranges(self, {"num_workers": Range(1, 100_000), "cpus_per_worker": at_least(0),
                            "resources_per_worker": at_least(0)})
        if any(not name for name in self.resources_per_worker):
            raise RangeError("resources_per_worker: a resource needs a name")


@dataclass(frozen=True)
class RunConfig:
    name: str = "debug"
    """Run name; rerunning with the same name and storage_path resumes it."""
    storage_path: str = "outputs/pretrain"
    """Where Ray stores checkpoints and results: a local folder (shared on multi-node) or s3://, gs://."""
    tensorboard_dir: str = ""
    """TensorBoard log folder (local); empty is <storage_path>/<name>/tensorboard for local storage, outputs/tensorboard/<name> with s3:// or gs:// storage (copied to <storage_path>/<name>/tensorboard at each checkpoint)."""
    max_failures: int = 0
    """Worker failures Ray Train recovers from by restarting from the last checkpoint."""
    verbose: bool = False
    """Show Ray Train's, Ray Data's and DeepSpeed's INFO logs and library warnings (--verbose); off: warnings and our progress only."""

    def __post_init__(self) -> None:
        check_name("name", self.name)
        if not self.storage_path:
            raise RangeError("storage_path: must not be empty")
        check_ranges(self, {"max_failures": at_least(-1)})


@dataclass(frozen=True)
class SampleConfig:
    prompt: str = "The"
    """Prompt of the sample printed after training."""
    max_new_tokens: int = 40
    """Tokens generated for the sample."""
    temperature: float = 0.8
    """Sampling temperature (0 is greedy)."""
    top_k: int = 50
    """Sample among the k most likely tokens (0: all)."""

    def __post_init__(self) -> None:
        check_ranges(self, {"max_new_tokens": at_least(0), "temperature": at_least(0), "top_k": at_least(0)})


@dataclass(frozen=True)
class PretrainConfig:
    model: GPTConfig = field(default_factory=GPTConfig)
    """Model shape; vocab_size must hold the tokenizer's vocab (+1 for mlm), seq_len must match the shards."""
    data: DataConfig = field(default_factory=DataConfig)
    """Where training tokens come from."""
    optim: OptimConfig = field(default_factory=OptimConfig)
    """AdamW and the learning-rate schedule."""
    train: TrainConfig = field(default_factory=TrainConfig)
    """Objective, batch, length and cadence of eval/checkpoints/logging."""
    deepspeed: DeepSpeedConfig = field(default_factory=DeepSpeedConfig)
    """DeepSpeed engine settings."""
    scaling: ScalingConfig = field(default_factory=ScalingConfig)
    """Workers and resources."""
    run: RunConfig = field(default_factory=RunConfig)
    """Name, storage and fault tolerance."""
    sample: SampleConfig = field(default_factory=SampleConfig)
    """The generated sample printed at the end."""

    def __post_init__(self) -> None:
        t, n = self.train, self.scaling.num_workers
        if self.deepspeed.offload_params and self.deepspeed.zero_stage != 3:
            raise ConfigError("deepspeed.offload_params: needs deepspeed.zero_stage=3")
        if self.deepspeed.offload_optimizer and self.deepspeed.zero_stage == 0:
            raise ConfigError("deepspeed.offload_optimizer: needs deepspeed.zero_stage >= 1")
        per_step = self.model.seq_len * t.micro_batch_size * n
        if t.global_batch_tokens % per_step:
            raise ConfigError(f"train.global_batch_tokens: {t.global_batch_tokens} is not a positive multiple of "
                              f"seq_len × micro_batch_size × num_workers = {per_step}")
        self.stage_ends()

    def stage_ends(self) -> list[int]:
        """The first step after each stage of data.schedule but the last (checked: in order, each with an
        end, room for its blend); ConfigError otherwise."""
        ends, stages = [], self.data.schedule
        for i, stage in enumerate(stages):
            key, end = f"data.schedule[{i}]", stage.end_step(self.train.global_batch_tokens)
            begin = ends[-1] if ends else 0
            if i == len(stages) - 1:  # it runs to the end of the run
                if stage.blend_steps:
                    raise ConfigError(f"{key}.blend_steps: the last stage has no next stage to blend into")
                if end and end <= begin:
                    raise ConfigError(f"{key}: ends at step {end}, not after the previous stage's end at step "
                                      f"{begin}; stages must be in order")
                break
            if not end:
                raise ConfigError(f"{key}: set until_step or until_tokens (only the last stage may leave them out)")
            if end <= begin:
                raise ConfigError(f"{key}: ends at step {end}, not after the previous stage's end at step {begin}; "
                                  "stages must be in order")
            if stage.blend_steps >= end - begin:
                raise ConfigError(f"{key}.blend_steps: {stage.blend_steps} is not shorter than the stage "
                                  f"({end - begin} steps)")
            ends.append(end)
        return ends

    def schedule_warnings(self) -> list[str]:
        """One line per stage of data.schedule that starts at or after the run's last step (never trained)."""
        total, out = self.total_steps(), []
        for i, begin in enumerate(self.stage_ends(), start=1):
            if begin >= total:
                out.append(f"data.schedule[{i}] starts at step {begin}, at or after the run's end at step {total}: "
                           "it is never trained")
        return out

    def check_sample_data(self) -> None:
        """With no data.shards the run builds its own shards from data.datapipe: their shape must
        fit the model, checked here before any work (with shards, pretrain checks their manifest)."""
        if self.data.shards:
            return
        pack, tok = self.data.datapipe.pack, self.data.datapipe.tokenize
        if pack.seq_len != self.model.seq_len:
            raise ConfigError(f"model.seq_len: {self.model.seq_len} but data.datapipe.pack.seq_len is {pack.seq_len}; "
                              "set both to one value")
        need = tok.vocab_size + (1 if self.train.objective == "mlm" else 0)
        if self.model.vocab_size < need:
            raise ConfigError(f"model.vocab_size: {self.model.vocab_size} is smaller than data.datapipe.tokenize."
                              f"vocab_size {tok.vocab_size}{' + 1 mask token' if need > tok.vocab_size else ''}")

    # Derived values (litgpt style: methods, not stored fields).
    def seqs_per_step(self) -> int:
        """Sequences in one optimizer step over all workers."""
        return self.train.global_batch_tokens // self.model.seq_len

    def grad_accum_steps(self) -> int:
        return self.seqs_per_step() // (self.train.micro_batch_size * self.scaling.num_workers)

    def total_steps(self) -> int:
        """Optimizer steps to run: max_steps, or fewer when the token budget runs out first."""
        budget = self.token_budget()
        if budget:
            return max(1, min(self.train.max_steps, math.ceil(budget / self.train.global_batch_tokens)))
        return self.train.max_steps

    def token_budget(self) -> int:
        """train.max_tokens in tokens (0: none); `chinchilla` resolves to tokens_per_param × parameters."""
        if self.train.max_tokens == "chinchilla":
            return int(self.train.tokens_per_param * num_params(self.model))
        return self.train.max_tokens
