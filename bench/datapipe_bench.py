"""Benchmark the data pipeline on a generated corpus; baselines are measured in the same run.

    python bench/datapipe_bench.py --docs 50000 --cpus 2

Prints docs/s/core per stage and end to end, tokenization cost as a ratio against raw
`tokenizers.Tokenizer.encode_batch` on the same texts, and peak memory (driver and Ray workers).
"""
from __future__ import annotations

import argparse
import dataclasses
import resource
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import ray

from datapipe import pipeline
from raypretrain import storage
from raypretrain.console import setup
from datapipe.config import DatapipeConfig, SourceConfig
from datapipe.sample import write_corpus
from datapipe.tokenize import encode, from_json
from memory import WorkerRSS  # bench/memory.py (a script's own folder is on sys.path)


def tokenizer_ratio(out: storage.Location, cfg: DatapipeConfig, tokenizer_json: str, max_docs: int) -> dict:
    """Our encode() against raw encode_batch on the same kept texts, same batch size, one process."""
    texts: list[str] = []
    for f in storage.list_files(out.join("_work", "kept"), ".parquet"):
        texts += pq.read_table(f.path, columns=["text"]).column(0).to_pylist()
        if len(texts) >= max_docs:
            break
    texts = texts[:max_docs]
    tok = from_json(tokenizer_json, cfg.tokenize)
    eos, bs = tok.token_to_id(cfg.tokenize.eos_token), cfg.tokenize.batch_size
    batches = [texts[i:i + bs] for i in range(0, len(texts), bs)]
    fns = {"raw": lambda b: tok.encode_batch(b, add_special_tokens=False), "ours": lambda b: encode(tok, b, eos)}
    timings = {name: float("inf") for name in fns}
    for _ in range(5):  # interleaved, best of 5: both see the same machine state
        for name, fn in fns.items():
            t = time.perf_counter()
            for b in batches:
                fn(b)
            timings[name] = min(timings[name], time.perf_counter() - t)
    n_tokens = int(sum(len(e.ids) for b in batches[:50] for e in tok.encode_batch(b)) * len(batches) / min(50, len(batches)))
    return {"docs": len(texts), "raw_s": timings["raw"], "ours_s": timings["ours"],
            "ratio": timings["ours"] / timings["raw"], "tokens_per_s_raw": n_tokens / timings["raw"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--docs", type=int, default=50_000)
    p.add_argument("--cpus", type=int, default=2)
    p.add_argument("--workdir", default=None)
    args = p.parse_args()
    setup()  # the pipeline's stage lines on the console, as `python -m datapipe` shows them

    work = Path(args.workdir or tempfile.mkdtemp(prefix="datapipe-bench-"))
    corpus = work / f"corpus-{args.docs}.jsonl"
    t = time.perf_counter()
    if not corpus.exists():
        write_corpus(corpus, args.docs, seed=0)
    gen_s = time.perf_counter() - t
    out = storage.resolve(str(work / "out"))
    storage.remove_tree(out)
    cfg = DatapipeConfig(sources=(SourceConfig(name="bench", paths=(str(corpus),)),), output=out.uri, keep_work=True)
    cfg = dataclasses.replace(cfg, read=dataclasses.replace(cfg.read, task_target_bytes=corpus.stat().st_size // (2 * args.cpus) + 1))

    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
    monitor = WorkerRSS()
    monitor.start()
    t = time.perf_counter()
    stats = pipeline.run(cfg, [(storage.resolve(str(corpus)), "bench")], out)
    wall = time.perf_counter() - t
    monitor.stop.set()
    monitor.join()
    ratio = tokenizer_ratio(out, cfg, (Path(out.path) / "tokenizer.json").read_text(), max_docs=20_000)
    ray.shutdown()

    n = stats["input_docs"]
    kept_before_dedup = stats["kept_docs"] + stats["duplicate_docs"]
    rows = [
        ("read+clean", n, stats["task_seconds"]["ingest"], stats["stage_seconds"]["read_clean"]),
        ("exact dedup", kept_before_dedup, stats["task_seconds"]["dedup"], stats["stage_seconds"]["dedup"]),
        ("tokenizer training", min(cfg.tokenize.train_docs, stats["kept_docs"]),
         stats["stage_seconds"]["tokenizer"], stats["stage_seconds"]["tokenizer"]),  # one Ray task
        ("tokenize+pack", stats["kept_docs"], stats["task_seconds"]["tokpack"], stats["stage_seconds"]["tokenize_pack"]),
        ("end to end", n, None, wall),
    ]
    print(f"\ncorpus: {n:,} docs, {corpus.stat().st_size / 2**20:.1f} MiB (generated in {gen_s:.1f} s); "
          f"{args.cpus} CPUs; kept {stats['kept_docs']:,}, tokens {stats['tokens']:,}\n")
    print("| stage | docs | task core-s | wall s | docs/s/core |")
    print("|---|---|---|---|---|")
    for name, docs, core_s, wall_s in rows:
        per_core = docs / core_s if core_s else docs / (wall_s * args.cpus)
        print(f"| {name} | {docs:,} | {core_s if core_s is None else round(core_s, 1)} | {wall_s:.1f} | {per_core:,.0f} |")
    print(f"\ntokenization, same {ratio['docs']:,} texts, batch {cfg.tokenize.batch_size}, one process:")
    print(f"  raw Tokenizer.encode_batch {ratio['raw_s']:.2f} s ({ratio['tokens_per_s_raw'] / 1e6:.2f} M tokens/s), "
          f"datapipe.tokenize.encode {ratio['ours_s']:.2f} s → ratio {ratio['ratio']:.2f}x (target ≤ 1.2x)")
    print(f"  tokenize+pack stage (parquet read, split, encode, pack, write): "
          f"{stats['task_seconds']['tokpack']:.2f} core-s for {stats['kept_docs']:,} docs")
    driver_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"\npeak memory: driver {driver_peak / 2**20:.0f} MiB, largest Ray worker {monitor.max_worker / 2**20:.0f} MiB, "
          f"all Ray workers together {monitor.max_workers / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
