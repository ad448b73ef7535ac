"""`raypretrain`: the console script dispatches to each job's entry point."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from raypretrain.cli import COMMANDS, main


def test_help_lists_every_subcommand(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert f"  {name} " in out


def test_unknown_subcommand_is_one_line_and_exit_2(capsys):
    assert main(["trian"]) == 2
    assert capsys.readouterr().err.strip() == ("raypretrain: error: unknown subcommand 'trian' "
                                              f"(choose from {', '.join([*COMMANDS, 'presets'])})")


@pytest.mark.parametrize("sub, prog", [("data", "python -m datapipe"), ("train", "python -m pretrain"),
                                       ("run", "python -m pretrain"), ("inspect", "python -m datapipe.inspect")])
def test_subcommands_are_the_jobs_own_entry_points(sub, prog, capsys):
    with pytest.raises(SystemExit) as e:
        main([sub, "--help"])
    assert e.value.code == 0 and capsys.readouterr().out.startswith(f"usage: {prog}")


def test_the_installed_console_script_runs():
    script = os.path.join(os.path.dirname(sys.executable), "raypretrain")  # installed by pip install -e .
    assert os.path.isfile(script), "raypretrain is not installed: pip install -e ."
    proc = subprocess.run([script, "train", "--set", "train.nope=1"], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.startswith("pretrain: error: unknown config key 'train.nope'")


def test_version_presets_and_doctor(capsys):
    from importlib.metadata import version

    assert main(["--version"]) == 0 and capsys.readouterr().out == f"raypretrain {version('raypretrain')}\n"
    assert main(["presets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.split()[:2] == ["pretrain", "debug"] and "laptop" in line for line in lines)
    code = main(["doctor"])
    out = capsys.readouterr().out.splitlines()
    names = {line[5:23].strip() for line in out[:-1]}
    assert {"python", "torch", "ray", "deepspeed", "deepspeed CPU op", "gpu", "disk"} <= names
    assert code == (0 if out[-1] == "doctor: all good" else 1) and all(line[:3] in ("ok ", "FIX") for line in out[:-1])


def test_doctor_says_what_to_fix():
    from raypretrain.doctor import free_disk, package

    missing = package("no_such_package_here")
    assert not missing.ok and "scripts/install.sh" in missing.line() and missing.line().startswith("FIX")
    import shutil

    assert free_disk().ok == (shutil.disk_usage(".").free / 2**30 >= 5.0)
