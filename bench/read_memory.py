"""Peak memory and time of datapipe.read.read_file on a JSONL file with one huge line.

    python bench/read_memory.py                        # a 200 MB line among 20,000 normal lines
    python bench/read_memory.py --line-mb 50 --suffix .jsonl.zst
    python bench/read_memory.py --old-rev none         # without the old reader

Two files go to a temp folder: normal.jsonl (only the normal ~200-byte lines) and
big.jsonl (the same lines, half before and half after a single line of --line-mb MB: a
JSON record with no id and a text of that size, far over read.max_doc_bytes, 1 MB).
Each run is a fresh child process that imports everything, notes its RSS, reads one
file through one reader and reports its peak RSS (ru_maxrss) and the wall time of the
read. The table shows the peak, the growth over the RSS after imports, and that growth
as a ratio to the baseline: the current reader on normal.jsonl.

Readers: `new` is datapipe/read.py as it stands; `old` is datapipe/read.py at --old-rev
(default dfccfc7, the version before over-long records were streamed past: it buffered
a line by re-concatenating it per 1 MiB chunk), loaded from `git show` as a module of
its own; `read()` reads the whole big file with one stream.read(), for contrast. The
old and new readers must give the same rows (ids, reasons, raw prefixes) on both files.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib.util
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

MiB = 2**20


def open_out(path: Path):
    """A binary writer for path, compressed as its suffix says."""
    if path.suffix == ".gz":
        return gzip.open(path, "wb", compresslevel=1)
    if path.suffix in (".zst", ".zstd"):
        import zstandard
        return zstandard.ZstdCompressor(level=1).stream_writer(open(path, "wb"))
    return open(path, "wb")


def write_files(folder: Path, suffix: str, line_mb: int, normal: int) -> tuple[Path, Path]:
    """normal<suffix> with `normal` ordinary lines; big<suffix> with the same and one huge line."""
    lines = [json.dumps({"id": f"d{i}", "text": f"document {i} " + "lorem ipsum " * 15}).encode() + b"\n"
             for i in range(normal)]
    small, big = folder / f"normal{suffix}", folder / f"big{suffix}"
    with open_out(small) as f:
        f.writelines(lines)
    piece = b"x" * MiB
    with open_out(big) as f:
        f.writelines(lines[: normal // 2])
        f.write(b'{"text": "')
        for _ in range(line_mb * 10**6 // MiB):
            f.write(piece)
        f.write(b"x" * (line_mb * 10**6 % MiB) + b'"}\n')
        f.writelines(lines[normal // 2:])
    return small, big


def child(reader: str, path: str) -> None:
    """In a fresh process: read one file with one reader; print a JSON line of results."""
    import pyarrow as pa
    from raypretrain import storage
    from datapipe.config import ReadConfig, SourceConfig

    pa.table({"x": ["y"]})  # pyarrow imports pandas on its first table: count it in the imports
    if reader not in ("new", "read()"):
        spec = importlib.util.spec_from_file_location("old_read", reader)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    else:
        from datapipe import read as module
    loc = storage.resolve(path)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    t0 = time.perf_counter()
    if reader == "read()":
        with loc.fs.open_input_stream(loc.path, compression="detect") as stream:
            size = len(stream.read())
        rows = {"bytes": size}
    else:
        ok, rejected, digest = 0, [], hashlib.sha256()
        for table in module.read_file(loc, SourceConfig(), ReadConfig()):
            for r in table.to_pylist():
                digest.update(repr((r["doc_id"], r["status"], r["reason"], r["text"], r["raw"])).encode())
                ok += r["status"] == "ok"
                if r["status"] != "ok":
                    rejected.append((Path(r["doc_id"]).name, r["reason"], len(r["raw"] or b"")))
        rows = {"ok": ok, "rejected": rejected, "sha256": digest.hexdigest()[:16]}
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"base": base, "peak": peak, "seconds": seconds, "rows": rows}))


def run(reader: str, path: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--_child", reader, str(path)], check=True,
                         capture_output=True, text=True, cwd=REPO)
    return json.loads(out.stdout.strip().splitlines()[-1])


def old_reader(rev: str, folder: Path) -> Path | None:
    if rev == "none":
        return None
    src = subprocess.run(["git", "show", f"{rev}:datapipe/read.py"], check=True, capture_output=True,
                         text=True, cwd=REPO).stdout
    path = folder / "old_read.py"
    path.write_text(src)
    return path


def table(results: list[tuple[str, str, dict]]) -> None:
    base = results[0][2]
    base_growth = max(base["peak"] - base["base"], 1)
    print("| reader | file | read s | peak RSS MiB | growth over imports MiB | growth / baseline |")
    print("|---|---|---:|---:|---:|---:|")
    for reader, name, r in results:
        growth = r["peak"] - r["base"]
        print(f"| {reader} | {name} | {r['seconds']:.2f} | {r['peak'] / MiB:.0f} | {growth / MiB:.1f} "
              f"| {growth / base_growth:.1f}x |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--line-mb", type=int, default=200, help="size of the huge line, MB")
    ap.add_argument("--normal", type=int, default=20_000, help="normal lines in each file")
    ap.add_argument("--suffix", default=".jsonl", choices=[".jsonl", ".jsonl.gz", ".jsonl.zst"])
    ap.add_argument("--old-rev", default="dfccfc7", help="git revision of the old read.py, or none")
    ap.add_argument("--_child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._child:
        return child(*args._child)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        small, big = write_files(folder, args.suffix, args.line_mb, args.normal)
        print(f"files: {big.name} {big.stat().st_size / MiB:.0f} MiB on disk ({args.line_mb} MB line + "
              f"{args.normal} lines), {small.name} {small.stat().st_size / MiB:.1f} MiB; "
              f"written in {time.perf_counter() - t0:.1f} s")
        old = old_reader(args.old_rev, folder)
        plan = [("new", small), ("new", big)] + ([(str(old), small), (str(old), big)] if old else [])
        plan.append(("read()", big))
        results = [("old" if r == str(old) else r, p.name, run(r, p)) for r, p in plan]
    table(results)
    by = {(reader, name): r["rows"] for reader, name, r in results}
    print("\nrows on", big.name, "(new):", by[("new", big.name)])
    if old:
        same = all(by[("old", p.name)] == by[("new", p.name)] for p in (small, big))
        print("old and new readers give the same rows on both files:", same)


if __name__ == "__main__":
    main()
