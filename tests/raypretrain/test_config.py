import dataclasses
from dataclasses import dataclass, field
from typing import Literal

import pytest

from datapipe import config as dp_config
from raypretrain.config import ConfigError, field_docs, from_dict, load, set_dotted, to_dict


@dataclass(frozen=True)
class Inner:
    lr: float = 1e-3
    """Learning rate."""
    name: str | None = None
    """Optional name."""


@dataclass(frozen=True)
class Outer:
    steps: int = 10
    """Steps."""
    mode: Literal["a", "b"] = "a"
    """Mode."""
    tags: tuple[str, ...] = ()
    """Tags."""
    inner: Inner = field(default_factory=Inner)
    """Inner section."""


def test_defaults_and_nested_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("steps: 5\ninner:\n  lr: 0.1\n")
    cfg = load(Outer, path, ["inner.lr=3e-4", "tags=[x, y]", "mode=b"])
    assert cfg == Outer(steps=5, mode="b", tags=("x", "y"), inner=Inner(lr=3e-4))
    assert from_dict(Outer, to_dict(cfg)) == cfg


@pytest.mark.parametrize("data, message", [
    ({"stepz": 1}, "unknown config key 'stepz'"),
    ({"inner": {"lrr": 1}}, "unknown config key 'inner.lrr'"),
    ({"steps": "ten"}, "steps: expected int, got str"),
    ({"steps": 1.5}, "steps: expected int"),
    ({"steps": True}, "steps: expected int, got bool"),
    ({"inner": {"lr": "fast"}}, "inner.lr: expected a number"),
    ({"mode": "c"}, "mode: 'c' is not one of 'a', 'b'"),
    ({"tags": "x"}, "tags: expected a list"),
    ({"inner": 3}, "inner: expected a mapping"),
])
def test_bad_values_name_the_key(data, message):
    with pytest.raises(ConfigError) as e:
        from_dict(Outer, data)
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_int_is_accepted_for_float_and_none_for_optional():
    cfg = from_dict(Outer, {"inner": {"lr": 1, "name": None}})
    assert cfg.inner.lr == 1.0 and isinstance(cfg.inner.lr, float)


def test_override_syntax_errors():
    with pytest.raises(ConfigError, match="key.sub=value"):
        set_dotted({}, "no_equals_sign")
    with pytest.raises(ConfigError, match="not a section"):
        set_dotted({"steps": 3}, "steps.x=1")


def test_missing_and_invalid_yaml_files(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load(Outer, tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps: [1,\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load(Outer, bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load(Outer, listy)


def _config_classes(module):
    return [v for v in vars(module).values() if dataclasses.is_dataclass(v) and v.__module__ == module.__name__]


@pytest.mark.parametrize("cls", _config_classes(dp_config), ids=lambda c: c.__name__)
def test_every_config_field_has_a_docstring(cls):
    docs = field_docs(cls)
    missing = [f.name for f in dataclasses.fields(cls) if not docs.get(f.name)]
    assert not missing, f"{cls.__name__} fields without a docstring: {missing}"
    assert cls.__dataclass_params__.frozen


def test_bare_yes_and_no_fill_a_yes_no_literal():
    from pretrain.config import PretrainConfig

    for word in ("yes", "no"):
        assert load(PretrainConfig, None, [f"scaling.use_gpu={word}"]).scaling.use_gpu == word
    with pytest.raises(ConfigError, match="mode: True is not one of 'a', 'b'"):
        from_dict(Outer, {"mode": True})
