"""Exact dedup: a 128-bit hash of the normalized text decides; the lowest doc_id wins.

Documents are routed to hash buckets while they are cleaned, so every copy of a text
lands in the same bucket whichever task read it; each bucket is then deduplicated on
its own. Memory per bucket task is about (corpus size / number of buckets).

Ids: near-dedup, clusters and the lowest-id rule name documents by doc_id, so two records
with one id would be removed (or kept) together. Every passing record's id is routed, with
where it was read, to an id partition; a record whose id an earlier one (by input file,
then record) already has is rejected as duplicate_id before exact dedup.
"""
from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

HASH_BYTES = 16
# duplicates/ rows: duplicate_of is the kept document the removed one matched, cluster_id names its group
# (exact: the same id; batch near: the lowest id of its connected component of verified pairs), jaccard the
# exact Jaccard of the pair's shingle sets where it was computed (batch near with verify: exact), else null.
DUPLICATE_SCHEMA = pa.schema([("doc_id", pa.string()), ("source", pa.string()), ("duplicate_of", pa.string()),
                              ("cluster_id", pa.string()), ("kind", pa.string()), ("jaccard", pa.float64())])


def text_hash(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=HASH_BYTES).digest()


def bucket_of(digest: bytes, num_buckets: int) -> int:
    return int.from_bytes(digest[:8], "little") % num_buckets


def exact_dedup(table: pa.Table) -> tuple[pa.Table, pa.Table]:
    """Split a bucket (columns doc_id, source, text, hash) into (kept in doc_id order, duplicates).

    Within each group of equal hashes the lowest doc_id is kept; every other member
    becomes a duplicate row with duplicate_of set to the kept id. The sorting runs on the
    hash and doc_id columns only; the texts are copied once, into the kept table.
    """
    if table.num_rows == 0:
        return table, DUPLICATE_SCHEMA.empty_table()
    order = pc.sort_indices(table.select(["hash", "doc_id"]),
                            sort_keys=[("hash", "ascending"), ("doc_id", "ascending")])
    hashes = table.column("hash").take(order).combine_chunks()
    first = np.ones(table.num_rows, dtype=bool)
    first[1:] = pc.not_equal(hashes[1:], hashes[:-1]).to_numpy(zero_copy_only=False)
    # Index of each row's group leader: the last 'first' position at or before it.
    leader = np.maximum.accumulate(np.where(first, np.arange(table.num_rows), 0))
    ids = table.column("doc_id").take(order)
    dup_rows = np.flatnonzero(~first)
    kept_ids = ids.take(leader[dup_rows])
    duplicates = pa.table({
        "doc_id": ids.take(dup_rows),
        "source": table.column("source").take(order.take(pa.array(dup_rows))),
        "duplicate_of": kept_ids,
        "cluster_id": kept_ids,
        "kind": pa.array(["exact"] * len(dup_rows), pa.string()),
        "jaccard": pa.nulls(len(dup_rows), pa.float64()),
    }, schema=DUPLICATE_SCHEMA)
    leaders = pa.array(first)
    by_id = pc.sort_indices(ids.filter(leaders))
    return table.take(order.filter(leaders).take(by_id)), duplicates


# Where each passing record was read, for finding ids used twice: _work/ids/ rows.
ID_SCHEMA = pa.schema([("doc_id", pa.string()), ("file", pa.int32()), ("row", pa.int64()), ("bucket", pa.int32())])
REPEAT_SCHEMA = pa.schema([("file", pa.int32()), ("row", pa.int64()), ("bucket", pa.int32()),
                           ("doc_id", pa.string()), ("first_file", pa.int32()), ("first_row", pa.int64())])


def id_partition(doc_ids: list[str], partitions: int) -> np.ndarray:
    """The partition of each doc_id's row in _work/ids/: every record with one id meets in one."""
    return np.array([bucket_of(text_hash(d), partitions) for d in doc_ids], dtype=np.int64)


def repeated_ids(table: pa.Table) -> pa.Table:
    """The rows of `table` (ID_SCHEMA) whose doc_id an earlier row already has, earlier by input
    file, then record; with the position of the id's first record (REPEAT_SCHEMA). The first
    record keeps the id; every later one is a repeat, once."""
    if table.num_rows == 0:
        return REPEAT_SCHEMA.empty_table()
    table = table.sort_by([("doc_id", "ascending"), ("file", "ascending"), ("row", "ascending")])
    ids = table.column("doc_id").combine_chunks()
    first = np.ones(table.num_rows, dtype=bool)
    first[1:] = pc.not_equal(ids[1:], ids[:-1]).to_numpy(zero_copy_only=False)
    leader = np.maximum.accumulate(np.where(first, np.arange(table.num_rows), 0))
    rep = np.flatnonzero(~first)
    return pa.table({"file": table.column("file").take(rep), "row": table.column("row").take(rep),
                     "bucket": table.column("bucket").take(rep), "doc_id": ids.take(rep),
                     "first_file": table.column("file").take(leader[rep]),
                     "first_row": table.column("row").take(leader[rep])}, schema=REPEAT_SCHEMA)
