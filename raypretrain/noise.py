"""Ray's own console lines that a user can do nothing about: off the console, never out of the logs.

Each entry of NOISE is a line Ray prints about its own actors that cannot be fixed from outside, with
the Ray issue that tracks it; NOISE_TRACEBACKS holds the same for a traceback from a Ray thread.
`quiet_console()` (ray_env.start_ray calls it unless verbose, before it starts or joins Ray) drops
them where they reach the console, in two places:

- the driver's fd 2, where its core worker (C++) writes: `filter_stderr` puts a pipe (a pseudo-terminal
  where fd 2 is a terminal) on fd 2, and a small copier process behind it writes everything to the
  real stderr except NOISE lines;
- the worker lines Ray forwards to the driver (log_to_driver, `(RayTrainWorker pid=…) …`):
  `filter_worker_lines` wraps Ray's driver-side dispatcher of those lines.

Ray's session logs (/tmp/ray/session_*/logs: python-core-driver-*.log, worker-*.err) keep every
line: both filters sit after Ray has written its files. `--verbose` (run.verbose) installs neither.

The copier is a process, not a thread in the driver, so that a driver that dies (SIGABRT from a
failed check, a fatal Python error, os._exit) still gets its last words onto the console: a thread
would die with it and the pipe's unread bytes with them. It outlives a Ctrl-C (it ignores the
terminal's signals), ends at end-of-file when the driver is gone, and a second after the driver is
gone even if an orphan still holds the pipe. Run as a script it imports only the standard library.
"""
from __future__ import annotations

import atexit
import fcntl
import logging
import os
import re
import select
import signal
import subprocess
import sys
import termios

NOISE: dict[str, str] = {
    # ray-project/ray#53727: an actor created with constructor arguments in the object store and
    # max_restarts != 0 makes core_worker.cc log an error. Ray Data always passes its map transformer
    # to its actor pool (MapWorker(...)) as an ObjectRef and sets max_restarts=-1 (actor_pool_map_operator.py),
    # and Ray Train's PreemptionWatcher does the same, so we cannot avoid it without giving up restarts.
    "constructor_args_in_object_store": (r"core_worker\.cc:\d+: Actor with class name: .* has constructor "
                                         r"arguments in the object store and max_restarts > 0"),
    # ray-project/ray#53412, #58544: when Ray Data's actor pool shuts an actor down, the worker exits
    # before it answers the GCS's KillActor call, and that successful kill is logged as an error
    # ("Socket closed": the worker is gone); gcs_server's lines are forwarded to every driver as
    # `(pid=gcs_server)`. #58544 silenced the gcs_actor_manager copy; the gcs_actor_scheduler one remains.
    "kill_actor_socket_closed": (r"gcs_actor_scheduler\.cc:\d+: Failed to kill actor \w+, return status: "
                                 r"Invalid: KillActor RPC failed for actor \w+: RpcError: RPC error: Socket closed"),
    # ray-project/ray#65447 (the same monitor loop): when the state API answers with an error (its
    # dashboard busy or gone: a loaded 2-core machine, the test session's Ray without a dashboard, a
    # cleaner left over from an earlier run), Ray Train's detached PlacementGroupCleaner logs this
    # WARNING once per check interval, forwarded as `(PlacementGroupCleaner pid=…)`, and keeps going.
    # The run is unaffected; the cleaner only matters when a Train controller dies ungracefully.
    "placement_group_cleaner_state_api_warning": (r"Failed to query Ray Train Controller actor( \w+)? state\. "
                                                  r"State API may be temporarily unavailable\. Continuing to monitor"),
}
"""name → a regex searched in each console line; a match drops the line from the console only."""

NOISE_TRACEBACKS: dict[str, tuple[str, str, str]] = {
    # ray-project/ray#65447 (open; adds ConnectionError to the except): Ray Train's detached
    # PlacementGroupCleaner asks the state API every few seconds whether the Train controller is alive,
    # and its monitor thread catches only RayStateApiException. The state API raises ConnectionError
    # when more than one Ray runs on the machine (it finds its cluster by looking for GCS processes),
    # and ValueError when the cluster has no dashboard (the test session's Ray), so the thread dies with
    # a traceback forwarded as `(PlacementGroupCleaner pid=…)`. The cleaner only matters when a controller
    # dies on a long-lived cluster, where neither holds; the run itself is unaffected.
    "placement_group_cleaner_state_api": (
        r"Exception in thread PlacementGroupCleanerMonitor:",
        r"ConnectionError: (Found multiple active Ray instances|Could not find any running Ray instance)"
        r"|ValueError: Couldn't obtain the API server address from GCS", ""),
    # Ray's worker SIGTERM handler (ray/_private/worker.py sigterm_handler, which raises SystemExit; Ray
    # workers honour SIGTERM since ray-project/ray#40210; no open issue for this print): when Tune ends a
    # finished sweep's trial actors, the signal can land inside a weakref callback, and Python prints
    # "Exception ignored in: <function WeakSet…_remove>" with the SystemExit. The actor was exiting anyway.
    "sigterm_in_a_callback": (
        r"Exception ignored in: .*",
        r"SystemExit: \d+$",
        r"in sigterm_handler"),
}
"""name → (the line a traceback starts with, what its last line, the exception, starts with, and a
regex its frames must contain, "" for any): a traceback from Ray's own code that goes from the
console as a whole, and only with that exception."""

_FRAME = re.compile(r"Traceback \(most recent call last\):|\s.*|")  # frames, their code and carets

_installed: dict[str, object] = {}  # what this process installed: "stderr" → (copier, real fd 2), "worker_lines"


def pattern() -> str:
    return "|".join(f"(?:{p})" for p in NOISE.values())


def is_noise(line: str) -> bool:
    return re.search(pattern(), line) is not None


def without_noise(lines: list[str]) -> list[str]:
    """lines without the NOISE lines and the NOISE_TRACEBACKS tracebacks (one worker's lines, in order)."""
    kept, i = [], 0
    while i < len(lines):
        if is_noise(lines[i]):
            i += 1
            continue
        end = _noise_traceback_end(lines, i)
        if end is None:
            kept.append(lines[i])
            i += 1
        else:
            i = end
    return kept


def _noise_traceback_end(lines: list[str], i: int) -> int | None:
    """Where the NOISE_TRACEBACKS traceback that starts at lines[i] ends (the index after its
    exception line), or None: not one, another exception, or not all of it in `lines`."""
    for start, exception, inside in NOISE_TRACEBACKS.values():
        if re.fullmatch(start, lines[i]):
            j = i + 1
            while j < len(lines) and _FRAME.fullmatch(lines[j]):
                j += 1
            if j < len(lines) and re.match(exception, lines[j]) and re.search(inside, "\n".join(lines[i:j])):
                return j + 1
    return None


def quiet_console() -> None:
    """Before ray.init: the console without NOISE, and without Ray's token-authentication notice."""
    from raypretrain import compat  # the stderr copier runs this file as a script with only the standard library

    # "Token authentication is enabled for this Ray cluster…" (WARNING, at every ray.init that starts
    # a local Ray): the local Ray is the one we start here, token authentication on is Ray's safe
    # default, and there is nothing to act on. Joining a cluster (RAY_ADDRESS) logs nothing there.
    # ERROR and above still show; a level the user set is kept.
    token = logging.getLogger(compat.RAY_TOKEN_AUTH_LOGGER)
    if token.level == logging.NOTSET:
        token.setLevel(logging.ERROR)
    filter_worker_lines()
    filter_stderr()


def filter_worker_lines() -> None:
    """Drop NOISE and NOISE_TRACEBACKS from the worker lines Ray forwards to this driver (before its
    dedup, so no "[repeated 2x across cluster]" summary of them either). Each batch holds one worker's
    lines as they were read from its log file, so a traceback comes whole."""
    from raypretrain import compat  # as in quiet_console: the copier script imports only the standard library

    if "worker_lines" in _installed:
        return
    dispatcher = compat.stdstream_dispatcher
    emit = dispatcher.emit

    def emit_without_noise(data: dict) -> None:
        lines = data.get("lines") or []
        kept = without_noise(lines)
        if len(kept) != len(lines):
            if not kept:
                return
            data = {**data, "lines": kept}
        emit(data)

    dispatcher.emit = emit_without_noise
    _installed["worker_lines"] = emit


def filter_stderr() -> bool:
    """Put a pipe (a pseudo-terminal, where fd 2 is a terminal) on this process's fd 2 and a copier
    process behind it that writes everything to the real stderr except NOISE lines. False (and
    nothing changed) where it cannot start."""
    if "stderr" in _installed:
        return True
    try:
        sys.stderr.flush()
    except (AttributeError, ValueError, OSError):
        pass
    try:
        real = os.dup(2)
    except OSError:  # no fd 2 at all
        return False
    read_end, write_end = _channel(real)
    try:
        copier = subprocess.Popen([sys.executable, "-I", "-S", os.path.abspath(__file__), str(os.getpid()), pattern()],
                                  stdin=read_end, stdout=real, stderr=real, close_fds=True)
    except OSError:
        for fd in (real, read_end, write_end):
            os.close(fd)
        return False
    os.close(read_end)
    os.dup2(write_end, 2)
    os.close(write_end)
    _installed["stderr"] = (copier, real)
    atexit.register(restore_stderr)
    return True


def _channel(real: int) -> tuple[int, int]:
    """(read end, write end) for the new fd 2: where the real one is a terminal, a pseudo-terminal of
    its size, so that fd 2 stays a terminal (tqdm sizes Ray Data's progress bars to it; a pipe would
    let them run wider than the screen and break their redraws); a pipe otherwise."""
    if not os.isatty(real):
        return os.pipe()
    master, slave = os.openpty()
    attrs = termios.tcgetattr(slave)
    attrs[1] &= ~termios.OPOST  # bytes through as written: the real terminal does its own \n → \r\n
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    _same_size(real, master)
    return master, slave


def _same_size(real: int, master: int) -> None:
    try:
        fcntl.ioctl(master, termios.TIOCSWINSZ, fcntl.ioctl(real, termios.TIOCGWINSZ, b"\0" * 8))
    except OSError:  # not terminals (the pipe case)
        pass


def restore_stderr(timeout: float = 5.0) -> None:
    """fd 2 back to the real stderr, once the copier has written out everything sent before (at
    exit, so the shell's prompt never comes before the last lines)."""
    if "stderr" not in _installed:
        return
    copier, real = _installed.pop("stderr")
    try:
        sys.stderr.flush()
    except (AttributeError, ValueError, OSError):
        pass
    os.dup2(real, 2)  # closes this process's write end of the pipe: the copier reads to its end
    os.close(real)
    try:
        copier.wait(timeout)
    except subprocess.TimeoutExpired:  # a child still holds the pipe: the copier ends on its own
        pass


def _copy(parent: int, noise: re.Pattern) -> None:
    """The copier: stdin (the pipe) to stdout (the real stderr), without the lines noise matches."""
    # Ctrl-C, a hang-up or a TERM sent to the process group would end the copier before the driver's
    # last lines (its traceback) are through; it ends at end-of-file, or when the driver is gone.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_IGN)
    signal.signal(signal.SIGWINCH, lambda *_: _same_size(1, 0))  # the window was resized: so is fd 2
    sink = [True]

    def write(data: bytes) -> None:
        while data and sink[0]:
            try:
                data = data[os.write(1, data):]
            except OSError:  # the terminal is gone: keep reading so the driver never blocks or gets EPIPE
                sink[0] = False

    pending = b""
    while True:
        ready, _, _ = select.select([0], [], [], 0.05 if pending else 1.0)
        if not ready:
            if pending:  # a line without its newline (a prompt, a progress bar) waited long enough
                write(pending)
                pending = b""
            elif os.getppid() != parent:  # the driver is gone; an orphan it started holds the pipe
                return
            continue
        try:
            chunk = os.read(0, 1 << 16)
        except OSError:  # EIO: a pseudo-terminal's last writer closed it
            chunk = b""
        if not chunk:
            break
        *lines, pending = (pending + chunk).split(b"\n")
        out = []
        for line in lines:
            redraws, cr, last = line.rpartition(b"\r")
            # a noise line goes with its newline; a progress bar's redraws before it on the same line stay
            out.append(redraws + cr if noise.search(last) else line + b"\n")
        redraws, cr, pending = pending.rpartition(b"\r")  # a bar redrawn in place goes out at once
        write(b"".join(out) + redraws + cr)
        if len(pending) > 1 << 16:
            write(pending)
            pending = b""
    write(pending)


if __name__ == "__main__":
    _copy(int(sys.argv[1]), re.compile(sys.argv[2].encode()))
