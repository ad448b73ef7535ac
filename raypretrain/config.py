"""Typed configs: frozen dataclass trees loaded from YAML, with dotted `--set` overrides.

Every job (datapipe, pretrain, tune) describes its config as frozen dataclasses with a
docstring under each field. This module turns YAML + overrides into such a tree and
refuses anything it does not recognise with a one-line `ConfigError` naming the key.
"""
from __future__ import annotations

import ast
import dataclasses
import inspect
import textwrap
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

import yaml

import configs

T = TypeVar("T")


class ConfigError(ValueError):
    """A config problem a user can fix; main() prints it on one line and exits 2."""


class RangeError(ConfigError):
    """A field's value outside its allowed range; `from_dict` prefixes the field's dotted path."""


@dataclass(frozen=True)
class Range:
    """The values a number may take: lo/hi bounds, each closed unless `*_open`. NaN is never allowed."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False

    def allows(self, v: float) -> bool:
        if v != v:  # NaN
            return False
        if self.lo is not None and not (v > self.lo if self.lo_open else v >= self.lo):
            return False
        return self.hi is None or (v < self.hi if self.hi_open else v <= self.hi)

    def __str__(self) -> str:
        lo, hi = _num(self.lo), _num(self.hi)
        if self.hi is None:
            return f"{'>' if self.lo_open else '>='} {lo}"
        if self.lo is None:
            return f"{'<' if self.hi_open else '<='} {hi}"
        return f"in {'(' if self.lo_open else '['}{lo}, {hi}{')' if self.hi_open else ']'}"


def _num(v: float | None) -> str:
    if v is None:
        return ""
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def at_least(lo: float) -> Range:
    return Range(lo=lo)


def positive() -> Range:
    return Range(lo=0, lo_open=True)


def fraction(lo_open: bool = False, hi_open: bool = False) -> Range:
    """A share in [0, 1] (either end open on request)."""
    return Range(0.0, 1.0, lo_open, hi_open)


def check_ranges(obj: Any, ranges: dict[str, Range]) -> None:
    """RangeError naming the first field of `obj` (a number, or each number of a tuple or dict)
    outside its Range. Called from a config dataclass's __post_init__."""
    for name, rng in ranges.items():
        value = getattr(obj, name)
        items = value.items() if isinstance(value, dict) else (
            ((f"[{i}]", v) for i, v in enumerate(value)) if isinstance(value, (tuple, list)) else [("", value)])
        for suffix, v in items:
            if not rng.allows(v):
                key = f"{name}.{suffix}" if isinstance(value, dict) else f"{name}{suffix}"
                raise RangeError(f"{key}: {v!r} is out of range; allowed: {rng}")


def load(cls: type[T], path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = (),
         job: str | None = None) -> T:
    """Build `cls` from an optional YAML file plus `key.sub=value` overrides. With `job`, `path`
    may also be the bare name of one of that job's shipped presets (`debug`)."""
    data: dict[str, Any] = {}
    if path is not None:
        p = preset_or_file(job, str(path))
        try:
            data = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: top level must be a mapping, got {type(data).__name__}")
    for item in overrides:
        set_dotted(data, item)
    return from_dict(cls, data)


def preset_or_file(job: str | None, name: str) -> Path:
    """The YAML file `name` means: a file path, or (with `job`) a shipped preset's bare name."""
    found = configs.find(job, name) if job else (Path(name) if Path(name).is_file() else None)
    if found is None:
        known = f" (presets: {', '.join(configs.presets(job))})" if job else ""
        raise ConfigError(f"config file not found: {name}{known}")
    return found


def set_dotted(data: dict[str, Any], item: str) -> None:
    """Apply one `a.b.c=value` override in place; the value is parsed as YAML."""
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {item!r} must look like key.sub=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    node = data
    parts = key.strip().split(".")
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override {key}: {part} is not a section")
        node = child
    node[parts[-1]] = value


def from_dict(cls: type[T], data: Any, where: str = "") -> T:
    """Recursively build dataclass `cls` from plain data, checking keys and types."""
    if isinstance(data, cls):
        return data
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'config'}: expected a mapping, got {_show(data)}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"unknown config key {_join(where, unknown[0])!r} (known: {', '.join(sorted(fields))})")
    hints = typing.get_type_hints(cls)
    kwargs = {name: _coerce(hints[name], value, _join(where, name)) for name, value in data.items()}
    try:
        return cls(**kwargs)
    except TypeError as e:  # a required field was left out
        raise ConfigError(f"{where or cls.__name__}: {e}") from None
    except RangeError as e:  # a nested section's field: name it by its whole dotted path
        raise ConfigError(_join(where, str(e)) if where else str(e)) from None
    except ConfigError:
        raise
    except ValueError as e:  # __post_init__ validation of a class that cannot import ConfigError
        raise ConfigError(_join(where, str(e)) if where else str(e)) from None


def to_dict(obj: Any) -> Any:
    """Plain-data form of a config tree (for JSON, YAML and the Ray boundary)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def field_docs(cls: type) -> dict[str, str]:
    """The docstring written under each field of dataclass `cls` (read from its source)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    for node, nxt in zip(body, body[1:]):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                and isinstance(nxt, ast.Expr) and isinstance(getattr(nxt, "value", None), ast.Constant)
                and isinstance(nxt.value.value, str)):
            docs[node.target.id] = " ".join(nxt.value.value.split())
    return docs


def _coerce(tp: Any, value: Any, where: str) -> Any:
    origin, args = get_origin(tp), get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(arg, value, where)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{where}: {_show(value)} fits none of {_typename(tp)}")
    if origin is Literal:
        if isinstance(value, bool) and {"yes", "no"} <= set(args):  # YAML 1.1 reads a bare yes/no as a bool
            value = "yes" if value else "no"
        if value not in args:
            raise ConfigError(f"{where}: {value!r} is not one of {', '.join(map(repr, args))}")
        return value
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, where)
    if origin in (list, tuple):
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {_show(value)}")
        item_tp = args[0] if args else Any
        items = [_coerce(item_tp, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items)  # frozen configs hold tuples so they stay hashable
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {_show(value)}")
        key_tp, val_tp = args if args else (Any, Any)
        return {_coerce(key_tp, k, f"{where}.{k}"): _coerce(val_tp, v, f"{where}.{k}") for k, v in value.items()}
    if tp is float:
        if isinstance(value, str):  # PyYAML reads 3e-4 (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {_show(value)}")
        return float(value)
    if tp in (int, str, bool):
        if type(value) is not tp:
            raise ConfigError(f"{where}: expected {tp.__name__}, got {_show(value)}")
        return value
    raise ConfigError(f"{where}: unsupported config type {_typename(tp)}")


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _show(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"[:80]


def _typename(tp: Any) -> str:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):  # typing.Union's __name__ is just "Union"
        return " | ".join(_typename(a) for a in get_args(tp))
    if origin is Literal:
        return " | ".join(map(repr, get_args(tp)))
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")
