"""The driver never holds corpus-sized data: only per-task summaries come back to it.

Two guards:

* static: parse datapipe/**/*.py and flag every call that would pull a Ray Dataset into the
  calling process (take_all, to_pandas, iter_rows, materialize, ...), every `ray.get`, and
  every data-file read in the driver modules (pipeline.py, main.py), except the few listed
  below, each with the reason it is bounded. A new call fails the test until it is argued for
  here; an entry that no longer matches anything fails it too, so the list stays narrow.
* dynamic: run `python -m datapipe` (datapipe.main.main) in a subprocess on two corpora, ~2 MB
  and ~21 MB, and compare the driver's peak RSS: growing the corpus tenfold must leave it
  essentially where it was (collecting the corpus, or any stage's output, would add at
  least the corpus bytes).
"""
from __future__ import annotations

import ast
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from .neardup_corpus import _word

REPO = Path(__file__).resolve().parents[2]
DATAPIPE = REPO / "datapipe"
DRIVER_MODULES = {"pipeline.py", "main.py"}

# Dataset methods that bring rows, blocks or object refs of the whole dataset to the caller.
CONSUMERS = {
    "take_all", "take", "take_batch", "show", "iter_rows", "iter_batches", "iter_torch_batches", "iter_tf_batches",
    "iter_internal_ref_bundles", "iterator", "streaming_split", "split", "split_at_indices", "split_proportionately",
    "train_test_split", "materialize", "to_pandas", "to_pandas_refs", "to_arrow", "to_arrow_refs", "to_numpy_refs",
    "to_torch", "to_tf", "to_dask", "to_modin", "to_spark", "to_mars", "to_daft", "to_random_access_dataset",
    "get_internal_block_refs",
}
# Calls that read data files (by the called name's last part), flagged in driver modules.
FILE_READS = {"read_parquet", "read_table", "read_file", "read_json", "read_csv", "ParquetFile", "open_input_file",
              "open_input_stream", "read_bytes", "read_text", "read_npy", "tokenizer_sample", "near_removed",
              "near_clusters"}

ALLOWED = {
    # _map collects what the stage actors return: one JSON summary (counts, shard names; a few
    # hundred bytes) per task spec, and there is one spec per read task, bucket or partition.
    ("pipeline.py", "_map", "iter_rows"),
    # A summary of counts from the one near-clusters task (its edges and clusters go to files).
    ("pipeline.py", "_near", "ray.get(_near_clusters_task.options(resources=data_resources()).remote)"),
    # The read plan's probes: per Parquet file its row groups' sizes, per sampled compressed file
    # one ratio, per byte range of a split file two ints (its newlines and first line start).
    ("pipeline.py", "read_plan", "ray.get([_probe_metadata_task.options(resources=data_resources()).remote])"),
    ("pipeline.py", "read_plan", "ray.get([_count_lines_task.options(resources=data_resources()).remote])"),
    # --resume reads the interrupted run's _work/plan.json: the read tasks (one entry per piece
    # of a file), not data.
    ("pipeline.py", "read_plan", "read_json"),
    # A summary of counts from each id-partition task (one per dedup bucket; the repeats go to files).
    ("pipeline.py", "_dedup", "ray.get([_id_repeats_task.options(resources=data_resources()).remote])"),
    # tokenizer.json as a string: its size follows tokenize.vocab_size, not the corpus.
    ("pipeline.py", "_tokenizer", "ray.get(_train_tokenizer_task.options(resources=data_resources()).remote)"),
    # Reads the tokenizer.json named by tokenize.tokenizer_path, or on --resume the one the
    # interrupted run wrote (vocabulary-sized, as above).
    ("pipeline.py", "_tokenizer", "open_input_stream"),
    # --resume reads _work/run.json (the config and the list of input files, not their contents)
    # and a finished run's manifest.json (its config and shard list: one entry per shard).
    ("pipeline.py", "check_resume", "open_input_stream"),
    # In TokPack actors, not the driver: streaming near-dedup's answers for one tokenize batch
    # (tokenize.batch_size ids), first from index shard 0, then from the others.
    ("neardup.py", "StreamingNearDedup.__call__", "ray.get(self.shards[0].numbered_check_insert.remote)"),
    ("neardup.py", "StreamingNearDedup.__call__", "ray.get([shard.check_insert.remote])"),
    # In live-mode LiveTokPack actors, not the driver: each exact-index shard's answers for its share
    # of one read task's documents.
    ("live.py", "exact_seen", "ray.get(refs[s])"),
}


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def _is_ray_remote(decorator: ast.AST) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return _dotted(target) in ("ray.remote", "remote", "_LazyRemote")  # pipeline.py's ray.remote made at first use


class _Scope(ast.NodeVisitor):
    """Finds the calls in one function (nested functions and classes get their own scope)."""

    def __init__(self, checker: Checker, qualname: str, body: list[ast.stmt], remote: bool):
        self.checker, self.qualname, self.remote = checker, qualname, remote
        self.datasets: set[str] = set()
        # Names bound to datasets, to a fixpoint: ds = ray.data.from_items(...); ds = ds.map_batches(...)
        assigns = [n for stmt in body for n in ast.walk(stmt) if isinstance(n, (ast.Assign, ast.AnnAssign))]
        changed = True
        while changed:
            changed = False
            for a in assigns:
                targets = a.targets if isinstance(a, ast.Assign) else [a.target]
                if a.value is not None and self.is_dataset(a.value):
                    for t in targets:
                        if isinstance(t, ast.Name) and t.id not in self.datasets:
                            self.datasets.add(t.id)
                            changed = True
        for stmt in body:
            self.visit(stmt)

    def is_dataset(self, node: ast.AST) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.datasets
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name is not None and self.checker.is_ray_data(name):
                return True
            f = node.func  # a transform of a dataset is a dataset (map_batches, filter, union, ...)
            return isinstance(f, ast.Attribute) and f.attr not in CONSUMERS and self.is_dataset(f.value)
        return False

    def visit_FunctionDef(self, node):
        self.checker.scope(f"{self.qualname}.{node.name}", node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        self.checker.scope(f"{self.qualname}.{node.name}", node)

    def visit_Call(self, node: ast.Call):
        f = node.func
        where = self.qualname.removeprefix("<module>.")
        if isinstance(f, ast.Attribute) and f.attr in CONSUMERS and self.is_dataset(f.value):
            self.checker.found.append((self.checker.module, where, f.attr, node.lineno))
        if _dotted(f) in self.checker.ray_get_names and node.args:
            self.checker.found.append((self.checker.module, where, f"ray.get({_describe(node.args[0])})", node.lineno))
        last = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
        lazy = self.is_dataset(node)  # ray.data.read_parquet(...) only plans reads, in tasks
        if self.checker.module in DRIVER_MODULES and not self.remote and last in FILE_READS and not lazy:
            self.checker.found.append((self.checker.module, where, last, node.lineno))
        self.generic_visit(node)


def _describe(arg: ast.AST) -> str:
    """What a ray.get waits for: the remote call's target, in [] for a list of them."""
    if isinstance(arg, ast.Call):
        return ast.unparse(arg.func)
    if isinstance(arg, (ast.ListComp, ast.GeneratorExp, ast.SetComp)) and isinstance(arg.elt, ast.Call):
        return f"[{ast.unparse(arg.elt.func)}]"
    return ast.unparse(arg)


class Checker:
    """(module, function qualname, what, line) of every flagged call in one module's source."""

    def __init__(self, module: str, source: str):
        self.module = module
        self.found: list[tuple[str, str, str, int]] = []
        tree = ast.parse(source)
        # How this module can name ray.data and ray.get.
        self.data_prefixes, self.data_names, self.ray_get_names = {"ray.data."}, set(), {"ray.get"}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name == "ray.data" and a.asname:
                        self.data_prefixes.add(a.asname + ".")
                    elif a.name == "ray" and a.asname:
                        self.data_prefixes.add(a.asname + ".data.")
                        self.ray_get_names.add(a.asname + ".get")
            elif isinstance(node, ast.ImportFrom) and node.module in ("ray", "ray.data"):
                for a in node.names:
                    if node.module == "ray" and a.name == "data":
                        self.data_prefixes.add((a.asname or a.name) + ".")
                    elif node.module == "ray" and a.name == "get":
                        self.ray_get_names.add(a.asname or a.name)
                    elif node.module == "ray.data":
                        self.data_names.add(a.asname or a.name)
        _Scope(self, "<module>", tree.body, remote=False)

    def is_ray_data(self, name: str) -> bool:
        return name in self.data_names or any(name.startswith(p) for p in self.data_prefixes)

    def scope(self, qualname: str, node: ast.AST) -> None:
        remote = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(map(_is_ray_remote,
                                                                                       node.decorator_list))
        _Scope(self, qualname, node.body, remote)


def flagged(module: str, source: str) -> list[tuple[str, str, str, int]]:
    return Checker(module, source).found


def test_checker_catches_collections():
    """The checker itself: each of these pulls a whole dataset, or a list of results, into the caller."""
    source = '''
import ray
from ray import data as rd
from ray.data import read_parquet

def run(cfg, out):
    ds = ray.data.read_parquet(out)
    rows = ds.take_all()
    kept = ds.filter(lambda r: True)
    frame = kept.to_pandas()
    refs = ray.data.from_items([1, 2]).map_batches(f).to_arrow_refs()
    rd.read_json(out).materialize()
    more = read_parquet(out)
    for batch in more.iter_batches():
        pass
    parts = ray.get([load.remote(b) for b in range(10)])
    table = read_table(out)

def fine(table, ds_like):
    table.take([0, 1])
    ds_like.to_pandas()
'''
    got = sorted((fn, what) for _, fn, what, _ in flagged("pipeline.py", source))
    assert got == sorted([("run", "take_all"), ("run", "to_pandas"), ("run", "to_arrow_refs"), ("run", "materialize"),
                          ("run", "iter_batches"), ("run", "ray.get([load.remote])"), ("run", "read_table")]), got


def test_datapipe_pulls_no_dataset_into_a_process_and_the_driver_reads_no_data():
    found = []
    for path in sorted(DATAPIPE.rglob("*.py")):
        rel = path.relative_to(DATAPIPE).as_posix()
        found += flagged(rel, path.read_text())
    keys = {(module, fn, what) for module, fn, what, _ in found}
    unexpected = [f for f in found if f[:3] not in ALLOWED]
    assert not unexpected, f"calls that may bring corpus-sized data to the caller (argue for them in ALLOWED): {unexpected}"
    assert not ALLOWED - keys, f"ALLOWED entries that match nothing any more: {ALLOWED - keys}"


# ---- dynamic: the driver's peak RSS does not follow the corpus size ----

# The peak is VmHWM, the high-water mark of this process's own memory map. Not ru_maxrss: Linux
# carries that over from the process that forked it (pytest, hundreds of MB), hiding the driver's.
DRIVER = """
import json, re, sys
import ray
ray.init(address="local", num_cpus=2, object_store_memory=200 * 2**20, include_dashboard=False, log_to_driver=False)
from datapipe.main import main

def peak_kib():
    with open("/proc/self/status") as f:
        return int(re.search(r"VmHWM:\\s+(\\d+) kB", f.read()).group(1))

before = peak_kib()
rc = main(sys.argv[1:])
after = peak_kib()
ray.shutdown()
print("PEAK_KIB " + json.dumps({"rc": rc, "before": before, "after": after}))
"""
NO_FILTERS = [f"clean.{f}.enabled=false" for f in ("lang_id", "gopher_repetition", "gopher_quality", "c4", "fineweb")]


def write_docs(path: Path, n: int, words: int = 600, seed: int = 0) -> int:
    """n distinct random-word documents (about 4 KB each); returns the file's size."""
    rng = random.Random(seed)
    vocab = sorted({_word(rng) for _ in range(20_000)})
    with open(path, "w") as f:
        for i in range(n):
            f.write(json.dumps({"id": f"d{i:06d}", "text": " ".join(rng.choices(vocab, k=words))}) + "\n")
    return path.stat().st_size


def driver_growth(corpus: Path, out: Path, ray_tmp: str) -> int:
    """Run the pipeline in a fresh driver process; how much its peak RSS rose during the run
    (after Ray had started), in bytes."""
    sets = [*NO_FILTERS, "dedup.num_buckets=4", "tokenize.vocab_size=400", "tokenize.train_docs=300",
            "pack.seq_len=128"]  # near dedup on, in batch mode (the default)
    argv = ["--input", str(corpus), "--output", str(out), *[a for s in sets for a in ("--set", s)]]
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(RAY_TMPDIR=ray_tmp, RAY_DATA_DISABLE_PROGRESS_BARS="1")
    result = subprocess.run([sys.executable, "-c", DRIVER, *argv], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=600)
    lines = [line for line in result.stdout.splitlines() if line.startswith("PEAK_KIB ")]
    assert result.returncode == 0 and lines, (result.stdout + result.stderr)[-5000:]
    peak = json.loads(lines[-1].removeprefix("PEAK_KIB "))
    assert peak["rc"] == 0
    return (peak["after"] - peak["before"]) * 1024


@pytest.fixture
def ray_tmp():
    path = tempfile.mkdtemp(prefix="dpnc", dir="/tmp")  # short: Ray puts its sockets under it
    yield path
    import shutil

    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads VmHWM from /proc (Linux)")
def test_driver_peak_memory_does_not_grow_with_the_corpus(tmp_path, ray_tmp):
    small_bytes = write_docs(tmp_path / "small.jsonl", 500)
    large_bytes = write_docs(tmp_path / "large.jsonl", 5000)
    small = driver_growth(tmp_path / "small.jsonl", tmp_path / "out-small", ray_tmp)
    large = driver_growth(tmp_path / "large.jsonl", tmp_path / "out-large", ray_tmp)
    stats = json.loads((tmp_path / "out-large" / "stats.json").read_text())
    assert stats["kept_docs"] == 5000 and stats["tokens"] > 0  # every byte went through every stage

    # The pipeline lifts the driver's peak by about the same whatever the input (Ray Data's
    # executor and the like, about 130 MB); corpus data in the driver would add at least
    # the extra input (a take_all of the kept documents adds about twice that).
    print(f"driver peak RSS growth: {small / 2**20:.1f} MiB on {small_bytes / 2**20:.1f} MiB of input, "
          f"{large / 2**20:.1f} MiB on {large_bytes / 2**20:.1f} MiB")
    assert large - small < (large_bytes - small_bytes) / 4, (
        f"the driver's peak RSS grew {(large - small) / 2**20:.1f} MiB more for "
        f"{(large_bytes - small_bytes) / 2**20:.1f} MiB more input: does corpus data reach the driver?")
