"""The sample corpus's junk pages, one maker per junk kind (JUNK): too short, symbol-laden or
repetitive prose, C4's and FineWeb's bad pages, foreign prose, and consent-manager, JavaScript and
sign-in walls (CONSENT_PAGES). Each is built so that the filter its kind names drops it
(datapipe/sample.py's docstring lists which)."""
from __future__ import annotations

import random
import re

from datapipe import sample_words as W
from datapipe.sample_prose import Writer

def _words(text: str) -> int:
    return len(text.split())


_PROPER = {w for names in (W.FIRST, W.LAST, W.MONTHS, W.DAYS) for w in names} | {p.split()[0] for p in W.PLACES}


def _decapitalize(sentence: str) -> str:
    """Lower-case the first letter unless the sentence starts with a name."""
    first = sentence.split(" ", 1)[0].rstrip(",':;").removesuffix("'s")
    return sentence if first in _PROPER else sentence[0].lower() + sentence[1:]


def _junk_short(rng: random.Random) -> str:
    w = Writer(rng)
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
    w = Writer(rng)
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
    w = Writer(rng)
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
    w = Writer(rng)
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
    w = Writer(rng)
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
    w = Writer(rng)
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


BANNER = "We use cookies to personalise content and ads, to provide social media features and to analyse our traffic."


def chrome_page(rng: random.Random, article: str, banner: str = BANNER) -> str:
    """An article as a crawler sees it: menu lines, a cookie banner and its buttons, a footer.
    A page that should be kept: the boilerplate filter leaves it to C4 to remove those lines."""
    c = W.CONSENT
    top = rng.sample(c["nav"], rng.randint(0, 3)) + [banner] * rng.randint(0, 1) + rng.sample(c["button"], rng.randint(0, 2))
    bottom = rng.sample(c["footer"], rng.randint(1, 4)) + rng.sample(c["subscribe"], rng.randint(0, 2))
    fill = {"site": "The Gazette", "year": 2024}
    return "\n".join(top) + "\n\n" + article + "\n\n" + "\n".join(line.format(**fill) for line in bottom)


JUNK = {
    "junk_short": _junk_short,
    "junk_symbols": _junk_symbols,
    "junk_repetition": _junk_repetition,
    "junk_c4": _junk_c4,
    "junk_fineweb": _junk_fineweb,
    "junk_lang": _junk_lang,
    "junk_consent": consent_page,
}
