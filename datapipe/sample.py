"""A seeded sample corpus that walks every door of the pipeline.

`python -m datapipe.sample --docs N --out FILE [--seed S]` writes N JSONL lines (binary, since
some lines are deliberately not valid UTF-8 or JSON). Each record's id is "<kind>-<n:06d>", so a
test can check that the kind came out of the intended door:

    good              English prose that passes every default quality filter (kept)
    no_id             a good document without an "id" field (kept, id '<path>:<row>')
    dup               the text of a good document again, "dup_of" names it (exact duplicate)
    near              a good document with a few words changed, "near_of" names it (near duplicate)
    junk_short        too few words                        → gopher_quality
    junk_symbols      hashtags or ellipses                 → gopher_quality
    junk_repetition   repeated paragraphs or lines         → gopher_repetition
    junk_c4           lorem ipsum, a curly bracket, or too few sentences → c4
    junk_fineweb      a navigation menu, or a repeated boilerplate line  → fineweb
    junk_lang         French or German prose               → lang_id
    junk_consent      a cookie-consent, "enable JavaScript" or sign-in wall with a few real sentences → boilerplate
    bad_json          a truncated or malformed JSON line   → rejected
    bad_utf8          invalid UTF-8 bytes or a lone surrogate → rejected
    bad_missing_text  an object without "text"             → rejected
    bad_text_type     "text" is a number or a list         → rejected
    bad_binary        a NUL-laden blob                     → rejected
    too_large         one prose document over 1,000,000 bytes (n_docs >= 200) → rejected

The prose comes from a small grammar (89 sentence templates, about 1,700 word forms in thirteen
topics). Templates are drawn without replacement within a document and have a slot every few
words, so a document rarely repeats a 5-gram of its own and shares almost none with another one
(word-5-gram Jaccard between good documents stays under 0.02).
"""
from __future__ import annotations

import argparse
import functools
import gzip
import json
import math
import random
import re
import sys
from collections import Counter
from pathlib import Path

import zstandard

from datapipe import sample_words as W

MIN_DOCS = 20
"""Fewer documents cannot hold one of every junk and bad kind plus a few good ones."""

TOO_LARGE_MIN_DOCS = 200
"""The one too_large document (about 1 MB) appears only in corpora at least this big."""

JUNK_KINDS = ("junk_short", "junk_symbols", "junk_repetition", "junk_c4", "junk_fineweb", "junk_lang", "junk_consent")
BAD_KINDS = ("bad_json", "bad_utf8", "bad_missing_text", "bad_text_type", "bad_binary", "no_id")
KINDS = ("good", "dup", "near", *JUNK_KINDS, *BAD_KINDS, "too_large")

# Shares of the corpus; "good" gets the rest (about 70%). The consent pages have their own share, so
# the other junk kinds kept their counts when they came.
_DUP_SHARE, _NEAR_SHARE, _JUNK_SHARE, _BAD_SHARE, _CONSENT_SHARE = 0.08, 0.07, 0.10, 0.03, 0.02
_NEAR_JACCARD = (0.86, 0.97)  # accepted word-5-gram Jaccard of a near duplicate to its original


_SLOT = re.compile(r"\{(\w+)\}")
# "a" written by a template before a slot that turned out to start with a vowel
_A_BEFORE_VOWEL = re.compile(r"\b([Aa]) (?=[aeiouAEIOU])(?!uni|use|eu|one)")


def _plural(noun: str) -> str:
    if noun in W.IRREGULAR:
        return W.IRREGULAR[noun]
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2:-1] not in tuple("aeiou"):
        return noun[:-1] + "ies"
    return noun + "s"


def _third_person(base: str) -> str:
    if base.endswith(("s", "x", "z", "ch", "sh", "o")):
        return base + "es"
    if base.endswith("y") and base[-2:-1] not in tuple("aeiou"):
        return base[:-1] + "ies"
    return base + "s"


def _article(phrase: str) -> str:
    w = phrase.lower()
    an = w[0] in "aeiou" and not w.startswith(("uni", "use", "eu", "one"))
    return ("an " if an or w.startswith(("hour", "honest")) else "a ") + phrase


class _Lexicon:
    """The word lists of one topic, expanded once."""

    def __init__(self, spec: dict[str, str]):
        self.nouns = spec["nouns"].split()
        self.plurals = [_plural(n) for n in self.nouns]
        verbs = [v.split("/") for v in spec["verbs"].split()]
        self.base = [v[0] for v in verbs]
        self.past = [v[1] for v in verbs]
        self.participle = [v[-1] for v in verbs]
        self.third = [_third_person(v[0]) for v in verbs]
        self.adjs = spec["adjs"].split()
        self.roles = _join_roles(spec["roles"].split())  # some are two words: "pastry chef"
        self.role_plurals = [_plural(r) for r in self.roles]


def _join_roles(words: list[str]) -> list[str]:
    """Re-join the two-word roles of a space-separated role list."""
    two_word = {tuple(k.split()) for k in W.IRREGULAR if " " in k}
    out, i = [], 0
    while i < len(words):
        if tuple(words[i : i + 2]) in two_word:
            out.append(" ".join(words[i : i + 2]))
            i += 2
        else:
            out.append(words[i])
            i += 1
    return out


_LEXICONS = {name: _Lexicon(spec) for name, spec in W.TOPICS.items()}
_TOPIC_NAMES = tuple(W.TOPICS)


class _Writer:
    """Writes English prose from the grammar; one instance per document."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.main, self.second = (_LEXICONS[t] for t in rng.sample(_TOPIC_NAMES, 2))
        last = rng.sample(W.LAST, 4)
        self.cast = [f"{rng.choice(W.FIRST)} {s}" for s in last]
        self.introduced: set[str] = set()
        self.turn = rng.randrange(len(self.cast))
        self.place = rng.choice(W.PLACES)
        self.year = rng.randint(1780, 2023)

    # -- slot fillers --------------------------------------------------------------------------
    def lex(self) -> _Lexicon:
        return self.main if self.rng.random() < 0.75 else self.second

    def pick(self, attr: str) -> str:
        return self.rng.choice(getattr(self.lex(), attr))

    def adj(self) -> str:
        return self.pick("adjs") if self.rng.random() < 0.6 else self.rng.choice(W.GENERAL_ADJS)

    def noun_phrase(self, det: str) -> str:
        r = self.rng.random()
        noun = self.pick("nouns")
        if r < 0.45:
            return f"{det} {noun}" if det else noun
        if r < 0.8:
            phrase = f"{self.adj()} {noun}"
        elif r < 0.9:
            phrase = f"{self.adj()}, {self.rng.choice(W.GENERAL_ADJS)} {noun}"
        elif det == "the":  # a possessive replaces the article: "Rossi's notebook"
            return f"{self.person().split()[-1]}'s {noun}"
        else:
            phrase = f"{self.rng.choice(W.GENERAL_ADJS)} {noun}"
        return f"{det} {phrase}" if det else phrase

    def person(self) -> str:
        self.turn = (self.turn + 1) % len(self.cast)
        name = self.cast[self.turn]
        if name not in self.introduced:
            self.introduced.add(name)
            return name
        r = self.rng.random()
        if r < 0.6:
            return name.split()[-1]
        if r < 0.8:
            return name.split()[0]
        return name

    def org(self) -> str:
        if self.rng.random() < 0.65:
            place = self.place if self.rng.random() < 0.5 else self.rng.choice(W.PLACES)
            return f"the {place} {self.rng.choice(W.INSTITUTIONS)}"
        return f"{self.rng.choice(W.LAST)} {self.rng.choice(W.FIRM_SUFFIX)}"

    def year_(self) -> str:
        self.year = min(2024, max(1700, self.year + self.rng.randint(-12, 15)))
        return str(self.year)

    def numd(self) -> str:
        rng = self.rng
        return f"{rng.choice((rng.randint(13, 99), rng.randint(100, 950), rng.randint(1, 40) * 100)):,}"

    def pp(self) -> str:
        rng = self.rng
        r = rng.random()
        prep = rng.choice(W.PREPS)
        if r < 0.55:
            return f"{prep} {self.noun_phrase('the')}"
        if r < 0.75:
            place = self.place if rng.random() < 0.5 else rng.choice(W.PLACES)
            return f"{rng.choice(('in', 'near', 'outside', 'around'))} {place}"
        if r < 0.9:
            return f"{prep} {rng.choice(W.REGIONS)}"
        return f"{prep} {self.person()}'s {self.pick('nouns')}"

    def pred(self) -> str:
        a = self.rng.choice(W.GENERAL_ADJS) if self.rng.random() < 0.7 else self.pick("adjs")
        degree = self.rng.choice(W.DEGREE)
        return f"{degree} {a}" if self.rng.random() < 0.6 and degree[:5] != a[:5] else a

    def fill(self, template: str) -> str:
        return _SLOT.sub(lambda m: self.slot(m.group(1)), template)

    def slot(self, key: str) -> str:
        cap = key[0].isupper() and key not in ("P", "Pfull", "R", "R_pl")
        k = key.lower() if cap else key
        if k == "year2":  # a later year than the one just written
            self.year = min(2024, self.year + self.rng.randint(3, 30))
            return str(self.year)
        fill = self._slot_fillers.get(k.rstrip("2"))
        if fill is None:
            raise KeyError(f"unknown template slot {key!r}")
        out = fill()
        return out[0].upper() + out[1:] if cap else out

    @functools.cached_property
    def _slot_fillers(self) -> dict:
        """Slot name → a function that draws its text (each draws from self.rng in a fixed order)."""
        rng, pick = self.rng, self.pick
        choice = lambda words: (lambda: rng.choice(words))  # noqa: E731
        return {
            "P": self.person, "Pfull": self._cast_member, "R": lambda: pick("roles"),
            "a_R": lambda: _article(f"{self.adj()} {pick('roles')}" if rng.random() < 0.5 else pick("roles")),
            "R_pl": lambda: pick("role_plurals"), "the_n": lambda: self.noun_phrase("the"),
            "a_n": lambda: _article(self.noun_phrase("")), "n": lambda: pick("nouns"),
            "ns": lambda: pick("plurals") if rng.random() < 0.7 else f"{self.adj()} {pick('plurals')}",
            "adj": self.adj, "gadj": choice(W.GENERAL_ADJS), "pred": self.pred, "vp": lambda: pick("past"),
            "vb": lambda: pick("base"), "v3": lambda: pick("third"), "v3_pl": lambda: pick("base"),
            "vpp": lambda: pick("participle"), "adv": choice(W.ADVERBS), "pp": self.pp,
            "time": lambda: self.fill(rng.choice(W.TIMES)), "conn": choice(W.CONNECTORS),
            "clause": lambda: self.fill(rng.choice(W.CLAUSES).replace("{subj}", rng.choice(W.SUBJECTS), 1)),
            "pron": choice(W.PRONOUNS), "place": lambda: self.place if rng.random() < 0.4 else rng.choice(W.PLACES),
            "region": choice(W.REGIONS), "org": self.org, "year": self.year_,
            "decade": lambda: f"{rng.randint(175, 201)}0s", "month": choice(W.MONTHS), "day": choice(W.DAYS),
            "season": choice(W.SEASONS), "numw": choice(W.NUM_WORDS), "numd": self.numd, "units": choice(W.UNITS),
        }

    def _cast_member(self) -> str:
        out = self.cast[self.rng.randrange(len(self.cast))]
        self.introduced.add(out)
        return out

    # -- sentences and documents ---------------------------------------------------------------
    def sentence(self, template: str) -> str:
        s = _A_BEFORE_VOWEL.sub(r"\1n ", self.fill(template))
        return s[0].upper() + s[1:]

    def sentences(self, n: int) -> list[str]:
        return [self.sentence(t) for t in self.rng.sample(W.TEMPLATES, n)]

    def document(self, min_words: int = 150, max_words: int = 600) -> str:
        """3-8 one-line paragraphs of 2-5 sentences, min_words..max_words words in all."""
        while True:
            paras = self._paragraphs(min_words, max_words)
            words = [w for p in paras for s in p for w in s.split(" ")]
            # a few long-worded topic mixes land just above gopher-typical lengths: draw again
            if min_words <= len(words) <= max_words and sum(map(len, words)) <= 6.0 * len(words):
                return "\n\n".join(" ".join(p) for p in paras)

    def _paragraphs(self, min_words: int, max_words: int) -> list[list[str]]:
        rng = self.rng
        target = rng.randint(min_words + 20, max_words - 40)
        n_par = rng.randint(max(3, math.ceil(target / 80)), min(8, max(3, target // 34)))
        templates = iter(rng.sample(W.TEMPLATES, 8 * 5))
        paras: list[list[str]] = [[] for _ in range(n_par)]
        words = 0
        for p in paras:
            for _ in range(2):
                s = self.sentence(next(templates))
                p.append(s)
                words += s.count(" ") + 1
        open_paras = [p for p in paras if len(p) < 5]
        while words < target and open_paras:
            p = rng.choice(open_paras)
            s = self.sentence(next(templates))
            p.append(s)
            words += s.count(" ") + 1
            if len(p) == 5:
                open_paras.remove(p)
        while words > max_words:  # rare: long sentences overshot; trim from the longest paragraph
            p = max(paras, key=len)
            words -= p.pop().count(" ") + 1
        return paras


def _words(text: str) -> int:
    return len(text.split())


_PROPER = {w for names in (W.FIRST, W.LAST, W.MONTHS, W.DAYS) for w in names} | {p.split()[0] for p in W.PLACES}


def _decapitalize(sentence: str) -> str:
    """Lower-case the first letter unless the sentence starts with a name."""
    first = sentence.split(" ", 1)[0].rstrip(",':;").removesuffix("'s")
    return sentence if first in _PROPER else sentence[0].lower() + sentence[1:]


def _junk_short(rng: random.Random) -> str:
    w = _Writer(rng)
    while True:
        text = " ".join(w.sentences(rng.randint(2, 3)))
        words = text.split()
        # Well under gopher's 50 words, still long enough for language ID. In so short a text
        # gopher_repetition's top n-gram rule fires first on any repeated 2-gram, and even on a
        # single long 4-gram (it does not require the top n-gram to occur twice).
        if 20 <= len(words) < 45 and len(set(zip(words, words[1:]))) == len(words) - 1:
            longest = max(sum(map(len, g)) + 3 for g in zip(words, words[1:], words[2:], words[3:]))
            if longest < 0.12 * len(text):
                return text


def _junk_symbols(rng: random.Random) -> str:
    w = _Writer(rng)
    paras = [" ".join(w.sentences(rng.randint(2, 4))) for _ in range(rng.randint(2, 3))]
    n = sum(map(_words, paras))
    if rng.random() < 0.5:
        # a social-media tail of hashtags: far more '#' than gopher's 0.1 per word
        # (a dict, not a set: set order follows PYTHONHASHSEED and the bytes must not)
        tags = list(dict.fromkeys(f"#{w.pick(rng.choice(('nouns', 'adjs'))).replace(' ', '')}"
                                  for _ in range(n // 3 + 5)))
        tags += [f"#{rng.choice(W.PLACES).replace(' ', '')}{y}" for y in rng.sample(range(2010, 2025), 4)]
        rng.shuffle(tags)
        paras.append(" ".join(tags))
    else:
        # trailing-off speech: an ellipsis every few words
        out = []
        for p in paras:
            toks = p.split(" ")
            for i in range(rng.randrange(3), len(toks) - 1, rng.randint(3, 5)):
                toks[i] = toks[i].rstrip(".,!?") + "..."
            out.append(" ".join(toks).rstrip(".!?") + "...")
        paras = out
    return "\n\n".join(paras)


def _junk_repetition(rng: random.Random) -> str:
    w = _Writer(rng)
    if rng.random() < 0.5:
        # one paragraph pasted over and over
        para = " ".join(w.sentences(rng.randint(2, 4)))
        paras = [para] * rng.randint(3, 6) + [" ".join(w.sentences(3))]
        return "\n\n".join(paras)
    # an advert line between every paragraph
    ad = w.sentence(rng.choice(W.TEMPLATES))
    lines = []
    for _ in range(rng.randint(4, 7)):
        lines += [" ".join(w.sentences(rng.randint(2, 3))), ad]
    return "\n\n".join(lines)


def _junk_c4(rng: random.Random) -> str:
    w = _Writer(rng)
    r = rng.random()
    if r < 0.7:
        paras = w.document().split("\n\n")
        bad = rng.choice(W.LOREM) if r < 0.35 else rng.choice(W.CURLY)
        paras.insert(rng.randrange(1, len(paras) + 1), bad)
        return "\n\n".join(paras)
    # enough words for gopher, too few sentences for C4: three long compound sentences
    while True:
        pairs = [w.sentences(2) for _ in range(3)]
        text = " ".join(f"{a.rstrip('.!?')}, and {_decapitalize(b)}" for a, b in pairs)
        if _words(text) >= 60:
            return text


def _junk_fineweb(rng: random.Random) -> str:
    w = _Writer(rng)
    if rng.random() < 0.5:
        # a shop page: a navigation menu around short slogans; C4 keeps only the slogans, all short
        items = rng.sample(W.NAV_ITEMS, rng.randint(24, 36))
        # gopher_quality wants two stop words, and the menu items may have none
        with_stop = [s for s in W.SHORT_LINES if {"the", "to", "and", "with"} & set(s.split())]
        slogans = rng.sample(with_stop, 2)
        slogans += rng.sample([s for s in W.SHORT_LINES if s not in slogans], rng.randint(5, 8))
        rng.shuffle(slogans)
        cut = rng.randint(8, len(items) - 8)
        return "\n\n".join(["\n".join(items[:cut]), "\n".join(slogans), "\n".join(items[cut:])])
    # an article with a boilerplate line pasted twice: under gopher's repetition limits,
    # over FineWeb's 1% of characters in duplicated lines
    paras = w.document(200, 600).split("\n\n")
    line = rng.choice(W.BOILERPLATE)
    paras.insert(0, line)
    paras.append(line)
    return "\n\n".join(paras)


def _junk_lang(rng: random.Random) -> str:
    pool = W.FOREIGN[rng.choice(sorted(W.FOREIGN))]
    while True:
        sents = rng.sample(pool, rng.randint(5, 12))
        cuts = sorted(rng.sample(range(1, len(sents)), rng.randint(0, 2)))
        paras = [" ".join(sents[a:b]) for a, b in zip([0, *cuts], [*cuts, len(sents)])]
        text = "\n\n".join(paras)
        if _words(text) >= 60:
            return text


CONSENT_PAGES = (  # (section of W.CONSENT, fewest, most lines); the first heads the page, the others come in any order
    (("title", 1, 1), ("banner", 2, 4), ("button", 2, 5), ("purposes", 3, 9), ("vendor", 0, 6), ("footer", 0, 3)),
    (("nav", 1, 3), ("title", 1, 1), ("banner", 1, 3), ("category", 3, 8), ("button", 2, 4), ("footer", 1, 4)),
    (("title", 1, 1), ("javascript", 3, 6), ("banner", 0, 2), ("nav", 0, 2), ("footer", 1, 3)),
    (("nav", 1, 2), ("subscribe", 3, 7), ("banner", 1, 2), ("button", 1, 3), ("footer", 1, 4)),
)


def consent_page(rng: random.Random) -> str:
    """A page that is nothing but a consent manager, a JavaScript or browser wall, or a sign-in prompt (one of
    CONSENT_PAGES, filled with a site, vendors and numbers), with one or two short paragraphs of real sentences
    where an extractor kept a headline or a teaser."""
    site = f"The {rng.choice(W.PLACES)} {rng.choice(W.SITE_WORDS)}"
    slots = {"site": site, "domain": re.sub(r"\W", "", site[4:].lower()) + ".com", "n": rng.randint(90, 980),
             "year": rng.randint(2015, 2025), "ray": f"{rng.getrandbits(64):016x}"}
    vendors = iter(rng.sample(W.CONSENT_VENDORS, len(W.CONSENT_VENDORS)))
    head, *rest = rng.choice(CONSENT_PAGES)
    rng.shuffle(rest)
    blocks = []
    for section, lo, hi in (head, *rest):
        k = rng.randint(lo, hi)
        lines = [_banner(rng) for _ in range(k)] if section == "banner" else rng.sample(W.CONSENT[section], k)
        lines = [line.format(vendor=next(vendors) if "{vendor}" in line else "", **slots) for line in lines]
        if lines:
            blocks.append(rng.choice(("\n", "\n\n")).join(lines))
    w = _Writer(rng)
    for _ in range(rng.randint(1, 2)):
        blocks.insert(rng.randint(1, len(blocks)), " ".join(w.sentences(rng.randint(1, 2))))
    return "\n\n".join(blocks)


def _banner(rng: random.Random) -> str:
    """One consent-banner paragraph: who uses what for which purposes, then one to three closing sentences."""
    c = W.CONSENT
    purposes = rng.sample(c["purpose"], rng.randint(2, 4))
    first = (f"{rng.choice(c['who'])} {rng.choice(c['use'])} {rng.choice(c['tech'])} to "
             f"{', '.join(purposes[:-1])} and {purposes[-1]}.")
    return " ".join([first, *rng.sample(c["close"], rng.randint(1, 3))])


_JUNK = {
    "junk_short": _junk_short,
    "junk_symbols": _junk_symbols,
    "junk_repetition": _junk_repetition,
    "junk_c4": _junk_c4,
    "junk_fineweb": _junk_fineweb,
    "junk_lang": _junk_lang,
    "junk_consent": consent_page,
}


# ---------------------------------------------------------------------------------------------
# Near duplicates: swap single words for others of the same part of speech.

def _build_swaps() -> dict[str, tuple[str, ...]]:
    swaps: dict[str, tuple[str, ...]] = {}
    groups = [W.GENERAL_ADJS, W.ADVERBS]
    for lex in _LEXICONS.values():
        groups += [lex.nouns, lex.plurals, lex.past, lex.base, lex.adjs]
    for group in groups:
        single = tuple(w for w in group if " " not in w)
        for w in single:
            swaps.setdefault(w, single)
    return swaps


_SWAPS = _build_swaps()


def shingles(text: str, n: int = 5) -> set[tuple[str, ...]]:
    """Word n-grams of lower-cased, whitespace-split text (what the near-dup checks compare)."""
    words = text.lower().split()
    return set(zip(*(words[i:] for i in range(n))))


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def _near_duplicate(rng: random.Random, text: str) -> str:
    """Swap words one at a time until the 5-gram Jaccard to `text` drops to a drawn target."""
    lo, hi = _NEAR_JACCARD
    target = rng.uniform(lo + 0.02, hi - 0.02)
    original = shingles(text)
    paras = [p.split(" ") for p in text.split("\n\n")]
    slots = [(i, j) for i, p in enumerate(paras) for j, tok in enumerate(p) if tok.rstrip(".,!?;:") in _SWAPS]
    rng.shuffle(slots)
    best = text
    for i, j in slots:
        tok = paras[i][j]
        core = tok.rstrip(".,!?;:")
        choices = [w for w in _SWAPS[core] if w != core]
        if not choices:
            continue
        before = paras[i][j]
        paras[i][j] = rng.choice(choices) + tok[len(core):]
        candidate = "\n\n".join(" ".join(p) for p in paras)
        sim = jaccard(original, shingles(candidate))
        if sim < lo:  # one swap too many (a short document): keep the last good version
            paras[i][j] = before
            if best != text:
                break
            continue
        best = candidate
        if sim <= target:
            break
    return best


def _whitespace_variant(rng: random.Random, text: str) -> str:
    """The same text after whitespace normalization: CRLF, doubled or trailing spaces, padding."""
    r = rng.randrange(4)
    if r == 0:
        return text.replace("\n", "\r\n")
    if r == 1:
        return text.replace(". ", ".  ")
    if r == 2:
        return text.replace("\n\n", "  \n\n")
    return f"  {text}\n"


# ---------------------------------------------------------------------------------------------
# Bad records: each one is rejected by the reader, before cleaning.

_INVALID_UTF8 = (b"\xff", b"\xc3\x28", b"\xe2\x82", b"\x80\x81", b"\xed\xa0\x80", b"\xfe\xfe", b"\xc0\xaf")


def _dumps(record: dict) -> bytes:
    return json.dumps(record, ensure_ascii=False).encode("utf-8")


def _bad_json(rng: random.Random, doc_id: str, text: str) -> bytes:
    line = json.dumps({"id": doc_id, "text": text}, ensure_ascii=False)
    r = rng.randrange(4)
    if r == 0:  # truncated mid-record, as by a killed writer
        line = line[: rng.randint(len(line) // 4, len(line) - 2)]
    elif r == 1:
        line = line[:-1] + ", }"  # trailing comma
    elif r == 2:
        line = line.replace('"text"', "text", 1)  # unquoted key
    else:
        line = line.replace('"', "'")  # Python repr, not JSON
    return line.encode("utf-8")


def _bad_utf8(rng: random.Random, doc_id: str, text: str) -> bytes:
    if rng.random() < 0.25:  # valid JSON and valid bytes, but a lone surrogate escape
        words = text.split(" ")
        k = rng.randrange(len(words))
        head = _dumps({"id": doc_id, "text": " ".join(words[:k])})[:-2]  # without the closing quote and brace
        return head + b"\\ud83d " + _dumps(" ".join(words[k:]))[1:] + b"}"
    raw = _dumps({"id": doc_id, "text": text})
    start = raw.index(b'"text": "') + 9
    spaces = [i for i in range(start, len(raw) - 2) if raw[i] == 0x20]
    for i in sorted(rng.sample(spaces, min(len(spaces), rng.randint(1, 4))), reverse=True):
        raw = raw[:i] + rng.choice(_INVALID_UTF8) + raw[i:]
    return raw


def _bad_missing_text(rng: random.Random, doc_id: str, text: str) -> bytes:
    field = rng.choice(("body", "content", "Text", "txt", None))
    return _dumps({"id": doc_id, "text": None} if field is None else {"id": doc_id, field: text})


def _bad_text_type(rng: random.Random, doc_id: str, text: str) -> bytes:
    r = rng.randrange(3)
    value = rng.randint(0, 10**6) if r == 0 else text.split("\n\n") if r == 1 else {"en": text}
    return _dumps({"id": doc_id, "text": value})


# PNG, zip and ELF magic numbers, or none
_BINARY_HEADERS = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"PK\x03\x04\x14\x00\x00\x00", b"\x7fELF\x02\x01\x01\x00", b"")


def _bad_binary(rng: random.Random, doc_id: str, text: str) -> bytes:
    header = rng.choice(_BINARY_HEADERS)
    body = bytes(0 if rng.random() < 0.35 else rng.randrange(1, 256) for _ in range(rng.randint(200, 3000)))
    # every byte becomes the code point of that value; ensure_ascii writes the NULs as \u0000
    return json.dumps({"id": doc_id, "text": (header + body).decode("latin-1")}).encode("ascii")


_BAD = {
    "bad_json": _bad_json,
    "bad_utf8": _bad_utf8,
    "bad_missing_text": _bad_missing_text,
    "bad_text_type": _bad_text_type,
    "bad_binary": _bad_binary,
}


def _too_large(rng: random.Random) -> str:
    parts, size = [], 0
    while size <= 1_000_000:
        parts.append(_Writer(rng).document(400, 600))
        size += len(parts[-1].encode("utf-8")) + 2
    return "\n\n".join(parts)


# ---------------------------------------------------------------------------------------------
# The corpus.

def kind_counts(n_docs: int) -> dict[str, int]:
    """How many documents of each kind a corpus of n_docs holds (in KINDS order)."""
    if n_docs < MIN_DOCS:
        raise ValueError(f"the sample corpus needs at least {MIN_DOCS} documents, got {n_docs}")
    counts = dict.fromkeys(KINDS, 0)
    counts["dup"] = max(1, round(n_docs * _DUP_SHARE))
    counts["near"] = max(1, round(n_docs * _NEAR_SHARE))
    for kind in JUNK_KINDS[:-1]:
        counts[kind] = max(1, round(n_docs * _JUNK_SHARE / (len(JUNK_KINDS) - 1)))
    counts["junk_consent"] = max(1, round(n_docs * _CONSENT_SHARE))
    for kind in BAD_KINDS:
        counts[kind] = max(1, round(n_docs * _BAD_SHARE / len(BAD_KINDS)))
    counts["too_large"] = int(n_docs >= TOO_LARGE_MIN_DOCS)
    counts["good"] = n_docs - sum(counts.values())
    return counts


def generate(n_docs: int, seed: int = 0) -> list[bytes]:
    """The corpus as raw JSONL lines (no trailing newline), in a seeded shuffled order."""
    counts = kind_counts(n_docs)
    rng = random.Random(seed)
    ids = Counter()

    def next_id(kind: str) -> str:
        ids[kind] += 1
        return f"{kind}-{ids[kind] - 1:06d}"

    lines: list[bytes] = []
    good: list[tuple[str, str]] = []
    for _ in range(counts["good"]):
        doc_id, text = next_id("good"), _Writer(rng).document()
        good.append((doc_id, text))
        lines.append(_dumps({"id": doc_id, "text": text}))
    for _ in range(counts["no_id"]):
        next_id("no_id")  # counted like the others, but the record carries no id
        lines.append(_dumps({"text": _Writer(rng).document()}))
    for _ in range(counts["dup"]):
        of, text = rng.choice(good)
        if rng.random() < 0.3:
            text = _whitespace_variant(rng, text)
        lines.append(_dumps({"id": next_id("dup"), "text": text, "dup_of": of}))
    for _ in range(counts["near"]):
        of, text = rng.choice(good)
        lines.append(_dumps({"id": next_id("near"), "text": _near_duplicate(rng, text), "near_of": of}))
    for kind, make in _JUNK.items():
        for _ in range(counts[kind]):
            lines.append(_dumps({"id": next_id(kind), "text": make(rng)}))
    for kind, make in _BAD.items():
        for _ in range(counts[kind]):
            lines.append(make(rng, next_id(kind), _Writer(rng).document()))
    for _ in range(counts["too_large"]):
        lines.append(_dumps({"id": next_id("too_large"), "text": _too_large(rng)}))
    rng.shuffle(lines)
    return lines


def write_corpus(path: str | Path, n_docs: int, seed: int = 0) -> dict[str, int]:
    """Write generate(n_docs, seed) to `path` (.gz and .zst compress); return the kind counts."""
    data = b"\n".join(generate(n_docs, seed)) + b"\n"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)  # mtime=0 keeps the bytes reproducible
    elif path.suffix in (".zst", ".zstd"):
        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)
    return kind_counts(n_docs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m datapipe.sample", description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=3000, help="number of records (at least %d)" % MIN_DOCS)
    parser.add_argument("--out", required=True, help="output .jsonl file (.jsonl.gz / .jsonl.zst compress)")
    parser.add_argument("--seed", type=int, default=0, help="random seed; same seed and size, same bytes")
    args = parser.parse_args(argv)
    if args.docs < MIN_DOCS:
        parser.error(f"--docs must be at least {MIN_DOCS}, got {args.docs}")
    try:
        counts = write_corpus(args.out, args.docs, args.seed)
    except OSError as e:
        print(f"error: cannot write {args.out}: {e.strerror or e}", file=sys.stderr)
        return 2
    summary = ", ".join(f"{k}={v}" for k, v in counts.items() if v)
    print(f"wrote {args.docs} records to {args.out} ({summary})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
