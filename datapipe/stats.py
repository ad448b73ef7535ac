"""The account: what happened to every document, and the identity that must hold.

    input_docs = kept_docs + Σ dropped_docs + duplicate_docs + Σ rejected_docs
    duplicate_docs = exact_duplicate_docs + near_duplicate_docs

The per-task summaries the stages return (frozen dataclasses; they cross Ray as plain dicts
and are rebuilt with raypretrain.config.from_dict), and how busy each stage kept the CPUs:
cpu_utilisation = Σ task CPU seconds (time.process_time inside each task) ÷ (stage wall
seconds × cluster CPUs).
"""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass(frozen=True, kw_only=True)
class TaskSummary:
    """What every task reports besides its counts."""

    seconds: float = 0.0
    """Wall seconds of the task."""
    cpu_seconds: float = 0.0
    """CPU seconds of the task's process while it ran (time.process_time)."""
    actor: str = ""
    """The Ray actor that ran it ('' for a plain task)."""
    node: str = ""
    """The Ray node that ran it."""
    reused: bool = False
    """Taken from the completion marker of an earlier, interrupted run (--resume)."""


@dataclass(frozen=True, kw_only=True)
class IngestSummary(TaskSummary):
    task: int
    input_docs: int
    ok_docs: int
    text_bytes: int
    dropped: dict[str, int]
    rejected: dict[str, int]
    pii: dict[str, int]
    peak_buffered_bytes: int = 0
    """The most bytes of output rows the task held at once before writing them."""


@dataclass(frozen=True, kw_only=True)
class RepeatsSummary(TaskSummary):
    partition: int
    ids: int
    repeated_ids: int


@dataclass(frozen=True, kw_only=True)
class DedupSummary(TaskSummary):
    bucket: int
    unique_docs: int
    exact_duplicate_docs: int
    rejected: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class NearSummary(TaskSummary):
    partition: int
    band_rows: int
    edges: int


@dataclass(frozen=True, kw_only=True)
class CandidateSummary(TaskSummary):
    bucket: int
    candidate_docs: int


@dataclass(frozen=True, kw_only=True)
class VerifySummary(TaskSummary):
    bucket: int
    candidate_edges: int
    """Distinct candidate edges whose lower end is in the bucket."""
    verified_edges: int


@dataclass(frozen=True, kw_only=True)
class ClustersSummary(TaskSummary):
    near_duplicate_docs: int = 0
    near_duplicate_clusters: int | None = 0
    """None in streaming mode (first seen wins; no clusters are formed)."""
    candidate_edges: int = 0
    verified_edges: int = 0


@dataclass(frozen=True)
class ShardInfo:
    """One shard as manifest.json lists it."""

    path: str
    source: str
    split: str
    blocks: int
    tokens: int
    docs: int


@dataclass(frozen=True, kw_only=True)
class TokPackSummary(TaskSummary):
    bucket: int
    shards: tuple[ShardInfo, ...]
    kept_docs: int
    streamed_near_duplicate_docs: int


class StageTimes:
    """Wall seconds per stage, and the CPU seconds its tasks spent (tasks run now, not reused)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.cpu: Counter = Counter()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

    def add(self, name: str, summaries: Iterable[TaskSummary]) -> None:
        self.cpu[name] += sum(s.cpu_seconds for s in summaries if not s.reused)

    def utilisation(self, cpus: float) -> dict[str, float]:
        """{stage: fraction of the cluster's CPU time its tasks used} for stages with tasks."""
        return {k: round(self.cpu[k] / (self.seconds[k] * cpus), 3) for k in self.seconds
                if k in self.cpu and self.seconds[k] > 0 and cpus > 0}


def account(ingest: list[IngestSummary], dedup: list[DedupSummary], near: ClustersSummary,
            tokpack: list[TokPackSummary], times: StageTimes, cpus: float) -> dict:
    """Fold the per-task summaries into stats.json's content."""
    dropped, rejected, pii = Counter(), Counter(), Counter()
    for s in ingest:
        dropped.update(s.dropped)
        rejected.update(s.rejected)
        pii.update(s.pii)
    for s in dedup:  # records whose id an earlier record has (duplicate_id)
        rejected.update(s.rejected)
    shards = [sh for s in tokpack for sh in s.shards]
    tokens_by_source: Counter = Counter()
    for sh in shards:
        tokens_by_source[f"{sh.source}/{sh.split}"] += sh.tokens
    exact = sum(s.exact_duplicate_docs for s in dedup)
    return {
        "input_docs": sum(s.input_docs for s in ingest),
        "kept_docs": sum(s.kept_docs for s in tokpack),
        "dropped_docs": dict(sorted(dropped.items())),
        "duplicate_docs": exact + near.near_duplicate_docs,
        "exact_duplicate_docs": exact,
        "near_duplicate_docs": near.near_duplicate_docs,
        "near_duplicate_clusters": near.near_duplicate_clusters,
        "rejected_docs": dict(sorted(rejected.items())),
        "tokens": sum(sh.tokens for sh in shards),
        "tokens_by_source": dict(sorted(tokens_by_source.items())),
        "pii_redactions": dict(sorted(pii.items())),
        "stage_seconds": {k: round(v, 3) for k, v in times.seconds.items()},
        "task_seconds": {
            "ingest": round(sum(s.seconds for s in ingest), 3),
            "dedup": round(sum(s.seconds for s in dedup), 3),
            "near_clusters": round(near.seconds, 3),
            "tokpack": round(sum(s.seconds for s in tokpack), 3),
        },
        "cpu_utilisation": times.utilisation(cpus),
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
    if stats.get("cpu_utilisation"):
        lines.append("  cpu busy     " + ", ".join(f"{k} {100 * v:.0f}%" for k, v in stats["cpu_utilisation"].items())
                     + "   (task CPU time ÷ stage wall time × cluster CPUs)")
    return "\n".join(lines)
