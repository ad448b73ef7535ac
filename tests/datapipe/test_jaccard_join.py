"""The prefix-filter join that gives the near-dup quality truth equals brute force."""
import numpy as np
import pytest

from .jaccard_join import brute_force, pairs_at_least


def _random_sets(seed: int, n: int = 120) -> list[np.ndarray]:
    """Small sets over a small universe, many of them near copies of others, so every J occurs;
    a few empty and singleton sets."""
    rng = np.random.default_rng(seed)
    sets = []
    for k in range(n):
        if k % 3 and sets:  # a near copy of an earlier set: drop some, add some
            base = sets[rng.integers(len(sets))]
            kept = base[rng.random(len(base)) > rng.uniform(0, 0.4)]
            s = np.concatenate([kept, rng.integers(0, 400, rng.integers(0, 6))])
        else:
            s = rng.integers(0, 400, rng.integers(0, 40))
        sets.append(np.unique(s).astype(np.uint32))
    return sets


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("t", [0.3, 0.5, 0.7, 0.8, 1.0])
def test_prefix_filter_join_equals_brute_force(seed, t):
    sets = _random_sets(seed)
    got, want = pairs_at_least(sets, t), brute_force(sets, t)
    assert len(want) > 0
    assert got.keys() == want.keys()
    assert all(abs(got[p] - want[p]) < 1e-12 for p in want)
