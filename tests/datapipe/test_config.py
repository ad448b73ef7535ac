from pathlib import Path

import pytest

from datapipe.config import DatapipeConfig
from raypretrain.config import ConfigError, from_dict, load

CONFIGS = sorted((Path(__file__).parents[2] / "configs" / "datapipe").glob("*.yaml"))


def test_there_are_shipped_configs():
    assert CONFIGS


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_config_loads(path):
    assert isinstance(load(DatapipeConfig, path), DatapipeConfig)


@pytest.mark.parametrize("data, message", [
    ({"sources": [{"name": "a", "paths": ["x"]}, {"name": "a", "paths": ["y"]}]}, "duplicate source name"),
    ({"sources": [{"name": "a"}]}, "sources.a.paths: no input paths"),
    ({"pack": {"val_fraction": 1.5}}, "pack.val_fraction"),
    ({"tokenize": {"vocab_size": 100}}, "tokenize.vocab_size"),
])
def test_validation(data, message):
    with pytest.raises(ConfigError, match=message):
        from_dict(DatapipeConfig, data)
