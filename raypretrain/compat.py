"""Every private Ray and datasketch name the project uses, in one place, behind a version fence.

Each entry says which version it was written against and the public alternative it waits for.
`tests/raypretrain/test_compat.py` resolves every name in PRIVATE, so an upgrade that moves one
fails there first, with the name and the version it was tested on. Names resolve lazily (PEP 562
`__getattr__`), so importing this module imports no Ray."""
from __future__ import annotations

import importlib
from typing import Any

TESTED = {"ray": "2.60", "deepspeed": "0.19", "datasketch": "2.0"}
"""The versions these shims were written against (pyproject.toml pins the same ranges)."""

PRIVATE: dict[str, tuple[str, str]] = {
    # Ray 2.60: Ray Data re-applies its logging config from this dict at every execution; there is
    # no public way to set its console handler's level (RAY_DATA_LOGGING_CONFIG replaces the whole file).
    "ray_data_logging": ("ray.data._internal.logging", ""),
    # Ray 2.60: Train V2 logs "Reporting training result" under a logger named by this file's path;
    # waits for a public Train logger name.
    "train_context": ("ray.train.v2._internal.execution.context", ""),
    # Ray 2.60: the worker-group lifecycle hook Tune trials use to free a stopped trial's placement
    # group; waits for a public Train V2 callback API (ray.train.UserCallback has no worker-group hooks).
    "WorkerGroupCallback": ("ray.train.v2._internal.execution.callback", "WorkerGroupCallback"),
    # datasketch 2.0: the (bands, rows) optimiser MinHashLSH uses; not exported. datapipe.minhash
    # has a numpy port of it that takes over if this moves.
    "datasketch_optimal_param": ("datasketch.lsh", "_optimal_param"),
    # Ray 2.60: the function `ray job submit --working-dir` zips with (tests check what would ship).
    "create_package": ("ray._private.runtime_env.packaging", "create_package"),
    # Ray 2.60: the driver-side fan-out of the worker lines log_to_driver forwards (worker.print_logs
    # emits each batch to it; print_to_stdstream prints them); raypretrain.noise wraps its emit to drop
    # the lines listed in noise.NOISE. Waits for a public hook or filter for forwarded worker logs.
    "stdstream_dispatcher": ("ray._private.ray_logging", "global_worker_stdstream_dispatcher"),
    # Ray 2.60: how an address-less ray.init() (and the state API in a worker) picks its cluster:
    # RAY_ADDRESS, then the last `ray start`'s file, else None (start a new local Ray). Waits for a
    # public "which cluster would ray.init() join" call.
    "canonicalize_bootstrap_address": ("ray._private.services", "canonicalize_bootstrap_address"),
    # Ray 2.60: the same, as the state API runs it in a worker (it raises with no or several clusters
    # on the machine); tests check which cluster a worker finds.
    "canonicalize_bootstrap_address_or_die": ("ray._private.services", "canonicalize_bootstrap_address_or_die"),
}
"""name → (module, attribute; empty for the module itself)."""

RAY_DATA_PROGRESS_LOGGER = "ray.data._internal.progress"
"""Ray 2.60: the logger of Ray Data's "Progress bars disabled" warning in workers."""

RAY_TOKEN_AUTH_LOGGER = "ray._private.authentication.authentication_token_setup"
"""Ray 2.60: the logger of "Token authentication is enabled for this Ray cluster" at a ray.init that
starts a local Ray (raypretrain.noise keeps it off the console); waits for a public switch for the notice."""


def placement_group_of(worker_group: Any):
    """Ray 2.60: a Train V2 worker group's placement group (private state; waits for a public handle)."""
    return worker_group.get_worker_group_state().placement_group_handle.placement_group


def resolve(name: str) -> Any:
    module, attr = PRIVATE[name]
    try:
        mod = importlib.import_module(module)
        return getattr(mod, attr) if attr else mod
    except (ImportError, AttributeError) as e:
        tested = TESTED["datasketch" if module.startswith("datasketch") else "ray"]
        raise ImportError(f"{module}.{attr or ''} moved ({e}); raypretrain.compat was written against "
                          f"{module.split('.')[0]} {tested}: update the shim") from None


def __getattr__(name: str) -> Any:
    if name in PRIVATE:
        return resolve(name)
    raise AttributeError(name)
