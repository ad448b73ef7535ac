"""Run the datapipe stages on Ray: ingest → dedup → near-dedup → tokenizer → tokpack → stats + manifest.

Each stage is a Ray Data `map_batches` over small task specs (file groups or hash
buckets), run by a pool of actors so expensive setup (language-ID model, tokenizer)
happens once per actor. The driver only ever holds per-task summaries.
"""
from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import ray

from cluster.placement import data_resources
from datapipe import stages
from raypretrain import storage
from datapipe.config import DatapipeConfig
from datapipe.minhash import s_curve
from datapipe.neardup import BandIndex
from datapipe.stats import account, check_identity
from datapipe.tokenize import from_json, token_dtype, tokenizer_sha256, train_tokenizer
from raypretrain.config import ConfigError, from_dict, to_dict

MANIFEST_FORMAT = "raypretrain-shards/1"
MIN_BUCKETS = 4


def plan_tasks(files: list[tuple[storage.Location, str]], target_bytes: int) -> list[list[tuple[str, str]]]:
    """Group (file, source) pairs, in order, into tasks of about target_bytes each."""
    tasks: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    current_bytes = 0
    for loc, source in files:
        n = storage.size(loc)
        if current and current_bytes + n > target_bytes:
            tasks.append(current)
            current, current_bytes = [], 0
        current.append((loc.uri, source))
        current_bytes += n
    if current:
        tasks.append(current)
    return tasks


def run_record(cfg: DatapipeConfig, inputs: list[tuple[storage.Location, str]]) -> dict:
    """What this run is, as _work/run.json holds it: the config and the input files with their sizes."""
    return json.loads(json.dumps({"config": to_dict(cfg),
                                  "inputs": [[loc.uri, src, storage.size(loc)] for loc, src in inputs]}))


def check_resume(cfg: DatapipeConfig, inputs: list[tuple[storage.Location, str]], out: storage.Location) -> None:
    """A resumed run must be the same run: the config and input files of _work/run.json, and the
    config of manifest.json when the run had finished (its _work/ is removed then, and rerunning
    would rewrite shards listed under the old config). Reads only; called before any work."""
    run = run_record(cfg, inputs)
    marker, finished = out.join("_work", "run.json"), out.join("manifest.json")
    if storage.exists(finished):
        with finished.fs.open_input_stream(finished.path) as f:
            if json.loads(f.read()).get("config") != run["config"]:
                raise ConfigError(f"--resume: the config differs from the one of the finished run in {out.uri} "
                                  "(manifest.json); rerun with --overwrite or choose another --output")
    if storage.exists(marker):
        with marker.fs.open_input_stream(marker.path) as f:
            before = json.loads(f.read())
        if before != run:
            what = "config" if before["config"] != run["config"] else "input files"
            raise ConfigError(f"--resume: the {what} differ from the interrupted run's; rerun with --overwrite")
    if cfg.dedup.near.enabled and cfg.dedup.near.mode == "streaming":
        raise ConfigError("--resume: streaming near dedup keeps its index in memory and cannot resume; "
                          "use dedup.near.mode=batch or --overwrite")


def num_buckets(cfg: DatapipeConfig, input_bytes: int) -> int:
    """Configured, or from input size only, so results do not depend on the cluster."""
    return cfg.dedup.num_buckets or max(MIN_BUCKETS, math.ceil(input_bytes / cfg.dedup.bucket_target_bytes))


def _map(stage: type, specs: list[dict], cfg: DatapipeConfig, out: storage.Location, resume: bool = False,
         **kwargs: Any) -> list[dict]:
    """Run `stage` over specs in a Ray Data actor pool; return the per-spec summaries."""
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    num_cpus = cfg.actor_num_cpus
    actors = max(1, min(len(specs), int(cpus // num_cpus) if num_cpus else cpus))
    ds = ray.data.from_items([{"spec": json.dumps(s)} for s in specs], override_num_blocks=len(specs))
    ds = ds.map_batches(stage, batch_size=1, compute=ray.data.ActorPoolStrategy(size=actors), num_cpus=num_cpus,
                        resources=data_resources(),
                        fn_constructor_kwargs={"cfg": to_dict(cfg), "output": out.uri, "resume": resume, **kwargs})
    summaries = [json.loads(row["summary"]) for row in ds.iter_rows()]
    reused = sum(bool(s.pop("reused", False)) for s in summaries)
    if reused:
        print(f"[datapipe] resume: {reused} of {len(specs)} {stage.stage} tasks were already done", flush=True)
    return summaries


_near_clusters_task = ray.remote(stages.near_clusters)
_id_repeats_task = ray.remote(stages.id_repeats)


def describe_lsh(cfg: DatapipeConfig) -> str:
    """The LSH banding and its S-curve: the chance a pair at Jaccard J becomes a candidate."""
    near = cfg.dedup.near
    bands, rows = near.lsh_params()
    curve = ", ".join(f"J={j:.2f}: {s_curve(j, bands, rows):.3f}"
                      for j in sorted({0.5, 0.7, near.threshold, 0.9, 0.95}))
    return (f"MinHash {near.num_perm} perms, {near.shingle} {near.ngram}-grams, {near.mode} mode; "
            f"threshold {near.threshold} → {bands} bands × {rows} rows; P(candidate): {curve}")


@ray.remote
def _train_tokenizer_task(cfg: dict, output: str, buckets: int) -> str:
    c = from_dict(DatapipeConfig, cfg)
    texts = stages.tokenizer_sample(output, buckets, c.tokenize.train_docs)
    return train_tokenizer(texts, c.tokenize).to_str()


def run(cfg: DatapipeConfig, inputs: list[tuple[storage.Location, str]], out: storage.Location,
        log: Callable[[str], None] = print, resume: bool = False) -> dict:
    """Run every stage; write tokenizer.json, stats.json and (last) manifest.json. With
    `resume`, tasks an interrupted run of the same config finished are not run again."""
    if resume:
        check_resume(cfg, inputs, out)
    storage.write_json(out.join("_work", "run.json"), run_record(cfg, inputs))
    seconds: dict[str, float] = {}
    input_bytes = sum(storage.size(loc) for loc, _ in inputs)
    k = num_buckets(cfg, input_bytes)
    tasks = plan_tasks(inputs, cfg.read.task_target_bytes)
    log(f"[datapipe] {len(inputs)} input files ({input_bytes / 2**20:.1f} MiB) → {len(tasks)} read tasks, "
        f"{k} dedup buckets; output {out.uri}")

    t = time.perf_counter()
    first_files = np.cumsum([0, *map(len, tasks)]).tolist()  # each task's first file, as an index into inputs
    ingest = _map(stages.Ingest, [{"task": i, "files": f, "num_buckets": k, "first_file": first_files[i]}
                                  for i, f in enumerate(tasks)], cfg, out, resume)
    seconds["read_clean"] = time.perf_counter() - t
    n_in, n_ok = sum(s["input_docs"] for s in ingest), sum(s["ok_docs"] for s in ingest)
    log(f"[1/5 read+clean] {n_in:,} docs read, {n_ok:,} passed the filters ({seconds['read_clean']:.1f} s)")

    near = cfg.dedup.near
    partitions = near.partitions or k
    dedup = _dedup(cfg, out, k, partitions, n_ok, resume, log, seconds)

    near_summary = {"near_duplicate_docs": 0, "near_duplicate_clusters": 0}
    index_shards = None
    if near.enabled:
        log(f"[3/5 near dedup] {describe_lsh(cfg)}")
    if near.enabled and near.mode == "batch":
        near_summary = _batch_near(cfg, out, k, partitions, resume, log, seconds)
    elif near.enabled:
        index_shards = [ray.remote(BandIndex).options(num_cpus=0, resources=data_resources()).remote()
                        for _ in range(near.index_shards)]
        log(f"[3/5 near dedup] streaming: {len(index_shards)} BandIndex actors answer while tokenizing")

    tokenizer_json, tok = _tokenizer(cfg, out, k, resume, log, seconds)

    t = time.perf_counter()
    tokpack = _map(stages.TokPack, [{"bucket": b} for b in range(k)], cfg, out, resume,
                   tokenizer_json=tokenizer_json, index_shards=index_shards)
    seconds["tokenize_pack"] = time.perf_counter() - t
    shards = sorted((sh for s in tokpack for sh in s["shards"]), key=lambda sh: sh["path"])
    streamed = sum(s["streamed_near_duplicate_docs"] for s in tokpack)
    if index_shards:
        near_summary = {"near_duplicate_docs": streamed, "near_duplicate_clusters": None}
        for shard in index_shards:
            ray.kill(shard)
    log(f"[5/5 tokenize+pack] {sum(sh['tokens'] for sh in shards):,} tokens in {len(shards)} shards"
        + (f", {streamed:,} streamed near duplicates" if index_shards else "")
        + f" ({seconds['tokenize_pack']:.1f} s)")

    stats = account(ingest, dedup, near_summary, tokpack, seconds)
    check_identity(stats)
    storage.write_json(out.join("stats.json"), stats)
    storage.write_json(out.join("manifest.json"), manifest(cfg, tok, tokenizer_json, shards, k))
    if not cfg.keep_work:
        storage.remove_tree(out.join("_work"))
    return stats


def _dedup(cfg: DatapipeConfig, out: storage.Location, k: int, partitions: int, n_ok: int, resume: bool,
           log: Callable[[str], None], seconds: dict[str, float]) -> list[dict]:
    """Find the records whose id an earlier record has (one task per id partition), then
    reject them and exact-deduplicate every bucket; the Dedup summaries."""
    t = time.perf_counter()
    repeats = ray.get([_id_repeats_task.options(resources=data_resources()).remote(out.uri, p) for p in range(k)])
    dedup = _map(stages.Dedup, [{"bucket": b, "partitions": partitions} for b in range(k)], cfg, out, resume)
    seconds["dedup"] = time.perf_counter() - t
    n_unique, n_repeated = sum(s["unique_docs"] for s in dedup), sum(s["repeated_ids"] for s in repeats)
    log(f"[2/5 exact dedup] {n_unique:,} unique, {n_ok - n_unique - n_repeated:,} exact duplicates"
        + (f", {n_repeated:,} rejected: their id an earlier record has" if n_repeated else "")
        + f" ({seconds['dedup']:.1f} s)")
    return dedup


def _batch_near(cfg: DatapipeConfig, out: storage.Location, k: int, partitions: int, resume: bool,
                log: Callable[[str], None], seconds: dict[str, float]) -> dict:
    """Batch near dedup: candidate edges per partition, their signatures, then clusters."""
    near = cfg.dedup.near
    t = time.perf_counter()
    _map(stages.NearCandidates, [{"partition": p} for p in range(partitions)], cfg, out, resume)
    if near.verify:
        _map(stages.CandidateSignatures, [{"bucket": b} for b in range(k)], cfg, out)
    summary = ray.get(_near_clusters_task.options(resources=data_resources()).remote(
        out.uri, near.threshold if near.verify else None))
    seconds["near_dedup"] = time.perf_counter() - t
    log(f"[3/5 near dedup] {summary['candidate_edges']:,} candidate edges, "
        f"{summary['verified_edges']:,} verified → "
        f"{summary['near_duplicate_docs']:,} near duplicates in "
        f"{summary['near_duplicate_clusters']:,} clusters ({seconds['near_dedup']:.1f} s)")
    return summary


def _tokenizer(cfg: DatapipeConfig, out: storage.Location, k: int, resume: bool, log: Callable[[str], None],
               seconds: dict[str, float]):
    """(tokenizer.json text, the tokenizer): the interrupted run's, the configured one, or one
    trained on kept documents; written to tokenizer.json."""
    t = time.perf_counter()
    if resume and storage.exists(out.join("tokenizer.json")):  # written atomically before tokpack began
        with out.join("tokenizer.json").fs.open_input_stream(out.join("tokenizer.json").path) as f:
            tokenizer_json = f.read().decode()
        how = "reused the tokenizer of the interrupted run"
    elif cfg.tokenize.tokenizer_path:
        with storage.resolve(cfg.tokenize.tokenizer_path).fs.open_input_stream(
                storage.resolve(cfg.tokenize.tokenizer_path).path) as f:
            tokenizer_json = f.read().decode()
        how = f"loaded {cfg.tokenize.tokenizer_path}"
    else:
        tokenizer_json = ray.get(_train_tokenizer_task.options(resources=data_resources()).remote(
            to_dict(cfg), out.uri, k))
        how = f"trained byte-level BPE on up to {cfg.tokenize.train_docs:,} kept docs"
    tok = from_json(tokenizer_json, cfg.tokenize)
    storage.write_bytes(out.join("tokenizer.json"), tokenizer_json.encode())
    seconds["tokenizer"] = time.perf_counter() - t
    log(f"[4/5 tokenizer] {how}: vocab {tok.get_vocab_size():,} ({seconds['tokenizer']:.1f} s)")
    return tokenizer_json, tok


def manifest(cfg: DatapipeConfig, tok, tokenizer_json: str, shards: list[dict], buckets: int) -> dict:
    sources: dict[str, dict] = {}
    for sh in shards:
        split = sources.setdefault(sh["source"], {}).setdefault(
            sh["split"], {"tokens": 0, "blocks": 0, "docs": 0, "shards": 0})
        for key in ("tokens", "blocks", "docs"):
            split[key] += sh[key]
        split["shards"] += 1
    return {
        "format": MANIFEST_FORMAT,
        "seq_len": cfg.pack.seq_len,
        "block_len": cfg.pack.seq_len + 1,
        "dtype": np.dtype(token_dtype(tok.get_vocab_size())).name,
        "vocab_size": tok.get_vocab_size(),
        "eos_id": tok.token_to_id(cfg.tokenize.eos_token),
        "pad_id": tok.token_to_id(cfg.tokenize.pad_token),
        "tokenizer": "tokenizer.json",
        "tokenizer_sha256": tokenizer_sha256(tokenizer_json),
        "num_buckets": buckets,
        "sources": sources,
        "shards": shards,
        "stats": "stats.json",
        "config": to_dict(cfg),
    }
