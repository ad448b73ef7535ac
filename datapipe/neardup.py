"""Near-duplicate clustering from LSH band keys: candidate edges, then connected components.

Batch mode: every (band key, document) row is routed to a partition by its key, so all
documents that share a band bucket meet in one task, which turns each bucket into edges.
Connected components over all edges give the clusters; the lowest doc_id of a cluster is
kept and every other member becomes a duplicate of it.

Streaming mode: `BandIndex` actors each own a slice of the band key space and answer
"has any earlier document had one of these keys?" while documents flow; the first wins.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from datapipe.config import NearDedupConfig
from datapipe.minhash import band_keys, estimate_pairs, shingle_hashes, signatures

EDGE_SCHEMA = pa.schema([("a", pa.string()), ("a_source", pa.string()), ("a_bucket", pa.int32()),
                         ("b", pa.string()), ("b_source", pa.string()), ("b_bucket", pa.int32())])
# Buckets with at most this many members are verified pairwise; bigger ones as a star
# around their lowest id (quadratic pairs would explode on a pathological bucket).
PAIRWISE_MAX = 32


def doc_signatures(texts: list[str], cfg: NearDedupConfig) -> np.ndarray:
    """(n_docs, num_perm) uint32 MinHash signatures of the texts."""
    hashes = [shingle_hashes(t, n=cfg.ngram, kind=cfg.shingle, max_shingles=cfg.max_shingles, hash=cfg.hash,
                             tokens=cfg.tokens)
              for t in texts]
    return signatures(hashes, num_perm=cfg.num_perm, seed=cfg.seed)


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
    will be verified, so a failed check cannot cut a cluster apart), every pair when it
    has at most PAIRWISE_MAX members.
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
    return _distinct_edges(edges)


def verify_edges(edges: pa.Table, sigs: pa.Table, threshold: float) -> pa.Table:
    """Keep edges whose endpoints' signatures estimate Jaccard >= threshold.
    `sigs` (doc_id, sig) must hold every endpoint."""
    if edges.num_rows == 0:
        return edges
    index = {d: i for i, d in enumerate(sigs.column("doc_id").to_pylist())}
    a = np.fromiter((index[d] for d in edges.column("a").to_pylist()), dtype=np.int64, count=edges.num_rows)
    b = np.fromiter((index[d] for d in edges.column("b").to_pylist()), dtype=np.int64, count=edges.num_rows)
    return edges.filter(pa.array(estimate_pairs(signatures_of(sigs), a, b) >= threshold))


def _distinct_edges(edges: pa.Table) -> pa.Table:
    return edges.group_by(EDGE_SCHEMA.names, use_threads=False).aggregate([]).select(EDGE_SCHEMA.names)


def clusters(edges: pa.Table) -> pa.Table:
    """Connected components of the edge graph, as one row per non-kept member.

    Returns doc_id, source, bucket, duplicate_of (the component's lowest doc_id, which is
    kept) and cluster_id (the same id, naming the cluster). Memory: the node and edge
    arrays, about 60 bytes per edge plus the distinct ids, all in this one task.
    """
    out_schema = pa.schema([("doc_id", pa.string()), ("source", pa.string()), ("bucket", pa.int32()),
                            ("duplicate_of", pa.string()), ("cluster_id", pa.string())])
    if edges.num_rows == 0:
        return out_schema.empty_table()
    nodes = pa.concat_tables([
        edges.select(["a", "a_source", "a_bucket"]).rename_columns(["doc_id", "source", "bucket"]),
        edges.select(["b", "b_source", "b_bucket"]).rename_columns(["doc_id", "source", "bucket"]),
    ]).group_by(["doc_id", "source", "bucket"], use_threads=False).aggregate([]).sort_by("doc_id")
    index = {d: i for i, d in enumerate(nodes.column("doc_id").to_pylist())}
    u = np.fromiter((index[d] for d in edges.column("a").to_pylist()), dtype=np.int64, count=edges.num_rows)
    v = np.fromiter((index[d] for d in edges.column("b").to_pylist()), dtype=np.int64, count=edges.num_rows)
    n = nodes.num_rows
    graph = coo_matrix((np.ones(len(u), dtype=np.int8), (u, v)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    # Nodes are sorted by doc_id, so the first node of each label is its lowest id.
    first = np.full(label.max() + 1, n, dtype=np.int64)
    np.minimum.at(first, label, np.arange(n))
    root = first[label]
    members = np.flatnonzero(root != np.arange(n))
    ids = nodes.column("doc_id")
    root_ids = ids.take(root[members])
    return pa.table({"doc_id": ids.take(members), "source": nodes.column("source").take(members),
                     "bucket": nodes.column("bucket").take(members), "duplicate_of": root_ids,
                     "cluster_id": root_ids}, schema=out_schema)


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
        for later documents (the earliest owner stays), so a chain A~B~C collapses to A,
        as connected components would."""
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
