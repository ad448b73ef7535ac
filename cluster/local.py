"""A multi-node Ray cluster on this machine: a `ray start` head whose autoscaler launches the workers.

    with LocalCluster() as c:
        c.start_head(num_cpus=1, resources={"stable_node": 1},
                     worker_types={"cpu_data": {"resources": {"CPU": 1, "data_node": 1}, "max_workers": 1}})
        # c.address (GCS, for ray.init), c.dashboard_url (for ray job submit --address)

    with LocalCluster() as c:                   # or a static cluster: a head and `ray start` workers
        c.start_head(num_cpus=0)
        c.add_node(num_cpus=2, resources={"data_node": 1})

The head is `ray start --block` in a session of its own, with ports picked free, so it can run
beside any other Ray on the machine (a test session's local Ray, a colleague's cluster):
- a private --temp-dir: `ray start` writes <temp-dir>/ray_current_cluster, which an
  address-less `ray.init()` elsewhere on the machine would otherwise join;
- `stop()` signals only the process groups it started; never `ray stop`, which kills every
  Ray process on the machine.
`start_head(worker_types=...)` runs Ray's own autoscaler with its fake multi-node provider, which
launches and removes worker nodes as processes on this machine (see `fake_autoscaling_config`).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


NODE_PORTS = ("dashboard-agent-listen-port", "dashboard-agent-grpc-port", "runtime-env-agent-port",
              "metrics-export-port", "node-manager-port", "object-manager-port")
"""Ports every node opens; picked free so that several clusters can share the machine."""


def _ports(*names: str) -> list[str]:
    return [f"--{name}={free_port()}" for name in names]


def fake_autoscaling_config(worker_types: dict[str, dict], gcs_address: str, head_resources: dict | None = None,
                            idle_timeout_minutes: float = 0.1, max_workers: int = 4) -> dict:
    """A complete autoscaler config for Ray's fake multi-node provider (what `ray up` would write
    to ~/ray_bootstrap_config.yaml): worker_types are `available_node_types` entries
    ({"resources": {...}, "min_workers": 0, "max_workers": 1}); nodes join gcs_address."""
    types = {name: {"node_config": {}, "min_workers": 0, **t} for name, t in worker_types.items()}
    types["ray.head.default"] = {"resources": head_resources or {}, "node_config": {}, "max_workers": 0}
    return {
        "cluster_name": "fake-local",
        "max_workers": max_workers,
        "upscaling_speed": 1.0,
        "idle_timeout_minutes": idle_timeout_minutes,
        "docker": {},
        # As Ray's own fake_multi_node/example.yaml (not shipped in the 2.60 wheel): the fake nodes are
        # processes, known by node id, with nothing to set up over SSH.
        "provider": {"type": "fake_multinode", "gcs_address": gcs_address, "use_node_id_as_ip": True,
                     "disable_node_updaters": True, "disable_launch_config_check": True},
        "auth": {"ssh_user": "ubuntu"},
        "available_node_types": types,
        "head_node_type": "ray.head.default",
        "file_mounts": {}, "cluster_synced_files": [], "file_mounts_sync_continuously": False,
        "rsync_exclude": [], "rsync_filter": [],
        "initialization_commands": [], "setup_commands": [], "head_setup_commands": [],
        "worker_setup_commands": [], "head_start_ray_commands": [], "worker_start_ray_commands": [],
    }


class LocalCluster:
    def __init__(self, root: str | None = None, env: dict[str, str] | None = None):
        # Short path: Ray puts Unix sockets under it (108-byte limit).
        self.root = Path(root or tempfile.mkdtemp(prefix="rpc", dir="/tmp"))
        self.temp_dir = self.root / "ray"
        self.env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
        # No token auth: the cluster listens on 127.0.0.1 only, and its clients (tests, the job
        # drivers) would otherwise need this cluster's token in their environment.
        self.env.update(RAY_TMPDIR=str(self.root), RAY_AUTH_MODE="disabled", RAY_DATA_DISABLE_PROGRESS_BARS="1",
                        **(env or {}))
        self.procs: list[subprocess.Popen] = []
        self.address = self.dashboard_url = None

    def _start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        log = open(self.root / f"{name}.log", "wb")
        self.procs.append(subprocess.Popen(["ray", "start", "--block", "--disable-usage-stats", *args],
                                           env={**self.env, **(env or {})}, stdout=log, stderr=subprocess.STDOUT,
                                           start_new_session=True))
        log.close()

    def start_head(self, num_cpus: float = 1, resources: dict | None = None, num_gpus: int = 0,
                   worker_types: dict[str, dict] | None = None, idle_timeout_minutes: float = 0.1,
                   timeout: float = 90) -> str:
        """Start the head; with `worker_types`, also Ray's autoscaler, which launches those node types
        (as processes on this machine) when work needs them and removes them when idle."""
        port, dash = free_port(), free_port()
        ip = "127.0.0.1"
        self.address, self.dashboard_url = f"{ip}:{port}", f"http://127.0.0.1:{dash}"
        args = ["--head", f"--node-ip-address={ip}", f"--port={port}", f"--temp-dir={self.temp_dir}",
                f"--num-cpus={num_cpus}", f"--num-gpus={num_gpus}", "--object-store-memory=100000000",
                "--include-dashboard=true", "--dashboard-host=127.0.0.1", f"--dashboard-port={dash}",
                *_ports("ray-client-server-port", *NODE_PORTS)]
        if resources:
            args.append(f"--resources={json.dumps(resources)}")
        env = None
        if worker_types is not None:
            head = {"CPU": num_cpus, "GPU": num_gpus, **(resources or {})}
            config = fake_autoscaling_config(worker_types, self.address, head, idle_timeout_minutes)
            path = self.root / "autoscaling.json"
            path.write_text(json.dumps(config))
            args.append(f"--autoscaling-config={path}")
            env = {"RAY_FAKE_CLUSTER": "1", "AUTOSCALER_UPDATE_INTERVAL_S": "1"}
        self._start("head", args, env)
        self._wait(lambda: _get(f"{self.dashboard_url}/api/version") is not None, timeout, "the head's dashboard")
        self.wait_for_nodes(1, timeout)
        return self.address

    def add_node(self, num_cpus: float = 1, resources: dict | None = None, num_gpus: int = 0,
                 timeout: float = 60) -> None:
        """Start one more `ray start` worker node that joins the head (a static cluster, no autoscaler)."""
        alive = len(self.nodes())
        args = [f"--address={self.address}", "--node-ip-address=127.0.0.1", f"--num-cpus={num_cpus}",
                f"--num-gpus={num_gpus}", "--object-store-memory=100000000",
                *_ports(*NODE_PORTS)]
        if resources:
            args.append(f"--resources={json.dumps(resources)}")
        self._start(f"node{len(self.procs)}", args)
        self.wait_for_nodes(alive + 1, timeout)

    def nodes(self) -> list[dict]:
        """The alive nodes: [{"node_id", "resources_total", ...}] from the dashboard's state API."""
        # heavy (~0.4 s with ray): the helper starts its `ray start` processes without Ray in this process;
        # only asking the dashboard needs it
        from ray.util.state import list_nodes

        return [dict(vars(n)) for n in list_nodes(address=self.dashboard_url, filters=[("state", "=", "ALIVE")],
                                                  detail=True, raise_on_missing_output=False)]

    def wait_for_nodes(self, count: int, timeout: float = 60) -> list[dict]:
        nodes: list[dict] = []

        def enough() -> bool:
            nonlocal nodes
            try:
                nodes = self.nodes()
            except Exception:  # the dashboard is still starting
                return False
            return len(nodes) == count

        self._wait(enough, timeout, f"{count} alive nodes")
        return nodes

    def _wait(self, ok, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not ok():
            dead = [p.args for p in self.procs if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                raise RuntimeError(f"local cluster: no {what} after {timeout:.0f} s"
                                   + (f"; exited: {dead}" if dead else "") + f"; logs in {self.root}")
            time.sleep(0.5)

    def stop(self) -> None:
        """Stop what this cluster started: its unfinished jobs (a job's driver runs in a session
        of its own), then SIGTERM to each process group, then SIGKILL."""
        if self.dashboard_url and self.procs and self.procs[0].poll() is None:
            try:
                from ray.job_submission import JobSubmissionClient  # heavy (~0.6 s with ray), as in nodes()

                client = JobSubmissionClient(self.dashboard_url)
                for job in client.list_jobs():
                    if not job.status.is_terminal() and job.submission_id:
                        client.stop_job(job.submission_id)
            except Exception:  # best effort: the head may already be unhealthy
                pass
        for sig in (signal.SIGTERM, signal.SIGKILL):  # SIGKILL also reaps what drains too slowly (up to 30 s)
            for p in reversed(self.procs):
                try:
                    os.killpg(p.pid, sig)
                except ProcessLookupError:  # the whole group is gone
                    pass
            deadline = time.monotonic() + 5
            for p in self.procs:
                try:
                    p.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def _get(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.read()
    except OSError:
        return None
