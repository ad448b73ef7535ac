"""Boilerplate pages: cookie-consent managers, "enable JavaScript" and browser walls, sign-in and
subscribe prompts, navigation and footer lines, and little else.

C4's line rules remove some of such a page's lines (those that mention cookies or JavaScript, or lack
end punctuation), but a consent manager writes whole paragraphs of sentences ("We and our 173 partners
store and/or access information on a device...") that survive them. This filter looks at every line
before C4 does: a line is boilerplate when it holds at least one phrase of the phrase file per
`words_per_phrase` words, or is one of the file's whole-line phrases (buttons, menu items). The document
is dropped when its boilerplate lines are more than `max_line_frac` of its lines, or their characters
more than `max_char_frac` of its characters, as "boilerplate:<kind>" for the kind with the most
boilerplate characters; the reason carries that kind's first line.

An article with a cookie banner and a footer is kept: its paragraphs are long lines with no phrase, and
C4 then removes the banner and footer lines. The phrases are data (boilerplate_phrases.txt, the format
is described at its top); `clean.boilerplate.phrases_path` replaces the file.
"""
from __future__ import annotations

import re
import string
from collections import Counter
from pathlib import Path

from datapipe.config import BoilerplateConfig
from datapipe.filters.base import Reason
from raypretrain.config import ConfigError

PHRASES_FILE = Path(__file__).with_name("boilerplate_phrases.txt")
"""The shipped phrase list (package data)."""

# Punctuation around a word is not part of it: "cookies," "(Accept" "›" "'quoted'" (© is a word).
_EDGES = string.punctuation + "“”‘’«»‹›–—―·•…¡¿"
_KIND = re.compile(r"\[([a-z][a-z0-9_]*)]")


def load_phrases(path: str | Path) -> tuple[dict[str, str], dict[str, str]]:
    """(phrase → kind, whole-line phrase → kind) from a phrase file. ConfigError, naming the file and
    line, for a phrase before the first [kind], a phrase listed twice, or a file that cannot be read."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"clean.boilerplate.phrases_path: cannot read {path}: {getattr(e, 'strerror', None) or e}") \
            from None
    phrases: dict[str, str] = {}
    whole: dict[str, str] = {}
    kind = None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip().lower()
        if not line or line.startswith("#"):
            continue
        if m := _KIND.fullmatch(line):
            kind = m.group(1)
            continue
        where = f"clean.boilerplate.phrases_path: {path}:{lineno}"
        if kind is None:
            raise ConfigError(f"{where}: phrase {raw.strip()!r} before the first [kind] line")
        table, phrase = (whole, " ".join(_words(line[1:]))) if line.startswith("=") else (phrases, " ".join(_words(line)))
        if not phrase:
            raise ConfigError(f"{where}: empty phrase")
        if phrase in table:
            raise ConfigError(f"{where}: {phrase!r} is already listed (under [{table[phrase]}])")
        table[phrase] = kind
    if not phrases and not whole:
        raise ConfigError(f"clean.boilerplate.phrases_path: {path} holds no phrases")
    return phrases, whole


def _words(text: str) -> tuple[str, ...]:
    """The lower-cased, whitespace-separated words of `text` without the punctuation around them
    ("and/or", "don't" and "third-party" stay whole, "©" is a word, a lone "&" or "|" is none)."""
    return tuple(filter(None, [w.strip(_EDGES) for w in text.lower().replace("’", "'").split()]))


class BoilerplateFilter:
    """None to keep a document, or Reason("<kind>", first line of that kind) to drop it."""

    def __init__(self, cfg: BoilerplateConfig) -> None:
        self.cfg = cfg
        phrases, whole = load_phrases(cfg.phrases_path or PHRASES_FILE)
        # Phrases as word tuples, found by their first word: a line costs one dict lookup per word.
        self._kind = {_words(p): k for p, k in phrases.items()}
        self._whole = {_words(p): k for p, k in whole.items()}
        self._lengths: dict[str, tuple[int, ...]] = {}
        for words in self._kind:
            self._lengths[words[0]] = tuple(sorted({*self._lengths.get(words[0], ()), len(words)}, reverse=True))
        self._whole_max = max(map(len, self._whole), default=0)

    def line_kind(self, line: str) -> str | None:
        """The boilerplate kind of one line, or None for a line of content."""
        words = _words(line)
        if len(words) <= self._whole_max and (kind := self._whole.get(words)):
            return kind
        words_of: Counter = Counter()  # kind → words in its phrases
        hits = end = 0
        lengths, kinds = self._lengths, self._kind
        for i in [i for i, w in enumerate(words) if w in lengths]:  # where a phrase may start
            if i < end:
                continue  # inside the phrase just found
            for n in lengths[words[i]]:  # longest first
                if (kind := kinds.get(words[i:i + n])) is not None:
                    words_of[kind] += n
                    hits, end = hits + 1, i + n
                    break
        if not hits or len(words) > hits * self.cfg.words_per_phrase:
            return None
        return words_of.most_common(1)[0][0]

    def __call__(self, text: str) -> Reason | None:
        lines = [line for line in text.split("\n") if line.strip()]
        kind_chars: Counter = Counter()
        first: dict[str, str] = {}
        n_boilerplate = 0
        for line in lines:
            if kind := self.line_kind(line):
                n_boilerplate += 1
                kind_chars[kind] += len(line)
                first.setdefault(kind, line)
        if not n_boilerplate:
            return None
        if (n_boilerplate / len(lines) > self.cfg.max_line_frac
                or sum(kind_chars.values()) / sum(map(len, lines)) > self.cfg.max_char_frac):
            kind = kind_chars.most_common(1)[0][0]
            return Reason(kind, first[kind])
        return None
