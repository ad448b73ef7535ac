"""tune/report.py's pure pieces: each trial's status in results.csv."""
from __future__ import annotations

from tune.report import status
from tune.trial import INVALID


def test_status_of_each_way_a_trial_ends():
    assert status({"step": 16}, False, 16) == "done"
    assert status({"step": 8}, False, 16) == "stopped at 8/16"
    assert status({}, True, 16) == "error"
    reason = "train.global_batch_tokens: 384 is not a positive multiple of … = 256"
    assert status({INVALID: reason, "val_loss": float("inf")}, False, None) == f"invalid: {reason}"
    # a trial that errored on a point the config refuses (before trials reported it) is invalid too
    assert status({}, True, None, refused=reason) == f"invalid: {reason}"
