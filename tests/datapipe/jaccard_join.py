"""Exact all-pairs Jaccard over shingle sets by a prefix-filter join: the truth for near-dedup quality.

Sets are sorted distinct uint32 arrays (what `datapipe.minhash.shingle_hashes` returns, the very sets
batch near dedup verifies). The join:

1. rank every token by its global frequency (rarest first, ties by value) and sort each set by rank;
2. index each set's prefix of length |s| - ceil(t |s|) + 1: two sets with J >= t share a token there
   (they share >= ceil(t |s|) tokens of each, so the rarest |s| - ceil(t |s|) + 1 of one cannot all miss);
3. every two sets in one prefix posting list are a candidate, kept if the size filter
   t |larger| <= |smaller| holds;
4. verify each candidate exactly (np.intersect1d); keep those with J >= t.

So the result is every pair at J >= t, planted or arising by accident; `brute_force` is the
quadratic reference the unit test holds it to.
"""
from __future__ import annotations

import numpy as np

EPS = 1e-9


def _prefix_len(size: np.ndarray, t: float) -> np.ndarray:
    need = np.ceil(t * size - EPS).astype(np.int64)  # tokens a J >= t partner must share
    return np.maximum(size - need + 1, 0)


def pairs_at_least(sets: list[np.ndarray], t: float) -> dict[tuple[int, int], float]:
    """{(i, j): J} for every i < j with Jaccard(sets[i], sets[j]) >= t (0 < t <= 1). Two empty sets
    are ignored (no shingles, nothing to compare)."""
    if not 0 < t <= 1:
        raise ValueError(f"t must be in (0, 1], got {t}")
    sizes = np.fromiter(map(len, sets), dtype=np.int64, count=len(sets))
    flat = np.concatenate(sets).astype(np.uint32) if sets else np.empty(0, np.uint32)
    owner = np.repeat(np.arange(len(sets), dtype=np.int64), sizes)
    values, inverse, counts = np.unique(flat, return_inverse=True, return_counts=True)
    # rank: rarest first, ties by value (np.unique sorted by value; a stable sort keeps that order)
    order = np.argsort(counts, kind="stable")
    rank = np.empty(len(values), dtype=np.int64)
    rank[order] = np.arange(len(values))
    tok = rank[inverse]
    # each set's tokens by rank, then its first prefix_len of them
    by = np.lexsort((tok, owner))
    tok, owner = tok[by], owner[by]
    starts = np.cumsum(sizes) - sizes
    pos = np.arange(len(tok)) - starts[owner]
    in_prefix = pos < _prefix_len(sizes, t)[owner]
    ptok, pown = tok[in_prefix], owner[in_prefix]
    # posting lists: group prefix entries by token; every two members of a group are a candidate
    g = np.lexsort((pown, ptok))
    ptok, pown = ptok[g], pown[g]
    if len(ptok) < 2:
        return {}
    new = np.concatenate(([True], ptok[1:] != ptok[:-1]))
    gstart = np.flatnonzero(new)
    gsize = np.diff(np.append(gstart, len(ptok)))
    elem_group = np.repeat(np.arange(len(gstart)), gsize)
    k = np.arange(len(ptok)) - gstart[elem_group]
    later = gsize[elem_group] - 1 - k  # members after this one in its group
    a = np.repeat(np.arange(len(ptok)), later)
    first = np.cumsum(later) - later
    b = a + 1 + (np.arange(len(a)) - np.repeat(first, later))
    ia, ib = pown[a], pown[b]
    lo, hi = np.minimum(ia, ib), np.maximum(ia, ib)
    key = np.unique(lo * len(sets) + hi)
    lo, hi = key // len(sets), key % len(sets)
    small, large = np.minimum(sizes[lo], sizes[hi]), np.maximum(sizes[lo], sizes[hi])
    ok = small >= t * large - EPS
    out = {}
    for i, j in zip(lo[ok].tolist(), hi[ok].tolist()):
        inter = len(np.intersect1d(sets[i], sets[j], assume_unique=True))
        jac = inter / (len(sets[i]) + len(sets[j]) - inter)
        if jac >= t - EPS:
            out[(i, j)] = jac
    return out


def brute_force(sets: list[np.ndarray], t: float) -> dict[tuple[int, int], float]:
    """The same answer by comparing every pair with Python sets (quadratic: small inputs only)."""
    py = [set(s.tolist()) for s in sets]
    out = {}
    for i in range(len(py)):
        for j in range(i + 1, len(py)):
            union = len(py[i] | py[j])
            if union and len(py[i] & py[j]) / union >= t - EPS:
                out[(i, j)] = len(py[i] & py[j]) / union
    return out

