"""What `python -m datapipe` does, as functions another job can call: check a config and its
paths before any work, prepare the output folder, and run the pipeline (pretrain builds its
sample shards with `run`)."""
from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

import ray

from datapipe import pipeline
from datapipe.config import DatapipeConfig, SourceConfig
from datapipe.pipeline import check_resume
from datapipe.sample import write_corpus
from raypretrain import storage
from raypretrain.config import ConfigError
from raypretrain.ray_env import start_ray

logger = logging.getLogger("datapipe")

SAMPLE_DIR = Path("outputs/sample")
"""The generated sample corpus goes here, below the folder the job runs in."""


def resolve_inputs(cfg: DatapipeConfig) -> list[tuple[storage.Location, str]]:
    """Every input file with its source name; a path that matches nothing is an error."""
    files = []
    for source in cfg.sources:
        for pattern in source.paths:
            try:
                found = storage.expand(pattern)
            except OSError as e:  # an object store that cannot be reached or listed
                raise ConfigError(f"input {pattern}: cannot be listed ({str(e).splitlines()[0]})") from None
            if not found:
                raise ConfigError(f"input not found: {pattern} (source {source.name})")
            files += [(loc, source.name) for loc in found]
    return files


def check_paths(cfg: DatapipeConfig) -> None:
    """Files named in the config must exist before any work starts."""
    for key, path in (("tokenize.tokenizer_path", cfg.tokenize.tokenizer_path),
                      ("clean.lang_id.fasttext_model", cfg.clean.lang_id.fasttext_model),
                      ("clean.boilerplate.phrases_path", cfg.clean.boilerplate.phrases_path)):
        if path and not storage.exists(storage.resolve(path)):
            raise ConfigError(f"{key}: file not found: {path}")


OUTPUT_MARKERS = ("manifest.json", "_work/run.json")
"""A folder holding one of these was written by datapipe, so --overwrite may replace it."""


def check_output(cfg: DatapipeConfig, overwrite: bool, resume: bool = False) -> storage.Location:
    """The output folder, checked without touching it: never one that overlaps an input, and
    --overwrite only replaces an empty folder or an earlier datapipe output."""
    out = storage.resolve(cfg.output)
    if resume and overwrite:
        raise ConfigError("--resume and --overwrite contradict each other; pass one")
    storage.refuse_overlap(cfg.output, [p for s in cfg.sources for p in s.paths], "--output")
    if storage.exists(out) and storage.list_files(out) and not resume:
        if not overwrite:
            raise ConfigError(f"output {cfg.output} already exists; pass --overwrite to replace it "
                              "or choose another --output")
        storage.check_replaceable(out, OUTPUT_MARKERS, "--overwrite: output")
    return out


def prepare_output(cfg: DatapipeConfig, overwrite: bool, resume: bool = False) -> storage.Location:
    """check_output, then make the folder ready: an earlier output removed with --overwrite,
    hidden .tmp-* files a crashed run left swept away."""
    out = check_output(cfg, overwrite, resume)
    if overwrite and storage.exists(out):
        storage.remove_tree(out)
    storage.makedirs(out)
    storage.sweep_tmp(out)
    return out


def check(cfg: DatapipeConfig, overwrite: bool = False, resume: bool = False) -> list[tuple[storage.Location, str]]:
    """Everything that can be checked before work starts: the inputs (the sample corpus counts as
    present), files the config names, and the output folder. Returns the input files."""
    inputs = resolve_inputs(cfg) if cfg.sources else []
    check_paths(cfg)
    out = check_output(cfg, overwrite, resume)
    if resume and inputs:
        check_resume(cfg, inputs, out)
    return inputs


def sample_sources(cfg: DatapipeConfig) -> DatapipeConfig:
    """With no sources, generate (once) the seeded sample corpus and read that."""
    path = SAMPLE_DIR / f"corpus-{cfg.sample_docs}.jsonl"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_corpus(path, cfg.sample_docs, seed=0)
        logger.info(f"[datapipe] generated sample corpus {path} ({cfg.sample_docs:,} docs)")
    names = cfg.sample_sources
    if len(names) == 1:
        return dataclasses.replace(cfg, sources=(SourceConfig(name=names[0], paths=(str(path),)),))
    parts = [SAMPLE_DIR / f"corpus-{cfg.sample_docs}.{i}-of-{len(names)}.jsonl" for i in range(len(names))]
    if not all(p.exists() for p in parts):
        lines = path.read_bytes().splitlines(keepends=True)
        for i, part in enumerate(parts):
            storage.write_bytes(storage.resolve(str(part)), b"".join(lines[i::len(names)]))
    return dataclasses.replace(cfg, sources=tuple(SourceConfig(name=name, paths=(str(part),))
                                                  for name, part in zip(names, parts)))


def run(cfg: DatapipeConfig, overwrite: bool = False, resume: bool = False, verbose: bool = False) -> tuple[dict, str]:
    """(stats, output URI): run the pipeline for a loaded config, on the Ray in RAY_ADDRESS or a
    local one started here. Bad input raises ConfigError before anything runs."""
    check(cfg, overwrite, resume)
    if not cfg.sources:
        cfg = sample_sources(cfg)
    inputs = resolve_inputs(cfg)
    out = prepare_output(cfg, overwrite, resume)

    start_ray(verbose)
    check_fits(cfg)
    return pipeline.run(cfg, inputs, out, resume=resume), out.uri


def check_fits(cfg: DatapipeConfig) -> None:
    """On a local Ray (no RAY_ADDRESS, so no autoscaler to add nodes), a stage actor that asks for
    more CPUs than the machine has would wait forever: refuse it."""
    cpus = ray.cluster_resources().get("CPU", 0)
    if "RAY_ADDRESS" not in os.environ and cfg.actor_num_cpus > cpus:
        raise ConfigError(f"actor_num_cpus: {cfg.actor_num_cpus:g} is more than the {cpus:g} CPUs of this Ray; "
                          "no stage actor could start")
