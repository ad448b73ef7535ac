"""The live stream (`data.mode: live`) against the batch pipeline, on the same corpus and CPUs.

    python bench/live_stream.py                         # 20,000 docs in 16 files, 2 CPUs, 1 and 2 pack actors
    python bench/live_stream.py --docs 50000 --pack-actors 1 2 0 --corpora /tmp/scale-corpora

First the batch job, `python -m datapipe` (as bench/scale.py runs it: a fresh driver on its own
local Ray of --cpus CPUs): its docs/s end to end is the input documents ÷ its wall seconds. Then,
for each pack-actor count (0: the default pool, 1 to one actor per CPU), a fresh driver builds the
live dataset (datapipe.live.live_dataset: read → clean → exact and near dedup → tokenize → pack,
with the batch run's tokenizer.json, so no tokenizer is trained) and consumes it with
`iter_batches` as a trainer would; its docs/s is the input documents ÷ the seconds from the
first pull to the last block. Also printed: the non-pad tokens/s delivered, and each stage's busy
fraction from Ray's task events (`ray.timeline()`): for the read+clean tasks, their task seconds ÷
(wall × CPUs); for each actor kind (pack actors, exact-index shards, band-index shards), the
busiest actor's method seconds ÷ wall. A stage near 1.0 while the CPUs have room is the bottleneck.

The live stream reads one task per input file (it resumes at file granularity), so its corpus is
the 16-file layout; a single file would be one read task.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale import MiB, REPO, make_corpus, run_datapipe  # noqa: E402 (bench/ is not a package)

LIVE = """
import collections, dataclasses, json, sys, time
import ray
cpus, corpus, tokenizer, actors = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
ray.init(address="local", num_cpus=cpus, object_store_memory=512 * 2**20, include_dashboard=False,
         log_to_driver=False)
ray.data.DataContext.get_current().enable_progress_bars = False
from datapipe.live import live_dataset
from datapipe.main import build_config, parse_args
from datapipe.tokenize import from_json
cfg = build_config(parse_args(["--input", corpus, *[a for s in sys.argv[5:] for a in ("--set", s)]]))
if actors:
    cfg = dataclasses.replace(cfg, live_pack_actors=actors)
with open(tokenizer) as f:
    tok = f.read()
pad = from_json(tok, cfg.tokenize).token_to_id(cfg.tokenize.pad_token)
ds = live_dataset(cfg, tok, cfg.pack.seq_len)
start = time.perf_counter()
blocks = tokens = 0
for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
    blocks += len(batch["tokens"])
    tokens += int((batch["tokens"][:, 1:] != pad).sum())
wall = time.perf_counter() - start
busy = collections.defaultdict(float)
for e in ray.timeline():
    if e.get("ph") == "X" and "dur" in e:
        busy[(e.get("cat", ""), e.get("tid"))] += e["dur"] / 1e6
ray.shutdown()
print("LIVE " + json.dumps({"wall": wall, "blocks": blocks, "tokens": tokens,
                            "busy": [[c, str(t), s] for (c, t), s in busy.items()]}))
"""

STAGES = {"read+clean": "read_clean", "pack actors": "LiveTokPack", "exact index": "ExactIndex",
          "band index": "BandIndex"}


def run_live(corpus: str, tokenizer: str, cpus: int, actors: int, sets: list[str]) -> dict:
    ray_tmp = tempfile.mkdtemp(prefix="dpls", dir="/tmp")
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(RAY_TMPDIR=ray_tmp, RAY_DATA_DISABLE_PROGRESS_BARS="1")
    proc = subprocess.run([sys.executable, "-c", LIVE, str(cpus), corpus, tokenizer, str(actors), *sets],
                          cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    shutil.rmtree(ray_tmp, ignore_errors=True)
    out = [json.loads(line[5:]) for line in proc.stdout.splitlines() if line.startswith("LIVE ")]
    if proc.returncode or not out:
        raise SystemExit(f"live stream failed:\n{proc.stdout[-4000:]}")
    return out[0]


def busy_fractions(busy: list, wall: float, cpus: int) -> dict[str, float]:
    """Each stage's busy fraction (see the module docstring) from [category, worker, seconds] rows."""
    out = {}
    for stage, needle in STAGES.items():
        rows = [(t, s) for c, t, s in busy if needle in c]
        if not rows:
            continue
        if stage == "read+clean":
            out[stage] = sum(s for _, s in rows) / (wall * cpus)
        else:
            per_actor: dict[str, float] = {}
            for t, s in rows:
                per_actor[t] = per_actor.get(t, 0.0) + s
            out[stage] = max(per_actor.values()) / wall
            out[stage + " (actors)"] = len(per_actor)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--docs", type=int, default=20_000)
    p.add_argument("--files", type=int, default=16)
    p.add_argument("--cpus", type=int, default=os.cpu_count() or 2)
    p.add_argument("--pack-actors", type=int, nargs="+", default=[1, 2],
                   help="pack pool sizes to run (0: the default pool, 1 to one actor per CPU)")
    p.add_argument("--set", action="append", default=[], dest="sets", metavar="KEY=VALUE",
                   help="a datapipe config override for both pipelines (repeatable)")
    p.add_argument("--corpora", type=Path, help="reuse (or keep) generated corpora here, as bench/scale.py")
    args = p.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="live-"))
    try:
        corpus, nbytes = make_corpus((args.corpora or root) / f"in-{args.docs}-{args.files}", args.docs, args.files)
        print(f"load average {os.getloadavg()[0]:.1f}; {args.docs:,} docs ({nbytes / MiB:,.0f} MiB) in "
              f"{args.files} files; {args.cpus} CPUs", flush=True)
        batch = run_datapipe(corpus, root / "batch", args.cpus, args.sets)
        n = batch["stats"]["input_docs"]
        base = n / batch["wall"]
        rows = [("batch (python -m datapipe)", base, batch["stats"].get("tokens", 0) / batch["wall"], {})]
        print(f"  batch: {batch['wall']:.0f} s, {base / args.cpus:,.0f} docs/s/core", flush=True)
        for actors in args.pack_actors:
            live = run_live(corpus, str(root / "batch" / "tokenizer.json"), args.cpus, actors, args.sets)
            fr = busy_fractions(live["busy"], live["wall"], args.cpus)
            name = f"live, {actors} pack actor{'s' if actors != 1 else ''}" if actors else "live, default pool"
            rows.append((name, n / live["wall"], live["tokens"] / live["wall"], fr))
            print(f"  {name}: {live['wall']:.0f} s, {live['blocks']:,} blocks, load average "
                  f"{os.getloadavg()[0]:.1f}", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"\nload average {os.getloadavg()[0]:.1f}; ratios against the batch pipeline measured in this run")
    print("| pipeline | docs/s/core | × batch | tokens/s | busy fractions (busiest actor of each kind) |")
    print("|---|---:|---:|---:|---|")
    for name, docs_s, tok_s, fr in rows:
        busy = ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in fr.items())
        print(f"| {name} | {docs_s / args.cpus:,.0f} | {docs_s / base:.2f} | {tok_s:,.0f} | {busy or '-'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
