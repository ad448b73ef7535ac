"""Gopher quality and repetition heuristics (Rae et al. 2021, table A1), after datatrove's
GopherQualityFilter and GopherRepetitionFilter. Words are `text.split()`; no tokenizer download."""
from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterator
from itertools import accumulate, islice

from datapipe.config import GopherQualityConfig, GopherRepetitionConfig
from datapipe.filters.base import Reason

# ASCII punctuation plus the Unicode marks web text is full of; a "word" made only of these
# (a lone dash, "--", "...") does not count towards the word statistics.
_PUNCT = string.punctuation + "“”„‘’‚«»‹›–—―‐…•·¡¿、。，：；！？（）【】《》「」『』"
_BULLETS = ("•", "-")
_ELLIPSES = ("...", "…")
# One findall counts the words holding a letter (a word character that is no digit and no "_",
# close to str.isalpha). The lookbehind anchors each match at a word start, so a long run of
# digits is scanned once, not once per position.
_WORD_WITH_ALPHA = re.compile(r"(?<!\S)\S*?[^\W\d_]")
_PARAGRAPH_SPLIT = re.compile(r"\n{2,}")
_LINE_SPLIT = re.compile(r"\n+")


def gopher_quality(text: str, cfg: GopherQualityConfig) -> str | None:
    """None to keep `text`, or the reason to drop it."""
    words = text.split()
    n_words = len(words)
    # Punctuation-only tokens are not words for the length checks (datatrove's non_symbol_words).
    real_words = [w for w in words if w.strip(_PUNCT)]
    n_real = len(real_words)
    if n_real == 0 or n_real < cfg.min_doc_words:
        return "too_few_words"
    if n_real > cfg.max_doc_words:
        return "too_many_words"

    avg_len = sum(map(len, real_words)) / n_real
    if avg_len < cfg.min_avg_word_length:
        return "avg_word_len_low"
    if avg_len > cfg.max_avg_word_length:
        return "avg_word_len_high"

    if text.count("#") / n_words > cfg.max_symbol_word_ratio:
        return "hash_ratio"
    if (text.count("...") + text.count("…")) / n_words > cfg.max_symbol_word_ratio:
        return "ellipsis_ratio"

    # Paragraphs are separated by a blank line here, where the thresholds were set on text with
    # one line per paragraph: blank lines are not lines, or they would halve every share.
    lines = [line for line in text.split("\n") if line]
    if sum(line.startswith(_BULLETS) for line in lines) / len(lines) > cfg.max_bullet_lines_ratio:
        return "bullet_lines"
    if sum(line.endswith(_ELLIPSES) for line in lines) / len(lines) > cfg.max_ellipsis_lines_ratio:
        return "ellipsis_lines"

    if len(_WORD_WITH_ALPHA.findall(text)) / n_words < cfg.min_alpha_words_ratio:
        return "alpha_words_ratio"

    counts = Counter(words)
    if sum(counts[w] for w in set(cfg.stop_words)) < cfg.min_stop_words:
        return "too_few_stop_words"
    return None


def gopher_repetition(text: str, cfg: GopherRepetitionConfig) -> str | None:
    """None to keep `text`, or the reason to drop it. A Reason names the first repeated paragraph or
    line, or the most frequent n-gram, where that is what broke the rule."""
    n_chars = len(text)
    if n_chars == 0:
        return None  # nothing to repeat; emptiness is the quality filters' call

    paragraphs = _PARAGRAPH_SPLIT.split(text.strip())
    n_dup, dup_chars, first = _duplicates(paragraphs)
    if n_dup / len(paragraphs) > cfg.dup_para_frac:
        return Reason("dup_para_frac", first)
    if dup_chars / n_chars > cfg.dup_para_char_frac:
        return Reason("dup_para_char_frac", first)

    lines = _LINE_SPLIT.split(text)
    n_dup, dup_chars, first = _duplicates(lines)
    if n_dup / len(lines) > cfg.dup_line_frac:
        return Reason("dup_line_frac", first)
    if dup_chars / n_chars > cfg.dup_line_char_frac:
        return Reason("dup_line_char_frac", first)

    words = text.split()
    for n, frac in enumerate(cfg.top_ngram_fracs, start=2):
        if len(words) < n:
            break
        gram, count = Counter(_ngrams(words, n)).most_common(1)[0]
        # datatrove measures the top n-gram with the spaces between its words
        if (sum(map(len, gram)) + n - 1) * count / n_chars > frac:
            return Reason(f"top_{n}gram", " ".join(gram))

    # cum[i] = characters in words[:i], so an n-gram starting at i has cum[i + n] - cum[i].
    cum = [0, *accumulate(map(len, words))]
    for n, frac in enumerate(cfg.dup_ngram_fracs, start=5):
        n_grams = len(words) - n + 1
        if n_grams <= 0 or len(set(_ngrams(words, n))) == n_grams:
            break  # no repeated n-gram means no repeated longer one either
        if _duplicate_ngram_chars(list(_ngrams(words, n)), cum, n) / n_chars > frac:
            return f"dup_{n}gram"
    return None


def _ngrams(words: list[str], n: int) -> Iterator[tuple[str, ...]]:
    # Tuples, not joined strings: no copying, and ("ab", "c") never collides with ("a", "bc").
    return zip(*(islice(words, i, None) for i in range(n)))


def _duplicates(items: list[str]) -> tuple[int, int, str | None]:
    """How many items repeat an earlier one, their total length, and the first repeated item."""
    seen: set[str] = set()
    n_dup = dup_chars = 0
    first = None
    for item in items:
        if item in seen:
            n_dup += 1
            dup_chars += len(item)
            first = item if first is None else first
        else:
            seen.add(item)
    return n_dup, dup_chars, first


def _duplicate_ngram_chars(grams: list[tuple[str, ...]], cum: list[int], n: int) -> int:
    """Characters (spaces excluded) in repeated n-grams, as datatrove's find_all_duplicate: after
    a repeat, jump past it so overlapping repeats of one passage are counted once."""
    seen: set[tuple[str, ...]] = set()
    dup_chars = i = 0
    while i < len(grams):
        gram = grams[i]
        if gram in seen:
            dup_chars += cum[i + n] - cum[i]
            i += n
        else:
            seen.add(gram)
            i += 1
    return dup_chars
