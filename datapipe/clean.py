"""Clean: normalize text, optionally redact PII, then run the quality filters.

Each filter is a pure function returning None (keep) or a reason; the first filter that
objects decides, and the document is recorded as dropped with "<filter>:<reason>" and an excerpt:
the line that broke the rule where the filter names one, else the start of the document.
`Cleaner` holds what is expensive to build (the language-ID model, the phrase index) for one actor.
"""
from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

import pyarrow as pa

from datapipe.config import CleanConfig, PiiConfig
from datapipe.filters import (BoilerplateFilter, LanguageFilter, c4_filter, fineweb_quality, gopher_quality,
                              gopher_repetition, triggering_line)

EXCERPT_CHARS = 300
"""A dropped document's excerpt (the triggering line, or the document's start) is cut to this many characters."""

# Control characters (Unicode Cc) other than tab and newline, plus BOM / zero-width no-break space.
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\ufeff]")
_SPACES = re.compile(r"[^\S\n]+")          # any whitespace except newline
_LINE_EDGES = re.compile(r" ?\n ?")
_BLANK_RUNS = re.compile(r"\n{3,}")


def normalize(text: str) -> str:
    """NFC, \\n line endings, no control characters, single spaces, at most one blank line."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    text = _SPACES.sub(" ", text)
    text = _LINE_EDGES.sub("\n", text)
    return _BLANK_RUNS.sub("\n\n", text).strip()


_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_IPV4 = re.compile(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\d.])")
# Candidate IPv6: hex groups and colons; ipaddress decides (so times like 10:30:00 stay).
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{0,4}|(?:\d{1,3}\.){3}\d{1,3})(?![\w:])")
# North-American style (555) 123-4567 / 555-123-4567, with optional +country code, and
# international +CC groups; a candidate counts only with 10 to 15 digits.
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?|\d{2,4}[ .-])\d{3,4}[ .-]\d{3,4}(?:[ .-]\d{2,4})?(?![\w])"
)


def redact_pii(text: str, cfg: PiiConfig) -> tuple[str, Counter]:
    """Replace e-mails, IPs and phone numbers by placeholders; count each kind."""
    counts: Counter = Counter()

    def sub(pattern: re.Pattern, token: str, kind: str, text: str, valid=lambda s: True) -> str:
        def repl(m: re.Match) -> str:
            if not valid(m.group(0)):
                return m.group(0)
            counts[kind] += 1
            return token
        return pattern.sub(repl, text)

    if cfg.emails:
        text = sub(_EMAIL, "<EMAIL>", "email", text)
    if cfg.ips:
        text = sub(_IPV4, "<IP>", "ip", text)
        text = sub(_IPV6, "<IP>", "ip", text, _is_ipv6)
    if cfg.phones:
        text = sub(_PHONE, "<PHONE>", "phone", text, lambda s: 10 <= sum(c.isdigit() for c in s) <= 15)
    return text, counts


def _is_ipv6(s: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(s), ipaddress.IPv6Address)
    except ValueError:
        return False


@dataclass
class CleanResult:
    text: str
    reason: str | None
    pii: Counter = field(default_factory=Counter)
    excerpt: str | None = None
    """For a dropped document: the line that triggered the rule, or the document's first characters."""


class Cleaner:
    """Normalize → PII → lang_id → gopher_repetition → gopher_quality → boilerplate → c4 → fineweb."""

    def __init__(self, cfg: CleanConfig):
        self.cfg = cfg
        self.lang = LanguageFilter(cfg.lang_id) if cfg.lang_id.enabled else None
        self.boilerplate = BoilerplateFilter(cfg.boilerplate) if cfg.boilerplate.enabled else None

    def __call__(self, text: str) -> CleanResult:
        return self.clean_many([text])[0]

    def clean_many(self, texts: list[str]) -> list[CleanResult]:
        """Clean each text (language ID runs over all of them at once: it is vectorised)."""
        staged = [self._normalized(t) for t in texts]
        lang = iter(self.lang.check_many([t for t, _ in staged if t]) if self.lang else ())
        return [self._filtered(t, pii, next(lang) if self.lang and t else None) for t, pii in staged]

    def _normalized(self, text: str) -> tuple[str, Counter]:
        text = normalize(text)
        if self.cfg.pii.enabled:
            return redact_pii(text, self.cfg.pii)
        return text, Counter()

    def _filtered(self, text: str, pii: Counter, lang_reason: str | None) -> CleanResult:
        cfg = self.cfg
        if not text:
            return CleanResult(text, "normalize:empty", pii, "")
        if lang_reason:
            return _dropped(text, "lang_id", lang_reason, pii)
        checks = (
            ("gopher_repetition", cfg.gopher_repetition.enabled and (lambda t: gopher_repetition(t, cfg.gopher_repetition))),
            ("gopher_quality", cfg.gopher_quality.enabled and (lambda t: gopher_quality(t, cfg.gopher_quality))),
            ("boilerplate", self.boilerplate),
        )
        for name, check in checks:
            if check and (reason := check(text)):
                return _dropped(text, name, reason, pii)
        if cfg.c4.enabled:
            text, reason = c4_filter(text, cfg.c4)
            if reason:
                return _dropped(text, "c4", reason, pii)
        if cfg.fineweb.enabled and (reason := fineweb_quality(text, cfg.fineweb)):
            return _dropped(text, "fineweb", reason, pii)
        return CleanResult(text, None, pii)


def _dropped(text: str, name: str, reason: str, pii: Counter) -> CleanResult:
    line = triggering_line(reason)
    return CleanResult(text, f"{name}:{reason}", pii, (text if line is None else line)[:EXCERPT_CHARS])


@lru_cache(maxsize=4)
def _cleaner(cfg: CleanConfig) -> Cleaner:
    return Cleaner(cfg)


def clean_text(text: str, cfg: CleanConfig) -> tuple[str, str | None]:
    """Convenience for tests and notebooks: (cleaned text, drop reason or None)."""
    result = _cleaner(cfg)(text)
    return result.text, result.reason


def clean_batch(table: pa.Table, cleaner: Cleaner) -> tuple[pa.Table, Counter]:
    """Apply `cleaner` to the ok rows of a read.RECORD_SCHEMA table.

    Returns the table with cleaned text and dropped rows marked (status "dropped",
    reason "<filter>:<why>", text cleared), plus the PII replacement counts. An `excerpt`
    column is appended: for a dropped row the line that triggered its filter (or the
    document's first EXCERPT_CHARS characters), null for every other row.
    """
    texts = table.column("text").to_pylist()
    status = table.column("status").to_pylist()
    reasons = table.column("reason").to_pylist()
    excerpts: list[str | None] = [None] * len(texts)
    pii: Counter = Counter()
    todo = [i for i, s in enumerate(status) if s == "ok"]
    for i, result in zip(todo, cleaner.clean_many([texts[i] for i in todo])):
        pii.update(result.pii)
        if result.reason is None:
            texts[i] = result.text
        else:
            texts[i], status[i], reasons[i], excerpts[i] = None, "dropped", result.reason, result.excerpt
    table = table.set_column(table.schema.get_field_index("text"), "text", pa.array(texts, pa.string()))
    table = table.set_column(table.schema.get_field_index("status"), "status", pa.array(status, pa.string()))
    table = table.set_column(table.schema.get_field_index("reason"), "reason", pa.array(reasons, pa.string()))
    return table.append_column("excerpt", pa.array(excerpts, pa.string())), pii
