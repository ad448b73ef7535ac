"""Document quality filters. Each takes normalized text and returns None to keep it or a short
snake_case reason to drop it; the caller prefixes the filter name and skips disabled filters."""
from datapipe.filters.c4 import c4_filter
from datapipe.filters.fineweb import fineweb_quality
from datapipe.filters.gopher import gopher_quality, gopher_repetition
from datapipe.filters.langid import LanguageFilter

__all__ = ["LanguageFilter", "c4_filter", "fineweb_quality", "gopher_quality", "gopher_repetition"]
