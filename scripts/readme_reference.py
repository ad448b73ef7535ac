"""Regenerate README.md's generated parts: the config reference, from the config dataclasses'
field docstrings, and the commands' `--help` output (at 100 columns).

    python scripts/readme_reference.py          # rewrite them in README.md
    python scripts/readme_reference.py --check  # exit 1 if README.md is stale
"""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import typing
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from datapipe.config import DatapipeConfig  # noqa: E402
from raypretrain.config import field_docs  # noqa: E402

from pretrain.config import PretrainConfig  # noqa: E402
from tune.config import TuneConfig  # noqa: E402

JOBS = [("datapipe", "python -m datapipe", DatapipeConfig), ("pretrain", "python -m pretrain", PretrainConfig),
        ("tune", "python -m tune", TuneConfig)]
CONFIG = ("<!-- config-reference:start -->", "<!-- config-reference:end -->")
HELP = ("<!-- help-reference:start -->", "<!-- help-reference:end -->")
COMMANDS = [("raypretrain", "raypretrain.cli"), ("python -m datapipe", "datapipe"), ("python -m pretrain", "pretrain"),
            ("python -m tune", "tune"), ("python -m pretrain.generate", "pretrain.generate"),
            ("python -m pretrain.export", "pretrain.export"), ("python -m cluster.submit", "cluster.submit")]


def _type(tp) -> str:
    return str(tp).replace("typing.", "").replace("<class '", "").replace("'>", "").replace("NoneType", "None")


def rows(cls, prefix: str = ""):
    hints = typing.get_type_hints(cls)
    docs = {k: v.replace("|", "\\|") for k, v in field_docs(cls).items()}
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        key = f"{prefix}{f.name}"
        if tp is DatapipeConfig and prefix == "data.":  # pretrain's nested datapipe config: see its own table
            yield f"| `{key}.*` | `DatapipeConfig` | the datapipe defaults | {docs.get(f.name, '')} Keys as in the datapipe table. |"
            continue
        if dataclasses.is_dataclass(tp):
            yield from rows(tp, f"{key}.")
            continue
        item = typing.get_args(tp)[0] if typing.get_origin(tp) is tuple else None
        if dataclasses.is_dataclass(item):  # a list of sections, e.g. sources
            yield f"| `{key}` | list of `{item.__name__}` | `[]` | {docs.get(f.name, '')} |"
            yield from rows(item, f"{key}[].")
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        yield f"| `{key}` | `{_type(tp)}` | `{default!r}` | {docs.get(f.name, '')} |"


def table() -> str:
    parts = []
    for job, cmd, cls in JOBS:
        parts += [f"#### `{cmd}`", "", "| key | type | default | meaning |", "|---|---|---|---|", *rows(cls), ""]
    return "\n".join(parts).rstrip()


def help_text() -> str:
    env = {**os.environ, "COLUMNS": "100"}
    parts = []
    for name, module in COMMANDS:
        out = subprocess.run([sys.executable, "-m", module, "--help"], cwd=ROOT, env=env, capture_output=True,
                             text=True, check=True).stdout.rstrip()
        parts += [f"<details><summary><code>{name} --help</code></summary>", "", "```", out, "```", "", "</details>", ""]
    return "\n".join(parts).rstrip()


def replace(readme: str, markers: tuple[str, str], body: str) -> str:
    head, _, rest = readme.partition(markers[0])
    _, _, tail = rest.partition(markers[1])
    return f"{head}{markers[0]}\n{body}\n{markers[1]}{tail}"


def render(readme: str) -> str:
    return replace(replace(readme, CONFIG, table()), HELP, help_text())


def main() -> int:
    path = ROOT / "README.md"
    current = path.read_text()
    fresh = render(current)
    if "--check" in sys.argv:
        if fresh != current:
            print("README.md's config or --help reference is stale: run python scripts/readme_reference.py", file=sys.stderr)
            return 1
        return 0
    path.write_text(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
