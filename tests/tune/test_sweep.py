"""Real sweeps on the session's Ray: Tune trials that each run a real TorchTrainer + DeepSpeed on a
tiny model, ASHA stopping an absurd learning rate, the files a sweep writes, and a killed sweep
restored by rerunning the same command."""
from __future__ import annotations

import csv
import glob
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from raypretrain.config import load
from pretrain.config import PretrainConfig
from pretrain.trainer import build_trainer
from tests.pretrain.synthetic import write_shards
from tune.main import main

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STEPS = 16


def sweep_yaml(tmp_path, shards, name: str, space: dict, train: dict | None = None, **top) -> str:
    """A sweep of a tiny model (vocab 320, seq 32, d_model 64, 2 layers) on the synthetic shards:
    1 worker × 0.25 CPU per trial, ZeRO-0, evaluated every 4 steps."""
    cfg = {"name": name, "storage_path": str(tmp_path / "sweeps"),
           "base": {"config": "", "overrides": {
               "model": {"vocab_size": 320, "seq_len": 32, "n_layer": 2, "n_head": 2, "d_model": 64},
               "data": {"shards": str(shards)},
               "optim": {"lr": 1e-2, "warmup_steps": 2},
               "train": {"max_steps": STEPS, "global_batch_tokens": 256, "micro_batch_size": 8, "eval_every": 4,
                         "checkpoint_every": 8, "log_every": 4, "eval_blocks": 16, **(train or {})},
               "deepspeed": {"zero_stage": 0},
               "scaling": {"num_workers": 1, "cpus_per_worker": 0.25},
               "run": {"storage_path": str(tmp_path / "runs")}}},
           "space": space, "trials": 1, "max_concurrent": 2,
           "scheduler": {"kind": "asha", "grace_period": 4, "reduction_factor": 2}, **top}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def results(sweep_dir) -> list[dict]:
    with open(os.path.join(sweep_dir, "results.csv")) as f:
        return list(csv.DictReader(f))


def assert_all_resources_free(ray, timeout: float = 60) -> None:
    """Every CPU of the session's Ray free again, and no placement group left behind."""
    from ray.util import placement_group_table

    deadline = time.time() + timeout
    while True:
        left = {k: v["bundles"] for k, v in placement_group_table().items() if v["state"] != "REMOVED"}
        free = ray.available_resources().get("CPU", 0)
        if free == ray.cluster_resources()["CPU"] and not left:
            return
        if time.time() > deadline:
            alive = [(a["ActorClassName"], a["State"]) for a in ray._private.state.actors().values()
                     if a["State"] != "DEAD"]
            raise AssertionError(f"{free} CPUs free; placement groups left: {left}; live actors: {alive}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    root = tmp_path_factory.mktemp("shards")
    write_shards(root)
    return root


def test_asha_stops_the_absurd_lr_and_the_sweep_writes_its_files(ray_local, tmp_path, shards, capsys):
    from PIL import Image
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    # the grid runs in order, 2 at a time: the absurd lr starts last and meets full rungs
    config = sweep_yaml(tmp_path, shards, "asha", {"optim.lr": {"grid": [3e-3, 1e-2, 3e-2, 10.0]},
                                                   "optim.weight_decay": {"uniform": [0.0, 0.1]}})
    assert main(["--config", config]) == 0
    out = capsys.readouterr().out
    sweep = tmp_path / "sweeps" / "asha"
    rows = results(sweep)
    assert len(rows) == 4 and "sorted by val_loss (min)" in out
    assert all(r["val_loss"] for r in rows)  # every trial reported its metric, the diverged one too
    losses = [float(r["val_loss"]) for r in rows]
    assert losses == sorted(losses)
    absurd = next(r for r in rows if float(r["optim.lr"]) == 10.0)
    best = rows[0]
    assert int(absurd["step"]) < STEPS and absurd["status"].startswith("stopped at")  # ASHA stopped it early
    assert float(absurd["val_loss"]) > 2 * float(best["val_loss"]) and float(best["optim.lr"]) != 10.0
    assert int(best["step"]) == STEPS and best["status"] == "done"
    assert_all_resources_free(ray_local)  # stopped trials gave their workers back

    # one TensorBoard folder per trial under one parent
    tb = sorted(os.listdir(sweep / "tensorboard"))
    assert tb == sorted(r["trial_id"] for r in rows)
    acc = EventAccumulator(str(sweep / "tensorboard" / best["trial_id"]))
    acc.Reload()
    assert [e.step for e in acc.Scalars("val/loss")] == list(range(0, STEPS + 1, 4))

    # the plot is a real PNG
    png = sweep / "curves.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(png) as im:
        im.load()
        assert im.size[0] > 300 and im.size[1] > 200

    # best.yaml is a complete pretrain config of the best trial, under its own run name, that trains
    cfg = load(PretrainConfig, str(sweep / "best.yaml"))
    assert cfg.optim.lr == float(best["optim.lr"]) and cfg.run.name == "asha-best"
    assert cfg.optim.weight_decay == pytest.approx(float(best["optim.weight_decay"]), rel=1e-3)
    assert cfg.run.storage_path == str(tmp_path / "runs") and cfg.model.d_model == 64
    cfg = load(PretrainConfig, str(sweep / "best.yaml"), ["train.max_steps=2", "train.eval_every=2"])
    result = build_trainer(cfg).fit()
    assert result.metrics["step"] == 2 and os.path.isdir(tmp_path / "runs" / "asha-best")


def test_a_point_the_pretrain_config_refuses_ends_its_trial_as_invalid(ray_local, tmp_path, shards, capsys):
    # each value is valid on the base (micro-batch 4), so the driver lets the space through; the point
    # (384 tokens = 12 sequences, micro-batch 8) is not: 12 is not a multiple of 8
    config = sweep_yaml(tmp_path, shards, "invalid", {"train.global_batch_tokens": {"grid": [384, 256]},
                                                      "train.micro_batch_size": {"grid": [8]}},
                        train={"micro_batch_size": 4, "max_steps": 4, "checkpoint_every": 4},
                        scheduler={"kind": "fifo"})
    assert main(["--config", config]) == 0  # the sweep ran to the end: an invalid trial is not an error
    sweep = tmp_path / "sweeps" / "invalid"
    rows = {r["train.global_batch_tokens"]: r for r in results(sweep)}
    assert set(rows) == {"384", "256"}
    assert rows["384"]["status"] == ("invalid: train.global_batch_tokens: 384 is not a positive multiple of "
                                     "seq_len × micro_batch_size × num_workers = 256"), rows["384"]
    assert rows["384"]["val_loss"] == rows["384"]["step"] == ""
    assert rows["256"]["status"] == "done" and rows["256"]["step"] == "4" and float(rows["256"]["val_loss"]) > 0
    assert list(results(sweep))[0]["train.global_batch_tokens"] == "256"  # invalid trials sort last
    best = load(PretrainConfig, str(sweep / "best.yaml"))
    assert (best.train.global_batch_tokens, best.train.micro_batch_size) == (256, 8)
    assert "invalid: train.global_batch_tokens: 384" in capsys.readouterr().out
    assert_all_resources_free(ray_local)


def experiment_state(sweep_dir) -> dict[str, str]:
    """{trial id: status} from the newest snapshot Tune wrote of the sweep."""
    files = sorted(glob.glob(os.path.join(sweep_dir, "experiment_state-*.json")))
    if not files:
        return {}
    try:
        with open(files[-1]) as f:
            trials = [json.loads(state) for state, _ in json.load(f)["trial_data"]]
    except (json.JSONDecodeError, OSError):  # caught mid-write
        return {}
    return {t["trial_id"]: t["status"] for t in trials}


def snapshot(folder) -> dict[str, int]:
    return {p: os.stat(p).st_mtime_ns for p in glob.glob(os.path.join(folder, "**"), recursive=True)}


def tune_results(sweep_dir, trial_id: str) -> str:
    (trial_dir,) = glob.glob(os.path.join(sweep_dir, f"run_trial_{trial_id}_*"))
    with open(os.path.join(trial_dir, "progress.csv")) as f:
        return f.read()


def test_killed_sweep_rerun_restores_it_and_keeps_finished_trials(ray_local, tmp_path, shards):
    # two trials one after the other, 8 steps then 40; the sweep is killed once the short one has
    # finished and the long one has checkpointed, then the same command is run again
    config = sweep_yaml(tmp_path, shards, "restore", {"train.max_steps": {"grid": [8, 40]}},
                        scheduler={"kind": "fifo"}, max_concurrent=1)
    cmd = [sys.executable, "-m", "tune", "--config", config]
    env = dict(os.environ, RAY_ADDRESS=ray_local.get_runtime_context().gcs_address, TUNE_GLOBAL_CHECKPOINT_S="1")
    sweep = tmp_path / "sweeps" / "restore"

    def short_done_long_checkpointed():
        state = experiment_state(sweep)
        done = [t for t, s in state.items() if s == "TERMINATED"]
        running = [t for t, s in state.items() if s == "RUNNING"]
        return (len(done) == 1 and len(running) == 1
                and glob.glob(str(sweep / "trials" / running[0] / "checkpoint_*" / "state.json")))

    with open(tmp_path / "first.log", "w") as log:
        first = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.time() + 300
            while not short_done_long_checkpointed() and first.poll() is None and time.time() < deadline:
                time.sleep(0.2)
            assert short_done_long_checkpointed(), (tmp_path / "first.log").read_text()[-3000:]
        finally:
            if first.poll() is None:
                os.killpg(first.pid, signal.SIGKILL)  # the whole sweep job, driver included
            first.wait()
    before = experiment_state(sweep)
    (short,) = [t for t, s in before.items() if s == "TERMINATED"]
    (long,) = [t for t, s in before.items() if s == "RUNNING"]
    short_train, short_results = snapshot(sweep / "trials" / short), tune_results(sweep, short)
    assert short_train and short_results.count("\n") == 1 + 3  # header + steps 0, 4, 8
    assert not os.path.exists(sweep / "results.csv")

    second = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=400)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "[tune] restoring sweep restore" in second.stdout
    assert "[pretrain] resuming from" in second.stdout  # the long trial continued from its checkpoint
    rows = {r["trial_id"]: r for r in results(sweep)}
    assert set(rows) == {short, long}  # the same trials, none added
    assert (rows[short]["step"], rows[long]["step"]) == ("8", "40")
    assert all(r["status"] == "done" for r in rows.values())
    # the finished trial was not run again: its Train run's files are untouched, its results the same
    assert snapshot(sweep / "trials" / short) == short_train
    assert tune_results(sweep, short) == short_results
    assert_all_resources_free(ray_local)
