"""What one job offers another for training: the sample shards, the data checks, the resume point
and the TorchTrainer (`build_trainer`, which tune's trials run too)."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os

import ray
import ray.train
from ray.data import ExecutionOptions
from ray.train.torch import TorchTrainer

from cluster.placement import gpus_available
from datapipe.job import run as run_datapipe
from datapipe.live import live_dataset
from datapipe.stats import summary
from pretrain.checkpoint import (check_complete, check_resumable, checkpoint_folders, latest_checkpoint,
                                 load_tokenizer, universal_conversion, warn)
from pretrain.config import PretrainConfig
from pretrain.data import check_val, load_manifest, rank_dataset, run_mix
from pretrain.loop import model_config, train_func
from pretrain.paths import ResumeFrom, RunPaths, WorkerInputs
from raypretrain import storage
from raypretrain.config import ConfigError, to_dict
from raypretrain.console import header
from raypretrain.ray_env import data_progress_bars

logger = logging.getLogger("pretrain")

SAMPLE_SHARDS = "outputs/pretrain-data"
"""Sample shards are built here (one folder per datapipe config), below the folder the job runs in."""


def ensure_shards(cfg: PretrainConfig) -> PretrainConfig:
    """With no data.shards, build the sample corpus with datapipe (once per datapipe config)."""
    if cfg.data.shards:
        root = storage.resolve(cfg.data.shards)  # absolute: Ray workers do not share the driver's cwd
        if not storage.exists(root.join("manifest.json")):
            raise ConfigError(f"data.shards: no manifest.json in {cfg.data.shards} (run python -m datapipe first)")
        return dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, shards=root.uri))
    # One folder per datapipe config, so runs with different data settings never clobber each other.
    key = hashlib.sha256(json.dumps(to_dict(cfg.data.datapipe), sort_keys=True).encode()).hexdigest()[:12]
    dp = dataclasses.replace(cfg.data.datapipe, output=os.path.join(SAMPLE_SHARDS, key))
    if not storage.exists(storage.resolve(dp.output).join("manifest.json")):
        header("data: the sample corpus through datapipe")
        logger.info(f"[pretrain] building the sample shards with datapipe into {dp.output}")
        with data_progress_bars():
            stats = run_datapipe(dp, overwrite=True, verbose=cfg.run.verbose)
        logger.info(summary(*stats))
    return dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, shards=storage.resolve(dp.output).uri))


def datasets_for(cfg: PretrainConfig, manifest: dict, tokenizer: str, paths: RunPaths) -> tuple[dict, bool]:
    """({name: Dataset}, per_rank): per-rank deterministic shard streams, or the live pipeline."""
    if cfg.data.mode == "live":
        return {"train": live_dataset(cfg.data.datapipe, tokenizer, cfg.model.seq_len,
                                      position=paths.live_position)}, False
    world = cfg.scaling.num_workers
    per_rank = cfg.total_steps() * cfg.seqs_per_step() // world
    mix = run_mix(cfg, manifest)
    return {f"train_{r}": rank_dataset(cfg.data.shards, manifest, mix, cfg.data.seed, r, world,
                                       start=0, count=per_rank, batch_size=cfg.train.micro_batch_size)
            for r in range(world)}, True


def tokenizer_uri(cfg: PretrainConfig) -> str:
    """The tokenizer.json to encode with: data.live_tokenizer, or the shards' own (absolute: Ray workers
    do not share the driver's cwd)."""
    if cfg.data.live_tokenizer:
        return storage.resolve(cfg.data.live_tokenizer).uri
    return storage.resolve(cfg.data.shards).join("tokenizer.json").uri


def check_data(cfg: PretrainConfig) -> tuple[dict, str]:
    """(manifest, tokenizer.json text) of the shards, once the model shape fits them and the tokenizer is
    the one the manifest records (a tokenizer.json replaced after datapipe wrote the shards is refused)."""
    manifest = load_manifest(cfg.data.shards)
    model_config(cfg, manifest)
    if cfg.data.mode == "shards":
        run_mix(cfg, manifest)  # every source data.weights or data.schedule names is in the shards
    what = (f"data.live_tokenizer {cfg.data.live_tokenizer}" if cfg.data.live_tokenizer
            else f"{cfg.data.shards.rstrip('/')}/tokenizer.json")
    return manifest, load_tokenizer(tokenizer_uri(cfg), manifest, what).decode()


def resume_point(cfg: PretrainConfig, resume: str, manifest: dict) -> tuple[str | None, str | None, list[str]]:
    """(checkpoint to resume from or None, the same as an absolute path for the workers, names of the
    run's checkpoints the workers must not take from Ray instead) for --resume. Only complete
    checkpoints are chosen (pretrain.checkpoint.check_complete)."""
    paths = RunPaths.of(cfg)
    own = checkpoint_folders(paths.run_dir) if not paths.remote else []
    if resume == "never" and own:
        raise ConfigError(f"run {cfg.run.name} already has checkpoints in {paths.run_dir}; "
                          "pass --resume auto to continue it or choose another run.name")
    if resume not in ("auto", "never"):
        if own:
            raise ConfigError(f"--resume {resume}: run {cfg.run.name} already has its own checkpoints; "
                              "choose a new run.name to start from another checkpoint")
        check_resume_path(resume, hashes=True)
        latest = resume
    else:
        latest = latest_checkpoint(paths.run_dir) if own else None
    explicit = os.path.abspath(latest) if latest else None
    if latest:
        with open(os.path.join(latest, "state.json")) as f:
            check_resumable(json.load(f), manifest, latest)
    return latest, explicit, [os.path.basename(p) for p in own if os.path.abspath(p) != explicit]


def check_resume_path(resume: str, hashes: bool = False) -> None:
    """--resume PATH must be a complete checkpoint folder; without `hashes` only its files' presence
    and sizes are checked (quick, before Ray starts), with them their SHA-256 too."""
    if not os.path.isdir(resume):
        raise ConfigError(f"--resume {resume}: no such checkpoint folder")
    try:
        check_complete(resume, hashes=hashes, warn=warn if hashes else None)  # warn once, not twice
    except ConfigError as e:
        raise ConfigError(f"--resume {resume}: {e}") from None


def universal_checkpoint(checkpoint: str, cfg: PretrainConfig) -> str | None:
    """For a checkpoint written by another number of ranks: its DeepSpeed universal
    conversion (made once, inside it), which any number of ranks can load."""
    with open(os.path.join(checkpoint, "state.json")) as f:
        world = json.load(f)["world"]
    if world == cfg.scaling.num_workers:
        return None
    if cfg.deepspeed.zero_stage == 0:
        raise ConfigError(f"cannot resume a {world}-worker checkpoint with {cfg.scaling.num_workers} workers at ZeRO-0 "
                          "(no ZeRO shards to convert); use the same scaling.num_workers")
    return universal_conversion(checkpoint, f"[pretrain] elastic resume: converting {world}-rank checkpoint to a "
                                            "universal one")


def tidy_run_dir(cfg: PretrainConfig) -> int:
    """Remove the hidden `.tmp-*` files a crashed run left in its run folder (local storage only);
    called before the run starts, when nothing of it writes there."""
    return storage.sweep_tmp(storage.resolve(RunPaths.of(cfg).run_dir))


def build_trainer(cfg: PretrainConfig, resume: str = "auto", callbacks: list | None = None,
                  progress: str | None = None):
    """The TorchTrainer for cfg; `progress` names the driver's progress board (raypretrain/console.py)."""
    manifest, tokenizer = check_data(cfg)
    paths = RunPaths.of(cfg)
    latest, explicit, skip = resume_point(cfg, resume, manifest)  # files only: before Ray is asked anything
    tidy_run_dir(cfg)

    use_gpu = cfg.scaling.use_gpu == "yes" or (cfg.scaling.use_gpu == "auto" and gpus_available())
    reserved, cpus = cfg.scaling.num_workers * cfg.scaling.cpus_per_worker, ray.cluster_resources().get("CPU", 0)
    if reserved > cpus - 0.5 and not ray.cluster_resources().get("GPU", 0) and "RAY_ADDRESS" not in os.environ:
        raise ConfigError(f"scaling: {cfg.scaling.num_workers} workers × {cfg.scaling.cpus_per_worker} CPUs leave "
                          f"none of the {cpus:g} CPUs for Ray Data to read with; lower scaling.cpus_per_worker")
    datasets, per_rank = datasets_for(cfg, manifest, tokenizer, paths)
    if latest:
        logger.info(f"[pretrain] resuming from {latest}")
    inputs = WorkerInputs(
        config=cfg, manifest={k: v for k, v in manifest.items() if k != "config"}, paths=paths,
        tokenizer=tokenizer_uri(cfg), per_rank=per_rank, progress=progress,
        resume=ResumeFrom(explicit, universal_checkpoint(explicit, cfg) if explicit else None, tuple(skip)))
    check_val(cfg.data.shards, manifest)  # the workers read the validation blocks themselves
    resources = {"CPU": cfg.scaling.cpus_per_worker} | ({"GPU": 1} if use_gpu else {}) | cfg.scaling.resources_per_worker
    return TorchTrainer(
        train_func,
        train_loop_config=to_dict(inputs),
        scaling_config=ray.train.ScalingConfig(num_workers=cfg.scaling.num_workers, use_gpu=use_gpu,
                                               resources_per_worker=resources),
        run_config=ray.train.RunConfig(
            name=cfg.run.name, storage_path=paths.storage_path,
            checkpoint_config=ray.train.CheckpointConfig(num_to_keep=cfg.train.keep_checkpoints),
            failure_config=ray.train.FailureConfig(max_failures=cfg.run.max_failures), callbacks=callbacks,
            logging_config=ray.train.LoggingConfig(log_level="INFO" if cfg.run.verbose else "WARNING")),
        datasets=datasets,
        dataset_config=ray.train.DataConfig(
            datasets_to_split=[] if per_rank else "all",
            execution_options=ExecutionOptions(preserve_order=True)),
    )
