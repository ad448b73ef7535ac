"""A static three-node cluster on this machine, driven with the `ray job submit` CLI.

Three `ray start` processes, each with its own resources, as cluster.yaml's node roles:
    head        {CPU: 0, stable_node: 1}        schedules no work, runs the job drivers
    data node   {CPU: 2, data_node: 1}          cluster.yaml's cpu_data
    train node  {CPU: 2, train_node: 2}         stands in for gpu_train: no GPU here, so the
                                                workers ask for `train_node` (scaling.resources_per_worker)
                                                where on a real cluster they ask for GPU
Both jobs go through the plain `ray job submit` command line that `cluster.submit` prints (here
built with its pure functions), against the head's dashboard. Where each task and actor ran is
read back from Ray's state API. Every process is stopped by process group (cluster/local.py).
"""
from __future__ import annotations

import json
import shlex
import subprocess
import time
from pathlib import Path

import pytest

from cluster.local import LocalCluster
from cluster.submit import build_submission, native_command
from datapipe.sample import write_corpus

REPO = Path(__file__).resolve().parents[2]
DATA_STAGES = {"Ingest", "Dedup", "NearCandidates", "CandidateSignatures", "VerifyEdges", "TokPack"}
RAY_DATA_CONTROL = {"_StatsActor", "ActorLocationTracker", "_AutoscalingCoordinatorActor"}


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster() as c:
        c.start_head(num_cpus=0, resources={"stable_node": 1})
        c.add_node(num_cpus=2, resources={"data_node": 1})
        c.add_node(num_cpus=2, resources={"train_node": 2})
        nodes = {n["node_id"]: n["resources_total"] for n in c.nodes()}
        c.roles = {role: next(i for i, r in nodes.items() if key in r)
                   for role, key in (("head", "stable_node"), ("data", "data_node"), ("train", "train_node"))}
        yield c
    assert all(p.poll() is not None for p in c.procs), "a ray start process outlived the cluster"


def ray_job_submit(cluster: LocalCluster, job: str, storage: Path, *job_args: str) -> tuple[str, str]:
    """Run the `ray job submit` CLI for a job and wait for it; return (its output, submission id)."""
    sid = f"{job}-{time.monotonic_ns()}"
    entrypoint, runtime_env = build_submission(job, list(job_args), str(storage))
    command = native_command(cluster.dashboard_url, entrypoint, runtime_env, submission_id=sid)
    proc = subprocess.run(shlex.split(command), cwd=REPO, env=cluster.env, capture_output=True, text=True,
                          timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and f"Job '{sid}' succeeded" in out, f"{command}\n{out[-6000:]}"
    return out, sid


def job_placement(cluster: LocalCluster, sid: str) -> tuple[list, list]:
    """The job's actors and tasks, each with the node it ran on, from the state API."""
    from ray.job_submission import JobSubmissionClient
    from ray.util.state import list_actors, list_tasks

    job_id = JobSubmissionClient(cluster.dashboard_url).get_job_info(sid).job_id
    actors = list_actors(address=cluster.dashboard_url, filters=[("job_id", "=", job_id)], detail=True, limit=10000)
    tasks = list_tasks(address=cluster.dashboard_url, filters=[("job_id", "=", job_id)], detail=True, limit=10000)
    return actors, tasks


@pytest.fixture(scope="module")
def jobs(cluster, tmp_path_factory):
    root = tmp_path_factory.mktemp("multinode")
    corpus = root / "corpus.jsonl"
    write_corpus(corpus, 150, seed=2)
    data = ray_job_submit(cluster, "data", root / "store", "--input", str(corpus), "--set", "tokenize.vocab_size=300",
                          "--set", "pack.seq_len=64", "--set", "dedup.num_buckets=2")
    train = ray_job_submit(cluster, "pretrain", root / "store", "--config", "configs/pretrain/debug.yaml",
                           "--set", "model.seq_len=64", "--set", "model.vocab_size=384", "--set", "train.max_steps=2",
                           "--set", "train.global_batch_tokens=256", "--set", "train.micro_batch_size=2",
                           "--set", "train.eval_every=2", "--set", "train.checkpoint_every=2",
                           "--set", "train.eval_blocks=2", "--set", "scaling.num_workers=2",
                           "--set", "scaling.cpus_per_worker=1", "--set", "scaling.resources_per_worker.train_node=1",
                           "--set", "sample.max_new_tokens=4")
    return {"root": root, "data": data, "train": train}


def test_data_job_runs_every_stage_on_the_data_node(cluster, jobs):
    out, sid = jobs["data"]
    stats = json.loads((jobs["root"] / "store" / "datapipe" / "stats.json").read_text())
    assert stats["input_docs"] == 150 and stats["tokens"] > 0
    assert "datapipe finished → " in out

    actors, tasks = job_placement(cluster, sid)
    stages = {a.class_name.split("(")[-1].rstrip(")") for a in actors if a.class_name.startswith("MapWorker(")}
    assert stages == DATA_STAGES, stages
    placed = {a.class_name: a.node_id for a in actors if a.node_id} | {t.name: t.node_id for t in tasks if t.node_id}
    assert {"near_clusters", "_train_tokenizer_task"} <= set(placed)
    # Every task and actor of the job ran on the data node, none on the training node (which has
    # free CPUs), except Ray Data's own zero-CPU bookkeeping actors, which Ray pins to the head.
    head = {name for name, node in placed.items() if node == cluster.roles["head"]}
    assert {name.split(".")[0] for name in head} <= RAY_DATA_CONTROL, head
    off = {name: node for name, node in placed.items() if node not in (cluster.roles["data"], cluster.roles["head"])}
    assert not off, f"data-job work off the data node: {off} (roles {cluster.roles})"


def test_training_job_runs_both_workers_on_the_training_node(cluster, jobs):
    out, sid = jobs["train"]
    assert "[pretrain] done: step 2" in out, out[-3000:]
    assert list((jobs["root"] / "store" / "pretrain" / "debug").glob("checkpoint_*/state.json"))

    actors, _ = job_placement(cluster, sid)
    workers = [a for a in actors if a.class_name == "RayTrainWorker"]
    assert len(workers) == 2 and {a.node_id for a in workers} == {cluster.roles["train"]}, \
        [(a.class_name, a.node_id) for a in actors]
    assert not [a for a in actors if a.node_id == cluster.roles["data"] and a.class_name == "RayTrainWorker"]


def test_job_drivers_ran_on_the_head(cluster, jobs):
    from ray.job_submission import JobSubmissionClient

    client = JobSubmissionClient(cluster.dashboard_url)
    for _, sid in (jobs["data"], jobs["train"]):
        assert client.get_job_info(sid).driver_node_id == cluster.roles["head"]
