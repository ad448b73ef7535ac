"""The near-dedup benches' planted corpus: random-word documents of ~2 KB with near copies at known
word-5 Jaccard levels, and pairs in clusters (see bench/neardup_stage_bench.py's docstring for the
recipe). Pure numpy; the true Jaccard of each planted pair comes from
tests/datapipe/neardup_corpus.py's independent shingler."""
from __future__ import annotations

import numpy as np

LEVELS = (0.5, 0.6, 0.7, 0.8, 0.9)
"""The Jaccard levels of the planted pairs."""

def make_vocab(rng: np.random.Generator, size: int = 20_000) -> list[str]:
    """Random words of 3-10 letters, as bench/minhash_bench.py's synthetic_docs draws them."""
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    return ["".join(rng.choice(letters, rng.integers(3, 11))) for _ in range(size)]


def affected_shingles(j: float, n_shingles: int) -> int:
    """Shingles to change so that (S - A) / (S + A) is the Jaccard closest to j."""
    return max(1, round(n_shingles * (1 - j) / (1 + j)))


def plant_copy(row: np.ndarray, affected: int, rng: np.random.Generator, vocab_size: int) -> np.ndarray:
    """A copy of the word-index row with runs of words replaced so that exactly `affected`
    word-5 shingles change: a run of m words changes m + 4 shingles when it lies at least
    4 words inside the document and 4 words away from the next run."""
    w = len(row)
    runs = max(1, round(affected / 10))
    while runs > 1 and affected - 4 * runs < runs:
        runs -= 1
    total = max(1, affected - 4 * runs)
    lengths = np.full(runs, total // runs)
    lengths[:total % runs] += 1
    slack = (w - 8) - int(lengths.sum()) - 4 * (runs - 1)
    if slack < 0:
        raise ValueError(f"document of {w} words too short for {affected} changed shingles")
    offsets = np.sort(rng.integers(0, slack + 1, runs))
    out = row.copy()
    cursor = 4
    for off, m in zip(offsets.tolist(), lengths.tolist()):
        s = cursor + off
        out[s:s + m] = (row[s:s + m] + rng.integers(1, vocab_size, m)) % vocab_size  # always a different word
        cursor += m + 4
    return out


def planted_corpus(n_docs: int, pair_fraction: float = 0.10, cluster_fraction: float = 0.02,
                   cluster_copies: int = 3, cluster_j: float = 0.9, levels: tuple[float, ...] = LEVELS,
                   doc_chars: int = 2000, vocab_size: int = 20_000, seed: int = 0) -> dict:
    """Texts in doc-id order (id i is f"d{i:07d}") with the planted truth:

    pairs: {level: (original positions, copy positions)}, clusters: (n_clusters, 1 + copies)
    positions (column 0 the original), family: (n_docs,) int (planted relatives share it).
    """
    rng = np.random.default_rng(seed)
    vocab = make_vocab(rng, vocab_size)
    words = int(doc_chars // (1 + 6.5))  # mean word length 6.5 plus a space
    n_shingles = words - 4
    per_level = int(n_docs * pair_fraction) // len(levels)
    n_clusters = int(n_docs * cluster_fraction) // cluster_copies
    n_planted_orig = per_level * len(levels) + n_clusters
    n_orig = n_docs - per_level * len(levels) - n_clusters * cluster_copies
    if n_orig < n_planted_orig:
        raise ValueError("too many planted copies for the corpus size")
    # Generation order: originals (the first n_planted_orig get copies), then the copies.
    position = rng.permutation(n_docs)  # generation index -> doc id number
    texts: list[str | None] = [None] * n_docs
    family = np.empty(n_docs, dtype=np.int64)
    get = vocab.__getitem__
    planted_rows = np.empty((n_planted_orig, words), dtype=np.int64)
    chunk = 10_000
    for lo in range(0, n_orig, chunk):
        rows = rng.integers(0, vocab_size, (min(chunk, n_orig - lo), words))
        for g, row in enumerate(rows, start=lo):
            texts[position[g]] = " ".join(map(get, row.tolist()))
            family[position[g]] = g
            if g < n_planted_orig:
                planted_rows[g] = row
    g = n_orig
    pairs = {}
    for li, level in enumerate(levels):
        affected = affected_shingles(level, n_shingles)
        origs = np.arange(li * per_level, (li + 1) * per_level)
        copies = np.arange(g, g + per_level)
        for o, c in zip(origs.tolist(), copies.tolist()):
            texts[position[c]] = " ".join(map(get, plant_copy(planted_rows[o], affected, rng, vocab_size).tolist()))
            family[position[c]] = o
        pairs[level] = (position[origs], position[copies])
        g += per_level
    cluster_rows = []
    affected = affected_shingles(cluster_j, n_shingles)
    for ci in range(n_clusters):
        o = per_level * len(levels) + ci
        members = [position[o]]
        for _ in range(cluster_copies):
            texts[position[g]] = " ".join(map(get, plant_copy(planted_rows[o], affected, rng, vocab_size).tolist()))
            family[position[g]] = o
            members.append(position[g])
            g += 1
        cluster_rows.append(members)
    assert g == n_docs
    return {"texts": texts, "family": family, "pairs": pairs,
            "clusters": np.array(cluster_rows, dtype=np.int64).reshape(-1, 1 + cluster_copies),
            "cluster_j": cluster_j, "words": words}


def doc_id(i: int) -> str:
    return f"d{i:07d}"


def id_numbers(column) -> np.ndarray:
    return np.array([int(s[1:]) for s in column.to_pylist()], dtype=np.int64)
