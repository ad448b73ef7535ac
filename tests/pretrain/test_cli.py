"""`raypretrain`: the console script dispatches to each job's entry point."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pretrain.cli import COMMANDS, main


def test_help_lists_every_subcommand(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert f"  {name} " in out


def test_unknown_subcommand_is_one_line_and_exit_2(capsys):
    assert main(["trian"]) == 2
    assert capsys.readouterr().err.strip() == ("raypretrain: error: unknown subcommand 'trian' "
                                              f"(choose from {', '.join(COMMANDS)})")


@pytest.mark.parametrize("sub, prog", [("data", "python -m datapipe"), ("train", "python -m pretrain"),
                                       ("run", "python -m pretrain")])
def test_subcommands_are_the_jobs_own_entry_points(sub, prog, capsys):
    with pytest.raises(SystemExit) as e:
        main([sub, "--help"])
    assert e.value.code == 0 and capsys.readouterr().out.startswith(f"usage: {prog}")


def test_the_installed_console_script_runs():
    script = os.path.join(os.path.dirname(sys.executable), "raypretrain")  # installed by pip install -e .
    assert os.path.isfile(script), "raypretrain is not installed: pip install -e ."
    proc = subprocess.run([script, "train", "--set", "train.nope=1"], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.startswith("pretrain: error: unknown config key 'train.nope'")
