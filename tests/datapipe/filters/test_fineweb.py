"""FineWeb quality filter: each ratio at its boundary and each reason reached."""
from dataclasses import replace

from datapipe.config import FineWebConfig
from datapipe.filters import fineweb_quality, triggering_line

CFG = FineWebConfig()
# every other check as loose as its range allows, to test one ratio at a time: no share of punctuated
# lines is at or below 0 once zero is excluded, and a document never has all its characters duplicated
LOOSE = FineWebConfig(line_punct_thr=0.0, line_punct_exclude_zero=True, short_line_thr=1.0, char_duplicates_ratio=1.0,
                      new_line_ratio=100.0)


def long_line(i: int, end: str = ".") -> str:
    """A unique line of 8 words and well over 30 characters."""
    return f"Line {i} tells a story about the sea{i}" + end


def test_realistic_text_is_kept():
    text = "\n".join(long_line(i) for i in range(10))
    assert fineweb_quality(text, CFG) is None


def test_line_punct_ratio():
    def text(n_punct: int) -> str:
        return "\n".join(long_line(i, "." if i < n_punct else "") for i in range(10))

    assert fineweb_quality(text(1), CFG) == "line_punct_ratio"  # 0.1 <= 0.12
    assert fineweb_quality(text(2), CFG) is None
    assert fineweb_quality(text(2), replace(CFG, line_punct_thr=0.2)) == "line_punct_ratio"  # at the threshold
    assert fineweb_quality(text(0), CFG) == "line_punct_ratio"
    assert fineweb_quality(text(0), replace(CFG, line_punct_exclude_zero=True)) is None
    assert fineweb_quality(text(1), replace(CFG, line_punct_exclude_zero=True)) == "line_punct_ratio"
    for end in ("'", '"', "!", "?"):
        assert fineweb_quality("\n".join(long_line(i, end) for i in range(10)), CFG) is None


def test_short_line_ratio():
    def text(n_short: int) -> str:
        return "\n".join(f"Short {i}." if i < n_short else long_line(i) for i in range(100))

    assert fineweb_quality(text(66), replace(LOOSE, short_line_thr=0.67)) is None
    assert fineweb_quality(text(67), replace(LOOSE, short_line_thr=0.67)) == "short_line_ratio"
    exactly_30 = "x" * 29 + "."
    assert fineweb_quality(exactly_30, replace(LOOSE, short_line_thr=1.0)) == "short_line_ratio"
    assert fineweb_quality(exactly_30 + "y", replace(LOOSE, short_line_thr=1.0)) is None
    longer = replace(LOOSE, short_line_thr=1.0, short_line_length=31)
    assert fineweb_quality(exactly_30 + "y", longer) == "short_line_ratio"


def test_blank_lines_between_paragraphs_are_not_lines():
    paragraphs = "\n\n".join(long_line(i) for i in range(10))
    # counted as lines, the 9 blank ones would be 9/19 short and unpunctuated
    assert fineweb_quality(paragraphs, replace(CFG, short_line_thr=0.4, line_punct_thr=0.9)) is None


def test_char_dup_ratio():
    lines = [long_line(i) for i in range(10)]
    text = "\n".join(lines + [lines[0]])
    ratio = len(lines[0]) / (len(text) - text.count("\n"))
    assert fineweb_quality(text, replace(LOOSE, char_duplicates_ratio=ratio)) == "char_dup_ratio"  # at it drops
    assert fineweb_quality(text, replace(LOOSE, char_duplicates_ratio=ratio + 1e-9)) is None
    assert fineweb_quality(text, CFG) == "char_dup_ratio"
    assert triggering_line(fineweb_quality(text, CFG)) == lines[0]


def test_list_ratio():
    def text(n_lines: int) -> str:  # three words per line
        return "\n".join(f"Extraordinarily lengthy statement{i}." for i in range(n_lines))

    assert fineweb_quality(text(10), CFG) is None  # 9 breaks / 30 words = 0.3 is not above 0.3
    assert fineweb_quality(text(11), CFG) == "list_ratio"  # 10 / 33
    assert fineweb_quality(text(11), replace(CFG, new_line_ratio=0.31)) is None


def test_empty_text():
    assert fineweb_quality("", CFG) == "no_text"
