"""A seeded near-dup corpus with hard negatives: planted pairs across true Jaccard 0.5-1.0 by edit type,
and its truth (every pair at J >= 0.5, planted or not) over the pipeline's own shingles.

Documents are lines of random words (a 20k-word vocabulary, 6-14 words a line, ~200-400 words, each
line capitalised and ending in a full stop). A planted group starts from a fresh document, draws a
target J uniformly from [0.5, 1.0] and applies one kind of edit, one step at a time, until the exact
Jaccard of the copy's shingle set with the original's is <= the target (at least one step, except
case_ws). The edit types:

  substitution  a random word replaced by a vocabulary word
  insertion     a vocabulary word inserted at a random place
  deletion      a random word deleted
  mixed         one of the three above, at random each step
  reorder       a random line moved to another place
  case_ws       the copy is rendered with case, whitespace and punctuation noise (upper/title-cased
                words, doubled spaces, tabs, commas, lines joined or broken), which the default
                shingles ignore, then substitutions to the target (none when the target is above
                what one substitution reaches: J 1.0 with a different text)
  boilerplate   header/footer lines of a site (navigation, cookies, copyright, subscribe prompts)
                added at the top and bottom
  chain         A, then B from A and C from B by substitutions, each step to a target in [0.8, 0.9]:
                A~B and B~C are near duplicates, A and C are usually not (no chaining keeps A and C)

Besides the planted groups, a few percent are short pages of one of a few sites (10-60 words of text
between a fixed header and footer): pages of one site share their boilerplate and some pairs of them
reach J >= 0.5 by accident. The truth has those too (edit type "accidental"). Everything else is
unrelated. Doc ids are shuffled, so which member of a pair comes first (and is kept) is random.

Shingles are `datapipe.minhash.shingle_hashes` with a NearDedupConfig's settings: the very sets batch
near dedup verifies (same n, kind, tokens, hash and max_shingles). Deterministic from the seed.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np

from datapipe.config import NearDedupConfig
from datapipe.neardup import doc_shingles

from .jaccard_join import pairs_at_least

EDIT_TYPES = ("substitution", "insertion", "deletion", "mixed", "reorder", "case_ws", "boilerplate", "chain")
BANDS = ((0.5, 0.6), (0.6, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 1.0))
VOCAB_SIZE = 20_000
MAX_STEPS = 2_000

SITES = ("dailyherald", "techpulse", "greenleaf", "cityguide", "foodnest", "sportszone", "travelmate", "homecraft",
         "moneywise", "healthhub", "autoworld", "petcorner")
TOPICS = ("news", "sports", "weather", "business", "travel", "recipes", "reviews", "events", "careers", "opinion",
          "science", "health", "music", "movies", "books", "gardening", "fashion", "games", "local", "world")
BOILERPLATE = (
    "Home {topic} About Contact Privacy Policy Terms of Use Sitemap {site}",
    "We use cookies to personalise content and ads on {site} and to analyse our {topic} traffic",
    "Accept all cookies Manage preferences Reject non essential cookies for {topic}",
    "Copyright 2024 {site} Media Group All rights reserved {topic} edition",
    "Subscribe to the {site} {topic} newsletter and never miss an update",
    "Sign in or create a free {site} account to comment on {topic} stories",
    "Please enable JavaScript in your browser to view {topic} videos on {site}",
    "Follow {site} on social media for the latest {topic} headlines every day",
    "Advertisement continue reading below the {topic} sponsored links from {site}",
    "Related articles more from {site} {topic} most popular this week",
    "Share this {topic} story Email Print Facebook Twitter {site}",
    "Your browser is out of date update it to enjoy {site} {topic} pages",
)


@dataclass
class HardCorpus:
    docs: list[tuple[str, str]]
    """(doc_id, text)."""
    planted: dict[tuple[str, str], str]
    """(lower id, higher id) of each planted pair → its edit type."""
    truth: dict[tuple[str, str], float] = field(default_factory=dict)
    """(lower id, higher id) → exact Jaccard, every pair at J >= truth_min (planted or not)."""
    truth_min: float = 0.5

    def edit_type(self, pair: tuple[str, str]) -> str:
        return self.planted.get(pair, "accidental")


def shingle_set(text: str, cfg: NearDedupConfig) -> np.ndarray:
    """The document's shingle set as batch near dedup verifies it."""
    return doc_shingles(text, cfg)


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    inter = len(np.intersect1d(a, b, assume_unique=True))
    union = len(a) + len(b) - inter
    return inter / union if union else 1.0


def _render(lines: list[list[str]]) -> str:
    return "\n".join(" ".join(words).capitalize() + "." for words in lines)


def _noisy_render(rng: random.Random, lines: list[list[str]]) -> str:
    """The same words with case, whitespace and punctuation noise (the default alnum shingles ignore it)."""
    out = []
    for words in lines:
        noisy = []
        for w in words:
            r = rng.random()
            w = w.upper() if r < 0.08 else w.title() if r < 0.2 else w
            if rng.random() < 0.08:
                w += rng.choice((",", ";", ":", " -", "!", "?"))
            noisy.append(w)
        seps = [rng.choice(("  ", "\t", " \n ", "   ")) if rng.random() < 0.15 else " " for _ in noisy]
        out.append("".join(w + s for w, s in zip(noisy, seps)).rstrip() + rng.choice((".", "!", "", " ...")))
    return rng.choice(("\n", "\n\n", " ")).join(out)


def _position(rng: random.Random, lines: list[list[str]]) -> tuple[int, int]:
    line = rng.choices(range(len(lines)), weights=[len(w) for w in lines])[0]
    return line, rng.randrange(len(lines[line]))


def _substitute(rng, lines, vocab, site):
    li, wi = _position(rng, lines)
    lines[li][wi] = rng.choice(vocab)


def _insert(rng, lines, vocab, site):
    li, wi = _position(rng, lines)
    lines[li].insert(wi + rng.randint(0, 1), rng.choice(vocab))


def _delete(rng, lines, vocab, site):
    li, wi = _position(rng, lines)
    if len(lines[li]) > 1:
        del lines[li][wi]
    elif len(lines) > 1:
        del lines[li]


def _mixed(rng, lines, vocab, site):
    rng.choice((_substitute, _insert, _delete))(rng, lines, vocab, site)


def _reorder(rng, lines, vocab, site):
    line = lines.pop(rng.randrange(len(lines)))
    lines.insert(rng.randrange(len(lines) + 1), line)


def _boilerplate(rng, lines, vocab, site):
    text = rng.choice(BOILERPLATE).format(site=site, topic=rng.choice(TOPICS)).lower().split()
    if rng.random() < 0.5:
        lines.insert(0, text)
    else:
        lines.append(text)


OPS = {"substitution": _substitute, "insertion": _insert, "deletion": _delete, "mixed": _mixed,
       "reorder": _reorder, "case_ws": _substitute, "boilerplate": _boilerplate, "chain": _substitute}


def _edit_to(rng: random.Random, lines: list[list[str]], vocab: list[str], target: float, etype: str,
             cfg: NearDedupConfig, at_least_one: bool = True) -> list[list[str]]:
    """A copy of `lines`, edited by `etype` one step at a time until its J with the original is <= target."""
    ref = shingle_set(_render(lines), cfg)
    out = [list(w) for w in lines]
    site = rng.choice(SITES)
    for step in range(MAX_STEPS):
        if (step or not at_least_one) and _jaccard(ref, shingle_set(_render(out), cfg)) <= target:
            break
        OPS[etype](rng, out, vocab, site)
    return out


def _fresh(rng: random.Random, vocab: list[str]) -> list[list[str]]:
    n_words, lines = rng.randint(200, 400), []
    while n_words > 0:
        k = min(n_words, rng.randint(6, 14))
        lines.append([rng.choice(vocab) for _ in range(k)])
        n_words -= k
    return lines


def _short_page(rng: random.Random, vocab: list[str], site: str) -> str:
    header = [BOILERPLATE[i].format(site=site, topic="news") for i in (0, 1, 2)]
    footer = [BOILERPLATE[i].format(site=site, topic="news") for i in (3, 4, 9)]
    body = " ".join(rng.choice(vocab) for _ in range(rng.randint(10, 60)))
    return "\n".join(header + [body.capitalize() + "."] + footer)


def hard_corpus(n_docs: int = 20_000, seed: int = 0, copy_fraction: float = 0.4, short_fraction: float = 0.03,
                cfg: NearDedupConfig | None = None, truth_min: float = 0.5) -> HardCorpus:
    """About n_docs documents: copy_fraction of them planted copies (pairs, and chains of three), short_fraction
    short same-site pages, the rest unrelated; with the truth at J >= truth_min (prefix-filter join)."""
    cfg = cfg or NearDedupConfig()
    rng = random.Random(seed)
    vocab = sorted({"".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))
                    for _ in range(VOCAB_SIZE)})
    texts: list[str] = []
    groups: list[tuple[list[int], str]] = []  # member indices into texts, edit type
    n_groups = int(n_docs * copy_fraction / 2)
    for g in range(n_groups):
        etype = EDIT_TYPES[g % len(EDIT_TYPES)]
        a = _fresh(rng, vocab)
        if etype == "chain":
            b = _edit_to(rng, a, vocab, rng.uniform(0.8, 0.9), etype, cfg)
            c = _edit_to(rng, b, vocab, rng.uniform(0.8, 0.9), etype, cfg)
            members = [_render(a), _render(b), _render(c)]
        else:
            copy = _edit_to(rng, a, vocab, rng.uniform(0.5, 1.0), etype, cfg, at_least_one=etype != "case_ws")
            members = [_render(a), _noisy_render(rng, copy) if etype == "case_ws" else _render(copy)]
        groups.append((list(range(len(texts), len(texts) + len(members))), etype))
        texts.extend(members)
    short_sites = SITES[:6]
    for _ in range(int(n_docs * short_fraction)):
        texts.append(_short_page(rng, vocab, rng.choice(short_sites)))
    while len(texts) < n_docs:
        texts.append(_render(_fresh(rng, vocab)))
    ids = [f"d{k:06d}" for k in range(len(texts))]
    rng.shuffle(ids)
    planted = {}
    for members, etype in groups:
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                p, q = ids[members[x]], ids[members[y]]
                planted[(min(p, q), max(p, q))] = etype
    docs = sorted(zip(ids, texts))
    corpus = HardCorpus(docs=docs, planted=planted, truth_min=truth_min)
    corpus.truth = truth_pairs(docs, cfg, truth_min)
    return corpus


def truth_pairs(docs: list[tuple[str, str]], cfg: NearDedupConfig, t: float) -> dict[tuple[str, str], float]:
    """Every pair of documents at exact J >= t over the pipeline's shingles, by the prefix-filter join."""
    found = pairs_at_least([shingle_set(text, cfg) for _, text in docs], t)
    out = {}
    for (i, j), jac in found.items():
        p, q = docs[i][0], docs[j][0]
        out[(min(p, q), max(p, q))] = jac
    return out


def band_of(j: float) -> str:
    for lo, hi in BANDS:
        if lo <= j < hi or (hi == 1.0 and j == 1.0):
            return f"{lo:.1f}-{hi:.1f}"
    return "<0.5"


@dataclass
class Score:
    """How one dedup run did against the truth at threshold t. `removed` maps each removed doc to the kept
    doc it was removed as a duplicate of (duplicates/' duplicate_of, near and exact kinds).

    precision  removed docs that have, in the truth, some *kept* doc at J >= t / all removed docs
    recall     truth pairs at J >= t with at least one member removed / all truth pairs at J >= t
    by_band    per true-J band: (pairs, either member removed, one removed as the other's duplicate)
    by_type    per edit type: (pairs at J >= t, of them either member removed,
                               pairs at 0.5 <= J < t, of them one removed as the other's duplicate)
    low_removed  pairs at 0.5 <= J < 0.7 with one member removed as the other's duplicate / all such pairs
    """
    t: float
    precision: float
    recall: float
    n_removed: int
    n_true: int
    low_removed: float
    n_low: int
    by_band: dict[str, tuple[int, int, int]]
    by_type: dict[str, tuple[int, int, int, int]]
    unjustified: int
    """Removed docs with no kept doc at J >= t in the truth (the precision misses)."""

    @property
    def f1(self) -> float:
        return 2 * self.precision * self.recall / (self.precision + self.recall) if self.precision + self.recall else 0.0


def score(corpus: HardCorpus, removed: dict[str, str], t: float) -> Score:
    if t < corpus.truth_min:
        raise ValueError(f"the truth holds pairs at J >= {corpus.truth_min} only, not {t}")
    partners: dict[str, list[tuple[str, float]]] = {}
    for (a, b), j in corpus.truth.items():
        partners.setdefault(a, []).append((b, j))
        partners.setdefault(b, []).append((a, j))
    justified = sum(any(j >= t - 1e-12 and k not in removed for k, j in partners.get(d, ())) for d in removed)

    def as_dup(a: str, b: str) -> bool:
        return removed.get(a) == b or removed.get(b) == a

    by_band: dict[str, list[int]] = {f"{lo:.1f}-{hi:.1f}": [0, 0, 0] for lo, hi in BANDS}
    by_type: dict[str, list[int]] = {e: [0, 0, 0, 0] for e in EDIT_TYPES + ("accidental",)}
    n_true = hit = n_low = low = 0
    for pair, j in corpus.truth.items():
        either = pair[0] in removed or pair[1] in removed
        dup = as_dup(*pair)
        row = by_band[band_of(j)]
        row[0] += 1
        row[1] += either
        row[2] += dup
        typ = by_type[corpus.edit_type(pair)]
        if j >= t - 1e-12:
            n_true += 1
            hit += either
            typ[0] += 1
            typ[1] += either
        else:
            typ[2] += 1
            typ[3] += dup
        if j < 0.7:
            n_low += 1
            low += dup
    return Score(t=t, precision=justified / len(removed) if removed else 1.0, recall=hit / n_true if n_true else 1.0,
                 n_removed=len(removed), n_true=n_true, low_removed=low / n_low if n_low else 0.0, n_low=n_low,
                 by_band={k: tuple(v) for k, v in by_band.items()}, by_type={k: tuple(v) for k, v in by_type.items()},
                 unjustified=len(removed) - justified)
