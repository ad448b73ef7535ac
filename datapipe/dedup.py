"""Exact dedup: a 128-bit hash of the normalized text decides; the lowest doc_id wins.

Documents are routed to hash buckets while they are cleaned, so every copy of a text
lands in the same bucket whichever task read it; each bucket is then deduplicated on
its own. Memory per bucket task is about (corpus size / number of buckets).
"""
from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

HASH_BYTES = 16
# duplicates/ rows: the kept document's id is both duplicate_of and the cluster's name.
DUPLICATE_SCHEMA = pa.schema([("doc_id", pa.string()), ("source", pa.string()), ("duplicate_of", pa.string()),
                              ("cluster_id", pa.string()), ("kind", pa.string())])


def text_hash(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=HASH_BYTES).digest()


def bucket_of(digest: bytes, num_buckets: int) -> int:
    return int.from_bytes(digest[:8], "little") % num_buckets


def exact_dedup(table: pa.Table) -> tuple[pa.Table, pa.Table]:
    """Split a bucket (columns doc_id, source, text, hash) into (kept, duplicates).

    Within each group of equal hashes the lowest doc_id is kept; every other member
    becomes a duplicate row with duplicate_of set to the kept id.
    """
    if table.num_rows == 0:
        return table, DUPLICATE_SCHEMA.empty_table()
    table = table.sort_by([("hash", "ascending"), ("doc_id", "ascending")])
    hashes = table.column("hash").combine_chunks()
    first = np.ones(table.num_rows, dtype=bool)
    first[1:] = pc.not_equal(hashes[1:], hashes[:-1]).to_numpy(zero_copy_only=False)
    # Index of each row's group leader: the last 'first' position at or before it.
    leader = np.maximum.accumulate(np.where(first, np.arange(table.num_rows), 0))
    ids = table.column("doc_id")
    dup_rows = np.flatnonzero(~first)
    kept_ids = ids.take(leader[dup_rows])
    duplicates = pa.table({
        "doc_id": ids.take(dup_rows),
        "source": table.column("source").take(dup_rows),
        "duplicate_of": kept_ids,
        "cluster_id": kept_ids,
        "kind": pa.array(["exact"] * len(dup_rows), pa.string()),
    }, schema=DUPLICATE_SCHEMA)
    return table.filter(pa.array(first)), duplicates
