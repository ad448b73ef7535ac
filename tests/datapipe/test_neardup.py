import numpy as np
import pyarrow as pa

from datapipe.config import NearDedupConfig
from datapipe.neardup import (BandIndex, band_rows, candidate_edges, clusters, doc_signatures, signature_table,
                              signatures_of, verify_edges)

NUM_PERM = 16


def rows_of(entries):
    """entries: (key, doc_id, bucket) band rows."""
    return pa.table({"key": pa.array([k for k, _, _ in entries], pa.uint64()),
                     "doc_id": [d for _, d, _ in entries], "source": ["s"] * len(entries),
                     "bucket": pa.array([b for _, _, b in entries], pa.int32())})


def edge_set(edges):
    return {tuple(sorted(p)) for p in zip(edges.column("a").to_pylist(), edges.column("b").to_pylist())}


def test_star_edges_without_verification():
    rows = rows_of([(7, "c", 0), (7, "a", 1), (7, "b", 0), (9, "d", 2), (5, "a", 1), (5, "d", 2)])
    assert edge_set(candidate_edges(rows, pairwise=False)) == {("a", "b"), ("a", "c"), ("a", "d")}
    assert edge_set(candidate_edges(rows, pairwise=True)) == {("a", "b"), ("a", "c"), ("b", "c"), ("a", "d")}


def test_verification_keeps_only_similar_pairs():
    base = np.arange(NUM_PERM, dtype=np.uint32)
    near = base.copy()
    near[:2] += 100          # 14/16 equal = 0.875
    far = base + 1000        # nothing equal
    sigs = signature_table(pa.array(["c", "a", "b"]), np.stack([far, base, near]))
    edges = candidate_edges(rows_of([(1, "a", 0), (1, "b", 0), (1, "c", 0)]), pairwise=True)
    assert edge_set(verify_edges(edges, sigs, 0.8)) == {("a", "b")}
    assert edge_set(verify_edges(edges, sigs, 0.9)) == set()


def test_signature_table_round_trip_and_band_rows():
    cfg = NearDedupConfig(num_perm=64, bands=8, rows=8)
    texts = ["one two three four five six seven", "eight nine ten eleven twelve thirteen", ""]
    sigs = doc_signatures(texts, cfg)
    ids = pa.array(["x", "y", "z"])
    assert (signatures_of(signature_table(ids, sigs).slice(1)) == sigs[1:]).all()
    parts = band_rows(ids, pa.array(["s"] * 3), sigs, bucket=4, cfg=cfg, partitions=5)
    rows = pa.concat_tables(parts.values())
    assert rows.num_rows == 3 * 8 and set(rows.column("bucket").to_pylist()) == {4}
    assert all((t.column("key").to_numpy() % 5 == p).all() for p, t in parts.items())


def test_no_shared_keys_no_edges():
    assert candidate_edges(rows_of([(1, "a", 0), (2, "b", 0)]), pairwise=True).num_rows == 0
    assert candidate_edges(rows_of([]), pairwise=True).num_rows == 0


def test_clusters_keep_lowest_id_per_component():
    rows = rows_of([(1, "d", 0), (1, "b", 1), (2, "b", 1), (2, "f", 0), (3, "x", 2), (3, "y", 3)])
    out = clusters(candidate_edges(rows, pairwise=False)).to_pylist()
    got = {r["doc_id"]: (r["duplicate_of"], r["cluster_id"], r["bucket"]) for r in out}
    assert got == {"d": ("b", "b", 0), "f": ("b", "b", 0), "y": ("x", "x", 3)}


def test_band_index_first_seen_wins_and_chains_collapse():
    index = BandIndex()
    # b shares key 11 with a, c shares 22 with b (not with a), d is new
    keys = np.array([[10, 11], [11, 22], [22, 33], [44, 55]], dtype=np.uint64)
    assert index.check_insert(["a", "b", "c", "d"], keys) == [None, "a", "b", None]
    # A later batch: a repeat of d's key matches d; a document never matches itself.
    later = np.array([[66, 55], [88, 88]], dtype=np.uint64)
    assert index.check_insert(["e", "f"], later) == ["d", None]
    assert index.size() == 8  # distinct keys: 10 11 22 33 44 55 66 88
