"""`python -m pretrain.generate --checkpoint PATH --prompt "…"`: sample from a trained checkpoint.

ZeRO shards are consolidated into one single-process model first (pretrain.checkpoint.load_model), once the
checkpoint is found complete: every file its completion markers list has the SHA-256 recorded at save time.
"""
from __future__ import annotations

import argparse
import sys

import torch

from pretrain.checkpoint import load_model
from raypretrain.config import ConfigError


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pretrain.generate", description=__doc__)
    p.add_argument("--checkpoint", required=True, help="a checkpoint_* folder of a training run")
    p.add_argument("--prompt", default="The", help="text to continue")
    p.add_argument("--max-new-tokens", type=int, default=60)
    p.add_argument("--temperature", type=float, default=0.8, help="0 is greedy")
    p.add_argument("--top-k", type=int, default=50, help="0 samples from the whole vocabulary")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-samples", type=int, default=1)
    args = p.parse_args(argv)
    try:
        model, cfg, tok = load_model(args.checkpoint)
    except ConfigError as e:
        print(f"pretrain.generate: error: {e}", file=sys.stderr)
        return 2
    ids = tok.encode(args.prompt).ids
    if not ids:
        print("pretrain.generate: error: the prompt encodes to no tokens", file=sys.stderr)
        return 2
    eos = tok.token_to_id(cfg.data.datapipe.tokenize.eos_token)
    gen = torch.Generator().manual_seed(args.seed)
    for _ in range(args.num_samples):
        out = model.generate(torch.tensor([ids]), args.max_new_tokens, temperature=args.temperature,
                             top_k=args.top_k or None, generator=gen, eos_id=eos)
        print(tok.decode(out[0].tolist()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
