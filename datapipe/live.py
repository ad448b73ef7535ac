"""The live pipeline: the datapipe stages composed lazily into one Ray Dataset of token
blocks, handed straight to `TorchTrainer(datasets=...)`. Nothing is materialised: cleaning
runs on CPU workers while the trainer consumes blocks.

    files ──ReadClean (tasks)──▶ kept docs ──LiveTokPack (actor pool)──▶ {"tokens": (n, seq_len + 1), "file": (n,)}
                                              │ exact dedup: ExactIndex actors, sharded by hash prefix (first seen wins)
                                              │ near dedup:  BandIndex actors, sharded by band (streaming mode)
                                              │ split: documents whose seeded coin says validation are held out

Differences from the batch job, by design: duplicates are decided first-seen-wins in
stream order, and the documents' fate (dropped, duplicate) is counted but not written out.
The dedup indexes know a document by where it was read (input file, record), not by its id,
so records that share an id are still two documents (no duplicate_id rejection here).
Each read task's output (one input file) reaches one LiveTokPack call whole, and is packed on
its own: its last block is padded with PAD (which training ignores), so no token is lost, every
block holds one file's tokens, and the blocks are the same however many pack actors there are
(`live_pack_actors` of them, or by default a pool that grows from 1 to one per cluster CPU;
Ray Data keeps their output in file order).

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
import ray
import ray.data

from cluster.placement import data_resources
from raypretrain import storage
from datapipe.clean import Cleaner, clean_batch
from datapipe.config import DatapipeConfig, SourceConfig
from datapipe.dedup import text_hash
from datapipe.job import resolve_inputs, sample_sources
from datapipe.neardup import BandIndex, StreamingNearDedup
from datapipe.pack import is_validation, pack_blocks
from datapipe.read import read_file
from datapipe.tokenize import encode, from_json
from raypretrain.config import ConfigError, from_dict, to_dict


class ExactIndex:
    """Ray actor, one shard of the exact-dedup index: content hash → the first document seen with it,
    by its "file:row" (16-byte hashes, no texts). A hash belongs to shard `shard_of(hash, shards)`.
    Memory: about 150 bytes per document (a dict entry, the 16-byte key and a short string)."""

    def __init__(self) -> None:
        self.first: dict[bytes, str] = {}

    def check_insert(self, doc_ids: list[str], hashes: list[bytes]) -> list[str | None]:
        out = []
        for d, h in zip(doc_ids, hashes):
            out.append(self.first.get(h))
            self.first.setdefault(h, d)
        return out


def shard_of(digest: bytes, shards: int) -> int:
    """The ExactIndex shard that owns a content hash: its leading 4 bytes, modulo the shard count."""
    return int.from_bytes(digest[:4], "big") % shards


def exact_seen(indexes: list, where: list[str], hashes: list[bytes]) -> list[str | None]:
    """Ask each ExactIndex shard about its share of a batch (in parallel); answers in batch order."""
    owner = [shard_of(h, len(indexes)) for h in hashes]
    parts = {s: [i for i, o in enumerate(owner) if o == s] for s in set(owner)}
    refs = {s: indexes[s].check_insert.remote([where[i] for i in idx], [hashes[i] for i in idx])
            for s, idx in parts.items()}
    out: list[str | None] = [None] * len(where)
    for s, idx in parts.items():
        for i, seen in zip(idx, ray.get(refs[s])):
            out[i] = seen
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

    def __init__(self, cfg: dict, tokenizer_json: str, split: str, exact: list | None, bands: list | None):
        self.cfg = from_dict(DatapipeConfig, cfg)
        tc = self.cfg.tokenize
        self.tok = from_json(tokenizer_json, tc)
        self.eos, self.pad = self.tok.token_to_id(tc.eos_token), self.tok.token_to_id(tc.pad_token)
        self.block = self.cfg.pack.seq_len + 1
        self.split, self.exact = split, exact
        self.near = StreamingNearDedup(self.cfg.dedup.near, bands) if bands else None
        self.counts: Counter = Counter()

    def __call__(self, batch: pa.Table) -> dict[str, np.ndarray]:
        """One read task's kept documents → its blocks, each file's packed on its own."""
        keep = self.keep(batch)
        texts, files = batch.column("text").to_pylist(), batch.column("file").to_numpy()
        tokens, block_files = [], []
        for f in np.unique(files[keep]):  # batches hold whole files, in order; usually one
            docs = [t for t, k, g in zip(texts, keep, files) if k and g == f]
            flat, _ = encode(self.tok, docs, self.eos)
            blocks = pack_blocks(flat.astype(np.int64), self.block, self.pad, np.int64)
            tokens.append(blocks)
            block_files.append(np.full(len(blocks), f, dtype=np.int64))
        if not tokens:
            return {"tokens": np.zeros((0, self.block), np.int64), "file": np.zeros(0, np.int64)}
        return {"tokens": np.concatenate(tokens), "file": np.concatenate(block_files)}

    def keep(self, batch: pa.Table) -> np.ndarray:
        """Which documents of the batch this split trains on: not a duplicate of one seen earlier
        (exact, then near), and on this side of the train/validation coin."""
        ids, texts = batch.column("doc_id").to_pylist(), batch.column("text").to_pylist()
        # The indexes know a document by where it was read, not by its doc_id: two records that
        # share an id are two documents, while a record met again (its file re-read after a
        # restart) is the same one, and not a duplicate of itself.
        where = [f"{f}:{r}" for f, r in zip(batch.column("file").to_pylist(), batch.column("row").to_pylist())]
        keep = np.ones(len(ids), dtype=bool)
        if self.exact:
            seen = exact_seen(self.exact, where, [text_hash(t) for t in texts])
            keep &= np.array([s is None or s == w for s, w in zip(seen, where)], dtype=bool)
        if self.near is not None and keep.any():
            idx = np.flatnonzero(keep)
            match = self.near([where[i] for i in idx], [texts[i] for i in idx])  # never a document's own
            keep[idx[[m is not None for m in match]]] = False
        val = is_validation(ids, self.cfg.pack.val_fraction, self.cfg.pack.seed)
        keep &= val if self.split == "val" else ~val
        self.counts.update(kept=int(keep.sum()), removed=int((~keep).sum()))
        return keep


def live_dataset(cfg: DatapipeConfig, tokenizer_json: str, seq_len: int, split: str = "train",
                 files: list[tuple[storage.Location, str]] | None = None, position: str | None = None):
    """A lazy Ray Dataset of packed blocks of `split` ("train" or "val") from the raw inputs.
    `position`: the trainer's position file (see above); read when the stream starts."""
    if seq_len != cfg.pack.seq_len:
        raise ConfigError(f"live mode: data.datapipe.pack.seq_len {cfg.pack.seq_len} != model.seq_len {seq_len}")
    if not cfg.sources:
        cfg = sample_sources(cfg)
    files = files if files is not None else resolve_inputs(cfg)
    place = data_resources()
    exact = ([ray.remote(ExactIndex).options(num_cpus=0, resources=place).remote()
              for _ in range(cfg.dedup.exact_index_shards)] if cfg.dedup.exact else None)
    near = cfg.dedup.near
    bands = ([ray.remote(BandIndex).options(num_cpus=0, resources=place).remote() for _ in range(near.index_shards)]
             if near.enabled else None)
    items = [{"uri": f.uri, "source": s, "file": i} for i, (f, s) in enumerate(files)]
    return (ray.data.from_items(items, override_num_blocks=len(items))  # one file per read task
            .map_batches(read_clean, fn_kwargs={"cfg": to_dict(cfg), "position": position}, batch_size=1,
                         batch_format="numpy",
                         num_cpus=cfg.actor_num_cpus, resources=place)
            .map_batches(LiveTokPack, batch_format="pyarrow", batch_size=None,  # one read task's output whole
                         fn_constructor_kwargs={"cfg": to_dict(cfg), "tokenizer_json": tokenizer_json,
                                                "split": split, "exact": exact, "bands": bands},
                         compute=pack_pool(cfg),
                         num_cpus=0, resources=place))


def pack_pool(cfg: DatapipeConfig):
    """The LiveTokPack actors: live_pack_actors of them, or a pool that grows from 1 to one per
    cluster CPU with the backlog. One task in flight per actor, so no file queues behind a busy one."""
    if cfg.live_pack_actors:
        return ray.data.ActorPoolStrategy(size=cfg.live_pack_actors, max_tasks_in_flight_per_actor=1)
    return ray.data.ActorPoolStrategy(min_size=1, max_size=max(1, int(ray.cluster_resources().get("CPU", 1))),
                                      max_tasks_in_flight_per_actor=1)
