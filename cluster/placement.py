"""Where work goes on a cluster: data stages on CPU data nodes, trial drivers on stable nodes.

cluster.yaml gives CPU data workers the custom resource `data_node` and the head / on-demand
nodes `stable_node`. Work asks for a sliver of those resources only when the cluster has them,
so on a laptop (no custom resources) everything runs anywhere, without a flag.

"Has them" means: a node with the resource is up now, or the environment variable says the
cluster can start one. An autoscaling cluster whose data workers are at zero has no `data_node`
in `ray.cluster_resources()` yet; the request for it is what makes the autoscaler launch one, so
waiting for it to appear would keep it at zero forever. cluster.yaml therefore sets
RAYPRETRAIN_DATA_NODES=1 on every node (docker `--env`), which the job drivers inherit.
(Ray 2.60's VM autoscaler does not publish its node types to the cluster: the GCS cluster config
that `ray._private.state.state.get_cluster_config()` reads stays empty, so there is nothing to ask.)
`RAYPRETRAIN_DATA_NODES=0` turns the data-node placement off; likewise RAYPRETRAIN_STABLE_NODES.
RAYPRETRAIN_GPU_NODES=1 (also set by cluster.yaml) makes `scaling.use_gpu: auto` train on GPUs
while the autoscaler has no GPU node up yet.
"""
from __future__ import annotations

import os

import ray

DATA_RESOURCE = "data_node"
STABLE_RESOURCE = "stable_node"
SLIVER = 0.001  # enough to pin placement; thousands of tasks fit on one node
ENV = {DATA_RESOURCE: "RAYPRETRAIN_DATA_NODES", STABLE_RESOURCE: "RAYPRETRAIN_STABLE_NODES", "GPU": "RAYPRETRAIN_GPU_NODES"}


def _has(resource: str) -> bool:
    declared = os.environ.get(ENV[resource], "").strip()
    if declared in ("0", "1"):
        return declared == "1"
    return ray.is_initialized() and ray.cluster_resources().get(resource, 0) > 0


def data_resources() -> dict[str, float]:
    """Extra Ray `resources=` for data-stage tasks and actors."""
    return {DATA_RESOURCE: SLIVER} if _has(DATA_RESOURCE) else {}


def trial_driver_resources() -> dict[str, float]:
    """Extra Ray resources for a Tune trial driver (it must not sit on a spot node)."""
    return {STABLE_RESOURCE: SLIVER} if _has(STABLE_RESOURCE) else {}


def gpus_available() -> bool:
    """Whether `scaling.use_gpu: auto` means GPUs: the cluster has them, or can start them."""
    return _has("GPU")
