"""The search space, pure: spec → Ray Tune domains, checked against PretrainConfig first.

Every key must be a leaf field of PretrainConfig, and every value a distribution can take
(the bounds, each choice) must make a valid pretrain config on top of the base, so a bad
space is refused on the driver before any trial starts.
"""
from __future__ import annotations

import copy
import dataclasses
import typing
from typing import Any

from ray import tune

from raypretrain.config import ConfigError, from_dict
from pretrain.config import PretrainConfig

DISTRIBUTIONS = ("loguniform", "uniform", "randint", "choice", "grid")


def field_type(key: str) -> Any:
    """The type of the PretrainConfig leaf field named by dotted `key`."""
    cls: Any = PretrainConfig
    parts = key.split(".")
    for i, part in enumerate(parts):
        names = [f.name for f in dataclasses.fields(cls)]
        if part not in names:
            raise ConfigError(f"space.{key}: {'.'.join(parts[:i]) or 'the pretrain config'} has no field "
                              f"{part!r} (known: {', '.join(names)})")
        cls = typing.get_type_hints(cls)[part]
        if dataclasses.is_dataclass(cls) != (i < len(parts) - 1):
            raise ConfigError(f"space.{key}: {'is a section, not a field' if i == len(parts) - 1 else f'{part} is not a section'}")
    return cls


def set_path(data: dict, key: str, value: Any) -> None:
    """data[a][b][c] = value for key 'a.b.c', creating sections on the way."""
    *sections, leaf = key.split(".")
    for part in sections:
        data = data.setdefault(part, {})
    data[leaf] = value


def merge(data: dict, overrides: dict) -> dict:
    """A copy of `data` with `overrides` (dotted keys or nested sections) applied."""
    out = copy.deepcopy(data)
    for key, value in overrides.items():
        if isinstance(value, dict) and _is_section(key):
            for sub, v in value.items():
                out = merge(out, {f"{key}.{sub}": v})
        else:
            set_path(out, key, value)
    return out


def parse(key: str, spec: Any) -> tuple[str, list]:
    """(distribution, arguments) of one space entry, e.g. ('loguniform', [1e-4, 1e-2])."""
    if not isinstance(spec, dict) or len(spec) != 1:
        raise ConfigError(f"space.{key}: expected one of {{{'|'.join(DISTRIBUTIONS)}: [...]}}, got {spec!r}"[:200])
    (kind, args), = spec.items()
    if kind not in DISTRIBUTIONS:
        raise ConfigError(f"space.{key}: unknown distribution {kind!r} (known: {', '.join(DISTRIBUTIONS)})")
    if not isinstance(args, (list, tuple)):
        raise ConfigError(f"space.{key}: {kind} takes a list, got {args!r}")
    args = [float(a) if isinstance(a, str) and kind in ("loguniform", "uniform") and _number(a) else a for a in args]
    if kind in ("choice", "grid"):
        if not args:
            raise ConfigError(f"space.{key}: {kind} needs at least one value")
        return kind, list(args)
    if len(args) != 2 or not all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args):
        raise ConfigError(f"space.{key}: {kind} takes [low, high] numbers, got {args!r}")
    low, high = args
    if low >= high:
        raise ConfigError(f"space.{key}: low {low} must be below high {high}")
    if kind == "loguniform" and low <= 0:
        raise ConfigError(f"space.{key}: loguniform needs low > 0, got {low}")
    if kind == "randint" and not all(isinstance(a, int) for a in args):
        raise ConfigError(f"space.{key}: randint takes integer bounds, got {args!r}")
    return kind, [low, high]


def values_to_check(kind: str, args: list) -> list:
    """The values a distribution can produce that validation tries: bounds or every choice."""
    if kind == "randint":
        return [args[0], args[1] - 1]  # Ray's randint excludes the upper bound
    return list(args)


def flatten(space: dict, prefix: str = "") -> dict:
    """Dotted keys for nested sections ({optim: {lr: {...}}}, as `--set space.optim.lr=...` makes)."""
    out = {}
    for key, spec in space.items():
        if isinstance(spec, dict) and spec and all(isinstance(v, dict) for v in spec.values()):
            out |= flatten(spec, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = spec
    return out


def validate(space: dict[str, dict], base: dict) -> dict[str, tuple[str, list]]:
    """Parse every entry and check its values against PretrainConfig on top of `base`."""
    parsed = {}
    for key, spec in flatten(space).items():
        tp = field_type(key)
        kind, args = parse(key, spec)
        if kind in ("loguniform", "uniform") and tp is not float:
            raise ConfigError(f"space.{key}: {kind} draws floats but {key} is {getattr(tp, '__name__', tp)}; "
                              "use randint or choice")
        if kind == "randint" and tp is not int:
            raise ConfigError(f"space.{key}: randint draws integers but {key} is {getattr(tp, '__name__', tp)}")
        for value in values_to_check(kind, args):
            try:
                from_dict(PretrainConfig, merge(base, {key: value}))
            except ConfigError as e:
                raise ConfigError(f"space.{key}: value {value!r} does not make a valid pretrain config: {e}") from None
        parsed[key] = (kind, args)
    return parsed


def to_ray(parsed: dict[str, tuple[str, list]], search: str) -> dict:
    """Ray Tune's param_space, flat: {'optim.lr': tune.loguniform(...), ...}."""
    out = {}
    for key, (kind, args) in parsed.items():
        if kind == "grid" or (kind == "choice" and search == "grid"):
            if search == "optuna":
                raise ConfigError(f"space.{key}: optuna cannot enumerate a grid; use choice or search: random")
            out[key] = tune.grid_search(list(args))
        elif search == "grid":
            raise ConfigError(f"space.{key}: search: grid enumerates choice/grid values only, not {kind}")
        else:
            out[key] = {"loguniform": tune.loguniform, "uniform": tune.uniform, "randint": tune.randint,
                        "choice": lambda *a: tune.choice(list(a))}[kind](*args)
    return out


def upper_bound(parsed: dict[str, tuple[str, list]], key: str, default: Any) -> Any:
    """The largest value `key` can take in this space (or `default` when it is not searched)."""
    if key not in parsed:
        return default
    kind, args = parsed[key]
    return max(values_to_check(kind, args))


def _is_section(key: str) -> bool:
    cls: Any = PretrainConfig
    for part in key.split("."):
        hints = typing.get_type_hints(cls) if dataclasses.is_dataclass(cls) else {}
        if part not in hints:
            return False
        cls = hints[part]
    return dataclasses.is_dataclass(cls)


def _number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False
