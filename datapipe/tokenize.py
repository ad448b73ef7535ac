"""Tokenize: train (or load) a byte-level BPE with HF `tokenizers`, then encode documents.

Byte-level BPE with no normalizer round-trips any text exactly, which the pack round-trip
test relies on. Special tokens in the text itself are encoded as plain text
(`encode_special_tokens`), so a document can never forge an EOS.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from datapipe.config import TokenizeConfig
from raypretrain.config import ConfigError


def train_tokenizer(texts: Iterable[str], cfg: TokenizeConfig) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=cfg.vocab_size,
        min_frequency=cfg.min_frequency,
        special_tokens=[cfg.eos_token, cfg.pad_token],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def from_json(tokenizer_json: str, cfg: TokenizeConfig) -> Tokenizer:
    """Build a tokenizer from its JSON and check it has our EOS and PAD tokens."""
    tok = Tokenizer.from_str(tokenizer_json)
    for name in (cfg.eos_token, cfg.pad_token):
        if tok.token_to_id(name) is None:
            raise ConfigError(f"tokenizer has no {name!r} token (set tokenize.eos_token / pad_token)")
    tok.encode_special_tokens = True
    return tok


def tokenizer_sha256(tokenizer_json: str) -> str:
    return hashlib.sha256(tokenizer_json.encode()).hexdigest()


def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16) if vocab_size <= 2**16 else np.dtype(np.uint32)


def encode(tok: Tokenizer, texts: list[str], eos_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Encode documents, each followed by EOS. Returns (flat uint32 tokens, per-doc lengths)."""
    encodings = tok.encode_batch_fast(texts, add_special_tokens=False)
    lengths = np.fromiter((len(e.ids) + 1 for e in encodings), dtype=np.int64, count=len(texts))
    flat = np.empty(int(lengths.sum()), dtype=np.uint32)
    ends = np.cumsum(lengths)
    for e, end, n in zip(encodings, ends, lengths):
        flat[end - n:end - 1] = e.ids
    flat[ends - 1] = eos_id
    return flat, lengths
