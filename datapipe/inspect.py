"""`raypretrain inspect OUTPUT` (or `python -m datapipe.inspect`): look at what a datapipe run removed
before trusting its filters.

    raypretrain inspect out/                                 the account (stats.json), as --summary
    raypretrain inspect out/ --reason c4:curly_bracket --n 5 five documents dropped with that reason, each with
                                                             its excerpt: the line that broke the rule where the
                                                             filter names one, else the start of the document
    raypretrain inspect out/ --reason boilerplate            every reason of one filter; rejection reasons
                                                             (malformed_json, too_large, ...) work too
    raypretrain inspect out/ --duplicates --n 5              removed/kept pairs and their texts (near ones first,
                                                             with the exact Jaccard batch near dedup verified)

It reads only dropped/, duplicates/, rejected/, stats.json, manifest.json and the kept buckets
(_work/kept/, there when the run had keep_work: true), never the inputs, so it is quick on a big output.
Exit status: 0 when something was shown, 1 when nothing matched, 2 for a bad OUTPUT.
"""
from __future__ import annotations

import argparse
import sys
import textwrap

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from datapipe.config import NearDedupConfig
from datapipe.minhash import shingles
from datapipe.stats import summary
from raypretrain import storage
from raypretrain.config import ConfigError

FOLDERS = ("dropped", "duplicates", "rejected")
"""What an output holds that inspect reads (with stats.json, manifest.json and _work/kept/)."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m datapipe.inspect", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("output", metavar="OUTPUT", help="a datapipe output folder or URI")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--summary", action="store_true", help="print the account, stats.json (the default)")
    mode.add_argument("--reason", metavar="REASON",
                      help="show documents dropped (or rejected) with this reason, or any reason of this filter")
    mode.add_argument("--duplicates", action="store_true", help="show removed duplicates beside the kept document")
    p.add_argument("--n", type=int, default=5, help="how many documents or pairs to show (default 5)")
    p.add_argument("--width", type=int, default=100, help="line width of the output (default 100)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.n < 1 or args.width < 20:
        print("inspect: error: --n must be at least 1 and --width at least 20", file=sys.stderr)
        return 2
    try:
        out = open_output(args.output)
    except ConfigError as e:
        print(f"inspect: error: {e}", file=sys.stderr)
        return 2
    if args.reason:
        return show_reason(out, args.reason, args.n, args.width)
    if args.duplicates:
        return show_duplicates(out, args.n, args.width)
    return show_summary(out)


def open_output(uri: str) -> storage.Location:
    """The output's Location; ConfigError unless it is a datapipe output (finished or not)."""
    out = storage.resolve(uri)
    try:
        present = storage.exists(out) and any(storage.exists(out.join(p)) for p in ("stats.json", *FOLDERS))
    except OSError as e:  # an object store that cannot be reached
        raise ConfigError(f"{uri}: cannot be read ({str(e).splitlines()[0]})") from None
    if not present:
        what = "does not exist" if not storage.exists(out) else "is not a datapipe output (no stats.json or dropped/)"
        raise ConfigError(f"{uri} {what}")
    return out


def show_summary(out: storage.Location) -> int:
    loc = out.join("stats.json")
    if not storage.exists(loc):
        print(f"{out.uri}: no stats.json (the run has not finished); dropped/, duplicates/ and rejected/ hold "
              "what its finished tasks wrote")
        return 1
    stats = storage.read_json(loc)
    print(f"account of {out.uri}")
    print(summary(stats, out.uri).split("\n", 1)[1])
    return 0


# --- dropped and rejected documents ------------------------------------------------------------

def _matches(reasons: pa.ChunkedArray, reason: str) -> pa.ChunkedArray:
    """The exact reason, or every reason of a filter given alone ("c4" matches "c4:curly_bracket")."""
    return pc.or_(pc.equal(reasons, reason), pc.starts_with(reasons, reason.rstrip(":") + ":"))


def _rows(folder: storage.Location, reason: str, n: int) -> tuple[int, list[dict], set[str]]:
    """(how many rows of dropped/ or rejected/ match `reason`, the first n of them, their columns)."""
    total, rows, columns = 0, [], set()
    for f in storage.list_files(folder, ".parquet"):
        count = pc.sum(_matches(storage.read_parquet(f, columns=["reason"]).column("reason"), reason)).as_py() or 0
        total += count
        if count and len(rows) < n:
            table = storage.read_parquet(f)
            columns.update(table.column_names)
            rows += table.filter(_matches(table.column("reason"), reason)).slice(0, n - len(rows)).to_pylist()
    return total, rows, columns


def _reasons(out: storage.Location) -> list[str]:
    """Every reason in dropped/ and rejected/."""
    seen: set[str] = set()
    for folder in ("dropped", "rejected"):
        for f in storage.list_files(out.join(folder), ".parquet"):
            seen.update(pc.unique(storage.read_parquet(f, columns=["reason"]).column("reason")).to_pylist())
    return sorted(seen)


def show_reason(out: storage.Location, reason: str, n: int, width: int) -> int:
    verb, (total, rows, columns) = "dropped", _rows(out.join("dropped"), reason, n)
    if not total:
        verb, (total, rows, columns) = "rejected", _rows(out.join("rejected"), reason, n)
    if not total:
        print(f"no document was dropped or rejected as {reason!r}; the reasons in {out.uri}: "
              + (", ".join(_reasons(out)) or "none"))
        return 1
    print(f"{total:,} documents {verb} as {reason}" + (f"; the first {len(rows)}:" if len(rows) < total else ":"))
    for row in rows:
        print(f"\n  {row['doc_id']}  (source {row['source']}, {row['reason']})")
        if verb == "rejected":
            raw = (row.get("raw") or b"").decode("utf-8", "replace")
            _wrapped(f"detail: {row.get('detail') or ''}", width)
            _wrapped(f"raw: {raw!r}", width)
        elif row.get("excerpt") is not None:
            _wrapped(f"excerpt: {row['excerpt']}", width)
    if verb == "dropped" and "excerpt" not in columns:
        print("\n(dropped/ holds no excerpts in this output: the ids are all there is to show)")
    return 0


def _wrapped(text: str, width: int, lines: int = 4) -> None:
    """Print `text` indented, wrapped to `width`, at most `lines` lines (then an ellipsis)."""
    text = " ⏎ ".join(text.splitlines()) or "(empty)"
    print(textwrap.fill(text, width, initial_indent="    ", subsequent_indent="      ", max_lines=lines,
                        placeholder=" …"))


# --- duplicates ---------------------------------------------------------------------------------

def _pairs(out: storage.Location, n: int) -> tuple[int, list[dict]]:
    """(how many duplicates there are, the first n, near duplicates first)."""
    files = storage.list_files(out.join("duplicates"), ".parquet")
    files.sort(key=lambda f: not f.path.rsplit("/", 1)[-1].startswith("near-"))
    total, rows = 0, []
    for f in files:
        table = storage.read_parquet(f)
        total += table.num_rows
        rows += table.slice(0, n - len(rows)).to_pylist()
    return total, rows


def kept_texts(out: storage.Location, ids: set[str]) -> dict[str, str] | None:
    """doc_id → text of the given ids from the kept buckets (_work/kept/), or None when the run
    did not keep them. The buckets are sorted by doc_id, so row-group statistics skip most rows."""
    files = storage.list_files(out.join("_work", "kept"), ".parquet")
    if not files:
        return None
    found: dict[str, str] = {}
    for f in files:
        with f.fs.open_input_file(f.path) as fh:
            table = pq.read_table(fh, columns=["doc_id", "text"], filters=[("doc_id", "in", sorted(ids))]) \
                if ids else pa.table({"doc_id": [], "text": []})
        found.update(zip(table.column("doc_id").to_pylist(), table.column("text").to_pylist()))
    return found


def _near_config(out: storage.Location) -> NearDedupConfig:
    """The run's near-dedup settings from manifest.json, or the defaults."""
    loc = out.join("manifest.json")
    near = storage.read_json(loc).get("config", {}).get("dedup", {}).get("near", {}) if storage.exists(loc) else {}
    try:
        return NearDedupConfig(**{k: near[k] for k in ("shingle", "tokens", "ngram") if k in near})
    except (TypeError, ConfigError):
        return NearDedupConfig()


def first_difference(a: str, b: str, context: int = 6) -> tuple[int, str, str]:
    """(index of the first word where `a` and `b` differ, and each text from `context` words before it)."""
    wa, wb = a.split(), b.split()
    at = next((i for i, (x, y) in enumerate(zip(wa, wb)) if x != y), min(len(wa), len(wb)))
    start = max(0, at - context)
    cut = (lambda words: ("… " if start else "") + " ".join(words[start:start + 40]))
    return at, cut(wa), cut(wb)


def show_duplicates(out: storage.Location, n: int, width: int) -> int:
    total, pairs = _pairs(out, n)
    if not pairs:
        print(f"no duplicates in {out.uri}")
        return 1
    texts = kept_texts(out, {p[k] for p in pairs for k in ("doc_id", "duplicate_of")})
    near = _near_config(out)
    print(f"{total:,} duplicates removed" + (f"; the first {len(pairs)}:" if len(pairs) < total else ":"))
    for p in pairs:
        # duplicates/' jaccard: the exact shingle-set Jaccard batch near dedup verified (null: not computed)
        jaccard = f", Jaccard {p['jaccard']:.3f}" if p.get("jaccard") is not None else ""
        print(f"\n  {p['doc_id']} ({p['kind']}{jaccard}) duplicates {p['duplicate_of']}  (source {p['source']})")
        if texts is None:
            continue
        kept, removed = texts.get(p["duplicate_of"]), texts.get(p["doc_id"])
        if p["kind"] == "exact":
            _wrapped(f"both: {kept}", width)
            continue
        if kept is None or removed is None:  # not in the kept buckets (an output of another layout)
            _wrapped(f"kept: {kept}", width)
            _wrapped(f"removed: {removed}", width)
            continue
        at, kept_part, removed_part = first_difference(kept, removed)
        if p.get("jaccard") is not None:  # shown above: the exact Jaccard the run verified the pair with
            print(f"    they first differ at word {at + 1}:")
        else:  # an older output, streaming mode or verify: estimate: recompute it from the texts
            a, b = (set(shingles(t, near.ngram, near.shingle, near.tokens)) for t in (kept, removed))
            print(f"    {near.shingle} {near.ngram}-gram Jaccard of the texts {len(a & b) / max(1, len(a | b)):.3f}; "
                  f"they first differ at word {at + 1}:")
        _wrapped(f"kept: {kept_part}", width, 2)
        _wrapped(f"removed: {removed_part}", width, 2)
    if texts is None:
        print("\n(texts are not kept in this output: run with --set keep_work=true to keep _work/kept/)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
