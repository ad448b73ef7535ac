"""What a filter answers: None to keep a document, or the reason to drop it (after datatrove's
`filter(doc) -> bool | (False, reason)`). A filter that knows which line broke its rule returns a
`Reason`, which is the reason string and also carries that line, so `raypretrain inspect` can show it."""
from __future__ import annotations


class Reason(str):
    """A drop reason (a plain str for every comparison and format) with the line that triggered it."""

    line: str | None

    def __new__(cls, reason: str, line: str | None = None) -> "Reason":
        self = super().__new__(cls, reason)
        self.line = line
        return self


def triggering_line(reason: str | None) -> str | None:
    """The line a Reason names, or None for a plain reason (a rule over the whole document)."""
    return getattr(reason, "line", None)
