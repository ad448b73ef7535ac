"""The work each Ray Data task does, one read task or one hash bucket at a time.

    ingest(task)   pieces of files → read → clean → hash → _work/clean/b<bucket>/t<task>.parquet
                   (+ dropped/t<task>.parquet, rejected/t<task>.parquet, ids _work/ids/p<part>/t<task>.parquet)
    (per part)     _work/ids/p<part>/* → ids an earlier record has → _work/repeats/b<bucket>/p<part>.parquet
    dedup(bucket)  _work/clean/b<bucket>/* minus repeated ids (→ rejected/ids-b<bucket>.parquet)
                   → exact dedup → _work/kept/b<bucket>.parquet
                   (+ duplicates/b<bucket>.parquet, + MinHash band rows _work/bands/p<part>/b<bucket>.parquet)
    (datapipe.near_stages: near, csig, verify and the one task)
    near(part)     _work/bands/p<part>/* → candidate edges _work/edges/p<part>.parquet
    csig(bucket)   the bucket's candidate documents (in any edge) → their shingle sets (verify: exact, read
                   from _work/kept/b<bucket>) or signatures (estimate, from _work/sig/), routed to the buckets
                   that verify their edges → _work/csig/b<verifier>/b<bucket>.parquet
                   (+ the distinct edges whose lower end is in the bucket, _work/vedges/b<bucket>.parquet)
    verify(bucket) _work/vedges/b<bucket> + _work/csig/b<bucket>/* → verified edges _work/verified/b<bucket>.parquet
    (one task)     all verified edges → keepers, no chaining
                   → _work/near/b<bucket>.parquet + duplicates/near-b<bucket>.parquet
    tokpack(bucket) _work/kept/b<bucket> minus near duplicates → shards/<source>/<split>/b<bucket>.npy

Paths come from datapipe.layout.WorkLayout. Output names are fixed by task and bucket numbers,
and each file is written atomically, so a retried or re-run task overwrites rather than
duplicates. Each task writes a completion marker with its summary under _work/done/, which a
rerun can reuse. A task receives a spec and returns a summary, frozen dataclasses
(datapipe.plan, datapipe.stats) that cross Ray as plain dicts.

Memory: Ingest writes its rows while it reads (datapipe.layout.ParquetSink), so it holds at
most the sink's buffer (32 MiB) plus one read batch, whatever its input; Dedup and TokPack
hold one bucket (about input bytes / num_buckets); NearCandidates one band partition;
CandidateSignatures one read batch of its bucket plus its candidates' shingle sets; VerifyEdges
one bucket's edges and their ends' sets; near_clusters the verified edges (about 60 bytes each).
"""
from __future__ import annotations

import dataclasses
import json
import time
from collections import Counter, defaultdict
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import ray

from raypretrain import storage
from datapipe.clean import Cleaner, clean_batch
from datapipe.config import DatapipeConfig, SourceConfig
from datapipe.dedup import (DUPLICATE_SCHEMA, ID_SCHEMA, bucket_of, exact_dedup, id_partition, repeated_ids,
                            text_hash)
from datapipe.layout import BUFFER_BYTES, ParquetSink, WorkLayout
from datapipe.neardup import StreamingNearDedup, band_rows, doc_signatures, signature_table
from datapipe.pack import is_validation, pack_blocks
from datapipe.plan import BucketSpec, IngestSpec
from datapipe.read import read_piece
from datapipe.stats import DedupSummary, IngestSummary, RepeatsSummary, ShardInfo, TaskSummary, TokPackSummary
from datapipe.tokenize import encode, from_json, token_dtype
from raypretrain.config import from_dict, to_dict

KEPT_SCHEMA = pa.schema([("doc_id", pa.string()), ("source", pa.string()), ("text", pa.string()),
                         ("hash", pa.binary(16))])
# _work/clean/ rows: a kept row and where it was read (input file index, record's position in that file).
CLEAN_SCHEMA = pa.schema([*KEPT_SCHEMA, ("file", pa.int32()), ("row", pa.int64())])
DROPPED_SCHEMA = pa.schema([("doc_id", pa.string()), ("source", pa.string()), ("reason", pa.string()),
                            ("excerpt", pa.string())])  # the line that broke the rule, or the start
REJECTED_SCHEMA = pa.schema([("doc_id", pa.string()), ("source", pa.string()), ("reason", pa.string()),
                             ("detail", pa.string()), ("raw", pa.binary())])


def timed(summary: TaskSummary, start: float, cpu: float) -> TaskSummary:
    return dataclasses.replace(summary, seconds=time.perf_counter() - start, cpu_seconds=time.process_time() - cpu)


def _read_all(files: list[storage.Location], empty: pa.Schema) -> pa.Table:
    parts = [storage.read_parquet(f) for f in files]
    return pa.concat_tables(parts) if parts else empty.empty_table()


class StageActor:
    """Base of the Ray Data callables: rebuild the config, run one spec per row."""

    stage = ""
    """Name of the completion-marker folder, _work/done/<stage>/."""
    marker = True
    """Whether the task writes a completion marker (and so can be reused by --resume)."""
    spec_type: type = BucketSpec
    summary_type: type = TaskSummary

    def __init__(self, cfg: dict, output: str, resume: bool = False):
        self.cfg = from_dict(DatapipeConfig, cfg)
        self.out = storage.resolve(output)
        self.layout = WorkLayout(self.out)
        self.resume = resume

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        ctx = ray.get_runtime_context()
        who = {"actor": ctx.get_actor_id() or "", "node": ctx.get_node_id()}
        summaries = [json.dumps(to_dict(self.run_task(from_dict(self.spec_type, json.loads(spec)), **who)))
                     for spec in batch["spec"]]
        return {"summary": np.array(summaries, dtype=object)}

    def run_task(self, spec, actor: str = "", node: str = "") -> TaskSummary:
        """run(spec), timed, then its completion marker (after all its outputs, so they are
        complete; it holds the summary). With resume, a task whose marker exists is not run again."""
        marker = self.layout.done(self.stage, spec.key())
        if self.resume and self.marker and storage.exists(marker):
            return dataclasses.replace(from_dict(self.summary_type, storage.read_json(marker)), reused=True)
        start, cpu = time.perf_counter(), time.process_time()
        summary = dataclasses.replace(timed(self.run(spec), start, cpu), actor=actor, node=node)
        if self.marker:
            storage.write_json(marker, to_dict(summary))
        return summary

    def run(self, spec):
        raise NotImplementedError


class Ingest(StageActor):
    """Read and clean a task's pieces of files, routing kept documents to hash buckets and their
    ids (with where they were read) to id partitions, writing every row as it goes."""

    stage = "ingest"
    spec_type = IngestSpec
    summary_type = IngestSummary
    buffer_bytes = BUFFER_BYTES
    """Output rows held at once (the ParquetSink's buffer) before they are written."""

    def __init__(self, cfg: dict, output: str, resume: bool = False):
        super().__init__(cfg, output, resume)
        self.cleaner = Cleaner(self.cfg.clean)

    def run(self, spec: IngestSpec) -> IngestSummary:
        sources = {s.name: s for s in self.cfg.sources} or {"main": SourceConfig()}
        counts: Counter = Counter(input_docs=0, ok_docs=0, text_bytes=0)
        reasons: dict[str, Counter] = {"dropped": Counter(), "rejected": Counter(), "pii": Counter()}
        with ParquetSink(buffer_bytes=self.buffer_bytes) as sink:
            for piece in spec.pieces:
                for table, rows in read_piece(storage.resolve(piece.uri), sources[piece.source], self.cfg.read,
                                              piece.start, piece.stop, piece.first_row):
                    self._route(table, rows, piece.file, spec, sink, counts, reasons)
        return IngestSummary(task=spec.task, **counts, **{k: dict(v) for k, v in reasons.items()},
                             peak_buffered_bytes=sink.peak_buffered)

    def _route(self, table: pa.Table, rows: np.ndarray, file: int, spec: IngestSpec, sink: ParquetSink,
               counts: Counter, reasons: dict[str, Counter]) -> None:
        """Clean one read batch and hand each of its rows to the file it belongs in."""
        table, batch_pii = clean_batch(table, self.cleaner)
        reasons["pii"].update(batch_pii)
        status = table.column("status").to_numpy(zero_copy_only=False)
        for name, schema, where in (("dropped", DROPPED_SCHEMA, self.layout.dropped(spec.task)),
                                    ("rejected", REJECTED_SCHEMA, self.layout.rejected(spec.task))):
            gone = table.filter(pa.array(status == name)).select(schema.names)
            reasons[name].update(gone.column("reason").to_pylist())
            sink.add(where, gone)
        ok = _routed(table, status, file, rows, spec.num_buckets)
        counts.update(input_docs=table.num_rows, ok_docs=ok.num_rows,
                      text_bytes=pc.sum(pc.binary_length(ok.column("text"))).as_py() or 0)
        for b, part in _split(ok.drop_columns(["id_part"]), ok.column("bucket").to_numpy()):
            sink.add(self.layout.clean(b, spec.task), part.drop_columns(["bucket"]))
        for p, part in _split(ok.select(ID_SCHEMA.names), ok.column("id_part").to_numpy()):
            sink.add(self.layout.ids(p, spec.task), part)


def _routed(table: pa.Table, status: np.ndarray, file: int, rows: np.ndarray, k: int) -> pa.Table:
    """The passing rows of one read batch (`rows`: each row's position in input file `file`) as
    CLEAN_SCHEMA, plus their hash bucket and id partition (both mod k)."""
    where = np.flatnonzero(status == "ok")
    ok = table.take(pa.array(where))
    texts, doc_ids = ok.column("text").to_pylist(), ok.column("doc_id").to_pylist()
    hashes = [text_hash(t) for t in texts]
    return pa.table({"doc_id": ok.column("doc_id"), "source": ok.column("source"), "text": ok.column("text"),
                     "hash": pa.array(hashes, pa.binary(16)),
                     "file": pa.array(np.full(len(where), file, dtype=np.int32)),
                     "row": pa.array(rows[where], pa.int64()),
                     "bucket": pa.array([bucket_of(h, k) for h in hashes], pa.int32()),
                     "id_part": pa.array(id_partition(doc_ids, k), pa.int32())})


def _split(table: pa.Table, part: np.ndarray) -> list[tuple[int, pa.Table]]:
    """(part, a copy of its rows) for each part present, rows in their order. Copies, not
    slices: a buffered slice would keep the whole batch alive."""
    if not table.num_rows:
        return []
    order = np.argsort(part, kind="stable")
    sorted_p = part[order]
    cuts = np.flatnonzero(np.diff(sorted_p)) + 1
    starts, ends = np.concatenate([[0], cuts]), np.concatenate([cuts, [len(order)]])
    return [(int(sorted_p[a]), table.take(pa.array(order[a:b]))) for a, b in zip(starts, ends)]


def id_repeats(output: str, partition: int) -> RepeatsSummary:
    """Find the records of one id partition whose doc_id an earlier record already has (one
    Ray task per partition; no marker: cheap, and always the same answer for the same inputs).

    Writes them, per hash bucket, to _work/repeats/b<bucket>/p<partition>.parquet (file, row,
    detail) for Dedup to reject. Memory: the partition's id rows, about 50 bytes per document.
    A record is named by its position: "record N" is line N of a line file, row N of Parquet
    (both counted from 1).
    """
    layout = WorkLayout(storage.resolve(output))
    start, cpu = time.perf_counter(), time.process_time()
    table = _read_all(storage.list_files(layout.ids_dir(partition), ".parquet"), ID_SCHEMA)
    repeats = repeated_ids(table)
    if repeats.num_rows:
        uris = [uri for uri, _, _ in storage.read_json(layout.run_json)["inputs"]]
        detail = [f"record {r + 1} of {uris[f]}: its id was first used by record {fr + 1} of {uris[ff]}"
                  for f, r, ff, fr in zip(*(repeats.column(c).to_pylist()
                                            for c in ("file", "row", "first_file", "first_row")))]
        repeats = repeats.append_column("detail", pa.array(detail, pa.string()))
        bucket = repeats.column("bucket").to_numpy()
        for b in np.unique(bucket):
            storage.write_parquet(layout.repeats(int(b), partition),
                                  repeats.filter(pa.array(bucket == b)).select(["file", "row", "detail"]))
    return timed(RepeatsSummary(partition=partition, ids=table.num_rows, repeated_ids=repeats.num_rows), start, cpu)


class Dedup(StageActor):
    """Reject the bucket's records whose id an earlier record has, then exact-deduplicate it."""

    stage = "dedup"
    summary_type = DedupSummary

    def run(self, spec: BucketSpec) -> DedupSummary:
        b, layout = spec.bucket, self.layout
        table = _read_all(storage.list_files(layout.clean_dir(b), ".parquet"), CLEAN_SCHEMA)
        table, n_repeated = self._reject_repeated_ids(b, table)
        table = table.select(KEPT_SCHEMA.names)
        # kept in doc_id order: a fixed order makes shards reproducible
        if self.cfg.dedup.exact:
            kept, dups = exact_dedup(table)
        else:
            kept, dups = table.take(pc.sort_indices(table.column("doc_id"))), DUPLICATE_SCHEMA.empty_table()
        del table  # the bucket is held once, as `kept`
        storage.write_parquet(layout.kept(b), kept)
        if dups.num_rows:
            storage.write_parquet(layout.duplicates(b), dups)
        near = self.cfg.dedup.near
        if near.enabled and near.mode == "batch" and kept.num_rows:
            sigs = doc_signatures(kept.column("text"), near)
            if near.verify == "estimate":  # exact verification reads the candidates' texts instead
                storage.write_parquet(layout.sig(b), signature_table(kept.column("doc_id"), sigs))
            for p, rows in band_rows(kept.column("doc_id"), kept.column("source"), sigs, b, near,
                                     spec.partitions).items():
                storage.write_parquet(layout.bands(p, b), rows)
        return DedupSummary(bucket=b, unique_docs=kept.num_rows, exact_duplicate_docs=dups.num_rows,
                            rejected={"duplicate_id": n_repeated} if n_repeated else {})

    def _reject_repeated_ids(self, b: int, table: pa.Table) -> tuple[pa.Table, int]:
        """The bucket's rows (CLEAN_SCHEMA) less those id_repeats found, which are written to
        rejected/ids-b<bucket>.parquet (raw: the first bytes of the cleaned text)."""
        found = storage.list_files(self.layout.repeats_dir(b), ".parquet")
        if not found:
            return table, 0
        repeats = pa.concat_tables([storage.read_parquet(f) for f in found])
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
        storage.write_parquet(self.layout.rejected_ids(b), rejected)
        return table.filter(pa.array(~hit)), gone.num_rows


def near_removed(out: storage.Location, bucket: int) -> set[str]:
    """Ids in `bucket` that batch near-dedup removed."""
    loc = WorkLayout(out).near(bucket)
    return set(storage.read_parquet(loc).column("doc_id").to_pylist()) if storage.exists(loc) else set()


class TokPack(StageActor):
    """Tokenize one bucket's kept documents and pack them into shards per (source, split)."""

    stage = "tokpack"
    summary_type = TokPackSummary

    def __init__(self, cfg: dict, output: str, tokenizer_json: str, index_shards: list | None = None,
                 resume: bool = False):
        super().__init__(cfg, output, resume)
        self.streaming = StreamingNearDedup(self.cfg.dedup.near, index_shards) if index_shards else None
        tc = self.cfg.tokenize
        self.tok = from_json(tokenizer_json, tc)
        self.eos, self.pad = self.tok.token_to_id(tc.eos_token), self.tok.token_to_id(tc.pad_token)
        self.dtype = token_dtype(self.tok.get_vocab_size())

    def run(self, spec: BucketSpec) -> TokPackSummary:
        b, cfg = spec.bucket, self.cfg
        streams: dict[tuple[str, str], list[np.ndarray]] = defaultdict(list)
        docs: Counter = Counter()
        removed = near_removed(self.out, b)
        streamed_dups: list[pa.Table] = []
        kept_loc = self.layout.kept(b)
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
        shards = tuple(self._write_shard(b, src, split, chunks, docs[(src, split)])
                       for (src, split), chunks in sorted(streams.items()))
        n_streamed = sum(t.num_rows for t in streamed_dups)
        dups_loc = self.layout.near_duplicates(b)
        if n_streamed:
            storage.write_parquet(dups_loc, pa.concat_tables(streamed_dups))
        elif self.streaming and storage.exists(dups_loc):  # an earlier attempt of this task found some
            dups_loc.fs.delete_file(dups_loc.path)
        return TokPackSummary(bucket=b, shards=shards, kept_docs=sum(docs.values()),
                              streamed_near_duplicate_docs=n_streamed)

    def _write_shard(self, b: int, src: str, split: str, chunks: list[np.ndarray], docs: int) -> ShardInfo:
        tokens = np.concatenate(chunks)
        blocks = pack_blocks(tokens, self.cfg.pack.seq_len + 1, self.pad, self.dtype)
        storage.write_npy(self.layout.shard(src, split, b), blocks)
        return ShardInfo(path=WorkLayout.shard_path(src, split, b), source=src, split=split,
                         blocks=int(blocks.shape[0]), tokens=int(len(tokens)), docs=docs)

    def _streaming_near_dedup(self, batch: pa.Table) -> tuple[pa.Table, pa.Table]:
        ids = batch.column("doc_id").to_pylist()
        match = self.streaming(ids, batch.column("text").to_pylist())
        dup = np.array([m is not None for m in match], dtype=bool)
        of = [m for m in match if m is not None]
        dups = pa.table({"doc_id": batch.column("doc_id").filter(pa.array(dup)),
                         "source": batch.column("source").filter(pa.array(dup)),
                         "duplicate_of": pa.array(of, pa.string()), "cluster_id": pa.array(of, pa.string()),
                         "kind": pa.array(["near"] * len(of), pa.string()),
                         "jaccard": pa.nulls(len(of), pa.float64())}, schema=DUPLICATE_SCHEMA)
        return batch.filter(pa.array(~dup)), dups


def tokenizer_sample(output: str, num_buckets: int, n_docs: int) -> Iterator[str]:
    """Up to n_docs kept texts (near duplicates excluded in batch mode), taken evenly from
    every bucket, one read batch at a time (runs in a Ray task, and the trainer takes them as
    they come, so the sample is never held as a list)."""
    out = storage.resolve(output)
    layout = WorkLayout(out)
    per_bucket = -(-n_docs // max(num_buckets, 1))
    given = 0
    for b in range(num_buckets):
        loc, removed = layout.kept(b), near_removed(out, b)
        with loc.fs.open_input_file(loc.path) as f:
            taken = 0
            for batch in pq.ParquetFile(f).iter_batches(batch_size=per_bucket, columns=["doc_id", "text"]):
                for doc_id, text in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist()):
                    if given == n_docs:
                        return
                    if taken < per_bucket and doc_id not in removed:
                        yield text
                        taken += 1
                        given += 1
                if taken >= per_bucket:
                    break
