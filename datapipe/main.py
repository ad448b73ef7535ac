"""`python -m datapipe`: raw text in, packed token shards and a full account out.

    python -m datapipe                                   # the generated sample corpus
    python -m datapipe --input web=data/web/*.jsonl.zst --input books=s3://b/books/ \\
        --output out/ --config configs/datapipe/web.yaml --set clean.gopher_quality.min_doc_words=30
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

from datapipe import io
from datapipe.config import DatapipeConfig, SourceConfig
from datapipe.stats import summary
from datapipe.typedconfig import ConfigError, load

SAMPLE_DIR = Path("outputs/sample")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m datapipe", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="a YAML file, or the bare name of a shipped preset (sample, web; `raypretrain presets`)")
    p.add_argument("--input", action="append", default=[], metavar="[NAME=]PATH",
                   help="input path, glob or URI; NAME= puts it in a named source (repeatable)")
    p.add_argument("--output", help="output folder or URI (default: outputs/datapipe)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override a config field, e.g. --set pack.seq_len=1024 (repeatable)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run into the same output: finished tasks are not redone")
    p.add_argument("--verbose", action="store_true", help="show Ray's and Ray Data's INFO logs")
    p.add_argument("--check", action="store_true",
                   help="check the config, the inputs and the output folder, print 'config OK' and stop; starts nothing")
    return p.parse_args(argv)


def build_config(args: argparse.Namespace) -> DatapipeConfig:
    cfg = load(DatapipeConfig, args.config, args.overrides, job="datapipe")
    if args.input:
        named = {s.name: s for s in cfg.sources}
        paths: dict[str, list[str]] = {}
        for item in args.input:
            name, sep, path = item.partition("=")
            if not sep or "/" in name or ":" in name:
                name, path = "main", item
            paths.setdefault(name, []).append(path)
        sources = tuple(dataclasses.replace(named.get(n, SourceConfig(name=n)), paths=tuple(p))
                        for n, p in paths.items())
        cfg = dataclasses.replace(cfg, sources=sources)
    if args.output:
        cfg = dataclasses.replace(cfg, output=args.output)
    return cfg


def resolve_inputs(cfg: DatapipeConfig) -> list[tuple[io.Location, str]]:
    """Every input file with its source name; a path that matches nothing is an error."""
    files = []
    for source in cfg.sources:
        for pattern in source.paths:
            try:
                found = io.expand(pattern)
            except OSError as e:  # an object store that cannot be reached or listed
                raise ConfigError(f"input {pattern}: cannot be listed ({str(e).splitlines()[0]})") from None
            if not found:
                raise ConfigError(f"input not found: {pattern} (source {source.name})")
            files += [(loc, source.name) for loc in found]
    return files


def check_paths(cfg: DatapipeConfig) -> None:
    """Files named in the config must exist before any work starts."""
    for key, path in (("tokenize.tokenizer_path", cfg.tokenize.tokenizer_path),
                      ("clean.lang_id.fasttext_model", cfg.clean.lang_id.fasttext_model)):
        if path and not io.exists(io.resolve(path)):
            raise ConfigError(f"{key}: file not found: {path}")


OUTPUT_MARKERS = ("manifest.json", "_work/run.json")
"""A folder holding one of these was written by datapipe, so --overwrite may replace it."""


def check_output(cfg: DatapipeConfig, overwrite: bool, resume: bool = False) -> io.Location:
    """The output folder, checked without touching it: never one that overlaps an input, and
    --overwrite only replaces an empty folder or an earlier datapipe output."""
    out = io.resolve(cfg.output)
    if resume and overwrite:
        raise ConfigError("--resume and --overwrite contradict each other; pass one")
    io.refuse_overlap(cfg.output, [p for s in cfg.sources for p in s.paths], "--output")
    if io.exists(out) and io.list_files(out) and not resume:
        if not overwrite:
            raise ConfigError(f"output {cfg.output} already exists; pass --overwrite to replace it "
                              "or choose another --output")
        io.check_replaceable(out, OUTPUT_MARKERS, "--overwrite: output")
    return out


def prepare_output(cfg: DatapipeConfig, overwrite: bool, resume: bool = False) -> io.Location:
    """check_output, then make the folder ready: an earlier output removed with --overwrite,
    hidden .tmp-* files a crashed run left swept away."""
    out = check_output(cfg, overwrite, resume)
    if overwrite and io.exists(out):
        io.remove_tree(out)
    io.makedirs(out)
    io.sweep_tmp(out)
    return out


def check(cfg: DatapipeConfig, overwrite: bool = False, resume: bool = False) -> list[tuple[io.Location, str]]:
    """Everything that can be checked before work starts: the inputs (the sample corpus counts as
    present), files the config names, and the output folder. Returns the input files."""
    inputs = resolve_inputs(cfg) if cfg.sources else []
    check_paths(cfg)
    out = check_output(cfg, overwrite, resume)
    if resume and inputs:
        from datapipe.pipeline import check_resume

        check_resume(cfg, inputs, out)
    return inputs


def sample_sources(cfg: DatapipeConfig) -> DatapipeConfig:
    """With no sources, generate (once) the seeded sample corpus and read that."""
    from datapipe.sample import write_corpus

    path = SAMPLE_DIR / f"corpus-{cfg.sample_docs}.jsonl"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_corpus(path, cfg.sample_docs, seed=0)
        print(f"[datapipe] generated sample corpus {path} ({cfg.sample_docs:,} docs)")
    return dataclasses.replace(cfg, sources=(SourceConfig(name="sample", paths=(str(path),)),))


def start_ray(verbose: bool = False) -> None:
    """Join the cluster in RAY_ADDRESS, or start a local Ray; Ray's and Ray Data's INFO logs
    (dataset plans, "execution finished") on the console only when verbose."""
    import ray

    if not ray.is_initialized():
        ray.init(logging_level="INFO" if verbose else "WARNING")
    if "RAY_DATA_LOGGING_CONFIG" not in os.environ:
        # Ray Data re-applies its logging config at every dataset execution, so setting a level
        # once does not last. Its console handler's level lives in the default config dict it
        # re-reads (the file log, ray-data.log, keeps INFO and DEBUG).
        from ray.data._internal import logging as data_logging

        data_logging.DEFAULT_CONFIG["handlers"]["console"]["level"] = "INFO" if verbose else "WARNING"
        data_logging.configure_logging()


def run(cfg: DatapipeConfig, overwrite: bool = False, resume: bool = False, verbose: bool = False) -> tuple[dict, str]:
    """(stats, output URI): run the pipeline for a loaded config, on the Ray in RAY_ADDRESS or a
    local one started here. Bad input raises ConfigError before anything runs."""
    check(cfg, overwrite, resume)
    if not cfg.sources:
        cfg = sample_sources(cfg)
    inputs = resolve_inputs(cfg)
    out = prepare_output(cfg, overwrite, resume)

    from datapipe import pipeline

    start_ray(verbose)
    check_fits(cfg)
    return pipeline.run(cfg, inputs, out, resume=resume), out.uri


def check_fits(cfg: DatapipeConfig) -> None:
    """On a local Ray (no RAY_ADDRESS, so no autoscaler to add nodes), a stage actor that asks for
    more CPUs than the machine has would wait forever: refuse it."""
    import ray

    cpus = ray.cluster_resources().get("CPU", 0)
    if "RAY_ADDRESS" not in os.environ and cfg.actor_num_cpus > cpus:
        raise ConfigError(f"actor_num_cpus: {cfg.actor_num_cpus:g} is more than the {cpus:g} CPUs of this Ray; "
                          "no stage actor could start")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        cfg = build_config(args)
        if args.check:
            check(cfg, args.overwrite, args.resume)
            print("config OK")
            return 0
        stats, uri = run(cfg, args.overwrite, args.resume, args.verbose)
    except ConfigError as e:  # a bad config or path, or e.g. a tokenizer.json without our special tokens
        print(f"datapipe: error: {e}", file=sys.stderr)
        return 2
    print(summary(stats, uri))
    return 0
