"""`raypretrain`: one command over the job entry points.

    raypretrain run                       the whole job on the sample corpus: datapipe → train → eval → sample → report
    raypretrain data --input 'crawl/*.jsonl.zst' --output outputs/web      python -m datapipe
    raypretrain train --config configs/pretrain/124m.yaml --set data.shards=outputs/web    python -m pretrain
    raypretrain tune --config configs/tune/debug.yaml                      python -m tune
    raypretrain generate CHECKPOINT --prompt "The"                         python -m pretrain.generate
    raypretrain export CHECKPOINT OUT_DIR                                  python -m pretrain.export
    raypretrain submit pretrain --config configs/pretrain/124m.yaml        python -m cluster.submit

Each subcommand takes exactly the arguments of its `python -m` form; `raypretrain SUBCOMMAND --help` lists them.
"""
from __future__ import annotations

import importlib
import sys

COMMANDS = {  # subcommand → (module with main(argv), what it does)
    "run": ("pretrain.main", "the whole job on the embedded default (same as train with no arguments)"),
    "data": ("datapipe.main", "clean, deduplicate, tokenize and pack a corpus"),
    "train": ("pretrain.main", "train a GPT with Ray Train + DeepSpeed"),
    "tune": ("tune.main", "a Ray Tune sweep over pretrain configs"),
    "generate": ("pretrain.generate", "sample text from a checkpoint"),
    "export": ("pretrain.export", "export a checkpoint as a Hugging Face Llama model"),
    "submit": ("cluster.submit", "submit a job to a Ray cluster (prints the plain `ray job submit` form)"),
}


def usage() -> str:
    return __doc__ + "\nsubcommands:\n" + "".join(f"  {name:<9} {what}\n" for name, (_, what) in COMMANDS.items())


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    if argv[0] not in COMMANDS:
        print(f"raypretrain: error: unknown subcommand {argv[0]!r} (choose from {', '.join(COMMANDS)})", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[argv[0]][0])
    return module.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
