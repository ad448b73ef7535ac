"""Read: files → records, tolerant of bad input.

Every physical record becomes exactly one row: status "ok" with its text, or status
"rejected" with a reason, an error detail and the first bytes of the raw record. Nothing
is skipped silently and nothing crashes the run (Ray's stock read_json fails on a bad
line, so we read raw lines and parse them here). Blank JSONL/text lines are not records.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from datapipe.config import ReadConfig, SourceConfig
from datapipe.io import Location

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
_COMPRESSED = (".gz", ".zst", ".zstd", ".bz2", ".lz4")


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


class _Batcher:
    """Accumulates rows and hands them out as RECORD_SCHEMA tables."""

    def __init__(self, source: str, cfg: ReadConfig, batch_rows: int):
        self.source, self.cfg, self.batch_rows = source, cfg, batch_rows
        self.cols: dict[str, list] = {name: [] for name in RECORD_SCHEMA.names}

    def ok(self, doc_id: str, text: str, raw: bytes | str | None = None) -> None:
        """Add a parsed document, rejecting it if it is binary or too large."""
        reason = _content_problem(text, self.cfg)
        if reason:
            self.reject(doc_id, reason, "", raw if raw is not None else text)
        else:
            self._add(doc_id, text, "ok", None, None, None)

    def reject(self, doc_id: str, reason: str, detail: str, raw: bytes | str) -> None:
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogatepass")
        self._add(doc_id, None, "rejected", reason, detail[:500], raw[: self.cfg.raw_prefix_bytes])

    def _add(self, *values: Any) -> None:
        doc_id, text, status, reason, detail, raw = values
        for name, v in zip(RECORD_SCHEMA.names, (doc_id, self.source, text, status, reason, detail, raw)):
            self.cols[name].append(v)

    def full(self) -> bool:
        return len(self.cols["doc_id"]) >= self.batch_rows

    def flush(self) -> pa.Table | None:
        if not self.cols["doc_id"]:
            return None
        table = pa.table(self.cols, schema=RECORD_SCHEMA)
        self.cols = {name: [] for name in RECORD_SCHEMA.names}
        return table


def _content_problem(text: str, cfg: ReadConfig) -> str | None:
    nul = text.count("\x00")
    if nul and nul > cfg.max_nul_fraction * len(text):
        return "binary_content"
    if len(text) > cfg.max_doc_bytes // 4 and len(text.encode("utf-8", "surrogatepass")) > cfg.max_doc_bytes:
        return "too_large"
    return None


def read_file(loc: Location, source: SourceConfig, cfg: ReadConfig, batch_rows: int = 2048) -> Iterator[pa.Table]:
    """Yield RECORD_SCHEMA tables for every record of one file, streaming."""
    out = _Batcher(source.name, cfg, batch_rows)
    fmt = detect_format(loc.path, source.format)
    n = 0
    try:
        if fmt == "parquet":
            rows = _parquet_rows(loc, source)
        elif fmt == "jsonl" or source.text_unit == "line":
            rows = _line_rows(loc, source, fmt)
        else:
            rows = _whole_file_row(loc)
        for n, (doc_id, text, raw, reason, detail) in enumerate(rows, start=1):
            if reason is None:
                out.ok(doc_id, text, raw)
            else:
                out.reject(doc_id, reason, detail, raw)
            if out.full():
                yield out.flush()  # type: ignore[misc]
    except Exception as e:  # an unreadable file or a stream broken midway
        out.reject(f"{loc.uri}#unreadable", "unreadable_file", f"after {n} records: {type(e).__name__}: {e}", b"")
    last = out.flush()
    if last is not None:
        yield last


# Each row generator yields (doc_id, text, raw, reject_reason, detail).
Row = tuple[str, Any, Any, Any, str]


def _open(loc: Location):
    # compression="detect" picks gzip/zstd/bz2/lz4 from the extension.
    return loc.fs.open_input_stream(loc.path, compression="detect")


def _iter_lines(stream, chunk: int = 1 << 20) -> Iterator[bytes]:
    buf = b""
    while data := stream.read(chunk):
        lines = (buf + data).split(b"\n")
        buf = lines.pop()
        yield from lines
    if buf:
        yield buf


def _line_rows(loc: Location, source: SourceConfig, fmt: str) -> Iterator[Row]:
    with _open(loc) as stream:
        for lineno, raw in enumerate(_iter_lines(stream), start=1):
            if not raw.strip():
                continue
            fallback_id = f"{loc.uri}:{lineno}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                yield fallback_id, None, raw, "invalid_utf8", str(e)
                continue
            if fmt != "jsonl":
                yield fallback_id, line.rstrip("\r"), raw, None, ""
                continue
            yield _json_row(line, raw, fallback_id, source)


def _json_row(line: str, raw: bytes, fallback_id: str, source: SourceConfig) -> Row:
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


def _whole_file_row(loc: Location) -> Iterator[Row]:
    with _open(loc) as stream:
        raw = stream.read()
    try:
        yield loc.uri, raw.decode("utf-8"), raw[:4096], None, ""
    except UnicodeDecodeError as e:
        yield loc.uri, None, raw, "invalid_utf8", str(e)


def _parquet_rows(loc: Location, source: SourceConfig) -> Iterator[Row]:
    with loc.fs.open_input_file(loc.path) as f:
        pf = pq.ParquetFile(f)
        names = set(pf.schema_arrow.names)
        columns = [c for c in (source.text_field, source.id_field) if c in names]
        n = 0
        for batch in pf.iter_batches(batch_size=4096, columns=columns or None):
            texts = batch.column(source.text_field).to_pylist() if source.text_field in names else None
            ids = batch.column(source.id_field).to_pylist() if source.id_field in names else None
            for i in range(batch.num_rows):
                fallback_id = f"{loc.uri}:{n}"
                n += 1
                doc_id = fallback_id if ids is None or ids[i] in (None, "") else str(ids[i])
                if texts is None:
                    yield doc_id, None, b"", "missing_text", f"no column {source.text_field!r}"
                elif texts[i] is None:
                    yield doc_id, None, b"", "missing_text", "null text"
                elif not isinstance(texts[i], str):
                    yield doc_id, None, repr(texts[i]), "text_not_string", f"{type(texts[i]).__name__}"
                else:
                    yield doc_id, texts[i], None, None, ""

