import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from raypretrain import storage
from datapipe.config import ReadConfig, SourceConfig
from datapipe.read import detect_format, read_file

SRC = SourceConfig()
CFG = ReadConfig()


def read_all(path, source=SRC, cfg=CFG):
    tables = list(read_file(storage.resolve(str(path)), source, cfg, batch_rows=3))
    return pa.concat_tables(tables).to_pylist() if tables else []


def doc(i, text="hello world"):
    return json.dumps({"id": f"d{i}", "text": text}).encode()


def test_every_bad_record_kind_is_rejected_with_its_reason(tmp_path):
    lines = [
        doc(0),
        b'{"id": "d1", "text": "cut off',                       # malformed JSON
        b'{"id": "d2", "text": "caf\xc3"}',                     # invalid UTF-8 bytes
        b'{"id": "d3", "body": "no text field"}',               # missing text
        b'{"id": "d4", "text": null}',                          # null text
        b'{"id": "d5", "text": ["a", "list"]}',                 # non-string text
        b'{"id": "d6", "text": "\\u0000\\u0000bin\\u0000"}',   # NUL-laden blob
        b'[1, 2, 3]',                                           # not an object
        b'{"id": "d8", "text": "\\ud800 lone surrogate"}',     # not encodable as UTF-8
        b"",                                                    # blank line: not a record
        json.dumps({"text": "no id here"}).encode(),
        json.dumps({"id": "big", "text": "x" * 2000}).encode(),
    ]
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    rows = read_all(path, cfg=ReadConfig(max_doc_bytes=1000))
    got = {r["doc_id"]: (r["status"], r["reason"]) for r in rows}
    assert len(rows) == len(lines) - 1
    assert got["d0"] == ("ok", None)
    assert got[f"{path}:2"] == ("rejected", "malformed_json")
    assert got[f"{path}:3"] == ("rejected", "invalid_utf8")
    assert got["d3"] == ("rejected", "missing_text")
    assert got["d4"] == ("rejected", "missing_text")
    assert got["d5"] == ("rejected", "text_not_string")
    assert got["d6"] == ("rejected", "binary_content")
    assert got[f"{path}:8"] == ("rejected", "not_an_object")
    assert got["d8"] == ("rejected", "invalid_utf8")
    assert got[f"{path}:11"] == ("ok", None)  # stable id from path and line number
    assert got["big"] == ("rejected", "too_large")
    bad = next(r for r in rows if r["reason"] == "malformed_json")
    assert bad["raw"] == lines[1] and bad["detail"] and bad["text"] is None
    assert all(len(r["raw"]) <= CFG.raw_prefix_bytes for r in rows if r["raw"])


@pytest.mark.parametrize("suffix, compress", [
    (".jsonl", lambda b: b),
    (".jsonl.gz", gzip.compress),
    (".jsonl.zst", lambda b: zstandard.ZstdCompressor().compress(b)),
])
def test_jsonl_plain_and_compressed(tmp_path, suffix, compress):
    path = tmp_path / f"in{suffix}"
    path.write_bytes(compress(b"\n".join(doc(i, f"text {i}") for i in range(7))))
    rows = read_all(path)
    assert [r["text"] for r in rows] == [f"text {i}" for i in range(7)]
    assert {r["status"] for r in rows} == {"ok"}


def test_file_uri(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(doc(0))
    rows = read_all(f"file://{path}")
    assert rows[0]["text"] == "hello world"


def test_custom_fields(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(json.dumps({"uid": 7, "content": "c"}).encode())
    rows = read_all(path, SourceConfig(text_field="content", id_field="uid"))
    assert (rows[0]["doc_id"], rows[0]["text"]) == ("7", "c")


def test_parquet_with_nulls_and_wrong_types(tmp_path):
    good = tmp_path / "good.parquet"
    pq.write_table(pa.table({"id": ["a", None, "c"], "text": ["one", "two", None]}), good)
    rows = read_all(good)
    assert [(r["doc_id"], r["status"], r["reason"]) for r in rows] == [
        ("a", "ok", None), (f"{good}:1", "ok", None), ("c", "rejected", "missing_text")]
    ints = tmp_path / "ints.parquet"
    pq.write_table(pa.table({"text": [1, 2]}), ints)
    assert [r["reason"] for r in read_all(ints)] == ["text_not_string"] * 2
    nocol = tmp_path / "nocol.parquet"
    pq.write_table(pa.table({"body": ["x"]}), nocol)
    assert [r["reason"] for r in read_all(nocol)] == ["missing_text"]


def test_text_one_doc_per_file_and_per_line(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"line one\r\n\nline two\n")
    whole = read_all(path)
    assert [(r["doc_id"], r["text"]) for r in whole] == [(str(path), "line one\r\n\nline two\n")]
    lines = read_all(path, SourceConfig(text_unit="line"))
    assert [(r["doc_id"], r["text"]) for r in lines] == [(f"{path}:1", "line one"), (f"{path}:3", "line two")]
    binary = tmp_path / "b.txt"
    binary.write_bytes(b"\xff\xfe\x00\x01")
    assert [r["reason"] for r in read_all(binary)] == ["invalid_utf8"]


def test_corrupt_compressed_file_is_rejected_not_raised(tmp_path):
    path = tmp_path / "broken.jsonl.gz"
    data = gzip.compress(b"\n".join(doc(i) for i in range(100_000)))
    path.write_bytes(data[: len(data) // 2])
    rows = read_all(path)
    assert rows[-1]["status"] == "rejected" and rows[-1]["reason"] == "unreadable_file"
    assert rows[-1]["doc_id"] == f"{path}#unreadable" and f"after {len(rows) - 1} records" in rows[-1]["detail"]
    assert len(rows) > 1 and all(r["status"] == "ok" for r in rows[:-1])


def test_detect_format():
    assert detect_format("x/a.jsonl.zst", "auto") == "jsonl"
    assert detect_format("a.JSON.gz", "auto") == "jsonl"
    assert detect_format("a.parquet", "auto") == "parquet"
    assert detect_format("a.md", "auto") == "text"
    assert detect_format("a.md", "jsonl") == "jsonl"
