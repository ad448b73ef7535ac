"""Run `python -m datapipe` on a local multi-node Ray cluster; record which node ran each task.

    python -m tests.datapipe.multinode_run SPEC.json

SPEC is {"nodes": [cpus of node 0 (the head), cpus of node 1, ...], "runs": {name: [argv of
datapipe.main.main]}, "result": path}. Every run goes through the same cluster, one after
the other; the result file gets {"cluster_nodes": [node ids], "runs": {name: {"rc": exit code,
"stages": {stage: [node id of each task]}}}}. Used by test_multinode.py, which needs a cluster
of its own while the test session's `ray_local` is up in the pytest process; the caller sets
RAY_TMPDIR to a private folder so that no other `ray.init()` on this machine finds this cluster.
"""
from __future__ import annotations

import contextlib
import json
import sys
from collections import defaultdict
from collections.abc import Iterator


@contextlib.contextmanager
def record_nodes() -> Iterator[dict[str, list[str]]]:
    """While active, pipeline._map notes the node id in each task summary, per stage class."""
    from datapipe import pipeline

    seen: dict[str, list[str]] = defaultdict(list)
    original = pipeline._map

    def recording(stage, specs, cfg, out, *args, **kwargs):
        summaries = original(stage, specs, cfg, out, *args, **kwargs)
        seen[stage.__name__] += [s.node for s in summaries]
        return summaries

    pipeline._map = recording
    try:
        yield seen
    finally:
        pipeline._map = original


def main(spec_path: str) -> int:
    import ray
    from ray.cluster_utils import Cluster

    from datapipe.main import main as datapipe_main

    with open(spec_path) as f:
        spec = json.load(f)
    head, *others = spec["nodes"]
    node_args = {"object_store_memory": 100 * 2**20, "include_dashboard": False}
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": head, **node_args})
    try:
        for cpus in others:
            cluster.add_node(num_cpus=cpus, **node_args)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False)
        result = {"cluster_nodes": sorted(n["NodeID"] for n in ray.nodes() if n["Alive"]), "runs": {}}
        for name, argv in spec["runs"].items():
            with record_nodes() as seen:
                rc = datapipe_main(argv)
            result["runs"][name] = {"rc": rc, "stages": dict(seen)}
        with open(spec["result"], "w") as f:
            json.dump(result, f)
    finally:
        ray.shutdown()
        cluster.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
