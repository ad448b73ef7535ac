"""Batch near dedup's precision and recall on the hard-negative corpus, by true-Jaccard band and by edit type.

    python bench/neardup_quality.py                 # 20,000 docs, thresholds 0.8 and 0.7, exact and estimate
    python bench/neardup_quality.py --docs 5000 --verify exact

Corpus: tests/datapipe/neardup_hard.py (planted pairs across true J 0.5-1.0 made by substitutions,
insertions, deletions, mixed edits, line reordering, case/whitespace noise, added boilerplate, chains of
three, plus short same-site pages that meet by accident), deterministic from --seed. Truth: every pair
at J >= 0.5 by an exact prefix-filter join over the pipeline's own shingle sets (`shingle_hashes` with
the run's NearDedupConfig), so accidental pairs count too.

Each run is the real pipeline (`datapipe.pipeline.run` on a local Ray, quality filters off, as
tests/datapipe/test_neardup_quality.py runs it) with dedup.near.threshold = t and dedup.near.verify as
given; "estimate" is the behaviour before exact verification (the signatures' estimate decides). A
document counts as removed if duplicates/ lists it (near or exact kind), as the duplicate of its
duplicate_of. At threshold t:

  precision  removed docs with some kept doc at true J >= t / removed docs
  recall     true pairs at J >= t with at least one member removed / true pairs at J >= t
  J 0.5-0.7 removed   pairs at 0.5 <= J < 0.7 where one member was removed as the other's duplicate

Band table: pairs per band, the share with either member removed, and the share with one removed as the
other's duplicate. Edit-type table: recall over the type's pairs at J >= t and the share of its pairs
below t removed as each other's duplicate. Goal (issue L): P >= 0.97 and R >= 0.97 at J >= 0.8, at most
1% of the J 0.5-0.7 pairs removed.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "1")
REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # for tests.datapipe.neardup_hard

import pyarrow.parquet as pq  # noqa: E402

from datapipe import pipeline  # noqa: E402
from datapipe.config import (CleanConfig, DatapipeConfig, DedupConfig, NearDedupConfig, PackConfig,  # noqa: E402
                             SourceConfig, TokenizeConfig)
from raypretrain import storage  # noqa: E402
from tests.datapipe.neardup_hard import BANDS, EDIT_TYPES, HardCorpus, Score, hard_corpus, score  # noqa: E402

FILTERS = ("lang_id", "gopher_repetition", "gopher_quality", "boilerplate", "c4", "fineweb")
NO_FILTERS = CleanConfig(**{name: dataclasses.replace(getattr(CleanConfig(), name), enabled=False)
                            for name in FILTERS if hasattr(getattr(CleanConfig(), name, None), "enabled")})


def run_dedup(corpus_path: Path, out: Path, near: NearDedupConfig, buckets: int) -> tuple[dict[str, str], float]:
    """(removed doc → duplicate_of, wall seconds) of one pipeline run."""
    cfg = DatapipeConfig(sources=(SourceConfig(name="s", paths=(str(corpus_path),)),), output=str(out),
                         clean=NO_FILTERS, dedup=DedupConfig(num_buckets=buckets, near=near),
                         tokenize=TokenizeConfig(vocab_size=400, train_docs=500), pack=PackConfig(seq_len=128))
    t0 = time.perf_counter()
    pipeline.run(cfg, [(storage.resolve(str(corpus_path)), "s")], storage.resolve(cfg.output), log=lambda s: None)
    wall = time.perf_counter() - t0
    rows = pq.read_table(out / "duplicates").to_pylist()
    return {r["doc_id"]: r["duplicate_of"] for r in rows}, wall


def pct(x: int, n: int) -> str:
    return f"{x / n:.3f}" if n else "-"


def band_table(scores: dict[str, Score]) -> str:
    names = list(scores)
    head = "| true J | pairs | " + " | ".join(f"{n}: either removed | {n}: as each other's dup" for n in names) + " |"
    lines = [head, "|" + "---|" * (2 + 2 * len(names))]
    first = next(iter(scores.values()))
    for lo, hi in BANDS:
        key = f"{lo:.1f}-{hi:.1f}"
        n = first.by_band[key][0]
        cells = " | ".join(f"{pct(s.by_band[key][1], n)} | {pct(s.by_band[key][2], n)}" for s in scores.values())
        lines.append(f"| {key} | {n} | {cells} |")
    return "\n".join(lines)


def type_table(scores: dict[str, Score]) -> str:
    names = list(scores)
    head = ("| edit type | pairs J≥t | pairs 0.5≤J<t | "
            + " | ".join(f"{n}: recall | {n}: J<t removed" for n in names) + " |")
    lines = [head, "|" + "---|" * (3 + 2 * len(names))]
    first = next(iter(scores.values()))
    for etype in EDIT_TYPES + ("accidental",):
        hi_n, lo_n = first.by_type[etype][0], first.by_type[etype][2]
        cells = " | ".join(f"{pct(s.by_type[etype][1], hi_n)} | {pct(s.by_type[etype][3], lo_n)}"
                           for s in scores.values())
        lines.append(f"| {etype} | {hi_n} | {lo_n} | {cells} |")
    return "\n".join(lines)


def summary(name: str, s: Score, wall: float) -> str:
    goal = ""
    if s.t == 0.8:
        ok = s.precision >= 0.97 and s.recall >= 0.97 and s.low_removed <= 0.01
        goal = "  goal (P,R >= 0.97, J 0.5-0.7 removed <= 1%): " + ("met" if ok else "NOT met")
    return (f"{name}: P {s.precision:.4f}  R {s.recall:.4f}  F1 {s.f1:.4f}  removed {s.n_removed} "
            f"({s.unjustified} without a kept partner at J >= {s.t}), true pairs {s.n_true}, "
            f"J 0.5-0.7 removed {s.low_removed:.4f} of {s.n_low}  [{wall:.0f} s]{goal}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=20_000, help="corpus size")
    ap.add_argument("--seed", type=int, default=0, help="corpus seed")
    ap.add_argument("--thresholds", default="0.8,0.7", help="dedup.near.threshold values, each scored at J >= it")
    ap.add_argument("--verify", default="exact,estimate", help="dedup.near.verify values (estimate: before)")
    ap.add_argument("--buckets", type=int, default=4, help="dedup buckets")
    ap.add_argument("--cpus", type=int, default=2, help="local Ray CPUs")
    args = ap.parse_args()

    import ray

    t0 = time.perf_counter()
    corpus: HardCorpus = hard_corpus(args.docs, seed=args.seed)
    planted_in_truth = sum(p in corpus.truth for p in corpus.planted)
    print(f"corpus: {len(corpus.docs)} docs, {len(corpus.planted)} planted pairs ({planted_in_truth} at J >= 0.5), "
          f"{len(corpus.truth)} true pairs at J >= 0.5 ({len(corpus.truth) - planted_in_truth} accidental); "
          f"corpus + prefix-filter truth {time.perf_counter() - t0:.0f} s")
    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "corpus.jsonl"
        path.write_text("\n".join(json.dumps({"id": d, "text": t}) for d, t in corpus.docs) + "\n")
        for t in (float(x) for x in args.thresholds.split(",")):
            scores, walls = {}, {}
            for verify in args.verify.split(","):
                near = NearDedupConfig(threshold=t, verify=verify)
                removed, walls[verify] = run_dedup(path, Path(tmp) / f"out-{t}-{verify}", near, args.buckets)
                scores[verify] = score(corpus, removed, t)
            bands, rows = NearDedupConfig(threshold=t).lsh_params()
            print(f"\n## threshold {t} (LSH {bands} bands × {rows} rows), scored at J >= {t}\n")
            for verify, s in scores.items():
                print(summary(f"verify={verify}", s, walls[verify]))
            print("\nBy true-Jaccard band (all true pairs at J >= 0.5):\n")
            print(band_table(scores))
            print("\nBy edit type:\n")
            print(type_table(scores))
    ray.shutdown()


if __name__ == "__main__":
    main()
