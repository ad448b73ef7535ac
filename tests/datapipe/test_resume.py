"""`python -m datapipe --resume`: a run killed mid-way and resumed gives the same outputs as
an uninterrupted run, and finished tasks are not redone."""
from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pyarrow.parquet as pq
import pytest

from datapipe.main import main
from datapipe.sample import write_corpus

ARGS = ["--set", "dedup.num_buckets=8", "--set", "actor_num_cpus=0.5", "--set", "read.task_target_bytes=100000",
        "--set", "tokenize.vocab_size=1000"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    write_corpus(root / "all.jsonl", 600, seed=3)
    lines = (root / "all.jsonl").read_bytes().splitlines(keepends=True)
    os.remove(root / "all.jsonl")
    for i in range(6):  # six files, so there are several read tasks
        (root / f"part{i}.jsonl").write_bytes(b"".join(lines[i::6]))
    return root


@pytest.fixture(scope="module")
def finished(ray_local, tmp_path_factory, corpus) -> str:
    """An uninterrupted run's output (read-only for the tests)."""
    ref = str(tmp_path_factory.mktemp("finished") / "ref")
    assert main(["--input", str(corpus), "--output", ref, *ARGS]) == 0
    return ref


def rows(out, folder: str) -> list[tuple]:
    out_rows = []
    for f in sorted(glob.glob(os.path.join(out, folder, "*.parquet"))):
        t = pq.read_table(f)
        out_rows += [tuple(str(v) for v in r.values()) for r in t.to_pylist()]
    return sorted(out_rows)


def test_interrupted_run_resumes_to_the_same_outputs(ray_local, tmp_path, corpus, finished, capfd):
    ref, out = finished, str(tmp_path / "out")

    cmd = [sys.executable, "-m", "datapipe", "--input", str(corpus), "--output", out, *ARGS]
    env = dict(os.environ, RAY_ADDRESS=ray_local.get_runtime_context().gcs_address)  # a job on the session's Ray
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=env)
    deadline = time.time() + 300
    try:
        while time.time() < deadline and not glob.glob(os.path.join(out, "_work", "done", "dedup", "*.json")):
            assert proc.poll() is None, "the run finished before it could be interrupted"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole job, mid-way through exact dedup
        proc.wait()
    assert not os.path.exists(os.path.join(out, "manifest.json"))
    capfd.readouterr()

    assert main(["--input", str(corpus), "--output", out, "--resume", *ARGS]) == 0
    log = capfd.readouterr().out
    assert "resume: 6 of 6 ingest tasks were already done" in log or "ingest tasks were already done" in log
    assert "dedup tasks were already done" in log

    def stats(path):
        import json
        s = json.load(open(os.path.join(path, "stats.json")))
        return {k: v for k, v in s.items() if k not in ("stage_seconds", "task_seconds", "cpu_utilisation")}

    assert stats(out) == stats(ref)
    for folder in ("duplicates", "dropped", "rejected"):
        assert rows(out, folder) == rows(ref, folder), folder
    shards = sorted(os.path.relpath(p, ref) for p in glob.glob(os.path.join(ref, "shards", "**", "*.npy"), recursive=True))
    assert shards and shards == sorted(os.path.relpath(p, out) for p in glob.glob(os.path.join(out, "shards", "**", "*.npy"), recursive=True))
    for rel in shards:
        assert np.array_equal(np.load(os.path.join(ref, rel)), np.load(os.path.join(out, rel))), rel


def test_resume_refuses_a_different_config(ray_local, tmp_path, corpus):
    out = str(tmp_path / "out")
    os.makedirs(os.path.join(out, "_work"))
    assert main(["--input", str(corpus), "--output", out, "--resume", *ARGS, "--set", "dedup.near.mode=streaming"]) == 2


def test_resume_refuses_a_finished_output_of_another_config(ray_local, corpus, finished, capfd):
    """A finished run has no _work/run.json left; its manifest.json's config is compared."""
    before = {p: os.stat(p).st_mtime_ns for p in glob.glob(os.path.join(finished, "**", "*"), recursive=True)}
    capfd.readouterr()
    assert main(["--input", str(corpus), "--output", finished, "--resume", *ARGS,
                 "--set", "tokenize.vocab_size=1200"]) == 2
    err = capfd.readouterr().err.strip()
    assert err.startswith("datapipe: error: --resume: the config differs") and "manifest.json" in err
    assert len(err.splitlines()) == 1
    assert {p: os.stat(p).st_mtime_ns for p in glob.glob(os.path.join(finished, "**", "*"), recursive=True)} == before


def test_check_finds_the_resume_mismatch_before_any_work(ray_local, corpus, finished, capfd):
    capfd.readouterr()
    assert main(["--check", "--input", str(corpus), "--output", finished, "--resume", *ARGS,
                 "--set", "tokenize.vocab_size=1200"]) == 2
    assert capfd.readouterr().err.startswith("datapipe: error: --resume: the config differs")
    assert main(["--check", "--input", str(corpus), "--output", finished, "--resume", *ARGS]) == 0
