"""What a finished sweep leaves behind: a table sorted by the metric, results.csv, best.yaml
(a complete pretrain config: `python -m pretrain --config best.yaml` runs it) and curves.png."""
from __future__ import annotations

import csv
import math
import os
import re

import yaml

from raypretrain.config import ConfigError, to_dict
from tune.config import TuneConfig
from tune.trial import INVALID, trial_config


def status(metrics: dict, error: bool, total: int | None, refused: str | None = None) -> str:
    """done, stopped at <step>/<total>, error, or invalid: <why the pretrain config refused the point>
    (as the trial reported it, else as the config refuses it here)."""
    if metrics.get(INVALID) or refused:
        return f"invalid: {metrics.get(INVALID) or refused}"
    step = metrics.get("step")
    return "error" if error else "done" if step == total else f"stopped at {step}/{total}"


def rows(grid, tcfg: TuneConfig, base: dict, keys: list[str], sweep_dir: str) -> list[dict]:
    """One row per trial, best first: id, sampled values, last step, last metrics, status. An invalid
    trial's metrics are blank (it reported the worst value only to steer the search) and sort last."""
    out = []
    for r in grid:
        m = r.metrics or {}
        point = {k: r.config.get(k) for k in keys}
        total, refused = None, None
        try:
            total = trial_config(base, point, sweep_dir, "t").total_steps()
        except ConfigError as e:  # a combination of values the pretrain config refuses
            refused = str(e)
        row_status = status(m, bool(r.error), total, refused)
        valid = not row_status.startswith(f"{INVALID}:")
        out.append({"trial_id": _trial_id(r), **point, "step": m.get("step"),
                    "val_loss": m.get("val_loss") if valid else None, "val_ppl": m.get("val_ppl") if valid else None,
                    "status": row_status})
    sign = 1 if tcfg.mode == "min" else -1
    return sorted(out, key=lambda row: (_missing(row[tcfg.metric]), sign * (row[tcfg.metric] or 0)))


def table(rows_: list[dict]) -> str:
    cols = list(rows_[0]) if rows_ else []
    cells = [[_fmt(row[c]) for c in cols] for row in rows_]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(cols)]
    line = lambda vals: "  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(vals, widths)))  # noqa: E731
    return "\n".join([line(cols)] + [line(r) for r in cells])


def write_csv(rows_: list[dict], path: str) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows_[0]) if rows_ else ["trial_id"])
        w.writeheader()
        w.writerows(rows_)


def write_best(row: dict, tcfg: TuneConfig, base: dict, keys: list[str], sweep_dir: str, path: str) -> None:
    """The best trial's full pretrain config, renamed so training it is a new run outside the sweep."""
    cfg = to_dict(trial_config(base, {k: row[k] for k in keys}, sweep_dir, row["trial_id"]))
    cfg["run"] = {**cfg["run"], "name": f"{tcfg.name}-best", "storage_path": base["run"]["storage_path"],
                  "tensorboard_dir": base["run"]["tensorboard_dir"]}
    with open(path, "w") as f:
        f.write(f"# Best trial {row['trial_id']} of sweep {tcfg.name} ({tcfg.metric} {_fmt(row[tcfg.metric])}).\n"
                f"# Train it with: python -m pretrain --config {path}\n")
        yaml.safe_dump(cfg, f, sort_keys=False)


def plot(grid, tcfg: TuneConfig, keys: list[str], path: str) -> None:
    """Every trial's validation curve (metric against step) in one PNG, labelled with its point."""
    # heavy (~0.7 s with pyplot): only for curves.png after the sweep; python -m tune --help goes without it
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # after use("Agg"): no display needed

    fig, ax = plt.subplots(figsize=(8, 5))
    positive = True
    for r in grid:
        df = r.metrics_dataframe
        if df is None or tcfg.metric not in df or "step" not in df:
            continue
        df = df[["step", tcfg.metric]].replace([math.inf, -math.inf], math.nan).dropna()
        positive &= bool((df[tcfg.metric] > 0).all())
        point = ", ".join(f"{k.rsplit('.', 1)[-1]}={_fmt(r.config.get(k))}" for k in keys)
        ax.plot(df["step"], df[tcfg.metric], marker="o", markersize=3,
                label=f"{_trial_id(r)} {point}")
    if positive:
        ax.set_yscale("log")
    ax.set(xlabel="step", ylabel=tcfg.metric, title=f"sweep {tcfg.name}: validation curves")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_results(grid, tcfg: TuneConfig, base: dict, parsed: dict, sweep_dir: str) -> str:
    """Write results.csv, best.yaml and curves.png into the sweep folder; return the printed summary."""
    keys = list(parsed)
    rows_ = rows(grid, tcfg, base, keys, sweep_dir)
    write_csv(rows_, os.path.join(sweep_dir, "results.csv"))
    plot(grid, tcfg, keys, os.path.join(sweep_dir, "curves.png"))
    lines = [f"[tune] sweep {tcfg.name}: {len(rows_)} trials, sorted by {tcfg.metric} ({tcfg.mode})", table(rows_)]
    best = rows_[0] if rows_ and not _missing(rows_[0][tcfg.metric]) else None
    if best:
        write_best(best, tcfg, base, keys, sweep_dir, os.path.join(sweep_dir, "best.yaml"))
        lines.append(f"[tune] best: {best['trial_id']} → {os.path.join(sweep_dir, 'best.yaml')}")
    lines += [f"[tune] results: {os.path.join(sweep_dir, 'results.csv')}, plot: {os.path.join(sweep_dir, 'curves.png')}",
              f"[tune] TensorBoard: tensorboard --logdir {os.path.join(sweep_dir, 'tensorboard')}"]
    return "\n".join(lines)


def _trial_id(result) -> str:
    """The trial id; a trial that failed before reporting has it only in its folder name."""
    found = re.search(r"_([0-9a-f]{5}_\d{5})_", os.path.basename(result.path or ""))
    return (result.metrics or {}).get("trial_id") or (found.group(1) if found else "?")


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else "" if v is None else str(v)
