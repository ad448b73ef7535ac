"""Run the datapipe stages on Ray: plan → ingest → dedup → near-dedup → tokenizer → tokpack → stats + manifest.

The read plan (datapipe.plan) cuts the input into tasks for every CPU, running its probes
(Parquet footers, compressed prefixes, newline counts of byte ranges) as Ray tasks. Each
stage is then a Ray Data `map_batches` over small task specs (read tasks, hash buckets or
partitions), run by a pool of actors so expensive setup (language-ID model, tokenizer)
happens once per actor. Each actor is sent one task at a time (max_tasks_in_flight_per_actor
=1): tasks are coarse, and one queued behind a busy actor would wait while another idles.
The driver only ever holds per-task summaries.
"""
from __future__ import annotations

import functools
import json
import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import ray

from cluster.placement import data_resources
from datapipe import near_stages, plan, stages
from datapipe.config import DatapipeConfig, SourceConfig
from datapipe.layout import WorkLayout
from datapipe.minhash import s_curve
from datapipe.neardup import BandIndex
from datapipe.plan import BucketSpec, IngestSpec, PartitionSpec, ReadPlan
from datapipe.stats import ClustersSummary, StageTimes, account, check_identity
from datapipe.tokenize import from_json, token_dtype, tokenizer_sha256, train_tokenizer
from raypretrain import storage
from raypretrain.config import ConfigError, from_dict, to_dict

logger = logging.getLogger("datapipe")

MANIFEST_FORMAT = "raypretrain-shards/1"
MIN_BUCKETS = 4
MAX_AUTO_BUCKETS = 4096
"""Past 64 GiB of input at the default target, buckets grow instead (files: read tasks × buckets)."""


def run_record(cfg: DatapipeConfig, inputs: list[tuple[storage.Location, str]]) -> dict:
    """What this run is, as _work/run.json holds it: the config and the input files with their sizes."""
    return json.loads(json.dumps({"config": to_dict(cfg),
                                  "inputs": [[loc.uri, src, storage.size(loc)] for loc, src in inputs]}))


def check_resume(cfg: DatapipeConfig, inputs: list[tuple[storage.Location, str]], out: storage.Location) -> None:
    """A resumed run must be the same run: the config and input files of _work/run.json, and the
    config of manifest.json when the run had finished (its _work/ is removed then, and rerunning
    would rewrite shards listed under the old config). Reads only; called before any work."""
    run = run_record(cfg, inputs)
    layout = WorkLayout(out)
    marker, finished = layout.run_json, layout.manifest
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
    """Configured, or from the (uncompressed) input size only, so results do not depend on the cluster."""
    auto = max(MIN_BUCKETS, min(MAX_AUTO_BUCKETS, math.ceil(input_bytes / cfg.dedup.bucket_target_bytes)))
    return cfg.dedup.num_buckets or auto


def cluster_cpus() -> float:
    return max(1.0, ray.cluster_resources().get("CPU", 1.0))


def _map(stage: type, specs: list, cfg: DatapipeConfig, out: storage.Location, resume: bool = False,
         **kwargs: Any) -> list:
    """Run `stage` over specs in a Ray Data actor pool; return the per-spec summaries."""
    cpus = int(cluster_cpus())
    num_cpus = cfg.actor_num_cpus
    actors = max(1, min(len(specs), int(cpus // num_cpus) if num_cpus else cpus))
    ds = ray.data.from_items([{"spec": json.dumps(to_dict(s))} for s in specs], override_num_blocks=len(specs))
    pool = ray.data.ActorPoolStrategy(size=actors, max_tasks_in_flight_per_actor=1)
    ds = ds.map_batches(stage, batch_size=1, compute=pool, num_cpus=num_cpus, resources=data_resources(),
                        fn_constructor_kwargs={"cfg": to_dict(cfg), "output": out.uri, "resume": resume, **kwargs})
    summaries = [from_dict(stage.summary_type, json.loads(row["summary"])) for row in ds.iter_rows()]
    reused = sum(s.reused for s in summaries)
    if reused:
        logger.info(f"[datapipe] resume: {reused} of {len(specs)} {stage.stage} tasks were already done")
    return summaries


class _LazyRemote:
    """`ray.remote(fn)`, made at the first `.options(…)`, so importing this module registers nothing
    with Ray. Use as `ray.remote` is used: as a decorator, or `_LazyRemote(fn)`."""

    def __init__(self, fn: Callable):
        self.fn = fn

    @functools.cached_property
    def remote_function(self) -> Any:
        return ray.remote(self.fn)

    def options(self, **options: Any) -> Any:
        return self.remote_function.options(**options)


_near_clusters_task = _LazyRemote(near_stages.near_clusters)
_id_repeats_task = _LazyRemote(stages.id_repeats)


@_LazyRemote
def _probe_metadata_task(files: list[plan.InputFile]) -> list[plan.Meta]:
    return [plan.probe_metadata(f) for f in files]


@_LazyRemote
def _count_lines_task(uri: str, bounds: list[int]) -> plan.LineCounts:
    return plan.count_lines(storage.resolve(uri), bounds)


def read_plan(cfg: DatapipeConfig, inputs: list[tuple[storage.Location, str]], layout: WorkLayout,
              resume: bool, cpus: float) -> ReadPlan:
    """The read tasks (datapipe.plan), written to _work/plan.json; with resume, the interrupted
    run's plan, so its finished tasks are the same tasks whatever the cluster is now."""
    if resume and storage.exists(layout.plan_json):
        return from_dict(ReadPlan, storage.read_json(layout.plan_json))
    files = plan.input_files(inputs, {s.name: s for s in cfg.sources} or {"main": SourceConfig()})
    result = plan.make_plan(
        files, cfg.read.task_target_bytes, cpus,
        run_meta=lambda batches: ray.get([_probe_metadata_task.options(resources=data_resources()).remote(b)
                                          for b in batches]),
        run_counts=lambda jobs: ray.get([_count_lines_task.options(resources=data_resources()).remote(u, b)
                                         for u, b in jobs]))
    storage.write_json(layout.plan_json, to_dict(result))
    return result


def describe_lsh(cfg: DatapipeConfig) -> str:
    """The LSH banding and its S-curve: the chance a pair at Jaccard J becomes a candidate."""
    near = cfg.dedup.near
    bands, rows = near.lsh_params()
    curve = ", ".join(f"J={j:.2f}: {s_curve(j, bands, rows):.3f}"
                      for j in sorted({0.5, 0.7, near.threshold, 0.9, 0.95}))
    return (f"MinHash {near.num_perm} perms, {near.shingle} {near.ngram}-grams, {near.mode} mode; "
            f"threshold {near.threshold} → {bands} bands × {rows} rows; P(candidate): {curve}")


@_LazyRemote
def _train_tokenizer_task(cfg: dict, output: str, buckets: int) -> str:
    c = from_dict(DatapipeConfig, cfg)
    texts = stages.tokenizer_sample(output, buckets, c.tokenize.train_docs)
    return train_tokenizer(texts, c.tokenize).to_str()


def run(cfg: DatapipeConfig, inputs: list[tuple[storage.Location, str]], out: storage.Location,
        log: Callable[[str], None] = logger.info, resume: bool = False) -> dict:
    """Run every stage; write tokenizer.json, stats.json and (last) manifest.json. With
    `resume`, tasks an interrupted run of the same config finished are not run again."""
    if resume:
        check_resume(cfg, inputs, out)
    layout = WorkLayout(out)
    storage.write_json(layout.run_json, run_record(cfg, inputs))
    times, cpus = StageTimes(), cluster_cpus()
    with times.stage("plan"):
        rp = read_plan(cfg, inputs, layout, resume, cpus)
    k = num_buckets(cfg, rp.input_bytes)
    log(f"[datapipe] {len(inputs)} input files ({rp.input_bytes / 2**20:.1f} MiB uncompressed) → "
        f"{len(rp.tasks)} read tasks of at most {rp.split_bytes / 2**20:.1f} MiB for {cpus:g} CPUs, "
        f"{k} dedup buckets; output {out.uri}")
    ingest = _ingest(cfg, out, rp, k, resume, log, times, cpus)
    partitions = cfg.dedup.near.partitions or k
    dedup = _dedup(cfg, out, k, partitions, sum(s.ok_docs for s in ingest), resume, log, times)
    near, index_shards = _near(cfg, out, k, partitions, resume, log, times)
    tokenizer_json, tok = _tokenizer(cfg, out, k, resume, log, times)
    tokpack, near = _tokpack(cfg, out, k, tokenizer_json, index_shards, near, resume, log, times)

    stats = account(ingest, dedup, near, tokpack, times, cpus)
    check_identity(stats)
    storage.write_json(layout.stats, stats)
    shards = sorted((sh for s in tokpack for sh in s.shards), key=lambda sh: sh.path)
    storage.write_json(layout.manifest, manifest(cfg, tok, tokenizer_json, [to_dict(sh) for sh in shards], k))
    if not cfg.keep_work:
        storage.remove_tree(layout.work())
    return stats


def _busy(times: StageTimes, stage: str, cpus: float) -> str:
    u = times.utilisation(cpus).get(stage)
    return f", CPUs {100 * u:.0f}% busy" if u is not None else ""


def _ingest(cfg: DatapipeConfig, out: storage.Location, rp: ReadPlan, k: int, resume: bool,
            log: Callable[[str], None], times: StageTimes, cpus: float) -> list:
    with times.stage("read_clean"):
        ingest = _map(stages.Ingest, [IngestSpec(task=i, pieces=p, num_buckets=k) for i, p in enumerate(rp.tasks)],
                      cfg, out, resume)
    times.add("read_clean", ingest)
    n_in, n_ok = sum(s.input_docs for s in ingest), sum(s.ok_docs for s in ingest)
    log(f"[1/5 read+clean] {n_in:,} docs read, {n_ok:,} passed the filters "
        f"({times.seconds['read_clean']:.1f} s{_busy(times, 'read_clean', cpus)})")
    return ingest


def _dedup(cfg: DatapipeConfig, out: storage.Location, k: int, partitions: int, n_ok: int, resume: bool,
           log: Callable[[str], None], times: StageTimes) -> list:
    """Find the records whose id an earlier record has (one task per id partition), then
    reject them and exact-deduplicate every bucket; the Dedup summaries."""
    with times.stage("dedup"):
        repeats = ray.get([_id_repeats_task.options(resources=data_resources()).remote(out.uri, p) for p in range(k)])
        dedup = _map(stages.Dedup, [BucketSpec(bucket=b, partitions=partitions) for b in range(k)], cfg, out, resume)
    times.add("dedup", [*repeats, *dedup])
    n_unique, n_repeated = sum(s.unique_docs for s in dedup), sum(s.repeated_ids for s in repeats)
    log(f"[2/5 exact dedup] {n_unique:,} unique, {n_ok - n_unique - n_repeated:,} exact duplicates"
        + (f", {n_repeated:,} rejected: their id an earlier record has" if n_repeated else "")
        + f" ({times.seconds['dedup']:.1f} s)")
    return dedup


def _near(cfg: DatapipeConfig, out: storage.Location, k: int, partitions: int, resume: bool,
          log: Callable[[str], None], times: StageTimes) -> tuple[ClustersSummary, list | None]:
    """Batch near dedup (its summary), or the BandIndex actors streaming near dedup asks."""
    near = cfg.dedup.near
    if not near.enabled:
        return ClustersSummary(), None
    log(f"[3/5 near dedup] {describe_lsh(cfg)}")
    if near.mode == "streaming":
        shards = [ray.remote(BandIndex).options(num_cpus=0, resources=data_resources()).remote()
                  for _ in range(near.index_shards)]
        log(f"[3/5 near dedup] streaming: {len(shards)} BandIndex actors answer while tokenizing")
        return ClustersSummary(), shards
    with times.stage("near_dedup"):
        cands = _map(near_stages.NearCandidates, [PartitionSpec(partition=p) for p in range(partitions)], cfg, out, resume)
        sigs = _map(near_stages.CandidateSignatures, [BucketSpec(bucket=b) for b in range(k)], cfg, out) if near.verify else []
        checked = _map(near_stages.VerifyEdges, [BucketSpec(bucket=b) for b in range(k)], cfg, out) if near.verify else []
        summary = ray.get(_near_clusters_task.options(resources=data_resources()).remote(
            out.uri, bool(near.verify), sum(s.edges for s in cands)))
    times.add("near_dedup", [*cands, *sigs, *checked, summary])
    log(f"[3/5 near dedup] {summary.candidate_edges:,} candidate edges, {summary.verified_edges:,} verified → "
        f"{summary.near_duplicate_docs:,} near duplicates in {summary.near_duplicate_clusters:,} clusters "
        f"({times.seconds['near_dedup']:.1f} s)")
    return summary, None


def _tokenizer(cfg: DatapipeConfig, out: storage.Location, k: int, resume: bool, log: Callable[[str], None],
               times: StageTimes):
    """(tokenizer.json text, the tokenizer): the interrupted run's, the configured one, or one
    trained on kept documents; written to tokenizer.json."""
    written = WorkLayout(out).tokenizer
    with times.stage("tokenizer"):
        if resume and storage.exists(written):  # written atomically before tokpack began
            with written.fs.open_input_stream(written.path) as f:
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
        storage.write_bytes(written, tokenizer_json.encode())
    log(f"[4/5 tokenizer] {how}: vocab {tok.get_vocab_size():,} ({times.seconds['tokenizer']:.1f} s)")
    return tokenizer_json, tok


def _tokpack(cfg: DatapipeConfig, out: storage.Location, k: int, tokenizer_json: str, index_shards: list | None,
             near: ClustersSummary, resume: bool, log: Callable[[str], None],
             times: StageTimes) -> tuple[list, ClustersSummary]:
    """Tokenize and pack every bucket; the summaries, and the near-dedup account (streaming
    near dedup's is known only now)."""
    with times.stage("tokenize_pack"):
        tokpack = _map(stages.TokPack, [BucketSpec(bucket=b) for b in range(k)], cfg, out, resume,
                       tokenizer_json=tokenizer_json, index_shards=index_shards)
    times.add("tokenize_pack", tokpack)
    streamed = sum(s.streamed_near_duplicate_docs for s in tokpack)
    if index_shards:
        near = ClustersSummary(near_duplicate_docs=streamed, near_duplicate_clusters=None)
        for shard in index_shards:
            ray.kill(shard)
    n_shards, tokens = sum(len(s.shards) for s in tokpack), sum(sh.tokens for s in tokpack for sh in s.shards)
    log(f"[5/5 tokenize+pack] {tokens:,} tokens in {n_shards} shards"
        + (f", {streamed:,} streamed near duplicates" if index_shards else "")
        + f" ({times.seconds['tokenize_pack']:.1f} s)")
    return tokpack, near


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
