"""Stage tasks run again over the same inputs (a Ray Data retry, or a second attempt after a
partial first one) give the same outputs: streaming near dedup loses nothing on a retry."""
from __future__ import annotations

import glob
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from raypretrain import storage
from datapipe.config import DatapipeConfig, TokenizeConfig
from datapipe.dedup import text_hash
from datapipe.neardup import BandIndex
from datapipe.plan import BucketSpec
from datapipe.stages import KEPT_SCHEMA, TokPack
from datapipe.tokenize import train_tokenizer
from raypretrain.config import from_dict, to_dict

from .neardup_corpus import planted_corpus


def _config() -> dict:
    return to_dict(from_dict(DatapipeConfig, {
        "dedup": {"near": {"mode": "streaming"}}, "tokenize": {"vocab_size": 400, "batch_size": 16},
        "pack": {"seq_len": 32, "val_fraction": 0.1}}))


def _write_kept(out: str, docs: list[tuple[str, str]]) -> None:
    docs = sorted(docs)
    table = pa.table({"doc_id": [d for d, _ in docs], "source": ["main"] * len(docs), "text": [t for _, t in docs],
                      "hash": [text_hash(t) for _, t in docs]}, schema=KEPT_SCHEMA)
    storage.write_parquet(storage.resolve(out).join("_work", "kept", "b00000.parquet"), table)


def _outputs(out: str) -> tuple[list, dict[str, np.ndarray]]:
    dups = sorted(tuple(r.values()) for r in pq.read_table(os.path.join(out, "duplicates")).to_pylist())
    shards = {os.path.relpath(p, out): np.load(p) for p in glob.glob(os.path.join(out, "shards", "**", "*.npy"),
                                                                       recursive=True)}
    return dups, shards


def test_a_retried_streaming_tokpack_task_keeps_what_its_first_attempt_kept(ray_local, tmp_path):
    ray = ray_local
    docs, pairs = planted_corpus(120, seed=5, words_per_doc=80)
    cfg = _config()
    tok = train_tokenizer(iter([t for _, t in docs]), TokenizeConfig(vocab_size=400)).to_str()
    runs = []
    shards = [ray.remote(BandIndex).options(num_cpus=0).remote() for _ in range(4)]
    try:
        # The first attempt dies after its first 3 batches (they reached the index), then the
        # task runs twice more on other actors: a retry, and a retry of the retry.
        out = str(tmp_path / "out")
        _write_kept(out, docs[:48])
        TokPack(cfg, out, tok, index_shards=shards).run(BucketSpec(bucket=0))
        _write_kept(out, docs)
        for _ in range(2):
            summary = TokPack(cfg, out, tok, index_shards=shards).run(BucketSpec(bucket=0))
            runs.append((summary.kept_docs, summary.streamed_near_duplicate_docs, *_outputs(out)))
    finally:
        for actor in shards:
            ray.kill(actor)
    fresh = [ray.remote(BandIndex).options(num_cpus=0).remote() for _ in range(4)]
    try:  # one attempt on an empty index: what an uninterrupted run keeps
        ref_out = str(tmp_path / "ref")
        _write_kept(ref_out, docs)
        s = TokPack(cfg, ref_out, tok, index_shards=fresh).run(BucketSpec(bucket=0))
        ref = (s.kept_docs, s.streamed_near_duplicate_docs, *_outputs(ref_out))
    finally:
        for actor in fresh:
            ray.kill(actor)
    kept, streamed, dups, _ = ref
    assert kept + streamed == len(docs) and 0 < streamed <= len(pairs)
    assert all(d[0] != d[2] for d in dups), "a document was reported as its own duplicate"
    for got in runs:
        assert got[:3] == ref[:3]
        assert got[3].keys() == ref[3].keys() and all(np.array_equal(got[3][k], ref[3][k]) for k in ref[3])


def test_a_retry_that_finds_no_streamed_duplicates_leaves_no_stale_report(ray_local, tmp_path):
    ray = ray_local
    docs, _ = planted_corpus(30, seed=6, words_per_doc=80)
    docs = [d for d in docs if d[0].startswith("o")]  # the originals only: no near duplicates
    out = str(tmp_path / "out")
    _write_kept(out, docs)
    stale = os.path.join(out, "duplicates", "near-b00000.parquet")  # as an earlier attempt might have left it
    os.makedirs(os.path.dirname(stale))
    pq.write_table(pa.table({"doc_id": [docs[0][0]]}), stale)
    tok = train_tokenizer(iter([t for _, t in docs]), TokenizeConfig(vocab_size=400)).to_str()
    shards = [ray.remote(BandIndex).options(num_cpus=0).remote() for _ in range(4)]
    try:
        summary = TokPack(_config(), out, tok, index_shards=shards).run(BucketSpec(bucket=0))
    finally:
        for actor in shards:
            ray.kill(actor)
    assert summary.kept_docs == len(docs) and not os.path.exists(stale)
