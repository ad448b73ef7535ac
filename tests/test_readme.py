"""README.md stays true: its config table and --help output are current and CI runs its test command."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_config_and_help_references_are_current():
    result = subprocess.run([sys.executable, "scripts/readme_reference.py", "--check"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_ci_runs_the_readme_commands():
    readme, ci = (ROOT / "README.md").read_text(), (ROOT / ".ci" / "run").read_text()
    for command in ("bash scripts/install.sh", "python -m pytest -q"):
        assert command in readme and command in ci


def test_fresh_check_reads_the_readme_commands():
    """scripts/fresh_check.sh takes its install and run commands from the README (CI runs it)."""
    script = ROOT / "scripts" / "fresh_check.sh"
    assert "bash scripts/fresh_check.sh" in (ROOT / ".ci" / "run").read_text()
    cmd = ("source <(sed -n '/^readme_command()/,/^}/p' scripts/fresh_check.sh); ROOT=.; "
           "echo \"$(readme_command install)|$(readme_command run)\"")
    out = subprocess.run(["bash", "-c", cmd], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    assert out == "bash scripts/install.sh|python -m pretrain", out
    assert script.stat().st_mode & 0o111


def test_the_package_picture_names_modules_that_exist():
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- packages")[1].split("<!-- /packages -->")[0]
    named = 0
    for line in block.splitlines():
        head = line.strip(" │├└─▲")
        if "/ " not in head or head.startswith("("):
            continue
        package, rest = head.split("/", 1)
        modules = rest.strip().split("  ")[0] if package != "configs" else ""
        assert (ROOT / package / "__init__.py").is_file(), package
        for module in filter(None, (m.strip() for m in modules.split("·"))):
            assert (ROOT / package / f"{module}.py").is_file(), f"{package}/{module}.py"
            named += 1
    assert named > 30
