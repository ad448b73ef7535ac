"""The tune job's config: which pretrain config to start from, what to search, how to schedule.

Loaded from `configs/tune/<sweep>.yaml` plus `--set key=value` overrides, like the other jobs.
The search space names pretrain fields by their dotted keys, one distribution each:

    space:
      optim.lr: {loguniform: [1.0e-4, 1.0e-2]}
      optim.warmup_steps: {randint: [0, 50]}      # upper bound excluded, as in Ray
      optim.weight_decay: {uniform: [0.0, 0.2]}
      train.micro_batch_size: {choice: [4, 8]}
      deepspeed.zero_stage: {grid: [0, 2]}        # every value, in every sample
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from datapipe.config import check_name
from raypretrain.config import ConfigError, Range, at_least, check_ranges


@dataclass(frozen=True)
class BaseConfig:
    config: str = "debug"
    """The pretrain YAML file, or shipped pretrain preset name, every trial starts from (empty: the pretrain defaults)."""
    overrides: dict[str, Any] = field(default_factory=dict)
    """Pretrain fields set for every trial on top of `config`: dotted keys (train.max_steps: 60) or nested sections."""


@dataclass(frozen=True)
class SchedulerConfig:
    kind: Literal["asha", "pbt", "fifo"] = "asha"
    """asha: stop trials whose metric trails the others at each rung; fifo: run every trial to the end; pbt: refused (see README)."""
    grace_period: int = 0
    """ASHA: steps a trial runs before it can be stopped; 0 means the base config's train.eval_every."""
    reduction_factor: float = 3.0
    """ASHA: at each rung (grace_period × factor^k steps) only the best 1/factor of trials continue."""

    def __post_init__(self) -> None:
        check_ranges(self, {"grace_period": at_least(0), "reduction_factor": Range(1, 100, lo_open=True)})


@dataclass(frozen=True)
class TuneConfig:
    name: str = "debug-sweep"
    """Sweep name; rerunning with the same name and storage_path restores the sweep."""
    storage_path: str = "outputs/tune"
    """Folder the sweep directory <storage_path>/<name> goes in (trials, TensorBoard, results)."""
    base: BaseConfig = field(default_factory=BaseConfig)
    """The pretrain config that trials start from."""
    space: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Search space: dotted pretrain key → {loguniform|uniform: [low, high]}, {randint: [low, high)}, {choice: [...]} or {grid: [...]}."""
    metric: Literal["val_loss", "val_ppl"] = "val_loss"
    """The reported metric trials are compared on."""
    mode: Literal["min", "max"] = "min"
    """Whether the metric is minimised or maximised."""
    trials: int = 4
    """Trials to sample; with grid dimensions every sample runs the whole grid (Ray's num_samples)."""
    search: Literal["random", "grid", "optuna"] = "random"
    """random: independent samples (grid keys enumerated); grid: every choice is enumerated too; optuna: TPE (needs the optuna extra)."""
    seed: int = 0
    """Seed of the search algorithm, so a sweep samples the same trials again."""
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    """Early stopping."""
    max_concurrent: int = 0
    """Trials running at once; 0 derives it from the cluster's CPUs/GPUs and each trial's scaling section."""
    driver_cpus: float = 0.01
    """CPUs each trial's driver (the function that runs the TorchTrainer) reserves; it only waits on its workers."""

    def __post_init__(self) -> None:
        check_name("name", self.name)
        if not self.storage_path:
            raise ConfigError("storage_path: must not be empty")
        check_ranges(self, {"trials": Range(1, 100_000), "max_concurrent": at_least(0), "driver_cpus": at_least(0),
                            "seed": Range(0, 2**32 - 1)})
        if self.scheduler.kind == "pbt":
            raise ConfigError("scheduler.kind: pbt does not work with Ray Train trials in Ray 2.60 "
                              "(TuneReportCallback reports no Tune checkpoint to exploit); use asha or fifo")
