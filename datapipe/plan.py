"""Read planning: the input cut into read tasks so every CPU has work, with ids that do not
depend on the cut; and the specs each stage task receives.

A file becomes pieces:

    uncompressed JSONL, line-mode text   byte ranges, each starting at a line start
    Parquet                              runs of whole row groups
    compressed (.gz, .zst, ...), whole-file text    the whole file, streamed (cannot be split)

Pieces are at most `split_bytes` (uncompressed), which is read.task_target_bytes or less:
small enough for TASKS_PER_CPU tasks per cluster CPU when the input is that large, never
under MIN_SPLIT_BYTES for that reason alone. A split file's pieces are one task each; whole
small files are grouped, in input order, into tasks of up to split_bytes.

Stable positions: a record is known by its input file and its position in it, the 0-based
line index (JSONL, text lines) or row index (Parquet), whatever the cut; the fallback id
`<path>:<line>` comes from it. A range only knows where it starts in bytes, so a pre-pass
(`count_lines`, one Ray task per range or run of small ranges, bytes scanned at numpy speed)
counts each range's newlines and finds its first line start; the driver prefix-sums the
counts and tells each piece the line index it starts at (`Piece.first_row`).

Uncompressed sizes: a compressed file's size is estimated from the ratio measured on a
prefix (RATIO_PREFIX_BYTES of compressed input) of up to RATIO_SAMPLE_FILES files per codec,
evenly spread over the sorted inputs; each sampled file uses its own ratio, the others the
codec's mean. Parquet uses the row groups' uncompressed sizes from the footer.
"""
from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Union

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from datapipe.config import SourceConfig
from datapipe.layout import bucket_key, part_key, task_key
from datapipe.read import codec_of, detect_format
from raypretrain import storage

TASKS_PER_CPU = 4
MIN_SPLIT_BYTES = 2**20
"""The CPU count never makes pieces smaller than this (read.task_target_bytes may)."""
PROBE_SPAN_BYTES = 64 * 2**20
"""A line-count pre-pass task covers consecutive ranges of at least this many bytes (or one range)."""
RATIO_PREFIX_BYTES = 2**20
RATIO_SAMPLE_FILES = 16
META_FILES_PER_TASK = 16
MAX_RANGES = 2**20
_SCAN_CHUNK = 2**20


@dataclass(frozen=True)
class Piece:
    """A part of one input file that one task reads."""

    file: int
    """The file's index among the run's inputs (the order of _work/run.json)."""
    uri: str
    source: str
    start: int = 0
    """Byte ranges: the first byte (a line start); Parquet: the first row group."""
    stop: int = -1
    """Byte ranges: the end byte (exclusive); Parquet: the end row group; -1: the end of the file."""
    first_row: int = 0
    """Position of the piece's first record in its file: a line index, or a row index."""
    est_bytes: int = 0
    """Its uncompressed size (estimated for compressed files)."""


@dataclass(frozen=True)
class ReadPlan:
    """What _work/plan.json holds: the read tasks, fixed for the run (and its --resume)."""

    input_bytes: int
    """Uncompressed input bytes (estimated for compressed files); buckets are sized by these."""
    split_bytes: int
    tasks: tuple[tuple[Piece, ...], ...]


@dataclass(frozen=True)
class IngestSpec:
    task: int
    pieces: tuple[Piece, ...]
    num_buckets: int

    def key(self) -> str:
        return task_key(self.task)


@dataclass(frozen=True)
class BucketSpec:
    bucket: int
    partitions: int = 0
    """Near-dedup band partitions (Dedup only)."""

    def key(self) -> str:
        return bucket_key(self.bucket)


@dataclass(frozen=True)
class PartitionSpec:
    partition: int

    def key(self) -> str:
        return part_key(self.partition)


@dataclass(frozen=True)
class InputFile:
    index: int
    uri: str
    source: str
    size: int
    kind: Literal["lines", "parquet", "whole"]
    codec: str | None


RowGroups = tuple[tuple[int, int], ...]
"""(rows, uncompressed bytes) of each row group of a Parquet file."""
Meta = Union[RowGroups, float, None]
"""A metadata probe's answer: row groups (Parquet), a compression ratio, or None (unreadable)."""
LineCounts = tuple[list[int], list[int]]
"""Per range of a count_lines call: its newlines, and its first line start (-1 when none)."""


def input_files(inputs: list[tuple[storage.Location, str]], sources: dict[str, SourceConfig]) -> list[InputFile]:
    files = []
    for i, (loc, name) in enumerate(inputs):
        src = sources[name]
        fmt = detect_format(loc.path, src.format)
        kind = "parquet" if fmt == "parquet" else "lines" if fmt == "jsonl" or src.text_unit == "line" else "whole"
        files.append(InputFile(i, loc.uri, name, storage.size(loc), kind, codec_of(loc.path)))
    return files


def split_bytes(total: int, cpus: float, target: int) -> int:
    """The most bytes one piece holds: `total` over a whole number of tasks per CPU, at least
    TASKS_PER_CPU and as many more as keep each piece within `target` (so the last round of
    tasks is not one task alone: 1,114 MiB on 2 CPUs is 10 pieces of 111 MiB, not 9 of 128),
    but never under MIN_SPLIT_BYTES on the CPUs' account."""
    n_cpus = max(int(cpus), 1)
    per_cpu = max(TASKS_PER_CPU, math.ceil(total / (n_cpus * target)))
    return max(1, min(target, max(MIN_SPLIT_BYTES, math.ceil(total / (per_cpu * n_cpus)))))


# ---- the probes: each reads a bounded part of one file ----------------------------------

def probe_metadata(f: InputFile) -> Meta:
    """Row groups of a Parquet file, or the compression ratio of a compressed one; None when
    the file cannot be read (the read task then rejects it with its reason)."""
    loc = storage.resolve(f.uri)
    try:
        if f.kind == "parquet" and f.codec is None:
            with loc.fs.open_input_file(loc.path) as fh:
                md = pq.ParquetFile(fh).metadata
                return tuple((md.row_group(i).num_rows, md.row_group(i).total_byte_size)
                             for i in range(md.num_row_groups))
        if f.codec is not None:
            return compression_ratio(loc, f.codec)
    except (OSError, pa.ArrowException, ValueError):
        return None
    return None


def compression_ratio(loc: storage.Location, codec: str, prefix: int = RATIO_PREFIX_BYTES) -> float:
    """Decompressed bytes per compressed byte over the file's first `prefix` bytes (memory:
    the prefix plus one 64 KiB chunk of output)."""
    with loc.fs.open_input_stream(loc.path, compression=None) as raw:  # the default would decompress .gz
        head = raw.read(prefix)
    if not head:
        return 1.0
    stream, n = pa.CompressedInputStream(pa.BufferReader(head), codec), 0
    try:
        while chunk := stream.read(1 << 16):
            n += len(chunk)
    except (OSError, pa.ArrowException):  # the prefix ends mid-stream: count what came out
        pass
    return max(n / len(head), 1.0)


def count_lines(loc: storage.Location, bounds: Sequence[int]) -> LineCounts:
    """For each range [bounds[i], bounds[i+1]) of the file: the newlines in it, and the first
    line start in it (the byte after a newline at or after bounds[i] - 1; 0 for the range at 0),
    or -1 when no line starts there. Reads bytes[bounds[0] - 1 : bounds[-1]] once, in chunks."""
    b = np.asarray(bounds, dtype=np.int64)
    lo, hi = b[:-1] - 1, b[1:] - 1          # a range's line start follows a newline in [lo, hi)
    before = np.zeros(len(b), dtype=np.int64)  # newlines in [bounds[0] - 1, b_j)
    starts = np.where(b[:-1] == 0, 0, -1)
    open_ = b[:-1] > 0                      # ranges still looking for their first newline
    pos, seen = max(int(b[0]) - 1, 0), 0
    with loc.fs.open_input_file(loc.path) as f:
        f.seek(pos)
        while pos < b[-1] and (chunk := f.read(min(_SCAN_CHUNK, int(b[-1]) - pos))):
            end = pos + len(chunk)
            nl = pos + np.flatnonzero(np.frombuffer(chunk, np.uint8) == 10)
            here = (b > pos) & (b <= end) | ((b == pos) & (pos == 0))
            before[here] = seen + np.searchsorted(nl, b[here])
            look = open_ & (lo < end)
            idx = np.searchsorted(nl, lo[look])
            hit = idx < len(nl)
            found = np.flatnonzero(look)[hit]
            first = nl[idx[hit]]
            starts[found] = np.where(first < hi[found], first + 1, -1)
            open_[found] = False
            seen += len(nl)
            pos = end
    return (before[1:] - before[:-1]).tolist(), starts.tolist()


# ---- the plan -----------------------------------------------------------------------------

def metadata_jobs(files: list[InputFile]) -> list[InputFile]:
    """Files whose size or layout needs a probe: every Parquet file, and per codec up to
    RATIO_SAMPLE_FILES compressed files evenly spread over the inputs."""
    by_codec: dict[str, list[InputFile]] = defaultdict(list)
    for f in files:
        if f.codec is not None:
            by_codec[f.codec].append(f)
    sample = set()
    for g in by_codec.values():
        n = min(len(g), RATIO_SAMPLE_FILES)
        sample |= {g[round(i * (len(g) - 1) / max(n - 1, 1))].index for i in range(n)}
    return [f for f in files if (f.kind == "parquet" and f.codec is None) or f.index in sample]


def estimated_sizes(files: list[InputFile], meta: dict[int, Meta]) -> list[int]:
    """Uncompressed bytes of each file (see the module docstring)."""
    ratios: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for f in files:
        if f.codec is not None and isinstance(meta.get(f.index), float):
            ratios[f.codec].append((f.size, meta[f.index]))
    mean = {c: sum(s * r for s, r in v) / max(sum(s for s, _ in v), 1) for c, v in ratios.items()}
    sizes = []
    for f in files:
        m = meta.get(f.index)
        if isinstance(m, tuple):
            sizes.append(sum(nbytes for _, nbytes in m))
        elif f.codec is not None:
            sizes.append(round(f.size * (m if isinstance(m, float) else mean.get(f.codec, 1.0))))
        else:
            sizes.append(f.size)
    return sizes


def line_bounds(files: list[InputFile], split: int) -> dict[int, list[int]]:
    """Range boundaries of each uncompressed line file larger than `split` (at most
    MAX_RANGES per file, whatever read.task_target_bytes says)."""
    return {f.index: [*range(0, f.size, max(split, -(-f.size // MAX_RANGES))), f.size] for f in files
            if f.kind == "lines" and f.codec is None and f.size > split}


def count_jobs(bounds: dict[int, list[int]], split: int) -> list[tuple[int, list[int]]]:
    """(file index, boundaries) of each pre-pass task: one range, or a run of small ranges."""
    per_task = max(1, PROBE_SPAN_BYTES // max(split, 1))
    return [(i, b[j:j + per_task + 1]) for i, b in bounds.items() for j in range(0, len(b) - 1, per_task)]


def line_pieces(f: InputFile, bounds: list[int], counts: list[int], starts: list[int]) -> list[Piece]:
    """The non-empty ranges of one split file, each told the line index it starts at."""
    newlines_before = np.concatenate([[0], np.cumsum(counts)]).tolist()
    kept = [(s, newlines_before[i] + (s > bounds[i])) for i, s in enumerate(starts) if s >= 0]
    ends = [s for s, _ in kept[1:]] + [f.size]
    return [Piece(f.index, f.uri, f.source, s, e, first, e - s) for (s, first), e in zip(kept, ends)]


def parquet_pieces(f: InputFile, groups: RowGroups, split: int) -> list[Piece]:
    """Runs of whole row groups of at most `split` uncompressed bytes (or one row group)."""
    pieces, first, row, nbytes, rows = [], 0, 0, 0, 0
    for g, (n, size) in enumerate(groups):
        if g > first and nbytes + size > split:
            pieces.append(Piece(f.index, f.uri, f.source, first, g, row, nbytes))
            first, row, nbytes = g, rows, 0
        nbytes += size
        rows += n
    if groups:
        pieces.append(Piece(f.index, f.uri, f.source, first, len(groups), row, nbytes))
    return pieces or [Piece(f.index, f.uri, f.source, est_bytes=0)]


def group_tasks(pieces: list[list[Piece]], split: int) -> tuple[tuple[Piece, ...], ...]:
    """Tasks in input order: each piece of a split file alone, whole files grouped up to split."""
    tasks: list[tuple[Piece, ...]] = []
    current: list[Piece] = []
    size = 0
    for file_pieces in pieces:
        if len(file_pieces) > 1:
            tasks += [tuple(current)] if current else []
            tasks += [(p,) for p in file_pieces]
            current, size = [], 0
            continue
        p = file_pieces[0]
        if current and size + p.est_bytes > split:
            tasks.append(tuple(current))
            current, size = [], 0
        current.append(p)
        size += p.est_bytes
    return tuple(tasks + ([tuple(current)] if current else []))


def make_plan(files: list[InputFile], target: int, cpus: float,
              run_meta: Callable[[list[list[InputFile]]], list[list[Meta]]],
              run_counts: Callable[[list[tuple[str, list[int]]]], list[LineCounts]]) -> ReadPlan:
    """The read plan. `run_meta` and `run_counts` run the probes (Ray tasks in the pipeline;
    a list comprehension in a test): metadata for batches of files, line counts for
    (uri, boundaries) jobs."""
    jobs = metadata_jobs(files)
    batches = [jobs[i:i + META_FILES_PER_TASK] for i in range(0, len(jobs), META_FILES_PER_TASK)]
    meta = {f.index: m for batch, answers in zip(batches, run_meta(batches)) for f, m in zip(batch, answers)}
    sizes = estimated_sizes(files, meta)
    split = split_bytes(sum(sizes), cpus, target)
    bounds = line_bounds(files, split)
    cjobs = count_jobs(bounds, split)
    counted: dict[int, LineCounts] = defaultdict(lambda: ([], []))
    for (i, _), (counts, starts) in zip(cjobs, run_counts([(files[i].uri, b) for i, b in cjobs])):
        counted[i][0].extend(counts)
        counted[i][1].extend(starts)
    pieces = []
    for f, size in zip(files, sizes):
        if f.index in bounds:
            pieces.append(line_pieces(f, bounds[f.index], *counted[f.index]))
        elif isinstance(meta.get(f.index), tuple):
            pieces.append(parquet_pieces(f, meta[f.index], split))
        else:
            pieces.append([Piece(f.index, f.uri, f.source, est_bytes=size)])
    return ReadPlan(sum(sizes), split, group_tasks([p for p in pieces if p], split))
