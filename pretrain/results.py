"""The end of a training run: the outcome line, a generated sample and the run report."""
from __future__ import annotations

import contextlib
import os
import sys
from io import StringIO

import torch

from pretrain.checkpoint import load_model
from pretrain.config import PretrainConfig
from pretrain.data import load_manifest, unigram_entropy
from pretrain.report import write_report
from pretrain.trainer import run_dir, tensorboard_dir, tensorboard_mirror
from raypretrain import storage
from raypretrain.console import header


def sample_text(checkpoint_path: str, cfg: PretrainConfig) -> str:
    model, _, tok = load_model(checkpoint_path)
    ids = tok.encode(cfg.sample.prompt).ids or [0]
    out = model.generate(torch.tensor([ids]), cfg.sample.max_new_tokens, temperature=cfg.sample.temperature,
                         top_k=cfg.sample.top_k or None, generator=torch.Generator().manual_seed(0))
    return tok.decode(out[0].tolist())


def finish(cfg: PretrainConfig, result) -> None:
    """Print the outcome, a generated sample and write the run report."""
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

        events = os.path.join(out, "events")
        storage.copy_tree(mirror, events)
        facts["TensorBoard"] += f" (a copy: {mirror})"
    report = write_report(out, events, None if "://" in shards else shards, facts)
    print(f"[pretrain] report: {report}")
    print(f"[pretrain] TensorBoard: {facts['TensorBoard']}")
