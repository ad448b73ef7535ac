"""Near-duplicate removal from LSH band keys: candidate edges, verified pairs, then keepers.

Batch mode: every (band key, document) row is routed to a partition by its key, so all
documents that share a band bucket meet in one task, which turns each bucket into candidate
edges. The MinHash signatures only propose: with verify="exact" an edge stands only if the
exact Jaccard of the two documents' shingle sets reaches the threshold (`exact_jaccard`).
Then, in doc_id order, a document is removed only if a verified edge joins it to a document
that is kept, and otherwise kept itself (`clusters`): no chaining, so in A~B~C with A and C
apart, B goes (as A's duplicate) and A and C both stay.

Streaming mode: `BandIndex` actors each own a slice of the band key space and answer
"has any earlier document had one of these keys?" while documents flow; the first wins.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from datapipe.config import NearDedupConfig
from datapipe.minhash import band_keys, estimate_pairs, shingle_hashes, signatures

EDGE_SCHEMA = pa.schema([("a", pa.string()), ("a_source", pa.string()), ("a_bucket", pa.int32()),
                         ("b", pa.string()), ("b_source", pa.string()), ("b_bucket", pa.int32())])
# Buckets with at most this many members are verified pairwise; bigger ones as a star
# around their lowest id (quadratic pairs would explode on a pathological bucket).
PAIRWISE_MAX = 32
SIGNATURE_CHUNK = 4096
"""Documents shingled and signed at a time by doc_signatures."""


def doc_shingles(text: str, cfg: NearDedupConfig) -> np.ndarray:
    """The document's shingle hashes as the config defines them: what its signature and its exact
    verification set are both made from."""
    return shingle_hashes(text, n=cfg.ngram, kind=cfg.shingle, max_shingles=cfg.max_shingles, hash=cfg.hash,
                          tokens=cfg.tokens)


def doc_signatures(texts: Sequence[str] | pa.Array | pa.ChunkedArray, cfg: NearDedupConfig) -> np.ndarray:
    """(n_docs, num_perm) uint32 MinHash signatures of the texts (Python strings, or an Arrow string
    column). SIGNATURE_CHUNK documents at a time, so only one chunk's strings and shingle hashes
    are in memory beyond the output (about num_perm × 4 bytes per document)."""
    out = np.empty((len(texts), cfg.num_perm), dtype=np.uint32)
    for lo in range(0, len(texts), SIGNATURE_CHUNK):
        chunk = texts[lo:lo + SIGNATURE_CHUNK]
        hashes = [doc_shingles(t, cfg) for t in (chunk.to_pylist() if hasattr(chunk, "to_pylist") else chunk)]
        out[lo:lo + len(hashes)] = signatures(hashes, num_perm=cfg.num_perm, seed=cfg.seed)
    return out


def band_rows(doc_ids: pa.Array, sources: pa.Array, sigs: np.ndarray, bucket: int, cfg: NearDedupConfig,
              partitions: int) -> dict[int, pa.Table]:
    """Rows (key, doc_id, source, bucket) for every band of every document, split by
    partition = key mod partitions. About 40 bytes per row; no signatures, no text."""
    bands, rows = cfg.lsh_params()
    keys = band_keys(sigs, bands, rows).reshape(-1)            # (n_docs * bands,)
    doc_of_row = np.repeat(np.arange(len(sigs)), bands)
    table = pa.table({"key": pa.array(keys, pa.uint64()), "doc_id": doc_ids.take(doc_of_row),
                      "source": sources.take(doc_of_row),
                      "bucket": pa.array(np.full(len(keys), bucket, dtype=np.int32))})
    part = keys % np.uint64(partitions)
    return {int(p): table.filter(pa.array(part == p)) for p in np.unique(part)}


def signature_table(doc_ids: pa.Array, sigs: np.ndarray) -> pa.Table:
    """doc_id and the signature as fixed-size binary, for verification later."""
    width = sigs.shape[1] * 4
    sig = pa.Array.from_buffers(pa.binary(width), len(sigs), [None, pa.py_buffer(np.ascontiguousarray(sigs).tobytes())])
    return pa.table({"doc_id": doc_ids, "sig": sig})


def signatures_of(table: pa.Table) -> np.ndarray:
    """Inverse of signature_table: the (n, num_perm) uint32 array."""
    col = table.column("sig").combine_chunks()
    width = col.type.byte_width // 4
    return np.frombuffer(col.buffers()[1], dtype=np.uint32)[col.offset * width:(col.offset + len(col)) * width] \
        .reshape(len(col), width)


def candidate_edges(rows: pa.Table, pairwise: bool) -> pa.Table:
    """Edges between documents that share a band key (rows: key, doc_id, source, bucket).

    A bucket becomes a star around its lowest id, or, with `pairwise` (used when edges
    will be verified, so a failed check cannot cut a document off from its match, and
    `clusters` sees the direct edge between any two members), every pair when it has at
    most PAIRWISE_MAX members.
    """
    if rows.num_rows < 2:
        return EDGE_SCHEMA.empty_table()
    rows = rows.sort_by([("key", "ascending"), ("doc_id", "ascending")])
    keys = rows.column("key").to_numpy()
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    sizes = np.diff(np.concatenate([starts, [len(keys)]]))
    multi = sizes >= 2
    if not multi.any():
        return EDGE_SCHEMA.empty_table()
    pairs_a, pairs_b = [], []
    for start, size in zip(starts[multi], sizes[multi]):
        if pairwise and size <= PAIRWISE_MAX:
            i, j = np.triu_indices(size, k=1)
            pairs_a.append(start + i)
            pairs_b.append(start + j)
        else:
            pairs_a.append(np.full(size - 1, start))
            pairs_b.append(np.arange(start + 1, start + size))
    a, b = np.concatenate(pairs_a), np.concatenate(pairs_b)
    ids, src, bucket = rows.column("doc_id"), rows.column("source"), rows.column("bucket")
    edges = pa.table({"a": ids.take(a), "a_source": src.take(a), "a_bucket": bucket.take(a),
                      "b": ids.take(b), "b_source": src.take(b), "b_bucket": bucket.take(b)}, schema=EDGE_SCHEMA)
    return distinct_edges(edges)


def verify_edges(edges: pa.Table, candidates: pa.Table, threshold: float,
                 how: Literal["exact", "estimate"] = "exact") -> pa.Table:
    """The distinct candidate edges that are near duplicates.

    how="exact": `candidates` is `candidate_sets` (doc_id, shingles) of every endpoint; an edge
    stands if the exact Jaccard of its endpoints' shingle sets is >= threshold, and the result
    gains a float64 `jaccard` column holding it. how="estimate": `candidates` is
    `signature_table` (doc_id, sig) of every endpoint; an edge stands if the signatures'
    estimated Jaccard is >= threshold (no column is added). Edges repeated across partitions
    (a pair sharing several band keys) are checked once.
    """
    if edges.num_rows == 0:
        return edges
    edges = distinct_edges(edges)
    a, b = (positions(edges.column(side), candidates.column("doc_id")) for side in ("a", "b"))
    if how == "estimate":
        return edges.filter(pa.array(estimate_pairs(signatures_of(candidates), a, b) >= threshold))
    if how != "exact":
        raise ValueError(f"how must be 'exact' or 'estimate', got {how!r}")
    values, offsets = shingle_sets_of(candidates)
    j = exact_jaccard(values, offsets, a, b)
    keep = j >= threshold
    return edges.filter(pa.array(keep)).append_column("jaccard", pa.array(j[keep], pa.float64()))


SHINGLES_TYPE = pa.list_(pa.uint32())


def candidate_sets(doc_ids: pa.Array, texts: list[str], cfg: NearDedupConfig) -> pa.Table:
    """doc_id and the document's shingle set as sorted distinct uint32 hashes (`shingles`): exactly
    the set `doc_signatures` makes its signature from (same n, kind, tokens, hash, and the
    max_shingles bottom-k cut), for exact verification. About 4 bytes per distinct shingle."""
    sets = [doc_shingles(t, cfg) for t in texts]
    offsets = np.zeros(len(sets) + 1, dtype=np.int32)
    np.cumsum([len(h) for h in sets], out=offsets[1:])
    flat = np.concatenate(sets).astype(np.uint32, copy=False) if sets else np.empty(0, np.uint32)
    return pa.table({"doc_id": doc_ids,
                     "shingles": pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), pa.array(flat, pa.uint32()))},
                    schema=pa.schema([("doc_id", pa.string()), ("shingles", SHINGLES_TYPE)]))


def shingle_sets_of(table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """(values, offsets) of `candidate_sets` rows: row r's set is values[offsets[r]:offsets[r+1]]
    (uint32, int64 offsets). One copy of the values, chunk by chunk (tables read bucket by bucket)."""
    values, sizes = [], []
    for chunk in table.column("shingles").chunks:
        off = chunk.offsets.to_numpy()
        values.append(chunk.values.to_numpy()[off[0]:off[-1]])
        sizes.append(np.diff(off))
    offsets = np.zeros(table.num_rows + 1, dtype=np.int64)
    if sizes:
        np.cumsum(np.concatenate(sizes), out=offsets[1:])
    return (np.concatenate(values) if values else np.empty(0, np.uint32)), offsets


def exact_jaccard(values: np.ndarray, offsets: np.ndarray, i: np.ndarray, j: np.ndarray,
                  block: int = 1 << 22) -> np.ndarray:
    """|A ∩ B| / |A ∪ B| for each pair (i[k], j[k]) of sets, set r being the sorted distinct
    values[offsets[r]:offsets[r+1]]; two empty sets count 1.0 (as their MinHash estimate does).

    Vectorised over blocks of pairs holding about `block` set elements together: each pair's
    elements are tagged with its position in the block, the two sides (each already sorted) are
    merged by a stable sort, and an element of both sets shows up as two equal neighbours.
    Memory: a few arrays of `block` elements (8 bytes each) beyond the inputs.
    """
    i, j = np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64)
    la, lb = offsets[i + 1] - offsets[i], offsets[j + 1] - offsets[j]
    inter = np.zeros(len(i), dtype=np.int64)
    cum = np.cumsum(la + lb)
    lo = 0
    while lo < len(i):
        hi = max(lo + 1, int(np.searchsorted(cum, (cum[lo - 1] if lo else 0) + block, side="right")))
        keys = np.concatenate([_tagged(values, offsets, i[lo:hi], la[lo:hi]),
                               _tagged(values, offsets, j[lo:hi], lb[lo:hi])])
        keys.sort(kind="stable")  # two sorted runs: one merge
        both = keys[1:][keys[1:] == keys[:-1]]
        inter[lo:hi] = np.bincount((both >> np.uint64(32)).astype(np.int64), minlength=hi - lo)
        lo = hi
    union = la + lb - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def _tagged(values: np.ndarray, offsets: np.ndarray, rows: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """The elements of the sets `rows`, each as (position of its row in `rows`) << 32 | value, uint64,
    in row order: sorted when each set is."""
    total = int(sizes.sum())
    starts = np.cumsum(sizes) - sizes
    owner = np.repeat(np.arange(len(rows), dtype=np.uint64), sizes)
    pos = np.arange(total, dtype=np.int64) + np.repeat(offsets[rows] - starts, sizes)
    return (owner << np.uint64(32)) | values[pos].astype(np.uint64)


def positions(ids: pa.Array | pa.ChunkedArray, of: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The row of `of` holding each of `ids` (Arrow's hash table: no Python strings); every id must be there."""
    found = pc.index_in(ids, value_set=of.combine_chunks() if isinstance(of, pa.ChunkedArray) else of)
    if found.null_count:
        raise ValueError(f"{found.null_count} edge endpoints have no candidate row")
    return found.to_numpy(zero_copy_only=False).astype(np.int64)


def distinct_edges(edges: pa.Table) -> pa.Table:
    """Each edge once (an edge's ends are always in doc_id order, a < b, so a pair has one spelling)."""
    return edges.group_by(EDGE_SCHEMA.names, use_threads=False).aggregate([]).select(EDGE_SCHEMA.names)


CLUSTER_SCHEMA = pa.schema([("doc_id", pa.string()), ("source", pa.string()), ("bucket", pa.int32()),
                            ("duplicate_of", pa.string()), ("cluster_id", pa.string()), ("jaccard", pa.float64())])


def clusters(edges: pa.Table) -> pa.Table:
    """The documents the verified edges remove, one row each, without chaining.

    Walk the documents of the edges in doc_id order: a document is removed if an edge joins
    it to a lower-id document that is kept, and kept otherwise (so the lowest id of every
    connected component is kept). Kept documents are never joined by an edge, and every removed
    one is joined to the kept document it duplicates. A chain A~B~C with A and C apart keeps
    A and C and removes B; connected components would have removed B and C.

    Returns doc_id, source, bucket, duplicate_of (the kept document it matched: of several, the
    one with the highest `jaccard`, then the lowest id), cluster_id (the lowest doc_id of its
    connected component, naming the group) and jaccard (the matched edge's `jaccard` column,
    null where the edges have none). Memory: the node and edge arrays, about 60 bytes per
    edge plus the distinct ids, all in this one task.

    Limit: the rule sees only the edges it is given. With pairwise candidates a band bucket of
    more than PAIRWISE_MAX members gives only a star around its lowest id, so a document whose
    match is another member of such a bucket, and in no smaller bucket, can be kept although it
    is a near duplicate of a kept document (one fewer removal; nothing is ever removed without
    a verified edge to a kept document).
    """
    if edges.num_rows == 0:
        return CLUSTER_SCHEMA.empty_table()
    nodes = pa.concat_tables([
        edges.select(["a", "a_source", "a_bucket"]).rename_columns(["doc_id", "source", "bucket"]),
        edges.select(["b", "b_source", "b_bucket"]).rename_columns(["doc_id", "source", "bucket"]),
    ]).group_by(["doc_id", "source", "bucket"], use_threads=False).aggregate([]).sort_by("doc_id")
    u, v = (positions(edges.column(side), nodes.column("doc_id")) for side in ("a", "b"))
    n = nodes.num_rows
    graph = coo_matrix((np.ones(len(u), dtype=np.int8), (u, v)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    # Nodes are sorted by doc_id, so the first node of each label is its lowest id.
    first = np.full(label.max() + 1, n, dtype=np.int64)
    np.minimum.at(first, label, np.arange(n))
    root = first[label]
    # Node order is doc_id order. Edges by their higher end, best match first: when an edge's
    # higher end h comes up, its lower end l < h is already decided (all edges ending at l sorted
    # before), so "l is kept" is final.
    hi, lo = np.maximum(u, v), np.minimum(u, v)
    has_j = "jaccard" in edges.column_names
    jac = edges.column("jaccard").to_numpy(zero_copy_only=False).astype(np.float64) if has_j \
        else np.zeros(len(u))
    order = np.lexsort((lo, -jac, hi))
    kept = [True] * n
    match = [-1] * n
    for e, h, l in zip(order.tolist(), hi[order].tolist(), lo[order].tolist()):
        if kept[h] and kept[l] and h != l:
            kept[h] = False
            match[h] = e
    members = np.flatnonzero(~np.array(kept, dtype=bool))
    edge_of = np.array(match, dtype=np.int64)[members]
    ids = nodes.column("doc_id")
    return pa.table({"doc_id": ids.take(members), "source": nodes.column("source").take(members),
                     "bucket": nodes.column("bucket").take(members), "duplicate_of": ids.take(lo[edge_of]),
                     "cluster_id": ids.take(root[members]),
                     "jaccard": pa.array(jac[edge_of], pa.float64()) if has_j else pa.nulls(len(members), pa.float64())},
                    schema=CLUSTER_SCHEMA)


class BandIndex:
    """One shard of the streaming LSH index: band key → the earliest doc_id that had it. No texts.

    Earliest by ticket: shard 0 numbers each document as it answers its batch, and the other
    shards are then given those numbers, so every shard orders racing batches as shard 0 did
    (by arrival alone, two workers racing over a pair could each see the other's copy first in
    a different shard, and both copies would be dropped). A document only matches one with a
    lower ticket, or one earlier in its own batch, never itself.

    Retry-safe: a document seen before (a retried task's batch; doc_ids must name one document
    each) keeps its first ticket, so it matches what it matched the first time. That holds when
    the first attempt reached only some shards too (shard 0 is always asked first, so it has
    every document any shard has): a copy that arrived in between has the higher ticket and
    stays the duplicate, instead of each copy being dropped in favour of the other.

    Memory is about 150 bytes per stored key (a dict entry holding an int and a short id
    string): documents × bands × 150 B / number of shards, plus about 100 B per document for
    its ticket. Runs as a Ray actor.
    """

    def __init__(self) -> None:
        self.first: dict[int, str] = {}
        self.ticket_of: dict[str, int] = {}
        self.tickets = 0

    def check_insert(self, doc_ids: list[str], keys: np.ndarray,
                     tickets: list[int] | None = None) -> list[str | None]:
        """For each document in stream order (row of `keys`: its band keys in this shard),
        the id of an earlier document sharing a key, or None. Every key is then recorded
        for later documents (the earliest owner stays), so a chain A~B~C collapses to A
        (streaming chains and checks no pair; batch mode does neither, see `clusters`)."""
        return self.numbered_check_insert(doc_ids, keys, tickets)[1]

    def numbered_check_insert(self, doc_ids: list[str], keys: np.ndarray,
                              tickets: list[int] | None = None) -> tuple[list[int], list[str | None]]:
        """check_insert under `tickets` (one per document, from shard 0), or else under this
        shard's next ticket for new documents and their first one for documents seen before;
        returns (tickets, matches)."""
        first, ticket_of = self.first, self.ticket_of
        if tickets is None:
            self.tickets += 1
            tickets = [ticket_of.get(d, self.tickets) for d in doc_ids]
        matches: list[str | None] = []
        for doc_id, row, ticket in zip(doc_ids, keys.tolist(), tickets):
            match = next((first[k] for k in row
                          if k in first and first[k] != doc_id and ticket_of[first[k]] <= ticket), None)
            matches.append(match)
            ticket_of[doc_id] = ticket
            for k in row:
                if k not in first or ticket_of[first[k]] > ticket:
                    first[k] = doc_id
        return tickets, matches

    def size(self) -> int:
        return len(self.first)


class StreamingNearDedup:
    """Ask the BandIndex shards about a batch of documents, in order; one instance per worker."""

    def __init__(self, cfg: NearDedupConfig, shards: list) -> None:
        self.cfg, self.shards = cfg, shards
        self.bands, self.rows = cfg.lsh_params()

    def __call__(self, doc_ids: list[str], texts: list[str]) -> list[str | None]:
        """For each document, the id of an earlier near duplicate (so drop it), or None. A
        document asked about again (a retried task) is not its own duplicate (see BandIndex)."""
        # only the streaming mode's actors need Ray: the batch functions run in a Ray-free process
        # (bench/neardup_stage_bench.py measures their memory there)
        import ray

        if not doc_ids:
            return []
        # Shard 0 answers first and numbers the documents; the others order them by those numbers.
        slices = self.shard_keys(texts)
        tickets, first = ray.get(self.shards[0].numbered_check_insert.remote(doc_ids, slices[0]))
        answers = [first, *ray.get([shard.check_insert.remote(doc_ids, slices[s], tickets)
                                    for s, shard in enumerate(self.shards) if s])]
        return [next((a[i] for a in answers if a[i] is not None), None) for i in range(len(doc_ids))]

    def shard_keys(self, texts: list[str]) -> list[np.ndarray]:
        """Per shard, the (n_docs, its bands) band keys: band i lives in shard i mod n, so every
        shard sees a fixed slice of the bands."""
        keys = band_keys(doc_signatures(texts, self.cfg), self.bands, self.rows)
        n = len(self.shards)
        return [np.ascontiguousarray(keys[:, s::n]) for s in range(n)]
