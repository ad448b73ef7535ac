"""tune/trial.py's placement-group reaper: the pure "is the owner dead?" decision, with Ray's real exception
objects, and a real Reaper on the session's Ray that leaves a live owner's placement group alone and removes it
once the owner is killed."""
from __future__ import annotations

import time

import pytest
import ray.exceptions

from tune.trial import Reaper, owner_dead


def test_only_a_died_owner_is_dead():
    unavailable = ray.exceptions.ActorUnavailableError("RPC error: connection reset", b"\x00" * 16)
    assert isinstance(unavailable, ray.exceptions.RayActorError)  # why `except RayActorError` was wrong
    assert not owner_dead(unavailable)  # transient: the trial may be alive and training
    assert not owner_dead(ray.exceptions.ActorUnavailableError("node draining", None))
    assert not owner_dead(None)  # it answered
    assert not owner_dead(ray.exceptions.GetTimeoutError("busy"))
    assert not owner_dead(ray.exceptions.RayActorError())  # the base class says "died or unavailable"
    assert not owner_dead(ConnectionError("gcs"))
    assert owner_dead(ray.exceptions.ActorDiedError())


def pg_state(pg) -> str:
    from ray.util import placement_group_table

    return placement_group_table(pg)["state"]


def test_the_reaper_keeps_a_live_owners_group_and_removes_a_dead_ones(ray_local):
    from ray.util.placement_group import placement_group

    @ray_local.remote(num_cpus=0)
    class Owner:
        pass

    owner = Owner.remote()
    ray_local.get(owner.__ray_ready__.remote())
    pg = placement_group([{"CPU": 0.01}])
    ray_local.get(pg.ready(), timeout=60)
    reaper = ray_local.remote(num_cpus=0)(Reaper).remote(owner, pg)
    watching = reaper.watch.remote()
    time.sleep(2)  # a few pings answered
    assert pg_state(pg) == "CREATED"
    ray_local.kill(owner)
    deadline = time.time() + 60
    while pg_state(pg) != "REMOVED" and time.time() < deadline:
        time.sleep(0.2)
    assert pg_state(pg) == "REMOVED"
    with pytest.raises(ray.exceptions.RayActorError):  # the reaper exited with its work done
        ray_local.get(watching, timeout=60)
