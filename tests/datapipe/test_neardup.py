import random

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datapipe import near_stages, stages
from datapipe.config import DatapipeConfig, DedupConfig, NearDedupConfig
from datapipe.dedup import bucket_of, text_hash
from datapipe.layout import WorkLayout
from datapipe.minhash import band_keys, jaccard_estimate, signatures
from datapipe.neardup import (SIGNATURE_CHUNK, BandIndex, band_rows, candidate_edges, candidate_sets, clusters,
                              doc_shingles, doc_signatures, exact_jaccard, shingle_sets_of, signature_table, signatures_of,
                              verify_edges)
from datapipe.plan import BucketSpec, PartitionSpec
from raypretrain import storage
from raypretrain.config import to_dict

from .neardup_corpus import _word, jaccard

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
    assert edge_set(verify_edges(edges, sigs, 0.8, how="estimate")) == {("a", "b")}
    assert edge_set(verify_edges(edges, sigs, 0.9, how="estimate")) == set()


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


# --- exact verification and no chaining (issue L) ----------------------------------------------

def edited(seed: int, edits: list[int], words: int = 300) -> list[str]:
    """A random 300-word text, then copies of it with more and more words replaced: copy k replaces
    the words at positions edits[0] .. edits[k-1] (positions 6+ apart, so each word replaced
    changes 5 word 5-grams of the 296 of the text)."""
    rng = random.Random(seed)
    vocab = sorted({_word(rng) for _ in range(3000)})
    text = [rng.choice(vocab) for _ in range(words)]
    out = [" ".join(text)]
    for p in edits:
        text[p] = rng.choice(vocab) + "q"  # the suffix makes it a new word
        out.append(" ".join(text))
    return out


def estimate_above_exact_below():
    """Two texts 7 words apart: exact Jaccard 261/331 = 0.789 < 0.8, but their 256-permutation
    MinHash estimate is 0.85 and they share a band (seed picked for that; asserted below)."""
    rng = random.Random(31)
    vocab = sorted({_word(rng) for _ in range(3000)})
    base = [rng.choice(vocab) for _ in range(300)]
    copy = list(base)
    for p in rng.sample(range(10, 290, 6), 7):
        copy[p] = rng.choice(vocab) + "q"
    return " ".join(base), " ".join(copy)


def run_batch_near(tmp_path, docs: list[tuple[str, str]], near: NearDedupConfig = NearDedupConfig(),
                   buckets: int = 2) -> list[dict]:
    """The batch near-dedup tasks in this process, in pipeline order (Dedup, NearCandidates,
    CandidateSignatures, VerifyEdges, near_clusters) on docs written as ingest would; duplicates/ rows."""
    out = str(tmp_path / "out")
    layout = WorkLayout(storage.resolve(out))
    rows: dict[int, list] = {}
    for i, (d, t) in enumerate(docs):
        rows.setdefault(bucket_of(text_hash(t), buckets), []).append((d, t, i))
    for b, r in rows.items():
        storage.write_parquet(layout.clean(b, 0), pa.table(
            {"doc_id": [x[0] for x in r], "source": ["s"] * len(r), "text": [x[1] for x in r],
             "hash": pa.array([text_hash(x[1]) for x in r], pa.binary(16)), "file": pa.array([0] * len(r), pa.int32()),
             "row": pa.array([x[2] for x in r], pa.int64())}, schema=stages.CLEAN_SCHEMA))
    cfg = to_dict(DatapipeConfig(dedup=DedupConfig(num_buckets=buckets, near=near)))
    for b in range(buckets):
        stages.Dedup(cfg, out).run(BucketSpec(bucket=b, partitions=buckets))
    for p in range(buckets):
        near_stages.NearCandidates(cfg, out).run(PartitionSpec(partition=p))
    if near.verify:
        for stage in (near_stages.CandidateSignatures, near_stages.VerifyEdges):
            for b in range(buckets):
                stage(cfg, out).run(BucketSpec(bucket=b))
    near_stages.near_clusters(out, bool(near.verify))
    found = sorted((tmp_path / "out" / "duplicates").glob("*.parquet"))
    return [r for f in found for r in pq.read_table(f).to_pylist()]


def test_exact_jaccard_of_shingle_sets_matches_an_independent_count():
    texts = edited(3, [20, 40, 60, 200, 260]) + ["", "a b c", "a b c"]
    cfg = NearDedupConfig()
    values, offsets = shingle_sets_of(candidate_sets(pa.array([str(i) for i in range(len(texts))]), texts, cfg))
    i, j = np.triu_indices(6, k=1)
    got = exact_jaccard(values, offsets, i, j, block=500)  # small blocks: pairs span several
    assert got == pytest.approx([jaccard(texts[a], texts[b]) for a, b in zip(i, j)], abs=1e-12)
    assert exact_jaccard(values, offsets, [6, 7, 7], [6, 8, 0]).tolist() == [1.0, 1.0, 0.0]  # ∅ vs ∅ counts 1
    assert (values[offsets[0]:offsets[1]] == np.unique(values[offsets[0]:offsets[1]])).all()


def test_clusters_do_not_chain_through_a_removed_document():
    # a~b and b~c verified, a~c not: a is kept, b goes as a's duplicate, c has no kept match and stays.
    e = pa.table({"a": ["a", "b"], "a_source": ["s", "s"], "a_bucket": pa.array([0, 1], pa.int32()),
                  "b": ["b", "c"], "b_source": ["s", "s"], "b_bucket": pa.array([1, 0], pa.int32()),
                  "jaccard": [0.85, 0.9]})
    got = {r["doc_id"]: (r["duplicate_of"], r["cluster_id"], r["jaccard"]) for r in clusters(e).to_pylist()}
    assert got == {"b": ("a", "a", 0.85)}
    # With a~c verified too, c goes, as a duplicate of a (kept), never of b (removed).
    e2 = pa.concat_tables([e, pa.table({"a": ["a"], "a_source": ["s"], "a_bucket": pa.array([0], pa.int32()),
                                        "b": ["c"], "b_source": ["s"], "b_bucket": pa.array([0], pa.int32()),
                                        "jaccard": [0.81]})])
    got = {r["doc_id"]: (r["duplicate_of"], r["jaccard"]) for r in clusters(e2).to_pylist()}
    assert got == {"b": ("a", 0.85), "c": ("a", 0.81)}


def test_a_removed_document_names_its_best_kept_match():
    # d matches kept a (0.82) and kept c (0.95; c and a are apart): d is c's duplicate.
    e = pa.table({"a": ["a", "c"], "a_source": ["s", "s"], "a_bucket": pa.array([0, 0], pa.int32()),
                  "b": ["d", "d"], "b_source": ["s", "s"], "b_bucket": pa.array([0, 0], pa.int32()),
                  "jaccard": [0.82, 0.95]})
    assert [(r["doc_id"], r["duplicate_of"], r["cluster_id"]) for r in clusters(e).to_pylist()] == [("d", "c", "a")]


def test_a_pair_whose_estimate_passes_but_exact_jaccard_does_not_is_kept(tmp_path):
    a, b = estimate_above_exact_below()
    cfg = NearDedupConfig()
    sigs = doc_signatures([a, b], cfg)
    bands, rows = cfg.lsh_params()
    assert jaccard_estimate(sigs[0], sigs[1]) >= cfg.threshold > jaccard(a, b)  # the estimate would remove it
    assert (band_keys(sigs, bands, rows)[0] == band_keys(sigs, bands, rows)[1]).any()  # a candidate pair
    assert run_batch_near(tmp_path / "exact", [("d0", a), ("d1", b)]) == []
    # verify: estimate is the behaviour before: the estimate decides, and no exact Jaccard is reported.
    old = run_batch_near(tmp_path / "estimate", [("d0", a), ("d1", b)], NearDedupConfig(verify="estimate"))
    assert [(r["doc_id"], r["duplicate_of"], r["jaccard"]) for r in old] == [("d1", "d0", None)]


def test_a_chain_keeps_both_ends_and_reports_the_exact_jaccard(tmp_path):
    # A, B = A with 4 words replaced, C = B with 4 more: J(A,B) = J(B,C) = 276/316 = 0.873, J(A,C) = 256/336.
    texts = edited(11, [20, 50, 80, 110, 170, 200, 230, 260])
    a, b, c = texts[0], texts[4], texts[8]
    assert jaccard(a, b) >= 0.8 and jaccard(b, c) >= 0.8 and jaccard(a, c) < 0.8
    other = edited(12, [])[0]  # unrelated
    dups = run_batch_near(tmp_path, [("A", a), ("B", b), ("C", c), ("Z", other)])
    assert [(r["doc_id"], r["duplicate_of"], r["kind"], r["cluster_id"]) for r in dups] == [("B", "A", "near", "A")]
    assert dups[0]["jaccard"] == pytest.approx(jaccard(a, b), abs=1e-12)


def test_the_duplicates_jaccard_column_is_the_exact_jaccard_of_each_pair(tmp_path):
    docs, truth = [], {}
    for s in range(6):  # originals with copies at 1..5 words replaced: J from 0.967 down to 0.844
        texts = edited(100 + s, [30 + 40 * k for k in range(s + 1)])
        docs += [(f"o{s}", texts[0]), (f"x{s}", texts[-1])]
        truth[f"x{s}"] = ("o" + str(s), jaccard(texts[0], texts[-1]))
    dups = run_batch_near(tmp_path, docs, buckets=3)
    got = {r["doc_id"]: (r["duplicate_of"], r["jaccard"]) for r in dups}
    assert got.keys() == truth.keys()
    for d, (of, j) in truth.items():
        assert got[d][0] == of and got[d][1] == pytest.approx(j, abs=1e-12)


def test_signatures_are_the_same_in_chunks_and_from_an_arrow_column():
    cfg = NearDedupConfig()
    texts = [f"document {i} " + " ".join(f"w{(i * 7 + j) % 97}" for j in range(30)) for i in range(SIGNATURE_CHUNK + 5)]
    whole = signatures([doc_shingles(t, cfg) for t in texts], num_perm=cfg.num_perm, seed=cfg.seed)
    assert np.array_equal(doc_signatures(texts, cfg), whole)
    assert np.array_equal(doc_signatures(pa.chunked_array([texts[:100], texts[100:]]), cfg), whole)


def test_verifying_bucket_by_bucket_checks_each_edge_once_with_only_its_ends_sets(tmp_path):
    # Two families of edited copies over 3 buckets: edges cross buckets, and pairs share several bands
    # (so the same edge comes from several band partitions).
    texts = edited(7, [5, 10, 20, 30, 40, 200, 260]) + edited(8, [8, 15, 25, 300 - 10]) + edited(9, [])
    docs = [(f"d{i:02d}", t) for i, t in enumerate(texts)]
    near = NearDedupConfig()
    buckets = 3
    dups = run_batch_near(tmp_path, docs, near, buckets=buckets)
    layout = WorkLayout(storage.resolve(str(tmp_path / "out")))
    every = pa.concat_tables([pq.read_table(f.path) for f in storage.list_files(layout.edges_dir, ".parquet")])
    truth = verify_edges(every, candidate_sets(pa.array([d for d, _ in docs]), texts, near), near.threshold)
    per = {v: pq.read_table(layout.verified(v).path) for v in range(buckets) if storage.exists(layout.verified(v))}
    assert len(per) >= 2 and every.num_rows > truth.num_rows  # the work is split, and some edges repeat or fail
    assert sum(t.num_rows for t in per.values()) == truth.num_rows  # each distinct edge verified once
    got = sorted(r for t in per.values() for r in zip(*(t.column(c).to_pylist() for c in ("a", "b", "jaccard"))))
    assert got == sorted(zip(*(truth.column(c).to_pylist() for c in ("a", "b", "jaccard"))))
    for v, t in per.items():
        assert set(t.column("a_bucket").to_pylist()) == {v}
        ends = set(pq.read_table(layout.vedges(v).path, columns=["a"]).column("a").to_pylist()) | \
            set(pq.read_table(layout.vedges(v).path, columns=["b"]).column("b").to_pylist())
        sent = [d for f in storage.list_files(layout.csig_dir(v), ".parquet")
                for d in pq.read_table(f.path, columns=["doc_id"]).column("doc_id").to_pylist()]
        assert sorted(sent) == sorted(ends)  # only its edges' ends, each once
    assert dups and {r["doc_id"] for r in dups} == {r["doc_id"] for r in clusters(truth).to_pylist()}
