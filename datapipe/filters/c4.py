"""C4's line and document heuristics (Raffel et al. 2020), after datatrove's C4QualityFilter
and TFDS c4_utils, with sentences counted by a regex instead of nltk's punkt."""
from __future__ import annotations

import re

from datapipe.config import C4Config
from datapipe.filters.base import Reason

# C4 strips Wikipedia-style citation marks before the punctuation check, so "... 1912.[3]" passes.
_CITATION = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
_END_PUNCT = (".", "?", "!", '"', "'")
_POLICY = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")
# A sentence ends at . ! or ? (possibly repeated, possibly closed by a quote or bracket) that
# is followed by whitespace or the end of the line. "e.g. this" over-counts, like any regex.
_SENTENCE_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s|$)")


def c4_filter(text: str, cfg: C4Config) -> tuple[str, str | None]:
    """Remove C4's bad lines from `text`; return (the remaining text, None) to keep it, or
    (`text` unchanged, reason) to drop it. As in C4, lorem ipsum and curly brackets drop the
    document only on lines that survive the punctuation and word-count checks; their Reason names the line."""
    kept_paragraphs = []
    n_sentences = 0
    # Paragraph breaks are kept: the output stays in the caller's normalized form.
    for paragraph in text.split("\n\n"):
        kept_lines = []
        for line in paragraph.split("\n"):
            if not line:
                continue
            words = line.split()
            # a word can't be longer than its line, which skips the per-word scan almost always
            if len(line) > cfg.max_word_length >= 0 and max(map(len, words), default=0) > cfg.max_word_length:
                continue
            if "[" in line:
                line = _CITATION.sub("", line).strip()
                if not line:
                    continue
            if cfg.filter_no_terminal_punct and (not line.endswith(_END_PUNCT) or line.endswith("...")):
                continue
            if len(words) < cfg.min_words_per_line:
                continue
            lower = line.lower()
            if cfg.filter_lorem_ipsum and "lorem ipsum" in lower:
                return text, Reason("lorem_ipsum", line)
            if cfg.filter_javascript and "javascript" in lower:
                continue
            if cfg.filter_curly_bracket and "{" in line:
                return text, Reason("curly_bracket", line)
            if cfg.filter_policy and any(p in lower for p in _POLICY):
                continue
            # a kept line is at least one sentence, even one closed only by a quote
            n_sentences += max(1, len(_SENTENCE_END.findall(line)))
            kept_lines.append(line)
        if kept_lines:
            kept_paragraphs.append("\n".join(kept_lines))

    kept = "\n\n".join(kept_paragraphs)
    if n_sentences < cfg.min_num_sentences:
        return text, "too_few_sentences"
    if not kept:
        return text, "no_lines_left"
    return kept, None
