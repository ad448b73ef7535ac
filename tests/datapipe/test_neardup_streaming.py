"""Streaming near-dedup with several workers: racing batches never drop both copies of a pair.

Each worker asks every BandIndex shard about its batch. Calls from two workers can reach
the shards in different orders, so if each shard went by arrival alone, copy a could be
"second" in one shard and copy b "second" in another, and both would be dropped.
"""
import random

import numpy as np

from datapipe.config import NearDedupConfig
from datapipe.neardup import BandIndex, StreamingNearDedup


def test_shards_order_racing_batches_by_shard_0s_ticket():
    keys = np.array([[7, 8]], dtype=np.uint64)  # a and b: the same band keys
    s0, s1 = BandIndex(), BandIndex()
    # Shard 0 gets worker P's batch [a] first, then Q's [b]; shard 1 gets them the other way round.
    ta, a0 = s0.numbered_check_insert(["a"], keys[:, :1])
    tb, b0 = s0.numbered_check_insert(["b"], keys[:, :1])
    b1 = s1.check_insert(["b"], keys[:, 1:], tb)
    a1 = s1.check_insert(["a"], keys[:, 1:], ta)
    assert ta < tb and (a0, b0) == ([None], ["a"]) and (a1, b1) == ([None], [None])
    # b is a duplicate of a (shard 0), a of nothing; a now owns the key in shard 1 too.
    assert s1.check_insert(["c"], keys[:, 1:], [tb[0] + 1]) == ["a"]


def test_racing_workers_drop_exactly_one_copy_of_each_pair(ray_local):
    ray = ray_local
    cfg = NearDedupConfig()

    @ray.remote(num_cpus=0)
    class Worker:
        def __init__(self, shards):
            self.dedup = StreamingNearDedup(cfg, shards)

        def check(self, doc_ids, texts):
            return self.dedup(doc_ids, texts)

    shards = [ray.remote(BandIndex).options(num_cpus=0).remote() for _ in range(cfg.index_shards)]
    p, q = Worker.remote(shards), Worker.remote(shards)
    rng = random.Random(0)
    outcomes = []
    try:
        for r in range(25):
            texts = [" ".join(f"w{rng.randrange(10**6)}" for _ in range(60)) for _ in range(20)]
            # The same texts from both workers at once: every (a, b) pair is an exact copy.
            a, b = ray.get([p.check.remote([f"a{r}-{i}" for i in range(20)], texts),
                            q.check.remote([f"b{r}-{i}" for i in range(20)], texts)])
            outcomes += [(x is not None, y is not None) for x, y in zip(a, b)]
    finally:
        for actor in (p, q, *shards):
            ray.kill(actor)
    assert len(outcomes) == 500
    both, neither = outcomes.count((True, True)), outcomes.count((False, False))
    assert both == 0 and neither == 0, f"{both} pairs lost both copies, {neither} kept both"


def test_a_batch_asked_about_again_gets_its_first_answers():
    """A retried task asks about documents the index already holds: none is its own duplicate,
    and each keeps the ticket (so the order) of its first time."""
    keys = np.array([[1, 2], [2, 3], [4, 5]], dtype=np.uint64)  # b shares key 2 with a
    index = BandIndex()
    first_tickets, first = index.numbered_check_insert(["a", "b", "c"], keys)
    index.check_insert(["d"], np.array([[5, 6]], dtype=np.uint64))
    again_tickets, again = index.numbered_check_insert(["a", "b", "c"], keys)
    assert first == again == [None, "a", None] and again_tickets == first_tickets


def _text(rng: random.Random) -> str:
    return " ".join(f"w{rng.randrange(10**6)}" for _ in range(60))


def test_a_retry_after_a_first_attempt_that_reached_only_some_shards_keeps_one_copy(ray_local):
    """Worker P's batch reaches shards 0..k-1 and P dies; Q's batch with copies of the same
    texts then goes through every shard; P's retry must find its documents kept and Q's the
    duplicates, not both dropped (in shards >= k, Q's copies got there first)."""
    ray = ray_local
    cfg = NearDedupConfig()
    shards = [ray.remote(BandIndex).options(num_cpus=0).remote() for _ in range(cfg.index_shards)]
    dedup = StreamingNearDedup(cfg, shards)
    rng = random.Random(1)
    try:
        for reached in range(1, cfg.index_shards):
            texts = [_text(rng) for _ in range(10)]
            p_ids, q_ids = [f"p{reached}-{i}" for i in range(10)], [f"q{reached}-{i}" for i in range(10)]
            slices = dedup.shard_keys(texts)
            tickets, _ = ray.get(shards[0].numbered_check_insert.remote(p_ids, slices[0]))
            ray.get([shards[s].check_insert.remote(p_ids, slices[s], tickets) for s in range(1, reached)])
            assert dedup(q_ids, texts) == p_ids  # shard 0 saw P's documents first
            assert dedup(p_ids, texts) == [None] * 10, f"first attempt reached {reached} shards"  # the retry
    finally:
        for actor in shards:
            ray.kill(actor)
