"""`python -m pretrain`: train a GPT with Ray Train + DeepSpeed on datapipe's shards.

    python -m pretrain                                        # debug preset on the sample corpus
    python -m pretrain --config configs/pretrain/124m.yaml --set data.shards=s3://bucket/shards
    python -m pretrain --set train.max_steps=50 --set deepspeed.zero_stage=3
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import os
import sys
from io import StringIO

from datapipe.typedconfig import ConfigError, load, to_dict
from pretrain.config import PretrainConfig

DEFAULT_CONFIG = "debug"
"""The shipped preset (configs/pretrain/debug.yaml) a bare `python -m pretrain` trains, from any folder."""
SAMPLE_SHARDS = "outputs/pretrain-data"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m pretrain", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default=DEFAULT_CONFIG,
                   help=f"a YAML file, or the bare name of a shipped preset (default {DEFAULT_CONFIG}; `raypretrain presets`)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override a config field, e.g. --set train.max_steps=100 (repeatable)")
    p.add_argument("--resume", default="auto", metavar="auto|never|PATH",
                   help="auto (default): continue run.name from its latest checkpoint if it has one; "
                        "never: refuse if it has one; PATH: start from that checkpoint folder")
    p.add_argument("--verbose", action="store_true", help="show Ray's and DeepSpeed's INFO logs (run.verbose=true)")
    p.add_argument("--check", action="store_true",
                   help="check the config, the shards, the tokenizer and --resume, print 'config OK' and stop; starts nothing")
    return p.parse_args(argv)


def build_config(args: argparse.Namespace) -> PretrainConfig:
    return load(PretrainConfig, args.config, args.overrides + (["run.verbose=true"] if args.verbose else []),
                job="pretrain")


def preflight(cfg: PretrainConfig, resume: str) -> None:
    """Every check that needs only the config, the shards' manifest or a path, before Ray starts
    or the sample corpus is built."""
    from datapipe import io

    if cfg.deepspeed.config_file and not os.path.isfile(cfg.deepspeed.config_file):
        raise ConfigError(f"deepspeed.config_file: file not found: {cfg.deepspeed.config_file}")
    if resume not in ("auto", "never"):
        check_resume_path(resume)
    if cfg.data.shards:
        check_data(ensure_shards(cfg))
        io.refuse_overlap(cfg.run.storage_path, [cfg.data.shards], "run.storage_path")
    else:
        cfg.check_sample_data()
    if cfg.data.live_tokenizer and not io.exists(io.resolve(cfg.data.live_tokenizer)):
        raise ConfigError(f"data.live_tokenizer: file not found: {cfg.data.live_tokenizer}")


def ensure_shards(cfg: PretrainConfig) -> PretrainConfig:
    """With no data.shards, build the sample corpus with datapipe (once per datapipe config)."""
    from datapipe import io
    from datapipe.main import run as run_datapipe
    from datapipe.main import summary
    if cfg.data.shards:
        root = io.resolve(cfg.data.shards)  # absolute: Ray workers do not share the driver's cwd
        if not io.exists(root.join("manifest.json")):
            raise ConfigError(f"data.shards: no manifest.json in {cfg.data.shards} (run python -m datapipe first)")
        return dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, shards=root.uri))
    # One folder per datapipe config, so runs with different data settings never clobber each other.
    key = hashlib.sha256(json.dumps(to_dict(cfg.data.datapipe), sort_keys=True).encode()).hexdigest()[:12]
    dp = dataclasses.replace(cfg.data.datapipe, output=os.path.join(SAMPLE_SHARDS, key))
    if not io.exists(io.resolve(dp.output).join("manifest.json")):
        header("data: the sample corpus through datapipe")
        print(f"[pretrain] building the sample shards with datapipe into {dp.output}", flush=True)
        with data_progress_bars():
            stats = run_datapipe(dp, overwrite=True, verbose=cfg.run.verbose)
        print(summary(*stats), flush=True)
    return dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, shards=io.resolve(dp.output).uri))


def header(title: str) -> None:
    """A phase header: `── train: debug ──────…`."""
    print(f"\n── {title} {'─' * max(3, 72 - len(title))}", flush=True)


@contextlib.contextmanager
def data_progress_bars():
    """Ray Data's progress bars while the driver runs datapipe, on a terminal only (and not with
    RAY_DATA_DISABLE_PROGRESS_BARS=1); off again for training, where our own progress line shows."""
    import ray.data

    ctx = ray.data.DataContext.get_current()
    saved = ctx.enable_progress_bars
    ctx.enable_progress_bars = sys.stdout.isatty() and os.environ.get("RAY_DATA_DISABLE_PROGRESS_BARS") != "1"
    try:
        yield
    finally:
        ctx.enable_progress_bars = saved


def datasets_for(cfg: PretrainConfig, manifest: dict, tokenizer: str) -> tuple[dict, bool]:
    """({name: Dataset}, per_rank): per-rank deterministic shard streams, or the live pipeline."""
    from pretrain.data import rank_dataset

    if cfg.data.mode == "live":
        from datapipe.live import live_dataset
        return {"train": live_dataset(cfg.data.datapipe, tokenizer, cfg.model.seq_len,
                                      position=live_position(cfg))}, False
    world = cfg.scaling.num_workers
    per_rank = cfg.total_steps() * cfg.seqs_per_step() // world
    return {f"train_{r}": rank_dataset(cfg.data.shards, manifest, cfg.data.weights, cfg.data.seed, r, world,
                                       start=0, count=per_rank, batch_size=cfg.train.micro_batch_size)
            for r in range(world)}, True


def tokenizer_json(cfg: PretrainConfig) -> str:
    from datapipe import io

    loc = io.resolve(cfg.data.live_tokenizer or cfg.data.shards)
    if not cfg.data.live_tokenizer:
        loc = loc.join("tokenizer.json")
    with loc.fs.open_input_stream(loc.path) as f:
        return f.read().decode()


def check_data(cfg: PretrainConfig) -> tuple[dict, str]:
    """(manifest, tokenizer.json text) of the shards, once the model shape fits them and the tokenizer is
    the one the manifest records (a tokenizer.json replaced after datapipe wrote the shards is refused)."""
    from pretrain.checkpoint import check_tokenizer
    from pretrain.data import load_manifest
    from pretrain.loop import model_config

    manifest = load_manifest(cfg.data.shards)
    model_config(cfg, manifest)
    tokenizer = tokenizer_json(cfg)
    what = (f"data.live_tokenizer {cfg.data.live_tokenizer}" if cfg.data.live_tokenizer
            else f"{cfg.data.shards.rstrip('/')}/tokenizer.json")
    check_tokenizer(tokenizer, manifest, what)
    return manifest, tokenizer


def live_position(cfg: PretrainConfig) -> str:
    """Live mode: the file through which a resumed run tells the stream which files to skip."""
    return os.path.join(run_dir(cfg), "live_position.json")


def storage_path(cfg: PretrainConfig) -> str:
    p = cfg.run.storage_path
    return p if "://" in p else os.path.abspath(p)


def tensorboard_dir(cfg: PretrainConfig) -> str:
    if cfg.run.tensorboard_dir:
        return os.path.abspath(cfg.run.tensorboard_dir)
    if "://" in cfg.run.storage_path:
        return os.path.abspath(os.path.join("outputs", "tensorboard", cfg.run.name))
    return os.path.join(storage_path(cfg), cfg.run.name, "tensorboard")


def tensorboard_mirror(cfg: PretrainConfig) -> str | None:
    """With remote storage (s3://, gs://), where rank 0 copies its event files at every
    checkpoint: <storage_path>/<name>/tensorboard. None when the storage is a local folder."""
    return f"{run_dir(cfg)}/tensorboard" if "://" in cfg.run.storage_path else None


def run_dir(cfg: PretrainConfig) -> str:
    return os.path.join(storage_path(cfg), cfg.run.name)


def resume_point(cfg: PretrainConfig, resume: str, manifest: dict) -> tuple[str | None, str | None, list[str]]:
    """(checkpoint to resume from or None, the same as an absolute path for the workers, names of the
    run's checkpoints the workers must not take from Ray instead) for --resume. Only complete
    checkpoints are chosen (pretrain.checkpoint.check_complete)."""
    from pretrain.checkpoint import check_resumable, checkpoint_folders, latest_checkpoint

    local = "://" not in cfg.run.storage_path
    own = checkpoint_folders(run_dir(cfg)) if local else []
    if resume == "never" and own:
        raise ConfigError(f"run {cfg.run.name} already has checkpoints in {run_dir(cfg)}; "
                          "pass --resume auto to continue it or choose another run.name")
    if resume not in ("auto", "never"):
        if own:
            raise ConfigError(f"--resume {resume}: run {cfg.run.name} already has its own checkpoints; "
                              "choose a new run.name to start from another checkpoint")
        check_resume_path(resume, hashes=True)
        latest = resume
    else:
        latest = latest_checkpoint(run_dir(cfg)) if own else None
    explicit = os.path.abspath(latest) if latest else None
    if latest:
        with open(os.path.join(latest, "state.json")) as f:
            check_resumable(json.load(f), manifest, latest)
    return latest, explicit, [os.path.basename(p) for p in own if os.path.abspath(p) != explicit]


def check_resume_path(resume: str, hashes: bool = False) -> None:
    """--resume PATH must be a complete checkpoint folder; without `hashes` only its files' presence
    and sizes are checked (quick, before Ray starts), with them their SHA-256 too."""
    from pretrain.checkpoint import check_complete, warn

    if not os.path.isdir(resume):
        raise ConfigError(f"--resume {resume}: no such checkpoint folder")
    try:
        check_complete(resume, hashes=hashes, warn=warn if hashes else None)  # warn once, not twice
    except ConfigError as e:
        raise ConfigError(f"--resume {resume}: {e}") from None


def universal_checkpoint(checkpoint: str, cfg: PretrainConfig) -> str | None:
    """For a checkpoint written by another number of ranks: its DeepSpeed universal
    conversion (made once, inside it), which any number of ranks can load."""
    from pretrain.checkpoint import universal_conversion

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
    from datapipe import io

    return io.sweep_tmp(io.resolve(run_dir(cfg)))


def build_trainer(cfg: PretrainConfig, resume: str = "auto", callbacks: list | None = None,
                  progress: str | None = None):
    """The TorchTrainer for cfg; `progress` names the driver's progress board (pretrain/progress.py)."""
    import ray.train
    from ray.data import ExecutionOptions
    from ray.train.torch import TorchTrainer

    from pretrain.data import val_blocks
    from pretrain.loop import train_func

    manifest, tokenizer = check_data(cfg)
    latest, explicit, skip = resume_point(cfg, resume, manifest)  # files only: before Ray is asked anything
    tidy_run_dir(cfg)
    from cluster.placement import gpus_available

    use_gpu = cfg.scaling.use_gpu == "yes" or (cfg.scaling.use_gpu == "auto" and gpus_available())
    reserved, cpus = cfg.scaling.num_workers * cfg.scaling.cpus_per_worker, ray.cluster_resources().get("CPU", 0)
    if reserved > cpus - 0.5 and not ray.cluster_resources().get("GPU", 0) and "RAY_ADDRESS" not in os.environ:
        raise ConfigError(f"scaling: {cfg.scaling.num_workers} workers × {cfg.scaling.cpus_per_worker} CPUs leave "
                          f"none of the {cpus:g} CPUs for Ray Data to read with; lower scaling.cpus_per_worker")
    datasets, per_rank = datasets_for(cfg, manifest, tokenizer)
    if latest:
        print(f"[pretrain] resuming from {latest}", flush=True)
    loop_config = {"cfg": to_dict(cfg), "manifest": {k: v for k, v in manifest.items() if k != "config"},
                   "tokenizer_json": tokenizer, "per_rank": per_rank, "live_position": live_position(cfg),
                   "tensorboard_dir": tensorboard_dir(cfg), "tensorboard_mirror": tensorboard_mirror(cfg),
                   "resume_from": explicit, "skip": skip, "run_dir": run_dir(cfg),
                   "universal": universal_checkpoint(explicit, cfg) if explicit else None,
                   "trace_dir": os.path.join(run_dir(cfg), "trace") if cfg.train.record_trace else None,
                   "val": val_blocks(cfg.data.shards, manifest, cfg.train.eval_blocks), "progress": progress}
    resources = {"CPU": cfg.scaling.cpus_per_worker} | ({"GPU": 1} if use_gpu else {}) | cfg.scaling.resources_per_worker
    return TorchTrainer(
        train_func,
        train_loop_config=loop_config,
        scaling_config=ray.train.ScalingConfig(num_workers=cfg.scaling.num_workers, use_gpu=use_gpu,
                                               resources_per_worker=resources),
        run_config=ray.train.RunConfig(
            name=cfg.run.name, storage_path=storage_path(cfg),
            checkpoint_config=ray.train.CheckpointConfig(num_to_keep=cfg.train.keep_checkpoints),
            failure_config=ray.train.FailureConfig(max_failures=cfg.run.max_failures), callbacks=callbacks,
            logging_config=ray.train.LoggingConfig(log_level="INFO" if cfg.run.verbose else "WARNING")),
        datasets=datasets,
        dataset_config=ray.train.DataConfig(
            datasets_to_split=[] if per_rank else "all",
            execution_options=ExecutionOptions(preserve_order=True)),
    )


def sample_text(checkpoint_path: str, cfg: PretrainConfig) -> str:
    import torch

    from pretrain.checkpoint import load_model

    model, _, tok = load_model(checkpoint_path)
    ids = tok.encode(cfg.sample.prompt).ids or [0]
    out = model.generate(torch.tensor([ids]), cfg.sample.max_new_tokens, temperature=cfg.sample.temperature,
                         top_k=cfg.sample.top_k or None, generator=torch.Generator().manual_seed(0))
    return tok.decode(out[0].tolist())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        cfg = build_config(args)
        preflight(cfg, args.resume)
        if args.check:
            print("config OK")
            return 0
        if not cfg.data.shards:
            connect(cfg)  # the sample shards are built on Ray
        cfg = ensure_shards(cfg)  # build_trainer checks the sample shards it built, as preflight did given ones
        connect(cfg)
        from pretrain.progress import Display, board_name

        progress = board_name()
        trainer = build_trainer(cfg, args.resume, progress=progress)
    except ConfigError as e:
        print(f"pretrain: error: {e}", file=sys.stderr)
        return 2

    header(f"train: {cfg.run.name}")
    print(f"[pretrain] run {cfg.run.name}: {cfg.total_steps()} steps × {cfg.train.global_batch_tokens:,} tokens, "
          f"{cfg.scaling.num_workers} workers, ZeRO-{cfg.deepspeed.zero_stage}; "
          f"TensorBoard: tensorboard --logdir {tensorboard_dir(cfg)}", flush=True)
    with Display(progress):
        result = trainer.fit()
    finish(cfg, result)
    return 0


def connect(cfg: PretrainConfig) -> None:
    """Join the cluster in RAY_ADDRESS, or start a local Ray; Ray's INFO logs only with run.verbose."""
    import ray.data

    from datapipe.main import start_ray

    start_ray(cfg.run.verbose)
    ray.data.DataContext.get_current().enable_progress_bars = False  # our own progress lines instead


def finish(cfg: PretrainConfig, result) -> None:
    """Print the outcome, a generated sample and write the run report."""
    from pretrain.data import load_manifest, unigram_entropy
    from pretrain.report import write_report

    header("results")
    m = result.metrics or {}
    ckpt = result.checkpoint.path if result.checkpoint else None
    entropy = unigram_entropy(cfg.data.shards, load_manifest(cfg.data.shards))
    done = (f"step {m.get('step')}, val loss {m.get('val_loss', float('nan')):.3f} "
            f"(ppl {m.get('val_ppl', float('nan')):.1f}; unigram entropy of the corpus {entropy:.3f})")
    print(f"[pretrain] done: {done}")
    print(f"[pretrain] checkpoint: {ckpt}")
    facts = {"run": cfg.run.name, "result": done, "checkpoint": str(ckpt), "shards": cfg.data.shards,
             "TensorBoard": f"tensorboard --logdir {tensorboard_dir(cfg)}"}
    if ckpt and "://" not in ckpt:
        quiet = not cfg.run.verbose  # DeepSpeed's consolidation chatter and its "Loading checkpoint shards" bar
        with contextlib.redirect_stdout(StringIO() if quiet else sys.stdout), \
                contextlib.redirect_stderr(StringIO() if quiet else sys.stderr):
            facts["sample"] = sample_text(ckpt, cfg)
        print(f"[pretrain] sample: {facts['sample']!r}")
    local = "://" not in cfg.run.storage_path
    out = os.path.join(run_dir(cfg) if local else os.path.join("outputs", "report", cfg.run.name), "report")
    shards = cfg.data.shards.removeprefix("file://")
    events, mirror = tensorboard_dir(cfg), tensorboard_mirror(cfg)
    if mirror:  # rank 0 may have run on another node: read its events from the storage
        from datapipe import io

        events = os.path.join(out, "events")
        io.copy_tree(mirror, events)
        facts["TensorBoard"] += f" (a copy: {mirror})"
    report = write_report(out, events, None if "://" in shards else shards, facts)
    print(f"[pretrain] report: {report}")
    print(f"[pretrain] TensorBoard: {facts['TensorBoard']}")
