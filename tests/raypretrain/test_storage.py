"""Storage helpers: durable atomic writes, stale temp files, and the guards in front of deletes."""
from __future__ import annotations

import os
import time

import pytest

from raypretrain import storage
from raypretrain.config import ConfigError


def test_write_bytes_leaves_only_the_final_file(tmp_path):
    loc = storage.resolve(str(tmp_path / "d" / "manifest.json"))
    storage.write_bytes(loc, b"{}")
    storage.write_bytes(loc, b'{"a": 1}')  # replaced in place
    assert os.listdir(tmp_path / "d") == ["manifest.json"]
    assert (tmp_path / "d" / "manifest.json").read_bytes() == b'{"a": 1}'


def test_a_failed_write_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "d" / "x.json"
    target.mkdir(parents=True)  # a folder in the way: the rename fails
    with pytest.raises(OSError):
        storage.write_bytes(storage.resolve(str(target)), b"{}")
    assert os.listdir(tmp_path / "d") == ["x.json"]


def test_sweep_tmp_removes_only_stale_hidden_temporaries(tmp_path):
    (tmp_path / "a").mkdir()
    old, new, keep = tmp_path / "a" / ".tmp-1-x.parquet", tmp_path / ".tmp-2-y.npy", tmp_path / "a" / "x.parquet"
    for p in (old, new, keep):
        p.write_bytes(b"x")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    assert storage.sweep_tmp(storage.resolve(str(tmp_path)), older_than_s=600) == 1
    assert not old.exists() and new.exists() and keep.exists()
    assert storage.sweep_tmp(storage.resolve(str(tmp_path))) == 1 and keep.exists()


@pytest.mark.parametrize("output, inputs, overlaps", [
    ("a", ["a"], True), ("proj", ["proj/raw"], True), ("proj/raw/out", ["proj/raw"], True),
    ("proj", ["proj/raw/*.jsonl"], True), ("out", ["proj/raw/*.jsonl"], False), ("proj/rawer", ["proj/raw"], False),
    ("s3://b/x", ["s3://b/x/raw/"], True), ("s3://b/y", ["s3://b/x"], False), ("s3://b/x", ["gs://b/x"], False),
])
def test_refuse_overlap(output, inputs, overlaps, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if overlaps:
        with pytest.raises(ConfigError, match="overlaps the input"):
            storage.refuse_overlap(output, inputs)
    else:
        storage.refuse_overlap(output, inputs)


def test_refuse_overlap_follows_symlinks(tmp_path):
    (tmp_path / "raw").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "raw")
    with pytest.raises(ConfigError):
        storage.refuse_overlap(str(tmp_path / "link"), [str(tmp_path / "raw")])


def test_check_replaceable(tmp_path):
    check = lambda p: storage.check_replaceable(storage.resolve(str(p)), ("manifest.json", "_work/run.json"), "output")
    check(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    check(tmp_path / "empty")
    (tmp_path / "ours" / "_work").mkdir(parents=True)
    (tmp_path / "ours" / "_work" / "run.json").write_text("{}")
    check(tmp_path / "ours")
    (tmp_path / "theirs").mkdir()
    (tmp_path / "theirs" / "notes.txt").write_text("x")
    with pytest.raises(ConfigError, match="refusing to delete"):
        check(tmp_path / "theirs")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        check(tmp_path / "file")
