"""A learnable synthetic corpus written as datapipe-format shards (manifest.json, tokenizer.json,
shards/<source>/<split>/*.npy), so training tests need neither datapipe nor a real corpus.

Each block follows x[t+1] = (5·x[t] + source_offset) mod 97 + 2 from a random start: a model
can learn it to near-zero loss, while its unigram entropy stays about ln 97 ≈ 4.6 nats.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from datapipe.config import TokenizeConfig
from datapipe.tokenize import tokenizer_sha256, train_tokenizer

TEXT = ["the quick brown fox jumps over the lazy dog", "pack my box with five dozen liquor jugs"] * 50


def chain_blocks(n: int, block_len: int, offset: int, rng: np.random.Generator) -> np.ndarray:
    out = np.empty((n, block_len), dtype=np.int64)
    out[:, 0] = rng.integers(0, 97, n)
    for t in range(1, block_len):
        out[:, t] = (5 * out[:, t - 1] + offset) % 97
    return (out + 2).astype(np.uint16)  # ids 0 and 1 are the EOS and PAD tokens


def write_shards(root: Path, seq_len: int = 32, train_blocks: int = 256, val_blocks: int = 32,
                 sources: tuple[str, ...] = ("a", "b"), seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    tok = train_tokenizer(TEXT, TokenizeConfig(vocab_size=300))
    root.mkdir(parents=True, exist_ok=True)
    (root / "tokenizer.json").write_text(tok.to_str())
    shards, summary = [], {}
    for i, name in enumerate(sources):
        summary[name] = {}
        for split, n in (("train", train_blocks), ("val", val_blocks)):
            for part in range(2):  # two shards per split, so shard boundaries are exercised
                blocks = chain_blocks(n // 2, seq_len + 1, offset=1 + 2 * i, rng=rng)
                rel = f"shards/{name}/{split}/b{part:05d}.npy"
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                np.save(root / rel, blocks)
                shards.append({"path": rel, "source": name, "split": split, "blocks": len(blocks),
                               "tokens": int(blocks.size), "docs": len(blocks)})
            summary[name][split] = {"tokens": sum(s["tokens"] for s in shards if s["source"] == name
                                                  and s["split"] == split)}
    manifest = {"format": "raypretrain-shards/1", "seq_len": seq_len, "block_len": seq_len + 1, "dtype": "uint16",
                "vocab_size": tok.get_vocab_size(), "eos_id": tok.token_to_id("<|endoftext|>"),
                "tokenizer_sha256": tokenizer_sha256(tok.to_str()),
                "pad_id": tok.token_to_id("<|pad|>"), "tokenizer": "tokenizer.json", "sources": summary,
                "shards": shards, "config": {}}
    (root / "manifest.json").write_text(json.dumps(manifest))
    return manifest
