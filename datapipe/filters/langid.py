"""Language identification: py3langid (its model ships in the wheel) or an optional fastText
lid.176.bin. Build one LanguageFilter per worker; loading a model takes about a second.

py3langid walks a text's bytes through its feature automaton in a Python loop, about half of
read+clean's time. `BatchIdentifier` gives the same answers for many texts at once with numpy:
the automaton's state after any byte depends only on the last `window` bytes (checked for the
model at load), so every position's state is `window` vectorised steps from the start state, and
the per-document feature counts become one sparse matrix product with the model's table.
"""
from __future__ import annotations

import unicodedata
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.sparse
from py3langid.langid import MODEL_FILE, LanguageIdentifier

from datapipe.config import LangIdConfig
from raypretrain.config import ConfigError

CHUNK_BYTES = 1 << 18
"""Texts are identified in groups of about this many bytes (each byte costs about 60 B of numpy arrays while
its group is scored; smaller groups were slower, larger ones no faster)."""

KNOWN_WINDOWS = {0xE6C485B3: 6}
"""Automaton fingerprint -> window, for models whose window was already computed (py3langid 0.4's)."""


class BatchIdentifier:
    """py3langid's LanguageIdentifier(norm_probs=True).classify for many texts at once."""

    def __init__(self, ident: LanguageIdentifier):
        self.nextmove = np.frombuffer(ident.tk_nextmove, dtype=np.uint32)
        self.rowbase = np.asarray(ident.tk_row, dtype=np.int64) << 8
        self.output = np.asarray(ident.tk_output, dtype=np.int64)
        self.ptc = np.asarray(ident.nb_ptc, dtype=np.float32)
        self.pc = np.asarray(ident.nb_pc, dtype=np.float32)
        self.classes = list(ident.nb_classes)
        first: dict[str, int] = {}
        self.aliases = [(first[c], i) for i, c in enumerate(self.classes) if first.setdefault(c, i) != i]
        self.window = window(self.nextmove, self.rowbase)

    def classify(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """(language, probability) for each text, as py3langid's classify gives them."""
        encoded = [_encode(t) for t in texts]
        out: list[tuple[str, float]] = []
        start = 0
        while start < len(encoded):
            stop, size = start + 1, len(encoded[start])
            while stop < len(encoded) and size + len(encoded[stop]) <= CHUNK_BYTES:
                size += len(encoded[stop])
                stop += 1
            out += self._classify(encoded[start:stop])
            start = stop
        return out

    def _classify(self, encoded: list[bytes]) -> list[tuple[str, float]]:
        lengths = np.fromiter(map(len, encoded), np.int64, len(encoded))
        scores = self._raw_scores(encoded, lengths)
        scores *= (1.0 / np.sqrt(np.maximum(lengths, 1))).astype(np.float32)[:, None]
        np.exp(scores - scores.max(axis=1, keepdims=True), out=scores)
        scores /= scores.sum(axis=1, keepdims=True)
        for i, j in self.aliases:
            scores[:, i] += scores[:, j]
            scores[:, j] = 0.0
        best = scores.argmax(axis=1)
        return [(self.classes[b], float(s)) for b, s in zip(best.tolist(), scores[np.arange(len(best)), best].tolist())]

    def _raw_scores(self, encoded: list[bytes], lengths: np.ndarray) -> np.ndarray:
        """Naive Bayes log-scores: log1p(feature counts) @ the model's table + the class priors."""
        data = np.frombuffer(b"".join(encoded), np.uint8).astype(np.int64)
        state = self._states(data, np.cumsum(lengths) - lengths, lengths)
        feature = self.output[state]
        hit = feature >= 0
        # each (text, feature) pair once, with its count: sort the pairs packed in one integer
        pairs = np.sort((np.repeat(np.arange(len(encoded), dtype=np.uint64), lengths)[hit] << np.uint64(32))
                        | feature[hit].astype(np.uint64))
        first = np.flatnonzero(np.r_[pairs.size > 0, pairs[1:] != pairs[:-1]])
        count = np.diff(np.r_[first, pairs.size]).astype(np.float32)
        doc, feature = pairs[first] >> np.uint64(32), (pairs[first] & np.uint64(0xFFFFFFFF)).astype(np.int64)
        indptr = np.r_[0, np.cumsum(np.bincount(doc.astype(np.int64), minlength=len(encoded)))]
        counts = scipy.sparse.csr_matrix((np.log1p(count), feature, indptr), shape=(len(encoded), len(self.ptc)))
        scores = np.asarray(counts @ self.ptc, dtype=np.float32) + self.pc
        scores[np.diff(counts.indptr) == 0] = 0.0     # no features: a uniform guess, as py3langid gives
        return scores

    def _states(self, data: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """The automaton's state after each byte of `data`, each text's walk starting at its start.

        Every position is walked over the `window` bytes ending at it as if the texts were one
        stream; only a text's first window - 1 positions reach back past its start, and those are
        walked again on their own bytes."""
        state = np.zeros(data.size, np.int64)
        for back in range(self.window - 1, -1, -1):
            earlier = np.zeros_like(data)        # the byte `back` places before each position
            earlier[back:] = data[:max(data.size - back, 0)]
            state = self.nextmove[self.rowbase[state] + earlier]
        offset = np.tile(np.arange(self.window - 1), len(starts))
        inside = offset < np.repeat(lengths, self.window - 1)
        begin = np.repeat(starts, self.window - 1)[inside]
        head = begin + offset[inside]
        walked = np.zeros(head.size, np.int64)
        for back in range(self.window - 2, -1, -1):
            src = head - back
            live = src >= begin
            walked[live] = self.nextmove[self.rowbase[walked[live]] + data[src[live]]]
        state[head] = walked
        return state


def _encode(text: str) -> bytes:
    """The bytes py3langid classifies for `text`."""
    if text.isupper():
        text = text.lower()
    return unicodedata.normalize("NFC", text).encode("utf8", errors="surrogatepass")


def window(nextmove: np.ndarray, rowbase: np.ndarray, limit: int = 16) -> int:
    """The least w such that the automaton's state after any input is the state reached from the start
    on its last w bytes alone: w steps on the same bytes from any state and from the start state
    end in the same state. Pairs (from some state, from the start) are stepped on every byte at once.
    A known automaton's answer is looked up by fingerprint (py3langid 0.4's takes ~7 s to check)."""
    key = zlib.crc32(rowbase.tobytes(), zlib.crc32(nextmove.tobytes()))
    if key in KNOWN_WINDOWS:
        return KNOWN_WINDOWS[key]
    n, letters = len(rowbase), np.arange(256)
    pairs = np.stack([np.arange(n), np.zeros(n, np.int64)], axis=1)
    for w in range(1, limit + 1):
        p = nextmove[rowbase[pairs[:, 0]][:, None] + letters].ravel().astype(np.int64)
        q = nextmove[rowbase[pairs[:, 1]][:, None] + letters].ravel().astype(np.int64)
        codes = np.unique(p * n + q)
        pairs = np.stack([codes // n, codes % n], axis=1)
        if (pairs[:, 0] == pairs[:, 1]).all():
            return w
    raise ValueError(f"the language-ID model's automaton depends on more than its last {limit} bytes")


class LanguageFilter:
    """Keeps documents whose top language is in cfg.languages with probability >= cfg.min_score."""

    def __init__(self, cfg: LangIdConfig) -> None:
        self.cfg = cfg
        self._languages = frozenset(cfg.languages)
        if cfg.fasttext_model:
            self._fasttext = _load_fasttext(cfg.fasttext_model)
        else:
            self._langid = BatchIdentifier(LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True))
            self._fasttext = None

    def predict(self, text: str) -> tuple[str, float]:
        """The most likely language (ISO 639-1 code where one exists) and its probability."""
        return self.predict_many([text])[0]

    def predict_many(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """predict for each text."""
        if self._fasttext is None:
            return self._langid.classify(texts)
        out = []
        for text in texts:
            # fastText predicts one line at a time and rejects a newline in its input
            labels, scores = self._fasttext.predict(text.replace("\n", " "), k=1)
            # its probabilities can round to a hair above 1
            out.append((labels[0].removeprefix("__label__"), min(float(scores[0]), 1.0)))
        return out

    def __call__(self, text: str) -> str | None:
        """None to keep `text`, or the reason to drop it."""
        return self.check_many([text])[0]

    def check_many(self, texts: Sequence[str]) -> list[str | None]:
        """For each text: None to keep it, or the reason to drop it."""
        return [self._reason(lang, score) for lang, score in self.predict_many(texts)]

    def _reason(self, lang: str, score: float) -> str | None:
        # an unsure guess is reported as unsure, not as whichever language happened to win
        if score < self.cfg.min_score:
            return "low_score"
        if self._languages and lang not in self._languages:
            return "wrong_language"
        return None


def _load_fasttext(path: str):
    if not Path(path).is_file():
        raise ConfigError(f"clean.lang_id.fasttext_model: file not found: {path}")
    try:
        import fasttext  # optional (not a dependency): only with clean.lang_id.fasttext_model set
    except ImportError:
        raise ConfigError(
            "clean.lang_id.fasttext_model: the fasttext package is not installed (pip install fasttext)"
        ) from None
    try:
        return fasttext.load_model(path)
    except ValueError as e:
        raise ConfigError(f"clean.lang_id.fasttext_model: cannot load {path}: {e}") from None
