"""Ours against datatrove 0.10.1 on the same generated corpus, the same cores, in the same run.

    python bench/vs_datatrove.py                          # 20,000 docs in 16 files, 2 CPUs each side
    python bench/vs_datatrove.py --docs 100000 --cpus 2 --corpora /tmp/scale-corpora

datatrove is installed into its own venv (--venv, created on first use with
`pip install "datatrove[processing]==0.10.1" "spacy>=3.8" orjson`), never into ours, and this
script never runs in CI. Its side is the usual datatrove recipe on a LocalPipelineExecutor with
--cpus workers: JsonlReader -> GopherRepetitionFilter -> GopherQualityFilter -> C4QualityFilter ->
FineWebQualityFilter -> JsonlWriter, then its 4-stage MinHash (signatures, buckets, clusters,
filter) over the filtered documents. Its language filter is left out (it downloads fastText), and
it does not tokenize or pack. Our side is the whole `python -m datapipe` (language ID, the same
filters plus boilerplate, exact and near dedup with exact verification, tokenizer training,
tokenize and pack), as bench/scale.py runs it on a local Ray of --cpus CPUs.

Printed: each side's wall seconds per step, docs/s/core end to end (input docs / wall / cpus, each
side's whole wall including process and Ray start), the documents each kept, and the ratio.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from scale import make_corpus, run_datapipe  # noqa: E402 (bench/ is not a package)

DATATROVE = ('datatrove[processing]==0.10.1', 'spacy>=3.8', 'orjson')

# Run by the datatrove venv's python: argv = input folder, work folder, cpus. Prints one JSON line.
DATATROVE_SIDE = r"""
import json, sys, time
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter
from datatrove.pipeline.filters import (C4QualityFilter, FineWebQualityFilter, GopherQualityFilter,
                                        GopherRepetitionFilter)
from datatrove.pipeline.dedup import (MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter,
                                      MinhashDedupSignature)
from datatrove.pipeline.dedup.minhash import MinhashConfig

src, work, cpus, files = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
cfg = MinhashConfig()   # datatrove's defaults: 5-grams, 14 buckets x 8 hashes


def text_only(self, data, path, id_in_file):
    # The corpus holds malformed records on purpose (we reject them with a reason); datatrove's default
    # adapter passes a non-string "text" through and its filters crash on it, so such records become
    # empty documents, which its reader skips.
    text = data.get("text")
    return {"text": text if isinstance(text, str) else "", "id": f"{path}/{id_in_file}", "metadata": {}}


steps = {
    "filters": ([JsonlReader(src, adapter=text_only), GopherRepetitionFilter(), GopherQualityFilter(), C4QualityFilter(),
                 FineWebQualityFilter(), JsonlWriter(f"{work}/filtered")], files),
    "minhash signatures": ([JsonlReader(f"{work}/filtered"),
                            MinhashDedupSignature(output_folder=f"{work}/sigs", config=cfg)], files),
    "minhash buckets": ([MinhashDedupBuckets(input_folder=f"{work}/sigs", output_folder=f"{work}/buckets",
                                             config=cfg)], cfg.num_buckets),
    "minhash clusters": ([MinhashDedupCluster(input_folder=f"{work}/buckets", output_folder=f"{work}/remove",
                                              config=cfg)], 1),
    "minhash filter": ([JsonlReader(f"{work}/filtered"), MinhashDedupFilter(input_folder=f"{work}/remove"),
                        JsonlWriter(f"{work}/deduped")], files),
}
seconds = {}
for name, (pipeline, tasks) in steps.items():
    start = time.perf_counter()
    LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=min(cpus, tasks),
                          logging_dir=f"{work}/logs/{name.replace(' ', '_')}").run()
    seconds[name] = time.perf_counter() - start

def count(folder):
    import glob, gzip
    return sum(sum(1 for _ in gzip.open(p, "rt")) for p in glob.glob(f"{folder}/*.jsonl.gz"))

print("DATATROVE " + json.dumps({"seconds": seconds, "filtered": count(f"{work}/filtered"),
                                 "kept": count(f"{work}/deduped")}))
"""


def datatrove_python(venv: Path) -> Path:
    """The datatrove venv's python, creating the venv and installing datatrove on first use."""
    python = venv / "bin" / "python"
    if not (venv / ".installed").is_file():
        print(f"installing datatrove into {venv} (once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *DATATROVE], check=True)
        (venv / ".installed").write_text(" ".join(DATATROVE) + "\n")
    return python


def run_datatrove(python: Path, folder: str, work: Path, cpus: int, files: int) -> dict:
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    start = time.perf_counter()
    proc = subprocess.run([str(python), "-c", DATATROVE_SIDE, folder, str(work), str(cpus), str(files)],
                          env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    line = [x for x in proc.stdout.splitlines() if x.startswith("DATATROVE ")]
    if proc.returncode or not line:
        raise SystemExit(f"datatrove failed:\n{(proc.stdout + proc.stderr)[-4000:]}")
    return dict(json.loads(line[0].split(" ", 1)[1]), wall=wall)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--docs", type=int, default=20_000, help="corpus size (default 20000)")
    p.add_argument("--files", type=int, default=16, help="files the corpus is dealt into (default 16)")
    p.add_argument("--cpus", type=int, default=os.cpu_count() or 2, help="CPUs for each side")
    p.add_argument("--corpora", type=Path, help="keep the generated corpus here (bench/scale.py's layout)")
    p.add_argument("--venv", type=Path, default=Path.home() / ".cache" / "raypretrain-bench" / "datatrove-venv",
                   help="datatrove's own venv (created on first use)")
    args = p.parse_args(argv)
    python = datatrove_python(args.venv)
    root = Path(tempfile.mkdtemp(prefix="vsdt-"))
    try:
        corpora = args.corpora or root
        folder, nbytes = make_corpus(corpora / f"in-{args.docs}-{args.files}", args.docs, args.files)
        if args.files == 1:
            folder = str(Path(folder).parent)
        print(f"load average {os.getloadavg()[0]:.1f}; {args.docs:,} docs, {nbytes / 2**20:,.0f} MiB in "
              f"{args.files} file(s); {args.cpus} CPUs each side", flush=True)
        theirs = run_datatrove(python, folder, root / "datatrove", args.cpus, args.files)
        print(f"  datatrove: {theirs['wall']:.0f} s, load average {os.getloadavg()[0]:.1f}", flush=True)
        ours = run_datapipe(folder, root / "ours", args.cpus, [])
        print(f"  ours: {ours['wall']:.0f} s, load average {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    n, cpus = args.docs, args.cpus
    rate_theirs, rate_ours = n / theirs["wall"] / cpus, n / ours["wall"] / cpus
    print("\n| side | step | wall s | docs/s/core |\n|---|---|---:|---:|")
    for step, sec in theirs["seconds"].items():
        print(f"| datatrove | {step} | {sec:.1f} | {n / sec / cpus:,.0f} |")
    print(f"| **datatrove** | **end to end** (kept {theirs['kept']:,}) | **{theirs['wall']:.1f}** | **{rate_theirs:,.0f}** |")
    for step, sec in ours["stats"]["stage_seconds"].items():
        print(f"| ours | {step} | {sec:.1f} | {n / sec / cpus:,.0f} |")
    print(f"| **ours** | **end to end** (kept {ours['stats']['kept_docs']:,}) | **{ours['wall']:.1f}** | **{rate_ours:,.0f}** |")
    print(f"\nours / datatrove, docs/s/core end to end: {rate_ours / rate_theirs:.2f}x "
          f"(ours with language ID, boilerplate, exact dedup, tokenizer training, tokenize and pack; theirs without)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
