"""Autoscaling on one machine: a `ray start` head running Ray's autoscaler, jobs via the Jobs API.

A head (1 CPU, `stable_node`) starts with Ray's autoscaler and its fake multi-node provider, which
launches worker nodes as processes here. Its node type stands in for cluster.yaml's:
    cpu_data   {CPU: 1, data_node: 1}, 0..1   (cluster.yaml: m6i.8xlarge spot with data_node)
Every node has RAYPRETRAIN_DATA_NODES=1, as cluster.yaml's docker --env gives them. The job goes
through `python -m cluster.submit` (JobSubmissionClient against the dashboard); where each actor
and task ran is read back from Ray's state API. Training placement on a static multi-node cluster,
through the `ray job submit` CLI, is tests/cluster/test_multinode.py.

The head has a free CPU, so the data stages run on a cpu_data node only because they ask for
`data_node`: with no worker up, that request is what makes the autoscaler launch one.
The session's `ray_local` may be up in this process: the cluster has its own ports and temp dir
(cluster/local.py) and is stopped by process group, never with `ray stop`.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cluster.local import LocalCluster
from datapipe.sample import write_corpus

REPO = Path(__file__).resolve().parents[2]
DATA_STAGES = {"Ingest", "Dedup", "NearCandidates", "CandidateSignatures", "VerifyEdges", "TokPack"}
DATA_TASKS = {"near_clusters", "_train_tokenizer_task"}


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(env={"RAYPRETRAIN_DATA_NODES": "1"}) as c:
        c.start_head(num_cpus=1, resources={"stable_node": 1}, idle_timeout_minutes=0.1,
                     worker_types={"cpu_data": {"resources": {"CPU": 1, "data_node": 1}, "max_workers": 1}})
        yield c


def submit(cluster: LocalCluster, job: str, storage: Path, *job_args: str) -> tuple[str, str]:
    """Run `python -m cluster.submit` for a job and wait for it; return (its output, submission id)."""
    sid = f"{job}-{time.monotonic_ns()}"
    proc = subprocess.run([sys.executable, "-m", "cluster.submit", job, "--address", cluster.dashboard_url,
                           "--storage", str(storage), "--submission-id", sid, "--", *job_args],
                          cwd=REPO, env=cluster.env, capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.stdout.startswith(f"ray job submit --address {cluster.dashboard_url} --working-dir . "), out[:2000]
    assert proc.returncode == 0 and f"{sid}: SUCCEEDED" in proc.stdout, out[-6000:]
    return proc.stdout, sid


def where(cluster: LocalCluster, sid: str) -> tuple[dict[str, dict], list, list]:
    """(node id → total resources, the job's actors, the job's tasks) from the state API."""
    from ray.job_submission import JobSubmissionClient
    from ray.util.state import list_actors, list_nodes, list_tasks

    job_id = JobSubmissionClient(cluster.dashboard_url).get_job_info(sid).job_id
    nodes = {n.node_id: n.resources_total for n in list_nodes(address=cluster.dashboard_url, detail=True, limit=1000)}
    actors = list_actors(address=cluster.dashboard_url, filters=[("job_id", "=", job_id)], detail=True, limit=10000)
    tasks = list_tasks(address=cluster.dashboard_url, filters=[("job_id", "=", job_id)], detail=True, limit=10000)
    return nodes, actors, tasks


@pytest.fixture(scope="module")
def data_job(cluster, tmp_path_factory):
    root = tmp_path_factory.mktemp("cluster-jobs")
    corpus = root / "corpus.jsonl"
    write_corpus(corpus, 150, seed=1)
    out, sid = submit(cluster, "data", root / "store", "--input", str(corpus), "--set", "tokenize.vocab_size=300",
                      "--set", "pack.seq_len=64", "--set", "dedup.num_buckets=2")
    return {"root": root, "out": out, "sid": sid, "shards": root / "store" / "datapipe"}


def test_data_job_launches_a_data_node_and_runs_every_stage_there(cluster, data_job):
    shards = data_job["shards"]
    stats = json.loads((shards / "stats.json").read_text())
    manifest = json.loads((shards / "manifest.json").read_text())
    assert stats["input_docs"] == 150 and stats["tokens"] > 0 and manifest["seq_len"] == 64
    assert stats["input_docs"] == (stats["kept_docs"] + sum(stats["dropped_docs"].values()) + stats["duplicate_docs"]
                                   + sum(stats["rejected_docs"].values()))
    assert "datapipe finished → " in data_job["out"]

    nodes, actors, tasks = where(cluster, data_job["sid"])
    data_nodes = {n for n, r in nodes.items() if "data_node" in r}
    head = {n for n, r in nodes.items() if "stable_node" in r}
    assert len(data_nodes) >= 1 and len(head) == 1  # the autoscaler launched it: none existed at the start
    # Pool actors that never got a node (the pools are sized from the cluster's CPUs, which here
    # include the head's) have node_id None; every actor that was placed is on a data node.
    stage_nodes: dict[str, set] = {}
    for a in actors:
        if a.class_name.startswith("MapWorker(") and a.node_id:
            stage_nodes.setdefault(a.class_name.split("(")[-1].rstrip(")"), set()).add(a.node_id)
    assert set(stage_nodes) == DATA_STAGES, stage_nodes
    assert all(ns <= data_nodes for ns in stage_nodes.values()), f"stage actors off the data nodes: {stage_nodes}"
    task_nodes = {t.name: t.node_id for t in tasks if t.name in DATA_TASKS}
    assert set(task_nodes) == DATA_TASKS and set(task_nodes.values()) <= data_nodes, task_nodes


def test_idle_workers_are_removed(cluster, data_job):
    """After the job the autoscaler terminates the worker it launched (idle_timeout_minutes=0.1)."""
    from ray.util.state import list_nodes

    (head,) = cluster.wait_for_nodes(1, timeout=120)
    assert "stable_node" in head["resources_total"]
    gone = [n.resources_total for n in list_nodes(address=cluster.dashboard_url, detail=True, limit=1000)
            if n.state == "DEAD"]
    assert any("data_node" in r for r in gone), gone
