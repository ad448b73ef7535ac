"""One local Ray for the whole test session; tests that need Ray take `ray_local`."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", "0.2")
os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "1")


@pytest.fixture(scope="session")
def ray_local():
    import ray

    from raypretrain.ray_env import init_local

    if not ray.is_initialized():
        init_local(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
