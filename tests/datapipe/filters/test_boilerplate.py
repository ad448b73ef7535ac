"""Boilerplate filter: which lines count, the document thresholds, the phrase file, and how well it
does on generated consent pages against the sample corpus's prose."""
import json
import random
from dataclasses import replace

import pytest

from datapipe import sample, sample_pages
from datapipe.clean import clean_text
from datapipe.config import BoilerplateConfig, CleanConfig
from datapipe.filters import BoilerplateFilter, triggering_line
from datapipe.filters.boilerplate import PHRASES_FILE, load_phrases
from raypretrain.config import ConfigError, RangeError

CFG = BoilerplateConfig()
FILTER = BoilerplateFilter(CFG)
PARAGRAPH = ("The harbour town sits at the mouth of a wide river, and fishermen have worked its waters for "
             "centuries. Their boats leave before dawn and return with the tide, and markets along the quay sell "
             "the catch to families and restaurants from the valley. In the eighteenth century the town traded "
             "with distant ports, and merchants built tall houses with carved doors that still stand today.")
# a good document of the sample corpus: several paragraphs of prose that pass every filter
ARTICLE = next(json.loads(line)["text"] for line in sample.generate(20, seed=0) if line.startswith(b'{"id": "good-'))
BANNER = sample_pages.BANNER
NO_BOILERPLATE = replace(CleanConfig(), boilerplate=replace(CFG, enabled=False))


@pytest.mark.parametrize("line, kind", [
    ("We use cookies to personalise content and ads.", "consent"),
    ("Manage consent for 173 vendors", "consent"),
    ("Accept all", "consent"),
    ("[ Accept ]", "consent"),  # a whole-line phrase, give or take the punctuation around it
    ("You need to enable JavaScript to run this app.", "javascript"),
    ("Your browser is out of date. Update your browser for the best experience.", "browser"),
    ("© 2024 The Harbour Gazette. All rights reserved.", "footer"),
    ("Skip to main content", "navigation"),
    ("Home", "navigation"),
    ("Already a subscriber? Log in.", "subscribe"),
    ("Don’t have an account? Register now.", "subscribe"),  # a curly apostrophe is a straight one
    ("The designer signed in blue ink at the front desk.", None),  # whole words only: not "sign in"
    ("She was happy to accept the offer from the museum.", None),  # "accept" counts only as the whole line
    ("The dog came home.", None),
    ("", None),
])
def test_line_kind(line, kind):
    assert FILTER.line_kind(line) == kind


def test_a_long_line_needs_a_phrase_per_words_per_phrase_words():
    line = BANNER + " " + PARAGRAPH  # 4 phrases in 84 words
    assert FILTER.line_kind(BANNER) == "consent" and FILTER.line_kind(line) is None
    assert BoilerplateFilter(replace(CFG, words_per_phrase=21)).line_kind(line) == "consent"
    assert BoilerplateFilter(replace(CFG, words_per_phrase=20)).line_kind(line) is None


def test_document_thresholds_on_lines_and_characters():
    buttons = ["Accept all", "Reject all", "Cookie settings", "Learn more", "Allow all"]
    # 5 short boilerplate lines of 6: above the line share (0.8), far below the character share (0.4)
    text = "\n".join(buttons) + "\n\n" + PARAGRAPH
    assert FILTER(text) == "consent"
    assert BoilerplateFilter(replace(CFG, max_line_frac=5 / 6))(text) is None  # at the threshold: kept
    assert FILTER("\n".join(buttons[:4]) + "\n\n" + PARAGRAPH) is None  # 4 of 5 is not above 0.8
    # one long consent paragraph against one of prose: the character share decides
    consent = " ".join([BANNER, BANNER.replace("We use", "Our partners use"), "You can withdraw your consent at any time."])
    text = consent + "\n\n" + PARAGRAPH
    share = len(consent) / (len(consent) + len(PARAGRAPH))
    assert 0.4 < share < 0.8 and FILTER(text) == "consent"
    assert BoilerplateFilter(replace(CFG, max_char_frac=share))(text) is None
    assert BoilerplateFilter(replace(CFG, max_char_frac=share - 1e-9))(text) == "consent"


def test_an_article_with_banner_nav_and_footer_is_kept():
    page = "\n".join(["Skip to main content", "Main menu", BANNER, "Accept all", "Reject all"]) + "\n\n" + ARTICLE \
        + "\n\n" + "\n".join(["© 2023 The Gazette. All rights reserved.", "Privacy Policy · Terms of Use", "Contact us"])
    assert FILTER(page) is None
    assert clean_text(page, CleanConfig())[1] is None  # and C4 then removes the banner and the footer


def test_reason_is_the_dominant_kind_and_names_its_first_line():
    page = "\n".join([
        "Skip to content", BANNER,
        "We and our 312 partners store and/or access information on a device, such as cookies, and process "
        "personal data for personalised advertising, audience research and the development of services.",
        "You can change your preferences or withdraw your consent at any time by returning to this site.",
        "Manage consent for 312 vendors", "Accept all", "Reject all",
        "Please enable JavaScript in your browser settings and reload the page."])
    reason = FILTER(page)
    assert reason == "consent" and triggering_line(reason) == BANNER
    assert clean_text(page, CleanConfig())[1] == "boilerplate:consent"  # after gopher, before C4
    assert triggering_line(FILTER("Ray ID: 7f3a9c\n\nChecking your browser before accessing gazette.com.")) \
        == "Ray ID: 7f3a9c"


def test_phrase_file_replaces_the_shipped_list(tmp_path):
    kinds = set(load_phrases(PHRASES_FILE)[0].values())
    assert kinds == {"consent", "javascript", "browser", "subscribe", "navigation", "footer"}
    path = tmp_path / "phrases.txt"
    path.write_text("# ads only\n[ads]\nBuy now\n=click here\n")
    f = BoilerplateFilter(replace(CFG, phrases_path=str(path)))
    assert f.line_kind("Buy now, while stocks last!") == "ads" and f.line_kind("Click here.") == "ads"
    assert f.line_kind("Please click here to continue.") is None and f.line_kind("Accept all") is None


@pytest.mark.parametrize("content, message", [
    ("buy now\n[ads]\n", ":1: phrase 'buy now' before the first [kind] line"),
    ("[ads]\nbuy now\n\n[more]\nBuy  now\n", ":5: 'buy now' is already listed (under [ads])"),
    ("[ads]\n=\n", ":2: empty phrase"),
    ("# nothing\n[ads]\n", "holds no phrases"),
])
def test_bad_phrase_files_are_config_errors(tmp_path, content, message):
    path = tmp_path / "p.txt"
    path.write_text(content)
    with pytest.raises(ConfigError, match="^clean.boilerplate.phrases_path: ") as e:
        BoilerplateFilter(replace(CFG, phrases_path=str(path)))
    assert message in str(e.value)
    with pytest.raises(ConfigError, match="cannot read .*missing.txt"):
        BoilerplateFilter(replace(CFG, phrases_path=str(tmp_path / "missing.txt")))


@pytest.mark.parametrize("field, value", [("max_line_frac", 1.5), ("max_char_frac", -0.1), ("words_per_phrase", 0),
                                          ("phrases_path", "")])
def test_config_ranges(field, value):
    with pytest.raises(RangeError, match=field):
        BoilerplateConfig(**{field: value})


# --- quality on generated pages ----------------------------------------------------------------

def test_consent_pages_are_dropped():
    """Today's filters keep most of these pages; with the boilerplate filter >= 98% go."""
    rng = random.Random(2024)
    pages = [sample_pages.consent_page(rng) for _ in range(300)]
    reasons = [clean_text(p, CleanConfig())[1] for p in pages]
    before = [clean_text(p, NO_BOILERPLATE)[1] for p in pages]
    dropped = sum(r is not None for r in reasons) / len(pages)
    print(f"consent pages dropped: {dropped:.3f} (boilerplate: {sum(str(r).startswith('boilerplate:') for r in reasons)}"
          f"/{len(pages)}), without the filter {sum(r is not None for r in before) / len(pages):.3f}")
    assert dropped >= 0.98
    assert sum(r is None for r in before) / len(pages) >= 0.5
    assert {"boilerplate:consent", "boilerplate:browser", "boilerplate:javascript"} <= set(reasons)


def test_prose_is_kept():
    """The sample corpus's prose loses no more than 0.5% more documents with the filter than without,
    and the same prose wrapped in site chrome (nav, banner, footer) is kept by the filter as well."""
    kinds = ("good", "dup", "near", "no_id")
    records = [json.loads(line) for line in sample.generate(600, seed=4)
               if line.startswith((b'{"text": ', *(b'{"id": "%s-' % k.encode() for k in kinds)))]
    prose = [r["text"] for r in records]
    with_filter = sum(clean_text(t, CleanConfig())[1] is not None for t in prose) / len(prose)
    without = sum(clean_text(t, NO_BOILERPLATE)[1] is not None for t in prose) / len(prose)
    rng = random.Random(5)
    wrapped = sum(FILTER(sample_pages.chrome_page(rng, t)) is not None for t in prose) / len(prose)
    print(f"prose dropped: {with_filter:.4f} with the filter, {without:.4f} without, over {len(prose)}; "
          f"in site chrome: {wrapped:.4f} by the filter")
    assert len(prose) > 450 and with_filter - without <= 0.005
    assert wrapped <= 0.005
