"""Where work goes on a cluster: data stages on CPU data nodes, trial drivers on stable nodes.

cluster.yaml gives CPU data workers the custom resource `data_node` and the head / on-demand
nodes `stable_node`. Work asks for a sliver of those resources only when the cluster has them,
so on a laptop (no custom resources) everything runs anywhere, without a flag.
"""
from __future__ import annotations

DATA_RESOURCE = "data_node"
STABLE_RESOURCE = "stable_node"
SLIVER = 0.001  # enough to pin placement; thousands of tasks fit on one node


def _has(resource: str) -> bool:
    import ray

    return ray.is_initialized() and ray.cluster_resources().get(resource, 0) > 0


def data_resources() -> dict[str, float]:
    """Extra Ray `resources=` for data-stage tasks and actors."""
    return {DATA_RESOURCE: SLIVER} if _has(DATA_RESOURCE) else {}


def trial_driver_resources() -> dict[str, float]:
    """Extra Ray resources for a Tune trial driver (it must not sit on a spot node)."""
    return {STABLE_RESOURCE: SLIVER} if _has(STABLE_RESOURCE) else {}
