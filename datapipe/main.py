"""`python -m datapipe`: raw text in, packed token shards and a full account out.

    python -m datapipe                                   # the generated sample corpus
    python -m datapipe --input web=data/web/*.jsonl.zst --input books=s3://b/books/ \\
        --output out/ --config configs/datapipe/web.yaml --set clean.gopher_quality.min_doc_words=30
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import sys

from datapipe.config import DatapipeConfig, SourceConfig
from datapipe.job import check, run
from datapipe.stats import summary
from raypretrain.config import ConfigError, load
from raypretrain.console import setup

logger = logging.getLogger("datapipe")


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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup(args.verbose)
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
    logger.info(summary(stats, uri))
    return 0
