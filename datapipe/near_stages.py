"""Batch near dedup's stages, after Dedup has written MinHash band rows (datapipe.stages):

    near(part)     _work/bands/p<part>/* → candidate edges _work/edges/p<part>.parquet
    csig(bucket)   the bucket's candidate documents → their shingle sets (or signatures), routed to
                   the buckets that verify their edges → _work/csig/b<verifier>/b<bucket>.parquet
                   (+ the distinct edges whose lower end is in the bucket, _work/vedges/b<bucket>.parquet)
    verify(bucket) _work/vedges/b<bucket> + _work/csig/b<bucket>/* → _work/verified/b<bucket>.parquet
    (one task)     all verified edges → keepers → _work/near/b<bucket>.parquet + duplicates/near-b<bucket>.parquet

TokPack (datapipe.stages) then leaves out the ids in _work/near/ (stages.near_removed).
"""
from __future__ import annotations

import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from raypretrain import storage
from datapipe.dedup import DUPLICATE_SCHEMA
from datapipe.layout import WorkLayout
from datapipe.neardup import candidate_edges, candidate_sets, clusters, distinct_edges, positions, verify_edges
from datapipe.plan import BucketSpec, PartitionSpec
from datapipe.stages import StageActor, timed
from datapipe.stats import CandidateSummary, ClustersSummary, NearSummary, VerifySummary


class NearCandidates(StageActor):
    """Turn one partition of band rows into candidate edges."""

    stage = "near"
    spec_type = PartitionSpec
    summary_type = NearSummary

    def run(self, spec: PartitionSpec) -> NearSummary:
        p = spec.partition
        parts = [storage.read_parquet(f) for f in storage.list_files(self.layout.bands_dir(p), ".parquet")]
        edges = candidate_edges(pa.concat_tables(parts), pairwise=bool(self.cfg.dedup.near.verify)) if parts else None
        if edges is not None and edges.num_rows:
            storage.write_parquet(self.layout.edges(p), edges)
        return NearSummary(partition=p, band_rows=sum(t.num_rows for t in parts),
                           edges=0 if edges is None else edges.num_rows)


class CandidateSignatures(StageActor):
    """Gather what verification needs of one bucket's documents that appear in any candidate edge:
    with verify: exact their shingle sets (`candidate_sets`, from their texts in the kept bucket), with
    estimate their signatures (from _work/sig/).

    Verification is split by an edge's lower end: VerifyEdges(v) checks the edges whose `a` is in
    bucket v. So this task writes the distinct edges whose lower end is in its bucket
    (_work/vedges/), and, for each bucket v whose edges reach one of its documents, those documents'
    sets (_work/csig/b<v>/b<bucket>.parquet): a document is copied once per verifying bucket."""

    stage = "csig"
    marker = False  # always rerun (cheap, and its inputs may have changed)
    summary_type = CandidateSummary
    batch_rows = 4096
    """Kept rows read at once while looking for the candidates' texts."""

    def run(self, spec: BucketSpec) -> CandidateSummary:
        b = spec.bucket
        mine, needs = [], []  # edges this bucket verifies; (doc_id, verifier) for this bucket's documents
        for f in storage.list_files(self.layout.edges_dir, ".parquet"):
            e = storage.read_parquet(f)
            lower = pc.equal(e.column("a_bucket"), b)
            mine.append(e.filter(lower))
            needs.append(pa.table({"doc_id": e.column("a").filter(lower),
                                   "verifier": pa.array(np.full(mine[-1].num_rows, b, np.int32))}))
            upper = pc.equal(e.column("b_bucket"), b)
            needs.append(pa.table({"doc_id": e.column("b").filter(upper),
                                   "verifier": e.column("a_bucket").filter(upper)}))
        edges = pa.concat_tables(mine) if mine else None
        if edges is not None and edges.num_rows:
            storage.write_parquet(self.layout.vedges(b), distinct_edges(edges))
        del mine, edges
        needs_t = pa.concat_tables(needs).group_by(["doc_id", "verifier"], use_threads=False).aggregate([]) \
            if needs else None
        if needs_t is None or not needs_t.num_rows:
            return CandidateSummary(bucket=b, candidate_docs=0)
        wanted = pc.unique(needs_t.column("doc_id")).sort()
        if self.cfg.dedup.near.verify == "estimate":
            sigs = storage.read_parquet(self.layout.sig(b))
            found = sigs.filter(pc.is_in(sigs.column("doc_id"), wanted))
        else:
            found = self._candidate_sets(b, wanted)
        rows = positions(needs_t.column("doc_id"), found.column("doc_id"))
        verifier = needs_t.column("verifier").to_numpy()
        for v in np.unique(verifier):
            storage.write_parquet(self.layout.csig(int(v), b), found.take(pa.array(rows[verifier == v])))
        return CandidateSummary(bucket=b, candidate_docs=len(wanted))

    def _candidate_sets(self, b: int, wanted: pa.Array) -> pa.Table:
        """`candidate_sets` of the wanted documents of kept bucket b, reading its doc_id and text
        columns a batch at a time: it holds one batch plus the sets found (about 4 bytes per
        distinct shingle of each candidate), never the bucket's texts."""
        parts = []
        loc = self.layout.kept(b)
        with loc.fs.open_input_file(loc.path) as f:
            for batch in pq.ParquetFile(f).iter_batches(batch_size=self.batch_rows, columns=["doc_id", "text"]):
                hit = batch.filter(pc.is_in(batch.column(0), wanted))
                if hit.num_rows:
                    parts.append(candidate_sets(hit.column(0), hit.column(1).to_pylist(), self.cfg.dedup.near))
        return pa.concat_tables(parts) if parts else candidate_sets(pa.array([], pa.string()), [], self.cfg.dedup.near)


class VerifyEdges(StageActor):
    """Verify the candidate edges whose lower end is in one bucket (_work/vedges/, with the sets
    CandidateSignatures routed to it, _work/csig/b<bucket>/) → _work/verified/b<bucket>.parquet.

    verify: exact: an edge stands if the exact Jaccard of its ends' shingle sets reaches the
    threshold, and keeps that Jaccard as a column; estimate: the signatures' estimate decides.
    Memory: the bucket's edges (about 60 bytes each) and the sets of their ends (4 bytes per
    shingle; estimate: 4 bytes × num_perm), about 1/num_buckets of all candidates."""

    stage = "verify"
    marker = False  # always rerun, as CandidateSignatures
    summary_type = VerifySummary

    def run(self, spec: BucketSpec) -> VerifySummary:
        b, near = spec.bucket, self.cfg.dedup.near
        loc = self.layout.vedges(b)
        if not storage.exists(loc):
            return VerifySummary(bucket=b, candidate_edges=0, verified_edges=0)
        edges = storage.read_parquet(loc)
        sets = pa.concat_tables([storage.read_parquet(f) for f in storage.list_files(self.layout.csig_dir(b), ".parquet")])
        verified = verify_edges(edges, sets, near.threshold, how=near.verify)
        storage.write_parquet(self.layout.verified(b), verified)
        return VerifySummary(bucket=b, candidate_edges=edges.num_rows, verified_edges=verified.num_rows)


def near_clusters(output: str, verified: bool, candidate_edges: int = 0) -> ClustersSummary:
    """Pick the documents to remove without chaining (neardup.clusters) from the verified edges
    (_work/verified/, written by VerifyEdges), or with `verified` False from every candidate
    edge (_work/edges/); one Ray task. `candidate_edges` is only reported.

    Writes, per dedup bucket, the near duplicates to drop (_work/near/) and to report
    (duplicates/near-b<bucket>.parquet, with each removed document's Jaccard when verify: exact).
    Memory: the edges it reads (about 60 bytes each) and the distinct documents in them; no
    shingle sets, signatures or texts.
    """
    layout = WorkLayout(storage.resolve(output))
    start, cpu = time.perf_counter(), time.process_time()
    folder = layout.verified_dir if verified else layout.edges_dir
    edges = [storage.read_parquet(f) for f in storage.list_files(folder, ".parquet")]
    edges_t = pa.concat_tables(edges) if edges else None
    del edges
    members = clusters(edges_t) if edges_t is not None else None
    n_members = n_clusters = 0
    if members is not None and members.num_rows:
        n_members = members.num_rows
        n_clusters = len(pc.unique(members.column("cluster_id")))
        bucket = members.column("bucket").to_numpy()
        for b in np.unique(bucket):
            rows = members.filter(pa.array(bucket == b))
            storage.write_parquet(layout.near(int(b)), rows.select(["doc_id"]))
            dups = pa.table({"doc_id": rows.column("doc_id"), "source": rows.column("source"),
                             "duplicate_of": rows.column("duplicate_of"), "cluster_id": rows.column("cluster_id"),
                             "kind": pa.array(["near"] * rows.num_rows, pa.string()),
                             "jaccard": rows.column("jaccard")}, schema=DUPLICATE_SCHEMA)
            storage.write_parquet(layout.near_duplicates(int(b)), dups)
    n_verified = 0 if edges_t is None else edges_t.num_rows
    summary = ClustersSummary(near_duplicate_docs=n_members, near_duplicate_clusters=n_clusters,
                              candidate_edges=candidate_edges if verified else n_verified, verified_edges=n_verified)
    return timed(summary, start, cpu)
