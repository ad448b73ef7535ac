"""Where every file of a datapipe output lives, and how a task writes its files while it runs.

`WorkLayout` names each output and intermediate (`_work/`) path once; stages and the driver
ask it instead of formatting paths. Numbers in names are fixed widths (bucket b00042, task
t000042, partition p00042), so a listing sorts in task order.

`ParquetSink` writes Parquet files as rows arrive: rows are buffered per file and written out
in row groups of about `row_group_bytes`, and when all buffers together pass `buffer_bytes`
the largest are written early, so a task holds a bounded amount whatever its input. Each file
is written under a hidden temporary name (storage.TMP_PREFIX) and renamed into place only by
`commit()`, when the task has finished: a task that dies leaves no partial file under a final
name, and a retry overwrites rather than duplicates. At most `max_open` files are open at
once; when a file must be closed early, its later rows go to a next part, `<name>-<n>.parquet`.
"""
from __future__ import annotations

import os
import posixpath
import uuid
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from raypretrain import storage

ROW_GROUP_BYTES = 4 * 2**20
"""A file's buffered rows are written as one row group once they reach this many (Arrow) bytes."""
BUFFER_BYTES = 32 * 2**20
"""Rows buffered by one sink, over all its files; past it the largest buffers are written early."""
MAX_OPEN = 256
"""Files one sink keeps open at once."""


def bucket_key(b: int) -> str:
    return f"b{b:05d}"


def task_key(t: int) -> str:
    return f"t{t:06d}"


def part_key(p: int) -> str:
    return f"p{p:05d}"


@dataclass(frozen=True)
class WorkLayout:
    """Every path of one output folder (`out`): final outputs and the `_work/` intermediates.

        _work/run.json, _work/plan.json           the run (config, inputs) and its read plan
        _work/done/<stage>/<key>.json             a task's completion marker (its summary)
        _work/clean/b<bucket>/t<task>.parquet     Ingest: kept rows routed by text hash
        _work/ids/p<part>/t<task>.parquet         Ingest: where each id was read, by id hash
        _work/repeats/b<bucket>/p<part>.parquet   id_repeats: rows whose id an earlier row has
        _work/kept/b<bucket>.parquet              Dedup: the bucket after exact dedup
        _work/sig/b<bucket>.parquet               Dedup: MinHash signatures (batch near dedup, verify: estimate)
        _work/bands/p<part>/b<bucket>.parquet     Dedup: LSH band rows by partition
        _work/edges/p<part>.parquet               NearCandidates: candidate edges
        _work/vedges/b<bucket>.parquet            CandidateSignatures: the distinct edges whose lower end is in the bucket
        _work/csig/b<verifier>/b<bucket>.parquet  CandidateSignatures: shingle sets (or signatures) of the bucket's
                                                  candidates that the verifier bucket's edges need
        _work/verified/b<bucket>.parquet          VerifyEdges: the bucket's edges that are near duplicates
        _work/near/b<bucket>.parquet              near_clusters: ids batch near dedup removes
    """

    out: storage.Location

    def work(self, *parts: str) -> storage.Location:
        return self.out.join("_work", *parts)

    # -- the run and its tasks
    @property
    def run_json(self) -> storage.Location:
        return self.work("run.json")

    @property
    def plan_json(self) -> storage.Location:
        return self.work("plan.json")

    def done(self, stage: str, key: str) -> storage.Location:
        return self.work("done", stage, f"{key}.json")

    # -- intermediates
    def clean_dir(self, b: int) -> storage.Location:
        return self.work("clean", bucket_key(b))

    def clean(self, b: int, task: int) -> storage.Location:
        return self.clean_dir(b).join(f"{task_key(task)}.parquet")

    def ids_dir(self, p: int) -> storage.Location:
        return self.work("ids", part_key(p))

    def ids(self, p: int, task: int) -> storage.Location:
        return self.ids_dir(p).join(f"{task_key(task)}.parquet")

    def repeats_dir(self, b: int) -> storage.Location:
        return self.work("repeats", bucket_key(b))

    def repeats(self, b: int, p: int) -> storage.Location:
        return self.repeats_dir(b).join(f"{part_key(p)}.parquet")

    def kept(self, b: int) -> storage.Location:
        return self.work("kept", bucket_key(b) + ".parquet")

    @property
    def kept_dir(self) -> storage.Location:
        return self.work("kept")

    def sig(self, b: int) -> storage.Location:
        return self.work("sig", bucket_key(b) + ".parquet")

    def bands_dir(self, p: int) -> storage.Location:
        return self.work("bands", part_key(p))

    def bands(self, p: int, b: int) -> storage.Location:
        return self.bands_dir(p).join(bucket_key(b) + ".parquet")

    @property
    def edges_dir(self) -> storage.Location:
        return self.work("edges")

    def edges(self, p: int) -> storage.Location:
        return self.edges_dir.join(part_key(p) + ".parquet")

    def vedges(self, b: int) -> storage.Location:
        return self.work("vedges", bucket_key(b) + ".parquet")

    def csig_dir(self, verifier: int) -> storage.Location:
        return self.work("csig", bucket_key(verifier))

    def csig(self, verifier: int, b: int) -> storage.Location:
        return self.csig_dir(verifier).join(bucket_key(b) + ".parquet")

    @property
    def verified_dir(self) -> storage.Location:
        return self.work("verified")

    def verified(self, b: int) -> storage.Location:
        return self.verified_dir.join(bucket_key(b) + ".parquet")

    def near(self, b: int) -> storage.Location:
        return self.work("near", bucket_key(b) + ".parquet")

    # -- final outputs
    def dropped(self, task: int) -> storage.Location:
        return self.out.join("dropped", f"{task_key(task)}.parquet")

    def rejected(self, task: int) -> storage.Location:
        return self.out.join("rejected", f"{task_key(task)}.parquet")

    def rejected_ids(self, b: int) -> storage.Location:
        return self.out.join("rejected", f"ids-{bucket_key(b)}.parquet")

    def duplicates(self, b: int) -> storage.Location:
        return self.out.join("duplicates", bucket_key(b) + ".parquet")

    def near_duplicates(self, b: int) -> storage.Location:
        return self.out.join("duplicates", f"near-{bucket_key(b)}.parquet")

    @staticmethod
    def shard_path(source: str, split: str, b: int) -> str:
        """A shard's path relative to the output folder, as manifest.json lists it."""
        return f"shards/{source}/{split}/{bucket_key(b)}.npy"

    def shard(self, source: str, split: str, b: int) -> storage.Location:
        return self.out.join(*self.shard_path(source, split, b).split("/"))

    @property
    def tokenizer(self) -> storage.Location:
        return self.out.join("tokenizer.json")

    @property
    def stats(self) -> storage.Location:
        return self.out.join("stats.json")

    @property
    def manifest(self) -> storage.Location:
        return self.out.join("manifest.json")


def part_name(loc: storage.Location, n: int) -> storage.Location:
    """Part n of a file a sink had to close early: <name>.parquet, then <name>-1.parquet, ..."""
    if n == 0:
        return loc
    name = posixpath.basename(loc.path)
    stem, ext = posixpath.splitext(name)
    return storage.Location(loc.fs, posixpath.join(posixpath.dirname(loc.path), f"{stem}-{n}{ext}"),
                            loc.uri[: len(loc.uri) - len(name)] + f"{stem}-{n}{ext}")


@dataclass
class _File:
    loc: storage.Location
    schema: pa.Schema
    buffered: list[pa.Table] = field(default_factory=list)
    nbytes: int = 0
    parts: int = 0                      # parts opened so far
    writer: pq.ParquetWriter | None = None
    stream: object = None
    tmp: str = ""


class ParquetSink:
    """Parquet files written while rows arrive; see the module docstring. Use as a context
    manager: a clean exit commits (renames every file into place), an exception aborts
    (removes the temporary files)."""

    def __init__(self, row_group_bytes: int = ROW_GROUP_BYTES, buffer_bytes: int = BUFFER_BYTES,
                 max_open: int = MAX_OPEN):
        self.row_group_bytes, self.buffer_bytes, self.max_open = row_group_bytes, buffer_bytes, max_open
        self.files: dict[str, _File] = {}
        self.open: list[_File] = []          # least recently written first
        self.finished: list[tuple[str, storage.Location]] = []  # (temporary path, final location)
        self.buffered = 0
        self.peak_buffered = 0

    def add(self, loc: storage.Location, table: pa.Table) -> None:
        if not table.num_rows:
            return
        f = self.files.get(loc.path)
        if f is None:
            f = self.files[loc.path] = _File(loc, table.schema)
        f.buffered.append(table)
        f.nbytes += table.nbytes
        self.buffered += table.nbytes
        self.peak_buffered = max(self.peak_buffered, self.buffered)
        if f.nbytes >= self.row_group_bytes:
            self._write(f)
        if self.buffered > self.buffer_bytes:
            for big in sorted(self.files.values(), key=lambda x: -x.nbytes):
                if self.buffered <= self.buffer_bytes // 2 or not big.nbytes:
                    break
                self._write(big)

    def _write(self, f: _File) -> None:
        """Write f's buffered rows as one row group."""
        if f.writer is None:
            if len(self.open) >= self.max_open:
                self._close(self.open[0])
            self._open(f)
        else:
            self.open.remove(f)
        self.open.append(f)
        table = pa.concat_tables(f.buffered)
        f.writer.write_table(table, row_group_size=max(table.num_rows, 1))
        self.buffered -= f.nbytes
        f.buffered, f.nbytes = [], 0

    def _open(self, f: _File) -> None:
        final = part_name(f.loc, f.parts)
        parent = posixpath.dirname(final.path)
        f.loc.fs.create_dir(parent, recursive=True)
        f.tmp = posixpath.join(parent, f"{storage.TMP_PREFIX}{uuid.uuid4().hex}-{posixpath.basename(final.path)}")
        f.stream = f.loc.fs.open_output_stream(f.tmp)
        f.writer = pq.ParquetWriter(f.stream, f.schema, compression="zstd")
        f.parts += 1

    def _close(self, f: _File) -> None:
        f.writer.close()
        f.stream.close()
        self.finished.append((f.tmp, part_name(f.loc, f.parts - 1)))
        self.open.remove(f)
        f.writer = f.stream = None

    def commit(self) -> None:
        """Write what is left, close every file and move each into place."""
        for f in self.files.values():
            if f.nbytes:
                self._write(f)
        while self.open:
            self._close(self.open[0])
        for tmp, final in self.finished:
            _move_into_place(final.fs, tmp, final.path)
        self.finished, self.files = [], {}

    def abort(self) -> None:
        for f in list(self.open):
            try:
                self._close(f)
            except Exception:  # already failing; the temporary files go below either way
                pass
        for tmp, final in self.finished:
            try:
                final.fs.delete_file(tmp)
            except (OSError, FileNotFoundError):
                pass
        self.finished, self.files = [], {}

    def __enter__(self) -> "ParquetSink":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def _move_into_place(fs: pafs.FileSystem, tmp: str, final: str) -> None:
    """As storage.write_bytes does: on a local disk the file is fsynced before the rename and
    its folder after it, so a completion marker written later never points at lost bytes."""
    if isinstance(fs, pafs.LocalFileSystem):
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
        fd = os.open(posixpath.dirname(final), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return
    fs.move(tmp, final)
