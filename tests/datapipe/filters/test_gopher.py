"""Gopher quality and repetition filters: each threshold at its boundary, each reason reached, and
realistic prose kept by every filter."""
import random
from collections import Counter
from dataclasses import replace

import pytest

from datapipe.config import (
    C4Config,
    FineWebConfig,
    GopherQualityConfig,
    GopherRepetitionConfig,
    LangIdConfig,
)
from datapipe.filters import (LanguageFilter, c4_filter, fineweb_quality, gopher_quality, gopher_repetition,
                              triggering_line)

PROSE = """The history of the lighthouse is closely tied to the growth of maritime trade. Early towers were simple fires burning on hills near harbours, and sailors relied on them to find safe passage at night.

By the eighteenth century, engineers had begun to build taller stone towers with oil lamps and polished reflectors. These designs were expensive, but they saved many ships from the rocks that lined dangerous coasts.
The invention of the Fresnel lens in 1822 changed everything. Its rings of glass prisms gathered light that would otherwise have been lost, and a single lamp could now be seen from more than twenty miles away.

Keepers lived with their families at remote stations for months at a time. They trimmed wicks, cleaned the glass, and recorded the weather in careful logbooks that historians still study today.
Automation arrived during the twentieth century, and most keepers left their posts. Electric lamps, timers and radio beacons took over work that had once demanded constant attention.

Today many old lighthouses have become museums or holiday cottages. Visitors climb the narrow stairs to enjoy the view, and local groups raise money to repair the towers that guided their ancestors home."""

LOOSE_REP = GopherRepetitionConfig(
    dup_line_frac=1.0,
    dup_para_frac=1.0,
    dup_line_char_frac=1.0,
    dup_para_char_frac=1.0,
    top_ngram_fracs=(1.0, 1.0, 1.0),
    dup_ngram_fracs=(1.0,) * 6,
)
VOCAB = ["the", "quick", "brown", "fox", "and", "lazy", "dog", "with", "green", "eyes"]


def words(n: int, vocab: list[str] = VOCAB) -> list[str]:
    return [vocab[i % len(vocab)] for i in range(n)]


def doc(ws: list[str]) -> str:
    return " ".join(ws)


def test_prose_passes_every_filter():
    assert len(PROSE.split()) >= 150 and PROSE.count(".") >= 5
    assert gopher_quality(PROSE, GopherQualityConfig()) is None
    assert gopher_repetition(PROSE, GopherRepetitionConfig()) is None
    assert c4_filter(PROSE, C4Config()) == (PROSE, None)
    assert fineweb_quality(PROSE, FineWebConfig()) is None
    assert LanguageFilter(LangIdConfig())(PROSE) is None


# --- gopher_quality ---------------------------------------------------------------------------


def test_doc_word_count_bounds():
    cfg = GopherQualityConfig()
    assert gopher_quality(doc(words(50)), cfg) is None
    assert gopher_quality(doc(words(49)), cfg) == "too_few_words"
    assert gopher_quality(doc(words(49)), replace(cfg, min_doc_words=49)) is None
    assert gopher_quality(doc(words(50)), replace(cfg, max_doc_words=50)) is None
    assert gopher_quality(doc(words(51)), replace(cfg, max_doc_words=50)) == "too_many_words"
    assert gopher_quality("", cfg) == "too_few_words"


def test_punctuation_only_tokens_are_not_words():
    cfg = GopherQualityConfig()
    assert gopher_quality(doc(words(49) + ["-", "—", "..."]), cfg) == "too_few_words"
    assert gopher_quality(doc(words(49) + ["x-ray"]), cfg) is None


def test_avg_word_length_bounds():
    cfg = GopherQualityConfig()
    three = ["the", "and", "cat", "sat", "mat", "hat"]
    assert gopher_quality(doc(words(50, three)), cfg) is None  # mean exactly 3.0
    assert gopher_quality(doc(words(49, three) + ["an"]), cfg) == "avg_word_len_low"
    # 2 stop words (3 chars) + 46 words of 10 + 2 of 17: 500 characters over 50 words
    long = ["the", "and"] + ["abcdefghij"] * 46 + ["abcdefghijklmnopq"] * 2
    assert gopher_quality(doc(long), cfg) is None
    assert gopher_quality(doc(long[:-1] + ["abcdefghijklmnopqr"]), cfg) == "avg_word_len_high"
    assert gopher_quality(doc(long[:-1] + ["abcdefghijklmnopqr"]), replace(cfg, max_avg_word_length=11)) is None


@pytest.mark.parametrize(("mark", "reason"), [("#", "hash_ratio"), ("...", "ellipsis_ratio"), ("…", "ellipsis_ratio")])
def test_symbol_word_ratio(mark, reason):
    cfg = GopherQualityConfig()

    def marked(k: int) -> str:  # k of 50 words carry the symbol, mid-line
        ws = words(50)
        for i in range(k):
            ws[2 + 4 * i] = ws[2 + 4 * i] + mark
        return doc(ws)

    assert gopher_quality(marked(5), cfg) is None  # 5 / 50 = 0.1 is not above 0.1
    assert gopher_quality(marked(6), cfg) == reason
    assert gopher_quality(marked(6), replace(cfg, max_symbol_word_ratio=0.12)) is None


def lines_doc(n_lines: int, n_marked: int, prefix: str = "", suffix: str = ".", sep: str = "\n") -> str:
    out = []
    for i in range(n_lines):
        line = doc(words(6))
        if i < n_marked:
            line = prefix + line + suffix
        out.append(line)
    return sep.join(out)


def test_bullet_lines_ratio():
    cfg = GopherQualityConfig()
    assert gopher_quality(lines_doc(10, 9, prefix="• "), cfg) is None  # 0.9 is not above 0.9
    assert gopher_quality(lines_doc(10, 10, prefix="• "), cfg) == "bullet_lines"
    assert gopher_quality(lines_doc(10, 10, prefix="- "), cfg) == "bullet_lines"
    # blank lines between paragraphs are not lines: 10 bullets in 10 paragraphs is all bullets
    assert gopher_quality(lines_doc(10, 10, prefix="• ", sep="\n\n"), cfg) == "bullet_lines"
    assert gopher_quality(lines_doc(10, 10, prefix="• "), replace(cfg, max_bullet_lines_ratio=1.0)) is None


def test_ellipsis_lines_ratio():
    cfg = GopherQualityConfig()
    assert gopher_quality(lines_doc(10, 3, suffix="..."), cfg) is None  # 0.3 is not above 0.3
    assert gopher_quality(lines_doc(10, 4, suffix="..."), cfg) == "ellipsis_lines"
    assert gopher_quality(lines_doc(10, 4, suffix=" …"), cfg) == "ellipsis_lines"
    assert gopher_quality(lines_doc(10, 4, suffix="..."), replace(cfg, max_ellipsis_lines_ratio=0.4)) is None


def test_alpha_words_ratio():
    cfg = GopherQualityConfig()
    assert gopher_quality(doc(words(40) + ["1234"] * 10), cfg) is None  # exactly 0.8
    assert gopher_quality(doc(words(39) + ["1234"] * 11), cfg) == "alpha_words_ratio"
    # a letter anywhere in the word counts, in any script
    assert gopher_quality(doc(words(39) + ["12a4", "été", "数据"] + ["1234"] * 8), cfg) is None
    assert gopher_quality(doc(words(39) + ["1234"] * 11), replace(cfg, min_alpha_words_ratio=0.78)) is None


def test_stop_words():
    cfg = GopherQualityConfig()
    content = ["quick", "brown", "fox", "lazy", "dog", "green", "eyes"]
    assert gopher_quality(doc(words(48, content) + ["the", "with"]), cfg) is None
    assert gopher_quality(doc(words(49, content) + ["the"]), cfg) == "too_few_stop_words"
    # exact tokens, as in datatrove: "The" and "the," are not "the"
    assert gopher_quality(doc(words(47, content) + ["the", "The", "the,"]), cfg) == "too_few_stop_words"
    assert gopher_quality(doc(words(49, content) + ["the"]), replace(cfg, min_stop_words=1)) is None
    assert gopher_quality(doc(words(48, content) + ["fox", "dog"]), replace(cfg, stop_words=("fox",))) is None


# --- gopher_repetition ------------------------------------------------------------------------


def unique_lines(n: int) -> list[str]:
    return [f"line number {i} says something new{i}." for i in range(n)]


def test_dup_para_frac():
    paras = unique_lines(7)
    cfg = replace(LOOSE_REP, dup_para_frac=0.3)
    assert gopher_repetition("\n\n".join(paras + paras[:3]), cfg) is None  # 3 of 10 is not above 0.3
    assert gopher_repetition("\n\n".join(paras + paras[:4]), cfg) == "dup_para_frac"
    assert triggering_line(gopher_repetition("\n\n".join(paras + paras[:4]), cfg)) == paras[0]  # the first repeat


@pytest.mark.parametrize(("sep", "field"), [("\n\n", "dup_para_char_frac"), ("\n", "dup_line_char_frac")])
def test_dup_char_frac(sep, field):
    a, b = "alpha beta gamma.", "delta epsilon zeta eta."
    text = sep.join([a, b, a])
    ratio = len(a) / len(text)
    assert gopher_repetition(text, replace(LOOSE_REP, **{field: ratio})) is None
    assert gopher_repetition(text, replace(LOOSE_REP, **{field: ratio - 1e-9})) == field


def test_dup_line_frac():
    lines = unique_lines(7)
    cfg = replace(LOOSE_REP, dup_line_frac=0.3)
    assert gopher_repetition("\n".join(lines + lines[:3]), cfg) is None
    assert gopher_repetition("\n".join(lines + lines[:4]), cfg) == "dup_line_frac"
    # blank lines are not lines
    assert gopher_repetition("\n\n".join(lines[:2] + lines[:2]), replace(cfg, dup_line_frac=0.5)) is None


@pytest.mark.parametrize("n", [2, 3, 4])
def test_top_ngram(n):
    text = "ab cd ef gh ab cd ef gh ij kl mn"
    top = " ".join("ab cd ef gh".split()[:n])
    ratio = len(top) * 2 / len(text)
    fracs = [1.0, 1.0, 1.0]
    fracs[n - 2] = ratio
    assert gopher_repetition(text, replace(LOOSE_REP, top_ngram_fracs=tuple(fracs))) is None
    fracs[n - 2] = ratio - 1e-9
    assert gopher_repetition(text, replace(LOOSE_REP, top_ngram_fracs=tuple(fracs))) == f"top_{n}gram"
    assert triggering_line(gopher_repetition(text, replace(LOOSE_REP, top_ngram_fracs=tuple(fracs)))) == top


@pytest.mark.parametrize("n", range(5, 11))
def test_dup_ngram(n):
    unique = [f"w{i}" for i in range(n)]
    text = " ".join(unique + ["x"] + unique)
    ratio = sum(map(len, unique)) / len(text)  # spaces are not counted, as in datatrove
    fracs = [1.0] * 6
    fracs[n - 5] = ratio
    assert gopher_repetition(text, replace(LOOSE_REP, dup_ngram_fracs=tuple(fracs))) is None
    fracs[n - 5] = ratio - 1e-9
    assert gopher_repetition(text, replace(LOOSE_REP, dup_ngram_fracs=tuple(fracs))) == f"dup_{n}gram"


def test_default_config_catches_spam():
    cfg = GopherRepetitionConfig()
    boiler = "Click here to subscribe to our newsletter today."
    assert gopher_repetition(PROSE + "\n\n" + "\n\n".join([boiler] * 8), cfg) == "dup_para_frac"
    assert gopher_repetition(PROSE + "\n" + "\n".join([boiler] * 8), cfg) == "dup_line_frac"
    long_boiler = " ".join([boiler.replace(".", ",")] * 4) + "."  # few repeats, many characters
    assert gopher_repetition(PROSE + "\n" + "\n".join([long_boiler] * 3), cfg) == "dup_line_char_frac"
    assert gopher_repetition(PROSE + " " + " ".join(["buy now"] * 80), cfg) == "top_2gram"
    assert gopher_repetition(PROSE + " " + PROSE.replace("\n", " ")[:500], cfg) == "dup_5gram"
    assert gopher_repetition("", cfg) is None


# datatrove's get_n_grams / find_top_duplicate / find_all_duplicate, verbatim in behaviour, to
# check the tuple-based version against on random documents (equal-length words, so datatrove's
# "".join can't collide where tuples don't).
def _ref_top(words, n):
    grams = [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]
    gram, count = Counter(grams).most_common(1)[0]
    return len(gram) * count


def _ref_all_dup(words, n):
    unique, repeated, idx = set(), 0, 0
    while idx < len(words) - n + 1:
        gram = "".join(words[idx : idx + n])
        if gram in unique:
            repeated += len(gram)
            idx += n
        else:
            unique.add(gram)
            idx += 1
    return repeated


def test_ngram_fractions_agree_with_datatrove():
    rng = random.Random(0)
    for trial in range(200):
        ws = [rng.choice(["aa", "bb", "cc", "dd"][: 2 + trial % 3]) for _ in range(rng.randint(10, 60))]
        text = " ".join(ws)
        n_chars = len(text)
        for n in (2, 3, 4):
            frac = _ref_top(ws, n) / n_chars
            fracs = [1.0, 1.0, 1.0]
            fracs[n - 2] = frac
            assert gopher_repetition(text, replace(LOOSE_REP, top_ngram_fracs=tuple(fracs))) is None
            fracs[n - 2] = frac - 1e-9
            assert gopher_repetition(text, replace(LOOSE_REP, top_ngram_fracs=tuple(fracs))) == f"top_{n}gram"
        for n in range(5, 11):
            frac = _ref_all_dup(ws, n) / n_chars
            fracs = [1.0] * 6
            fracs[n - 5] = frac
            assert gopher_repetition(text, replace(LOOSE_REP, dup_ngram_fracs=tuple(fracs))) is None
            if frac > 0:
                fracs[n - 5] = frac - 1e-9
                assert gopher_repetition(text, replace(LOOSE_REP, dup_ngram_fracs=tuple(fracs))) == f"dup_{n}gram"
