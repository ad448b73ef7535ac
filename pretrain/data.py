"""Training data: a deterministic, weighted mix of packed shards, one Ray Dataset per rank.

Every training sample has a global position `pos` (0, 1, 2, …). Optimizer step s uses
positions [s·G, (s+1)·G) for G sequences per step, and rank r of W takes the positions
≡ r (mod W). A pure function maps a position to a block:

    pos ──source_of──▶ (source, j-th block of that source)
        ──epoch e = j // n, k = j % n──▶ permutation_e(k) ──▶ (shard, row)

Sources are interleaved by a smooth weighted round-robin over a cycle of 1000 positions
(weights resolve to 0.1%); within a source each epoch is a seeded permutation of its
blocks, and a source that runs out starts its next epoch. So the stream is the same on
every run, for any number of Ray Data tasks, and a resumed run starts exactly where the
checkpoint left off (`rank_dataset(start=...)`).

Validation reads the first `eval_blocks` val blocks (all sources, manifest order).
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import ray.data

from pretrain.config import PretrainConfig
from raypretrain import storage
from raypretrain.config import ConfigError

CYCLE = 1000


@dataclass(frozen=True)
class Source:
    name: str
    shards: tuple[str, ...]
    """Shard paths relative to the data root, in manifest order."""
    rows: tuple[int, ...]
    """Blocks in each shard."""

    @property
    def blocks(self) -> int:
        return sum(self.rows)


def load_manifest(root: str) -> dict:
    loc = storage.resolve(root).join("manifest.json")
    with loc.fs.open_input_stream(loc.path) as f:
        return json.loads(f.read())


def sources_of(manifest: dict, split: str) -> list[Source]:
    by_name: dict[str, list[dict]] = {}
    for sh in manifest["shards"]:
        if sh["split"] == split and sh["blocks"]:
            by_name.setdefault(sh["source"], []).append(sh)
    return [Source(name, tuple(s["path"] for s in shs), tuple(s["blocks"] for s in shs))
            for name, shs in sorted(by_name.items())]


def mix_weights(sources: list[Source], manifest: dict, weights: dict[str, float],
                key: str = "data.weights") -> list[float]:
    """Normalised weights per source; empty `weights` means proportional to train tokens."""
    names = [s.name for s in sources]
    unknown = sorted(set(weights) - set(names))
    if unknown:
        raise ConfigError(f"{key}: no source {unknown[0]!r} in the shards (sources: {', '.join(names)})")
    if weights:
        raw = [float(weights.get(n, 0.0)) for n in names]
    else:
        raw = [float(manifest["sources"][n]["train"]["tokens"]) for n in names]
    if not sum(raw):
        raise ConfigError(f"{key}: every source with train shards has weight 0")
    return [w / sum(raw) for w in raw]


def cycle_pattern(weights: list[float], cycle: int = CYCLE) -> np.ndarray:
    """Source index of each position in one cycle, by smooth weighted round-robin (nginx's):
    every source gets round(w·cycle) slots, spread as evenly as possible."""
    counts = np.floor(np.asarray(weights) * cycle).astype(np.int64)
    for i in np.argsort(-(np.asarray(weights) * cycle - counts), kind="stable")[: cycle - counts.sum()]:
        counts[i] += 1
    current = np.zeros(len(weights))
    pattern = np.empty(cycle, dtype=np.int64)
    for p in range(cycle):
        current += counts
        pick = int(np.argmax(current))
        current[pick] -= cycle
        pattern[p] = pick
    return pattern


class Segment(NamedTuple):
    """Global positions from `start` (to the next segment's start) mixed by `weights` (one per source, in
    sources order, normalised); `stage` is the data.schedule stage they belong to (0 without a schedule)."""
    start: int
    weights: tuple[float, ...]
    stage: int = 0


def mix_segments(cfg: PretrainConfig, sources: list[Source], manifest: dict) -> list[Segment]:
    """The run's mix as segments of global positions: one for data.weights, or one per stage of
    data.schedule plus one per blend step (the mix moving linearly to the next stage's weights over
    the stage's last blend_steps steps). A pure function of the config and the manifest."""
    stages = cfg.data.schedule
    if not stages:
        return [Segment(0, tuple(mix_weights(sources, manifest, cfg.data.weights)))]
    weights = [mix_weights(sources, manifest, st.weights, f"data.schedule[{i}].weights") for i, st in enumerate(stages)]
    seqs, segments, begin = cfg.seqs_per_step(), [], 0
    for i, (stage, end) in enumerate(zip(stages, [*cfg.stage_ends(), None])):
        segments.append(Segment(begin * seqs, tuple(weights[i]), i))
        for b in range(stage.blend_steps):
            a = (b + 1) / (stage.blend_steps + 1)
            mix = [(1 - a) * w + a * v for w, v in zip(weights[i], weights[i + 1])]
            segments.append(Segment((end - stage.blend_steps + b) * seqs, tuple(mix), i))
        begin = end
    return segments


class MixPlan:
    """pos → (source, shard, row); pure and cheap, built on each Ray Data worker.

    Within a segment, positions follow its cycle pattern; a source's j-th block is counted over the
    whole run (the blocks the earlier segments took come first), so a schedule's stage boundaries
    neither repeat nor skip a block of any source."""

    def __init__(self, sources: list[Source], segments: list[Segment] | list[float], seed: int):
        if segments and not isinstance(segments[0], Segment):  # one mix for the whole run
            segments = [Segment(0, tuple(segments))]
        self.sources, self.seed = sources, seed
        self.starts = np.array([seg.start for seg in segments], dtype=np.int64)
        self.stages = [seg.stage for seg in segments]
        patterns: dict[tuple[float, ...], tuple] = {}
        self.pattern, self.per_cycle, self.rank_in_cycle = [], [], []
        for seg in segments:
            if seg.weights not in patterns:
                pattern = cycle_pattern(list(seg.weights))
                # rank of each cycle slot among the slots of the same source
                rank_in_cycle = np.zeros(CYCLE, dtype=np.int64)
                seen = np.zeros(len(sources), dtype=np.int64)
                for p, s in enumerate(pattern):
                    rank_in_cycle[p], seen[s] = seen[s], seen[s] + 1
                patterns[seg.weights] = (pattern, np.bincount(pattern, minlength=len(sources)), rank_in_cycle)
            pattern, per_cycle, rank_in_cycle = patterns[seg.weights]
            self.pattern.append(pattern)
            self.per_cycle.append(per_cycle)
            self.rank_in_cycle.append(rank_in_cycle)
        # blocks of each source taken before each segment
        self.offset = np.zeros((len(segments), len(sources)), dtype=np.int64)
        for k in range(1, len(segments)):
            n = int(self.starts[k] - self.starts[k - 1])
            taken = (n // CYCLE) * self.per_cycle[k - 1] + np.bincount(self.pattern[k - 1][: n % CYCLE],
                                                                        minlength=len(sources))
            self.offset[k] = self.offset[k - 1] + taken
        self.row_starts = [np.concatenate([[0], np.cumsum(s.rows)]) for s in sources]

    @lru_cache(maxsize=8)
    def _permutation(self, source: int, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, source, epoch]).permutation(self.sources[source].blocks)

    def segment_of(self, pos: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.starts, pos, side="right") - 1

    def stage_at(self, pos: int) -> int:
        """The data.schedule stage of a global position."""
        return self.stages[int(self.segment_of(np.array([pos]))[0])]

    def source_and_index(self, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(source, j) of each position: it is source's j-th block of the run (counting over epochs)."""
        seg = self.segment_of(pos)
        src, j = np.empty(len(pos), dtype=np.int64), np.empty(len(pos), dtype=np.int64)
        for k in np.unique(seg).tolist():
            at = seg == k
            local = pos[at] - self.starts[k]
            slot = local % CYCLE
            src[at] = self.pattern[k][slot]
            j[at] = self.offset[k][src[at]] + (local // CYCLE) * self.per_cycle[k][src[at]] + self.rank_in_cycle[k][slot]
        return src, j

    def lookup(self, pos: np.ndarray) -> list[tuple[int, int, int]]:
        """(source, shard index, row) of each position."""
        src, j = self.source_and_index(np.asarray(pos, dtype=np.int64))
        out = []
        for s, jj in zip(src.tolist(), j.tolist()):
            n = self.sources[s].blocks
            block = int(self._permutation(s, jj // n)[jj % n])
            shard = int(np.searchsorted(self.row_starts[s], block, side="right")) - 1
            out.append((s, shard, block - int(self.row_starts[s][shard])))
        return out


class ShardCache:
    """Open shards: memory-mapped when local, read once into memory when remote."""

    def __init__(self, root: str, max_open: int = 16):
        self.root, self.max_open = storage.resolve(root), max_open
        self.open: dict[str, np.ndarray] = {}

    def get(self, rel: str) -> np.ndarray:
        if rel not in self.open:
            if len(self.open) >= self.max_open:
                self.open.pop(next(iter(self.open)))
            loc = self.root.join(*rel.split("/"))
            if isinstance(loc.fs, pafs.LocalFileSystem):
                self.open[rel] = np.load(loc.path, mmap_mode="r")
            else:
                with loc.fs.open_input_stream(loc.path) as f:
                    self.open[rel] = np.load(io.BytesIO(f.read()))
        return self.open[rel]


class BlockReader:
    """Ray Data callable: a batch of one rank's sample indices i → the blocks at global
    positions start + i·world + rank."""

    def __init__(self, root: str, sources: list[Source], segments: list[Segment], seed: int,
                 rank: int, world: int, start: int):
        self.plan = MixPlan(sources, segments, seed)
        self.cache = ShardCache(root)
        self.rank, self.world, self.start = rank, world, start

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        pos = self.start + batch["data"].astype(np.int64) * self.world + self.rank
        where = self.plan.lookup(pos)
        rows = [self.cache.get(self.plan.sources[s].shards[sh])[row] for s, sh, row in where]
        return {"pos": pos, "tokens": np.stack(rows).astype(np.int64),
                "source": np.array([s for s, _, _ in where], dtype=np.int64)}


def train_sources(root: str, manifest: dict) -> list[Source]:
    sources = sources_of(manifest, "train")
    if not sources:
        raise ConfigError(f"{root}: no train shards in manifest.json")
    return sources


def run_mix(cfg: PretrainConfig, manifest: dict) -> list[Segment]:
    """The run's mix (mix_segments) over its shards' train sources; ConfigError for a source the
    shards do not hold (the driver calls it before training starts)."""
    return mix_segments(cfg, train_sources(cfg.data.shards, manifest), manifest)


def rank_dataset(root: str, manifest: dict, segments: list[Segment], seed: int, rank: int, world: int,
                 start: int, count: int, batch_size: int):
    """The Ray Dataset of rank `rank`'s next `count` samples after `start` global samples
    were consumed: global positions start + rank, start + world + rank, …, in order. A
    resumed run asks for exactly the remaining range; nothing is read and thrown away."""
    sources = train_sources(root, manifest)
    # Blocks built here and put in the object store, with no Ray task at all: range()'s read
    # tasks would each want a whole CPU, which the training workers may have reserved (Ray Data
    # then waits forever), and from_numpy() runs an `ndarray_to_block` task per block, whose
    # worker aborted ("Mutex corrupt", SIGABRT) on the console in runs here (issue I).
    ids = np.array_split(np.arange(count, dtype=np.int64), max(1, count // (batch_size * 16)))
    return ray.data.from_blocks([pa.table({"data": chunk}) for chunk in ids]).map_batches(
        BlockReader, fn_constructor_kwargs=dict(root=root, sources=sources, segments=segments, seed=seed,
                                                rank=rank, world=world, start=start),
        batch_size=batch_size, compute=ray.data.ActorPoolStrategy(size=1), num_cpus=0)


def check_val(root: str, manifest: dict) -> None:
    """ConfigError when the shards hold no validation blocks (the driver checks before training starts)."""
    if not sources_of(manifest, "val"):
        raise ConfigError(f"{root}: no validation shards (set data.datapipe.pack.val_fraction > 0)")


def val_blocks(root: str, manifest: dict, n: int) -> np.ndarray:
    """The first n validation blocks over all sources (manifest order), int64 (n, block_len)."""
    check_val(root, manifest)
    cache, rows = ShardCache(root), []
    for src in sources_of(manifest, "val"):
        for rel in src.shards:
            for block in cache.get(rel):
                if len(rows) == n:
                    return np.stack(rows).astype(np.int64)
                rows.append(block)
    return np.stack(rows).astype(np.int64)


def unigram_entropy(root: str, manifest: dict, max_blocks: int = 20_000) -> float:
    """Entropy (nats/token) of the train tokens' unigram distribution: the loss of a model
    that ignores context. A trained model's val loss must fall clearly below it."""
    cache, counts, seen = ShardCache(root), np.zeros(manifest["vocab_size"], dtype=np.int64), 0
    for src in sources_of(manifest, "train"):
        for rel in src.shards:
            blocks = cache.get(rel)[: max_blocks - seen]
            seen += len(blocks)
            counts += np.bincount(np.asarray(blocks).reshape(-1), minlength=len(counts))[: len(counts)]
    counts[manifest["pad_id"]] = 0
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())
