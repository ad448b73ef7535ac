"""`python -m tune`: a hyperparameter sweep of the real trainer with Ray Tune.

    python -m tune                                   # the `debug` preset: a sweep of the debug pretrain preset
    python -m tune --config debug --set trials=8 --set scheduler.kind=fifo
    python -m tune --config my-sweep.yaml --check    # check the sweep and its base config, start nothing

Every trial runs `pretrain.trainer.build_trainer` on the base config plus its sampled point. The
sweep directory <storage_path>/<name> gets the trials' Train runs, one TensorBoard folder per
trial, results.csv, best.yaml and curves.png. Rerunning the same command restores the sweep.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import os
import sys

import ray
import ray.tune
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler
from ray.tune.search import ConcurrencyLimiter
from ray.tune.search.basic_variant import BasicVariantGenerator

from cluster.placement import trial_driver_resources
from raypretrain.config import ConfigError, from_dict, load, to_dict
from pretrain.config import PretrainConfig
from raypretrain.console import setup
from raypretrain.ray_env import connect
from pretrain.trainer import ensure_shards
from tune import space as spaces
from tune.config import TuneConfig
from tune.report import write_results
from tune.trial import run_trial

logger = logging.getLogger("tune")

DEFAULT_CONFIG = "debug"
"""The shipped sweep preset (configs/tune/debug.yaml) a bare `python -m tune` runs, from any folder."""
DATA_CPUS_PER_TRIAL = 0.25  # left free per running trial so Ray Data can read its shards


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tune", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default=DEFAULT_CONFIG,
                   help=f"a YAML sweep file, or the bare name of a shipped preset (default {DEFAULT_CONFIG})")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override a sweep field, e.g. --set trials=8 or --set base.overrides.train.max_steps=50")
    p.add_argument("--check", action="store_true",
                   help="check the sweep, its space and its base config, print 'config OK' and stop; starts nothing")
    return p.parse_args(argv)


def base_config(tcfg: TuneConfig) -> PretrainConfig:
    """The pretrain config every trial starts from: the base YAML plus the base overrides."""
    try:
        base = to_dict(load(PretrainConfig, tcfg.base.config or None, job="pretrain"))
        cfg = from_dict(PretrainConfig, spaces.merge(base, tcfg.base.overrides))
        cfg.check_sample_data()
    except ConfigError as e:
        raise ConfigError(f"base: {e}") from None
    if cfg.deepspeed.config_file:  # trials do not share the driver's working directory
        cfg = dataclasses.replace(cfg, deepspeed=dataclasses.replace(
            cfg.deepspeed, config_file=os.path.abspath(cfg.deepspeed.config_file)))
    return cfg


def concurrency(tcfg: TuneConfig, base: PretrainConfig, trials: int, resources: dict[str, float]) -> int:
    """Trials that fit the cluster's `resources` at once without starving each other (or Ray Data)."""
    if tcfg.max_concurrent:
        return tcfg.max_concurrent
    s = base.scaling
    gpu = s.use_gpu == "yes" or (s.use_gpu == "auto" and resources.get("GPU", 0) > 0)
    per_trial = s.num_workers * s.cpus_per_worker + tcfg.driver_cpus + DATA_CPUS_PER_TRIAL
    fits = [math.floor(resources.get("CPU", 0) / per_trial)]
    if gpu:
        fits.append(math.floor(resources.get("GPU", 0) / s.num_workers))
    return max(1, min(fits + [trials]))


def build_tuner(tcfg: TuneConfig, base: PretrainConfig, parsed: dict, sweep_dir: str):
    base_dict = to_dict(base)
    trainable = ray.tune.with_resources(
        ray.tune.with_parameters(run_trial, base=base_dict, sweep_dir=sweep_dir, metric=tcfg.metric, mode=tcfg.mode),
        {"CPU": tcfg.driver_cpus, **trial_driver_resources()})
    if ray.tune.Tuner.can_restore(sweep_dir):
        logger.info(f"[tune] restoring sweep {tcfg.name} from {sweep_dir}")
        return ray.tune.Tuner.restore(sweep_dir, trainable, resume_unfinished=True)
    param_space = spaces.to_ray(parsed, tcfg.search)
    grid = math.prod(len(a) for k, a in parsed.values() if k == "grid" or (k == "choice" and tcfg.search == "grid"))
    max_steps = spaces.upper_bound(parsed, "train.max_steps", base.train.max_steps)
    n = concurrency(tcfg, base, tcfg.trials * grid, ray.cluster_resources())
    logger.info(f"[tune] up to {n} trials at once, each {base.scaling.num_workers} workers × "
                f"{base.scaling.cpus_per_worker:g} CPUs")
    return ray.tune.Tuner(
        trainable,
        param_space=param_space,
        tune_config=ray.tune.TuneConfig(metric=tcfg.metric, mode=tcfg.mode, num_samples=tcfg.trials,
                                        search_alg=search_alg(tcfg, n), scheduler=scheduler(tcfg, base, max_steps)),
        run_config=ray.tune.RunConfig(name=tcfg.name, storage_path=os.path.dirname(sweep_dir), verbose=1),
    )


def search_alg(tcfg: TuneConfig, max_concurrent: int):
    """Random/grid sampling, or Optuna's TPE; either one limited to max_concurrent trials in flight."""
    if tcfg.search != "optuna":
        return BasicVariantGenerator(random_state=tcfg.seed, max_concurrent=max_concurrent)
    try:
        import optuna  # noqa: F401 (optional: only with search: optuna; --check says if it is missing)
    except ImportError:
        raise ConfigError("search: optuna is not installed (pip install -e '.[optuna]')") from None
    from ray.tune.search.optuna import OptunaSearch  # it imports optuna (optional), so only here
    return ConcurrencyLimiter(OptunaSearch(seed=tcfg.seed), max_concurrent=max_concurrent)


def scheduler(tcfg: TuneConfig, base: PretrainConfig, max_steps: int):
    if tcfg.scheduler.kind == "fifo":
        return FIFOScheduler()
    grace = tcfg.scheduler.grace_period or base.train.eval_every
    # max_t one past the last step: ASHA stops a trial that reaches max_t, and a trial's own
    # last report must end it normally, not as a stop
    return ASHAScheduler(time_attr="step", max_t=max(max_steps, grace) + 1, grace_period=grace,
                         reduction_factor=tcfg.scheduler.reduction_factor)


def check_same_sweep(sweep_dir: str, record: dict) -> None:
    """A sweep restores only with the config it started with; the first run writes sweep.json."""
    path = os.path.join(sweep_dir, "sweep.json")
    if os.path.isfile(path):
        with open(path) as f:
            if json.load(f) != json.loads(json.dumps(record)):
                raise ConfigError(f"sweep {record['tune']['name']} in {sweep_dir} was started with another config; "
                                  "choose another name (or storage_path) or remove that folder")
        return
    os.makedirs(sweep_dir, exist_ok=True)
    with open(path, "w") as f:
        json.dump(record, f, indent=1)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup()
    try:
        tcfg = load(TuneConfig, args.config, args.overrides, job="tune")
        if "://" in tcfg.storage_path:
            raise ConfigError(f"storage_path: {tcfg.storage_path}: a sweep needs a local or shared-mount folder")
        base = base_config(tcfg)
        setup(base.run.verbose)
        parsed = spaces.validate(tcfg.space, to_dict(base))  # a bad space is refused before anything starts
        if not parsed:
            raise ConfigError("space: empty; name at least one pretrain field to search")
        spaces.to_ray(parsed, tcfg.search)
        search_alg(tcfg, 1)
        if args.check:
            print("config OK")
            return 0
        connect(base.run.verbose)  # joins the cluster in RAY_ADDRESS, or starts a local Ray; quiet unless run.verbose
        base = ensure_shards(base)  # as `python -m pretrain`: the sample shards when data.shards is empty
        sweep_dir = os.path.join(os.path.abspath(tcfg.storage_path), tcfg.name)
        check_same_sweep(sweep_dir, {"tune": to_dict(tcfg), "base": to_dict(base)})
        tuner = build_tuner(tcfg, base, parsed, sweep_dir)
    except ConfigError as e:
        print(f"tune: error: {e}", file=sys.stderr)
        return 2

    logger.info(f"[tune] sweep {tcfg.name}: {tcfg.trials} samples of {', '.join(parsed)}; "
                f"TensorBoard: tensorboard --logdir {os.path.join(sweep_dir, 'tensorboard')}")
    grid = tuner.fit()
    print(write_results(grid, tcfg, to_dict(base), parsed, sweep_dir), flush=True)
    return 0 if not grid.errors else 1
