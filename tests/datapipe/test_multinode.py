"""A 2-node local Ray cluster finds exactly the duplicates a single node finds.

The session's `ray_local` is a single-node Ray in the pytest process, so the cluster
(`ray.cluster_utils.Cluster`: a 1-CPU head and a 1-CPU worker node) runs in a subprocess,
tests/datapipe/multinode_run.py, started when the module's first test asks for it and
collected when a test needs its result; meanwhile the same corpus and config run in-process
on `ray_local` (2 CPUs, so both get pools of two stage actors, and on the cluster one actor
per node). Both go through `datapipe.main.main`, as the CLI does.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from datapipe.config import NearDedupConfig
from datapipe.minhash import band_keys
from datapipe.neardup import doc_signatures
from datapipe.sample import write_corpus

from .multinode_run import record_nodes
from .neardup_corpus import VOCAB_SIZE, _word, edit

REPO = Path(__file__).resolve().parents[2]
FILES = 4          # input files; read.task_target_bytes=65536 splits each into a few read tasks
BUCKETS = 8        # dedup buckets, so also 8 near-dedup partitions and 8 tokpack tasks
MODES = ("batch", "streaming")
TIMING_KEYS = ("stage_seconds", "task_seconds", "cpu_utilisation")
NO_FILTERS = [f"clean.{f}.enabled=false" for f in ("lang_id", "gopher_repetition", "gopher_quality", "c4", "fineweb")]


def argv(corpus: Path, out: Path, mode: str) -> list[str]:
    sets = [f"dedup.num_buckets={BUCKETS}", "read.task_target_bytes=65536", f"dedup.near.mode={mode}",
            "tokenize.vocab_size=400", "pack.seq_len=128", "actor_num_cpus=1"]
    if mode == "streaming":
        sets += NO_FILTERS  # random-word documents
    return ["--input", str(corpus / "*.jsonl"), "--output", str(out), *[a for s in sets for a in ("--set", s)]]


def deal(lines: list[bytes], folder: Path) -> Path:
    folder.mkdir()
    for i in range(FILES):
        (folder / f"part{i}.jsonl").write_bytes(b"\n".join(lines[i::FILES]) + b"\n")
    return folder


def pairs_corpus(n_base: int = 100, seed: int = 0) -> list[tuple[str, str]]:
    """Random-word documents: the even-numbered ones get a near copy (1 or 2 words changed,
    Jaccard about 0.93 to 0.97), those numbered 1 mod 4 an exact copy in other whitespace."""
    rng = random.Random(seed)
    vocab = sorted({_word(rng) for _ in range(VOCAB_SIZE)})
    docs = []
    for i in range(n_base):
        words = [rng.choice(vocab) for _ in range(300)]
        docs.append((f"o{i:04d}", " ".join(words)))
        if i % 2 == 0:
            docs.append((f"x{i:04d}", " ".join(edit(rng, words, vocab, rng.randint(1, 2)))))
        elif i % 4 == 1:
            docs.append((f"e{i:04d}", "  ".join(words) + "\n"))
    return docs


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, Path]:
    """Per mode, the input folder, dealt into FILES files.

    batch: the seeded sample corpus (exact and near copies, junk, bad records), filters on.
    streaming: near pairs only. Streaming keeps whichever copy the index sees first, and
    bucket tasks race, so on chains (A~B, B~C, not A~C) even the number removed depends on
    the order; on pairs it cannot, provided each pair shares a band key in index shard 0,
    which sets the order for all shards (asserted here, so the test cannot go vague)."""
    root = tmp_path_factory.mktemp("multinode")
    counts = write_corpus(root / "sample.jsonl", 400, seed=3)
    assert counts["dup"] > 0 and counts["near"] > 0
    sample = [line for line in (root / "sample.jsonl").read_bytes().split(b"\n") if line]

    docs = pairs_corpus()
    text = dict(docs)
    near = NearDedupConfig()
    bands, rows = near.lsh_params()
    copies = [d for d in text if d.startswith("x")]
    keys = band_keys(doc_signatures([text["o" + d[1:]] for d in copies] + [text[d] for d in copies], near), bands, rows)
    shard0 = keys[:, 0::near.index_shards]
    assert (shard0[:len(copies)] == shard0[len(copies):]).any(axis=1).all()
    pairs = [json.dumps({"id": d, "text": t}).encode() for d, t in docs]
    return {"batch": deal(sample, root / "sample"), "streaming": deal(pairs, root / "pairs")}


class ClusterRun:
    """The cluster subprocess, started now, waited for on first use."""

    def __init__(self, corpus: dict[str, Path], root: Path):
        self.out = {mode: root / f"cluster-{mode}" for mode in MODES}
        self.result_path = root / "result.json"
        spec = {"nodes": [1, 1], "result": str(self.result_path),
                "runs": {mode: argv(corpus[mode], self.out[mode], mode) for mode in MODES}}
        (root / "spec.json").write_text(json.dumps(spec))
        # A private Ray temp dir: Cluster writes <tmp>/ray/ray_current_cluster, which any
        # address-less ray.init() on this machine would otherwise join. Short, for socket paths.
        self.ray_tmp = tempfile.mkdtemp(prefix="dpmn", dir="/tmp")
        env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
        env.update(RAY_TMPDIR=self.ray_tmp, RAY_DATA_DISABLE_PROGRESS_BARS="1")
        self.log = root / "cluster.log"  # a file, not a pipe nobody reads while the test runs
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "tests.datapipe.multinode_run", str(root / "spec.json")],
                                         cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        self._result: dict | None = None

    def result(self) -> dict:
        if self._result is None:
            self.proc.wait(timeout=600)
            assert self.proc.returncode == 0 and self.result_path.exists(), self.log.read_text()[-5000:]
            self._result = json.loads(self.result_path.read_text())
        return self._result

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.ray_tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster(corpus, tmp_path_factory):
    run = ClusterRun(corpus, tmp_path_factory.mktemp("cluster"))
    yield run
    run.close()


def single_node(corpus: Path, out: Path, mode: str) -> set[str]:
    """Run on the in-process single-node Ray; return the node ids the stage tasks ran on."""
    from datapipe.main import main

    with record_nodes() as seen:
        assert main(argv(corpus, out, mode)) == 0
    return {node for nodes in seen.values() for node in nodes}


def duplicate_rows(out: Path) -> list[dict]:
    return pq.read_table(out / "duplicates").to_pylist()


def stats(out: Path, *ignore: str) -> dict:
    s = json.loads((out / "stats.json").read_text())
    return {k: v for k, v in s.items() if k not in (*TIMING_KEYS, *ignore)}


def components(rows: list[dict]) -> set[frozenset[str]]:
    """Connected components of the near-duplicate rows' (doc_id, duplicate_of) edges."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for r in rows:
        parent[find(r["doc_id"])] = find(r["duplicate_of"])
    groups: dict[str, set[str]] = {}
    for x in parent:
        groups.setdefault(find(x), set()).add(x)
    return {frozenset(g) for g in groups.values()}


def assert_spread(result: dict, mode: str) -> None:
    run = result["runs"][mode]
    assert run["rc"] == 0
    used = {node for nodes in run["stages"].values() for node in nodes}
    assert len(result["cluster_nodes"]) == 2
    assert used == set(result["cluster_nodes"]), f"{mode}: stage tasks ran on {len(used)} of 2 nodes: {run['stages']}"


def test_batch_two_nodes_find_the_same_duplicates_as_one(ray_local, corpus, cluster, tmp_path):
    one = tmp_path / "single-batch"
    assert len(single_node(corpus["batch"], one, "batch")) == 1
    result = cluster.result()
    assert_spread(result, "batch")
    two = cluster.out["batch"]

    single, multi = duplicate_rows(one), duplicate_rows(two)
    kinds = {r["kind"] for r in single}
    assert kinds == {"exact", "near"}, kinds  # the corpus plants both, so the comparison has teeth
    key = ("doc_id", "duplicate_of", "kind", "cluster_id", "source")
    assert len({r["doc_id"] for r in multi}) == len(multi)
    assert {tuple(r[k] for k in key) for r in multi} == {tuple(r[k] for k in key) for r in single}
    # Every count, tokens included, is the same (only the timings differ).
    assert stats(two) == stats(one)
    s = stats(one)
    assert s["exact_duplicate_docs"] > 0 and s["near_duplicate_docs"] > 0 and s["near_duplicate_clusters"] > 0
    m1, m2 = (json.loads((o / "manifest.json").read_text()) for o in (one, two))
    assert m1["tokenizer_sha256"] == m2["tokenizer_sha256"] and m1["shards"] == m2["shards"]


def test_streaming_two_nodes_find_the_same_clusters_as_one(ray_local, corpus, cluster, tmp_path):
    """Which copy of a pair survives may differ between runs (see `corpus`); the pairs and
    the counts may not."""
    one = tmp_path / "single-streaming"
    assert len(single_node(corpus["streaming"], one, "streaming")) == 1
    result = cluster.result()
    assert_spread(result, "streaming")
    two = cluster.out["streaming"]

    single, multi = duplicate_rows(one), duplicate_rows(two)
    exact = ("doc_id", "duplicate_of", "kind")
    assert {tuple(r[k] for k in exact) for r in multi if r["kind"] == "exact"} == \
           {tuple(r[k] for k in exact) for r in single if r["kind"] == "exact"}
    near1 = [r for r in single if r["kind"] == "near"]
    near2 = [r for r in multi if r["kind"] == "near"]
    assert len(near1) == len(near2) == 50  # one copy of each planted pair
    assert components(near2) == components(near1) == {frozenset((f"o{i:04d}", f"x{i:04d}")) for i in range(0, 100, 2)}
    # Which copy is kept changes the tokens, not the counts.
    assert stats(two, "tokens", "tokens_by_source") == stats(one, "tokens", "tokens_by_source")
