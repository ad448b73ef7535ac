"""train.compile: the model compiled inside the DeepSpeed engine (inductor, on CPU here), with activation
checkpointing on, trains like the eager model (losses within TOLERANCE, step by step), and a compiled run that
dies in the middle of a checkpoint save resumes to exactly (bitwise) the uninterrupted compiled run's losses
and samples. The run is tests/pretrain/tiny.py's (its curriculum too)."""
from __future__ import annotations

import pytest

from tests.pretrain.tiny import SEQS, STEPS, attempts, fit, losses, steps, tiny

TOLERANCE = 1e-4
"""Relative: inductor fuses and reorders fp32 reductions, so its losses differ from eager's by rounding
(below 1e-6 relative measured here) and never by more than this."""


@pytest.fixture(scope="module")
def compiled(reference_run, tiny_shards):
    """The compiled run (activation checkpointing on), uninterrupted, next to the eager reference."""
    fit(tiny(reference_run, tiny_shards, "compiled", compile=True, activation_checkpointing=True))
    return reference_run


def test_compiled_with_activation_checkpointing_follows_eager_step_by_step(compiled):
    eager, got = losses(compiled, "ref"), losses(compiled, "compiled")
    worst = max(abs(g - w) / abs(w) for g, w in zip(got, eager))
    assert worst <= TOLERANCE, f"largest relative difference {worst:.2e}: {got} vs {eager}"
    assert got[-1] < got[0] - 1.0  # and it learns


def test_compiled_run_killed_inside_stage_2_of_3_resumes_bitwise(compiled, tiny_shards):
    # the worker dies halfway through the step-9 save (the schedule's stage 1 of 0-2, blending); it resumes
    # from step 6 (stage 1), recompiles, crosses into stage 2 at step 10, and trains exactly the
    # uninterrupted compiled run's steps on exactly its samples
    fit(tiny(compiled, tiny_shards, "compiled-crash", compile=True, crash=True, activation_checkpointing=True))
    assert attempts(compiled, "compiled-crash") > STEPS  # steps 6-8 were trained twice: the worker did die
    assert losses(compiled, "compiled-crash") == losses(compiled, "compiled")  # bitwise
    got, want = steps(compiled, "compiled-crash"), steps(compiled, "compiled")
    assert [got[s]["pos"] for s in range(STEPS)] == [want[s]["pos"] for s in range(STEPS)]
    used = sorted(p for s in range(STEPS) for p in got[s]["pos"])
    assert used == list(range(STEPS * SEQS))  # no position repeated, none skipped
