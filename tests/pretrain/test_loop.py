"""Pure parts of the loop: the LR schedule, the generated DeepSpeed config, shape checks."""
from __future__ import annotations

import json
import math
import os

import pytest

from raypretrain.config import ConfigError, from_dict
from pretrain.config import PretrainConfig
from pretrain.loop import deepspeed_config, lr_at, model_config


def cfg_of(**sections) -> PretrainConfig:
    base = {"model": {"seq_len": 128}, "train": {"global_batch_tokens": 8192, "micro_batch_size": 4},
            "scaling": {"num_workers": 2}}
    for k, v in sections.items():
        base[k] = {**base.get(k, {}), **v}
    return from_dict(PretrainConfig, base)


def test_lr_warms_up_linearly_then_decays_by_cosine_to_the_floor():
    peak, warm, total, floor = 1e-3, 10, 110, 0.1
    assert lr_at(0, peak, warm, total, floor) == pytest.approx(peak / 10)
    assert lr_at(4, peak, warm, total, floor) == pytest.approx(peak / 2)
    assert lr_at(9, peak, warm, total, floor) == pytest.approx(peak)
    assert lr_at(10, peak, warm, total, floor) == pytest.approx(peak)
    assert lr_at(60, peak, warm, total, floor) == pytest.approx(peak * (floor + (1 - floor) * 0.5))
    assert lr_at(110, peak, warm, total, floor) == pytest.approx(peak * floor)
    assert lr_at(500, peak, warm, total, floor) == pytest.approx(peak * floor)  # past the end: the floor
    decay = [lr_at(s, peak, warm, total, floor) for s in range(10, 111)]
    assert all(a >= b for a, b in zip(decay, decay[1:]))
    assert lr_at(0, peak, 0, total, floor) == pytest.approx(peak)  # no warmup


def test_batch_size_in_tokens_gives_micro_batches_and_accumulation():
    cfg = cfg_of()
    ds = deepspeed_config(cfg, on_gpu=False)
    # 8192 tokens / 128 = 64 sequences = 4 per micro-batch × 2 workers × 8 accumulation steps
    assert (ds["train_batch_size"], ds["train_micro_batch_size_per_gpu"], ds["gradient_accumulation_steps"]) == (64, 4, 8)
    assert ds["zero_optimization"] == {"stage": 2}
    assert not ds["bf16"]["enabled"] and not ds["fp16"]["enabled"]  # auto is fp32 on CPU
    assert deepspeed_config(cfg, on_gpu=True)["bf16"]["enabled"]  # and bf16 on GPU
    assert ds["gradient_clipping"] == 1.0 and ds["zero_force_ds_cpu_optimizer"] is False


def test_offload_and_precision_switches():
    ds = deepspeed_config(cfg_of(deepspeed={"zero_stage": 3, "offload_optimizer": True, "offload_params": True,
                                            "precision": "fp16"}), on_gpu=True)
    assert ds["zero_optimization"]["offload_optimizer"]["device"] == "cpu"
    assert ds["zero_optimization"]["offload_param"]["device"] == "cpu"
    assert ds["fp16"]["enabled"] and not ds["bf16"]["enabled"]


def test_raw_deepspeed_json_is_merged_on_top(tmp_path):
    raw = tmp_path / "ds.json"
    raw.write_text(json.dumps({"zero_optimization": {"reduce_bucket_size": 1000}, "gradient_clipping": 0.5}))
    ds = deepspeed_config(cfg_of(deepspeed={"config_file": str(raw)}), on_gpu=False)
    assert ds["zero_optimization"] == {"stage": 2, "reduce_bucket_size": 1000}
    assert ds["gradient_clipping"] == 0.5


@pytest.mark.parametrize("sections, message", [
    ({"train": {"global_batch_tokens": 1000}}, "train.global_batch_tokens: 1000 is not a positive multiple"),
    ({"deepspeed": {"zero_stage": 4}}, r"deepspeed.zero_stage: 4 is out of range; allowed: in \[0, 3\]"),
    ({"deepspeed": {"offload_params": True}}, "deepspeed.offload_params: needs deepspeed.zero_stage=3"),
    ({"model": {"n_head": 3}}, "model.n_head: must divide d_model"),
    ({"data": {"weights": {"a": -1.0}}}, "data.weights"),
])
def test_bad_configs_name_the_key(sections, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        cfg_of(**sections)


def test_token_budget_ends_training_before_max_steps():
    cfg = cfg_of(train={"max_steps": 1000, "max_tokens": 8192 * 10 + 1})
    assert cfg.total_steps() == 11
    assert cfg_of(train={"max_steps": 5, "max_tokens": 10**9}).total_steps() == 5


def test_model_must_fit_the_shards():
    manifest = {"vocab_size": 8192, "seq_len": 128}
    assert model_config(cfg_of(), manifest).vocab_size == 8192
    with pytest.raises(ConfigError, match="model.vocab_size: 8192 is smaller than the tokenizer's 8192 \\+ 1 mask"):
        model_config(cfg_of(train={"objective": "mlm"}), manifest)
    with pytest.raises(ConfigError, match="model.seq_len: 128 but the shards hold seq_len 256"):
        model_config(cfg_of(), {"vocab_size": 100, "seq_len": 256})


def test_every_shipped_preset_parses():
    import glob

    from raypretrain.config import load

    presets = sorted(glob.glob("configs/pretrain/*.yaml"))
    assert {p.split("/")[-1] for p in presets} >= {"debug.yaml", "124m.yaml", "350m.yaml", "760m.yaml", "1.3b.yaml"}
    for path in presets:
        cfg = load(PretrainConfig, path)
        assert cfg.grad_accum_steps() >= 1 and math.isfinite(cfg.optim.lr)


def test_run_paths_are_derived_once_from_the_config(tmp_path, monkeypatch):
    from pretrain.paths import RunPaths

    monkeypatch.chdir(tmp_path)
    local = RunPaths.of(cfg_of(run={"name": "r", "storage_path": "runs"}))
    assert (local.storage_path, local.remote, local.run_dir) == (str(tmp_path / "runs"), False, str(tmp_path / "runs" / "r"))
    assert local.tensorboard == str(tmp_path / "runs" / "r" / "tensorboard") and local.tensorboard_mirror is None
    assert local.live_position == str(tmp_path / "runs" / "r" / "live_position.json")
    assert (local.trace, local.report) == (str(tmp_path / "runs" / "r" / "trace"), str(tmp_path / "runs" / "r" / "report"))
    remote = RunPaths.of(cfg_of(run={"name": "r", "storage_path": "s3://bucket/runs"}))
    assert (remote.storage_path, remote.remote, remote.run_dir) == ("s3://bucket/runs", True, "s3://bucket/runs/r")
    assert remote.tensorboard == str(tmp_path / "outputs" / "tensorboard" / "r")  # local, mirrored into the storage
    assert remote.tensorboard_mirror == "s3://bucket/runs/r/tensorboard"
    assert remote.report == os.path.join("outputs", "report", "r", "report")
    given = RunPaths.of(cfg_of(run={"storage_path": "s3://b/x", "tensorboard_dir": "tb"}))
    assert given.tensorboard == str(tmp_path / "tb") and given.tensorboard_mirror == "s3://b/x/debug/tensorboard"


def test_worker_inputs_cross_the_ray_boundary_as_plain_data_and_come_back_equal():
    from raypretrain.config import to_dict
    from pretrain.paths import ResumeFrom, RunPaths, WorkerInputs

    cfg = cfg_of()
    inputs = WorkerInputs(config=cfg, manifest={"seq_len": 128, "shards": [{"path": "a.npy", "blocks": 3}]},
                          paths=RunPaths.of(cfg), tokenizer="/data/tokenizer.json", per_rank=True,
                          resume=ResumeFrom("/runs/x/checkpoint_1", None, ("checkpoint_2",)), progress="board")
    plain = json.loads(json.dumps(to_dict(inputs)))  # nothing but JSON: no arrays, no tokenizer text
    assert from_dict(WorkerInputs, plain) == inputs
    assert from_dict(WorkerInputs, to_dict(WorkerInputs(cfg, {}, RunPaths.of(cfg), "t.json", False))).resume == ResumeFrom()


def _write_run(tb_dir, resumed_at: int, steps: range, value: float) -> None:
    """What rank 0's writer records for train/loss over `steps`, opened as a run resumed at `resumed_at`."""
    import torch

    from pretrain.loop import Training, open_writer
    from pretrain.paths import RunPaths

    cfg = cfg_of(run={"tensorboard_dir": str(tb_dir)})
    t = Training(None, cfg, {}, torch.device("cpu"), torch.Generator(), paths=RunPaths.of(cfg),
                 state={"step": resumed_at, "samples": 0})
    writer = open_writer(t)
    for s in steps:
        writer.add_scalar("train/loss", value, s)
    writer.close()


@pytest.mark.parametrize("orphans", [False, True])
def test_a_resumed_run_gets_a_fresh_event_file_and_every_step_once(tmp_path, caplog, orphans):
    """Issue I: after a resume TensorBoard logged 'Detected out of order event.step … Purging expired
    events'. The first run checkpointed at step 8; with `orphans` it was killed after writing steps 9-12."""
    import logging
    import time

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from pretrain.report import scalars

    tb = tmp_path / "tb"
    _write_run(tb, 0, range(1, 13 if orphans else 9), 1.0)
    time.sleep(1.1)  # event files are named by the second they were opened in; TensorBoard reads them in name order
    _write_run(tb, 8, range(9, 17), 2.0)
    files = sorted(os.listdir(tb))
    assert len(files) == 2 and files[1].endswith(".resumed-at-8") and not files[0].endswith(".resumed-at-8")
    expected = [(s, 1.0 if s <= 8 else 2.0) for s in range(1, 17)]
    with caplog.at_level(logging.WARNING, logger="tensorboard"):
        assert scalars(str(tb))["train/loss"] == expected
        assert not caplog.records  # our report reads it silently, orphans or not
        acc = EventAccumulator(str(tb))
        acc.Reload()
    assert [(e.step, e.value) for e in acc.Scalars("train/loss")] == expected  # each step once
    purged = [r for r in caplog.records if "out of order" in r.getMessage()]
    assert len(purged) == int(orphans)  # TensorBoard itself only speaks when it drops what a killed run wrote
