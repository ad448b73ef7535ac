"""`python -m cluster.submit {data|pretrain|tune} [job args…]`: submit a job to a Ray cluster.

    ray dashboard cluster.yaml &                        # tunnel: the job API on http://127.0.0.1:8265
    python -m cluster.submit data --storage s3://bucket/run1 --input 's3://bucket/raw/*.jsonl.zst'
    python -m cluster.submit pretrain --storage s3://bucket/run1 --config configs/pretrain/124m.yaml
    python -m cluster.submit tune --no-wait --config configs/tune/lr.yaml

A thin layer over `ray job submit`: it ships this folder as the job's working_dir (without data,
outputs, checkpoints, virtualenvs, .git, or credentials: .env*, *.pem, *.key, .aws/, .ssh/, SSH keys),
sets a few environment variables, points the job's outputs at one storage URI, and prints the
equivalent plain `ray job submit` command before running it. Every argument it does not know goes to the job unchanged.

Storage (`--storage URI`, or RAYPRETRAIN_STORAGE) is set once and mapped onto each job's own
options, unless the job arguments already set them:
    data       --output URI/datapipe
    pretrain   --set run.storage_path=URI/pretrain  --set data.shards=URI/datapipe
    tune       --set storage_path=URI/tune
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shlex
import sys
import time

logger = logging.getLogger("cluster")

JOBS = {"data": "datapipe", "pretrain": "pretrain", "tune": "tune"}
DEFAULT_ADDRESS = "http://127.0.0.1:8265"  # where `ray dashboard cluster.yaml` forwards the job API
SECRETS = [".env", ".env.*", "*.pem", "*.key", ".aws/", ".ssh/", "id_rsa*", "id_ed25519*", "id_ecdsa*"]
"""Credentials a working copy may hold (at any depth): never shipped to the cluster, whatever .gitignore says
(RAY_RUNTIME_ENV_IGNORE_GITIGNORE=1 makes Ray ignore it). cluster.yaml's rsync_exclude lists them too."""
EXCLUDES = [".git", ".venv", "venv", "/outputs", "/data", "/runs", "**/__pycache__", "*.egg-info", ".pytest_cache",
            ".benchmarks", "*.npy", "*.pt", "*.safetensors", "*.bin", "*.zst", "*.gz", "*.parquet", *SECRETS]
"""Never uploaded with the code: the working_dir is capped at a few hundred MiB and re-sent per job, and
secrets stay on this machine."""
ENV_VARS = {"PYTHONUNBUFFERED": "1",                # job logs stream line by line
            "RAY_DATA_DISABLE_PROGRESS_BARS": "1"}  # progress bars are noise in `ray job logs`


def _sets(args: list[str], key: str) -> bool:
    """Whether the job arguments already set `key` with `--set key=…`."""
    values = [b for a, b in zip(args, args[1:]) if a == "--set"] + [a[6:] for a in args if a.startswith("--set=")]
    return any(v.partition("=")[0].strip() == key for v in values)


def _has_flag(args: list[str], flag: str) -> bool:
    return any(a == flag or a.startswith(flag + "=") for a in args)


def storage_args(job: str, args: list[str], storage: str) -> list[str]:
    """The job arguments that send its outputs under `storage`, except those `args` already set."""
    root = storage.rstrip("/")
    extra: list[str] = []
    if job == "data" and not _has_flag(args, "--output"):
        extra += ["--output", f"{root}/datapipe"]
    wanted = {"pretrain": {"run.storage_path": f"{root}/pretrain", "data.shards": f"{root}/datapipe"},
              "tune": {"storage_path": f"{root}/tune"}}.get(job, {})
    for key, value in wanted.items():
        if not _sets(args, key):
            extra += ["--set", f"{key}={value}"]
    return extra


def build_submission(job: str, args: list[str], storage: str | None = None, working_dir: str = ".",
                     env_vars: dict[str, str] | None = None) -> tuple[str, dict]:
    """(entrypoint, runtime_env) for `ray job submit`: `python -m <module> args…` and the code,
    excludes and environment it runs with. Pure: no Ray, no cluster."""
    if job not in JOBS:
        raise ValueError(f"unknown job {job!r}; one of {', '.join(JOBS)}")
    argv = list(args) + (storage_args(job, list(args), storage) if storage else [])
    entrypoint = shlex.join(["python", "-m", JOBS[job], *argv])
    runtime_env = {"working_dir": working_dir, "excludes": list(EXCLUDES), "env_vars": {**ENV_VARS, **(env_vars or {})}}
    return entrypoint, runtime_env


def native_command(address: str, entrypoint: str, runtime_env: dict, wait: bool = True,
                   submission_id: str | None = None) -> str:
    """The plain `ray job submit` command line that does what `submit` does."""
    rest = {k: v for k, v in runtime_env.items() if k != "working_dir"}
    parts = ["ray", "job", "submit", "--address", address, "--working-dir", runtime_env["working_dir"],
             "--runtime-env-json", json.dumps(rest, separators=(",", ":"))]
    if submission_id:
        parts += ["--submission-id", submission_id]
    if not wait:
        parts.append("--no-wait")
    return shlex.join(parts) + " -- " + entrypoint


def submit(address: str, entrypoint: str, runtime_env: dict, wait: bool = True,
           submission_id: str | None = None) -> tuple[str, str]:
    """Submit; with `wait`, stream the job's logs until it ends. Returns (submission id, status)."""
    from ray.job_submission import JobSubmissionClient  # heavy (~0.6 s with ray): --help and --dry-run go without it

    client = JobSubmissionClient(address)
    job_id = client.submit_job(entrypoint=entrypoint, runtime_env=runtime_env, submission_id=submission_id)
    logger.info(f"[cluster.submit] submitted {job_id}; logs: ray job logs --address {address} --follow {job_id}")
    if not wait:
        return job_id, client.get_job_status(job_id).value

    async def tail() -> None:
        async for lines in client.tail_job_logs(job_id):
            print(lines, end="", flush=True)

    asyncio.run(tail())
    status = client.get_job_status(job_id)
    while not status.is_terminal():  # the log stream can end a moment before the status does
        time.sleep(0.5)
        status = client.get_job_status(job_id)
    return job_id, status.value


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    p = argparse.ArgumentParser(prog="python -m cluster.submit", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    p.add_argument("job", choices=list(JOBS), help="data (python -m datapipe), pretrain or tune")
    p.add_argument("--address", default=None,
                   help=f"the job API (default: RAY_API_SERVER_ADDRESS, RAY_ADDRESS, then {DEFAULT_ADDRESS})")
    p.add_argument("--storage", default=os.environ.get("RAYPRETRAIN_STORAGE"), metavar="URI",
                   help="shared storage for outputs, e.g. s3://bucket/prefix (default: RAYPRETRAIN_STORAGE)")
    p.add_argument("--working-dir", default=".", help="code folder shipped to the cluster (default: .)")
    p.add_argument("--submission-id", default=None, help="job id (default: Ray picks one)")
    p.add_argument("--no-wait", action="store_true", help="return after submitting instead of following the logs")
    p.add_argument("--dry-run", action="store_true", help="print the ray job submit command, submit nothing")
    return p.parse_known_args(argv)


def main(argv: list[str] | None = None) -> int:
    ns, job_args = parse_args(argv)
    if "--" in job_args:  # `… pretrain --no-wait -- --set …`: argparse leaves the separator in
        job_args.remove("--")
    address = (ns.address or os.environ.get("RAY_API_SERVER_ADDRESS") or os.environ.get("RAY_ADDRESS")
               or DEFAULT_ADDRESS)
    entrypoint, runtime_env = build_submission(ns.job, job_args, ns.storage, ns.working_dir)
    print(native_command(address, entrypoint, runtime_env, not ns.no_wait, ns.submission_id), flush=True)
    if ns.dry_run:
        return 0
    from ray.exceptions import AuthenticationError  # imports ray (~0.4 s): not before --dry-run has returned
    from raypretrain.console import setup  # imports ray too, as above

    setup()

    try:
        job_id, status = submit(address, entrypoint, runtime_env, not ns.no_wait, ns.submission_id)
    except ConnectionError as e:
        print(f"cluster.submit: error: {e} Is the tunnel up (ray dashboard cluster.yaml), or --address right?",
              file=sys.stderr)
        return 2
    except AuthenticationError as e:
        print(f"cluster.submit: error: {str(e).splitlines()[0]} (the cluster wants its token: export "
              "RAY_AUTH_MODE=token, with the token in ~/.ray/auth_token or RAY_AUTH_TOKEN)", file=sys.stderr)
        return 2
    logger.info(f"[cluster.submit] {job_id}: {status}")
    return 0 if status in ("SUCCEEDED", "PENDING", "RUNNING") else 1


if __name__ == "__main__":
    sys.exit(main())
