"""The deterministic weighted mix of shards (pure functions, no Ray)."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from raypretrain.config import ConfigError
from pretrain.data import (CYCLE, MixPlan, Segment, Source, cycle_pattern, load_manifest, mix_weights, sources_of,
                           unigram_entropy, val_blocks)
from tests.pretrain.synthetic import write_shards


def test_cycle_pattern_gives_each_source_its_share_evenly_spread():
    pattern = cycle_pattern([0.7, 0.2, 0.1])
    assert Counter(pattern.tolist()) == {0: 700, 1: 200, 2: 100}
    # smooth: in any window of 10 positions source 0 has 6-8 slots
    for i in range(0, CYCLE - 10):
        assert 6 <= (pattern[i:i + 10] == 0).sum() <= 8
    assert Counter(cycle_pattern([1 / 3] * 3).tolist()) == {0: 334, 1: 333, 2: 333}


def test_each_epoch_visits_every_block_once_in_a_seeded_order():
    sources = [Source("a", ("a0", "a1"), (3, 4)), Source("b", ("b0",), (5,))]
    plan = MixPlan(sources, [0.5, 0.5], seed=0)
    where = plan.lookup(np.arange(0, 2 * CYCLE))
    a = [(sh, row) for s, sh, row in where if s == 0]
    assert len(a) == CYCLE
    for epoch in range(0, 7 * 100, 7):  # 7 blocks per epoch of source a
        assert sorted(a[epoch:epoch + 7]) == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (1, 3)]
    assert a[:7] != a[7:14]  # a new permutation per epoch
    again = MixPlan(sources, [0.5, 0.5], seed=0).lookup(np.arange(0, 2 * CYCLE))
    assert again == where
    assert MixPlan(sources, [0.5, 0.5], seed=1).lookup(np.arange(0, 2 * CYCLE)) != where


def test_lookup_is_a_pure_function_of_position():
    sources = [Source("a", ("a0",), (11,)), Source("b", ("b0",), (13,))]
    plan = MixPlan(sources, [0.3, 0.7], seed=3)
    pos = np.arange(5000)
    whole = plan.lookup(pos)
    # any slice, in any order, on a fresh plan gives the same answers (what resuming relies on)
    sample = np.array([4999, 17, 2500, 1001])
    assert MixPlan(sources, [0.3, 0.7], seed=3).lookup(sample) == [whole[i] for i in sample]


def test_weights_default_to_train_tokens_and_unknown_sources_are_refused(tmp_path):
    manifest = write_shards(tmp_path, sources=("a", "b"))
    sources = sources_of(manifest, "train")
    assert [s.name for s in sources] == ["a", "b"] and sources[0].blocks == 256
    assert mix_weights(sources, manifest, {}) == [0.5, 0.5]
    assert mix_weights(sources, manifest, {"a": 3, "b": 1}) == [0.75, 0.25]
    assert mix_weights(sources, manifest, {"a": 1}) == [1.0, 0.0]
    with pytest.raises(ConfigError, match="data.weights: no source 'web'"):
        mix_weights(sources, manifest, {"web": 1})
    assert load_manifest(str(tmp_path)) == manifest


def test_validation_blocks_and_unigram_entropy(tmp_path):
    manifest = write_shards(tmp_path)
    val = val_blocks(str(tmp_path), manifest, 20)
    assert val.shape == (20, 33) and val.dtype == np.int64
    assert np.log(90) < unigram_entropy(str(tmp_path), manifest) <= np.log(97) + 1e-6


def test_a_ranks_dataset_runs_no_ndarray_to_block_task(ray_local, tmp_path):
    # from_numpy ran one `ndarray_to_block` Ray task per block, and that task's worker aborted
    # ("Mutex corrupt", SIGABRT) on the console in runs here; the positions are now built on
    # the driver as blocks (ray.data.from_blocks), so no such task exists.
    import ray

    from pretrain.data import rank_dataset

    manifest = write_shards(tmp_path, seq_len=16, train_blocks=64)
    ds = rank_dataset(str(tmp_path), manifest, [Segment(0, (0.5, 0.5))], seed=0, rank=1, world=2, start=4,
                      count=40, batch_size=4)
    pos = [int(p) for batch in ds.iter_batches(batch_size=None) for p in batch["pos"]]
    assert pos == [4 + 2 * i + 1 for i in range(40)]
    names = {e.get("name", "") for e in ray.timeline()}  # task events from the GCS (no dashboard here)
    assert "task:execute" in names  # the events are there: the BlockReader ran
    assert not any("ndarray_to_block" in n for n in names), sorted(names)
