"""cluster.submit builds `ray job submit` arguments: pure functions, no Ray (but Ray's own packaging code
zips a working_dir with the excludes, as `ray job submit` does)."""
from __future__ import annotations

import json
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from cluster.submit import SECRETS, build_submission, native_command, storage_args
from datapipe.main import build_config, parse_args
from raypretrain.config import load
from pretrain.config import PretrainConfig

REPO = Path(__file__).resolve().parents[2]


def ray_package(working_dir: Path, excludes: list[str], zip_path: Path) -> set[str]:
    """The names in the zip Ray uploads for `working_dir`, built by the function JobSubmissionClient calls
    (ray.dashboard.modules.dashboard_sdk), with .gitignore files ignored as RAY_RUNTIME_ENV_IGNORE_GITIGNORE=1
    does. Ray's private API: the only one this file uses."""
    from raypretrain.compat import create_package

    create_package(str(working_dir), zip_path, include_gitignore=False, include_parent_dir=False, excludes=excludes)
    with zipfile.ZipFile(zip_path) as z:
        return set(z.namelist())


def job_argv(entrypoint: str) -> tuple[str, list[str]]:
    python, m, module, *argv = shlex.split(entrypoint)
    assert (python, m) == ("python", "-m")
    return module, argv


def test_entrypoints_are_the_plain_modules():
    for job, module in (("data", "datapipe"), ("pretrain", "pretrain"), ("tune", "tune")):
        entrypoint, _ = build_submission(job, ["--config", "my config.yaml"])
        assert job_argv(entrypoint) == (module, ["--config", "my config.yaml"])  # quoted, round-trips
    with pytest.raises(ValueError, match="unknown job 'train'"):
        build_submission("train", [])


def test_runtime_env_ships_code_not_data():
    _, env = build_submission("pretrain", [], working_dir="/src")
    assert env["working_dir"] == "/src"
    assert {"/outputs", "/data", ".git", "*.npy", ".venv"} <= set(env["excludes"])
    assert env["env_vars"]["PYTHONUNBUFFERED"] == "1"
    _, env = build_submission("data", [], env_vars={"HF_HOME": "/tmp/hf"})
    assert env["env_vars"]["HF_HOME"] == "/tmp/hf" and env["env_vars"]["PYTHONUNBUFFERED"] == "1"


SECRET_FILES = [".env", ".env.production", "deploy.pem", "tls/server.key", ".aws/credentials", ".aws/config",
                ".ssh/id_ed25519", "id_rsa", "id_rsa.pub", "sub/pkg/.env", "sub/pkg/id_ecdsa", "sub/.aws/credentials"]
CODE_FILES = ["cluster/submit.py", "keys.py", "env.py", "sub/pkg/mod.py", "docs/aws.md", "pem.txt", "key/notes.txt"]


def test_the_working_dir_package_ships_no_credentials(tmp_path):
    """Ray's own zip of a working copy holding credentials, with our excludes: code goes, secrets stay."""
    src = tmp_path / "src"
    for name in SECRET_FILES + CODE_FILES:
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text("x")
    (src / ".gitignore").write_text(".env\n*.pem\n")  # ignored here: the excludes alone must hold
    _, env = build_submission("data", [], working_dir=str(src))
    shipped = ray_package(src, env["excludes"], tmp_path / "pkg.zip")
    files = {n for n in shipped if not n.endswith("/")}
    assert files == set(CODE_FILES) | {".gitignore"}, files
    assert not any(n.startswith((".aws", ".ssh", "sub/.aws")) for n in shipped), shipped  # not even empty folders
    # and without the secret patterns, Ray would have shipped every one of them
    everything = ray_package(src, [e for e in env["excludes"] if e not in SECRETS], tmp_path / "all.zip")
    assert set(SECRET_FILES) <= everything


def test_storage_maps_onto_each_jobs_own_options():
    entry, _ = build_submission("data", ["--input", "x.jsonl"], storage="s3://b/run1/")
    assert job_argv(entry)[1] == ["--input", "x.jsonl", "--output", "s3://b/run1/datapipe"]
    entry, _ = build_submission("pretrain", ["--config", "c.yaml"], storage="s3://b/run1")
    assert job_argv(entry)[1] == ["--config", "c.yaml", "--set", "run.storage_path=s3://b/run1/pretrain",
                                  "--set", "data.shards=s3://b/run1/datapipe"]
    entry, _ = build_submission("tune", [], storage="gs://b/r")
    assert job_argv(entry)[1] == ["--set", "storage_path=gs://b/r/tune"]
    entry, _ = build_submission("pretrain", [], storage=None)
    assert job_argv(entry)[1] == []


def test_what_the_user_set_wins():
    assert storage_args("data", ["--output", "s3://other"], "s3://b") == []
    assert storage_args("data", ["--output=s3://other"], "s3://b") == []
    assert storage_args("pretrain", ["--set", "data.shards=s3://x", "--set=run.storage_path=/mnt/runs"], "s3://b") == []
    assert storage_args("pretrain", ["--set", "data.shards=s3://x"], "s3://b") == \
        ["--set", "run.storage_path=s3://b/pretrain"]
    # a key that merely starts like one of ours is not it
    assert "--output" in storage_args("data", ["--output-format", "x"], "s3://b")


def test_the_mapped_options_are_real_options_of_each_job():
    """The overrides must name fields the jobs' configs have, or every submission would fail."""
    entry, _ = build_submission("data", ["--input", "a.jsonl"], storage="s3://b/r")
    assert build_config(parse_args(job_argv(entry)[1])).output == "s3://b/r/datapipe"
    entry, _ = build_submission("pretrain", [], storage="s3://b/r")
    sets = [a for a in job_argv(entry)[1] if a != "--set"]
    cfg = load(PretrainConfig, None, sets)
    assert (cfg.run.storage_path, cfg.data.shards) == ("s3://b/r/pretrain", "s3://b/r/datapipe")
    from tune.config import TuneConfig

    entry, _ = build_submission("tune", [], storage="/mnt/shared")
    assert load(TuneConfig, None, [job_argv(entry)[1][1]]).storage_path == "/mnt/shared/tune"


def test_native_command_is_a_ray_job_submit_that_parses_back():
    entry, env = build_submission("pretrain", ["--set", "train.lr=3e-4"], storage="s3://b/r")
    cmd = native_command("http://127.0.0.1:8265", entry, env, wait=False, submission_id="run-1")
    head, _, tail = cmd.partition(" -- ")
    args = shlex.split(head)
    assert args[:3] == ["ray", "job", "submit"] and "--no-wait" in args
    assert args[args.index("--address") + 1] == "http://127.0.0.1:8265"
    assert args[args.index("--working-dir") + 1] == "."
    assert args[args.index("--submission-id") + 1] == "run-1"
    runtime_env_json = json.loads(args[args.index("--runtime-env-json") + 1])
    assert runtime_env_json == {k: v for k, v in env.items() if k != "working_dir"}
    assert tail == entry


def test_dry_run_prints_the_native_command_and_passes_job_flags_through():
    proc = subprocess.run([sys.executable, "-m", "cluster.submit", "data", "--dry-run", "--address", "http://h:8265",
                           "--storage", "s3://b/r", "--", "--set", "pack.seq_len=64", "--address", "job-owned"],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    line = proc.stdout.strip()
    assert line.startswith("ray job submit --address http://h:8265 ") and line.count("\n") == 0
    assert line.endswith("-- python -m datapipe --set pack.seq_len=64 --address job-owned --output s3://b/r/datapipe")


def test_storage_from_the_environment(monkeypatch):
    monkeypatch.setenv("RAYPRETRAIN_STORAGE", "s3://env/r")
    proc = subprocess.run([sys.executable, "-m", "cluster.submit", "pretrain", "--dry-run"], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "run.storage_path=s3://env/r/pretrain" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "cluster.submit", "fit", "--dry-run"], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "invalid choice: 'fit'" in proc.stderr


def test_an_unreachable_cluster_is_one_line_and_exit_2():
    proc = subprocess.run([sys.executable, "-m", "cluster.submit", "data", "--address", "http://127.0.0.1:9"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    err = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(err) == 1 and err[0].startswith("cluster.submit: error: "), proc.stderr
    assert "ray dashboard cluster.yaml" in err[0]
