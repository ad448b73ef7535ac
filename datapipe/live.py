"""The live pipeline: the datapipe stages composed lazily into one Ray Dataset of token
blocks, handed straight to `TorchTrainer(datasets=...)`. Nothing is materialised: cleaning
runs on CPU workers while the trainer consumes blocks.

    files ──ReadClean (tasks)──▶ kept docs ──LiveTokPack (actor)──▶ {"tokens": (n, seq_len + 1), "file": (n,)}
                                              │ exact dedup: ExactIndex actor (first seen wins)
                                              │ near dedup:  BandIndex actors (streaming mode)
                                              │ split: documents whose seeded coin says validation are held out

Differences from the batch job, by design: duplicates are decided first-seen-wins in
stream order, and the documents' fate (dropped, duplicate) is counted but not written out.
The dedup indexes know a document by where it was read (input file, record), not by its id,
so records that share an id are still two documents (no duplicate_id rejection here).
Each LiveTokPack actor carries the tail of its last block to its next batch; the last
partial block of the stream (fewer than seq_len + 1 tokens) is not emitted.

Resume is at input-file granularity. Each block carries the index of the input file its first
token came from, and blocks leave in file order. The trainer records in its checkpoints how
many leading files were fully consumed; a resumed run writes that number to the position file
and the read tasks of those files return nothing without opening them. Files that were being
consumed are read again from their start, so their samples can be trained on twice. After a
stopped job is rerun, the dedup indexes start empty: a document in a remaining file that
duplicates one in a skipped file is not recognised.
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa

from raypretrain import storage
from datapipe.clean import Cleaner, clean_batch
from datapipe.config import DatapipeConfig, SourceConfig
from datapipe.dedup import text_hash
from datapipe.neardup import BandIndex, StreamingNearDedup
from datapipe.pack import is_validation
from datapipe.read import read_file
from datapipe.tokenize import encode, from_json
from raypretrain.config import from_dict, to_dict


class ExactIndex:
    """Ray actor: content hash → the first document seen with it, by its "file:row" (16-byte
    hashes, no texts)."""

    def __init__(self) -> None:
        self.first: dict[bytes, str] = {}

    def check_insert(self, doc_ids: list[str], hashes: list[bytes]) -> list[str | None]:
        out = []
        for d, h in zip(doc_ids, hashes):
            out.append(self.first.get(h))
            self.first.setdefault(h, d)
        return out


def files_done(position: str | None) -> int:
    """How many leading input files the trainer has fully consumed (the position file's count)."""
    if not position or not storage.exists(storage.resolve(position)):
        return 0
    return int(storage.read_json(storage.resolve(position))["files_done"])


LIVE_DOC_SCHEMA = pa.schema([("doc_id", pa.string()), ("source", pa.string()), ("text", pa.string()),
                             ("file", pa.int64()), ("row", pa.int64())])
"""A kept document of the live stream: `file` is its input file's index, `row` its record's in that file."""


def read_clean(batch: dict[str, np.ndarray], cfg: dict, position: str | None = None) -> pa.Table:
    """Ray Data task: files (uri, source, file index) → their cleaned, kept documents
    (LIVE_DOC_SCHEMA). Files the trainer has fully consumed are not opened."""
    c = from_dict(DatapipeConfig, cfg)
    sources = {s.name: s for s in c.sources} or {"main": SourceConfig()}
    cleaner, kept, skip = Cleaner(c.clean), [], files_done(position)
    for uri, source, index in zip(batch["uri"], batch["source"], batch["file"]):
        if index < skip:
            continue
        rows = 0
        for table in read_file(storage.resolve(str(uri)), sources[str(source)], c.read):
            table, _ = clean_batch(table, cleaner)
            table = table.append_column("row", pa.array(np.arange(rows, rows + len(table), dtype=np.int64)))
            rows += len(table)
            ok = table.filter(pa.array(np.asarray(table.column("status").to_pylist()) == "ok"))
            ok = ok.append_column("file", pa.array(np.full(len(ok), index, dtype=np.int64)))
            kept.append(ok.select(LIVE_DOC_SCHEMA.names))
    return pa.concat_tables(kept) if kept else LIVE_DOC_SCHEMA.empty_table()


class LiveTokPack:
    """Ray Data actor: dedup against the shared indexes, tokenize, pack with a carried tail."""

    def __init__(self, cfg: dict, tokenizer_json: str, split: str, exact, bands: list | None):
        self.cfg = from_dict(DatapipeConfig, cfg)
        tc = self.cfg.tokenize
        self.tok = from_json(tokenizer_json, tc)
        self.eos = self.tok.token_to_id(tc.eos_token)
        self.block = self.cfg.pack.seq_len + 1
        self.split, self.exact = split, exact
        self.near = StreamingNearDedup(self.cfg.dedup.near, bands) if bands else None
        self.carry = np.zeros(0, dtype=np.int64)
        self.carry_file = np.zeros(0, dtype=np.int64)  # the input file of each carried token
        self.counts: Counter = Counter()

    def __call__(self, batch: pa.Table) -> dict[str, np.ndarray]:
        import ray

        ids, texts = batch.column("doc_id").to_pylist(), batch.column("text").to_pylist()
        # The indexes know a document by where it was read, not by its doc_id: two records that
        # share an id are two documents, while a record met again (its file re-read after a
        # restart) is the same one, and not a duplicate of itself.
        where = [f"{f}:{r}" for f, r in zip(batch.column("file").to_pylist(), batch.column("row").to_pylist())]
        keep = np.ones(len(ids), dtype=bool)
        if self.exact is not None:
            seen = ray.get(self.exact.check_insert.remote(where, [text_hash(t) for t in texts]))
            keep &= np.array([s is None or s == w for s, w in zip(seen, where)], dtype=bool)
        if self.near is not None and keep.any():
            idx = np.flatnonzero(keep)
            match = self.near([where[i] for i in idx], [texts[i] for i in idx])  # never a document's own
            keep[idx[[m is not None for m in match]]] = False
        val = is_validation(ids, self.cfg.pack.val_fraction, self.cfg.pack.seed)
        keep &= val if self.split == "val" else ~val
        self.counts.update(kept=int(keep.sum()), removed=int((~keep).sum()))
        docs = [t for t, k in zip(texts, keep) if k]
        flat, lengths = encode(self.tok, docs, self.eos) if docs else (np.zeros(0, np.int64), np.zeros(0, np.int64))
        files = np.repeat(batch.column("file").to_numpy()[keep], lengths)
        stream = np.concatenate([self.carry, flat.astype(np.int64)])
        stream_file = np.concatenate([self.carry_file, files])
        n = len(stream) // self.block
        self.carry, self.carry_file = stream[n * self.block:], stream_file[n * self.block:]
        return {"tokens": stream[: n * self.block].reshape(n, self.block), "file": stream_file[: n * self.block: self.block]}


def live_dataset(cfg: DatapipeConfig, tokenizer_json: str, seq_len: int, split: str = "train",
                 files: list[tuple[storage.Location, str]] | None = None, position: str | None = None):
    """A lazy Ray Dataset of packed blocks of `split` ("train" or "val") from the raw inputs.
    `position`: the trainer's position file (see above); read when the stream starts."""
    import ray
    import ray.data

    from cluster.placement import data_resources
    from datapipe.job import resolve_inputs, sample_sources
    from raypretrain.config import ConfigError

    if seq_len != cfg.pack.seq_len:
        raise ConfigError(f"live mode: data.datapipe.pack.seq_len {cfg.pack.seq_len} != model.seq_len {seq_len}")
    if not cfg.sources:
        cfg = sample_sources(cfg)
    files = files if files is not None else resolve_inputs(cfg)
    place = data_resources()
    exact = ray.remote(ExactIndex).options(num_cpus=0, resources=place).remote() if cfg.dedup.exact else None
    near = cfg.dedup.near
    bands = ([ray.remote(BandIndex).options(num_cpus=0, resources=place).remote() for _ in range(near.index_shards)]
             if near.enabled else None)
    items = [{"uri": f.uri, "source": s, "file": i} for i, (f, s) in enumerate(files)]
    return (ray.data.from_items(items, override_num_blocks=len(items))  # one file per read task
            .map_batches(read_clean, fn_kwargs={"cfg": to_dict(cfg), "position": position}, batch_size=1,
                         batch_format="numpy",
                         num_cpus=cfg.actor_num_cpus, resources=place)
            .map_batches(LiveTokPack, batch_format="pyarrow", batch_size=cfg.tokenize.batch_size,
                         fn_constructor_kwargs={"cfg": to_dict(cfg), "tokenizer_json": tokenizer_json,
                                                "split": split, "exact": exact, "bands": bands},
                         compute=ray.data.ActorPoolStrategy(size=1), num_cpus=0, resources=place))
