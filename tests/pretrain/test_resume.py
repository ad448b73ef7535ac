"""Exact resume: a SIGKILLed worker, a killed job rerun with the same command, a crash in
the middle of a checkpoint save. Each resumed run must train on exactly the samples, and
produce exactly the per-step losses (bitwise, fp32 on CPU), of an uninterrupted run."""
from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import yaml

from raypretrain.config import from_dict, load, to_dict
from pretrain.config import PretrainConfig
from pretrain.trainer import build_trainer
from tests.pretrain.synthetic import write_shards

STEPS, EVERY = 16, 4
DEBUG = os.path.join(os.path.dirname(__file__), "..", "..", "configs", "pretrain", "debug.yaml")
SEQ_LEN = 128  # the debug preset's
SEQS_PER_STEP = 4096 // SEQ_LEN


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    root = tmp_path_factory.mktemp("shards")
    write_shards(root, seq_len=SEQ_LEN)
    return root


def resume_config(tmp_path, shards, name, scaling=None, **train) -> PretrainConfig:
    """The debug preset (2 gloo workers, ZeRO-2, its model and batch) in fp32 on the synthetic shards."""
    data = to_dict(load(PretrainConfig, DEBUG))
    data["data"]["shards"] = str(shards)
    data["deepspeed"]["precision"] = "fp32"
    data["train"].update(max_steps=STEPS, checkpoint_every=EVERY, eval_every=8, log_every=4, eval_blocks=16,
                         record_trace=True, **train)
    data["run"].update(name=name, max_failures=1, storage_path=str(tmp_path / "runs"))
    data["scaling"].update(scaling or {})
    return from_dict(PretrainConfig, data)


def trace(tmp_path, name) -> dict[int, list[dict]]:
    """rank → its records, every attempt's, in file order."""
    out = {}
    for path in glob.glob(str(tmp_path / "runs" / name / "trace" / "rank*.jsonl")):
        rank = int(os.path.basename(path)[4:-6])
        out[rank] = [json.loads(line) for line in open(path)]
    return out


def final(records: list[dict]) -> dict[int, dict]:
    """The record that counts for each step: the last attempt's."""
    return {r["step"]: r for r in records}


def assert_same_training(tmp_path, name, reference="ref", expect_replay=True):
    got, ref = trace(tmp_path, name), trace(tmp_path, reference)
    assert sorted(got) == [0, 1]
    for rank in (0, 1):
        g, r = final(got[rank]), final(ref[rank])
        assert sorted(g) == list(range(STEPS))
        assert [g[s]["loss"] for s in range(STEPS)] == [r[s]["loss"] for s in range(STEPS)]  # bitwise
        assert [g[s]["pos"] for s in range(STEPS)] == [r[s]["pos"] for s in range(STEPS)]
    if expect_replay:  # the interruption really happened: some steps were trained twice, the first time lost
        assert len(got[0]) > STEPS or len(got[1]) > STEPS
    used = [p for rank in (0, 1) for rec in final(got[rank]).values() for p in rec["pos"]]
    assert sorted(used) == list(range(STEPS * SEQS_PER_STEP))  # no sample repeated, none skipped


@pytest.fixture(scope="module")
def reference(ray_local, tmp_path_factory, shards):
    tmp = tmp_path_factory.mktemp("ref")
    result = build_trainer(resume_config(tmp, shards, "ref")).fit()
    assert result.error is None
    return tmp


def checkpointed_step(run: str) -> int:
    steps = [json.load(open(p))["step"] for p in glob.glob(os.path.join(run, "checkpoint_*", "state.json"))]
    return max(steps, default=-1)


def wait_for(predicate, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def after_checkpoint(tmp_path, name, step=EVERY * 2) -> bool:
    """The step-8 checkpoint is written and rank 1 has trained two steps past it."""
    run = str(tmp_path / "runs" / name)
    t = trace(tmp_path, name)
    return checkpointed_step(run) >= step and any(r["step"] >= step + 1 for r in t.get(1, []))


def test_sigkilled_worker_resumes_exactly(ray_local, tmp_path, shards, reference):
    killed = []

    def killer():
        if wait_for(lambda: after_checkpoint(tmp_path, "kill")):
            pid = int(open(tmp_path / "runs" / "kill" / "trace" / "pid_rank1").read())
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    result = build_trainer(resume_config(tmp_path, shards, "kill")).fit()
    thread.join(timeout=5)
    assert killed, "the worker was never killed"
    assert result.error is None and result.metrics["step"] == STEPS
    os.symlink(reference / "runs" / "ref", tmp_path / "runs" / "ref")
    assert_same_training(tmp_path, "kill")


def test_crash_in_the_middle_of_a_save_resumes_from_the_previous_checkpoint(ray_local, tmp_path, shards, reference):
    result = build_trainer(resume_config(tmp_path, shards, "crash", debug_crash_in_save_at_step=8)).fit()
    assert result.error is None and result.metrics["step"] == STEPS
    os.symlink(reference / "runs" / "ref", tmp_path / "runs" / "ref")
    records = trace(tmp_path, "crash")[0]
    steps = [r["step"] for r in records]
    # died saving step 8, restarted from the step-4 checkpoint: steps 4..7 were trained twice
    assert steps == list(range(8)) + list(range(4, STEPS))
    assert_same_training(tmp_path, "crash")
    # the dead workers' staging folders were swept when the restarted ones began
    from pretrain.checkpoint import staging_prefix
    from pretrain.trainer import RunPaths

    assert not glob.glob(staging_prefix(RunPaths.of(resume_config(tmp_path, shards, "crash")).run_dir) + "*")


def test_killed_job_rerun_with_the_same_command_resumes_exactly(ray_local, tmp_path, shards, reference):
    cfg = resume_config(tmp_path, shards, "job")
    config = tmp_path / "job.yaml"
    config.write_text(yaml.safe_dump(to_dict(cfg)))
    cmd = [sys.executable, "-m", "pretrain", "--config", str(config)]
    # A job on the session's Ray, as `ray job submit` runs it on a cluster; killing its driver ends the job.
    env = dict(os.environ, RAY_ADDRESS=ray_local.get_runtime_context().gcs_address)
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        assert wait_for(lambda: after_checkpoint(tmp_path, "job"), timeout=400)
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # the whole job, driver included
        first.wait()
    time.sleep(2)
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "[pretrain] resuming from" in second.stdout
    os.symlink(reference / "runs" / "ref", tmp_path / "runs" / "ref")
    assert_same_training(tmp_path, "job")


def test_two_worker_checkpoint_resumes_on_one_worker(ray_local, tmp_path, shards, reference):
    import shutil

    kept = sorted(glob.glob(str(reference / "runs" / "ref" / "checkpoint_2*")))
    source = next(p for p in kept if json.load(open(os.path.join(p, "state.json")))["step"] == 12)
    ckpt = shutil.copytree(source, tmp_path / "ckpt-step12")  # the conversion is written next to it
    cfg = resume_config(tmp_path, shards, "elastic", scaling={"num_workers": 1})
    result = build_trainer(cfg, resume=str(ckpt)).fit()
    assert result.error is None and result.metrics["step"] == STEPS
    assert os.path.isdir(ckpt / "engine_universal")
    got = final(trace(tmp_path, "elastic")[0])
    ref = trace(reference, "ref")
    ref0, ref1 = final(ref[0]), final(ref[1])
    assert sorted(got) == list(range(12, STEPS))
    for step in range(12, STEPS):
        # one worker averages the same 32 sequences the two workers averaged 16 each of
        assert got[step]["loss"] == pytest.approx((ref0[step]["loss"] + ref1[step]["loss"]) / 2, rel=1e-4)
        assert sorted(got[step]["pos"]) == sorted(ref0[step]["pos"] + ref1[step]["pos"])
