"""The work each Ray Data task does, one input file group or one hash bucket at a time.

    ingest(task)   files → read → clean → hash → _work/clean/b<bucket>/t<task>.parquet
                   (+ dropped/t<task>.parquet, rejected/t<task>.parquet, ids _work/ids/p<part>/t<task>.parquet)
    (per part)     _work/ids/p<part>/* → ids an earlier record has → _work/repeats/b<bucket>/p<part>.parquet
    dedup(bucket)  _work/clean/b<bucket>/* minus repeated ids (→ rejected/ids-b<bucket>.parquet)
                   → exact dedup → _work/kept/b<bucket>.parquet
                   (+ duplicates/b<bucket>.parquet, + MinHash band rows _work/bands/p<part>/b<bucket>.parquet)
    near(part)     _work/bands/p<part>/* → candidate edges _work/edges/p<part>.parquet
    (one task)     all edges → connected components → _work/near/b<bucket>.parquet + duplicates/near-b<bucket>.parquet
    tokpack(bucket) _work/kept/b<bucket> minus near duplicates → shards/<source>/<split>/b<bucket>.npy

Output names are fixed by task and bucket numbers, and each file is written atomically,
so a retried or re-run task overwrites rather than duplicates. Each task writes a
completion marker with its summary under _work/done/, which a rerun can reuse.
Only small per-task summaries travel back to the driver.
"""
from __future__ import annotations

import json
import time
from collections import Counter, defaultdict

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from raypretrain import storage
from datapipe.clean import Cleaner, clean_batch
from datapipe.config import DatapipeConfig, SourceConfig
from datapipe.dedup import (DUPLICATE_SCHEMA, ID_SCHEMA, bucket_of, exact_dedup, id_partition, repeated_ids,
                            text_hash)
from datapipe.neardup import (StreamingNearDedup, band_rows, candidate_edges, clusters, doc_signatures,
                              signature_table, verify_edges)
from datapipe.pack import is_validation, pack_blocks
from datapipe.read import read_file
from datapipe.tokenize import encode, from_json, token_dtype
from raypretrain.config import from_dict

KEPT_SCHEMA = pa.schema([("doc_id", pa.string()), ("source", pa.string()), ("text", pa.string()),
                         ("hash", pa.binary(16))])
# _work/clean/ rows: a kept row and where it was read (input file index, record in that file).
CLEAN_SCHEMA = pa.schema([*KEPT_SCHEMA, ("file", pa.int32()), ("row", pa.int64())])
DROPPED_SCHEMA = pa.schema([("doc_id", pa.string()), ("source", pa.string()), ("reason", pa.string())])
REJECTED_SCHEMA = pa.schema([("doc_id", pa.string()), ("source", pa.string()), ("reason", pa.string()),
                             ("detail", pa.string()), ("raw", pa.binary())])


def _done(out: storage.Location, stage: str, key: str) -> storage.Location:
    return out.join("_work", "done", stage, f"{key}.json")


def _finish(out: storage.Location, stage: str, key: str, summary: dict) -> dict:
    storage.write_json(_done(out, stage, key), summary)
    return summary


class _StageActor:
    """Base of the Ray Data callables: rebuild the config, run one spec per row."""

    stage = ""
    """Name of the completion-marker folder, _work/done/<stage>/."""

    def __init__(self, cfg: dict, output: str, resume: bool = False):
        self.cfg = from_dict(DatapipeConfig, cfg)
        self.out = storage.resolve(output)
        self.resume = resume

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import ray

        node = ray.get_runtime_context().get_node_id()
        summaries = [json.dumps(dict(self._run_or_reuse(json.loads(spec)), node=node)) for spec in batch["spec"]]
        return {"summary": np.array(summaries, dtype=object)}

    def _run_or_reuse(self, spec: dict) -> dict:
        """With resume, a task whose completion marker exists is not run again: the marker is
        written after all its outputs, so they are complete, and it holds the task's summary."""
        marker = _done(self.out, self.stage, self.key(spec))
        if self.resume and storage.exists(marker):
            with marker.fs.open_input_stream(marker.path) as f:
                return dict(json.loads(f.read()), reused=True)
        return self.run(spec)

    def key(self, spec: dict) -> str:
        return f"b{spec['bucket']:05d}"

    def run(self, spec: dict) -> dict:
        raise NotImplementedError


class Ingest(_StageActor):
    """Read and clean a group of files, routing kept documents to hash buckets and their ids
    (with where they were read) to id partitions."""

    stage = "ingest"

    def key(self, spec: dict) -> str:
        return f"t{spec['task']:06d}"

    def __init__(self, cfg: dict, output: str, resume: bool = False):
        super().__init__(cfg, output, resume)
        self.cleaner = Cleaner(self.cfg.clean)

    def run(self, spec: dict) -> dict:
        task, k = spec["task"], spec["num_buckets"]
        start = time.perf_counter()
        sources = {s.name: s for s in self.cfg.sources} or {"main": SourceConfig()}
        buckets: dict[int, list[pa.Table]] = defaultdict(list)
        ids: dict[int, list[pa.Table]] = defaultdict(list)
        dropped, rejected = [], []
        counts = {"input_docs": 0, "ok_docs": 0, "text_bytes": 0}
        pii: Counter = Counter()
        for i, (uri, source_name) in enumerate(spec["files"]):
            file, row = spec["first_file"] + i, 0  # the input file's index in the whole run
            for table in read_file(storage.resolve(uri), sources[source_name], self.cfg.read):
                table, batch_pii = clean_batch(table, self.cleaner)
                pii.update(batch_pii)
                status = table.column("status").to_numpy(zero_copy_only=False)
                dropped.append(table.filter(pa.array(status == "dropped")).select(DROPPED_SCHEMA.names))
                rejected.append(table.filter(pa.array(status == "rejected")).select(REJECTED_SCHEMA.names))
                ok = _routed(table, status, file, row, k)
                counts["input_docs"] += table.num_rows
                counts["ok_docs"] += ok.num_rows
                counts["text_bytes"] += sum(map(len, ok.column("text").to_pylist()))
                row += table.num_rows
                _split(ok.drop_columns(["id_part"]), ok.column("bucket").to_numpy(), buckets)
                _split(ok.select(ID_SCHEMA.names), ok.column("id_part").to_numpy(), ids)
        for b, parts in buckets.items():
            storage.write_parquet(self.out.join("_work", "clean", f"b{b:05d}", f"t{task:06d}.parquet"),
                             pa.concat_tables(parts).drop_columns(["bucket"]))
        for p, parts in ids.items():
            storage.write_parquet(self.out.join("_work", "ids", f"p{p:05d}", f"t{task:06d}.parquet"),
                             pa.concat_tables(parts))
        dropped_t = pa.concat_tables(dropped) if dropped else DROPPED_SCHEMA.empty_table()
        rejected_t = pa.concat_tables(rejected) if rejected else REJECTED_SCHEMA.empty_table()
        for name, t in (("dropped", dropped_t), ("rejected", rejected_t)):
            if t.num_rows:
                storage.write_parquet(self.out.join(name, f"t{task:06d}.parquet"), t)
        summary = dict(counts, task=task,
                       dropped=dict(Counter(dropped_t.column("reason").to_pylist())),
                       rejected=dict(Counter(rejected_t.column("reason").to_pylist())),
                       pii=dict(pii), seconds=time.perf_counter() - start)
        return _finish(self.out, "ingest", f"t{task:06d}", summary)


def _routed(table: pa.Table, status: np.ndarray, file: int, first_row: int, k: int) -> pa.Table:
    """The passing rows of one read batch (its first record is record `first_row` of input
    file `file`) as CLEAN_SCHEMA, plus their hash bucket and id partition (both mod k)."""
    where = np.flatnonzero(status == "ok")
    ok = table.take(pa.array(where))
    texts, doc_ids = ok.column("text").to_pylist(), ok.column("doc_id").to_pylist()
    hashes = [text_hash(t) for t in texts]
    return pa.table({"doc_id": ok.column("doc_id"), "source": ok.column("source"), "text": ok.column("text"),
                     "hash": pa.array(hashes, pa.binary(16)),
                     "file": pa.array(np.full(len(where), file, dtype=np.int32)),
                     "row": pa.array(first_row + where, pa.int64()),
                     "bucket": pa.array([bucket_of(h, k) for h in hashes], pa.int32()),
                     "id_part": pa.array(id_partition(doc_ids, k), pa.int32())})


def _split(table: pa.Table, part: np.ndarray, into: dict[int, list[pa.Table]]) -> None:
    for p in np.unique(part):
        into[int(p)].append(table.filter(pa.array(part == p)))


def id_repeats(output: str, partition: int) -> dict:
    """Find the records of one id partition whose doc_id an earlier record already has (one
    Ray task per partition; no marker: cheap, and always the same answer for the same inputs).

    Writes them, per hash bucket, to _work/repeats/b<bucket>/p<partition>.parquet (file, row,
    detail) for Dedup to reject. Memory: the partition's id rows, about 50 bytes per document.
    """
    out = storage.resolve(output)
    start = time.perf_counter()
    parts = [storage.read_parquet(f) for f in storage.list_files(out.join("_work", "ids", f"p{partition:05d}"), ".parquet")]
    table = pa.concat_tables(parts) if parts else ID_SCHEMA.empty_table()
    repeats = repeated_ids(table)
    if repeats.num_rows:
        uris = [uri for uri, _, _ in storage.read_json(out.join("_work", "run.json"))["inputs"]]
        detail = [f"record {r + 1} of {uris[f]}: its id was first used by record {fr + 1} of {uris[ff]}"
                  for f, r, ff, fr in zip(*(repeats.column(c).to_pylist()
                                            for c in ("file", "row", "first_file", "first_row")))]
        repeats = repeats.append_column("detail", pa.array(detail, pa.string()))
        bucket = repeats.column("bucket").to_numpy()
        for b in np.unique(bucket):
            storage.write_parquet(out.join("_work", "repeats", f"b{b:05d}", f"p{partition:05d}.parquet"),
                             repeats.filter(pa.array(bucket == b)).select(["file", "row", "detail"]))
    return {"partition": partition, "ids": table.num_rows, "repeated_ids": repeats.num_rows,
            "seconds": time.perf_counter() - start}


class Dedup(_StageActor):
    """Reject the bucket's records whose id an earlier record has, then exact-deduplicate it."""

    stage = "dedup"

    def run(self, spec: dict) -> dict:
        b = spec["bucket"]
        start = time.perf_counter()
        parts = [storage.read_parquet(f) for f in storage.list_files(self.out.join("_work", "clean", f"b{b:05d}"), ".parquet")]
        table = pa.concat_tables(parts) if parts else CLEAN_SCHEMA.empty_table()
        table, n_repeated = self._reject_repeated_ids(b, table)
        table = table.select(KEPT_SCHEMA.names)
        if self.cfg.dedup.exact:
            kept, dups = exact_dedup(table)
        else:
            kept, dups = table, DUPLICATE_SCHEMA.empty_table()
        kept = kept.sort_by("doc_id")  # a fixed order makes shards reproducible
        storage.write_parquet(self.out.join("_work", "kept", f"b{b:05d}.parquet"), kept)
        if dups.num_rows:
            storage.write_parquet(self.out.join("duplicates", f"b{b:05d}.parquet"), dups)
        near = self.cfg.dedup.near
        if near.enabled and near.mode == "batch" and kept.num_rows:
            sigs = doc_signatures(kept.column("text").to_pylist(), near)
            storage.write_parquet(self.out.join("_work", "sig", f"b{b:05d}.parquet"), signature_table(kept.column("doc_id"), sigs))
            for p, rows in band_rows(kept.column("doc_id"), kept.column("source"), sigs, b, near,
                                     spec["partitions"]).items():
                storage.write_parquet(self.out.join("_work", "bands", f"p{p:05d}", f"b{b:05d}.parquet"), rows)
        summary = {"bucket": b, "unique_docs": kept.num_rows, "exact_duplicate_docs": dups.num_rows,
                   "rejected": {"duplicate_id": n_repeated} if n_repeated else {},
                   "seconds": time.perf_counter() - start}
        return _finish(self.out, "dedup", f"b{b:05d}", summary)

    def _reject_repeated_ids(self, b: int, table: pa.Table) -> tuple[pa.Table, int]:
        """The bucket's rows (CLEAN_SCHEMA) less those id_repeats found, which are written to
        rejected/ids-b<bucket>.parquet (raw: the first bytes of the cleaned text)."""
        found = [storage.read_parquet(f) for f in storage.list_files(self.out.join("_work", "repeats", f"b{b:05d}"), ".parquet")]
        if not found:
            return table, 0
        repeats = pa.concat_tables(found)
        detail = dict(zip(zip(repeats.column("file").to_pylist(), repeats.column("row").to_pylist()),
                          repeats.column("detail").to_pylist()))
        where = list(zip(table.column("file").to_pylist(), table.column("row").to_pylist()))
        hit = np.array([w in detail for w in where], dtype=bool)
        gone = table.filter(pa.array(hit))
        n = self.cfg.read.raw_prefix_bytes
        rejected = pa.table({
            "doc_id": gone.column("doc_id"), "source": gone.column("source"),
            "reason": pa.array(["duplicate_id"] * gone.num_rows, pa.string()),
            "detail": pa.array([detail[w] for w, h in zip(where, hit) if h], pa.string()),
            "raw": pa.array([t.encode("utf-8")[:n] for t in gone.column("text").to_pylist()], pa.binary())},
            schema=REJECTED_SCHEMA)
        storage.write_parquet(self.out.join("rejected", f"ids-b{b:05d}.parquet"), rejected)
        return table.filter(pa.array(~hit)), gone.num_rows


class NearCandidates(_StageActor):
    """Turn one partition of band rows into candidate edges."""

    stage = "near"

    def key(self, spec: dict) -> str:
        return f"p{spec['partition']:05d}"


    def run(self, spec: dict) -> dict:
        p = spec["partition"]
        start = time.perf_counter()
        parts = [storage.read_parquet(f) for f in storage.list_files(self.out.join("_work", "bands", f"p{p:05d}"), ".parquet")]
        edges = candidate_edges(pa.concat_tables(parts), pairwise=self.cfg.dedup.near.verify) if parts else None
        if edges is not None and edges.num_rows:
            storage.write_parquet(self.out.join("_work", "edges", f"p{p:05d}.parquet"), edges)
        summary = {"partition": p, "band_rows": sum(t.num_rows for t in parts),
                   "edges": 0 if edges is None else edges.num_rows, "seconds": time.perf_counter() - start}
        return _finish(self.out, "near", f"p{p:05d}", summary)


class CandidateSignatures(_StageActor):
    """Gather the signatures of one bucket's documents that appear in any candidate edge."""

    stage = "csig"  # writes no marker: always rerun (cheap, and its inputs may have changed)


    def run(self, spec: dict) -> dict:
        b = spec["bucket"]
        wanted: set[str] = set()
        for f in storage.list_files(self.out.join("_work", "edges"), ".parquet"):
            e = storage.read_parquet(f)
            for side in ("a", "b"):
                in_bucket = pc.equal(e.column(f"{side}_bucket"), b)
                wanted.update(e.column(side).filter(in_bucket).to_pylist())
        sig_loc = self.out.join("_work", "sig", f"b{b:05d}.parquet")
        if wanted and storage.exists(sig_loc):
            sigs = storage.read_parquet(sig_loc)
            sigs = sigs.filter(pc.is_in(sigs.column("doc_id"), pa.array(sorted(wanted), pa.string())))
            storage.write_parquet(self.out.join("_work", "csig", f"b{b:05d}.parquet"), sigs)
        return {"bucket": b, "candidate_docs": len(wanted)}


def near_clusters(output: str, threshold: float | None) -> dict:
    """Verify candidate edges (with `threshold`) and take connected components (one Ray task).

    Writes, per dedup bucket, the near duplicates to drop (_work/near/) and to report
    (duplicates/near-b<bucket>.parquet). Memory: all candidate edges (about 60 bytes each)
    and the signatures of the documents in them (4 bytes × num_perm each) in this task;
    only candidate documents appear, not the corpus.
    """
    out = storage.resolve(output)
    start = time.perf_counter()
    edges = [storage.read_parquet(f) for f in storage.list_files(out.join("_work", "edges"), ".parquet")]
    edges_t = pa.concat_tables(edges) if edges else None
    n_candidates = 0 if edges_t is None else edges_t.num_rows
    if edges_t is not None and threshold is not None:
        sigs = pa.concat_tables([storage.read_parquet(f) for f in storage.list_files(out.join("_work", "csig"), ".parquet")])
        edges_t = verify_edges(edges_t, sigs, threshold)
    members = clusters(edges_t) if edges_t is not None else None
    n_members = n_clusters = 0
    if members is not None and members.num_rows:
        n_members = members.num_rows
        n_clusters = len(set(members.column("cluster_id").to_pylist()))
        bucket = members.column("bucket").to_numpy()
        for b in np.unique(bucket):
            rows = members.filter(pa.array(bucket == b))
            storage.write_parquet(out.join("_work", "near", f"b{b:05d}.parquet"), rows.select(["doc_id"]))
            dups = pa.table({"doc_id": rows.column("doc_id"), "source": rows.column("source"),
                             "duplicate_of": rows.column("duplicate_of"), "cluster_id": rows.column("cluster_id"),
                             "kind": pa.array(["near"] * rows.num_rows, pa.string())}, schema=DUPLICATE_SCHEMA)
            storage.write_parquet(out.join("duplicates", f"near-b{b:05d}.parquet"), dups)
    return {"near_duplicate_docs": n_members, "near_duplicate_clusters": n_clusters,
            "candidate_edges": n_candidates, "verified_edges": 0 if edges_t is None else edges_t.num_rows,
            "seconds": time.perf_counter() - start}


def near_removed(out: storage.Location, bucket: int) -> set[str]:
    """Ids in `bucket` that batch near-dedup removed."""
    loc = out.join("_work", "near", f"b{bucket:05d}.parquet")
    return set(storage.read_parquet(loc).column("doc_id").to_pylist()) if storage.exists(loc) else set()


class TokPack(_StageActor):
    """Tokenize one bucket's kept documents and pack them into shards per (source, split)."""

    stage = "tokpack"


    def __init__(self, cfg: dict, output: str, tokenizer_json: str, index_shards: list | None = None,
                 resume: bool = False):
        super().__init__(cfg, output, resume)
        self.streaming = StreamingNearDedup(self.cfg.dedup.near, index_shards) if index_shards else None
        tc = self.cfg.tokenize
        self.tok = from_json(tokenizer_json, tc)
        self.eos, self.pad = self.tok.token_to_id(tc.eos_token), self.tok.token_to_id(tc.pad_token)
        self.dtype = token_dtype(self.tok.get_vocab_size())

    def run(self, spec: dict) -> dict:
        b, cfg = spec["bucket"], self.cfg
        start = time.perf_counter()
        streams: dict[tuple[str, str], list[np.ndarray]] = defaultdict(list)
        docs: Counter = Counter()
        removed = near_removed(self.out, b)
        streamed_dups: list[pa.Table] = []
        kept_loc = self.out.join("_work", "kept", f"b{b:05d}.parquet")
        with kept_loc.fs.open_input_file(kept_loc.path) as f:
            for batch in pq.ParquetFile(f).iter_batches(batch_size=cfg.tokenize.batch_size,
                                                        columns=["doc_id", "source", "text"]):
                batch = pa.Table.from_batches([batch])
                if removed:
                    batch = batch.filter(pa.array([d not in removed for d in batch.column(0).to_pylist()]))
                if self.streaming:
                    batch, dups = self._streaming_near_dedup(batch)
                    streamed_dups.append(dups)
                ids, sources = batch.column(0).to_pylist(), batch.column(1).to_pylist()
                val = is_validation(ids, cfg.pack.val_fraction, cfg.pack.seed)
                flat, lengths = encode(self.tok, batch.column(2).to_pylist(), self.eos)
                ends = np.cumsum(lengths)
                for i, (src, is_val) in enumerate(zip(sources, val)):
                    key = (src, "val" if is_val else "train")
                    streams[key].append(flat[ends[i] - lengths[i]:ends[i]])
                    docs[key] += 1
        shards = []
        for (src, split), chunks in sorted(streams.items()):
            tokens = np.concatenate(chunks)
            blocks = pack_blocks(tokens, cfg.pack.seq_len + 1, self.pad, self.dtype)
            rel = f"shards/{src}/{split}/b{b:05d}.npy"
            storage.write_npy(self.out.join(*rel.split("/")), blocks)
            shards.append({"path": rel, "source": src, "split": split, "blocks": int(blocks.shape[0]),
                           "tokens": int(len(tokens)), "docs": docs[(src, split)]})
        n_streamed = sum(t.num_rows for t in streamed_dups)
        dups_loc = self.out.join("duplicates", f"near-b{b:05d}.parquet")
        if n_streamed:
            storage.write_parquet(dups_loc, pa.concat_tables(streamed_dups))
        elif self.streaming and storage.exists(dups_loc):  # an earlier attempt of this task found some
            dups_loc.fs.delete_file(dups_loc.path)
        summary = {"bucket": b, "shards": shards, "kept_docs": sum(docs.values()),
                   "streamed_near_duplicate_docs": n_streamed, "seconds": time.perf_counter() - start}
        return _finish(self.out, "tokpack", f"b{b:05d}", summary)

    def _streaming_near_dedup(self, batch: pa.Table) -> tuple[pa.Table, pa.Table]:
        ids = batch.column("doc_id").to_pylist()
        match = self.streaming(ids, batch.column("text").to_pylist())
        dup = np.array([m is not None for m in match], dtype=bool)
        of = [m for m in match if m is not None]
        dups = pa.table({"doc_id": batch.column("doc_id").filter(pa.array(dup)),
                         "source": batch.column("source").filter(pa.array(dup)),
                         "duplicate_of": pa.array(of, pa.string()), "cluster_id": pa.array(of, pa.string()),
                         "kind": pa.array(["near"] * len(of), pa.string())}, schema=DUPLICATE_SCHEMA)
        return batch.filter(pa.array(~dup)), dups


def tokenizer_sample(output: str, num_buckets: int, n_docs: int) -> list[str]:
    """Up to n_docs kept texts (near duplicates excluded in batch mode), taken evenly from
    every bucket (runs as a Ray task)."""
    out = storage.resolve(output)
    per_bucket = -(-n_docs // max(num_buckets, 1))
    texts: list[str] = []
    for b in range(num_buckets):
        loc, removed = out.join("_work", "kept", f"b{b:05d}.parquet"), near_removed(out, b)
        with loc.fs.open_input_file(loc.path) as f:
            taken = 0
            for batch in pq.ParquetFile(f).iter_batches(batch_size=per_bucket, columns=["doc_id", "text"]):
                for doc_id, text in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist()):
                    if taken < per_bucket and doc_id not in removed:
                        texts.append(text)
                        taken += 1
                if taken >= per_bucket:
                    break
    return texts[:n_docs]
