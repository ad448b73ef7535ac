"""A tiny run for the compile and curriculum tests: 2 layers, d_model 64, seq 32, on synthetic shards of three
sources (a, b, c) mixed by a three-stage data.schedule; 1 worker × 0.5 CPU, ZeRO-2, fp32, 14 steps with a
checkpoint every 3 and the trace on. `reference_run` (tests/pretrain/conftest.py) trains it once, eager and
uninterrupted, for both test files to compare with."""
from __future__ import annotations

from pretrain.config import PretrainConfig
from pretrain.trainer import build_trainer
from raypretrain.config import from_dict
from tests.pretrain.test_resume import final, trace

STEPS, EVERY = 14, 3
SEQS = 8  # sequences per step (256 tokens / seq_len 32)
SCHEDULE = [{"weights": {"a": 1.0}, "until_step": 5},
            {"weights": {"b": 3.0, "c": 1.0}, "until_step": 10, "blend_steps": 2},
            {"weights": {"a": 1.0, "c": 1.0}}]
CRASH_AT = 9
"""The step whose checkpoint save the crashing runs die in (stage 1, blending): Ray Train restarts them from
the step-6 checkpoint (stage 1), and they cross into stage 2 at step 10."""


def tiny(tmp_path, shards, name, compile: bool = False, crash: bool = False, **model) -> PretrainConfig:
    train = {"max_steps": STEPS, "global_batch_tokens": 256, "micro_batch_size": 4, "eval_every": 4,
             "checkpoint_every": EVERY, "log_every": 4, "eval_blocks": 8, "record_trace": True, "compile": compile,
             "debug_crash_in_save_at_step": CRASH_AT if crash else -1}
    return from_dict(PretrainConfig, {
        "model": {"vocab_size": 320, "seq_len": 32, "n_layer": 2, "n_head": 2, "d_model": 64, **model},
        "train": train, "data": {"shards": str(shards), "schedule": SCHEDULE},
        "optim": {"lr": 1e-2, "warmup_steps": 2}, "deepspeed": {"zero_stage": 2, "precision": "fp32"},
        "scaling": {"num_workers": 1, "cpus_per_worker": 0.5},
        "run": {"name": name, "storage_path": str(tmp_path / "runs"), "max_failures": 1}})


def fit(cfg: PretrainConfig) -> None:
    result = build_trainer(cfg).fit()
    assert result.error is None and result.metrics["step"] == STEPS


def steps(tmp_path, name) -> dict[int, dict]:
    """The trace record that counts for each step (the last attempt's): every step once."""
    records = final(trace(tmp_path, name)[0])
    assert sorted(records) == list(range(STEPS))
    return records


def losses(tmp_path, name) -> list[float]:
    records = steps(tmp_path, name)
    return [records[s]["loss"] for s in range(STEPS)]


def attempts(tmp_path, name) -> int:
    """Trace records of every attempt: more than STEPS when the crash made steps run twice."""
    return len(trace(tmp_path, name)[0])
