"""A seeded corpus of unrelated random-word documents plus near copies at known Jaccard."""
from __future__ import annotations

import random

VOCAB_SIZE = 20_000


def _word(rng: random.Random) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))


def shingle_set(text: str, n: int = 5) -> set[tuple[str, ...]]:
    words = text.lower().split()
    return {tuple(words[i:i + n]) for i in range(max(1, len(words) - n + 1))}


def jaccard(a: str, b: str) -> float:
    x, y = shingle_set(a), shingle_set(b)
    return len(x & y) / len(x | y)


def edit(rng: random.Random, words: list[str], vocab: list[str], n_edits: int) -> list[str]:
    out = list(words)
    for _ in range(n_edits):
        i = rng.randrange(len(out))
        out[i] = rng.choice(vocab)
    return out


def planted_corpus(n_base: int, seed: int = 0, words_per_doc: int = 300) -> tuple[list[tuple[str, str]], list[tuple[str, str, float]]]:
    """(docs as (doc_id, text), planted pairs as (original_id, copy_id, true word-5 Jaccard)).

    Half the copies get 1 to 5 random word substitutions (Jaccard ~0.97 to ~0.85), the
    other half 6 to 40 (down to ~0.3). Originals are named so they sort before their copies ("o…" < "x…")."""
    rng = random.Random(seed)
    vocab = sorted({_word(rng) for _ in range(VOCAB_SIZE)})
    docs, pairs = [], []
    for i in range(n_base):
        words = [rng.choice(vocab) for _ in range(words_per_doc)]
        original = " ".join(words)
        docs.append((f"o{i:05d}", original))
        if i % 2 == 0:
            n_edits = rng.randint(1, 5) if i % 4 == 0 else rng.randint(6, 40)
            copy = " ".join(edit(rng, words, vocab, n_edits))
            docs.append((f"x{i:05d}", copy))
            pairs.append((f"o{i:05d}", f"x{i:05d}", jaccard(original, copy)))
    return docs, pairs
