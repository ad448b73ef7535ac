"""A real one-rank DeepSpeed checkpoint, saved the way a training worker saves one, for tests that need
checkpoint files but no training run: `python -m tests.pretrain.engine_checkpoint SHARDS OUT --stage 2`.

It builds our engine (pretrain.loop.build_engine) on a tiny model, takes one optimizer step on the
synthetic shards' first blocks and saves with pretrain.checkpoint.save_checkpoint into a staging folder,
whose files then go to OUT as Ray's upload would put them. A separate process, so torch.distributed
(gloo, world 1) never starts inside the test session.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys

TINY = {"model": {"vocab_size": 320, "seq_len": 32, "n_layer": 2, "n_head": 2, "d_model": 64},
        "train": {"global_batch_tokens": 256, "micro_batch_size": 8, "max_steps": 4},
        "scaling": {"num_workers": 1}, "run": {"name": "fixture"}}


def make(shards: str, out: str, stage: int = 2, timeout: float = 300) -> None:
    """Run this module in a fresh process (see the module docstring)."""
    proc = subprocess.run([sys.executable, "-m", "tests.pretrain.engine_checkpoint", str(shards), str(out),
                           "--stage", str(stage)], capture_output=True, text=True, timeout=timeout,
                          cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert proc.returncode == 0, proc.stderr[-3000:]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("shards")
    p.add_argument("out")
    p.add_argument("--stage", type=int, default=2)
    args = p.parse_args()
    os.environ.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(_free_port()), DS_ACCELERATOR="cpu")
    import deepspeed
    import numpy as np
    import torch

    from raypretrain.config import from_dict
    from pretrain.checkpoint import save_checkpoint, staging
    from pretrain.config import PretrainConfig
    from pretrain.loop import build_engine

    torch.set_num_threads(1)
    data = json.loads(json.dumps(TINY))
    data["deepspeed"] = {"zero_stage": args.stage, "precision": "fp32"}
    data["data"] = {"shards": os.path.abspath(args.shards)}
    cfg = from_dict(PretrainConfig, data)
    manifest = json.load(open(os.path.join(args.shards, "manifest.json")))
    deepspeed.init_distributed("gloo")
    engine = build_engine(cfg, on_gpu=False)
    first = next(s for s in manifest["shards"] if s["split"] == "train")
    tokens = torch.from_numpy(np.load(os.path.join(args.shards, first["path"]))[:8].astype(np.int64))
    _, loss = engine(tokens[:, :-1], tokens[:, 1:])
    engine.backward(loss)
    engine.step()
    state = {"step": 1, "tokens": 256, "samples": 8, "world": 1, "seq_len": manifest["seq_len"],
             "tokenizer_sha256": manifest["tokenizer_sha256"]}
    with open(os.path.join(args.shards, "tokenizer.json"), "rb") as f:
        tokenizer = f.read()
    with staging(os.path.abspath(args.out)) as path:
        save_checkpoint(engine, path, state, cfg, tokenizer, rank=0, world=1, generator=torch.Generator().manual_seed(7))
        shutil.copytree(path, args.out, dirs_exist_ok=True)


if __name__ == "__main__":
    main()
