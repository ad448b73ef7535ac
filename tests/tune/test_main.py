"""`python -m tune`'s pieces that need no cluster: bad input refused with one line and exit 2
before anything starts, concurrency from the cluster's resources, the scheduler and the search."""
from __future__ import annotations

import os

import pytest

from raypretrain.config import ConfigError, load, to_dict
from pretrain.config import PretrainConfig
from tune import space
from tune.config import TuneConfig
from tune.main import check_same_sweep, concurrency, main, scheduler, search_alg

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEBUG = os.path.join(REPO, "configs", "tune", "debug.yaml")


@pytest.mark.parametrize("args, message", [
    (["--set", "space.optim.nope={uniform: [0, 1]}"], "space.optim.nope: optim has no field 'nope'"),
    (["--set", "space.optim.lr={choice: []}"], "space.optim.lr: choice needs at least one value"),
    (["--set", "space.optim.lr={uniform: [0.1, 0.01]}"], "space.optim.lr: low 0.1 must be below high 0.01"),
    (["--set", "space.optim.lr={gaussian: [0, 1]}"], "space.optim.lr: unknown distribution 'gaussian'"),
    (["--set", "trials=0"], "trials: 0 is out of range; allowed: in [1, 100000]"),
    (["--set", "scheduler.kind=hyperband"], "scheduler.kind: 'hyperband' is not one of"),
    (["--set", "scheduler.kind=pbt"], "scheduler.kind: pbt does not work with Ray Train trials"),
    (["--set", "base.overrides.train.nope=1"], "base: unknown config key 'train.nope'"),
    (["--set", "base.config=/no/such.yaml"], "base: config file not found: /no/such.yaml"),
    (["--set", "nope=1"], "unknown config key 'nope'"),
])
def test_bad_input_is_one_line_and_exit_2_before_anything_starts(args, message, capsys, monkeypatch, tmp_path):
    import ray

    monkeypatch.chdir(tmp_path)
    ray_was_up = ray.is_initialized()
    argv = ["--config", os.path.join(REPO, "configs", "tune", "debug.yaml"), "--set", f"storage_path={tmp_path}/sweeps",
            "--set", f"base.config={os.path.join(REPO, 'configs', 'pretrain', 'debug.yaml')}", *args]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"tune: error: {message}") and "\n" not in err, err
    assert os.listdir(tmp_path) == []  # no sweep folder, no sample shards built
    assert ray.is_initialized() == ray_was_up


def test_no_config_means_the_debug_sweep(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    # only the debug sweep's loguniform optim.lr can make search: grid refuse (the built-in default space is empty)
    assert main(["--set", "search=grid"]) == 2
    assert "tune: error: space.optim.lr: search: grid enumerates choice/grid values only, not loguniform" in capsys.readouterr().err


def test_concurrency_fits_the_cluster_without_starving_ray_data():
    tcfg = load(TuneConfig, DEBUG)
    quarter = load(PretrainConfig, None, ["scaling.num_workers=1", "scaling.cpus_per_worker=0.25"])
    half = load(PretrainConfig, None, ["scaling.num_workers=1", "scaling.cpus_per_worker=0.5"])
    two = load(PretrainConfig, None, ["scaling.num_workers=2", "scaling.cpus_per_worker=1.0"])
    # a trial holds its workers, its driver (0.01) and 0.25 CPU for Ray Data
    assert concurrency(tcfg, quarter, 8, {"CPU": 2.0}) == 3  # 2 / 0.51
    assert concurrency(tcfg, half, 8, {"CPU": 2.0}) == 2     # 2 / 0.76: the debug sweep on a 2-core laptop
    assert concurrency(tcfg, two, 8, {"CPU": 2.0}) == 1      # never 0: one trial still runs
    assert concurrency(tcfg, quarter, 2, {"CPU": 64.0}) == 2  # no more than there are trials
    gpu = load(PretrainConfig, None, ["scaling.num_workers=4", "scaling.cpus_per_worker=4"])
    assert concurrency(tcfg, gpu, 8, {"CPU": 128.0, "GPU": 8.0}) == 2  # GPUs are the limit
    explicit = load(TuneConfig, DEBUG, ["max_concurrent=5"])
    assert concurrency(explicit, two, 8, {"CPU": 2.0}) == 5  # an explicit value is kept (an autoscaler may add nodes)


def test_asha_counts_steps_and_lets_the_longest_trial_finish_on_its_own():
    tcfg = load(TuneConfig, DEBUG)
    base = load(PretrainConfig, None, ["train.max_steps=100", "train.eval_every=20"])
    asha = scheduler(tcfg, base, 100)
    assert asha._time_attr == "step" and asha._max_t == 101 and asha._reduction_factor == 2
    rungs = sorted(milestone for milestone, _ in asha._brackets[0]._rungs)
    assert rungs == [20, 40, 80]  # grace_period 20, factor 2
    default = scheduler(load(TuneConfig, DEBUG, ["scheduler.grace_period=0"]), base, 100)
    assert min(m for m, _ in default._brackets[0]._rungs) == 20  # one eval_every
    assert type(scheduler(load(TuneConfig, DEBUG, ["scheduler.kind=fifo"]), base, 100)).__name__ == "FIFOScheduler"


def test_optuna_search_suggests_points_of_the_space():
    pytest.importorskip("optuna")
    tcfg = load(TuneConfig, DEBUG, ["search=optuna"])
    parsed = space.validate(tcfg.space, to_dict(PretrainConfig()))
    searcher = search_alg(tcfg, 2)
    assert searcher.set_search_properties("val_loss", "min", space.to_ray(parsed, "optuna"))
    first, second, third = searcher.suggest("a"), searcher.suggest("b"), searcher.suggest("c")
    for point in (first, second):
        assert set(point) == {"optim.lr", "optim.warmup_steps"}
        assert 1e-3 <= point["optim.lr"] <= 3e-2 and point["optim.warmup_steps"] in (10, 30)
    assert third is None  # two in flight at most


def test_a_sweep_restores_only_with_the_config_it_started_with(tmp_path):
    record = {"tune": {"name": "s", "trials": 4}, "base": {"optim": {"lr": 0.001}}}
    check_same_sweep(str(tmp_path / "s"), record)  # first run: writes sweep.json
    check_same_sweep(str(tmp_path / "s"), record)  # the same command again: fine
    with pytest.raises(ConfigError, match="sweep s in .* was started with another config"):
        check_same_sweep(str(tmp_path / "s"), {**record, "tune": {"name": "s", "trials": 8}})
