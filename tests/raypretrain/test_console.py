"""The driver's progress display: rank 0's messages through a real Board actor, the live line on a terminal;
our loggers' console handler, and how it shares the terminal with the live line."""
from __future__ import annotations

import io
import logging
import shutil
import sys
import textwrap
import time
import warnings

import ray

from raypretrain.console import PACKAGES, ConsoleHandler, Display, board_name, live_line, quiet, setup


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_live_line_shows_step_bar_and_numbers_within_the_width():
    state = {"step": 30, "total": 120, "loss": 4.21349, "val": 4.5, "tok_s": 14_100, "eta": 95}
    line = live_line(state, 120)
    assert line.startswith("step 30/120 ") and len(line) < 120
    assert " 25% | loss 4.213 | val 4.500 | 14.1k tok/s | ETA 1m35s" in line
    bar = line.split()[2]
    assert len(bar) == 30 and bar.count("━") == 7 and set(bar) == {"━", "─"}
    assert "━" in live_line(state, 80)  # room for a bar on a classic terminal
    assert len(live_line(state, 50)) == 49  # a narrow one cuts the line; the bar goes first
    assert "━" not in live_line(state, 50) and "─" not in live_line(state, 50)
    assert live_line({"step": 0, "total": 5}, 80).startswith("step 0/5 ")


def test_on_a_terminal_messages_are_lines_and_the_live_line_redraws_under_them(ray_local):
    name = board_name()
    term = Terminal()
    with Display(name, stream=term, every=0.05):
        ray.get(say_and_step.remote(name))
    out = term.getvalue()
    lines = out.split("\n")
    assert lines[0].endswith("[pretrain] TensorBoard logs: /x")
    assert "[pretrain] step 3/3 | val loss 1.500" in out
    # the last thing drawn is the live line at 3/3, cleared and redrawn in place, then a newline at the end
    assert out.count("\r\x1b[K") >= 2  # redrawn in place
    last = out.rstrip("\n").split("\n")[-1].rsplit("\r\x1b[K", 1)[-1]
    assert last.startswith("step 3/3 ") and "100% | loss 2.000" in last and out.endswith("\n")


def test_without_a_terminal_only_the_messages_are_printed(ray_local):
    name = board_name()
    plain = io.StringIO()
    with Display(name, stream=plain, every=0.05):
        ray.get(say_and_step.remote(name))
    assert plain.getvalue() == "[pretrain] TensorBoard logs: /x\n[pretrain] step 3/3 | val loss 1.500\n"
    assert name not in ray.util.list_named_actors()  # the board is gone


@ray.remote(num_cpus=0)
def say_and_step(name: str) -> None:
    """What the training loop's rank 0 does: attach to the driver's board, say and step."""
    from raypretrain.console import attach

    progress = attach(name)
    progress.say("[pretrain] TensorBoard logs: /x")
    for s in range(1, 4):
        progress.step(step=s, total=3, loss=5.0 - s, tok_s=1000.0, eta=3 - s)
        time.sleep(0.2)  # several polls of the display
    progress.say("[pretrain] step 3/3 | val loss 1.500")
    progress.flush()


CHATTY = textwrap.dedent("""
    import logging, warnings

    def chatter():
        logging.getLogger().info("op built successfully")  # what Ray Train's patched print() makes of a print
        print("op built successfully")  # and what a print does without the patch
        warnings.warn("old", DeprecationWarning)
        warnings.warn("careful", UserWarning)
""")


def test_quiet_drops_one_librarys_prints_and_warnings_for_one_call_only(tmp_path, monkeypatch, caplog, capsys):
    (tmp_path / "chatty").mkdir()
    (tmp_path / "chatty" / "__init__.py").write_text(CHATTY)
    monkeypatch.syspath_prepend(str(tmp_path))
    import chatty

    caplog.set_level(logging.INFO)
    root_filters = list(logging.getLogger().filters)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with quiet("chatty", "no_such_package"):
            chatty.chatter()
            logging.getLogger().info("ours")  # records from other files still show
        assert [r.getMessage() for r in caplog.records] == ["ours"] and not seen
        assert capsys.readouterr().out == ""
        chatty.chatter()  # afterwards nothing is silenced: no process-wide state was left behind
        assert [r.getMessage() for r in caplog.records] == ["ours", "op built successfully"]
        assert [w.category for w in seen] == [DeprecationWarning, UserWarning]
        assert capsys.readouterr().out == "op built successfully\n"
    assert logging.getLogger().filters == root_filters


class Recorder(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_job_loggers_line_reaches_the_console_once_and_debug_only_when_verbose(capsys):
    root_handlers = list(logging.getLogger().handlers)
    log = logging.getLogger("datapipe")
    setup()
    # on the root logger itself: pytest's caplog also attaches to every logger that does not propagate
    at_root = Recorder()
    logging.getLogger().addHandler(at_root)
    setup()  # a second main in the same process: still one handler
    log.info("[datapipe] one")
    log.debug("[datapipe] hidden")
    log.warning("datapipe: warning: two")
    logging.getLogger("pretrain.loop").info("[pretrain] a child logger's line")
    out, err = capsys.readouterr()
    assert out == "[datapipe] one\n[pretrain] a child logger's line\n"  # verbatim: no level, no name
    assert err == "datapipe: warning: two\n"
    logging.getLogger().removeHandler(at_root)
    assert not at_root.records  # nothing reached the root logger, so no handler there shows it again
    setup(verbose=True)
    log.debug("[datapipe] shown")
    assert capsys.readouterr().out == "[datapipe] shown\n"
    setup()
    log.debug("[datapipe] hidden again")
    assert capsys.readouterr().out == ""
    # one console handler each (pytest's capture handlers are attached beside it)
    assert all([type(h) for h in logging.getLogger(name).handlers].count(ConsoleHandler) == 1 for name in PACKAGES)
    assert logging.getLogger().handlers == root_handlers


def test_a_log_line_clears_the_live_line_which_is_redrawn_under_it(ray_local, monkeypatch):
    term = Terminal()
    monkeypatch.setattr(sys, "stdout", term)
    setup()
    state = {"step": 1, "total": 2, "loss": 3.0}
    with Display(board_name(), every=60) as display:
        display.show([], state)
        logging.getLogger("pretrain").info("[pretrain] a line")
    logging.getLogger("pretrain").info("[pretrain] after")  # the display is gone: a plain line
    live = live_line(state, shutil.get_terminal_size().columns)
    assert term.getvalue() == live + "\r\x1b[K[pretrain] a line\n" + live + "\n[pretrain] after\n"
