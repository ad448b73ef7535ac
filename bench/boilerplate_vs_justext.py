"""Boilerplate pages: our phrase filter (datapipe.filters.BoilerplateFilter, the default config)
against jusText's stopword-density classifier (justext 3.0.2 with its English stoplist), on the
same generated pages, in one process on one core.

    pip install justext==3.0.2 lxml_html_clean     # not dependencies of the project
    python bench/boilerplate_vs_justext.py           # --pages 1000 --seed 2024

Three sets of pages, all from datapipe's sample generators:
  consent   sample_pages.consent_page: consent-manager, JavaScript/browser walls, sign-in prompts
            (a page to drop)
  prose     the sample corpus's good documents (sample.generate: good, dup, near, no_id kinds)
            (a page to keep)
  chrome    the same prose inside site chrome: menu lines, a cookie banner and its buttons, a
            footer (sample_pages.chrome_page; a page to keep, whose chrome C4 removes later)

jusText classifies paragraphs, not documents. Each non-empty line is given to it as one <p>, and
two document rules are measured:
  justext-any      drop when no paragraph is good (what keeping jusText's good paragraphs leaves)
  justext-share    drop on our thresholds: boilerplate paragraphs over max_line_frac of the lines
                   or max_char_frac of the characters
Printed: the share of each set dropped, and docs/s over all pages.
"""
from __future__ import annotations

import argparse
import html
import json
import os
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from datapipe import sample, sample_pages  # noqa: E402
from datapipe.config import BoilerplateConfig  # noqa: E402
from datapipe.filters import BoilerplateFilter  # noqa: E402

PROSE_KINDS = (b'{"text": ', *(b'{"id": "%s-' % k for k in (b"good", b"dup", b"near", b"no_id")))


def pages(n: int, seed: int) -> dict[str, list[str]]:
    rng = random.Random(seed)
    consent = [sample_pages.consent_page(rng) for _ in range(n)]
    prose: list[str] = []
    corpus_seed = seed
    while len(prose) < n:
        prose += [json.loads(line)["text"] for line in sample.generate(2 * n, seed=corpus_seed)
                  if line.startswith(PROSE_KINDS)]
        corpus_seed += 1
    prose = prose[:n]
    chrome = [sample_pages.chrome_page(rng, t) for t in prose]
    return {"consent": consent, "prose": prose, "chrome": chrome}


def justext_rules(cfg: BoilerplateConfig):
    import justext
    stoplist = justext.get_stoplist("English")

    def classify(text: str) -> tuple[bool, bool]:
        lines = [line for line in text.split("\n") if line.strip()]
        doc = "<html><body>" + "".join(f"<p>{html.escape(line)}</p>" for line in lines) + "</body></html>"
        paras = justext.justext(doc, stoplist)
        bad = [p for p in paras if p.is_boilerplate]
        any_good = len(bad) < len(paras)
        chars = sum(len(p.text) for p in paras) or 1
        share = (len(bad) / max(len(paras), 1) > cfg.max_line_frac
                 or sum(len(p.text) for p in bad) / chars > cfg.max_char_frac)
        return not any_good, share

    return classify


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=1000, help="pages per set (default 1000)")
    ap.add_argument("--seed", type=int, default=2024)
    args = ap.parse_args(argv)
    try:
        classify = justext_rules(BoilerplateConfig())
    except ImportError as e:
        print(f"boilerplate_vs_justext: {e}; run: pip install justext==3.0.2 lxml_html_clean", file=sys.stderr)
        return 2
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    sets = pages(args.pages, args.seed)
    ours = BoilerplateFilter(BoilerplateConfig())
    every = [t for texts in sets.values() for t in texts]

    start = time.perf_counter()
    our_drop = [ours(t) is not None for t in every]
    our_s = time.perf_counter() - start
    start = time.perf_counter()
    jt = [classify(t) for t in every]
    jt_s = time.perf_counter() - start

    print(f"{args.pages} pages per set, seed {args.seed}, one core\n")
    print("| detector | consent dropped | prose dropped | prose in chrome dropped | docs/s |")
    print("|---|---:|---:|---:|---:|")
    rows = {"ours (phrases, default thresholds)": (our_drop, our_s),
            "jusText, drop when no good paragraph": ([a for a, _ in jt], jt_s),
            "jusText, our thresholds on its bad paragraphs": ([b for _, b in jt], jt_s)}
    for name, (dropped, seconds) in rows.items():
        cells, i = [], 0
        for texts in sets.values():
            cells.append(f"{sum(dropped[i:i + len(texts)]) / len(texts):.3f}")
            i += len(texts)
        print(f"| {name} | " + " | ".join(cells) + f" | {len(every) / seconds:,.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
