"""Pack: split documents into train/validation, concatenate, cut into seq_len + 1 blocks.

A block of seq_len + 1 tokens gives inputs block[:-1] and targets block[1:]. The tail of
the last block of a shard is filled with PAD, which training ignores, so no token of a
kept document is lost.
"""
from __future__ import annotations

import hashlib

import numpy as np


def is_validation(doc_ids: list[str], fraction: float, seed: int) -> np.ndarray:
    """A seeded, order-independent per-document coin: True means validation."""
    if fraction <= 0:
        return np.zeros(len(doc_ids), dtype=bool)
    u = np.fromiter(
        (int.from_bytes(hashlib.blake2b(f"{seed}\0{d}".encode(), digest_size=8).digest(), "little")
         for d in doc_ids), dtype=np.uint64, count=len(doc_ids))
    return u < np.uint64(int(fraction * 2**64))


def pack_blocks(tokens: np.ndarray, block_len: int, pad_id: int, dtype: np.dtype) -> np.ndarray:
    """Cut a token stream into rows of block_len, padding the last row with pad_id."""
    n_blocks = -(-len(tokens) // block_len)
    out = np.full(n_blocks * block_len, pad_id, dtype=dtype)
    out[: len(tokens)] = tokens
    return out.reshape(n_blocks, block_len)


def unpack_documents(blocks: np.ndarray, eos_id: int, pad_id: int) -> list[np.ndarray]:
    """Inverse of packing (for tests and inspection): the token lists of each document."""
    flat = blocks.reshape(-1)
    flat = flat[flat != pad_id]
    ends = np.flatnonzero(flat == eos_id)
    starts = np.concatenate([[0], ends[:-1] + 1])
    return [flat[s:e] for s, e in zip(starts, ends)]
