"""The search space, pure: parsing, validation against PretrainConfig, Ray domains, and the
shipped sweep configs."""
from __future__ import annotations

import glob
import os

import pytest
from ray import tune

from raypretrain.config import ConfigError, from_dict, load, to_dict
from pretrain.config import PretrainConfig
from tune import space
from tune.config import TuneConfig
from tune.main import base_config

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BASE = to_dict(PretrainConfig())


def test_every_distribution_becomes_its_ray_domain():
    parsed = space.validate({"optim.lr": {"loguniform": ["1e-4", 1e-2]}, "optim.weight_decay": {"uniform": [0.0, 0.2]},
                             "optim.warmup_steps": {"randint": [0, 50]}, "train.micro_batch_size": {"choice": [4, 8]},
                             "deepspeed.zero_stage": {"grid": [0, 2]}}, BASE)
    assert parsed["optim.lr"] == ("loguniform", [1e-4, 1e-2])  # "1e-4" (a YAML string) read as a number
    ray_space = space.to_ray(parsed, "random")
    lr = ray_space["optim.lr"]
    assert isinstance(lr, tune.search.sample.Float) and (lr.lower, lr.upper) == (1e-4, 1e-2)
    assert isinstance(lr.get_sampler(), tune.search.sample.LogUniform)
    assert isinstance(ray_space["optim.weight_decay"].get_sampler(), tune.search.sample.Uniform)
    assert (ray_space["optim.warmup_steps"].lower, ray_space["optim.warmup_steps"].upper) == (0, 50)
    assert ray_space["train.micro_batch_size"].categories == [4, 8]
    assert ray_space["deepspeed.zero_stage"] == {"grid_search": [0, 2]}
    # search: grid enumerates choices too; optuna cannot take a grid
    assert space.to_ray({"train.micro_batch_size": ("choice", [4, 8])}, "grid") == {
        "train.micro_batch_size": {"grid_search": [4, 8]}}
    with pytest.raises(ConfigError, match="space.deepspeed.zero_stage: optuna cannot enumerate a grid"):
        space.to_ray({"deepspeed.zero_stage": ("grid", [0, 2])}, "optuna")
    with pytest.raises(ConfigError, match="space.optim.lr: search: grid enumerates choice/grid values only"):
        space.to_ray({"optim.lr": ("uniform", [0.1, 0.2])}, "grid")


@pytest.mark.parametrize("spec, message", [
    ({"optim.lrr": {"uniform": [0, 1]}}, "space.optim.lrr: optim has no field 'lrr'"),
    ({"nope.lr": {"uniform": [0, 1]}}, "space.nope.lr: the pretrain config has no field 'nope'"),
    ({"optim": {"uniform": [0, 1]}}, "space.optim: is a section, not a field"),
    ({"optim.lr.x": {"uniform": [0, 1]}}, "space.optim.lr.x: lr is not a section"),
    ({"train.micro_batch_size": {"choice": []}}, "space.train.micro_batch_size: choice needs at least one value"),
    ({"deepspeed.zero_stage": {"grid": []}}, "space.deepspeed.zero_stage: grid needs at least one value"),
    ({"optim.lr": {"loguniform": [1e-2, 1e-4]}}, "space.optim.lr: low 0.01 must be below high 0.0001"),
    ({"optim.lr": {"uniform": [0.1, 0.1]}}, "space.optim.lr: low 0.1 must be below high 0.1"),
    ({"optim.lr": {"normal": [0, 1]}}, "space.optim.lr: unknown distribution 'normal'"),
    ({"optim.lr": {"uniform": [0, 1], "choice": [1]}}, "space.optim.lr: expected one of"),
    ({"optim.lr": 0.1}, "space.optim.lr: expected one of"),
    ({"optim.lr": {"uniform": [0.1]}}, "space.optim.lr: uniform takes [low, high] numbers"),
    ({"optim.lr": {"loguniform": [0, 1]}}, "space.optim.lr: loguniform needs low > 0"),
    ({"optim.warmup_steps": {"uniform": [0, 10]}}, "space.optim.warmup_steps: uniform draws floats but optim.warmup_steps is int"),
    ({"optim.lr": {"randint": [1, 5]}}, "space.optim.lr: randint draws integers but optim.lr is float"),
    ({"deepspeed.zero_stage": {"choice": [0, 5]}}, "space.deepspeed.zero_stage: value 5 does not make a valid pretrain config"),
    ({"train.micro_batch_size": {"choice": ["eight"]}}, "space.train.micro_batch_size: value 'eight' does not make"),
    ({"train.mlm_prob": {"uniform": [0.0, 0.5]}}, "space.train.mlm_prob: value 0.0 does not make a valid pretrain config"),
])
def test_bad_space_names_the_field(spec, message):
    with pytest.raises(ConfigError) as e:
        space.validate(spec, BASE)
    assert str(e.value).startswith(message), str(e.value)
    assert "\n" not in str(e.value)


def test_nested_space_sections_are_dotted_keys():
    parsed = space.validate({"optim": {"lr": {"uniform": [0.1, 0.2]}, "beta2": {"choice": [0.95, 0.99]}}}, BASE)
    assert parsed == {"optim.lr": ("uniform", [0.1, 0.2]), "optim.beta2": ("choice", [0.95, 0.99])}


def test_merge_takes_dotted_keys_and_sections_but_sets_mapping_fields_whole():
    base = to_dict(PretrainConfig(data=from_dict(PretrainConfig, {"data": {"weights": {"a": 1.0}}}).data))
    out = space.merge(base, {"train.max_steps": 7, "optim": {"lr": 0.5}, "data": {"weights": {"b": 2.0}},
                             "data.datapipe.pack.seq_len": 64})
    cfg = from_dict(PretrainConfig, out)
    assert (cfg.train.max_steps, cfg.optim.lr, cfg.data.weights, cfg.data.datapipe.pack.seq_len) == (7, 0.5, {"b": 2.0}, 64)
    assert cfg.optim.beta1 == 0.9 and base["train"]["max_steps"] == 300  # the rest kept, the input untouched


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(REPO, "configs", "tune", "*.yaml"))))
def test_shipped_sweeps_parse_and_their_spaces_validate(path, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # base.config names a shipped pretrain preset, found from any folder
    tcfg = load(TuneConfig, path)
    parsed = space.validate(tcfg.space, to_dict(base_config(tcfg)))
    assert parsed and space.to_ray(parsed, tcfg.search)


def test_the_default_sweep_is_the_debug_one():
    tcfg = load(TuneConfig, os.path.join(REPO, "configs", "tune", "debug.yaml"))
    assert tcfg.base.config == "debug" and tcfg.scheduler.kind == "asha"
    assert load(TuneConfig, "debug", job="tune") == tcfg  # the bare name a plain `python -m tune` uses
