"""Training progress on the driver: rank 0's messages, and one live line that updates in place.

Rank 0 sends each step's numbers and its messages (the `log_every` lines, resume notices) to a
small `Board` actor that the driver creates for the run (0 CPUs). A thread on the driver polls it,
prints each message as a line and, on a terminal, redraws the live line under them:

    step 120/300 ━━━━━━━━━━━━──────────────────  40% | loss 4.213 | val 4.402 | 14.1k tok/s | ETA 0m31s

Without a terminal (`ray job logs`, CI, a pipe) there is no live line, only the messages. Without a
board (a Tune trial's workers) `say` writes to the worker's stdout, which Ray forwards.
`quiet_libraries` and `no_stdout_prints` keep library chatter off that console in the workers.
"""
from __future__ import annotations

import contextlib
import shutil
import sys
import threading
import uuid

import ray

from raypretrain import compat

_board = None  # this process's handle on the driver's Board, once attach() found it


@ray.remote(num_cpus=0)
class Board:
    """What rank 0 last said: the newest step and the messages not yet shown."""

    def __init__(self):
        self.state: dict | None = None
        self.lines: list[str] = []

    def step(self, state: dict) -> None:
        self.state = {**(self.state or {}), **state}

    def say(self, line: str) -> None:
        self.lines.append(line)

    def ping(self) -> None:
        """Answered after every call sent before it (calls from one process run in order)."""

    def take(self) -> tuple[dict | None, list[str]]:
        lines, self.lines = self.lines, []
        return self.state, lines


def attach(name: str | None) -> None:
    """In a worker: send say() and step() to the driver's board `name` (None: print instead)."""
    global _board
    _board = ray.get_actor(name) if name else None


def say(line: str) -> None:
    """A message for the driver's console."""
    if _board is not None:
        _board.say.remote(line)
    else:  # straight to the process's stdout: Ray Train's patched print() would log it twice
        sys.__stdout__.write(line + "\n")
        sys.__stdout__.flush()


def step(**state) -> None:
    """The live line's numbers: step, total, loss, tok_s, eta (seconds), val."""
    if _board is not None:
        _board.step.remote(state)


def flush() -> None:
    """Wait until the board has everything sent so far (calls from one process arrive in order)."""
    if _board is not None:
        ray.get(_board.ping.remote())


def live_line(state: dict, width: int) -> str:
    """`step s/t <bar> p% | loss … | val … | … tok/s | ETA …`, cut to `width` columns."""
    s, t = state["step"], max(state["total"], 1)
    parts = [f"loss {state['loss']:.3f}" if "loss" in state else "",
             f"val {state['val']:.3f}" if "val" in state else "",
             f"{state['tok_s'] / 1e3:.1f}k tok/s" if "tok_s" in state else "",
             f"ETA {clock(state['eta'])}" if "eta" in state else ""]
    tail = f"{100 * s // t:3d}% | " + " | ".join(p for p in parts if p)
    head = f"step {s}/{t} "
    room = width - len(head) - len(tail) - 2
    bar = min(30, room) if room >= 10 else 0  # a narrow terminal drops the bar
    done = bar * s // t
    return (head + ("━" * done + "─" * (bar - done) + " " if bar else "") + tail)[:width - 1]


def clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds // 60 % 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


def board_name() -> str:
    return f"pretrain-progress-{uuid.uuid4().hex[:12]}"


class Display:
    """The driver side: `name = board_name(); trainer = build_trainer(…, progress=name)`, then
    `with Display(name): trainer.fit()`."""

    def __init__(self, name: str, stream=None, every: float = 0.25):
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty()
        self.every = every
        self.board = Board.options(name=name).remote()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="progress", daemon=True)
        self._drawn, self._last = False, None

    def __enter__(self) -> Display:
        ray.get(self.board.take.remote())  # the actor is up before any worker looks for it
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        try:
            self.poll()
            ray.kill(self.board)
        except ray.exceptions.RayError:  # Ray went down with the run: keep the run's own error in front
            pass
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.poll()
            except ray.exceptions.RayError:  # the board is gone: nothing more to show
                return

    def poll(self) -> None:
        state, lines = ray.get(self.board.take.remote())
        redraw = self.live and state is not None and "step" in state and (lines or state != self._last)
        if not lines and not redraw:
            return
        out = ("\r\x1b[K" if self._drawn else "") + "".join(line + "\n" for line in lines)
        self._drawn = False
        if redraw:
            out += live_line(state, shutil.get_terminal_size().columns)
            self._drawn, self._last = True, state
        self.stream.write(out)
        self.stream.flush()


@contextlib.contextmanager
def no_stdout_prints():
    """Drop library print()s to stdout for a while (Ray Train routes print() through its logger,
    so contextlib.redirect_stdout alone would not catch them); stderr prints still show."""
    import builtins

    saved = builtins.print

    def print_(*args, file=None, **kwargs):
        if file not in (None, sys.stdout):
            saved(*args, file=file, **kwargs)

    builtins.print = print_
    try:
        yield
    finally:
        builtins.print = saved


def quiet_libraries() -> None:
    """In a worker: only warnings from DeepSpeed and Ray Data, and no library deprecation notices."""
    import logging
    import warnings

    # context.py logs "Reporting training result …" at INFO under a logger named by its file path
    for name in ("DeepSpeed", "ray.data", "ray.train", compat.train_context.__file__):
        logging.getLogger(name).setLevel(logging.WARNING)
    # "Progress bars disabled": we turned them off on purpose (the driver shows training progress)
    logging.getLogger(compat.RAY_DATA_PROGRESS_LOGGER).setLevel(logging.ERROR)
    for category in (FutureWarning, DeprecationWarning, UserWarning):
        warnings.filterwarnings("ignore", category=category)


def header(title: str) -> None:
    """A phase header: `── train: debug ──────…`."""
    print(f"\n── {title} {'─' * max(3, 72 - len(title))}", flush=True)
