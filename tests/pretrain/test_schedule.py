"""data.schedule, a curriculum: stages of source weights (with linear blends) as segments of global
sample positions; every source's blocks taken once each, in order, across stage boundaries; bad
schedules refused with one line and exit 2 before any work; TensorBoard's data/share/<source>, state.json's
stage and the report's tokens-by-source plot. A run killed inside stage 2 of 3 resumes bitwise, every position
trained once: tests/pretrain/test_compile.py's killed run (compiled, on tests/pretrain/tiny.py's curriculum)."""
from __future__ import annotations

import glob
import json
import os

import numpy as np
import pytest
import yaml

from pretrain.config import PretrainConfig
from pretrain.data import CYCLE, MixPlan, Segment, Source, mix_segments, run_mix, sources_of
from pretrain.main import main
from pretrain.report import scalars, write_report
from raypretrain.config import ConfigError, from_dict
from tests.pretrain.tiny import SCHEDULE, SEQS, STEPS


@pytest.fixture
def shards(tiny_shards):
    return tiny_shards


def config(shards, schedule=SCHEDULE, **train) -> PretrainConfig:
    return from_dict(PretrainConfig, {
        "model": {"vocab_size": 320, "seq_len": 32, "n_layer": 2, "n_head": 2, "d_model": 64},
        "train": {"max_steps": 14, "global_batch_tokens": 256, "micro_batch_size": 4, **train},
        "data": {"shards": str(shards), "schedule": schedule}, "scaling": {"num_workers": 1}})


def test_stages_and_blend_steps_become_segments_of_positions(shards):
    manifest = json.load(open(shards / "manifest.json"))
    segments = run_mix(config(shards), manifest)
    assert segments == [Segment(0, (1.0, 0.0, 0.0), 0),
                        Segment(5 * SEQS, (0.0, 0.75, 0.25), 1),
                        # the last 2 steps of stage 1 move a third and two thirds of the way to stage 2
                        Segment(8 * SEQS, pytest.approx((1 / 6, 0.5, 1 / 3)), 1),
                        Segment(9 * SEQS, pytest.approx((1 / 3, 0.25, 5 / 12)), 1),
                        Segment(10 * SEQS, (0.5, 0.0, 0.5), 2)]
    # without a schedule: one segment of data.weights, the stream of every earlier run
    plain = from_dict(PretrainConfig, {"data": {"shards": str(shards), "weights": {"a": 1, "b": 1}}})
    assert mix_segments(plain, sources_of(manifest, "train"), manifest) == [Segment(0, (0.5, 0.5, 0.0), 0)]


def test_across_stages_each_source_takes_its_blocks_once_in_order():
    sources = [Source("a", ("a0",), (40,)), Source("b", ("b0", "b1"), (30, 31)), Source("c", ("c0",), (50,))]
    segments = [Segment(0, (1.0, 0.0, 0.0)), Segment(37, (0.0, 0.7, 0.3), 1), Segment(1100, (0.2, 0.3, 0.5), 1),
                Segment(2600, (0.5, 0.0, 0.5), 2)]
    plan = MixPlan(sources, segments, seed=5)
    pos = np.arange(4 * CYCLE)
    src, j = plan.source_and_index(pos)
    for s in range(3):  # no repeat, no gap: source s's positions take its blocks 0, 1, 2, … in position order
        assert j[src == s].tolist() == list(range((src == s).sum()))
    assert set(src[:37].tolist()) == {0} and set(src[37:1100].tolist()) == {1, 2}
    assert [plan.stage_at(p) for p in (0, 36, 37, 2599, 2600, 10**6)] == [0, 0, 1, 1, 2, 2]
    # a pure function of the position: any slice, on a fresh plan, gives the same blocks
    whole, some = plan.lookup(pos), np.array([3999, 36, 37, 1099, 1100, 2600, 5])
    assert MixPlan(sources, segments, seed=5).lookup(some) == [whole[p] for p in some]
    # and each epoch of a source is still a permutation of its blocks
    b = [(sh, row) for (s, sh, row) in whole if s == 1][:61]
    assert sorted(b) == [(0, r) for r in range(30)] + [(1, r) for r in range(31)]


@pytest.mark.parametrize("schedule, message", [
    ([{"weights": {"a": 1}, "until_step": 5}, {"weights": {"web": 1}}], "data.schedule[1].weights: no source 'web'"),
    ([{"weights": {"a": 1}, "until_step": 6}, {"weights": {"b": 1}, "until_step": 4}, {"weights": {"a": 1}}],
     "data.schedule[1]: ends at step 4, not after the previous stage's end at step 6; stages must be in order"),
    ([{"weights": {"a": 0, "b": 0}, "until_step": 5}, {"weights": {"a": 1}}], "weights: not all 0"),
    ([{"weights": {"a": 1}}, {"weights": {"b": 1}}], "data.schedule[0]: set until_step or until_tokens"),
    ([{"weights": {"a": 1}, "until_step": 5, "blend_steps": 5}, {"weights": {"b": 1}}],
     "data.schedule[0].blend_steps: 5 is not shorter than the stage (5 steps)"),
    ([{"weights": {"a": 1}, "until_step": 5, "until_tokens": 99}, {"weights": {"b": 1}}], "not both"),
])
def test_a_bad_schedule_is_one_line_and_exit_2_before_any_work(shards, tmp_path, capsys, schedule, message):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"model": {"vocab_size": 320, "seq_len": 32},
                                    "data": {"shards": str(shards), "schedule": schedule}}))
    assert main(["--config", str(path), "--check"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("pretrain: error: ") and message in err[0], err


def test_live_mode_and_weights_with_a_schedule_are_refused():
    with pytest.raises(ConfigError, match="data.schedule: live mode reads the raw stream"):
        from_dict(PretrainConfig, {"data": {"mode": "live", "schedule": SCHEDULE}})
    with pytest.raises(ConfigError, match="set either data.weights or data.schedule"):
        from_dict(PretrainConfig, {"data": {"weights": {"a": 1}, "schedule": SCHEDULE}})


def test_a_stage_past_the_end_is_a_one_line_warning(shards, tmp_path, capsys):
    path = tmp_path / "late.yaml"
    path.write_text(yaml.safe_dump({"model": {"vocab_size": 320, "seq_len": 32}, "train": {"max_steps": 8},
                                    "data": {"shards": str(shards), "schedule": SCHEDULE}}))
    assert main(["--config", str(path), "--check"]) == 0
    out = capsys.readouterr()
    assert out.err.strip() == ("pretrain: warning: data.schedule[2] starts at step 10, at or after the run's end at "
                               "step 8: it is never trained"), out.err
    assert "config OK" in out.out


def test_the_schedule_shows_in_tensorboard_state_and_the_report(reference_run):
    run = reference_run / "runs" / "ref"
    tb = scalars(str(run / "tensorboard"))
    share = {name: dict(tb[f"data/share/{name}"]) for name in "abc"}
    assert [share["a"][s] for s in (1, 5)] == [1.0, 1.0] and share["b"][6] == 0.75 and share["c"][6] == 0.25
    assert share["a"][11] == 0.5 and share["c"][11] == 0.5 and share["b"][11] == 0.0
    assert all(abs(sum(share[n][s] for n in "abc") - 1) < 1e-9 for s in range(1, STEPS + 1))
    assert [dict(tb["data/stage"])[s] for s in (1, 5, 6, 10, 11, 14)] == [0, 0, 1, 1, 2, 2]
    states = [json.load(open(p)) for p in glob.glob(str(run / "checkpoint_*" / "state.json"))]
    assert {s["step"]: s["stage"] for s in states} == {12: 2, 14: 2}  # the 2 kept; step 12 starts in stage 2
    page = write_report(str(reference_run / "report"), str(run / "tensorboard"), None, {}, tokens_per_step=256)
    assert os.path.isfile(reference_run / "report" / "sources.png") and "<h2>sources</h2>" in open(page).read()
