"""Compute-optimal sizing: pure arithmetic checked against Hoffmann et al. (2022), Table 3."""
from __future__ import annotations

import pytest

from pretrain.config import PretrainConfig
from pretrain.model import GPT, num_params
from pretrain.plan import CHINCHILLA_TABLE3, advice, compute_optimal, gpu_flops, main, nearest_preset, plan_of
from raypretrain.config import ConfigError, load


@pytest.mark.parametrize("params, flops, tokens", CHINCHILLA_TABLE3)
def test_compute_optimal_reproduces_table_3(params, flops, tokens):
    n, d = compute_optimal(flops)
    # 20 tokens per parameter: the paper's own ratio drifts from 20 (400M) to 21.6 (10T), hence the tolerances
    assert n == pytest.approx(params, rel=0.05) and d == pytest.approx(tokens, rel=0.10)
    assert 6 * n * d == pytest.approx(flops, rel=1e-9)


def test_gpu_hours_become_flops():
    assert gpu_flops(1, "h100", 0.5) == pytest.approx(3600 * 989e12 * 0.5)
    with pytest.raises(ConfigError, match="--gpu: 'tpu'"):
        gpu_flops(1, "tpu", 0.5)


def test_the_nearest_preset_and_the_overrides_to_use():
    assert nearest_preset(125e6)[0] == "124m" and nearest_preset(1.2e9)[0] == "1.3b"
    out = advice(1e20)
    assert "compute-optimal 913M parameters" in out and "nearest preset: 760m" in out
    assert "--config 760m --set train.max_tokens=chinchilla" in out


def test_chinchilla_token_budget_and_the_plan_line():
    cfg = load(PretrainConfig, "124m", ["train.max_tokens=chinchilla", "train.max_steps=100000"], job="pretrain")
    n = num_params(cfg.model)
    assert cfg.token_budget() == int(20 * n)
    assert cfg.total_steps() == -(-int(20 * n) // cfg.train.global_batch_tokens)
    plan = plan_of(cfg)
    assert plan.params == n == sum(p.numel() for p in GPT(cfg.model).parameters())
    assert plan.tokens == plan.steps * cfg.train.global_batch_tokens and plan.total_flops > 6 * n * 20 * n
    assert plan.line().startswith("[pretrain] plan: 123.6M parameters (85.0M without embeddings)")
    half = load(PretrainConfig, "124m", ["train.max_tokens=chinchilla", "train.tokens_per_param=10",
                                         "train.max_steps=100000"], job="pretrain")
    assert half.token_budget() == int(10 * n)


def test_the_cli(capsys):
    assert main(["--flops", "1.21e20"]) == 0
    assert "compute-optimal 1,004M parameters on 20.08B tokens" in capsys.readouterr().out
    assert main(["--gpu-hours", "100", "--gpu", "h100"]) == 0
    assert main(["--flops", "-1"]) == 2 and "--flops: must be positive" in capsys.readouterr().err
    assert main(["--gpu-hours", "1", "--mfu", "2"]) == 2
