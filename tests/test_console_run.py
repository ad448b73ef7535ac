"""A user's first run, on a terminal: `python -m pretrain` (the embedded default, a short budget) from a
folder outside the repository. It trains below the corpus's unigram entropy and samples words; the console
holds only the lines listed in ALLOWED (Ray's lines about its
own actors are filtered by raypretrain.noise, and stay in Ray's session logs), report.html is written,
and neither the console nor the run's Ray logs show a crash. Then `python -m tune --set trials=2` (a
short budget) in the same folder finishes, its console without a crash either.

The run joins the test session's Ray (RAY_ADDRESS, as `ray job submit` runs a job) instead of starting
a second one on the same two cores; the console filters are the same either way: the driver's own
core worker still writes to its fd 2, and the workers' lines are still forwarded to it."""
from __future__ import annotations

import fcntl
import glob
import os
import re
import select
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

import pytest

from raypretrain import noise

ROOT = Path(__file__).resolve().parents[1]
BUDGET = ["--set", "train.max_steps=60", "--set", "train.eval_every=30", "--set", "train.checkpoint_every=60",
          "--set", "data.datapipe.sample_docs=600", "--set", "data.datapipe.actor_num_cpus=0.5"]
TIMEOUT_S = 300

ALLOWED = {
    "blank": r"\s*",  # Ray Data's progress bars clear their rows with spaces
    "phase header": r"── (data|train|results)\b.* ─+",
    "pretrain message": r"\[pretrain\] .+",
    "datapipe message": r"\[datapipe\] .+",
    "stage line": r"\[[1-5]/5 [\w+ ]+\] .+",
    "account head": r"datapipe finished → \S+",
    "account row": r"  (input docs|kept|dropped|duplicates|rejected|tokens|seconds|cpu busy) +\S.*",
    "account reason": r"    [\w:.-]+ +\d[\d,]*",
    "live line": r"step \d+/\d+ [━─]* ?\s*\d+% \|.*",
    "Ray Data progress bar": (r"(Running Dataset:? dataset_\w+|- \w[\w\->()]*:"  # a dataset's bar, an operator's
                              r"|✔️ +Dataset dataset_\w+ execution finished).*"),
}
"""What the console may show, line by line (ANSI stripped, the live line's redraws split on \\r)."""

CRASH = re.compile(r"SIGABRT|Fatal Python error|Traceback|worker died", re.IGNORECASE)
ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|[@-Z\\-_])")


def around_crash(text: str) -> str:
    """The console around CRASH's first match (the failure message of a crash check)."""
    m = CRASH.search(text)
    return text[max(0, m.start() - 3000):m.end() + 1000] if m else ""


def run_on_a_terminal(cmd: list[str], cwd: Path, env: dict, timeout: float) -> tuple[int, int, str]:
    """(pid, exit code, everything written to the terminal): cmd with a pseudo-terminal (120×40) as its
    stdin, stdout and stderr, read until every process holding it has closed it."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    out, deadline = bytearray(), time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                os.killpg(proc.pid, signal.SIGKILL)  # its own session: the driver and its stderr copier
                proc.wait()
                raise AssertionError(f"no exit after {timeout:.0f} s; the console so far:\n"
                                     + out.decode(errors="replace")[-4000:])
            ready, _, _ = select.select([master], [], [], min(left, 1.0))
            if ready:
                try:
                    chunk = os.read(master, 1 << 16)
                except OSError:  # EIO: the last holder of the terminal closed it
                    break
                if not chunk:
                    break
                out += chunk
    finally:
        os.close(master)
    return proc.pid, proc.wait(timeout=60), out.decode(errors="replace")


def console_lines(text: str) -> list[str]:
    return re.split(r"\r\n|\r|\n", ANSI.sub("", text))


def run_logs(driver_pid: int, since: float) -> tuple[Path, list[Path]]:
    """(the driver's core-worker log, its job's worker logs) in the Ray session the run used."""
    ray_tmp = os.path.join(os.environ.get("RAY_TMPDIR", tempfile.gettempdir()), "ray")
    pattern = os.path.join(ray_tmp, "session_*", "logs", f"python-core-driver-*_{driver_pid}.log")
    # session_latest is a link to the newest session: each log once, by its real path
    drivers = sorted({Path(p).resolve() for p in glob.glob(pattern) if os.path.getmtime(p) >= since})
    assert len(drivers) == 1, f"the run's driver log in {ray_tmp}/session_*/logs: {drivers}"
    job = drivers[0].name[len("python-core-driver-"):][:8]  # the job id's hex
    workers = sorted(drivers[0].parent.glob(f"worker-*-{job}-*.[eo][ru][rt]"))
    assert workers, f"no worker logs of job {job} in {drivers[0].parent}"
    return drivers[0], workers


@pytest.fixture(scope="module")
def user_folder(tmp_path_factory) -> Path:
    """A folder outside the repository, as a user's; the sweep reuses the first run's sample shards."""
    folder = tmp_path_factory.mktemp("user")
    assert not folder.resolve().is_relative_to(ROOT)
    return folder


def user_env(ray_local) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "RAY_DATA_DISABLE_PROGRESS_BARS"}  # a user's defaults
    return env | {"RAY_ADDRESS": ray_local.get_runtime_context().gcs_address, "TERM": "xterm-256color"}


def test_a_first_run_on_a_terminal_shows_only_our_lines(ray_local, user_folder):
    tmp_path, env = user_folder, user_env(ray_local)
    start = time.time()
    pid, code, text = run_on_a_terminal([sys.executable, "-m", "pretrain", *BUDGET], tmp_path, env, TIMEOUT_S)
    seconds = time.time() - start
    assert code == 0, text[-4000:]
    lines, run = console_lines(text), tmp_path / "outputs" / "pretrain" / "debug"
    # it learns: below the corpus's unigram entropy, and the sample is words
    done = next(line for line in lines if line.startswith("[pretrain] done"))
    val_loss = float(done.split("val loss ")[1].split()[0])
    entropy = float(done.split("unigram entropy of the corpus ")[1].rstrip(")"))
    assert val_loss < entropy - 0.3, done
    sample = next(line for line in lines if line.startswith("[pretrain] sample: "))
    assert sample[len("[pretrain] sample: ") + 1:].startswith("The") and len(sample.split()) > 10, sample
    assert any(line.startswith("datapipe finished → ") for line in lines)  # the sample corpus's account
    # the debug preset logs every 25 steps and evaluates every 30 (BUDGET) and at the end
    assert "[pretrain] step 50/60 | loss " in text and "[pretrain] step 60/60 | val loss " in text
    assert f"[pretrain] report: {run / 'report' / 'report.html'}" in text
    assert {"report.html", "loss.png", "documents.png", "tokens.png", "throughput.png"} <= set(os.listdir(run / "report"))
    assert (run / "tensorboard").is_dir() and (tmp_path / "outputs" / "pretrain-data").is_dir()

    allowed = re.compile("|".join(f"(?:{p})" for p in ALLOWED.values()))
    others = [line for line in console_lines(text) if not allowed.fullmatch(line)]
    assert not others, "lines on the console that ALLOWED does not list:\n" + "\n".join(others)
    assert not CRASH.search(text), around_crash(text)

    driver_log, worker_logs = run_logs(pid, start)
    for log in [driver_log, *worker_logs]:
        # less the Ray tracebacks raypretrain.noise names (NOISE_TRACEBACKS, each with its Ray issue)
        crash = CRASH.search("\n".join(noise.without_noise(log.read_text(errors="replace").splitlines())))
        assert crash is None, f"{log}: {crash.group()}"
    # What the console leaves out, Ray's logs keep (ray-project/ray#53727)
    assert any("issues/53727" in log.read_text(errors="replace") for log in [driver_log, *worker_logs]), \
        "Ray no longer logs the constructor-arguments line: drop it from raypretrain.noise.NOISE"
    print(f"the run took {seconds:.0f} s")


def test_a_short_sweep_from_the_same_folder_finishes(ray_local, user_folder):
    # the shipped `debug` sweep, 2 trials of 10 steps; the same sample overrides as BUDGET, so the
    # sample shards the first run built are found again (run alone, it builds them)
    sample = [f"base.overrides.{arg}" if arg.startswith("data.") else arg for arg in BUDGET[-4:]]
    short = ["--set", "trials=2", "--set", "scheduler.grace_period=5", *sample]
    for key, value in {"max_steps": 10, "eval_every": 5, "checkpoint_every": 10, "log_every": 5}.items():
        short += ["--set", f"base.overrides.train.{key}={value}"]
    _, code, text = run_on_a_terminal([sys.executable, "-m", "tune", *short], user_folder, user_env(ray_local),
                                      TIMEOUT_S)
    sweep = user_folder / "outputs" / "tune" / "debug-sweep"
    errors = "".join(f"\n--- {p}\n{p.read_text()[-2000:]}" for p in sorted(sweep.rglob("error.txt")))
    assert code == 0, text[-4000:] + errors
    assert not CRASH.search(text), around_crash(text)
    rows = (sweep / "results.csv").read_text().splitlines()
    assert len(rows) == 1 + 2, rows
    assert (sweep / "best.yaml").is_file() and (sweep / "curves.png").is_file()
    assert "[tune] best: " in text
