"""Checkpoints we can trust: completion markers, resuming only from complete checkpoints, the
tokenizer check, safe loads, staging leftovers and the universal conversion.

The checkpoint files are real: one DeepSpeed engine saves them with our own save_checkpoint
(tests/pretrain/engine_checkpoint.py, a few seconds in a subprocess); no training run, no Ray.
"""
from __future__ import annotations

import glob
import json
import os
import random
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from raypretrain import storage
from raypretrain.config import ConfigError, from_dict
from pretrain import checkpoint as ck
from pretrain.config import PretrainConfig
from tests.pretrain.engine_checkpoint import TINY, make
from tests.pretrain.synthetic import write_shards

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OPTIM = "engine/zero_pp_rank_0_mp_rank_00_optim_states.pt"


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    root = tmp_path_factory.mktemp("shards")
    write_shards(root)
    return root


@pytest.fixture(scope="module")
def saved(shards, tmp_path_factory):
    """A pristine ZeRO-2 checkpoint folder (copy it before changing it)."""
    out = tmp_path_factory.mktemp("saved") / "checkpoint"
    make(shards, out, stage=2)
    return out


def config(tmp_path, shards, **run) -> PretrainConfig:
    data = json.loads(json.dumps(TINY))
    data["data"] = {"shards": str(shards)}
    data["run"] = {"name": "fixture", "storage_path": str(tmp_path / "runs"), **run}
    return from_dict(PretrainConfig, data)


def main_args(tmp_path, shards) -> list[str]:
    """`python -m pretrain` arguments for the tiny config on `shards`."""
    import yaml

    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(json.loads(json.dumps(TINY))))
    return ["--config", str(path), "--set", f"data.shards={shards}", "--set", f"run.storage_path={tmp_path / 'runs'}"]


def run_folder(tmp_path, saved, names, registered=()) -> list:
    """A Ray run folder holding a copy of `saved` per name (oldest first), and Ray's snapshot listing `registered`."""
    run = tmp_path / "runs" / "fixture"
    paths = [shutil.copytree(saved, run / f"checkpoint_2026-01-0{i + 1}_00-00-00.000000") for i in range(len(names))]
    if registered:
        results = [{"checkpoint_dir_name": paths[names.index(n)].name, "metrics": {}} for n in registered]
        (run / ck.SNAPSHOT).write_text(json.dumps({"checkpoint_results": results,
                                                   "latest_checkpoint_result": results[-1]}))
    return paths


def damage(path, rel=OPTIM):
    """Flip a byte in the middle of a file, keeping its size."""
    with open(os.path.join(path, rel), "r+b") as f:
        f.seek(os.path.getsize(os.path.join(path, rel)) // 2)
        b = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([b[0] ^ 0xFF]))


def manifest_of(shards) -> dict:
    return json.loads((shards / "manifest.json").read_text())


# -- completion markers (item 6) ------------------------------------------------------------------------

def test_a_saved_checkpoint_lists_every_file_with_its_sha256(saved):
    marker = json.loads((saved / "complete_rank0.json").read_text())
    assert marker["rank"] == 0 and marker["world"] == 1
    files = {os.path.relpath(p, saved) for p in glob.glob(str(saved / "**"), recursive=True) if os.path.isfile(p)}
    assert set(marker["files"]) == files - {"complete_rank0.json"}
    assert {"state.json", "config.json", "tokenizer.json", "rng_rank0.pt", OPTIM} <= set(marker["files"])
    assert marker["files"]["state.json"]["sha256"] == ck.sha256_file(saved / "state.json")
    assert ck.verify(str(saved))


def test_missing_cut_short_or_changed_files_are_named(tmp_path, saved):
    cut = shutil.copytree(saved, tmp_path / "cut")
    with open(cut / OPTIM, "r+b") as f:
        f.truncate(100)
    with pytest.raises(ck.IncompleteCheckpoint, match=f"{OPTIM} has 100 bytes, its completion marker says"):
        ck.verify(str(cut))
    changed = shutil.copytree(saved, tmp_path / "changed")
    damage(changed)
    assert ck.verify(str(changed), hashes=False)  # sizes alone cannot tell
    with pytest.raises(ck.IncompleteCheckpoint, match=f"is damaged: {OPTIM} does not have the SHA-256"):
        ck.verify(str(changed))
    gone = shutil.copytree(saved, tmp_path / "gone")
    os.remove(gone / "state.json")
    with pytest.raises(ck.IncompleteCheckpoint, match="state.json is missing"):
        ck.verify(str(gone))
    two = shutil.copytree(saved, tmp_path / "two")  # rank 1 of 2 never finished uploading
    marker = json.loads((two / "complete_rank0.json").read_text())
    (two / "complete_rank0.json").write_text(json.dumps({**marker, "world": 2}))
    with pytest.raises(ck.IncompleteCheckpoint, match=r"rank 1 of 2 has no completion marker \(complete_rank1.json\)"):
        ck.verify(str(two))


def test_each_rank_hashes_its_share(tmp_path, saved):
    changed = shutil.copytree(saved, tmp_path / "changed")
    damage(changed)
    n = len(json.loads((saved / "complete_rank0.json").read_text())["files"])
    outcomes = []
    for i in range(3):
        try:
            outcomes.append(ck.verify(str(changed), share=(i, 3)))
        except ck.IncompleteCheckpoint:
            outcomes.append("bad")
    assert outcomes.count("bad") == 1 and n >= 3  # exactly one share holds the changed file


def test_auto_resume_skips_an_unregistered_checkpoint_cut_off_mid_upload(tmp_path, shards, saved, capsys):
    from pretrain.trainer import resume_point

    good, cut, bare = run_folder(tmp_path, saved, ["good", "cut", "bare"], registered=["good"])
    os.remove(cut / OPTIM)  # the upload stopped before this file
    shutil.rmtree(bare)
    (bare / "engine").mkdir(parents=True)  # a folder with no state.json at all
    latest, explicit, skip = resume_point(config(tmp_path, shards), "auto", manifest_of(shards))
    assert latest == str(good) and explicit == os.path.abspath(good)
    assert sorted(skip) == sorted([cut.name, bare.name])  # the workers must not take these from Ray either
    warnings = capsys.readouterr().err.strip().splitlines()
    assert len(warnings) == 2 and all(w.startswith("[pretrain] warning: ") for w in warnings)
    assert bare.name in warnings[0] and "no state.json" in warnings[0] and "skipping it" in warnings[0]
    assert cut.name in warnings[1] and f"{OPTIM} is missing" in warnings[1]


def test_auto_resume_falls_back_past_a_damaged_registered_checkpoint(tmp_path, shards, saved, capsys):
    from pretrain.trainer import resume_point

    good, bad = run_folder(tmp_path, saved, ["good", "bad"], registered=["good", "bad"])
    damage(bad)
    latest, _, skip = resume_point(config(tmp_path, shards), "auto", manifest_of(shards))
    assert latest == str(good) and skip == [bad.name]
    assert "is damaged" in capsys.readouterr().err
    damage(good)
    with pytest.raises(ConfigError, match="none of its checkpoints is complete"):
        resume_point(config(tmp_path, shards), "auto", manifest_of(shards))


def test_a_checkpoint_without_markers_resumes_only_if_ray_registered_it(tmp_path, shards, saved, capsys):
    """Checkpoints saved before markers existed: Ray's word that every rank reported is the only
    evidence they are whole, and loading them unchecked gets a warning."""
    from pretrain.trainer import resume_point

    old, newer = run_folder(tmp_path, saved, ["old", "newer"], registered=["old"])
    for path in (old, newer):
        os.remove(path / "complete_rank0.json")
    assert ck.registered(str(old)) and not ck.registered(str(newer))
    latest, _, _ = resume_point(config(tmp_path, shards), "auto", manifest_of(shards))
    assert latest == str(old)
    err = capsys.readouterr().err
    assert f"{newer} has no completion marker" in err and "Ray Train never registered it" in err
    assert f"{old} has no completion marker (saved by an older pretrain)" in err


# -- the tokenizer the shards were encoded with (item 5) ---------------------------------------------------

@pytest.mark.parametrize("live", [False, True])
def test_a_tokenizer_that_is_not_the_manifests_is_refused_before_training(tmp_path, shards, live):
    from pretrain.trainer import build_trainer

    copy = shutil.copytree(shards, tmp_path / "shards")
    if live:
        (tmp_path / "other.json").write_text((copy / "tokenizer.json").read_text() + " ")
        cfg = config(tmp_path, copy)
        cfg = from_dict(PretrainConfig, {**json.loads(json.dumps(TINY)), "run": {"storage_path": str(tmp_path)},
                                         "data": {"shards": str(copy), "mode": "live",
                                                  "live_tokenizer": str(tmp_path / "other.json")}})
        what = "data.live_tokenizer"
    else:
        (copy / "tokenizer.json").write_text((copy / "tokenizer.json").read_text() + " ")
        cfg, what = config(tmp_path, copy), "tokenizer.json"
    with pytest.raises(ConfigError, match=f"{what}.* is not the tokenizer the shards were encoded with"):
        build_trainer(cfg)  # raised before Ray is asked anything


def test_main_refuses_replaced_shard_tokenizer_with_one_line(tmp_path, shards, capsys):
    from pretrain.main import main

    copy = shutil.copytree(shards, tmp_path / "shards")
    (copy / "tokenizer.json").write_text("{}")
    assert main(main_args(tmp_path, copy)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("pretrain: error: ") and "is not the tokenizer" in err[0], err


def test_resume_refuses_a_checkpoint_whose_tokenizer_json_is_not_the_manifests(tmp_path, shards, saved):
    """state.json claims the shards' tokenizer, but the tokenizer.json kept beside it is another."""
    from pretrain.trainer import resume_point

    other = shutil.copytree(saved, tmp_path / "other")
    (other / "tokenizer.json").write_text("{}")
    os.remove(other / "complete_rank0.json")
    ck.seal(str(other))  # complete: the check below is about the tokenizer, not damage
    with pytest.raises(ConfigError, match="its tokenizer.json is not the tokenizer the shards were encoded with"):
        resume_point(config(tmp_path, shards, name="new"), str(other), manifest_of(shards))


# -- safe loads (item 8) ---------------------------------------------------------------------------------

def test_rng_states_load_with_weights_only_and_restore_every_stream(tmp_path):
    g = torch.Generator().manual_seed(3)
    torch.manual_seed(1), np.random.seed(2), random.seed(4), np.random.normal(), random.gauss(0, 1)
    torch.save(ck.rng_state(g), tmp_path / "rng.pt")
    before = (torch.rand(3), np.random.rand(3), random.random(), random.gauss(0, 1), torch.rand(2, generator=g))
    torch.manual_seed(9), np.random.seed(9), random.seed(9), g.manual_seed(9)
    assert ck.load_rng(str(tmp_path / "rng.pt"), g)  # torch.load(weights_only=True) inside
    after = (torch.rand(3), np.random.rand(3), random.random(), random.gauss(0, 1), torch.rand(2, generator=g))
    assert torch.equal(before[0], after[0]) and np.array_equal(before[1], after[1])
    assert before[2:4] == after[2:4] and torch.equal(before[4], after[4])


def test_an_older_pickled_rng_file_is_not_unpickled(tmp_path, saved):
    g = torch.Generator().manual_seed(5)
    torch.save({"numpy": np.random.get_state(), "python": random.getstate(), "torch": torch.get_rng_state(),
                "masking": g.get_state()}, tmp_path / "old.pt")  # what rng_rank<r>.pt held before
    expected = torch.Generator().manual_seed(5).get_state()
    assert not ck.load_rng(str(tmp_path / "old.pt"), g)
    assert torch.equal(g.get_state(), expected)
    torch.load(saved / "rng_rank0.pt", weights_only=True)  # a saved checkpoint's own file is safe to load


def test_generate_and_export_refuse_a_damaged_checkpoint_before_loading_it(tmp_path, saved, capsys):
    from pretrain import export, generate

    bad = shutil.copytree(saved, tmp_path / "bad")
    damage(bad)
    assert generate.main(["--checkpoint", str(bad), "--max-new-tokens", "2"]) == 2
    assert export.main(["--checkpoint", str(bad), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(f"is damaged: {OPTIM}" in line for line in err), err
    assert not (tmp_path / "out").exists()
    os.remove(bad / "complete_rank0.json")  # no marker, and no Ray snapshot saying it was ever whole
    assert generate.main(["--checkpoint", str(bad)]) == 2
    assert "Ray Train never registered it" in capsys.readouterr().err


def test_a_complete_checkpoint_generates_and_exports(tmp_path, saved, capsys):
    from pretrain import export, generate

    assert generate.main(["--checkpoint", str(saved), "--max-new-tokens", "3", "--temperature", "0"]) == 0
    assert export.main(["--checkpoint", str(saved), "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "model.safetensors").is_file()
    assert export.main(["--checkpoint", str(saved), "--out", str(tmp_path / "out")]) == 0  # an export is replaceable
    assert "warning" not in capsys.readouterr().err


def test_our_code_never_unpickles_with_weights_only_false():
    proc = subprocess.run(["git", "grep", "-n", "weights_only=False", "--", "*.py"], capture_output=True, text=True,
                          cwd=REPO)
    assert proc.returncode in (0, 1), proc.stderr  # 1: no match at all
    assert [line for line in proc.stdout.splitlines() if not line.startswith("tests/")] == []


# -- staging leftovers (item 9) ----------------------------------------------------------------------------

def test_a_staging_folder_is_removed_even_when_the_save_fails(tmp_path):
    with pytest.raises(RuntimeError):
        with ck.staging(str(tmp_path / "run")) as path:
            open(os.path.join(path, "engine.pt"), "w").close()
            raise RuntimeError("the save failed")
    assert not os.path.exists(path)
    assert os.path.basename(path).startswith(storage.TMP_PREFIX)


def test_stale_staging_folders_of_this_run_are_swept_and_no_others(tmp_path):
    mine, other = str(tmp_path / "runs" / "a"), str(tmp_path / "runs" / "a-2")
    stale = [ck.staging_prefix(mine) + suffix for suffix in ("x1", "y2")]
    kept = ck.staging_prefix(other) + "z3"
    for path in stale + [kept]:
        os.makedirs(os.path.join(path, "engine"))
    try:
        assert ck.sweep_staging(mine) == 2
        assert not any(os.path.exists(p) for p in stale) and os.path.isdir(kept)
    finally:
        shutil.rmtree(kept, ignore_errors=True)


def test_stale_tmp_files_in_the_run_folder_are_swept_at_the_start(tmp_path, shards, saved):
    from pretrain.trainer import tidy_run_dir

    (path,) = run_folder(tmp_path, saved, ["one"])
    leftovers = [path.parent / f"{storage.TMP_PREFIX}abc-live_position.json", path / f"{storage.TMP_PREFIX}def-state.json"]
    for p in leftovers:
        p.write_text("half")
    assert tidy_run_dir(config(tmp_path, shards)) == 2
    assert not any(p.exists() for p in leftovers) and ck.verify(str(path))


# -- the universal conversion (item 7) ---------------------------------------------------------------------

def test_a_half_written_universal_conversion_is_made_again(tmp_path, shards, saved):
    from pretrain.trainer import universal_checkpoint

    ckpt = shutil.copytree(saved, tmp_path / "ckpt")
    (ckpt / ck.UNIVERSAL / "zero").mkdir(parents=True)  # an older conversion that stopped halfway
    (ckpt / ck.UNIVERSAL / "zero" / "part.pt").write_bytes(b"half")
    (ckpt / f"{storage.TMP_PREFIX}universal-crashed").mkdir()  # a crashed conversion's temporary folder
    data = json.loads(json.dumps(TINY))
    data["train"]["global_batch_tokens"], data["scaling"]["num_workers"] = 512, 2
    cfg = from_dict(PretrainConfig, data)
    out = universal_checkpoint(str(ckpt), cfg)  # written by 1 rank, resumed on 2
    assert not (ckpt / ck.UNIVERSAL / "zero" / "part.pt").exists()
    assert out == str(ckpt / ck.UNIVERSAL) and ck.verify(out)
    assert os.path.isdir(ckpt / ck.UNIVERSAL / "zero" / "embed_tokens.weight")
    assert not glob.glob(str(ckpt / f"{storage.TMP_PREFIX}*")) and (ckpt / "latest_universal").read_text() == ck.UNIVERSAL
    stamp = os.path.getmtime(ckpt / ck.UNIVERSAL / "complete_rank0.json")
    assert universal_checkpoint(str(ckpt), cfg) == out  # complete: reused, not converted again
    assert os.path.getmtime(ckpt / ck.UNIVERSAL / "complete_rank0.json") == stamp


def test_a_failed_conversion_leaves_nothing_behind(tmp_path, saved):
    ckpt = shutil.copytree(saved, tmp_path / "ckpt")
    os.remove(ckpt / OPTIM)
    with pytest.raises(ConfigError, match="elastic resume: DeepSpeed could not convert"):
        ck.universal_conversion(str(ckpt))
    assert not (ckpt / ck.UNIVERSAL).exists() and not glob.glob(str(ckpt / f"{storage.TMP_PREFIX}*"))


# -- --resume PATH before Ray (item 10) --------------------------------------------------------------------

def test_resume_path_is_checked_before_ray_starts(tmp_path, shards, saved):
    bare = tmp_path / "bare"
    (bare / "engine").mkdir(parents=True)
    code = ("import sys, ray; from pretrain.main import main; rc = main(sys.argv[1:]); "
            "print('ray started' if ray.is_initialized() else 'ray not started'); sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code, *main_args(tmp_path, shards), "--resume", str(bare)],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    assert (proc.returncode, proc.stdout.strip()) == (2, "ray not started"), proc.stderr[-2000:]
    assert proc.stderr.strip() == f"pretrain: error: --resume {bare}: {bare} is not a checkpoint folder (no state.json)"


@pytest.mark.parametrize("broken", ["cut", "missing", "unregistered"])
def test_an_incomplete_resume_path_is_one_line_and_exit_2(tmp_path, shards, saved, broken, capsys):
    from pretrain.main import main

    path = shutil.copytree(saved, tmp_path / "ckpt")
    if broken == "cut":
        with open(path / OPTIM, "r+b") as f:
            f.truncate(10)
    elif broken == "missing":
        os.remove(path / "engine" / "mp_rank_00_model_states.pt")
    else:
        os.remove(path / "complete_rank0.json")
    assert main(main_args(tmp_path, shards) + ["--resume", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"pretrain: error: --resume {path}: checkpoint {path}"), err

