"""Training progress on the driver: rank 0's messages, and one live line that updates in place.

Rank 0 sends each step's numbers and its messages (the `log_every` lines, resume notices) to a
small `Board` actor that the driver creates for the run (0 CPUs). A thread on the driver polls it,
prints each message as a line and, on a terminal, redraws the live line under them:

    step 120/300 ━━━━━━━━━━━━──────────────────  40% | loss 4.213 | val 4.402 | 14.1k tok/s | ETA 0m31s

Without a terminal (`ray job logs`, CI, a pipe) there is no live line, only the messages. Without a
board (a Tune trial's workers) `Progress.say` writes to the worker's stdout, which Ray forwards.
`quiet_loggers`, `quiet` and `quiet_warnings` keep library chatter off that console in the workers.

Our own console lines (`[pretrain] …`, `[datapipe] …`, `[tune] …`, the stage lines, the phase
headers, the account table) go through one logger per package (`logging.getLogger("pretrain")`, …,
PACKAGES) and one console handler that each job's main installs with `setup(verbose)`: it writes each
record's message verbatim, INFO and DEBUG to stdout and warnings to stderr, and while a Display is
drawing its live line it hands the line to the Display, which clears the live line, writes the line
and redraws the live line under it. The loggers do not propagate to the root logger.

Where print() stays: output that IS a command's result on stdout (`raypretrain inspect`, `presets`,
`doctor`, `--check`'s "config OK", `pretrain.plan`'s advice, `pretrain.generate`'s text,
`cluster.submit`'s command and forwarded job logs), and errors a command exits with, on stderr. In
Ray workers, where no console handler is installed, lines go through `Progress.say` (to the driver's
board, or straight to the process's stdout, which Ray forwards).
"""
from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import os
import shutil
import sys
import threading
import uuid
import warnings

import ray

from raypretrain import compat


PACKAGES = ("datapipe", "pretrain", "tune", "cluster", "raypretrain")
"""One logger each; `setup` gives them the console handler."""


class ConsoleHandler(logging.Handler):
    """Each record's message verbatim, one line: INFO and DEBUG to sys.stdout, warnings and errors to
    sys.stderr (looked up per record, so redirect_stdout and pytest's capture see it). While a Display
    is drawing its live line, the line goes through the Display, which owns that line."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.display: Display | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = sys.stderr if record.levelno >= logging.WARNING else sys.stdout
            line = record.getMessage()
            if self.display is not None:
                self.display.show([line], stream=stream)
            else:
                stream.write(line + "\n")
                stream.flush()
        except Exception:  # logging's contract: a broken stream must not end the run
            self.handleError(record)


def handler() -> ConsoleHandler | None:
    """The console handler `setup` installed, if it has run in this process."""
    return next((h for h in logging.getLogger(PACKAGES[0]).handlers if isinstance(h, ConsoleHandler)), None)


def setup(verbose: bool = False) -> None:
    """Our loggers write to the console: INFO and up, DEBUG too when verbose. Called at the start of
    each job's main; calling it again only sets the level (one handler, so no line is doubled)."""
    console = handler() or ConsoleHandler()
    for name in PACKAGES:
        log = logging.getLogger(name)
        log.setLevel(logging.DEBUG if verbose else logging.INFO)
        log.propagate = False  # the root logger's handlers (Ray's, pytest's) would show it twice
        if console not in log.handlers:
            log.addHandler(console)


class Board:
    """What rank 0 last said: the newest step and the messages not yet shown. A Ray actor
    (`ray.remote(Board)` at use, in Display, so importing this module registers nothing)."""

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


class Progress:
    """A worker's handle on the driver's Board (`attach(name)`), or on none: then `say` prints."""

    def __init__(self, board=None):
        self.board = board

    def say(self, line: str) -> None:
        """A message for the driver's console."""
        if self.board is not None:
            self.board.say.remote(line)
        else:  # straight to the process's stdout: Ray Train's patched print() would log it twice
            sys.__stdout__.write(line + "\n")
            sys.__stdout__.flush()

    def step(self, **state) -> None:
        """The live line's numbers: step, total, loss, tok_s, eta (seconds), val."""
        if self.board is not None:
            self.board.step.remote(state)

    def flush(self) -> None:
        """Wait until the board has everything sent so far (calls from one process arrive in order)."""
        if self.board is not None:
            ray.get(self.board.ping.remote())


def attach(name: str | None) -> Progress:
    """In a worker: a Progress sending to the driver's board `name` (None: one that prints)."""
    return Progress(ray.get_actor(name) if name else None)


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
        self.board = ray.remote(num_cpus=0)(Board).options(name=name).remote()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="progress", daemon=True)
        self._drawn, self._last = False, None
        self._lock = threading.Lock()  # the poll thread and the console handler both write
        self._console: ConsoleHandler | None = None

    def __enter__(self) -> Display:
        ray.get(self.board.take.remote())  # the actor is up before any worker looks for it
        self._console = handler()
        if self._console is not None:
            self._console.display = self  # our log lines go through show() while this display runs
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
        if self._console is not None and self._console.display is self:
            self._console.display = None
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
        self.show(lines, state)

    def show(self, lines: list[str], state: dict | None = None, stream=None) -> None:
        """Write `lines` (to `stream`, by default the display's), then redraw the live line under
        them on a terminal: for the newest `state`, or the last one drawn."""
        with self._lock:
            if state is None:
                state = self._last
            redraw = self.live and state is not None and "step" in state and (lines or state != self._last)
            if not lines and not redraw:
                return
            clear = "\r\x1b[K" if self._drawn else ""
            text = "".join(line + "\n" for line in lines)
            if stream is not None and stream is not self.stream:  # e.g. a warning to stderr
                self.stream.write(clear)
                self.stream.flush()
                stream.write(text)
                stream.flush()
                clear = text = ""
            out = clear + text
            self._drawn = False
            if redraw:
                out += live_line(state, shutil.get_terminal_size().columns)
                self._drawn, self._last = True, state
            self.stream.write(out)
            self.stream.flush()


class _DropFrom(logging.Filter):
    """Drops root-logger records logged from files below `folders`: Ray Train V2 turns a worker's
    print() into a root-logger INFO record that names the caller's file (ray/train/v2/_internal/
    logging/patch_print.py)."""

    def __init__(self, folders: list[str]):
        super().__init__()
        self.folders = tuple(folders)

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.pathname.startswith(self.folders)


@contextlib.contextmanager
def quiet_warnings():
    """Future, Deprecation and User warnings are not shown for the duration (warnings.catch_warnings
    restores the filters after)."""
    with warnings.catch_warnings():
        for category in (FutureWarning, DeprecationWarning, UserWarning):
            warnings.simplefilter("ignore", category)
        yield


@contextlib.contextmanager
def quiet(*packages: str):
    """For the duration of one chatty library call (a DeepSpeed engine build, a checkpoint load):
    the print()s of `packages` are dropped (the root-logger records Ray Train makes of them, and
    what reaches stdout when Ray's print patch is off), and so are warnings (`quiet_warnings`).
    Nothing process-wide is left changed."""
    folders = [os.path.dirname(spec.origin) + os.sep for spec in map(importlib.util.find_spec, packages)
               if spec is not None and spec.origin]
    drop, root = _DropFrom(folders), logging.getLogger()
    root.addFilter(drop)
    try:
        with quiet_warnings(), contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        root.removeFilter(drop)


def quiet_loggers() -> None:
    """In a worker: only warnings from DeepSpeed, Ray Data and Ray Train's loggers."""
    # context.py logs "Reporting training result …" at INFO under a logger named by its file path
    for name in ("DeepSpeed", "ray.data", "ray.train", compat.train_context.__file__):
        logging.getLogger(name).setLevel(logging.WARNING)
    # "Progress bars disabled": we turned them off on purpose (the driver shows training progress)
    logging.getLogger(compat.RAY_DATA_PROGRESS_LOGGER).setLevel(logging.ERROR)


def header(title: str) -> None:
    """A phase header: `── train: debug ──────…`."""
    logging.getLogger("raypretrain").info(f"\n── {title} {'─' * max(3, 72 - len(title))}")
