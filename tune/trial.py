"""One trial: the pretrain config of a sampled point, and the function Tune runs for it.

The function is only a driver: it builds the real TorchTrainer with pretrain.trainer.build_trainer
and waits on it, while TuneReportCallback forwards each evaluation to Tune. Each trial's Train
run is named by its trial id under <sweep>/trials, so a restored sweep finds the trial's own
checkpoints there (build_trainer's `--resume auto`).
"""
from __future__ import annotations

import logging
import math
import os
import time

import ray
import ray.data
import ray.tune
from raypretrain.compat import WorkerGroupCallback, placement_group_of
from ray.tune.integration.ray_train import TuneReportCallback
from ray.util.placement_group import remove_placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from cluster.placement import trial_driver_resources
from raypretrain.config import ConfigError, from_dict
from raypretrain.console import setup
from pretrain.config import PretrainConfig
from pretrain.trainer import build_trainer
from tune.space import merge

logger = logging.getLogger("tune")

INVALID = "invalid"
"""The key of the one result an invalid trial reports: why the pretrain config refused its point."""


def trial_config(base: dict, point: dict, sweep_dir: str, trial_id: str) -> PretrainConfig:
    """The full pretrain config of one trial: the base, the sampled point, and where it writes."""
    data = merge(base, point)
    data["run"] = {**data.get("run", {}), "name": trial_id, "storage_path": os.path.join(sweep_dir, "trials"),
                   "tensorboard_dir": os.path.join(sweep_dir, "tensorboard", trial_id)}
    return from_dict(PretrainConfig, data)


def worst(mode: str) -> float:
    """The metric value no trial can do worse than: what diverged and invalid trials report."""
    return math.inf if mode == "min" else -math.inf


class ReportEvals(TuneReportCallback):
    """TuneReportCallback for evaluations only (a checkpoint-only report carries no metric, which
    Tune refuses), with a diverged (NaN/inf) metric reported as the worst value so ASHA can stop it."""

    def __init__(self, metric: str, mode: str):
        super().__init__()
        self.metric, self.worst = metric, worst(mode)

    def after_report(self, run_context, metrics, checkpoint):
        if self.metric not in metrics[0]:
            return
        if not math.isfinite(metrics[0][self.metric]):
            metrics = [{**metrics[0], self.metric: self.worst, "diverged": True}] + metrics[1:]
        super().after_report(run_context, metrics, checkpoint)


class FreeWhenStopped(WorkerGroupCallback):
    """When ASHA stops a trial, Tune ends the trial's actor and the Train controller dies with it,
    leaving the workers' placement group behind (it belongs to the sweep's job). Ray 2.60's own
    cleaner finds the dead controller only through the dashboard's state API; this one pings it."""

    def after_worker_group_start(self, worker_group) -> None:
        pg = placement_group_of(worker_group)
        # detached and outside the trial's placement group, so it outlives the trial it cleans up after
        reaper = ray.remote(num_cpus=0)(Reaper).options(
            lifetime="detached", resources=trial_driver_resources(),
            scheduling_strategy=PlacementGroupSchedulingStrategy(placement_group=None))
        reaper.remote(ray.get_runtime_context().current_actor, pg).watch.remote()


def owner_dead(error: BaseException | None) -> bool:
    """Whether a ping of the trial's controller that ended with `error` (None: it answered) proves the
    controller dead. Only ActorDiedError does. ActorUnavailableError is a RayActorError too, but
    transient (a network blip, a busy or restarting node): the actor may answer the next ping, and
    its trial's placement group must stay. A timeout or any other error proves nothing either."""
    return isinstance(error, ray.exceptions.ActorDiedError)


class Reaper:
    """A detached actor: removes placement group `pg` once `controller` is dead, then exits."""

    def __init__(self, controller, pg):
        self.controller, self.pg = controller, pg

    def watch(self) -> None:
        while True:
            try:
                ray.get(self.controller.__ray_ready__.remote(), timeout=30)
                error = None
            except Exception as e:  # noqa: BLE001 (owner_dead decides; anything else means ask again)
                error = e
            if owner_dead(error):
                break
            time.sleep(0.5)
        try:
            remove_placement_group(self.pg)  # a no-op when the run shut down normally
        finally:
            ray.actor.exit_actor()


def run_trial(point: dict, base: dict, sweep_dir: str, metric: str, mode: str) -> None:
    """Tune's function for one trial (runs in a Ray actor with a sliver of CPU). A point the pretrain
    config refuses (a ConfigError while building the config or the trainer: a micro-batch that does not
    divide the batch, a model that does not fit the shards) ends the trial at once with one result,
    {invalid: reason, metric: worst}, so the sweep goes on and the search learns to avoid it."""
    ray.data.DataContext.get_current().enable_progress_bars = False
    setup(base.get("run", {}).get("verbose", False))  # this actor's lines to its stdout, which Ray forwards
    trial_id = ray.tune.get_context().get_trial_id()
    try:
        cfg = trial_config(base, point, sweep_dir, trial_id)
        trainer = build_trainer(cfg, "auto", callbacks=[ReportEvals(metric, mode), FreeWhenStopped()])
    except ConfigError as e:
        logger.info(f"[tune] trial {trial_id} is invalid: {e}")
        ray.tune.report({INVALID: str(e), metric: worst(mode)})
        return
    trainer.fit()
