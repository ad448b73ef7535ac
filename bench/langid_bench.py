"""Language ID: py3langid's own classify (a Python loop over each text's bytes) against
datapipe's BatchIdentifier (the same model, numpy over a read batch), on the same texts in one
process, one core. Also times the whole Cleaner both ways, since language ID is one of its steps.

    python bench/langid_bench.py                          # 6,000 generated documents
    python bench/langid_bench.py --jsonl corpus.jsonl --docs 20000

Prints docs/s for each side, the ratio, and how many answers differ (language, or score by more
than 1e-4): none is expected.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from py3langid.langid import MODEL_FILE, LanguageIdentifier

from datapipe.clean import Cleaner
from datapipe.config import CleanConfig
from datapipe.filters.langid import BatchIdentifier
from datapipe.sample import write_corpus

BATCH = 2048
"""Texts per call, as read+clean hands them to the cleaner (read.read_piece's batch_rows)."""


def load_texts(path: Path, n: int) -> list[str]:
    texts: list[str] = []
    with open(path, errors="replace") as f:
        for line in f:
            try:
                text = json.loads(line).get("text")
            except (ValueError, AttributeError):
                continue
            if isinstance(text, str):
                texts.append(text)
            if len(texts) >= n:
                break
    return texts


def timed(fn, texts: list[str]) -> tuple[float, list]:
    start = time.perf_counter()
    out: list = []
    for i in range(0, len(texts), BATCH):
        out += fn(texts[i:i + BATCH])
    return time.perf_counter() - start, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jsonl", type=Path, help="a JSONL corpus (default: a generated one)")
    ap.add_argument("--docs", type=int, default=6000)
    args = ap.parse_args()
    if args.jsonl is None:
        args.jsonl = Path(tempfile.mkdtemp(prefix="langid-bench-")) / "corpus.jsonl"
        write_corpus(args.jsonl, args.docs)
    texts = load_texts(args.jsonl, args.docs)
    reference = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    batch = BatchIdentifier(reference)
    cleaner = Cleaner(CleanConfig())
    per_text = Cleaner(CleanConfig())     # the baseline: py3langid's own classify in the language-ID step
    per_text.lang._langid.classify = lambda ts: [reference.classify(t) for t in ts]
    batch.classify(texts[:10])

    base_s, want = timed(lambda ts: [reference.classify(t) for t in ts], texts)
    ours_s, got = timed(batch.classify, texts)
    differ = sum(w[0] != g[0] or abs(w[1] - g[1]) > 1e-4 for w, g in zip(want, got))
    clean_base_s, _ = timed(per_text.clean_many, texts)
    clean_ours_s, _ = timed(cleaner.clean_many, texts)
    mb = sum(len(t.encode(errors="replace")) for t in texts) / 1e6
    print(f"{len(texts):,} texts, {mb:.1f} MB, batches of {BATCH}")
    print("| what | py3langid docs/s | ours docs/s | ours / py3langid |\n|---|---:|---:|---:|")
    print(f"| language ID | {len(texts) / base_s:,.0f} | {len(texts) / ours_s:,.0f} | {base_s / ours_s:.2f}x |")
    print(f"| whole cleaner | {len(texts) / clean_base_s:,.0f} | {len(texts) / clean_ours_s:,.0f} | "
          f"{clean_base_s / clean_ours_s:.2f}x |")
    print(f"answers that differ: {differ} of {len(texts):,}")


if __name__ == "__main__":
    main()
