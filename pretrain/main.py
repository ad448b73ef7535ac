"""`python -m pretrain`: train a GPT with Ray Train + DeepSpeed on datapipe's shards.

    python -m pretrain                                        # debug preset on the sample corpus
    python -m pretrain --config configs/pretrain/124m.yaml --set data.shards=s3://bucket/shards
    python -m pretrain --set train.max_steps=50 --set deepspeed.zero_stage=3
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

from pretrain.config import PretrainConfig
from pretrain.plan import plan_of
from pretrain.results import finish
from pretrain.paths import RunPaths
from pretrain.trainer import build_trainer, check_data, check_resume_path, ensure_shards
from raypretrain import storage
from raypretrain.config import ConfigError, load
from raypretrain.console import Display, board_name, header, setup
from raypretrain.ray_env import connect

logger = logging.getLogger("pretrain")

DEFAULT_CONFIG = "debug"
"""The shipped preset (configs/pretrain/debug.yaml) a bare `python -m pretrain` trains, from any folder."""


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
    if cfg.deepspeed.config_file and not os.path.isfile(cfg.deepspeed.config_file):
        raise ConfigError(f"deepspeed.config_file: file not found: {cfg.deepspeed.config_file}")
    if resume not in ("auto", "never"):
        check_resume_path(resume)
    if cfg.data.shards:
        check_data(ensure_shards(cfg))
        storage.refuse_overlap(cfg.run.storage_path, [cfg.data.shards], "run.storage_path")
    else:
        cfg.check_sample_data()
    if cfg.data.live_tokenizer and not storage.exists(storage.resolve(cfg.data.live_tokenizer)):
        raise ConfigError(f"data.live_tokenizer: file not found: {cfg.data.live_tokenizer}")
    for line in cfg.schedule_warnings():
        logger.warning(f"pretrain: warning: {line}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup(args.verbose)
    try:
        cfg = build_config(args)
        setup(cfg.run.verbose)
        preflight(cfg, args.resume)
        if args.check:
            print("config OK")
            return 0
        if not cfg.data.shards:
            connect(cfg.run.verbose)  # the sample shards are built on Ray
        cfg = ensure_shards(cfg)  # build_trainer checks the sample shards it built, as preflight did given ones
        connect(cfg.run.verbose)

        progress = board_name()
        trainer = build_trainer(cfg, args.resume, progress=progress)
    except ConfigError as e:
        print(f"pretrain: error: {e}", file=sys.stderr)
        return 2

    header(f"train: {cfg.run.name}")
    logger.info(f"[pretrain] run {cfg.run.name}: {cfg.total_steps()} steps × {cfg.train.global_batch_tokens:,} tokens, "
                f"{cfg.scaling.num_workers} workers, ZeRO-{cfg.deepspeed.zero_stage}; "
                f"TensorBoard: tensorboard --logdir {RunPaths.of(cfg).tensorboard}")
    logger.info(plan_of(cfg).line())
    with Display(progress):
        result = trainer.fit()
    finish(cfg, result)
    return 0
