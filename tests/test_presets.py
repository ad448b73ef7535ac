"""Shipped presets are package data: found by bare name from any folder, and every one of them,
like every config built from its defaults alone, passes the checks a run makes before work."""
from __future__ import annotations

import dataclasses
import typing

import pytest

import configs
from datapipe.config import DatapipeConfig
from raypretrain.config import ConfigError, load
from pretrain.config import PretrainConfig
from tune.config import TuneConfig

CLASSES = {"datapipe": DatapipeConfig, "pretrain": PretrainConfig, "tune": TuneConfig}
PRESETS = [(job, name) for job in configs.JOBS for name in configs.presets(job)]


def test_every_job_ships_presets_and_each_says_what_it_is_for():
    assert {job for job, _ in PRESETS} == set(configs.JOBS)
    assert ("pretrain", "debug") in PRESETS and ("tune", "debug") in PRESETS
    for job, name in PRESETS:
        assert configs.describe(configs.presets(job)[name]), f"{job}/{name}.yaml has no leading comment"


@pytest.mark.parametrize("job, name", PRESETS)
def test_a_preset_loads_by_bare_name_from_any_folder(job, name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load(CLASSES[job], name, job=job)
    assert cfg == load(CLASSES[job], f"{name}.yaml", job=job) == load(CLASSES[job], configs.presets(job)[name])
    if job == "pretrain":
        cfg.check_sample_data()


def test_an_unknown_preset_names_the_known_ones(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"config file not found: nope \(presets: .*debug"):
        load(PretrainConfig, "nope", job="pretrain")


def test_a_file_in_the_cwd_wins_over_a_preset_of_the_same_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "debug").write_text("train:\n  max_steps: 7\n")
    assert load(PretrainConfig, "debug", job="pretrain").train.max_steps == 7


@pytest.mark.parametrize("cls", [DatapipeConfig, PretrainConfig, TuneConfig])
def test_every_config_class_builds_from_its_defaults(cls):
    def build(c) -> int:  # every nested section too, from its own defaults
        nested = [t for t in typing.get_type_hints(c).values() if dataclasses.is_dataclass(t)]
        c()
        return 1 + sum(build(t) for t in nested)
    assert build(cls) >= 3


def test_the_pretrain_defaults_agree_with_the_sample_shards_they_build():
    # Before, PretrainConfig() had model.seq_len 256 and data.datapipe.pack.seq_len 512, so a
    # run from the defaults built its sample shards and then stopped on the mismatch.
    cfg = PretrainConfig()
    cfg.check_sample_data()
    assert cfg.model.seq_len == cfg.data.datapipe.pack.seq_len
    assert cfg.model.vocab_size >= cfg.data.datapipe.tokenize.vocab_size


@pytest.mark.parametrize("override, message", [
    ("model.seq_len=64", "model.seq_len: 64 but data.datapipe.pack.seq_len is 256"),
    ("model.vocab_size=4000", "model.vocab_size: 4000 is smaller than data.datapipe.tokenize.vocab_size 8192"),
    ("train.objective=mlm", "8192 + 1 mask token"),
])
def test_a_sample_data_mismatch_is_found_from_the_config_alone(override, message):
    cfg = load(PretrainConfig, None, [override, "train.global_batch_tokens=8192"])
    with pytest.raises(ConfigError, match=message.replace("+", r"\+")):
        cfg.check_sample_data()
