"""raypretrain.ray_env and raypretrain.noise: Ray's lines about its own actors leave the console (the
driver's fd 2, and the worker lines Ray forwards), everything else goes through untouched, even a
dying process's last words, and --verbose keeps them all."""
from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import tempfile
import textwrap

import pytest

from raypretrain import compat, noise

# As Ray 2.60 prints them (ray-project/ray#53727; #53412, #58544)
CONSTRUCTOR = ("[2026-12-01 22:55:14,364 E 30633 30633] core_worker.cc:2465: Actor with class name: "
               "'MapWorker(MapBatches(Ingest))' and ID: '83c3d6413928b07c284f05af01000000' has constructor "
               "arguments in the object store and max_restarts > 0. If the arguments in the object store go out "
               "of scope or are lost, the actor restart will fail. "
               "See https://github.com/ray-project/ray/issues/53727 for more details.")
KILL = ("[2026-12-01 23:09:19,464 E 12030 12030] (gcs_server) gcs_actor_scheduler.cc:538: Failed to kill actor "
        "47ca3299ab512c5ed6d006eb01000000, return status: Invalid: KillActor RPC failed for actor "
        "47ca3299ab512c5ed6d006eb01000000: RpcError: RPC error: Socket closed rpc_code: 14")

# CI, 2026-12-01: the session's Ray (no dashboard) under load, once per check interval
CLEANER_WARNING = ("(PlacementGroupCleaner pid=12964) Failed to query Ray Train Controller actor state. "
                   "State API may be temporarily unavailable. Continuing to monitor.")


def test_noise_is_rays_lines_about_its_own_actors_and_nothing_else():
    assert noise.is_noise(CONSTRUCTOR) and noise.is_noise(KILL) and noise.is_noise(CLEANER_WARNING)
    assert noise.is_noise(CONSTRUCTOR.replace("MapWorker(MapBatches(Ingest))", "PreemptionWatcher"))
    for ours in ("[pretrain] step 20/40 | val loss 6.369 | val ppl 583.4", "[1/5 read+clean] 600 docs read",
                 "Traceback (most recent call last):", KILL.replace("Socket closed", "Deadline Exceeded"),
                 "[2026-12-01 22:55:14,364 E 30633 30633] core_worker.cc:2465: Actor with class name: 'A' failed",
                 "(PlacementGroupCleaner pid=12964) Failed to clean up placement group: timeout"):
        assert not noise.is_noise(ours), ours


CLEANER = """Exception in thread PlacementGroupCleanerMonitor:
Traceback (most recent call last):
  File "/x/ray/train/v2/_internal/execution/controller/placement_group_cleaner.py", line 80, in _monitor_loop
    alive = is_actor_alive(
            ^^^^^^^^^^^^^^^

  File "/x/ray/_private/services.py", line 759, in canonicalize_bootstrap_address_or_die
    raise ConnectionError(
ConnectionError: Found multiple active Ray instances: {'192.0.2.2:41015', '192.0.2.2:43153'}.""".splitlines()


# CI-like run, 2026-12-02: a finished sweep's trial actor getting Tune's SIGTERM inside a weakref callback
SIGTERM_IN_A_CALLBACK = [
    "Exception ignored in: <function WeakSet.__init__.<locals>._remove at 0x7f9cbbaa63e0>",
    "Traceback (most recent call last):",
    '  File "/root/.pyenv/versions/3.11.7/lib/python3.11/_weakrefset.py", line 39, in _remove',
    "    def _remove(item, selfref=ref(self)):",
    "",
    '  File "/tmp/venv/lib/python3.11/site-packages/ray/_private/worker.py", line 1063, in sigterm_handler',
    "    raise_sys_exit_with_custom_error_message(",
    '  File "python/ray/_raylet.pyx", line 712, in ray._raylet.raise_sys_exit_with_custom_error_message',
    "SystemExit: 1"]


def test_rays_sigterm_exit_in_a_callback_goes_and_any_other_ignored_exception_stays():
    assert noise.without_noise(["before", *SIGTERM_IN_A_CALLBACK, "after"]) == ["before", "after"]
    elsewhere = [line.replace("sigterm_handler", "handler") for line in SIGTERM_IN_A_CALLBACK]
    assert noise.without_noise(elsewhere) == elsewhere  # a SystemExit not from Ray's handler: shown
    other = [*SIGTERM_IN_A_CALLBACK[:-1], "KeyError: 'x'"]
    assert noise.without_noise(other) == other


def test_a_known_ray_traceback_goes_whole_and_only_with_its_exception():
    assert noise.without_noise(["before", *CLEANER, "after"]) == ["before", "after"]
    other = [*CLEANER[:-1], "KeyError: 'pg'"]  # a failure we do not know: shown
    assert noise.without_noise(other) == other
    assert noise.without_noise(CLEANER[:-1]) == CLEANER[:-1]  # not all of it: shown
    another_thread = ["Exception in thread other:", *CLEANER[1:]]
    assert noise.without_noise(another_thread) == another_thread


WRITER = textwrap.dedent("""
    import os, sys, time
    from raypretrain import noise
    assert noise.filter_stderr()
    print("isatty", os.isatty(2), flush=True)
    os.write(2, b"one\\n" + sys.argv[1].encode() + b"\\ntwo\\n")
    print("from python", file=sys.stderr)
    os.write(2, b"\\rbar 1\\rbar 2")
    time.sleep(0.2)
    os.write(2, b"\\rbar 3\\r" + sys.argv[1].encode() + b"\\nlast words")
    os.abort()
""")


def test_the_stderr_filter_drops_noise_keeps_the_rest_and_a_dying_processs_last_words():
    done = subprocess.run([sys.executable, "-c", WRITER, CONSTRUCTOR], capture_output=True, timeout=60)
    assert done.returncode == -6  # SIGABRT: the copier, a process of its own, still wrote everything out
    assert done.stdout == b"isatty False\n"
    assert done.stderr == b"one\ntwo\nfrom python\n\rbar 1\rbar 2\rbar 3\rlast words"


def test_on_a_terminal_fd_2_stays_a_terminal_of_the_same_size():
    import fcntl
    import struct
    import termios

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 111, 0, 0))
    code = ("import os, sys; from raypretrain import noise; noise.filter_stderr(); "
            "print(os.isatty(2), tuple(os.get_terminal_size(2)), file=sys.stderr)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    out = b""
    while select.select([master], [], [], 30)[0]:
        try:
            chunk = os.read(master, 1024)
        except OSError:  # EIO: closed by every process
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert proc.wait(timeout=30) == 0
    assert out == b"True (111, 33)\r\n"  # one \r\n: the outer terminal's own, no second from the inner one


def test_forwarded_worker_lines_lose_the_noise_only(monkeypatch):
    dispatcher = compat.stdstream_dispatcher
    monkeypatch.setattr(dispatcher, "emit", dispatcher.emit)  # restored after the test
    monkeypatch.setattr(noise, "_installed", {})
    got = []
    dispatcher.add_handler("test-noise", got.append)
    try:
        noise.filter_worker_lines()
        noise.filter_worker_lines()  # once only
        batch = {"ip": "1.2.3.4", "pid": 7, "actor_name": "RayTrainWorker", "is_err": True}
        dispatcher.emit(batch | {"lines": [CONSTRUCTOR, "(kept) a real error", CONSTRUCTOR]})
        dispatcher.emit(batch | {"pid": "gcs_server", "lines": [KILL]})
        dispatcher.emit(batch | {"actor_name": "PlacementGroupCleaner", "lines": CLEANER})
        dispatcher.emit(batch | {"lines": ["untouched"]})
    finally:
        dispatcher.remove_handler("test-noise")
    assert [b["lines"] for b in got] == [["(kept) a real error"], ["untouched"]]
    assert got[0]["actor_name"] == "RayTrainWorker"


DRIVER = textwrap.dedent("""
    import logging, sys, time
    import numpy as np
    import ray
    from raypretrain import compat
    from raypretrain.ray_env import start_ray

    start_ray(verbose=sys.argv[1] == "verbose")
    print("token notice level", logging.getLogger(compat.RAY_TOKEN_AUTH_LOGGER).level, flush=True)

    @ray.remote(num_cpus=0, max_restarts=1)
    class Holder:  # its argument lives in the object store: the core worker logs ray-project/ray#53727
        def __init__(self, arg):
            pass

        def ping(self):
            return "pong"

    @ray.remote(num_cpus=0)
    class Maker:  # the same, from a worker: forwarded to the driver as "(Maker pid=…) …"
        def make(self):
            self.held = Holder.remote(ray.put(np.zeros(8)))
            return ray.get(self.held.ping.remote())

    holder = Holder.remote(ray.put(np.zeros(8)))
    print(ray.get(holder.ping.remote()), ray.get(Maker.remote().make.remote()), flush=True)
    time.sleep(2)  # the worker's lines reach the driver
""")


@pytest.mark.parametrize("mode", ["default", "verbose"])
def test_start_ray_keeps_rays_noise_off_the_console_unless_verbose(ray_local, mode):
    # a driver of its own on the session's Ray, as `ray job submit` runs one
    env = dict(os.environ, RAY_ADDRESS=ray_local.get_runtime_context().gcs_address)
    done = subprocess.run([sys.executable, "-c", DRIVER, mode], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "pong pong" in done.stdout
    console = done.stdout + done.stderr
    if mode == "verbose":
        assert "token notice level 0" in done.stdout
        assert any(noise.is_noise(line) and "(Maker pid=" in line for line in console.splitlines()), console
        assert any(noise.is_noise(line) and "(Maker pid=" not in line for line in console.splitlines()), console
    else:
        assert "token notice level 40" in done.stdout
        assert not any(noise.is_noise(line) for line in console.splitlines()), console


def test_progress_bars_off_without_a_terminal_and_rays_notice_about_it_too(ray_local, capsys):
    import logging

    import ray.data

    from raypretrain.ray_env import data_progress_bars

    bars = logging.getLogger(compat.RAY_DATA_PROGRESS_LOGGER)
    assert bars.level == logging.NOTSET
    with data_progress_bars():  # pytest's captured stdout is not a terminal
        assert ray.data.DataContext.get_current().enable_progress_bars is False
        assert not bars.isEnabledFor(logging.WARNING) and bars.isEnabledFor(logging.ERROR)
    assert bars.level == logging.NOTSET
    bars.setLevel(logging.INFO)  # a level the user set is kept
    try:
        with data_progress_bars():
            assert bars.level == logging.INFO
    finally:
        bars.setLevel(logging.NOTSET)


def test_a_local_rays_workers_know_its_address_with_a_second_ray_on_the_machine(ray_local):
    """init_local (which the session's Ray uses too) exports RAY_ADDRESS to the Ray it starts, and
    only there: a worker resolves an address-less state-API lookup (what Ray Train's
    PlacementGroupCleaner does) to its own cluster even while a second Ray runs on the machine,
    where Ray's autodetection raises "Found multiple active Ray instances"."""
    assert "RAY_ADDRESS" not in os.environ and "RAY_GCS_SERVER_PORT" not in os.environ
    # a second local Ray on the machine, in its own process, ended by closing its stdin
    short = tempfile.mkdtemp(prefix="rt", dir="/tmp")  # Ray's socket paths live below it (107 bytes at most)
    other = subprocess.Popen([sys.executable, "-c", SECOND_RAY], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True, env=dict(os.environ, RAY_TMPDIR=short))
    try:
        assert other.stdout.readline().strip() == "up"

        @ray_local.remote(num_cpus=0)
        def resolve() -> tuple:
            return os.environ.get("RAY_ADDRESS"), compat.canonicalize_bootstrap_address_or_die(None)

        named, found = ray_local.get(resolve.remote())
        assert named == found == ray_local.get_runtime_context().gcs_address
    finally:
        other.stdin.close()
        other.wait(timeout=60)
        shutil.rmtree(short, ignore_errors=True)


SECOND_RAY = """
import sys, ray
ray.init(address="local", num_cpus=0, include_dashboard=False)
print("up", flush=True)
sys.stdin.read()
ray.shutdown()
"""
