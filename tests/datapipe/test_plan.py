"""The read plan without Ray: pieces of a file read back to exactly what the whole file gives."""
from __future__ import annotations

import gzip
import json
import os
import random

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datapipe import plan
from datapipe.config import ReadConfig, SourceConfig
from datapipe.layout import ParquetSink, WorkLayout
from datapipe.read import read_piece
from raypretrain import storage

from .corpus import distinct_docs

SRC = SourceConfig(name="s")
CFG = ReadConfig(max_doc_bytes=3000)


def local_plan(paths, target, cpus=2, source=SRC):
    files = plan.input_files([(storage.resolve(str(p)), source.name) for p in paths], {source.name: source})
    return plan.make_plan(files, target, cpus, run_meta=lambda batches: [[plan.probe_metadata(f) for f in b]
                                                                         for b in batches],
                          run_counts=lambda jobs: [plan.count_lines(storage.resolve(u), b) for u, b in jobs])


def records(pieces, source=SRC):
    """(file, position, doc_id, status, reason, text) of every record the pieces hold, in order."""
    out = []
    for p in pieces:
        for table, rows in read_piece(storage.resolve(p.uri), source, CFG, p.start, p.stop, p.first_row, batch_rows=5):
            out += [(p.file, int(r), *map(d.get, ("doc_id", "status", "reason", "text")))
                    for r, d in zip(rows, table.to_pylist())]
    return out


def messy_jsonl(path, n=120, seed=0) -> None:
    rng = random.Random(seed)
    texts = distinct_docs(n, seed=seed)
    lines = []
    for i, t in enumerate(texts):
        kind = rng.random()
        if kind < 0.1:
            lines.append(b"")  # a blank line: not a record, but it counts as a line
        if kind < 0.2:
            lines.append(json.dumps({"text": t[: rng.randint(5, 400)]}).encode())  # no id: <path>:<line>
        elif kind < 0.25:
            lines.append(b'{"id": "broken", "text": "cut')
        elif kind < 0.28:
            lines.append(json.dumps({"id": f"big{i}", "text": "x" * 20_000}).encode())  # over the line limit
        else:
            lines.append(json.dumps({"id": f"d{i}", "text": t}).encode() + (b"\r" if kind > 0.9 else b""))
    path.write_bytes(b"\n".join(lines))  # no newline at the end


def test_count_lines_agrees_with_counting_by_hand(tmp_path):
    rng = random.Random(1)
    path = tmp_path / "f.txt"
    for _ in range(300):
        data = b"".join(rng.choice([b"\n", b"ab\n", b"x" * rng.randint(0, 30) + b"\n", b"yy"])
                        for _ in range(rng.randint(1, 60)))
        path.write_bytes(data)
        step = rng.randint(1, len(data))
        bounds = [*range(0, len(data), step), len(data)]
        j = rng.randint(1, len(bounds) - 1)  # the ranges counted by two pre-pass tasks
        c1, s1 = plan.count_lines(storage.resolve(str(path)), bounds[:j + 1])
        c2, s2 = plan.count_lines(storage.resolve(str(path)), bounds[j:])
        for i, (a, b) in enumerate(zip(bounds, bounds[1:])):
            starts = [0] if a == 0 else [k + 1 for k in range(a - 1, b - 1) if data[k:k + 1] == b"\n"]
            assert (c1 + c2)[i] == data[a:b].count(b"\n")
            assert (s1 + s2)[i] == (starts[0] if starts else -1)


@pytest.mark.parametrize("target", [1, 97, 1000, 5000, 10**9])
def test_line_pieces_read_exactly_what_the_whole_file_holds(tmp_path, target):
    path = tmp_path / "in.jsonl"
    messy_jsonl(path)
    rp = local_plan([path], target)
    pieces = [p for task in rp.tasks for p in task]
    assert len(rp.tasks) == len(pieces) and (len(pieces) > 1) == (target < path.stat().st_size)
    assert all(p.est_bytes <= target + 20_100 for p in pieces)  # ranges end at a line start: + at most one line
    whole = records([plan.Piece(0, str(path), "s")])
    assert records(pieces) == whole
    fallback = [r for r in whole if r[2].startswith(f"{path}:")]
    assert len(fallback) > 10 and all(r[2] == f"{path}:{r[1] + 1}" for r in fallback)


def test_text_lines_split_too_and_their_ids_are_line_numbers(tmp_path):
    path = tmp_path / "in.txt"
    path.write_bytes(b"".join(f"line {i} {'w ' * (i % 13)}\n".encode() if i % 7 else b"\n" for i in range(300)))
    source = SourceConfig(name="s", text_unit="line")
    rp = local_plan([path], 300, source=source)
    assert len(rp.tasks) > 5
    got = records([p for t in rp.tasks for p in t], source)
    assert got == records([plan.Piece(0, str(path), "s")], source)
    assert [(r[1], r[2]) for r in got[:2]] == [(1, f"{path}:2"), (2, f"{path}:3")]  # line 1 (index 0) is blank


def test_parquet_splits_by_row_groups(tmp_path):
    path = tmp_path / "in.parquet"
    texts = distinct_docs(50, seed=2)
    ids = [None if i % 5 == 0 else f"p{i}" for i in range(50)]  # no id: <path>:<row>
    pq.write_table(pa.table({"id": ids, "text": texts}), path, row_group_size=7)
    rp = local_plan([path], 20_000)
    pieces = [p for t in rp.tasks for p in t]
    assert len(pieces) > 2 and all(p.stop > p.start for p in pieces)
    assert pieces[0].first_row == 0 and pieces[1].first_row == 7 * pieces[1].start
    got = records(pieces)
    assert got == records([plan.Piece(0, str(path), "s")])
    assert [r[1] for r in got] == list(range(50)) and got[5][2] == f"{path}:5"


def test_compressed_files_are_one_streamed_piece_sized_by_their_ratio(tmp_path):
    path = tmp_path / "in.jsonl.gz"
    raw = b"".join(json.dumps({"id": f"g{i}", "text": t}).encode() + b"\n"
                   for i, t in enumerate(distinct_docs(300, seed=3)))
    path.write_bytes(gzip.compress(raw))
    rp = local_plan([path], 1000)
    assert [len(t) for t in rp.tasks] == [1] and (rp.tasks[0][0].start, rp.tasks[0][0].stop) == (0, -1)
    assert 0.8 < rp.input_bytes / len(raw) < 1.25, (rp.input_bytes, len(raw), os.path.getsize(path))


def test_small_files_are_grouped_and_a_split_files_pieces_stand_alone(tmp_path):
    for i in range(5):
        (tmp_path / f"{i}.txt").write_bytes(b"x" * 100)
    (tmp_path / "5.jsonl").write_bytes(b"".join(b'{"text": "%d"}\n' % i for i in range(100)))
    paths = sorted(tmp_path.iterdir())
    rp = local_plan(paths, 250)
    assert [len(t) for t in rp.tasks] == [2, 2, 1] + [1] * (len(rp.tasks) - 3) and len(rp.tasks) > 8
    assert all(len(t) == 1 for t in rp.tasks[3:])
    assert [len(t) for t in local_plan(paths[:5], 1).tasks] == [1] * 5


def test_split_size_keeps_every_cpu_busy_but_not_with_tiny_pieces():
    gib = 2**30
    assert plan.split_bytes(10 * gib, 8, 128 * 2**20) == 128 * 2**20      # the target caps it
    assert plan.split_bytes(10 * gib, 1000, 128 * 2**20) == -(-10 * gib // 4000)  # 4 tasks per CPU
    assert plan.split_bytes(10 * 2**20, 64, 128 * 2**20) == plan.MIN_SPLIT_BYTES
    assert plan.split_bytes(10 * 2**20, 64, 1000) == 1000                  # a smaller target still wins
    # a whole number of tasks per CPU: 1,114 MiB on 2 CPUs is 10 pieces of 111.4 MiB, not 9 with the last alone
    split = plan.split_bytes(1114 * 2**20, 2, 128 * 2**20)
    assert split <= 128 * 2**20 and -(-1114 * 2**20 // split) == 10


def test_parquet_sink_holds_a_bounded_buffer_and_writes_only_on_commit(tmp_path):
    out = WorkLayout(storage.resolve(str(tmp_path)))
    rng = np.random.default_rng(0)
    tables = [pa.table({"k": rng.integers(0, 9, 500), "v": [f"{'x' * 200}{i}" for i in range(500)]})
              for _ in range(40)]
    expected: dict[int, list] = {}
    with ParquetSink(row_group_bytes=50_000, buffer_bytes=300_000, max_open=3) as sink:
        for t in tables:
            for b in range(9):
                part = t.filter(pa.compute.equal(t["k"], b))
                sink.add(out.clean(b, 7), part)
                expected.setdefault(b, []).extend(part.to_pylist())
        assert sink.peak_buffered <= 300_000 + max(t.nbytes for t in tables)
        assert not storage.list_files(out.work(), ".parquet")  # nothing under a final name before commit
    for b in range(9):
        files = storage.list_files(out.clean_dir(b), ".parquet")
        assert len(files) > 1  # max_open=3 closed files early: their later rows went to a next part
        got = pa.concat_tables([storage.read_parquet(f) for f in files]).to_pylist()
        assert sorted(got, key=str) == sorted(expected[b], key=str)
    assert not [f for _, _, names in os.walk(tmp_path) for f in names if f.startswith(storage.TMP_PREFIX)]


def test_parquet_sink_leaves_nothing_when_the_task_fails(tmp_path):
    out = WorkLayout(storage.resolve(str(tmp_path)))
    with pytest.raises(RuntimeError):
        with ParquetSink(row_group_bytes=10) as sink:
            sink.add(out.dropped(1), pa.table({"a": [1, 2, 3]}))
            raise RuntimeError("the task dies")
    assert not [f for _, _, names in os.walk(tmp_path) for f in names]
