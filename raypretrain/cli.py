"""`raypretrain`: one command over the job entry points.

    raypretrain run                       the whole job on the sample corpus: datapipe → train → eval → sample → report
    raypretrain data --input 'crawl/*.jsonl.zst' --output outputs/web      python -m datapipe
    raypretrain inspect outputs/web --reason c4:curly_bracket --n 5        python -m datapipe.inspect
    raypretrain train --config 124m --set data.shards=outputs/web          python -m pretrain
    raypretrain tune --config debug                                        python -m tune
    raypretrain generate --checkpoint CKPT --prompt "The"                  python -m pretrain.generate
    raypretrain export --checkpoint CKPT --out DIR                         python -m pretrain.export
    raypretrain submit pretrain --config 124m                              python -m cluster.submit
    raypretrain presets                   the shipped presets, one line each (use a bare name: --config debug)
    raypretrain doctor                    is this machine ready? one line per check, exit 1 if something needs fixing
    raypretrain --version

Each subcommand takes exactly the arguments of its `python -m` form; `raypretrain SUBCOMMAND --help` lists them.
"""
from __future__ import annotations

import importlib
import sys
from importlib.metadata import version

import configs

COMMANDS = {  # subcommand → (module with main(argv), what it does)
    "run": ("pretrain.main", "the whole job on the embedded default (same as train with no arguments)"),
    "data": ("datapipe.main", "clean, deduplicate, tokenize and pack a corpus"),
    "inspect": ("datapipe.inspect", "show what a datapipe output dropped and deduplicated, and why"),
    "train": ("pretrain.main", "train a GPT with Ray Train + DeepSpeed"),
    "tune": ("tune.main", "a Ray Tune sweep over pretrain configs"),
    "generate": ("pretrain.generate", "sample text from a checkpoint"),
    "export": ("pretrain.export", "export a checkpoint as a Hugging Face Llama model"),
    "submit": ("cluster.submit", "submit a job to a Ray cluster (prints the plain `ray job submit` form)"),
    "doctor": ("raypretrain.doctor", "check Ray, DeepSpeed, torch, the DeepSpeed CPU op, disk and GPU"),
}


def list_presets() -> int:
    for job in configs.JOBS:
        for name, path in configs.presets(job).items():
            print(f"{job:<9} {name:<10} {configs.describe(path)}")
    return 0


def usage() -> str:
    return __doc__ + "\nsubcommands:\n" + "".join(f"  {name:<9} {what}\n" for name, (_, what) in COMMANDS.items()) \
        + "  presets   list the shipped presets\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    if argv[0] == "--version":
        print(f"raypretrain {version('raypretrain')}")
        return 0
    if argv[0] == "presets":
        return list_presets()
    if argv[0] not in COMMANDS:
        print(f"raypretrain: error: unknown subcommand {argv[0]!r} (choose from {', '.join([*COMMANDS, 'presets'])})", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[argv[0]][0])
    return module.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
