"""The sample corpus's English prose: a small grammar (datapipe/sample_words.py's templates and word
lists, expanded into each topic's word forms) and the Writer that fills it in, one per document.
datapipe/sample.py writes good documents with it, and datapipe/sample_pages.py the junk pages'
real sentences."""
from __future__ import annotations

import functools
import math
import random
import re

from datapipe import sample_words as W

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


LEXICONS = {name: _Lexicon(spec) for name, spec in W.TOPICS.items()}
_TOPIC_NAMES = tuple(W.TOPICS)


class Writer:
    """Writes English prose from the grammar; one instance per document."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.main, self.second = (LEXICONS[t] for t in rng.sample(_TOPIC_NAMES, 2))
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
