"""The batch near-dedup stage end to end on one core, its peak memory, and its recall/precision.

    python bench/neardup_stage_bench.py                          # 200,000 docs of ~2 KB
    python bench/neardup_stage_bench.py --stage-docs 50000 --stage-repeat 3
    python bench/neardup_stage_bench.py --ray-docs 200000        # also `python -m datapipe` on a local Ray

bench/minhash_bench.py runs this after its signature benchmark (same flags), so one run
measures everything; this file also runs on its own.

Corpus (bench/planted_corpus.py): random-word documents of ~2 KB (the signature benchmark's 20k-word vocabulary),
about 10% of them planted near copies of another document at word-5 Jaccard 0.5, 0.6,
0.7, 0.8 and 0.9 (equal numbers per level), and 2% in clusters of an original plus three
copies at J 0.9 (so connected components join more than pairs). A copy replaces runs of
consecutive words, placed apart and inside the document, so that exactly
A = round(S (1 - J) / (1 + J)) of its S shingles change; the true Jaccard of every pair is
then measured with tests/datapipe/neardup_corpus.py's `jaccard` (an independent shingler).
Everything else is unrelated (shares no 5-gram). Doc ids are shuffled, so the kept member
of a pair is the original or the copy alike.

Stage (one process pinned to one core, default NearDedupConfig: 256 perms, threshold 0.8):
documents go to dedup buckets as ingest routes them (`bucket_of(text_hash)`, bucket count
from input size as the pipeline picks it, partitions = buckets), then the stage's own
functions run in order and each part is timed:

  signatures            doc_signatures per bucket (shingle hashes + MinHash)      [Dedup]
  signature table       signature_table per bucket (kept for verification)        [Dedup]
  band rows + partition band_rows per bucket (band keys, rows split by key)       [Dedup]
  candidate edges       candidate_edges per partition                             [NearCandidates]
  candidate signatures  what verification needs of documents in any edge, per     [CandidateSignatures]
                        bucket: their shingle sets (verify: exact, the default; from
                        their texts) or their signatures (verify: estimate)
  verify                verify_edges on all edges (exact Jaccard >= threshold)     [VerifyEdges, per bucket]
  connected components  clusters (keepers in doc_id order, no chaining)            [near_clusters]

Parquet reads and writes between tasks and Ray's scheduling are not included (the
optional --ray-docs run includes them); what the pipeline writes between tasks
(signature tables, band rows, edges) stays in memory here. The first three parts run
once per bucket, as a Dedup task does. Each part reports its wall time summed over a
round, best of --stage-repeat rounds, and that round's CPU time; docs/s/core = docs /
(sum of best walls) on the one pinned core.

Peak memory is measured inside the stage process: VmHWM from /proc/self/status, reset
(clear_refs) at the start of every run of a part. "peak RSS" is the process's peak during
the part (corpus and earlier parts' outputs included); "part's own peak" is the most one
run of it (one bucket for the first three) rose above the RSS it started at, which is
what the part needs beyond its input.

Quality, on the first round's output: per planted level, the share of pairs that became
a candidate (LSH), passed verification, and ended in one cluster (detected = one of them
removed as the other's duplicate), against the S-curve P(candidate), the chance the check
passes (verify: exact, the share of the level's pairs at true J >= threshold; estimate, the
binomial P(estimate >= threshold)) and the probability of both together; precision over the removed
set, each removed document against the one it is a duplicate of (true J >= threshold).
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from memory import peak_bytes, reset_peak, rss_bytes  # noqa: E402 (bench/ is not a package)
from neardup_ray_run import ray_report, run_ray  # noqa: E402
from planted_corpus import doc_id, id_numbers, planted_corpus  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # for tests.datapipe.neardup_corpus

PARTS = ("signatures", "signature table", "band rows + partition", "candidate edges", "candidate signatures",
         "verify", "connected components")


class Timer:
    """Per part: its wall and CPU time summed over a round (a part may run once per bucket),
    the best round's; and, in the first round, the peak RSS inside any one run of the part
    and the most any one run added over the RSS it started at."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.peak: dict[str, int] = {}
        self.added: dict[str, int] = {}
        self.process_peak = peak_bytes()  # max over everything, since resets hide earlier peaks
        self.resets = True
        self.rounds = 0
        self._wall: dict[str, float] = defaultdict(float)
        self._cpu: dict[str, float] = defaultdict(float)

    @contextmanager
    def __call__(self, name: str):
        self.process_peak = max(self.process_peak, peak_bytes())
        self.resets = reset_peak() and self.resets
        rss0 = rss_bytes()
        w, c = time.perf_counter(), time.process_time()
        yield
        self._wall[name] += time.perf_counter() - w
        self._cpu[name] += time.process_time() - c
        peak = peak_bytes()
        self.process_peak = max(self.process_peak, peak)
        if self.rounds == 0:
            self.peak[name] = max(self.peak.get(name, 0), peak)
            self.added[name] = max(self.added.get(name, 0), peak - rss0)

    def end_round(self) -> None:
        for name, wall in self._wall.items():
            if name not in self.wall or wall < self.wall[name]:
                self.wall[name], self.cpu[name] = wall, self._cpu[name]
        self._wall.clear()
        self._cpu.clear()
        self.rounds += 1


# --- the stage ---------------------------------------------------------------------------

def default_buckets(input_bytes: int) -> int:
    """datapipe.pipeline.num_buckets with the default config (not imported: it loads Ray)."""
    from datapipe.config import DedupConfig

    return max(4, math.ceil(input_bytes / DedupConfig().bucket_target_bytes))


def stage_once(buckets: dict, cfg, partitions: int, t: Timer) -> tuple:
    """One pass of the batch near-dedup stage's functions; returns (candidate edges,
    verified edges, removed members) as pyarrow tables. What the pipeline writes to
    parquet between tasks (signature tables, band rows, edges) stays in memory here."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from datapipe.neardup import (band_rows, candidate_edges, candidate_sets, clusters, doc_signatures,
                                  signature_table, verify_edges)

    sig_tables = {}
    by_part: dict[int, list] = defaultdict(list)
    for b, (ids, src, texts) in buckets.items():  # as a Dedup task does, one bucket at a time
        with t("signatures"):
            sigs = doc_signatures(texts, cfg)
        with t("signature table"):  # Dedup writes it only for verify: estimate
            if cfg.verify == "estimate":
                sig_tables[b] = signature_table(ids, sigs)
        with t("band rows + partition"):
            for p, rows in band_rows(ids, src, sigs, b, cfg, partitions).items():
                by_part[p].append(rows)
        del sigs
    with t("candidate edges"):
        edges = [candidate_edges(pa.concat_tables(by_part[p]), pairwise=bool(cfg.verify)) for p in sorted(by_part)]
        edges = [e for e in edges if e.num_rows]
    del by_part
    with t("candidate signatures"):  # as CandidateSignatures does, bucket by bucket
        csigs = []
        for b in buckets:
            wanted: set[str] = set()
            for e in edges:
                for side in ("a", "b"):
                    wanted.update(e.column(side).filter(pc.equal(e.column(f"{side}_bucket"), b)).to_pylist())
            if wanted and cfg.verify == "estimate":
                s = sig_tables[b]
                csigs.append(s.filter(pc.is_in(s.column("doc_id"), pa.array(sorted(wanted), pa.string()))))
            elif wanted:  # as CandidateSignatures does for verify: exact, from the bucket's texts
                ids, _, texts = buckets[b]
                hit = pc.is_in(ids, pa.array(sorted(wanted), pa.string())).to_numpy(zero_copy_only=False)
                csigs.append(candidate_sets(ids.filter(pa.array(hit)),
                                            [x for x, h in zip(texts, hit.tolist()) if h], cfg))
    del sig_tables
    with t("verify"):
        all_edges = pa.concat_tables(edges)
        verified = verify_edges(all_edges, pa.concat_tables(csigs), cfg.threshold, how=cfg.verify)
    with t("connected components"):
        members = clusters(verified)
    return all_edges, verified, members


def model_rates(j: float, bands: int, rows: int, num_perm: int, threshold: float) -> tuple[float, float, float]:
    """(P(candidate), P(verified), P(both)) for a pair at Jaccard j under ideal MinHash, where
    each permutation agrees with probability j independently, so k ~ Binomial(num_perm, j)
    agree, at k uniformly placed positions. Exact: given k, the number of placements with no
    band all-agreeing is the x^k coefficient of ((1+x)^rows - x^rows)^bands (1+x)^spare."""
    from math import comb

    from scipy.stats import binom

    from datapipe.minhash import s_curve

    def mul(p: list[int], q: list[int]) -> list[int]:
        out = [0] * (len(p) + len(q) - 1)
        for i, a in enumerate(p):
            if a:
                for k, c in enumerate(q):
                    out[i + k] += a * c
        return out

    band = [comb(rows, i) for i in range(rows)] + [0]  # (1+x)^rows - x^rows
    no_full = [comb(num_perm - bands * rows, i) for i in range(num_perm - bands * rows + 1)]
    for _ in range(bands):
        no_full = mul(no_full, band)
    need = math.ceil(threshold * num_perm - 1e-9)  # estimate = k / num_perm >= threshold
    pk = binom.pmf(np.arange(num_perm + 1), num_perm, j)
    cand_given_k = np.array([1.0 - no_full[k] / comb(num_perm, k) for k in range(num_perm + 1)])
    both = float((pk * cand_given_k)[need:].sum())
    return float(s_curve(j, bands, rows)), float(pk[need:].sum()), both


def quality(corpus: dict, candidates, verified, members, cfg) -> dict:
    """Per planted level and for the removed set: see the module docstring."""
    from tests.datapipe.neardup_corpus import jaccard

    texts, family = corpus["texts"], corpus["family"]
    n = len(texts)
    bands, rows = cfg.lsh_params()

    def keys(table) -> np.ndarray:
        a, b = id_numbers(table.column("a")), id_numbers(table.column("b"))
        return np.minimum(a, b) * n + np.maximum(a, b)

    cand_keys, ver_keys = keys(candidates), keys(verified)
    removed, dup_of = id_numbers(members.column("doc_id")), id_numbers(members.column("duplicate_of"))
    root = np.arange(n)
    root[removed] = dup_of
    levels = []
    for level, (o, c) in corpus["pairs"].items():
        true_j = np.array([jaccard(texts[x], texts[y]) for x, y in zip(o.tolist(), c.tolist())])
        pk = np.minimum(o, c) * n + np.maximum(o, c)
        p_cand, p_ver, p_both = model_rates(float(true_j.mean()), bands, rows, cfg.num_perm, cfg.threshold)
        if cfg.verify == "exact":  # the check is the pair's exact Jaccard: it passes every candidate at J >= thr
            p_ver = float((true_j >= cfg.threshold).mean())
            p_both = p_cand * p_ver
        levels.append({"level": level, "pairs": len(o), "j_mean": float(true_j.mean()), "j_min": float(true_j.min()),
                       "j_max": float(true_j.max()),
                       "candidate": float(np.isin(pk, cand_keys).mean()),
                       "verified": float(np.isin(pk, ver_keys).mean()),
                       "detected": float((root[o] == root[c]).mean()),
                       "s_curve": p_cand, "p_verify": p_ver, "model": p_both})
    cl = corpus["clusters"]
    cl_j = np.array([jaccard(texts[r[0]], texts[x]) for r in cl[:200] for x in r[1:]]) if len(cl) else np.zeros(1)
    cl_roots = root[cl]
    cluster_row = {"clusters": len(cl), "copies": int(cl.shape[1] - 1) if len(cl) else 0,
                   "j_mean": float(cl_j.mean()),
                   "copies_joined": float((cl_roots[:, 1:] == cl_roots[:, :1]).mean()) if len(cl) else 0.0,
                   "collapsed": float((cl_roots == cl_roots[:, :1]).all(axis=1).mean()) if len(cl) else 0.0}
    removed_j = np.array([jaccard(texts[d], texts[r]) for d, r in zip(removed.tolist(), dup_of.tolist())])
    related = family[removed] == family[dup_of]
    return {"levels": levels, "cluster": cluster_row, "removed": len(removed),
            "removed_true": int(np.count_nonzero(removed_j >= cfg.threshold)),
            "removed_related": int(np.count_nonzero(related)),
            "removed_j_ge_07": int(np.count_nonzero(removed_j >= 0.7)),
            "removed_min_j": float(removed_j.min()) if len(removed_j) else None,
            "removed_ids": removed.tolist(),
            "bands": bands, "rows": rows, "num_perm": cfg.num_perm, "threshold": cfg.threshold, "verify": cfg.verify}


def stage_child(spec: dict) -> dict:
    """The stage process (run pinned to one core): corpus, stage rounds, quality."""
    import pyarrow as pa

    from datapipe.config import NearDedupConfig
    from datapipe.dedup import bucket_of, text_hash

    start_peak = peak_bytes()
    t0 = time.perf_counter()
    corpus = planted_corpus(spec["docs"], pair_fraction=spec["pair_fraction"],
                            cluster_fraction=spec["cluster_fraction"], seed=spec["seed"])
    gen_s = time.perf_counter() - t0
    texts = corpus["texts"]
    n = len(texts)
    text_bytes = sum(len(s.encode()) for s in texts)
    k = spec["buckets"] or default_buckets(text_bytes)
    cfg = NearDedupConfig()
    owner = np.array([bucket_of(text_hash(s), k) for s in texts])
    buckets = {}
    for b in range(k):
        idx = np.flatnonzero(owner == b)  # in doc-id order, as Dedup sorts its bucket
        buckets[b] = (pa.array([doc_id(i) for i in idx.tolist()], pa.string()),
                      pa.array(["bench"] * len(idx), pa.string()), [texts[i] for i in idx.tolist()])
    del owner
    gc.collect()
    t = Timer()
    load0 = os.getloadavg()[0]
    corpus_peak = t.process_peak
    base_rss = rss_bytes()
    first = None
    for r in range(spec["repeat"]):
        out = stage_once(buckets, NearDedupConfig(), k, t)
        t.end_round()
        if first is None:
            first = out
        del out
        gc.collect()
        print(f"[stage] round {r + 1}/{spec['repeat']}: {sum(t.wall.values()):.1f} s best so far", file=sys.stderr,
              flush=True)
    candidates, verified, members = first
    counts = {"band_rows": n * cfg.lsh_params()[0], "candidate_edges": candidates.num_rows,
              "verified_edges": verified.num_rows, "removed": members.num_rows,
              "clusters": len(set(members.column("cluster_id").to_pylist()))}
    q = quality(corpus, candidates, verified, members, cfg)
    result = {"load": (load0, os.getloadavg()[0]), "docs": n, "text_bytes": text_bytes, "buckets": k, "gen_s": gen_s,
              "repeat": spec["repeat"],
              "wall": t.wall, "cpu": t.cpu, "peak": t.peak, "added": t.added, "resets": t.resets,
              "base_rss": base_rss, "corpus_peak": corpus_peak, "start_peak": start_peak,
              "process_peak": max(t.process_peak, peak_bytes()),
              "ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
              "counts": counts, "quality": q}
    if spec.get("write_jsonl"):
        with open(spec["write_jsonl"], "w") as f:
            for i, s in enumerate(texts):
                f.write(json.dumps({"id": doc_id(i), "text": s}) + "\n")
    return result


def run_stage(docs: int, repeat: int = 1, buckets: int = 0, pair_fraction: float = 0.10,
              cluster_fraction: float = 0.02, seed: int = 0, core: int | None = None,
              write_jsonl: str | None = None) -> dict:
    """Run stage_child in a fresh process pinned to one core; its result dict."""
    spec = {"docs": docs, "repeat": repeat, "buckets": buckets, "pair_fraction": pair_fraction,
            "cluster_fraction": cluster_fraction, "seed": seed, "write_jsonl": write_jsonl}
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    one = {core if core is not None else cpus[0]} if cpus else None
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "stage.json"
        subprocess.run([sys.executable, __file__, "--_stage-child", json.dumps(spec), str(out)], check=True,
                       preexec_fn=(lambda: os.sched_setaffinity(0, one)) if one else None)
        return json.loads(out.read_text())


# --- report ------------------------------------------------------------------------------

def mib(b: float) -> str:
    return f"{b / 2**20:,.0f}"


def stage_table(r: dict) -> str:
    n = r["docs"]
    total_wall, total_cpu = sum(r["wall"].values()), sum(r["cpu"].values())
    lines = ["| part | best wall s | CPU s | share | docs/s | peak RSS MiB | part's own peak MiB |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name in PARTS:
        w = r["wall"][name]
        lines.append(f"| {name} | {w:.2f} | {r['cpu'][name]:.2f} | {100 * w / total_wall:.0f}% | {n / w:,.0f} "
                     f"| {mib(r['peak'][name])} | {mib(r['added'][name])} |")
    lines.append(f"| **stage, end to end** | **{total_wall:.2f}** | {total_cpu:.2f} | 100% "
                 f"| **{n / total_wall:,.0f} docs/s/core** | {mib(max(r['peak'].values()))} "
                 f"| {mib(max(r['peak'].values()) - r['base_rss'])} over corpus |")
    return "\n".join(lines)


def prob(p: float) -> str:
    """A probability to 3 decimals, or in e-notation when it is small but not zero."""
    return f"{p:.1e}" if 0 < p < 0.0005 else f"{p:.3f}"


def quality_table(q: dict) -> str:
    lines = ["| planted J | pairs | true J (min-max) | S-curve P(candidate) | candidate (measured) "
             f"| P({'exact J' if q.get('verify') == 'exact' else 'estimate'} >= thr) | model P(detected) "
             "| verified (measured) | **detected (recall)** |",
             "|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
    for lv in q["levels"]:
        lines.append(f"| {lv['level']:.1f} | {lv['pairs']:,} "
                     f"| {lv['j_mean']:.3f} ({lv['j_min']:.3f}-{lv['j_max']:.3f}) "
                     f"| {prob(lv['s_curve'])} | {prob(lv['candidate'])} | {prob(lv['p_verify'])} "
                     f"| {prob(lv['model'])} | {prob(lv['verified'])} | **{prob(lv['detected'])}** |")
    return "\n".join(lines)


def stage_report(r: dict) -> str:
    q, c = r["quality"], r["counts"]
    n = r["docs"]
    total = sum(r["wall"].values())
    out = [f"near-dedup stage: {n:,} docs, {r['text_bytes'] / 2**20:.0f} MiB ({r['text_bytes'] / n:,.0f} B/doc), "
           f"{r['buckets']} buckets = partitions, num_perm={q['num_perm']}, threshold {q['threshold']} -> "
           f"{q['bands']} bands x {q['rows']} rows; 1 process pinned to 1 core, best of {r['repeat']} round(s); "
           f"corpus generated in {r['gen_s']:.0f} s (not timed); load average {r['load'][0]:.1f} before, "
           f"{r['load'][1]:.1f} after",
           f"{c['band_rows']:,} band rows -> {c['candidate_edges']:,} candidate edges -> "
           f"{c['verified_edges']:,} verified "
           f"-> {c['removed']:,} near duplicates removed in {c['clusters']:,} clusters",
           "", stage_table(r), "",
           f"stage docs/s/core: {n / total:,.0f} on wall time ({total:.1f} s), "
           f"{n / sum(r['cpu'].values()):,.0f} on CPU time ({sum(r['cpu'].values()):.1f} s); "
           f"signatures are {100 * r['wall']['signatures'] / total:.0f}% of it",
           f"peak memory, stage process (VmHWM inside it{'' if r['resets'] else '; no per-part reset'}): "
           f"{mib(r['process_peak'])} MiB overall, {mib(r['corpus_peak'])} MiB after generating the corpus, "
           f"{mib(r['base_rss'])} MiB resident with the corpus (input texts + bucket lists) before the stage; "
           f"the stage peaked {mib(max(r['peak'].values()) - r['base_rss'])} MiB above that "
           f"({(max(r['peak'].values()) - r['base_rss']) / n:,.0f} B/doc, all buckets' intermediates held); "
           f"the largest single part run needed {mib(max(r['added'].values()))} MiB",
           "", f"recall by planted level (default NearDedupConfig: threshold {q['threshold']}, "
               f"{q['bands']}x{q['rows']}, {q['num_perm']} perms, verify {q['verify']}):", "",
           quality_table(q), ""]
    cl = q["cluster"]
    if cl["clusters"]:
        out.append(f"clusters of 1 original + {cl['copies']} copies at J {cl['j_mean']:.3f}: "
                   f"{cl['copies_joined']:.3f} of copies joined to their original's cluster, "
                   f"{cl['collapsed']:.3f} of clusters fully collapsed to one kept doc ({cl['clusters']:,} clusters)")
    removed = q["removed"] or 1
    out.append(f"precision on the removed set ({q['removed']:,} docs, each against the doc it duplicates): "
               f"{q['removed_true'] / removed:.4f} with true J >= {q['threshold']} "
               f"({q['removed'] - q['removed_true']:,} below), "
               f"{q['removed_j_ge_07'] / removed:.4f} with true J >= 0.7, "
               f"{q['removed_related'] / removed:.4f} planted relatives (the rest are unrelated docs); "
               f"lowest true J removed {q['removed_min_j']:.3f}" if q["removed"] else "nothing removed")
    return "\n".join(out)


def add_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--stage-docs", type=int, default=200_000,
                    help="documents for the near-dedup stage benchmark (default 200000; 0 skips it)")
    ap.add_argument("--stage-repeat", type=int, default=2, help="stage rounds; each part reports its best")
    ap.add_argument("--stage-buckets", type=int, default=0,
                    help="dedup buckets = partitions (0: as the pipeline picks)")
    ap.add_argument("--pair-fraction", type=float, default=0.10, help="share of docs that are planted pair copies")
    ap.add_argument("--cluster-fraction", type=float, default=0.02, help="share of docs in planted 4-doc clusters")
    ap.add_argument("--ray-docs", type=int, default=0,
                    help="also run `python -m datapipe` near dedup on a local Ray over this many docs (0: skip)")
    ap.add_argument("--ray-cpus", type=int, default=0, help="CPUs for the Ray run (0: all this process may use)")


def run_from_args(args: argparse.Namespace, all_cpus: list[int], core: int | None = None) -> None:
    """Stage benchmark (and the optional Ray run) as the flags ask; prints the reports."""
    stage = None
    with tempfile.TemporaryDirectory(prefix="neardup-bench-") as work:
        jsonl = str(Path(work) / "corpus.jsonl") if args.ray_docs and args.ray_docs == args.stage_docs else None
        if args.stage_docs:
            stage = run_stage(args.stage_docs, args.stage_repeat, args.stage_buckets, args.pair_fraction,
                              args.cluster_fraction, core=core, write_jsonl=jsonl)
            print(stage_report(stage), flush=True)
            print(flush=True)
        if args.ray_docs:
            if jsonl is None:  # a corpus of a different size: generate it without timing a stage
                jsonl = str(Path(work) / "corpus.jsonl")
                c = planted_corpus(args.ray_docs, args.pair_fraction, args.cluster_fraction)
                with open(jsonl, "w") as f:
                    for i, s in enumerate(c["texts"]):
                        f.write(json.dumps({"id": doc_id(i), "text": s}) + "\n")
                del c
            cpus = all_cpus[:args.ray_cpus] if args.ray_cpus else all_cpus
            rr = run_ray(jsonl, cpus, work)
            print(ray_report(rr, stage), flush=True)


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--_stage-child":
        result = stage_child(json.loads(sys.argv[2]))
        Path(sys.argv[3]).write_text(json.dumps(result))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_args(ap)
    args = ap.parse_args()
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
    run_from_args(args, cpus)


if __name__ == "__main__":
    main()
