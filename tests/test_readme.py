"""README.md stays true: its config table is current and CI runs its test command."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_config_reference_is_current():
    result = subprocess.run([sys.executable, "scripts/config_reference.py", "--check"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_ci_runs_the_readme_commands():
    readme, ci = (ROOT / "README.md").read_text(), (ROOT / ".ci" / "run").read_text()
    for command in ("bash scripts/install.sh", "python -m pytest -q"):
        assert command in readme and command in ci
