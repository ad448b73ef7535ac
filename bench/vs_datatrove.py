"""Ours against datatrove 0.10.1 on the same generated corpus, the same cores, in the same run.

    python bench/vs_datatrove.py                          # 20,000 docs in 16 files, 2 CPUs each side
    python bench/vs_datatrove.py --docs 100000 --cpus 2 --corpora /tmp/scale-corpora
    python bench/vs_datatrove.py --why 2000               # which filter drops what, each side, no timing

datatrove is installed into its own venv (--venv, created on first use with
`pip install "datatrove[processing]==0.10.1" "spacy>=3.8" orjson`), never into ours, and this
script never runs in CI. Its side is the usual datatrove recipe on a LocalPipelineExecutor with
--cpus workers: JsonlReader -> GopherRepetitionFilter -> GopherQualityFilter -> C4QualityFilter ->
FineWebQualityFilter -> JsonlWriter, then its 4-stage MinHash (signatures, buckets, clusters,
filter) over the filtered documents. Its language filter is left out (it downloads fastText), and
it does not tokenize or pack. Our side is the whole `python -m datapipe` (language ID, the same
filters plus boilerplate, exact and near dedup with exact verification, tokenizer training,
tokenize and pack), as bench/scale.py runs it on a local Ray of --cpus CPUs.

With --why N, nothing is timed: the first N documents go through each side's filters in order in
one process, and the table gives, per filter, how many documents it drops (the first to drop a
document takes it) and its most common reasons, to explain why the two sides keep different shares.

Both sides read a copy of the generated corpus holding only its well-formed records (the bad
records it plants on purpose, which we reject with a reason, stop datatrove's JsonlReader reading
the rest of their file: on the raw corpus it read 4,115 of 20,000 documents). The run stops if
datatrove's reader did not read every document of the copy.

Printed: each side's wall seconds per step, docs/s/core end to end (input docs / wall / cpus, each
side's whole wall including process and Ray start), the documents each kept, and the ratio.
"""
from __future__ import annotations

import argparse
import glob
import inspect
import itertools
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

reader = json.load(open(f"{work}/logs/filters/stats.json"))[0]["stats"]["documents"]["total"]
print("DATATROVE " + json.dumps({"seconds": seconds, "read": reader, "filtered": count(f"{work}/filtered"),
                                 "kept": count(f"{work}/deduped")}))
"""


def well_formed(folder: Path) -> tuple[Path, int, int]:
    """A copy of the corpus in `folder` (beside it, made once) with only its well-formed records: valid
    UTF-8 JSON whose "text" is a non-empty string without lone surrogates (datatrove's JsonlReader
    gives up on the rest of a file at its first invalid byte, so on the raw corpus it reads a fifth
    of the documents; datapipe rejects each such record with a reason). Returns (the copy, its
    documents, its bytes)."""
    out, done = folder.with_name(folder.name + "-valid"), folder.with_name(folder.name + "-valid.done")
    if not done.is_file():
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        for path in sorted(folder.glob("*.jsonl")):
            with open(path, "rb") as src, open(out / path.name, "wb") as dst:
                for line in src:
                    try:
                        text = json.loads(line.decode()).get("text")
                        keep = isinstance(text, str) and bool(text.strip()) and bool(text.encode())
                    except (UnicodeError, ValueError, AttributeError):
                        keep = False
                    if keep:
                        dst.write(line.rstrip(b"\n") + b"\n")
        done.write_text("")
    paths = sorted(out.glob("*.jsonl"))
    docs = sum(sum(1 for _ in open(p, "rb")) for p in paths)
    return out, docs, sum(p.stat().st_size for p in paths)


def first_texts(folder: str, n: int) -> list[str]:
    """The texts of the first n records of a well_formed copy, files in name order."""
    lines = (line for path in sorted(glob.glob(f"{folder}/*.jsonl")) for line in open(path, encoding="utf-8"))
    return [json.loads(line)["text"] for line in itertools.islice(lines, n)]


# Run by the datatrove venv's python: argv = input folder, docs. Prints one JSON line: filter -> reason -> count.
DATATROVE_WHY = r"""
import collections, glob, itertools, json, sys
from datatrove.data import Document
from datatrove.pipeline.filters import (C4QualityFilter, FineWebQualityFilter, GopherQualityFilter,
                                        GopherRepetitionFilter)

folder, n = sys.argv[1], int(sys.argv[2])
chain = [("gopher_repetition", GopherRepetitionFilter()), ("gopher_quality", GopherQualityFilter()),
         ("c4", C4QualityFilter()), ("fineweb", FineWebQualityFilter())]
drops = collections.defaultdict(collections.Counter)
for i, text in enumerate(first_texts(folder, n)):
    doc = Document(text=text, id=str(i))
    for name, f in chain:
        verdict = f.filter(doc)
        ok, reason = verdict if isinstance(verdict, tuple) else (verdict, "")
        if not ok:
            drops[name][reason or "?"] += 1
            break
    else:
        drops["kept"][""] += 1
print("WHY " + json.dumps(drops))
"""


def why(python: Path, folder: str, n: int) -> None:
    """Per filter, the documents each side drops among the first n (see --why)."""
    proc = subprocess.run([str(python), "-c", inspect.getsource(first_texts) + DATATROVE_WHY, folder, str(n)],
                          capture_output=True, text=True, env=dict(os.environ, PYTHONWARNINGS="ignore"))
    line = [x for x in proc.stdout.splitlines() if x.startswith("WHY ")]
    if proc.returncode or not line:
        raise SystemExit(f"datatrove failed:\n{(proc.stdout + proc.stderr)[-4000:]}")
    theirs = json.loads(line[0][4:])
    from collections import Counter, defaultdict

    from datapipe.clean import Cleaner
    from datapipe.config import CleanConfig
    ours: dict[str, Counter] = defaultdict(Counter)
    for r in Cleaner(CleanConfig()).clean_many(first_texts(folder, n)):
        name, _, reason = (r.reason or "kept:").partition(":")
        ours[name][reason] += 1

    def cell(counts: dict | None) -> str:
        if not counts:
            return "0"
        top = ", ".join(f"{r} {c:,}" for r, c in sorted(counts.items(), key=lambda x: -x[1])[:3] if r)
        return f"{sum(counts.values()):,}" + (f" ({top})" if top else "")

    print(f"first {n:,} documents with a text; each filter takes the documents no earlier one dropped")
    print("| filter | datatrove drops (top reasons) | ours drops (top reasons) |\n|---|---|---|")
    for name in dict.fromkeys([*ours, *theirs]):
        if name != "kept":
            print(f"| {name} | {cell(theirs.get(name))} | {cell(ours.get(name))} |")
    print(f"| **kept** | **{cell(theirs.get('kept'))}** | **{cell(ours.get('kept'))}** |")


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
    p.add_argument("--why", type=int, metavar="N", help="no timing: which filter drops what among the first N docs")
    args = p.parse_args(argv)
    python = datatrove_python(args.venv)
    if args.why:
        raw, _ = make_corpus((args.corpora or Path(tempfile.mkdtemp(prefix="vsdt-"))) / f"in-{args.docs}-{args.files}",
                             args.docs, args.files)
        why(python, str(well_formed(Path(raw).parent if args.files == 1 else Path(raw))[0]), args.why)
        return 0
    root = Path(tempfile.mkdtemp(prefix="vsdt-"))
    try:
        corpora = args.corpora or root
        raw, _ = make_corpus(corpora / f"in-{args.docs}-{args.files}", args.docs, args.files)
        valid, n, nbytes = well_formed(Path(raw).parent if args.files == 1 else Path(raw))
        folder = str(valid)
        print(f"load average {os.getloadavg()[0]:.1f}; {n:,} well-formed docs of {args.docs:,} generated, "
              f"{nbytes / 2**20:,.0f} MiB in {args.files} file(s); {args.cpus} CPUs each side", flush=True)
        theirs = run_datatrove(python, folder, root / "datatrove", args.cpus, args.files)
        print(f"  datatrove: {theirs['wall']:.0f} s, load average {os.getloadavg()[0]:.1f}", flush=True)
        if theirs["read"] != n:
            raise SystemExit(f"datatrove read {theirs['read']:,} of the {n:,} documents: not comparable")
        ours = run_datapipe(str(next(valid.glob("*.jsonl"))) if args.files == 1 else folder, root / "ours",
                            args.cpus, [])
        print(f"  ours: {ours['wall']:.0f} s, load average {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    cpus = args.cpus
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
