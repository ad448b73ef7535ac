"""Language identification: py3langid (its model ships in the wheel) or an optional fastText
lid.176.bin. Build one LanguageFilter per worker; loading a model takes about a second."""
from __future__ import annotations

from pathlib import Path

from py3langid.langid import MODEL_FILE, LanguageIdentifier

from datapipe.config import LangIdConfig
from raypretrain.config import ConfigError


class LanguageFilter:
    """Keeps documents whose top language is in cfg.languages with probability >= cfg.min_score."""

    def __init__(self, cfg: LangIdConfig) -> None:
        self.cfg = cfg
        self._languages = frozenset(cfg.languages)
        if cfg.fasttext_model:
            self._fasttext = _load_fasttext(cfg.fasttext_model)
        else:
            # py3langid 0.4 renamed from_pickled_model to from_model_file
            load = getattr(LanguageIdentifier, "from_model_file", None) or LanguageIdentifier.from_pickled_model
            self._langid = load(MODEL_FILE, norm_probs=True)
            self._fasttext = None

    def predict(self, text: str) -> tuple[str, float]:
        """The most likely language (ISO 639-1 code where one exists) and its probability."""
        if self._fasttext is None:
            lang, score = self._langid.classify(text)
            return lang, float(score)
        # fastText predicts one line at a time and rejects a newline in its input
        labels, scores = self._fasttext.predict(text.replace("\n", " "), k=1)
        # its probabilities can round to a hair above 1
        return labels[0].removeprefix("__label__"), min(float(scores[0]), 1.0)

    def __call__(self, text: str) -> str | None:
        """None to keep `text`, or the reason to drop it."""
        lang, score = self.predict(text)
        # an unsure guess is reported as unsure, not as whichever language happened to win
        if score < self.cfg.min_score:
            return "low_score"
        if self._languages and lang not in self._languages:
            return "wrong_language"
        return None


def _load_fasttext(path: str):
    if not Path(path).is_file():
        raise ConfigError(f"clean.lang_id.fasttext_model: file not found: {path}")
    try:
        import fasttext  # optional (not a dependency): only with clean.lang_id.fasttext_model set
    except ImportError:
        raise ConfigError(
            "clean.lang_id.fasttext_model: the fasttext package is not installed (pip install fasttext)"
        ) from None
    try:
        return fasttext.load_model(path)
    except ValueError as e:
        raise ConfigError(f"clean.lang_id.fasttext_model: cannot load {path}: {e}") from None
