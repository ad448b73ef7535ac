"""LanguageFilter on py3langid's bundled model, and the fastText config errors."""
from dataclasses import replace

import pytest

from datapipe.config import LangIdConfig
from datapipe.filters import LanguageFilter
from raypretrain.config import ConfigError

ENGLISH = (
    "The village library opens early on Saturdays, and children gather outside before the doors "
    "are unlocked. Inside, volunteers have arranged new books on the tables near the window."
)
FRENCH = (
    "La bibliothèque du village ouvre tôt le samedi, et les enfants se rassemblent devant la porte "
    "avant l'ouverture. À l'intérieur, les bénévoles ont disposé de nouveaux livres sur les tables."
)
GERMAN = (
    "Die Dorfbibliothek öffnet samstags früh, und die Kinder versammeln sich vor der Tür, bevor sie "
    "aufgeschlossen wird. Drinnen haben Freiwillige neue Bücher auf den Tischen am Fenster ausgelegt."
)


@pytest.fixture(scope="module")
def lid() -> LanguageFilter:
    return LanguageFilter(LangIdConfig())


def test_english_is_kept(lid):
    assert lid(ENGLISH) is None
    lang, score = lid.predict(ENGLISH)
    assert lang == "en" and 0.9 < score <= 1.0


@pytest.mark.parametrize(("text", "lang"), [(FRENCH, "fr"), (GERMAN, "de")], ids=["fr", "de"])
def test_other_languages_are_dropped(lid, text, lang):
    assert lid.predict(text)[0] == lang
    assert lid(text) == "wrong_language"
    assert LanguageFilter(replace(LangIdConfig(), languages=("en", lang)))(text) is None


def test_empty_language_list_keeps_any_confident_language():
    lid_any = LanguageFilter(replace(LangIdConfig(), languages=()))
    assert lid_any(FRENCH) is None and lid_any(GERMAN) is None


def test_low_score_is_dropped(lid):
    assert lid.predict("Hello bonjour")[1] < 0.65
    assert lid("Hello bonjour") == "low_score"
    assert lid("") == "low_score"
    score = lid.predict(ENGLISH)[1]
    assert LanguageFilter(replace(LangIdConfig(), min_score=min(1.0, score + 1e-6)))(ENGLISH) == "low_score"


def test_missing_fasttext_model_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="fasttext_model: file not found"):
        LanguageFilter(replace(LangIdConfig(), fasttext_model=str(tmp_path / "lid.176.bin")))
    # an unreadable file: the package is missing, or it cannot load this file
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"not a model")
    with pytest.raises(ConfigError, match="fasttext"):
        LanguageFilter(replace(LangIdConfig(), fasttext_model=str(bad)))


def test_batch_identifier_gives_py3langids_answers_whatever_the_batch():
    """The vectorised walk and scoring agree with py3langid's own classify, text by text, and a
    text's answer does not depend on what it is batched with (task sizes must not change outputs)."""
    import numpy as np
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    from datapipe.filters.langid import BatchIdentifier

    reference = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    batch = BatchIdentifier(reference)
    rng = np.random.default_rng(0)
    noise = [bytes(rng.integers(0, 256, n, dtype=np.uint8)).decode("latin-1") for n in (1, 5, 6, 7, 300, 3000)]
    texts = ["", "a", "Hello bonjour", "THE LIBRARY OPENS EARLY", ENGLISH, FRENCH, GERMAN, ENGLISH.upper(),
             "日本語のテキストです。" * 40, "Привет, мир. " * 30, "e\u0301t\u00e9", *noise, ENGLISH * 200]
    together = batch.classify(texts)
    assert [batch.classify([t])[0] for t in texts] == together
    assert batch.classify(texts[::-1]) == together[::-1]
    for text, (lang, score) in zip(texts, together):
        want_lang, want_score = reference.classify(text)
        assert lang == want_lang and abs(score - want_score) < 1e-4, text[:40]


def test_window_is_how_many_last_bytes_decide_the_state():
    """window() on two small automata: one that remembers the last two bytes (it spots "ab"), and a
    parity counter that never forgets, which it refuses."""
    import numpy as np

    from datapipe.filters.langid import window

    rows = np.arange(3, dtype=np.int64) << 8
    spots_ab = np.zeros(3 * 256, np.uint32)
    spots_ab[rows + ord("a")] = 1
    spots_ab[rows[1] + ord("b")] = 2
    assert window(spots_ab, rows) == 2
    parity = np.tile(np.array([1, 0], np.uint32)[:, None], (1, 256)).ravel()
    with pytest.raises(ValueError, match="more than its last 4 bytes"):
        window(parity, np.arange(2, dtype=np.int64) << 8, limit=4)
