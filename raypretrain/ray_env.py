"""Joining Ray: the cluster in RAY_ADDRESS, or a local Ray started here, with quiet log levels.

Every job's main calls `connect` (or `start_ray` when it shows Ray Data's own progress bars); only
`cluster/` knows about clusters beyond that."""
from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys

import ray

from raypretrain import compat, noise


def start_ray(verbose: bool = False) -> None:
    """Join the cluster in RAY_ADDRESS, or start a local Ray; Ray's and Ray Data's INFO logs
    (dataset plans, "execution finished"), and Ray's lines about its own actors that cannot be fixed
    from outside (raypretrain.noise), on the console only when verbose."""
    if not ray.is_initialized():
        if not verbose:
            # Only the process that joins Ray here owns its console: a caller that ran ray.init
            # itself (a notebook, the test session) keeps its fd 2 as it is.
            noise.quiet_console()
        level = "INFO" if verbose else "WARNING"
        if compat.canonicalize_bootstrap_address(None) is None:  # no cluster to join: start one here
            init_local(logging_level=level)
        else:
            ray.init(logging_level=level)
    if "RAY_DATA_LOGGING_CONFIG" not in os.environ:
        # Ray Data re-applies its logging config at every dataset execution, so setting a level
        # once does not last. Its console handler's level lives in the default config dict it
        # re-reads (the file log, ray-data.log, keeps INFO and DEBUG).
        data_logging = compat.ray_data_logging
        data_logging.DEFAULT_CONFIG["handlers"]["console"]["level"] = "INFO" if verbose else "WARNING"
        data_logging.configure_logging()


def init_local(**kwargs) -> None:
    """ray.init(address="local", **kwargs): a new local Ray whose own processes know its address.

    Ray Train's PlacementGroupCleaner (a detached actor of every run) asks the state API about its
    controller with no address, so Ray looks for the cluster on the machine; with a second Ray
    running there (another job, a test cluster) it raises "Found multiple active Ray instances" and
    its monitor thread dies with a traceback on the console. So the GCS port is chosen here and
    RAY_ADDRESS names it in the environment the raylet (and so every worker) inherits. This process's
    own environment is left as it was."""
    with socket.socket() as s:
        s.bind(("", 0))
        port = s.getsockname()[1]
    pinned = {"RAY_ADDRESS": f"{ray.util.get_node_ip_address()}:{port}", "RAY_GCS_SERVER_PORT": str(port)}
    saved = {k: os.environ.get(k) for k in pinned}
    os.environ.update(pinned)
    try:
        ray.init(address="local", **kwargs)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def connect(verbose: bool = False) -> None:
    """start_ray, with Ray Data's progress bars off: training shows its own progress line."""
    import ray.data  # heavy (~0.6 s): python -m datapipe imports this module, and its --help loads no Ray Data

    start_ray(verbose)
    ray.data.DataContext.get_current().enable_progress_bars = False


@contextlib.contextmanager
def data_progress_bars():
    """Ray Data's progress bars while the driver runs datapipe, on a terminal only (and not with
    RAY_DATA_DISABLE_PROGRESS_BARS=1); off again for training, where our own progress line shows."""
    import ray.data  # heavy, as in connect

    ctx = ray.data.DataContext.get_current()
    saved = ctx.enable_progress_bars
    ctx.enable_progress_bars = sys.stdout.isatty() and os.environ.get("RAY_DATA_DISABLE_PROGRESS_BARS") != "1"
    # off on purpose (no terminal: a log file, `ray job submit`): not Ray Data's "Progress bars disabled"
    # WARNING at each dataset; a level the user set is kept
    bars = logging.getLogger(compat.RAY_DATA_PROGRESS_LOGGER)
    saved_level = bars.level
    if not ctx.enable_progress_bars and saved_level == logging.NOTSET:
        bars.setLevel(logging.ERROR)
    try:
        yield
    finally:
        ctx.enable_progress_bars = saved
        bars.setLevel(saved_level)
