"""C4 filter: which lines go, what drops the document, and the sentence count boundary."""
from dataclasses import replace

from datapipe.config import C4Config
from datapipe.filters import c4_filter, triggering_line

CFG = C4Config()
# five one-sentence lines: exactly C4's minimum
GOOD = [
    "The river rose slowly after the storm.",
    "Farmers moved their cattle to higher ground.",
    "Volunteers filled sandbags through the night.",
    "By morning the water had started to fall.",
    "Nobody in the valley was badly hurt.",
]


def kept_with(extra: str, cfg: C4Config = CFG) -> tuple[str, str | None]:
    return c4_filter("\n".join(GOOD[:3] + [extra] + GOOD[3:]), cfg)


def test_good_lines_are_kept_unchanged():
    text = "\n".join(GOOD[:2]) + "\n\n" + "\n".join(GOOD[2:])
    assert c4_filter(text, CFG) == (text, None)


def test_sentence_count_boundary():
    assert c4_filter("\n".join(GOOD[:4]), CFG)[1] == "too_few_sentences"
    assert c4_filter("\n".join(GOOD[:4]), replace(CFG, min_num_sentences=4))[1] is None
    # one line may hold several sentences; "?" "!" and closing quotes end them too
    two = "It rained. Then it stopped!"
    assert c4_filter("\n".join(GOOD[:3] + [two]), CFG)[1] is None
    assert c4_filter("\n".join(GOOD[:3] + ['Was it over? "Yes."']), CFG)[1] is None
    # a decimal point is not a sentence end
    assert c4_filter("\n".join(GOOD[:3] + ["It cost 3.50 dollars in total."]), CFG)[1] == "too_few_sentences"


def test_removed_text_is_returned_unchanged_on_drop():
    text = "\n".join(GOOD[:4] + ["no punctuation here"])
    assert c4_filter(text, CFG) == (text, "too_few_sentences")


def test_line_without_terminal_punctuation_is_removed():
    for bad in ("A heading without a full stop", "It trailed off...", "Contact us at noon:"):
        assert kept_with(bad) == ("\n".join(GOOD), None)
    for ok in ("He said it was 'fine.'", 'They shouted "run"', "Why did it flood?", "What a night!"):
        assert kept_with(ok)[0].count("\n") == 5
    assert kept_with("A heading without a full stop", replace(CFG, filter_no_terminal_punct=False))[0].count("\n") == 5


def test_min_words_per_line():
    assert kept_with("Too short.")[0] == "\n".join(GOOD)
    assert kept_with("Three words here.")[0].count("\n") == 5
    assert kept_with("Three words here.", replace(CFG, min_words_per_line=4))[0] == "\n".join(GOOD)


def test_max_word_length():
    cfg = replace(CFG, max_word_length=10)
    assert kept_with("A word abcdefghij here.", cfg)[0].count("\n") == 5  # 10 characters
    assert kept_with("A word abcdefghijk here.", cfg)[0] == "\n".join(GOOD)
    assert kept_with("x" * 1001 + " is a long word.")[0] == "\n".join(GOOD)


def test_javascript_and_policy_lines():
    for bad in (
        "Please enable JavaScript to view this page.",
        "This site uses cookies to improve your experience.",
        "Read our Privacy Policy before you continue.",
        "By using the site you accept the terms of use.",
    ):
        assert kept_with(bad) == ("\n".join(GOOD), None)
    assert kept_with("Please enable JavaScript to view it.", replace(CFG, filter_javascript=False))[0].count("\n") == 5
    assert kept_with("This site uses cookies, sadly.", replace(CFG, filter_policy=False))[0].count("\n") == 5


def test_citations_are_stripped():
    text, reason = kept_with("The dam was finished in 1912.[3]")
    assert reason is None and "The dam was finished in 1912.\n" in text and "[3]" not in text
    assert "[citation needed]" not in kept_with("It held for decades. [citation needed]")[0]


def test_lorem_ipsum_and_curly_bracket_drop_the_document():
    assert kept_with("Lorem ipsum dolor sit amet.")[1] == "lorem_ipsum"
    assert kept_with("Lorem ipsum dolor sit amet.", replace(CFG, filter_lorem_ipsum=False))[1] is None
    assert kept_with("The set {a, b} is small.")[1] == "curly_bracket"
    assert kept_with("The set {a, b} is small.", replace(CFG, filter_curly_bracket=False))[1] is None
    # the reason names the line that broke the rule
    assert triggering_line(kept_with("The set {a, b} is small.")[1]) == "The set {a, b} is small."
    assert triggering_line(kept_with("Lorem ipsum dolor sit amet.")[1]) == "Lorem ipsum dolor sit amet."
    # as in C4, only on lines that pass the punctuation and length checks
    assert kept_with("function main() {")[1] is None


def test_paragraphs_survive_and_empty_ones_vanish():
    text = "\n".join(GOOD[:2]) + "\n\nMenu\nHome\n\n" + "\n".join(GOOD[2:])
    assert c4_filter(text, CFG) == ("\n".join(GOOD[:2]) + "\n\n" + "\n".join(GOOD[2:]), None)


def test_nothing_left():
    cfg = replace(CFG, min_num_sentences=0)
    assert c4_filter("Home\nAbout us\nContact", cfg) == ("Home\nAbout us\nContact", "no_lines_left")
    assert c4_filter("Home\nAbout us\nContact", CFG)[1] == "too_few_sentences"
