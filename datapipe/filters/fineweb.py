"""FineWeb's quality heuristics (Penedo et al. 2024), after datatrove's FineWebQualityFilter."""
from __future__ import annotations

from datapipe.config import FineWebConfig
from datapipe.filters.base import Reason

_STOP_CHARS = (".", "'", '"', "!", "?")


def fineweb_quality(text: str, cfg: FineWebConfig) -> str | None:
    """None to keep `text`, or the reason to drop it (char_dup_ratio names the first repeated line)."""
    # FineWeb's thresholds were set on trafilatura output, one line per paragraph. Here a blank
    # line separates paragraphs, so blank lines are not lines (they would count as short,
    # unpunctuated lines) and the newline count is the breaks between the remaining lines.
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines:
        return "no_text"
    n_lines = len(lines)

    ratio = sum(line.endswith(_STOP_CHARS) for line in lines) / n_lines
    if ratio <= cfg.line_punct_thr and not (ratio == 0 and cfg.line_punct_exclude_zero):
        return "line_punct_ratio"

    if sum(len(line) <= cfg.short_line_length for line in lines) / n_lines >= cfg.short_line_thr:
        return "short_line_ratio"

    seen: set[str] = set()
    dup_chars, first_dup = 0, None
    for line in lines:
        if line in seen:
            dup_chars += len(line)
            first_dup = first_dup or line
        else:
            seen.add(line)
    if dup_chars / sum(map(len, lines)) >= cfg.char_duplicates_ratio:
        return Reason("char_dup_ratio", first_dup)

    if (n_lines - 1) / len(text.split()) > cfg.new_line_ratio:
        return "list_ratio"
    return None
