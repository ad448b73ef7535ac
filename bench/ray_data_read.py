"""Read+clean through our read planner against Ray Data's own file datasources (issue K, item 4).

    python bench/ray_data_read.py                               # 20,000 docs, one file and 16 files
    python bench/ray_data_read.py --docs 100000 --corpora /tmp/scale-corpora

Both sides run the same Cleaner (every default filter) on one local Ray of --cpus CPUs, in an actor
pool of --cpus actors sent one task at a time, and only count what they keep (no output is written):

- planner: datapipe.plan cuts the files into byte ranges aligned to line starts (the line counts of
  earlier ranges give stable `<path>:<line>` ids); each task runs datapipe.read.read_piece (the
  tolerant reader: malformed, oversized and non-UTF-8 lines become rejections) and clean_batch.
- read_text: ray.data.read_text over the same files (as latin-1, so that a line's own bytes come
  through: with its default utf-8 one invalid byte fails the whole read), then map_batches of the same JSON parsing
  (read._json_row) and Cleaner over batches of lines. Ray Data reads a file in one task (ray-project/ray
  #55418, open), and a row does not know its line number, so the fallback id of a record without
  an id cannot be `<path>:<line>`.
- read_json: ray.data.read_json(lines=True) on the same files; pyarrow's JSON reader stops at the
  first malformed line; for it and for read_text with utf-8, only whether it gets through is printed.

Printed: wall seconds, docs/s/core (input docs ÷ wall ÷ CPUs), the cleaning actors' CPU use
(their process time ÷ wall × CPUs), the number of map calls (planner tasks, or read_text batches), and the kept count (equal on both sides).
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
from scale import make_corpus  # noqa: E402 (bench/ is not a package)

import ray  # noqa: E402

from datapipe import plan  # noqa: E402
from datapipe.clean import Cleaner, clean_batch  # noqa: E402
from datapipe.config import DatapipeConfig, SourceConfig  # noqa: E402
from datapipe.read import _json_row, read_piece  # noqa: E402
from raypretrain import storage  # noqa: E402

ACTOR_CPUS = 0.5
"""Each cleaning actor's CPU reservation: actors holding 2 x 0.75 of 2 CPUs, or a whole CPU each, leave no
CPU for read_text's read task (it asks for 1), and the dataset waits forever."""


class PlannedReadClean:
    """One planner task: read its pieces with the tolerant reader, clean, count."""

    def __init__(self, tasks):
        self.tasks, self.cfg = tasks, DatapipeConfig()
        self.cleaner = Cleaner(self.cfg.clean)

    def __call__(self, batch):
        cpu = time.process_time()
        docs = kept = 0
        for t in batch["task"]:
            for piece in self.tasks[int(t)]:
                for table, _ in read_piece(storage.resolve(piece.uri), SourceConfig(), self.cfg.read,
                                           piece.start, piece.stop, piece.first_row):
                    table, _ = clean_batch(table, self.cleaner)
                    docs += table.num_rows
                    kept += table.column("status").to_pylist().count("ok")
        return {"docs": [docs], "kept": [kept], "cpu": [time.process_time() - cpu]}


class LinesClean:
    """A batch of read_text lines: the same JSON parsing and Cleaner, count."""

    def __init__(self):
        self.cleaner = Cleaner(DatapipeConfig().clean)
        self.source = SourceConfig()

    def __call__(self, batch):
        cpu = time.process_time()
        docs = kept = 0
        for line in batch["text"]:
            if not line.strip():
                continue
            docs += 1
            raw = line.encode("latin-1")   # read as latin-1: the line's own bytes, whatever they are
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                continue                   # rejected (invalid_utf8)
            _, text, _, reason, _ = _json_row(line, raw, "?", self.source)
            if reason is None and self.cleaner(text).reason is None:
                kept += 1
        return {"docs": [docs], "kept": [kept], "cpu": [time.process_time() - cpu]}


def counted(ds, cpus: int, start: float) -> dict:
    rows = ds.take_all()
    wall = time.perf_counter() - start
    docs, kept, cpu = (sum(r[k] for r in rows) for k in ("docs", "kept", "cpu"))
    return {"wall": wall, "docs": docs, "kept": kept, "use": cpu / (wall * cpus), "tasks": len(rows)}


def planner(paths: list[str], cpus: int) -> dict:
    start = time.perf_counter()
    cfg = DatapipeConfig()
    files = plan.input_files([(storage.resolve(p), "main") for p in paths], {"main": SourceConfig()})
    result = plan.make_plan(files, cfg.read.task_target_bytes, cpus,
                            run_meta=lambda batches: [[plan.probe_metadata(f) for f in b] for b in batches],
                            run_counts=lambda jobs: [plan.count_lines(storage.resolve(u), b) for u, b in jobs])
    pool = ray.data.ActorPoolStrategy(size=cpus, max_tasks_in_flight_per_actor=1)
    ds = ray.data.from_items([{"task": i} for i in range(len(result.tasks))], override_num_blocks=len(result.tasks))
    ds = ds.map_batches(PlannedReadClean, fn_constructor_args=(result.tasks,), batch_size=1, compute=pool,
                        num_cpus=ACTOR_CPUS)
    return counted(ds, cpus, start)


def read_text(paths: list[str], cpus: int) -> dict:
    start = time.perf_counter()
    pool = ray.data.ActorPoolStrategy(size=cpus, max_tasks_in_flight_per_actor=1)
    ds = ray.data.read_text(paths, encoding="latin-1").map_batches(LinesClean, batch_size=2048, compute=pool, num_cpus=ACTOR_CPUS)
    return counted(ds, cpus, start)


def gets_through(read, paths: list[str]) -> str:
    try:
        n = read(paths).count()
        return f"read {n:,} rows"
    except Exception as e:  # noqa: BLE001 (what it raised is the result)
        lines = re.sub(r"\x1b\[[0-9;]*m", "", str(e)).splitlines()
        raised = [x for x in lines if re.match(r"\w*(Error|Exception)\b", x)] or lines
        return f"failed: {raised[-1].strip()[:160]}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--docs", type=int, default=20_000)
    p.add_argument("--files", type=int, nargs="+", default=[1, 16])
    p.add_argument("--cpus", type=int, default=os.cpu_count() or 2)
    p.add_argument("--corpora", type=Path, help="keep the generated corpora here (bench/scale.py's layout)")
    args = p.parse_args(argv)
    corpora = args.corpora or Path(tempfile.mkdtemp(prefix="rdread-"))
    ray.init(address="local", num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    print(f"load average {os.getloadavg()[0]:.1f}; {args.docs:,} docs; {args.cpus} CPUs", flush=True)
    print("\n| files | side | map calls | wall s | docs/s/core | cleaning actors' CPU use | kept | ratio |\n"
          "|---|---|---:|---:|---:|---:|---:|---:|")
    for files in args.files:
        corpus, _ = make_corpus(corpora / f"in-{args.docs}-{files}", args.docs, files)
        paths = sorted(str(x) for x in Path(corpus if files > 1 else Path(corpus).parent).glob("*.jsonl"))
        ours = planner(paths, args.cpus)
        theirs = read_text(paths, args.cpus)
        for side, r in (("planner", ours), ("read_text", theirs)):
            print(f"| {files} | {side} | {r['tasks']} | {r['wall']:.1f} | {r['docs'] / r['wall'] / args.cpus:,.0f} | "
                  f"{100 * r['use']:.0f}% | {r['kept']:,} | {ours['wall'] / r['wall']:.2f}x |", flush=True)
        for side, read in (("read_text (utf-8)", ray.data.read_text),
                           ("read_json", lambda p: ray.data.read_json(p, lines=True))):
            print(f"| {files} | {side} | | | | | {gets_through(read, paths)} | |", flush=True)
    print(f"\nload average {os.getloadavg()[0]:.1f}; ratio: the planner's wall ÷ this side's (> 1: this side faster)")
    ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
