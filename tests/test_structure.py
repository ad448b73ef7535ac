"""The seams between the packages, checked from the source (no imports run):
no job imports another job's main, private Ray/datasketch names only in raypretrain/compat.py,
nothing patches builtins, no function in the job packages is over 60 lines, and every import inside
a function says why it is not at the top of its module (issue J)."""
from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
JOBS = ("datapipe", "pretrain", "tune", "cluster")
PACKAGES = (*JOBS, "raypretrain")
SOURCES = sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))
WITH_CONFIGS = sorted(p for pkg in (*PACKAGES, "configs") for p in (ROOT / pkg).rglob("*.py"))
PRAGMA = re.compile(r"#\s*(noqa\b[\w:, ]*|type:\s*ignore\S*|pragma:.*)")
"""A comment that is only a linter's pragma (`# noqa: F401`): it says nothing about why."""


def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), str(path))


def imported(module: ast.Module) -> list[str]:
    """Every module name an import statement names (`from a.b import c` gives a.b and a.b.c)."""
    names = []
    for node in ast.walk(module):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
    return names


def test_the_packages_are_where_the_layout_says():
    assert len(SOURCES) > 40 and all((ROOT / pkg / "__init__.py").is_file() for pkg in PACKAGES)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_job_imports_another_jobs_main(path):
    own = path.relative_to(ROOT).parts[0]
    for name in imported(tree(path)):
        parts = name.split(".")
        if parts[0] in JOBS and parts[0] != own and len(parts) > 1:
            assert parts[1] != "main", f"{path.relative_to(ROOT)} imports {name}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_private_names_only_in_compat(path):
    if path == ROOT / "raypretrain" / "compat.py":
        return
    module = tree(path)
    private = [n for n in imported(module) if any(p in ("_private", "_internal") or
                                                  (p.startswith("_") and not p.startswith("__"))
                                                  for p in n.split(".")[1:])]
    attrs = [n.attr for n in ast.walk(module) if isinstance(n, ast.Attribute) and n.attr in ("_private", "_internal")]
    assert not private and not attrs, f"{path.relative_to(ROOT)}: {private + attrs} (put them in raypretrain/compat.py)"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_nothing_patches_builtins(path):
    for node in ast.walk(tree(path)):
        if isinstance(node, (ast.Assign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                assert not (isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name)
                            and t.value.id == "builtins"), f"{path.relative_to(ROOT)}:{node.lineno} patches builtins"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_function_over_60_lines(path):
    long = [f"{n.name} ({n.end_lineno - n.lineno + 1} lines)" for n in ast.walk(tree(path))
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno + 1 > 60]
    assert not long, f"{path.relative_to(ROOT)}: {long}"


def comments(source: str) -> dict[int, str]:
    """{line: its comment} from tokenize (a '#' inside a string is no comment), pragmas left out."""
    return {t.start[0]: t.string for t in tokenize.generate_tokens(io.StringIO(source).readline)
            if t.type == tokenize.COMMENT and not PRAGMA.fullmatch(t.string.strip())}


def unexplained_inner_imports(path: Path) -> list[str]:
    """`file:line: statement` for each import inside a function without a reason: a comment on one of
    its lines, or a comment line directly above the block of consecutive import lines it belongs to."""
    source = path.read_text()
    lines, notes, module = source.splitlines(), comments(source), ast.parse(source, str(path))
    imports = (ast.Import, ast.ImportFrom)
    inner = {id(n) for f in ast.walk(module) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
             for n in ast.walk(f) if isinstance(n, imports)}
    bad = []
    for node in ast.walk(module):
        for body in (getattr(node, field, None) for field in ("body", "orelse", "finalbody")):
            if not isinstance(body, list):
                continue
            start = end = 0  # the first line of the current block, the last line of its last import
            for stmt in body:
                if not isinstance(stmt, imports):
                    start = end = 0
                    continue
                if not start or stmt.lineno != end + 1:
                    start = stmt.lineno
                end = stmt.end_lineno
                above = start - 1 in notes and lines[start - 2].lstrip().startswith("#")
                if id(stmt) in inner and not above and not any(n in notes for n in range(stmt.lineno, end + 1)):
                    bad.append(f"{path.relative_to(ROOT)}:{stmt.lineno}: {lines[stmt.lineno - 1].strip()}")
    return bad


@pytest.mark.parametrize("path", WITH_CONFIGS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_inner_import_says_why(path):
    bad = unexplained_inner_imports(path)
    assert not bad, ("imports inside a function with no reason; move them to the top of the module, or say why "
                     "(heavy, optional, an import cycle, ...) on the line or above the block:\n" + "\n".join(bad))
