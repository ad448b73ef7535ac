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
