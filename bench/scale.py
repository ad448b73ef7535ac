"""Scale-out of the data path: the whole `python -m datapipe` on generated corpora of N documents,
as one file and as 16 files; ratios against the 20k one-file run measured in the same run.

    python bench/scale.py                                  # 20,000 docs: one file, 16 files
    python bench/scale.py --docs 20000 100000 500000 --cpus 2
    python bench/scale.py --docs 100000 --set dedup.near.enabled=false
    python bench/scale.py --corpora /tmp/scale-corpora --runs 100000:1 500000:1   # reuse generated corpora

Each run is a fresh driver process (datapipe.main.main, as `python -m datapipe` runs it) on its
own local Ray of --cpus CPUs. Printed per run: docs/s/core of each stage (the documents the
stage received ÷ its wall seconds ÷ CPUs) and end to end, read+clean CPU utilisation from
stats.json (task CPU seconds ÷ wall × CPUs), the number of read tasks, the peak RSS of the
largest Ray worker process (psutil, every 0.2 s over the driver's descendants whose title
starts with ray::; the four largest titles are named) and the driver's own peak (VmHWM, read
by the driver itself at the end).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from memory import WorkerRSS  # noqa: E402 (bench/ is not a package)

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

MiB = 2**20
BASELINE = (20_000, 1)

DRIVER = """
import json, re, sys
import ray
cpus = int(sys.argv[1])
ray.init(address="local", num_cpus=cpus, object_store_memory=512 * 2**20, include_dashboard=False,
         log_to_driver=False)
from datapipe.main import main
rc = main(sys.argv[2:])
with open("/proc/self/status") as f:
    peak = int(re.search(r"VmHWM:\\s+(\\d+) kB", f.read()).group(1)) * 1024
ray.shutdown()
print("DRIVER_PEAK " + json.dumps({"rc": rc, "peak": peak}))
"""


def make_corpus(folder: Path, docs: int, files: int) -> tuple[str, int]:
    """write_corpus(docs) as one file, or dealt line by line into `files` files; (input, bytes).
    A corpus already complete in `folder` (a `<folder>.done` marker beside it) is reused; the 16-file
    layout is dealt from the one-file corpus of the same size when that one is there."""
    from datapipe.sample import write_corpus

    done = folder.with_name(folder.name + ".done")
    if not done.is_file():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        one = folder.with_name(f"in-{docs}-1") / "corpus.jsonl"
        if files == 1 or not folder.with_name(f"in-{docs}-1.done").is_file():
            one = folder / "corpus.jsonl"
            write_corpus(one, docs, seed=0)
        if files > 1:
            lines = one.read_bytes().splitlines()
            if one.parent == folder:
                one.unlink()
            for i in range(files):
                (folder / f"part{i:02d}.jsonl").write_bytes(b"\n".join(lines[i::files]) + b"\n")
        done.write_text("")
    paths = sorted(folder.glob("*.jsonl"))
    return (str(paths[0]) if files == 1 else str(folder)), sum(p.stat().st_size for p in paths)


def run_datapipe(corpus: str, out: Path, cpus: int, sets: list[str], pin: list[int] | None = None) -> dict:
    """`python -m datapipe --input corpus --output out --set ...` in a fresh driver process on its own
    local Ray of `cpus` CPUs (the process pinned to the cores `pin` when given): stats.json, wall
    seconds, the driver's peak, the Ray workers' peaks (largest, by title, all processes together),
    the read-task count and the driver's log."""
    argv = ["--input", corpus, "--output", str(out), *[a for s in sets for a in ("--set", s)]]
    ray_tmp = tempfile.mkdtemp(prefix="dpsc", dir="/tmp")  # short: Ray's socket paths live below it
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(RAY_TMPDIR=ray_tmp, RAY_DATA_DISABLE_PROGRESS_BARS="1")
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(cpus), *argv], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=(lambda: os.sched_setaffinity(0, set(pin))) if pin else None)
    sampler = WorkerRSS(proc.pid)
    sampler.start()
    log, _ = proc.communicate()
    wall = time.perf_counter() - start
    sampler.stop.set()
    sampler.join()
    shutil.rmtree(ray_tmp, ignore_errors=True)
    peak = [json.loads(line.split(" ", 1)[1]) for line in log.splitlines() if line.startswith("DRIVER_PEAK ")]
    if proc.returncode or not peak or peak[0]["rc"]:
        raise SystemExit(f"datapipe failed on {corpus}:\n{log[-4000:]}")
    tasks = re.search(r"→ (\d+) read tasks", log)
    stats = json.loads((out / "stats.json").read_text())
    return {"stats": stats, "wall": wall, "worker_peak": sampler.max_worker, "driver_peak": peak[0]["peak"],
            "by_title": sorted(sampler.by_title.items(), key=lambda kv: -kv[1])[:4], "all_peak": sampler.max_tree,
            "read_tasks": int(tasks.group(1)) if tasks else 0, "log": log}


def per_stage(stats: dict, cpus: int) -> dict[str, float]:
    """docs/s/core of each stage: the documents it received ÷ its wall seconds ÷ CPUs."""
    n = stats["input_docs"]
    rejected = sum(stats["rejected_docs"].values())
    repeated = stats["rejected_docs"].get("duplicate_id", 0)
    passed = n - sum(stats["dropped_docs"].values()) - rejected + repeated   # into exact dedup
    unique = passed - repeated - stats["exact_duplicate_docs"]                 # into near dedup
    into = {"read_clean": n, "dedup": passed, "near_dedup": unique, "tokenize_pack": stats["kept_docs"]}
    sec = stats["stage_seconds"]
    rates = {k: into[k] / (sec[k] * cpus) for k in into if sec.get(k)}
    rates["end_to_end"] = n / (sum(sec.values()) * cpus)
    return rates


COLUMNS = ("read_clean", "dedup", "near_dedup", "tokenize_pack", "end_to_end")


def table(results: dict, cpus: int) -> str:
    base = results[BASELINE]
    base_rates = per_stage(base["stats"], cpus)
    head = ("| docs | files | MiB | read tasks | " + " | ".join(f"{c} docs/s/core" for c in COLUMNS)
            + " | read+clean CPU use | largest worker MiB | driver MiB | wall s |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for (docs, files), r in results.items():
        rates = per_stage(r["stats"], cpus)
        ratio = {c: rates.get(c, 0) / base_rates[c] if base_rates.get(c) else 0 for c in COLUMNS}
        util = r["stats"].get("cpu_utilisation", {}).get("read_clean", 0)
        cells = [f"{docs:,}", str(files), f"{r['bytes'] / MiB:.0f}", str(r["read_tasks"])]
        cells += [f"{rates.get(c, 0):,.0f} ({ratio[c]:.2f}x)" for c in COLUMNS]
        cells += [f"{100 * util:.0f}%", f"{r['worker_peak'] / MiB:,.0f} ({r['worker_peak'] / base['worker_peak']:.2f}x)",
                  f"{r['driver_peak'] / MiB:,.0f} ({r['driver_peak'] / base['driver_peak']:.2f}x)", f"{r['wall']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_runs(args) -> list[tuple[int, int]]:
    if args.runs:
        runs = [tuple(int(x) for x in r.split(":")) for r in args.runs]
    else:
        runs = [(d, f) for d in args.docs for f in (1, 16)]
    return [BASELINE] + [r for r in runs if r != BASELINE]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--docs", type=int, nargs="+", default=[20_000], help="corpus sizes (default 20000)")
    p.add_argument("--runs", nargs="+", metavar="DOCS:FILES",
                   help="exactly these runs instead of every size as 1 and 16 files (the 20000:1 baseline is added)")
    p.add_argument("--cpus", type=int, default=os.cpu_count() or 2, help="CPUs of each run's local Ray")
    p.add_argument("--set", action="append", default=[], dest="sets", metavar="KEY=VALUE",
                   help="a datapipe config override for every run (repeatable)")
    p.add_argument("--corpora", type=Path, help="keep the generated corpora here and reuse them in later runs")
    p.add_argument("--generate-only", action="store_true", help="only write the corpora (into --corpora)")
    p.add_argument("--keep", action="store_true", help="keep the corpora and outputs (printed folder)")
    args = p.parse_args(argv)
    if args.generate_only and not args.corpora:
        p.error("--generate-only needs --corpora")
    root = Path(tempfile.mkdtemp(prefix="scale-"))
    corpora = args.corpora or root
    runs = parse_runs(args)
    print(f"load average {os.getloadavg()[0]:.1f}; {args.cpus} CPUs per run; work in {root}", flush=True)
    results = {}
    try:
        for docs, files in runs:
            corpus, nbytes = make_corpus(corpora / f"in-{docs}-{files}", docs, files)
            if args.generate_only:
                print(f"  {docs:,} docs in {files} file(s): {nbytes / MiB:,.0f} MiB in {corpus}", flush=True)
                continue
            r = run_datapipe(corpus, root / f"out-{docs}-{files}", args.cpus, args.sets)
            results[(docs, files)] = dict(r, bytes=nbytes)
            print(f"  {docs:,} docs in {files} file(s): {r['wall']:.0f} s, {r['read_tasks']} read tasks, "
                  f"largest worker {r['worker_peak'] / MiB:,.0f} MiB, driver {r['driver_peak'] / MiB:,.0f} MiB, "
                  f"load average {os.getloadavg()[0]:.1f}", flush=True)
            print("    largest workers: " + ", ".join(f"{t} {b / MiB:,.0f} MiB" for t, b in r["by_title"]), flush=True)
            if not args.keep:
                shutil.rmtree(root / f"out-{docs}-{files}", ignore_errors=True)
                if not args.corpora:
                    shutil.rmtree(root / f"in-{docs}-{files}")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    if results:
        print(f"load average {os.getloadavg()[0]:.1f}; ratios against the {BASELINE[0]:,}-doc one-file run")
        print(table(results, args.cpus))
    return 0


if __name__ == "__main__":
    sys.exit(main())
