"""The end of a training run: the outcome line, a generated sample and the run report."""
from __future__ import annotations

import contextlib
import logging
import os
import sys
from io import StringIO

import torch

from pretrain.checkpoint import load_model
from pretrain.config import PretrainConfig
from pretrain.data import load_manifest, unigram_entropy
from pretrain.paths import RunPaths
from pretrain.report import write_report
from raypretrain import storage
from raypretrain.console import header

logger = logging.getLogger("pretrain")


def sample_text(checkpoint_path: str, cfg: PretrainConfig) -> str:
    model, _, tok = load_model(checkpoint_path)
    ids = tok.encode(cfg.sample.prompt).ids or [0]
    out = model.generate(torch.tensor([ids]), cfg.sample.max_new_tokens, temperature=cfg.sample.temperature,
                         top_k=cfg.sample.top_k or None, generator=torch.Generator().manual_seed(0))
    return tok.decode(out[0].tolist())


def finish(cfg: PretrainConfig, result) -> None:
    """Print the outcome, a generated sample and write the run report."""
    header("results")
    paths, m = RunPaths.of(cfg), result.metrics or {}
    ckpt = result.checkpoint.path if result.checkpoint else None
    entropy = unigram_entropy(cfg.data.shards, load_manifest(cfg.data.shards))
    done = (f"step {m.get('step')}, val loss {m.get('val_loss', float('nan')):.3f} "
            f"(ppl {m.get('val_ppl', float('nan')):.1f}; unigram entropy of the corpus {entropy:.3f})")
    logger.info(f"[pretrain] done: {done}")
    logger.info(f"[pretrain] checkpoint: {ckpt}")
    facts = {"run": cfg.run.name, "result": done, "checkpoint": str(ckpt), "shards": cfg.data.shards,
             "TensorBoard": f"tensorboard --logdir {paths.tensorboard}"}
    if ckpt and not storage.is_remote(ckpt):
        quiet = not cfg.run.verbose  # DeepSpeed's consolidation chatter and its "Loading checkpoint shards" bar
        with contextlib.redirect_stdout(StringIO() if quiet else sys.stdout), \
                contextlib.redirect_stderr(StringIO() if quiet else sys.stderr):
            facts["sample"] = sample_text(ckpt, cfg)
        logger.info(f"[pretrain] sample: {facts['sample']!r}")
    shards, events = cfg.data.shards.removeprefix("file://"), paths.tensorboard
    if paths.tensorboard_mirror:  # rank 0 may have run on another node: read its events from the storage
        events = os.path.join(paths.report, "events")
        storage.copy_tree(paths.tensorboard_mirror, events)
        facts["TensorBoard"] += f" (a copy: {paths.tensorboard_mirror})"
    report = write_report(paths.report, events, None if storage.is_remote(shards) else shards, facts,
                          cfg.train.global_batch_tokens)
    logger.info(f"[pretrain] report: {report}")
    logger.info(f"[pretrain] TensorBoard: {facts['TensorBoard']}")
