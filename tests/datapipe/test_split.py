"""Splitting within a file changes nothing but the number of tasks: the same ids, outputs and
account whether one JSONL file is read by 1, 3 or 17 tasks; and the tasks spread over every
stage actor instead of queueing behind one."""
from __future__ import annotations

import glob
import json
import math
import os

import numpy as np
import pyarrow.parquet as pq
import pytest

from datapipe import pipeline, stages
from datapipe.plan import IngestSpec, Piece
from datapipe.config import DatapipeConfig, DedupConfig, PackConfig, ReadConfig, SourceConfig, TokenizeConfig
from datapipe.sample import generate
from datapipe.stats import check_identity
from raypretrain import storage

from .corpus import distinct_docs

TASKS = (1, 3, 17)
BUCKETS = 4  # 4 Dedup and 4 TokPack tasks on the session's 2 CPUs


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[str, int]:
    """The sample corpus as one file (its >1 MB record left out, so 17 ranges all hold line
    starts), with blank lines, ids used twice (far apart, so different tasks read them) and an
    exact copy of the first document at the end."""
    lines = [line for line in generate(200, seed=5) if len(line) < 100_000]
    first = json.loads(lines[0])
    lines[40:40] = [b"", b"   "]
    other, last = distinct_docs(2, seed=9)
    lines.insert(120, json.dumps({"id": first["id"], "text": other}).encode())
    lines.append(json.dumps({"id": "copy-of-first", "text": first["text"]}).encode())
    lines.append(json.dumps({"text": last}).encode())  # no id: <path>:<line>
    path = tmp_path_factory.mktemp("split") / "corpus.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return str(path), path.stat().st_size


def run(root, path: str, target: int):
    out = storage.resolve(str(root / f"out-{target}"))
    cfg = DatapipeConfig(sources=(SourceConfig(name="web", paths=(path,)),), output=out.uri,
                         read=ReadConfig(task_target_bytes=target), dedup=DedupConfig(num_buckets=BUCKETS),
                         tokenize=TokenizeConfig(vocab_size=500), pack=PackConfig(seq_len=64), keep_work=True)
    stats = pipeline.run(cfg, [(storage.resolve(path), "web")], out, log=lambda s: None)
    return stats, out.path


def rows(out: str, folder: str) -> list[tuple]:
    found = []
    for f in glob.glob(os.path.join(out, folder, "*.parquet")):
        found += [tuple(map(str, r.values())) for r in pq.read_table(f).to_pylist()]
    return sorted(found)


def outputs(out: str) -> dict:
    shards = {os.path.relpath(p, out): np.load(p).tolist()
              for p in glob.glob(os.path.join(out, "shards", "**", "*.npy"), recursive=True)}
    kept = sorted(i for f in glob.glob(os.path.join(out, "_work", "kept", "*.parquet"))
                  for i in pq.read_table(f, columns=["doc_id"]).column(0).to_pylist())
    clean = sorted((r["doc_id"], r["file"], r["row"]) for f in glob.glob(os.path.join(out, "_work", "clean", "*", "*"))
                   for r in pq.read_table(f, columns=["doc_id", "file", "row"]).to_pylist())
    return {"shards": shards, "kept_ids": kept, "positions": clean,
            "tokenizer": open(os.path.join(out, "tokenizer.json")).read(),
            **{folder: rows(out, folder) for folder in ("dropped", "duplicates", "rejected")}}


def markers(out: str, stage: str) -> list[dict]:
    return [json.load(open(f)) for f in glob.glob(os.path.join(out, "_work", "done", stage, "*.json"))]


def test_one_three_or_seventeen_tasks_give_the_same_ids_outputs_and_account(ray_local, tmp_path, corpus):
    path, size = corpus
    results = {}
    for n in TASKS:
        stats, out = run(tmp_path, path, size if n == 1 else math.ceil(size / n))
        plan = json.load(open(os.path.join(out, "_work", "plan.json")))
        assert len(plan["tasks"]) == n
        check_identity(stats)
        results[n] = ({k: v for k, v in stats.items() if k not in ("stage_seconds", "task_seconds",
                                                                     "cpu_utilisation")}, outputs(out), out)
    (stats, ref, _), *others = (results[n] for n in TASKS)
    assert stats["rejected_docs"].get("duplicate_id") == 1 and stats["exact_duplicate_docs"] >= 1
    assert f"{path}:{len(open(path, 'rb').read().splitlines())}" in ref["kept_ids"]  # id from the line number
    for got_stats, got, _ in others:
        assert got_stats == stats
        for key in ref:
            assert got[key] == ref[key], key

    # Each task's summary (its completion marker) says who ran it and what CPU time it took.
    out17 = results[17][2]
    done = markers(out17, "ingest")
    assert len(done) == 17 and all(m["actor"] and m["node"] and m["cpu_seconds"] > 0 for m in done)
    used = json.load(open(os.path.join(out17, "stats.json")))["cpu_utilisation"]
    assert set(used) >= {"read_clean", "dedup", "near_dedup", "tokenize_pack"}
    assert all(0 < u <= 1.5 for u in used.values()), used


def test_a_long_task_holds_back_no_other_task(ray_local, tmp_path):
    """4 read tasks on 2 CPUs (2 Ingest actors), the first far longer than the others: each
    actor is sent one task at a time, so the short ones all go to the other actor instead of
    one of them queueing behind the long task (as they did with Ray Data's default of
    several tasks in flight per actor)."""
    lines = generate(1200, seed=6)
    files = []
    for i, part in enumerate([lines[:1100], lines[1100:1103], lines[1103:1106], lines[1106:1109]]):
        files.append(tmp_path / f"part{i}.jsonl")
        files[-1].write_bytes(b"\n".join(part) + b"\n")
    out = storage.resolve(str(tmp_path / "out"))
    cfg = DatapipeConfig(sources=(SourceConfig(name="s", paths=("x",)),), output=out.uri)
    specs = [IngestSpec(task=i, pieces=(Piece(file=i, uri=str(f), source="s"),), num_buckets=4)
             for i, f in enumerate(files)]
    by_task = {s.task: s for s in pipeline._map(stages.Ingest, specs, cfg, out)}
    assert by_task[0].input_docs == 1100 and by_task[0].seconds > 3 * max(by_task[t].seconds for t in (1, 2, 3))
    assert {by_task[t].actor for t in (1, 2, 3)}.isdisjoint({by_task[0].actor}), by_task
    assert len({s.actor for s in by_task.values()}) == 2 and all(s.node for s in by_task.values())
