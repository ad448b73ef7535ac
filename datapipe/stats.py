"""The account: what happened to every document, and the identity that must hold.

    input_docs = kept_docs + Σ dropped_docs + duplicate_docs + Σ rejected_docs
    duplicate_docs = exact_duplicate_docs + near_duplicate_docs
"""
from __future__ import annotations

from collections import Counter


def account(ingest: list[dict], dedup: list[dict], near: dict, tokpack: list[dict],
            seconds: dict[str, float]) -> dict:
    """Fold the per-task summaries into stats.json's content."""
    dropped, rejected, pii = Counter(), Counter(), Counter()
    for s in ingest:
        dropped.update(s["dropped"])
        rejected.update(s["rejected"])
        pii.update(s["pii"])
    for s in dedup:  # records whose id an earlier record has (duplicate_id)
        rejected.update(s.get("rejected", {}))
    shards = [sh for s in tokpack for sh in s["shards"]]
    tokens_by_source: Counter = Counter()
    for sh in shards:
        tokens_by_source[f"{sh['source']}/{sh['split']}"] += sh["tokens"]
    exact = sum(s["exact_duplicate_docs"] for s in dedup)
    return {
        "input_docs": sum(s["input_docs"] for s in ingest),
        "kept_docs": sum(s["kept_docs"] for s in tokpack),
        "dropped_docs": dict(sorted(dropped.items())),
        "duplicate_docs": exact + near["near_duplicate_docs"],
        "exact_duplicate_docs": exact,
        "near_duplicate_docs": near["near_duplicate_docs"],
        "near_duplicate_clusters": near["near_duplicate_clusters"],
        "rejected_docs": dict(sorted(rejected.items())),
        "tokens": sum(sh["tokens"] for sh in shards),
        "tokens_by_source": dict(sorted(tokens_by_source.items())),
        "pii_redactions": dict(sorted(pii.items())),
        "stage_seconds": {k: round(v, 3) for k, v in seconds.items()},
        "task_seconds": {
            "ingest": round(sum(s["seconds"] for s in ingest), 3),
            "dedup": round(sum(s["seconds"] for s in dedup), 3),
            "near_clusters": round(near.get("seconds", 0.0), 3),
            "tokpack": round(sum(s["seconds"] for s in tokpack), 3),
        },
    }


def check_identity(stats: dict) -> None:
    """Raise if any document is unaccounted for."""
    out = (stats["kept_docs"] + sum(stats["dropped_docs"].values()) + stats["duplicate_docs"]
           + sum(stats["rejected_docs"].values()))
    if out != stats["input_docs"]:
        raise AssertionError(f"account broken: {stats['input_docs']} documents in, {out} accounted for")


def summary(stats: dict, output: str) -> str:
    """A short human summary for the end of a run."""
    n = stats["input_docs"] or 1

    def pct(x: int) -> str:
        return f"{x:>9,} ({100 * x / n:5.1f}%)"

    lines = [f"datapipe finished → {output}",
             f"  input docs   {stats['input_docs']:>9,}",
             f"  kept         {pct(stats['kept_docs'])}",
             f"  dropped      {pct(sum(stats['dropped_docs'].values()))}"]
    lines += [f"    {r:<40} {c:,}" for r, c in sorted(stats["dropped_docs"].items(), key=lambda kv: -kv[1])]
    lines += [f"  duplicates   {pct(stats['duplicate_docs'])}   exact {stats['exact_duplicate_docs']:,}, "
              f"near {stats['near_duplicate_docs']:,}"
              + (f" in {stats['near_duplicate_clusters']:,} clusters" if stats["near_duplicate_clusters"] else ""),
              f"  rejected     {pct(sum(stats['rejected_docs'].values()))}"]
    lines += [f"    {r:<40} {c:,}" for r, c in sorted(stats["rejected_docs"].items(), key=lambda kv: -kv[1])]
    lines += [f"  tokens       {stats['tokens']:>9,}   " + ", ".join(f"{k}: {v:,}" for k, v in stats["tokens_by_source"].items()),
              "  seconds      " + ", ".join(f"{k} {v:.1f}" for k, v in stats["stage_seconds"].items())]
    return "\n".join(lines)
