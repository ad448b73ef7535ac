"""Read: files → records, tolerant of bad input.

Every physical record becomes exactly one row: status "ok" with its text, or status
"rejected" with a reason, an error detail and the first bytes of the raw record. Nothing
is skipped silently and nothing crashes the run (Ray's stock read_json fails on a bad
line, so we read raw lines and parse them here). Blank JSONL/text lines are not records.

Memory is bounded by limits, never by the size of a file: a record over its limit is
rejected as too_large while streaming, keeping only its first `raw_prefix_bytes`, so the
reader holds at most the limit plus about one read chunk of it. The limits: a whole text
file is read no further than `read.max_doc_bytes`; a text line may be max_doc_bytes + 1
bytes (its text drops a CRLF's CR); a JSONL line `_JSON_LINE_FACTOR` times max_doc_bytes,
because JSON escapes can make a line several times longer than the UTF-8 text it holds
(\\uXXXX is 6 bytes for a 2-byte character), so a line within that is still parsed and its
text judged as before. Parquet is columnar: pyarrow reads the text/id column chunks of one
row group and we convert 4096 rows at a time, so memory there is bounded by the writer's
row-group size and the largest single value (materialised whole before it is judged).

Pieces (datapipe.plan): `read_piece` reads one byte range of an uncompressed line file (the
range starts at a line start and ends at one, or at the end of the file), or a run of a
Parquet file's row groups, and gives each record's position in its file (its 0-based line or
row index), so ids and positions are the same however the file was cut.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from datapipe.config import ReadConfig, SourceConfig
from raypretrain.storage import Location

RECORD_SCHEMA = pa.schema([
    ("doc_id", pa.string()),
    ("source", pa.string()),
    ("text", pa.string()),      # null unless status == "ok"
    ("status", pa.string()),    # "ok" | "rejected"
    ("reason", pa.string()),    # null for ok rows
    ("detail", pa.string()),    # error message for rejected rows
    ("raw", pa.binary()),       # first bytes of a rejected record
])

_JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")
COMPRESSION = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd", ".bz2": "bz2", ".lz4": "lz4"}
"""Extensions pyarrow decompresses while streaming ("detect"), with pyarrow's codec names."""
_COMPRESSED = tuple(COMPRESSION)
_CHUNK = 1 << 20  # bytes per read from a (decompressed) stream
# A JSONL line may be this many times read.max_doc_bytes before it is rejected unparsed: JSON's
# \uXXXX escapes take up to 3x the UTF-8 bytes of real text, and other fields need room too.
_JSON_LINE_FACTOR = 4


def detect_format(path: str, fmt: str) -> str:
    """The format a file is read as: the configured one, or by its extension."""
    if fmt != "auto":
        return fmt
    name = path.lower()
    for ext in _COMPRESSED:
        name = name.removesuffix(ext)
    if name.endswith(_JSONL_SUFFIXES):
        return "jsonl"
    if name.endswith(".parquet"):
        return "parquet"
    return "text"


def codec_of(path: str) -> str | None:
    """The codec a file's extension names (it is streamed through it), or None."""
    name = path.lower()
    return next((codec for ext, codec in COMPRESSION.items() if name.endswith(ext)), None)


class _Batcher:
    """Accumulates rows and hands them out as RECORD_SCHEMA tables."""

    def __init__(self, source: str, cfg: ReadConfig, batch_rows: int):
        self.source, self.cfg, self.batch_rows = source, cfg, batch_rows
        self.cols: dict[str, list] = {name: [] for name in RECORD_SCHEMA.names}
        self.positions: list[int] = []

    def ok(self, pos: int, doc_id: str, text: str, raw: bytes | str | None = None) -> None:
        """Add a parsed document (at position `pos` of its file), rejecting it if it is binary or too large."""
        reason = _content_problem(text, self.cfg)
        if reason:
            self.reject(pos, doc_id, reason, "", raw if raw is not None else text)
        else:
            self._add(pos, doc_id, text, "ok", None, None, None)

    def reject(self, pos: int, doc_id: str, reason: str, detail: str, raw: bytes | str) -> None:
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogatepass")
        self._add(pos, doc_id, None, "rejected", reason, detail[:500], raw[: self.cfg.raw_prefix_bytes])

    def _add(self, pos: int, *values: Any) -> None:
        doc_id, text, status, reason, detail, raw = values
        for name, v in zip(RECORD_SCHEMA.names, (doc_id, self.source, text, status, reason, detail, raw)):
            self.cols[name].append(v)
        self.positions.append(pos)

    def full(self) -> bool:
        return len(self.cols["doc_id"]) >= self.batch_rows

    def flush(self) -> tuple[pa.Table, np.ndarray] | None:
        """The rows so far and each one's position in its file."""
        if not self.cols["doc_id"]:
            return None
        table = pa.table(self.cols, schema=RECORD_SCHEMA)
        positions = np.array(self.positions, dtype=np.int64)
        self.cols = {name: [] for name in RECORD_SCHEMA.names}
        self.positions = []
        return table, positions


def _content_problem(text: str, cfg: ReadConfig) -> str | None:
    nul = text.count("\x00")
    if nul and nul > cfg.max_nul_fraction * len(text):
        return "binary_content"
    if len(text) > cfg.max_doc_bytes // 4 and len(text.encode("utf-8", "surrogatepass")) > cfg.max_doc_bytes:
        return "too_large"
    return None


def read_file(loc: Location, source: SourceConfig, cfg: ReadConfig, batch_rows: int = 2048) -> Iterator[pa.Table]:
    """Yield RECORD_SCHEMA tables for every record of one file, streaming."""
    for table, _ in read_piece(loc, source, cfg, batch_rows=batch_rows):
        yield table


def read_piece(loc: Location, source: SourceConfig, cfg: ReadConfig, start: int = 0, stop: int = -1,
               first_row: int = 0, batch_rows: int = 2048) -> Iterator[tuple[pa.Table, np.ndarray]]:
    """Yield (RECORD_SCHEMA table, each row's position in the file) for the records of one piece
    of a file: bytes [start, stop) of a line file, row groups [start, stop) of a Parquet file
    (stop -1: to the end), whose first record is at position `first_row`; the whole file by
    default. An unreadable piece is one rejected record (unreadable_file), at position -1."""
    out = _Batcher(source.name, cfg, batch_rows)
    fmt = detect_format(loc.path, source.format)
    n = 0
    try:
        if fmt == "parquet":
            rows = _parquet_rows(loc, source, start, stop, first_row)
        elif fmt == "jsonl" or source.text_unit == "line":
            rows = _line_rows(loc, source, fmt, cfg, start, stop, first_row)
        else:
            rows = _whole_file_row(loc, cfg)
        for n, (pos, doc_id, text, raw, reason, detail) in enumerate(rows, start=1):
            if reason is None:
                out.ok(pos, doc_id, text, raw)
            else:
                out.reject(pos, doc_id, reason, detail, raw)
            if out.full():
                yield out.flush()  # type: ignore[misc]
    except Exception as e:  # an unreadable file or a stream broken midway
        where = "" if (start, stop) == (0, -1) else f" of piece {start}:{stop}"
        out.reject(-1, f"{loc.uri}#unreadable", "unreadable_file", f"after {n} records{where}: {type(e).__name__}: {e}",
                   b"")
    last = out.flush()
    if last is not None:
        yield last


# Each row generator yields (position in the file, doc_id, text, raw, reject_reason, detail).
Row = tuple[int, str, Any, Any, Any, str]


def _open(loc: Location):
    # compression="detect" picks gzip/zstd/bz2/lz4 from the extension.
    return loc.fs.open_input_stream(loc.path, compression="detect")


class _Range:
    """Bytes [start, stop) of a random-access file, read as a stream."""

    def __init__(self, loc: Location, start: int, stop: int):
        self.f = loc.fs.open_input_file(loc.path)
        self.f.seek(start)
        self.left = stop - start

    def read(self, n: int) -> bytes:
        if self.left <= 0:
            return b""
        data = self.f.read(min(n, self.left))
        self.left -= len(data)
        return data

    def __enter__(self) -> "_Range":
        return self

    def __exit__(self, *exc) -> None:
        self.f.close()


class Overlong(NamedTuple):
    """A line longer than its limit: its first bytes and its whole length (newline excluded)."""

    prefix: bytes
    size: int


class _Line:
    """The line being gathered across chunks: its pieces while within the limit, then only
    its first `keep` bytes, its length and whether it is all whitespace."""

    def __init__(self, limit: int, keep: int):
        self.limit, self.keep = limit, keep
        self.parts: list[bytes] = []
        self.size = 0
        self.prefix: bytes | None = None  # set once the line is over the limit
        self.blank = True

    def add(self, piece: bytes) -> None:
        if not piece:
            return
        self.size += len(piece)
        if self.prefix is None:
            self.parts.append(piece)
            if self.size > self.limit:  # stop keeping bytes; from here on only count them
                self.blank = all(p.isspace() for p in self.parts)
                self.prefix = _prefix(self.parts, self.keep)
                self.parts = []
            return
        self.blank = self.blank and piece.isspace()
        if len(self.prefix) < self.keep:
            self.prefix += piece[: self.keep - len(self.prefix)]

    def take(self) -> bytes | Overlong:
        """The finished line, and start the next one."""
        if self.prefix is None:
            line: bytes | Overlong = self.parts[0] if len(self.parts) == 1 else b"".join(self.parts)
        else:  # an all-whitespace line stays a blank line, which callers skip as before
            line = b"" if self.blank else Overlong(self.prefix, self.size)
        self.parts, self.size, self.prefix, self.blank = [], 0, None, True
        return line


def _overlong(piece: bytes, keep: int) -> bytes | Overlong:
    return b"" if piece.isspace() else Overlong(piece[:keep], len(piece))


def _prefix(parts: list[bytes], keep: int) -> bytes:
    out: list[bytes] = []
    for p in parts:
        if keep <= 0:
            break
        out.append(p[:keep])
        keep -= len(out[-1])
    return b"".join(out)


def iter_lines(stream, limit: int, keep: int, chunk: int = _CHUNK) -> Iterator[bytes | Overlong]:
    """Every line of a byte stream, without its newline; one longer than `limit` bytes comes
    as an Overlong holding only its first `keep` bytes. Memory: the limit plus about a chunk.

    Lines are split out of each chunk at C speed; only a line that spans chunks is gathered
    (a list of pieces joined once, so a long line is copied once, not once per chunk).
    """
    line = _Line(limit, keep)
    while data := stream.read(chunk):
        pieces = data.split(b"\n")
        del data  # from here on only the pieces hold it (the same object when it has no newline)
        line.add(pieces[0])
        if len(pieces) > 1:
            yield line.take()
            for piece in pieces[1:-1]:
                yield piece if len(piece) <= limit else _overlong(piece, keep)
            line.add(pieces[-1])
        del pieces  # let what the line did not keep go before the next read
    if line.size:
        yield line.take()


def _line_rows(loc: Location, source: SourceConfig, fmt: str, cfg: ReadConfig, start: int = 0, stop: int = -1,
               first_line: int = 0) -> Iterator[Row]:
    # A CRLF line's text drops its \r, so a text line may be one byte over max_doc_bytes.
    limit = cfg.max_doc_bytes * _JSON_LINE_FACTOR if fmt == "jsonl" else cfg.max_doc_bytes + 1
    whole = (start, stop) == (0, -1)
    with (_open(loc) if whole else _Range(loc, start, stop)) as stream:
        for lineno, raw in enumerate(iter_lines(stream, limit, cfg.raw_prefix_bytes), start=first_line + 1):
            fallback_id = f"{loc.uri}:{lineno}"
            if isinstance(raw, Overlong):
                detail = f"line of {raw.size} bytes is over the {limit}-byte limit; not parsed"
                yield lineno - 1, fallback_id, None, raw.prefix, "too_large", detail
                continue
            if not raw.strip():
                continue
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                yield lineno - 1, fallback_id, None, raw, "invalid_utf8", str(e)
                continue
            if fmt != "jsonl":
                yield lineno - 1, fallback_id, line.rstrip("\r"), raw, None, ""
                continue
            yield (lineno - 1, *_json_row(line, raw, fallback_id, source))


def _json_row(line: str, raw: bytes, fallback_id: str, source: SourceConfig) -> tuple[str, Any, Any, Any, str]:
    try:
        record = json.loads(line)
    except (json.JSONDecodeError, RecursionError) as e:
        return fallback_id, None, raw, "malformed_json", str(e)
    if not isinstance(record, dict):
        return fallback_id, None, raw, "not_an_object", f"JSON {type(record).__name__}"
    doc_id = record.get(source.id_field)
    doc_id = fallback_id if doc_id is None or doc_id == "" else str(doc_id)
    if source.text_field not in record or record[source.text_field] is None:
        return doc_id, None, raw, "missing_text", f"no field {source.text_field!r}"
    text = record[source.text_field]
    if not isinstance(text, str):
        return doc_id, None, raw, "text_not_string", f"{source.text_field} is {type(text).__name__}"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:  # lone surrogates written as \udXXX escapes
        return doc_id, None, raw, "invalid_utf8", str(e)
    return doc_id, text, raw, None, ""


def _whole_file_row(loc: Location, cfg: ReadConfig) -> Iterator[Row]:
    parts: list[bytes] = []
    size = 0
    with _open(loc) as stream:  # read no further than the limit: the file is one document
        while size <= cfg.max_doc_bytes and (data := stream.read(_CHUNK)):
            parts.append(data)
            size += len(data)
    if size > cfg.max_doc_bytes:
        detail = f"file is over read.max_doc_bytes ({cfg.max_doc_bytes}); not read further"
        yield 0, loc.uri, None, _prefix(parts, cfg.raw_prefix_bytes), "too_large", detail
        return
    raw = parts[0] if len(parts) == 1 else b"".join(parts)
    del parts
    try:
        yield 0, loc.uri, raw.decode("utf-8"), raw[:4096], None, ""
    except UnicodeDecodeError as e:
        yield 0, loc.uri, None, raw, "invalid_utf8", str(e)


def _parquet_rows(loc: Location, source: SourceConfig, start: int = 0, stop: int = -1,
                  first_row: int = 0) -> Iterator[Row]:
    with loc.fs.open_input_file(loc.path) as f:
        pf = pq.ParquetFile(f)
        names = set(pf.schema_arrow.names)
        columns = [c for c in (source.text_field, source.id_field) if c in names]
        groups = list(range(start, pf.num_row_groups if stop < 0 else stop))
        n = first_row
        for batch in pf.iter_batches(batch_size=4096, row_groups=groups, columns=columns or None):
            texts = batch.column(source.text_field).to_pylist() if source.text_field in names else None
            ids = batch.column(source.id_field).to_pylist() if source.id_field in names else None
            for i in range(batch.num_rows):
                pos, fallback_id = n, f"{loc.uri}:{n}"
                n += 1
                doc_id = fallback_id if ids is None or ids[i] in (None, "") else str(ids[i])
                if texts is None:
                    yield pos, doc_id, None, b"", "missing_text", f"no column {source.text_field!r}"
                elif texts[i] is None:
                    yield pos, doc_id, None, b"", "missing_text", "null text"
                elif not isinstance(texts[i], str):
                    yield pos, doc_id, None, repr(texts[i]), "text_not_string", f"{type(texts[i]).__name__}"
                else:
                    yield pos, doc_id, texts[i], None, None, ""
