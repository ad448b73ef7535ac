"""The shipped YAML presets, one folder per job (configs/<job>/<name>.yaml), as package data.

`--config debug` names a preset by its bare name; `--config path/to/file.yaml` reads that file.
Both work from any folder, since presets are found next to this module, not in the cwd."""
from __future__ import annotations

from pathlib import Path

JOBS = ("datapipe", "pretrain", "tune")
HERE = Path(__file__).resolve().parent


def presets(job: str) -> dict[str, Path]:
    """{bare name: file} of one job's shipped presets."""
    return {p.stem: p for p in sorted((HERE / job).glob("*.yaml"))}


def describe(path: Path) -> str:
    """A preset's first comment line: what it is for."""
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
    return ""


def find(job: str, name: str) -> Path | None:
    """The file `name` means for `job`: an existing file path as given, else the shipped preset
    of that bare name (with or without .yaml), else None."""
    given = Path(name)
    if given.is_file():
        return given
    if "/" not in name and "\\" not in name:
        return presets(job).get(name.removesuffix(".yaml"))
    return None
