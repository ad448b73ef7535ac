"""`python -m pretrain` end to end: live mode, and one-line exit-2 errors. The embedded default (sample corpus →
datapipe → train → checkpoint → sample → report) runs from a folder outside the repository, on a terminal, in
tests/test_console_run.py."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from pretrain.main import main

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEBUG = os.path.join(REPO, "configs", "pretrain", "debug.yaml")
QUICK = ["--config", DEBUG, "--set", "data.datapipe.sample_docs=600", "--set", "data.datapipe.actor_num_cpus=0.5",
         "--set", "train.eval_every=30", "--set", "train.checkpoint_every=30", "--set", "train.log_every=10",
         "--set", "run.storage_path=runs"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """One folder for the module (the live-mode test builds the sample shards there, for their tokenizer)."""
    return tmp_path_factory.mktemp("work")


def test_live_mode_trains_from_the_raw_stream_and_resumes_after_consumed_files(ray_local, workdir, monkeypatch,
                                                                                 capfd):
    """Live mode on the sample corpus dealt into 24 files (each file is packed as one block of rows,
    so they are small enough that 8 steps take every rank past a file); a stopped run rerun with a
    larger budget resumes from its checkpoint without reading the files it had fully consumed."""
    import glob

    import yaml

    from pretrain.trainer import ensure_shards

    monkeypatch.chdir(workdir)
    shards = ensure_shards(main_config(QUICK)).data.shards  # for the tokenizer and val blocks (built once)
    lines = open(glob.glob("outputs/sample/corpus-*.jsonl")[0], "rb").read().splitlines(keepends=True)
    os.makedirs("parts", exist_ok=True)
    for i in range(24):
        with open(f"parts/part{i:02d}.jsonl", "wb") as f:
            f.write(b"".join(lines[i::24]))
    cfg = yaml.safe_load(open(DEBUG))
    cfg["data"]["datapipe"]["sources"] = [{"name": "sample", "paths": [os.path.abspath("parts/*.jsonl")]}]
    yaml.safe_dump(cfg, open("live.yaml", "w"))
    args = ["--config", "live.yaml", *QUICK[2:], "--set", "data.mode=live", "--set", f"data.shards={shards}",
            "--set", "run.name=live", "--set", "train.checkpoint_every=4", "--set", "train.record_trace=true"]

    assert main(args + ["--set", "train.max_steps=8"]) == 0
    assert "[pretrain] done: step 8" in capfd.readouterr().out
    assert main(args + ["--set", "train.max_steps=12"]) == 0
    out = capfd.readouterr().out
    assert "[pretrain] done: step 12" in out and "[pretrain] resuming from" in out
    assert "[pretrain] resumed at step 8 " in out
    skipped = json.load(open("runs/live/live_position.json"))["files_done"]  # what the resumed stream was told
    state = max((json.load(open(p)) for p in glob.glob("runs/live/checkpoint_*/state.json")), key=lambda s: s["step"])
    assert state["step"] == 12 and state["files_done"] >= skipped >= 1
    # each rank's trace: per step, the input file of every block it trained on
    first = []
    for path in sorted(glob.glob("runs/live/trace/rank*.jsonl")):
        records = [json.loads(line) for line in open(path)]
        before = [f for r in records if r["step"] < 8 for f in r["pos"]]
        after = [f for r in records if r["step"] >= 8 for f in r["pos"]]
        assert before == sorted(before) and after == sorted(after)  # each rank gets blocks in file order
        assert min(after) >= skipped  # consumed files were not streamed again
        first.append(min(before))
    assert len(first) == 2 and min(first) == 0


def main_config(argv):
    from pretrain.main import build_config, parse_args

    return build_config(parse_args(argv))


@pytest.mark.parametrize("args, message", [
    (["--set", "train.nope=1"], "unknown config key 'train.nope'"),
    (["--set", "model.n_layer=two"], "model.n_layer: expected int"),
    (["--set", "data.shards=/no/such/dir"], "data.shards: no manifest.json in /no/such/dir"),
    (["--config", "/no/such.yaml"], "config file not found: /no/such.yaml"),
    (["--set", "train.global_batch_tokens=1000"], "train.global_batch_tokens: 1000 is not a positive multiple"),
])
def test_bad_input_is_one_line_and_exit_2(args, message, monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("pretrain: error: ") and message in err[0], err


def test_the_exit_code_reaches_the_shell():
    proc = subprocess.run([sys.executable, "-m", "pretrain", "--set", "train.nope=1"], capture_output=True, text=True,
                          cwd=REPO)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.startswith("pretrain: error: unknown config key 'train.nope'") and proc.stderr.count("\n") == 1
