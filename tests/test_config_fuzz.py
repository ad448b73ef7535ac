"""Every field of every config, given values of the wrong sign, zero, huge and of the wrong type,
through each job's real command line (`--check`, which stops before any work): each case either
exits 2 with one line naming the key, or is a valid config (exit 0). Never a traceback.

The fields are enumerated with dataclasses.fields, so a new field is fuzzed without editing this."""
from __future__ import annotations

import dataclasses
import typing
from typing import Any, Literal, get_args, get_origin

import pytest

from datapipe.config import DatapipeConfig
from pretrain.config import PretrainConfig
from tune.config import TuneConfig


def leaves(cls: type, prefix: str = "") -> list[tuple[str, Any]]:
    """(dotted key, type) of every non-dataclass field below `cls`."""
    out = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp, key = hints[f.name], f"{prefix}{f.name}"
        if dataclasses.is_dataclass(tp):
            out += leaves(tp, key + ".")
        else:
            out.append((key, tp))
    return out


def bad_values(tp: Any) -> list[str]:
    """YAML texts for --set: wrong sign, zero, huge, NaN, and of the wrong type for `tp`."""
    origin, args = get_origin(tp), get_args(tp)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        tp = next(a for a in args if a is not type(None))
        origin, args = get_origin(tp), get_args(tp)
    if tp in (int, float):
        return ["-1", "0", "1000000000000", "-1e300", ".nan", "x", "[1]", "true"]
    if tp is bool:
        return ["3", "x", "[]"]
    if tp is str:
        return ["3", "''", "../../x", "[a]"]
    if origin is Literal:
        return ["nope", "3"]
    if origin in (tuple, list):
        return ["x", "[-1]", "[0]", "['../x']", "[]", "{a: 1}"]
    if origin is dict:
        return ["x", "{a: -1}", "{a: 0}", "{'': 1}", "[1]"]
    return ["x", "-1", "0"]


JOBS = {"datapipe": DatapipeConfig, "pretrain": PretrainConfig, "tune": TuneConfig}
CASES = [(job, key, value) for job, cls in JOBS.items() for key, tp in leaves(cls) for value in bad_values(tp)
         if not (job == "datapipe" and key == "sources")]  # the sources list is fuzzed through --input below


def job_main(job: str):
    if job == "datapipe":
        from datapipe.main import main
    elif job == "pretrain":
        from pretrain.main import main
    else:
        from tune.main import main
    return main


@pytest.mark.parametrize("job", sorted(JOBS))
def test_every_field_of_every_config_is_fuzzed_through_the_cli(job, tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(tmp_path)  # relative paths (outputs/…) land here; nothing is created by --check
    main, seen, valid = job_main(job), 0, 0
    for _, key, value in (c for c in CASES if c[0] == job):
        code = main(["--check", "--set", f"{key}={value}"])
        out, err = capfd.readouterr()
        assert code in (0, 2), (key, value, code, err)
        assert "Traceback" not in out + err, (key, value, err)
        if code == 2:
            assert err.count("\n") == 1 and err.startswith(f"{job}: error: "), (key, value, err)
        else:
            assert "config OK" in out, (key, value, out)
            valid += 1
        seen += 1
    assert seen > 20 and valid < seen  # the fuzzing ran, and it found values to refuse
    assert not list(tmp_path.iterdir()), "--check must not create anything"


@pytest.mark.parametrize("value, message", [
    ("dedup.near.max_shingles=0", "dedup.near.max_shingles: 0 is out of range"),
    ("dedup.near.index_shards=0", "dedup.near.index_shards: 0 is out of range"),
    ("dedup.num_buckets=-3", "dedup.num_buckets: -3 is out of range"),
    ("dedup.near.ngram=0", "dedup.near.ngram: 0 is out of range"),
    ("sample_docs=-5", "sample_docs: -5 is out of range"),
    ("pack.val_fraction=.nan", "pack.val_fraction: nan is out of range"),
])
def test_the_values_that_went_wrong_later_are_refused_up_front(value, message, capfd):
    from datapipe.main import main

    assert main(["--check", "--set", value]) == 2
    assert message in capfd.readouterr().err


@pytest.mark.parametrize("job, value, message", [
    ("pretrain", "optim.lr=0", "optim.lr: 0.0 is out of range"),
    ("pretrain", "train.eval_blocks=0", "train.eval_blocks: 0 is out of range"),
    ("pretrain", "run.name=../../x", "run.name: '../../x' must be a plain name"),
    ("tune", "name=..", "name: '..' must be a plain name"),
])
def test_pretrain_and_tune_values_that_went_wrong_later(job, value, message, tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(tmp_path)
    assert job_main(job)(["--check", "--set", value]) == 2
    assert message in capfd.readouterr().err


@pytest.mark.parametrize("item", ["[z-a]*.jsonl", "foo://x", "a=", "=x", "../../../../no/such"])
def test_inputs_that_ended_in_tracebacks(item, tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(tmp_path)
    from datapipe.main import main

    assert main(["--check", "--input", item]) == 2
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and err.startswith("datapipe: error: ") and "Traceback" not in err
