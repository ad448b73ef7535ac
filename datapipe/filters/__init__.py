"""Document quality filters. Each takes normalized text and returns None to keep it or a short
snake_case reason to drop it (a `Reason` where it can name the line that broke its rule); the caller
prefixes the filter name and skips disabled filters."""
from datapipe.filters.base import Reason, triggering_line
from datapipe.filters.boilerplate import BoilerplateFilter
from datapipe.filters.c4 import c4_filter
from datapipe.filters.fineweb import fineweb_quality
from datapipe.filters.gopher import gopher_quality, gopher_repetition
from datapipe.filters.langid import LanguageFilter

__all__ = ["BoilerplateFilter", "LanguageFilter", "Reason", "c4_filter", "fineweb_quality", "gopher_quality",
           "gopher_repetition", "triggering_line"]
