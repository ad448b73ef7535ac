"""Near-duplicate removal benchmarks, in one run: MinHash signatures on one core
(datasketch's MinHash.bulk against datapipe.minhash), then the whole batch near-dedup
stage on one core with its peak memory and a recall/precision table
(bench/neardup_stage_bench.py), optionally `python -m datapipe` on a local Ray.

    python bench/minhash_bench.py                       # 20,000 docs for signatures, 200,000 for the stage
    python bench/minhash_bench.py --docs 5000 --num-perm 256 --repeat 7 --stage-docs 50000
    python bench/minhash_bench.py --stage-repeat 3 --ray-docs 200000   # also the Ray pipeline
    python bench/minhash_bench.py --stage-docs 0        # signatures only

Signatures. Documents are random words from a seeded 20k-word synthetic vocabulary. Their word
5-shingles (`datapipe.minhash.shingles`, the bytes datasketch is fed) are built once,
outside the timings that start from shingles. Each timed step turns every document into
a signature, either from the pre-built shingles or from the text (shingling included):

  datasketch   `MinHash.bulk` (sha1 per shingle, then a numpy permutation per document)
  ours sha1    `hash_shingles` / `shingle_hashes(hash="sha1")` + `signatures`: the same
               signatures as datasketch, bit for bit
  ours fast    `hash_shingles` / `shingle_hashes` (default hash="fast") + `signatures`:
               the same signatures as datasketch given hashfunc=`fast_hash32`

The machine may be shared, so the steps run interleaved, round after round, and each
reports its best round. The script checks the signatures against datasketch on a sample
(plain MinHash for sha1, MinHash(hashfunc=fast_hash32) for fast) and prints a markdown
table of docs/s with ratios to datasketch from shingles (the issue's baseline) and to
datasketch from text (its shingling included: the fair end-to-end comparison), and this
process's peak memory.

Stage, memory, quality: see bench/neardup_stage_bench.py. The stage runs in a child
process pinned to the same one core (its memory is measured inside it), on a corpus of
~2 KB documents with near copies planted at Jaccard 0.5-0.9.
"""
from __future__ import annotations

import os

# One core: keep any BLAS/OpenMP pools at one thread before numpy loads; main() pins the
# process (after noting every CPU it may use, for the optional Ray run).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from datasketch import MinHash  # noqa: E402

from datapipe import minhash as mh  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import neardup_stage_bench as stage_bench  # noqa: E402
from memory import peak_bytes  # noqa: E402


def synthetic_docs(n_docs: int, doc_chars: int = 2000, vocab_size: int = 20_000, seed: int = 0) -> list[str]:
    """Random words (3-10 letters) from a fixed vocabulary, about `doc_chars` per doc."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    vocab = np.array(["".join(rng.choice(letters, rng.integers(3, 11))) for _ in range(vocab_size)])
    words_per_doc = doc_chars // (1 + 6.5)  # mean word length 6.5 plus a space
    return [" ".join(vocab[rng.integers(0, vocab_size, int(words_per_doc))]) for _ in range(n_docs)]


def interleaved(steps: dict, repeat: int) -> tuple[dict, dict]:
    """({name: result}, {name: best seconds}) running every step once per round, `repeat`
    rounds, so that a noisy neighbour slows all steps alike rather than one; the minimum
    over rounds filters the noise out."""
    results, best = {}, {name: float("inf") for name in steps}
    for _ in range(repeat):
        for name, fn in steps.items():
            start = time.perf_counter()
            results[name] = fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return results, best


def check_signatures(docs: list[str], shingle_sets: list[list[bytes]], results: dict, num_perm: int,
                     check: int) -> None:
    """Raise unless every signature of a sample agrees with datasketch's."""
    for i in np.linspace(0, len(docs) - 1, min(check, len(docs))).astype(int):
        ref = results["ds_shingles"][i].hashvalues
        for name in ("ds_text", "sha1_shingles", "sha1_text"):
            got = results[name][i].hashvalues if name == "ds_text" else results[name][i]
            if not np.array_equal(ref, got):
                raise AssertionError(f"doc {i}: {name} signature differs from datasketch")
        ref_fast = MinHash(num_perm=num_perm, hashfunc=mh.fast_hash32)
        ref_fast.update_batch(shingle_sets[i])
        for name in ("fast_shingles", "fast_text"):
            if not np.array_equal(ref_fast.hashvalues, results[name][i]):
                raise AssertionError(f"doc {i}: {name} signature differs from datasketch(hashfunc=fast_hash32)")


def signature_bench(docs: list[str], num_perm: int = 128, repeat: int = 3, check: int = 200) -> dict:
    """Best seconds for each step over the docs, with "docs" and "shingles" counts.

    Steps: ds_shingles / ds_text (datasketch from shingles / from text), sha1_* and fast_*
    (ours from shingles / from text), signatures (ours, hashes given), and the hash steps
    alone: fast_hash / sha1_hash (text -> hashes) and shingling (text -> shingle bytes).
    Raises if a sample of signatures disagrees with datasketch.
    """
    shingle_sets = [mh.shingles(d) for d in docs]
    fast_hashes = [mh.shingle_hashes(d) for d in docs]
    steps = {
        "ds_shingles": lambda: MinHash.bulk(shingle_sets, num_perm=num_perm),
        "ds_text": lambda: MinHash.bulk([mh.shingles(d) for d in docs], num_perm=num_perm),
        "sha1_shingles": lambda: mh.signatures([mh.hash_shingles(s, hash="sha1") for s in shingle_sets], num_perm),
        "sha1_text": lambda: mh.signatures([mh.shingle_hashes(d, hash="sha1") for d in docs], num_perm),
        "fast_shingles": lambda: mh.signatures([mh.hash_shingles(s) for s in shingle_sets], num_perm),
        "fast_text": lambda: mh.signatures([mh.shingle_hashes(d) for d in docs], num_perm),
        "signatures": lambda: mh.signatures(fast_hashes, num_perm),
        "fast_hash": lambda: [mh.shingle_hashes(d) for d in docs],
        "sha1_hash": lambda: [mh.shingle_hashes(d, hash="sha1") for d in docs],
        "shingling": lambda: [mh.shingles(d) for d in docs],
    }
    results, best = interleaved(steps, repeat)
    check_signatures(docs, shingle_sets, results, num_perm, check)
    return {"docs": len(docs), "shingles": sum(map(len, shingle_sets)), **best}


ROWS = [  # (step, label, input)
    ("ds_shingles", "datasketch `MinHash.bulk` (sha1 + permute)", "shingles"),
    ("ds_text", "datasketch `shingles` + `MinHash.bulk`", "text"),
    ("sha1_shingles", "ours sha1: `hash_shingles` + `signatures`", "shingles"),
    ("sha1_text", "ours sha1: `shingle_hashes(hash=\"sha1\")` + `signatures`", "text"),
    ("fast_shingles", "ours fast: `hash_shingles` + `signatures`", "shingles"),
    ("fast_text", "**ours fast: `shingle_hashes` + `signatures`**", "text"),
    ("signatures", "ours `signatures` only", "hashes"),
    ("fast_hash", "ours `shingle_hashes` only, fast", "text"),
    ("sha1_hash", "ours `shingle_hashes` only, sha1", "text"),
    ("shingling", "`shingles` only (datasketch's input)", "text"),
]


def table(r: dict) -> str:
    lines = ["| step | from | docs/s | us/doc | us/shingle | vs datasketch from shingles | vs datasketch from text |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for key, name, source in ROWS:
        seconds = r[key]
        lines.append(f"| {name} | {source} | {r['docs'] / seconds:,.0f} | {seconds / r['docs'] * 1e6:.1f} "
                     f"| {seconds / r['shingles'] * 1e6:.3f} | {r['ds_shingles'] / seconds:.1f}x "
                     f"| {r['ds_text'] / seconds:.1f}x |")
    return "\n".join(lines)


def headline(r: dict, target: float = 3.0) -> str:
    ratios = [("ours fast from text vs datasketch MinHash.bulk from pre-built shingles", r["ds_shingles"] / r["fast_text"]),
              ("ours fast from text vs datasketch from text (shingling included)", r["ds_text"] / r["fast_text"])]
    lines = [f"{name}: {ratio:.2f}x (target >= {target:g}x: {'met' if ratio >= target else 'MISSED'})"
             for name, ratio in ratios]
    lines.append(f"(for reference, ours sha1 from text vs datasketch from text: {r['ds_text'] / r['sha1_text']:.2f}x)")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=20_000, help="documents for signatures (default 20000; 0 skips)")
    ap.add_argument("--doc-chars", type=int, default=2000, help="approximate characters per document")
    ap.add_argument("--num-perm", type=int, default=128, help="permutations per signature")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved rounds; each step reports its best")
    stage_bench.add_args(ap)
    args = ap.parse_args()
    if hasattr(os, "sched_getaffinity"):
        all_cpus = sorted(os.sched_getaffinity(0))
    else:
        all_cpus = list(range(os.cpu_count() or 1))
    core = min(all_cpus)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})
    if args.docs:
        docs = synthetic_docs(args.docs, args.doc_chars)
        load0 = os.getloadavg()[0]
        r = signature_bench(docs, args.num_perm, args.repeat)
        print(f"{r['docs']:,} docs, {r['shingles']:,} word-5 shingles, num_perm={args.num_perm}, 1 core, "
              f"best of {args.repeat} interleaved rounds; signatures identical to datasketch on a sample; "
              f"load average {load0:.1f} before, {os.getloadavg()[0]:.1f} after\n")
        print(table(r))
        print()
        print(headline(r))
        print(f"peak memory, signature process (VmHWM inside it): {stage_bench.mib(peak_bytes())} MiB "
              f"({args.docs:,} docs, their pre-built shingles and every step's output held at once)")
        print(flush=True)
    stage_bench.run_from_args(args, all_cpus, core=core)


if __name__ == "__main__":
    main()
