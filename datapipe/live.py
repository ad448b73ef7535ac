"""The live pipeline: the datapipe stages composed lazily into one Ray Dataset of token
blocks, handed straight to `TorchTrainer(datasets=...)`. Nothing is materialised: cleaning
runs on CPU workers while the trainer consumes blocks.

    files ──ReadClean (tasks)──▶ kept docs ──LiveTokPack (actor)──▶ {"tokens": (n, seq_len + 1)}
                                              │ exact dedup: ExactIndex actor (first seen wins)
                                              │ near dedup:  BandIndex actors (streaming mode)
                                              │ split: documents whose seeded coin says validation are held out

Differences from the batch job, by design: duplicates are decided first-seen-wins in
stream order, and the documents' fate (dropped, duplicate) is counted but not written out.
Each LiveTokPack actor carries the tail of its last block to its next batch; the last
partial block of the stream (fewer than seq_len + 1 tokens) is not emitted.
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa

from datapipe import io
from datapipe.clean import Cleaner, clean_batch
from datapipe.config import DatapipeConfig, SourceConfig
from datapipe.dedup import text_hash
from datapipe.neardup import BandIndex, StreamingNearDedup
from datapipe.pack import is_validation
from datapipe.read import read_file
from datapipe.tokenize import encode, from_json
from datapipe.typedconfig import from_dict, to_dict


class ExactIndex:
    """Ray actor: content hash → first doc_id seen with it (16-byte hashes, no texts)."""

    def __init__(self) -> None:
        self.first: dict[bytes, str] = {}

    def check_insert(self, doc_ids: list[str], hashes: list[bytes]) -> list[str | None]:
        out = []
        for d, h in zip(doc_ids, hashes):
            out.append(self.first.get(h))
            self.first.setdefault(h, d)
        return out


def read_clean(batch: dict[str, np.ndarray], cfg: dict) -> pa.Table:
    """Ray Data task: files (uri, source) → their cleaned, kept documents (doc_id, source, text)."""
    c = from_dict(DatapipeConfig, cfg)
    sources = {s.name: s for s in c.sources} or {"main": SourceConfig()}
    cleaner, kept = Cleaner(c.clean), []
    for uri, source in zip(batch["uri"], batch["source"]):
        for table in read_file(io.resolve(str(uri)), sources[str(source)], c.read):
            table, _ = clean_batch(table, cleaner)
            ok = table.filter(pa.array(np.asarray(table.column("status").to_pylist()) == "ok"))
            kept.append(ok.select(["doc_id", "source", "text"]))
    schema = pa.schema([("doc_id", pa.string()), ("source", pa.string()), ("text", pa.string())])
    return pa.concat_tables(kept) if kept else schema.empty_table()


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
        self.counts: Counter = Counter()

    def __call__(self, batch: pa.Table) -> dict[str, np.ndarray]:
        import ray

        ids, texts = batch.column("doc_id").to_pylist(), batch.column("text").to_pylist()
        keep = np.ones(len(ids), dtype=bool)
        if self.exact is not None:
            seen = ray.get(self.exact.check_insert.remote(ids, [text_hash(t) for t in texts]))
            keep &= np.array([s is None for s in seen], dtype=bool)
        if self.near is not None and keep.any():
            idx = np.flatnonzero(keep)
            match = self.near([ids[i] for i in idx], [texts[i] for i in idx])
            keep[idx[[m is not None for m in match]]] = False
        val = is_validation(ids, self.cfg.pack.val_fraction, self.cfg.pack.seed)
        keep &= val if self.split == "val" else ~val
        self.counts.update(kept=int(keep.sum()), removed=int((~keep).sum()))
        docs = [t for t, k in zip(texts, keep) if k]
        flat = encode(self.tok, docs, self.eos)[0].astype(np.int64) if docs else np.zeros(0, np.int64)
        stream = np.concatenate([self.carry, flat])
        n = len(stream) // self.block
        self.carry = stream[n * self.block:]
        return {"tokens": stream[: n * self.block].reshape(n, self.block)}


def live_dataset(cfg: DatapipeConfig, tokenizer_json: str, seq_len: int, split: str = "train",
                 files: list[tuple[io.Location, str]] | None = None):
    """A lazy Ray Dataset of packed blocks of `split` ("train" or "val") from the raw inputs."""
    import ray
    import ray.data

    from datapipe.main import resolve_inputs, sample_sources
    from datapipe.typedconfig import ConfigError

    if seq_len != cfg.pack.seq_len:
        raise ConfigError(f"live mode: data.datapipe.pack.seq_len {cfg.pack.seq_len} != model.seq_len {seq_len}")
    if not cfg.sources:
        cfg = sample_sources(cfg)
    files = files if files is not None else resolve_inputs(cfg)
    exact = ray.remote(ExactIndex).options(num_cpus=0).remote() if cfg.dedup.exact else None
    near = cfg.dedup.near
    bands = ([ray.remote(BandIndex).options(num_cpus=0).remote() for _ in range(near.index_shards)]
             if near.enabled else None)
    items = [{"uri": f.uri, "source": s} for f, s in files]
    return (ray.data.from_items(items, override_num_blocks=len(items))  # one file per read task
            .map_batches(read_clean, fn_kwargs={"cfg": to_dict(cfg)}, batch_size=1, batch_format="numpy",
                         num_cpus=cfg.actor_num_cpus)
            .map_batches(LiveTokPack, batch_format="pyarrow", batch_size=cfg.tokenize.batch_size,
                         fn_constructor_kwargs={"cfg": to_dict(cfg), "tokenizer_json": tokenizer_json,
                                                "split": split, "exact": exact, "bands": bands},
                         compute=ray.data.ActorPoolStrategy(size=1), num_cpus=0))
