"""`python -m pretrain` end to end: the embedded default (sample corpus → datapipe → train →
checkpoint → sample), live mode, and one-line exit-2 errors."""
from __future__ import annotations

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
    """One folder for the module, so the live-mode test reuses the sample shards' tokenizer."""
    return tmp_path_factory.mktemp("work")


def test_embedded_default_trains_below_unigram_entropy_and_samples(ray_local, workdir, monkeypatch, capfd):
    monkeypatch.chdir(workdir)
    assert main(QUICK + ["--set", "train.max_steps=60"]) == 0
    out = capfd.readouterr().out
    done = next(line for line in out.splitlines() if line.startswith("[pretrain] done"))
    val_loss = float(done.split("val loss ")[1].split()[0])
    entropy = float(done.split("unigram entropy of the corpus ")[1].rstrip(")"))
    assert val_loss < entropy - 0.3, done
    sample = next(line for line in out.splitlines() if line.startswith("[pretrain] sample: "))
    assert sample[len("[pretrain] sample: ") + 1:].startswith("The") and len(sample.split()) > 10, sample
    assert "datapipe finished → " in out  # the account of the sample corpus was printed
    assert os.path.isdir(workdir / "runs" / "debug" / "tensorboard")
    assert (workdir / "outputs" / "pretrain-data").is_dir()


def test_live_mode_trains_from_the_raw_stream(ray_local, workdir, monkeypatch, capfd):
    monkeypatch.chdir(workdir)
    assert main(QUICK + ["--set", "train.max_steps=12", "--set", "data.mode=live", "--set", "run.name=live"]) == 0
    out = capfd.readouterr().out
    assert "[pretrain] done: step 12" in out


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
