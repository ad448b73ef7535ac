"""A seeded sample corpus that walks every door of the pipeline.

`python -m datapipe.sample --docs N --out FILE [--seed S]` writes N JSONL lines (binary, since
some lines are deliberately not valid UTF-8 or JSON). Each record's id is "<kind>-<n:06d>", so a
test can check that the kind came out of the intended door:

    good              English prose that passes every default quality filter (kept)
    no_id             a good document without an "id" field (kept, id '<path>:<row>')
    dup               the text of a good document again, "dup_of" names it (exact duplicate)
    near              a good document with a few words changed, "near_of" names it (near duplicate)
    junk_short        too few words                        → gopher_quality
    junk_symbols      hashtags or ellipses                 → gopher_quality
    junk_repetition   repeated paragraphs or lines         → gopher_repetition
    junk_c4           lorem ipsum, a curly bracket, or too few sentences → c4
    junk_fineweb      a navigation menu, or a repeated boilerplate line  → fineweb
    junk_lang         French or German prose               → lang_id
    junk_consent      a cookie-consent, "enable JavaScript" or sign-in wall with a few real sentences → boilerplate
    bad_json          a truncated or malformed JSON line   → rejected
    bad_utf8          invalid UTF-8 bytes or a lone surrogate → rejected
    bad_missing_text  an object without "text"             → rejected
    bad_text_type     "text" is a number or a list         → rejected
    bad_binary        a NUL-laden blob                     → rejected
    too_large         one prose document over 1,000,000 bytes (n_docs >= 200) → rejected

The prose comes from a small grammar (89 sentence templates, about 1,700 word forms in thirteen
topics). Templates are drawn without replacement within a document and have a slot every few
words, so a document rarely repeats a 5-gram of its own and shares almost none with another one
(word-5-gram Jaccard between good documents stays under 0.02).
"""
from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
from collections import Counter
from pathlib import Path

import zstandard

from datapipe import sample_words as W
from datapipe.sample_pages import JUNK
from datapipe.sample_prose import LEXICONS, Writer

MIN_DOCS = 20
"""Fewer documents cannot hold one of every junk and bad kind plus a few good ones."""

TOO_LARGE_MIN_DOCS = 200
"""The one too_large document (about 1 MB) appears only in corpora at least this big."""

JUNK_KINDS = ("junk_short", "junk_symbols", "junk_repetition", "junk_c4", "junk_fineweb", "junk_lang", "junk_consent")
BAD_KINDS = ("bad_json", "bad_utf8", "bad_missing_text", "bad_text_type", "bad_binary", "no_id")
KINDS = ("good", "dup", "near", *JUNK_KINDS, *BAD_KINDS, "too_large")

# Shares of the corpus; "good" gets the rest (about 70%). The consent pages have their own share, so
# the other junk kinds kept their counts when they came.
_DUP_SHARE, _NEAR_SHARE, _JUNK_SHARE, _BAD_SHARE, _CONSENT_SHARE = 0.08, 0.07, 0.10, 0.03, 0.02
_NEAR_JACCARD = (0.86, 0.97)  # accepted word-5-gram Jaccard of a near duplicate to its original


# ---------------------------------------------------------------------------------------------
# Near duplicates: swap single words for others of the same part of speech.

def _build_swaps() -> dict[str, tuple[str, ...]]:
    swaps: dict[str, tuple[str, ...]] = {}
    groups = [W.GENERAL_ADJS, W.ADVERBS]
    for lex in LEXICONS.values():
        groups += [lex.nouns, lex.plurals, lex.past, lex.base, lex.adjs]
    for group in groups:
        single = tuple(w for w in group if " " not in w)
        for w in single:
            swaps.setdefault(w, single)
    return swaps


_SWAPS = _build_swaps()


def shingles(text: str, n: int = 5) -> set[tuple[str, ...]]:
    """Word n-grams of lower-cased, whitespace-split text (what the near-dup checks compare)."""
    words = text.lower().split()
    return set(zip(*(words[i:] for i in range(n))))


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def _near_duplicate(rng: random.Random, text: str) -> str:
    """Swap words one at a time until the 5-gram Jaccard to `text` drops to a drawn target."""
    lo, hi = _NEAR_JACCARD
    target = rng.uniform(lo + 0.02, hi - 0.02)
    original = shingles(text)
    paras = [p.split(" ") for p in text.split("\n\n")]
    slots = [(i, j) for i, p in enumerate(paras) for j, tok in enumerate(p) if tok.rstrip(".,!?;:") in _SWAPS]
    rng.shuffle(slots)
    best = text
    for i, j in slots:
        tok = paras[i][j]
        core = tok.rstrip(".,!?;:")
        choices = [w for w in _SWAPS[core] if w != core]
        if not choices:
            continue
        before = paras[i][j]
        paras[i][j] = rng.choice(choices) + tok[len(core):]
        candidate = "\n\n".join(" ".join(p) for p in paras)
        sim = jaccard(original, shingles(candidate))
        if sim < lo:  # one swap too many (a short document): keep the last good version
            paras[i][j] = before
            if best != text:
                break
            continue
        best = candidate
        if sim <= target:
            break
    return best


def _whitespace_variant(rng: random.Random, text: str) -> str:
    """The same text after whitespace normalization: CRLF, doubled or trailing spaces, padding."""
    r = rng.randrange(4)
    if r == 0:
        return text.replace("\n", "\r\n")
    if r == 1:
        return text.replace(". ", ".  ")
    if r == 2:
        return text.replace("\n\n", "  \n\n")
    return f"  {text}\n"


# ---------------------------------------------------------------------------------------------
# Bad records: each one is rejected by the reader, before cleaning.

_INVALID_UTF8 = (b"\xff", b"\xc3\x28", b"\xe2\x82", b"\x80\x81", b"\xed\xa0\x80", b"\xfe\xfe", b"\xc0\xaf")


def _dumps(record: dict) -> bytes:
    return json.dumps(record, ensure_ascii=False).encode("utf-8")


def _bad_json(rng: random.Random, doc_id: str, text: str) -> bytes:
    line = json.dumps({"id": doc_id, "text": text}, ensure_ascii=False)
    r = rng.randrange(4)
    if r == 0:  # truncated mid-record, as by a killed writer
        line = line[: rng.randint(len(line) // 4, len(line) - 2)]
    elif r == 1:
        line = line[:-1] + ", }"  # trailing comma
    elif r == 2:
        line = line.replace('"text"', "text", 1)  # unquoted key
    else:
        line = line.replace('"', "'")  # Python repr, not JSON
    return line.encode("utf-8")


def _bad_utf8(rng: random.Random, doc_id: str, text: str) -> bytes:
    if rng.random() < 0.25:  # valid JSON and valid bytes, but a lone surrogate escape
        words = text.split(" ")
        k = rng.randrange(len(words))
        head = _dumps({"id": doc_id, "text": " ".join(words[:k])})[:-2]  # without the closing quote and brace
        return head + b"\\ud83d " + _dumps(" ".join(words[k:]))[1:] + b"}"
    raw = _dumps({"id": doc_id, "text": text})
    start = raw.index(b'"text": "') + 9
    spaces = [i for i in range(start, len(raw) - 2) if raw[i] == 0x20]
    for i in sorted(rng.sample(spaces, min(len(spaces), rng.randint(1, 4))), reverse=True):
        raw = raw[:i] + rng.choice(_INVALID_UTF8) + raw[i:]
    return raw


def _bad_missing_text(rng: random.Random, doc_id: str, text: str) -> bytes:
    field = rng.choice(("body", "content", "Text", "txt", None))
    return _dumps({"id": doc_id, "text": None} if field is None else {"id": doc_id, field: text})


def _bad_text_type(rng: random.Random, doc_id: str, text: str) -> bytes:
    r = rng.randrange(3)
    value = rng.randint(0, 10**6) if r == 0 else text.split("\n\n") if r == 1 else {"en": text}
    return _dumps({"id": doc_id, "text": value})


# PNG, zip and ELF magic numbers, or none
_BINARY_HEADERS = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"PK\x03\x04\x14\x00\x00\x00", b"\x7fELF\x02\x01\x01\x00", b"")


def _bad_binary(rng: random.Random, doc_id: str, text: str) -> bytes:
    header = rng.choice(_BINARY_HEADERS)
    body = bytes(0 if rng.random() < 0.35 else rng.randrange(1, 256) for _ in range(rng.randint(200, 3000)))
    # every byte becomes the code point of that value; ensure_ascii writes the NULs as \u0000
    return json.dumps({"id": doc_id, "text": (header + body).decode("latin-1")}).encode("ascii")


_BAD = {
    "bad_json": _bad_json,
    "bad_utf8": _bad_utf8,
    "bad_missing_text": _bad_missing_text,
    "bad_text_type": _bad_text_type,
    "bad_binary": _bad_binary,
}


def _too_large(rng: random.Random) -> str:
    parts, size = [], 0
    while size <= 1_000_000:
        parts.append(Writer(rng).document(400, 600))
        size += len(parts[-1].encode("utf-8")) + 2
    return "\n\n".join(parts)


# ---------------------------------------------------------------------------------------------
# The corpus.

def kind_counts(n_docs: int) -> dict[str, int]:
    """How many documents of each kind a corpus of n_docs holds (in KINDS order)."""
    if n_docs < MIN_DOCS:
        raise ValueError(f"the sample corpus needs at least {MIN_DOCS} documents, got {n_docs}")
    counts = dict.fromkeys(KINDS, 0)
    counts["dup"] = max(1, round(n_docs * _DUP_SHARE))
    counts["near"] = max(1, round(n_docs * _NEAR_SHARE))
    for kind in JUNK_KINDS[:-1]:
        counts[kind] = max(1, round(n_docs * _JUNK_SHARE / (len(JUNK_KINDS) - 1)))
    counts["junk_consent"] = max(1, round(n_docs * _CONSENT_SHARE))
    for kind in BAD_KINDS:
        counts[kind] = max(1, round(n_docs * _BAD_SHARE / len(BAD_KINDS)))
    counts["too_large"] = int(n_docs >= TOO_LARGE_MIN_DOCS)
    counts["good"] = n_docs - sum(counts.values())
    return counts


def generate(n_docs: int, seed: int = 0) -> list[bytes]:
    """The corpus as raw JSONL lines (no trailing newline), in a seeded shuffled order."""
    counts = kind_counts(n_docs)
    rng = random.Random(seed)
    ids = Counter()

    def next_id(kind: str) -> str:
        ids[kind] += 1
        return f"{kind}-{ids[kind] - 1:06d}"

    lines: list[bytes] = []
    good: list[tuple[str, str]] = []
    for _ in range(counts["good"]):
        doc_id, text = next_id("good"), Writer(rng).document()
        good.append((doc_id, text))
        lines.append(_dumps({"id": doc_id, "text": text}))
    for _ in range(counts["no_id"]):
        next_id("no_id")  # counted like the others, but the record carries no id
        lines.append(_dumps({"text": Writer(rng).document()}))
    for _ in range(counts["dup"]):
        of, text = rng.choice(good)
        if rng.random() < 0.3:
            text = _whitespace_variant(rng, text)
        lines.append(_dumps({"id": next_id("dup"), "text": text, "dup_of": of}))
    for _ in range(counts["near"]):
        of, text = rng.choice(good)
        lines.append(_dumps({"id": next_id("near"), "text": _near_duplicate(rng, text), "near_of": of}))
    for kind, make in JUNK.items():
        for _ in range(counts[kind]):
            lines.append(_dumps({"id": next_id(kind), "text": make(rng)}))
    for kind, make in _BAD.items():
        for _ in range(counts[kind]):
            lines.append(make(rng, next_id(kind), Writer(rng).document()))
    for _ in range(counts["too_large"]):
        lines.append(_dumps({"id": next_id("too_large"), "text": _too_large(rng)}))
    rng.shuffle(lines)
    return lines


def write_corpus(path: str | Path, n_docs: int, seed: int = 0) -> dict[str, int]:
    """Write generate(n_docs, seed) to `path` (.gz and .zst compress); return the kind counts."""
    data = b"\n".join(generate(n_docs, seed)) + b"\n"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)  # mtime=0 keeps the bytes reproducible
    elif path.suffix in (".zst", ".zstd"):
        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)
    return kind_counts(n_docs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m datapipe.sample", description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=3000, help="number of records (at least %d)" % MIN_DOCS)
    parser.add_argument("--out", required=True, help="output .jsonl file (.jsonl.gz / .jsonl.zst compress)")
    parser.add_argument("--seed", type=int, default=0, help="random seed; same seed and size, same bytes")
    args = parser.parse_args(argv)
    if args.docs < MIN_DOCS:
        parser.error(f"--docs must be at least {MIN_DOCS}, got {args.docs}")
    try:
        counts = write_corpus(args.out, args.docs, args.seed)
    except OSError as e:
        print(f"error: cannot write {args.out}: {e.strerror or e}", file=sys.stderr)
        return 2
    summary = ", ".join(f"{k}={v}" for k, v in counts.items() if v)
    print(f"wrote {args.docs} records to {args.out} ({summary})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
