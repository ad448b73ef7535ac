"""An over-long record is streamed past, never held whole: the reader's memory is bounded by
read.max_doc_bytes (a JSONL line by 4x it) plus a read chunk, not by the record. The tests
allow two chunks; the peaks measured are the limit plus at most one.

Peak memory is measured with tracemalloc (Python allocations, which include every byte
string the reader reads): deterministic, not a timing. The old reader gathered a long
line by re-concatenating it per 1 MiB chunk and read a whole text file at once, so its
peak was at least twice the long record (40 MB here) against a bound of a few MB.
"""
import gzip
import io as pyio
import json
import random
import tracemalloc

import pyarrow as pa
import pytest
import zstandard

from raypretrain import storage
from datapipe.config import ReadConfig, SourceConfig
from datapipe.read import read_file

MB = 1_000_000
CHUNK = 1 << 20              # the reader's read size (datapipe.read._CHUNK)
JSONL_LIMIT = 4 * MB         # a JSONL line may be _JSON_LINE_FACTOR (4) x max_doc_bytes
BIG = 20 * MB                # the over-long record: several times every bound below
CFG = ReadConfig(max_doc_bytes=MB)
COMPRESS = {
    "": lambda b: b,
    ".gz": lambda b: gzip.compress(b, compresslevel=1),
    ".zst": lambda b: zstandard.ZstdCompressor(level=1).compress(b),
}


def doc_line(doc_id: str) -> bytes:
    return json.dumps({"id": doc_id, "text": "t"}).encode()


def read_traced(path, source=SourceConfig(), cfg=CFG):
    """All rows of one file, and the peak of Python memory allocated while reading it."""
    pa.table({"x": ["y"]})  # pyarrow imports pandas on its first table: keep that out of the peak
    tracemalloc.start()
    try:
        tables = list(read_file(storage.resolve(str(path)), source, cfg))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    rows = pa.concat_tables(tables).to_pylist()
    return [(r["doc_id"], r["status"], r["reason"], r["text"], r["raw"]) for r in rows], peak


@pytest.mark.parametrize("comp", list(COMPRESS))
def test_jsonl_overlong_line_is_streamed_past(tmp_path, comp):
    big = b'{"text": "' + b"x" * BIG + b'"}'
    data = b'{"text": "first"}\n\n' + big + b'\n{"text": "last"}'  # blank line 2, no final newline
    path = tmp_path / f"in.jsonl{comp}"
    path.write_bytes(COMPRESS[comp](data))
    del big, data
    rows, peak = read_traced(path)
    assert rows == [
        (f"{path}:1", "ok", None, "first", None),
        (f"{path}:3", "rejected", "too_large", None, b'{"text": "' + b"x" * (CFG.raw_prefix_bytes - 10)),
        (f"{path}:4", "ok", None, "last", None),
    ]
    assert peak < JSONL_LIMIT + 2 * CHUNK, f"peak {peak / 1e6:.1f} MB"


@pytest.mark.parametrize("comp", ["", ".gz"])
def test_text_lines_overlong_line_is_streamed_past(tmp_path, comp):
    path = tmp_path / f"in.txt{comp}"
    path.write_bytes(COMPRESS[comp](b"first\r\n" + b"y" * BIG + b"\r\n\nlast\n"))
    rows, peak = read_traced(path, SourceConfig(text_unit="line"))
    assert rows == [
        (f"{path}:1", "ok", None, "first", None),
        (f"{path}:2", "rejected", "too_large", None, b"y" * CFG.raw_prefix_bytes),
        (f"{path}:4", "ok", None, "last", None),
    ]
    assert peak < MB + 2 * CHUNK, f"peak {peak / 1e6:.1f} MB"


@pytest.mark.parametrize("comp", ["", ".gz", ".zst"])
def test_whole_text_file_over_the_limit_is_not_read_whole(tmp_path, comp):
    path = tmp_path / f"big.txt{comp}"
    path.write_bytes(COMPRESS[comp](b"z" * BIG))
    rows, peak = read_traced(path)
    assert rows == [(str(path), "rejected", "too_large", None, b"z" * CFG.raw_prefix_bytes)]
    assert peak < MB + 2 * CHUNK, f"peak {peak / 1e6:.1f} MB"


def test_limits_fall_where_they_did(tmp_path):
    """The size at which a record becomes too_large is as before, record kind by kind."""
    cfg = ReadConfig(max_doc_bytes=1000, raw_prefix_bytes=20)
    whole = tmp_path / "a.txt"
    whole.write_bytes(b"a" * 1000)
    assert [r[2] for r in read_traced(whole, cfg=cfg)[0]] == [None]
    whole.write_bytes(b"a" * 1001)
    assert [r[2] for r in read_traced(whole, cfg=cfg)[0]] == ["too_large"]
    lines = tmp_path / "b.txt"  # a CRLF line's text is one byte shorter than the line
    lines.write_bytes(b"b" * 1000 + b"\r\n" + b"c" * 1001 + b"\n" + b"d" * 1000 + b"\r")
    rows = read_traced(lines, SourceConfig(text_unit="line"), cfg)[0]
    assert [r[2] for r in rows] == [None, "too_large", None]
    # JSON escapes: 900 UTF-8 bytes of Cyrillic text are a 2,700-byte ASCII line, still parsed
    jsonl = tmp_path / "c.jsonl"
    recs = [{"id": "ru", "text": "я" * 450}, {"id": "big", "text": "e" * 1001}]
    jsonl.write_bytes(b"\n".join(json.dumps(r).encode() for r in recs))
    rows = read_traced(jsonl, cfg=cfg)[0]
    assert [r[:3] for r in rows] == [("ru", "ok", None), ("big", "rejected", "too_large")]
    assert rows[0][3] == "я" * 450


def test_jsonl_line_over_four_times_the_limit_is_rejected_unparsed(tmp_path):
    """Its id field is never read, so it is named by its line, as malformed lines are."""
    path = tmp_path / "in.jsonl"
    huge = json.dumps({"id": "huge", "text": "f" * 4000}).encode()
    path.write_bytes(huge + b"\n" + doc_line("after"))
    rows = read_traced(path, cfg=ReadConfig(max_doc_bytes=1000, raw_prefix_bytes=20))[0]
    assert rows == [(f"{path}:1", "rejected", "too_large", None, huge[:20]), ("after", "ok", None, "t", None)]


def test_overlong_blank_line_is_still_a_blank_line(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"text": "a"}\n' + b" \t" * 3000 + b"\n" + b'{"text": "b"}\n')
    rows = read_traced(path, cfg=ReadConfig(max_doc_bytes=100))[0]
    assert [(r[0], r[3]) for r in rows] == [(f"{path}:1", "a"), (f"{path}:3", "b")]


def reference_lines(data: bytes, limit: int, keep: int) -> list:
    """What iter_lines must yield: bytes.split's lines, an over-long one as Overlong."""
    from datapipe.read import Overlong

    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return [line if len(line) <= limit else b"" if line.isspace() else Overlong(line[:keep], len(line))
            for line in lines]


def test_iter_lines_agrees_with_split_at_every_chunk_boundary():
    from datapipe.read import iter_lines

    rng = random.Random(0)
    for _ in range(3000):
        data = bytes(rng.choice(b"ab \n") for _ in range(rng.randrange(40)))
        limit, keep, chunk = rng.randrange(12), rng.randrange(14), rng.randrange(1, 9)
        got = list(iter_lines(pyio.BytesIO(data), limit, keep, chunk))
        assert got == reference_lines(data, limit, keep), (data, limit, keep, chunk)
