"""The near-dedup benchmark's corpus through the whole `python -m datapipe` on a local Ray (filters
off, exact and near dedup on, batch mode): per-stage docs/s/core, peak memory, and whether the
removed set is the one-core stage run's. Run by bench/neardup_stage_bench.py with --ray-docs N.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pyarrow.parquet as pq

from scale import MiB, run_datapipe  # bench/ is not a package: the script's folder is on sys.path

NO_FILTERS = [f"clean.{f}.enabled=false" for f in ("lang_id", "gopher_repetition", "gopher_quality", "c4", "fineweb")]


def run_ray(corpus: str, cpus: list[int], workdir: str) -> dict:
    """`python -m datapipe` in a driver process pinned to `cpus`, with a local Ray of as many CPUs;
    scale.run_datapipe's figures plus the load average and the near-removed doc numbers."""
    out = Path(workdir) / "out"
    sets = [*NO_FILTERS, "tokenize.vocab_size=400", "tokenize.train_docs=2000"]
    load0 = os.getloadavg()[0]
    r = run_datapipe(f"bench={corpus}", out, len(cpus), sets, pin=cpus)
    dup = pq.read_table(out / "duplicates").to_pylist()
    shutil.rmtree(out, ignore_errors=True)
    return dict(r, cpus=len(cpus), load=(load0, os.getloadavg()[0]),
                removed_ids=sorted(int(d["doc_id"][1:]) for d in dup if d["kind"] == "near"),
                log=[ln for ln in r["log"].splitlines() if ln.startswith("[")])


def mib(b: float) -> str:
    return f"{b / MiB:,.0f}"


def ray_report(rr: dict, stage: dict | None) -> str:
    s = rr["stats"]
    n, cores = s["input_docs"], rr["cpus"]
    sec = s["stage_seconds"]
    near_wall = sec.get("dedup", 0) + sec.get("near_dedup", 0)
    lines = [f"`python -m datapipe` on a local Ray ({cores} CPUs; filters off, exact + near dedup, batch mode): "
             f"{n:,} docs, {s['near_duplicate_docs']:,} near duplicates in {s['near_duplicate_clusters']:,} clusters "
             f"(load average {rr['load'][0]:.1f} before, {rr['load'][1]:.1f} after)",
             "", "| stage | wall s | docs/s/core = docs / (wall x cores) | task s (summed) | docs per task-s |",
             "|---|---:|---:|---:|---:|"]
    tasks = s["task_seconds"]
    for key, task, name in (("read_clean", "ingest", "read + clean (filters off)"),
                            ("dedup", "dedup", "exact dedup + signatures + band rows (Dedup)"),
                            ("near_dedup", None, "candidates + signatures + verify + clusters"),
                            ("tokenizer", None, "tokenizer training"), ("tokenize_pack", "tokpack", "tokenize + pack")):
        if key in sec:
            task_s = f"{tasks[task]:.1f} | {n / tasks[task]:,.0f}" if task and tasks.get(task) else "- | -"
            lines.append(f"| {name} | {sec[key]:.1f} | {n / (sec[key] * cores):,.0f} | {task_s} |")
    lines.append(f"| **near dedup (Dedup + near stages)** | **{near_wall:.1f}** "
                 f"| **{n / (near_wall * cores):,.0f}** | - | - |")
    lines.append(f"| end to end (driver process, incl. Ray start) | {rr['wall']:.1f} | {n / (rr['wall'] * cores):,.0f} "
                 f"| - | - |")
    lines.append("")
    lines.append(f"peak memory: driver {mib(rr['driver_peak'])} MiB (VmHWM inside it); Ray workers sampled every "
                 f"0.2 s from outside (RSS includes shared object-store pages): largest {mib(rr['worker_peak'])} MiB, "
                 f"all Ray processes together {mib(rr['all_peak'])} MiB")
    if stage is not None and stage["docs"] == n:
        same = rr["removed_ids"] == sorted(stage["quality"]["removed_ids"])
        lines.append(f"removed set {'identical to' if same else 'DIFFERENT from'} the one-core stage run's "
                     f"({len(rr['removed_ids']):,} vs {len(stage['quality']['removed_ids']):,} docs)")
    return "\n".join(lines)
