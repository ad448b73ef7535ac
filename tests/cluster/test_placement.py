"""cluster.placement: extra resources only when the cluster has (or can start) the node kind."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cluster.placement import (DATA_RESOURCE, SLIVER, STABLE_RESOURCE, data_resources, gpus_available,
                               trial_driver_resources)

REPO = Path(__file__).resolve().parents[2]


def test_a_plain_local_ray_places_anywhere(ray_local, monkeypatch):
    monkeypatch.delenv("RAYPRETRAIN_DATA_NODES", raising=False)
    monkeypatch.delenv("RAYPRETRAIN_STABLE_NODES", raising=False)
    monkeypatch.delenv("RAYPRETRAIN_GPU_NODES", raising=False)
    assert DATA_RESOURCE not in ray_local.cluster_resources()
    assert data_resources() == {} and trial_driver_resources() == {} and not gpus_available()


def test_the_environment_declares_nodes_the_autoscaler_can_start(ray_local, monkeypatch):
    monkeypatch.setenv("RAYPRETRAIN_DATA_NODES", "1")
    monkeypatch.setenv("RAYPRETRAIN_STABLE_NODES", "1")
    assert data_resources() == {DATA_RESOURCE: SLIVER} and trial_driver_resources() == {STABLE_RESOURCE: SLIVER}
    monkeypatch.setenv("RAYPRETRAIN_DATA_NODES", "0")
    assert data_resources() == {}
    monkeypatch.setenv("RAYPRETRAIN_GPU_NODES", "1")
    assert gpus_available()  # scaling.use_gpu: auto then asks for GPUs, which the autoscaler starts


def test_without_ray_only_the_environment_counts():
    """In a fresh process (the session's Ray may be up in this one): no Ray, no cluster to ask."""
    code = ("import os, ray; from cluster.placement import data_resources as d; assert not ray.is_initialized(); "
            "a = d(); os.environ['RAYPRETRAIN_DATA_NODES'] = '1'; print(a, d())")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAYPRETRAIN_")}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"{{}} {{'{DATA_RESOURCE}': {SLIVER}}}"
