"""The run report: PNG plots and one self-contained `report.html` (images embedded).

    loss.png        train and validation loss by step (from the run's TensorBoard events)
    documents.png   every input document by the door it left through: kept, dropped (by reason),
                    exact or near duplicate, rejected (by reason); from the shards' stats.json
    tokens.png      tokens by source and split
    throughput.png  documents/s per data stage, and training tokens/s by step
    sources.png     training tokens by source over the steps, stacked (the data.schedule curriculum's mix)
"""
from __future__ import annotations

import base64
import html
import json
import logging
import os

import numpy as np
from matplotlib.figure import Figure  # not pyplot: no global figure manager, no backend to choose
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

PLOTS = ("loss", "documents", "tokens", "throughput", "sources")
PURGE_MESSAGE = "Detected out of order event.step"
"""How TensorBoard's reader logs the events it drops past a resumed run's restart (see pretrain.loop.open_writer)."""


class _ExpectedPurge(logging.Filter):
    """A resumed run's event file asks TensorBoard to drop what the interrupted run wrote after its
    checkpoint; the reader logs each such purge as a warning, which here is expected."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(PURGE_MESSAGE)


def scalars(tb_dir: str) -> dict[str, list[tuple[int, float]]]:
    """tag → [(step, value)] from every event file under tb_dir (the last value per step wins)."""
    acc = EventAccumulator(tb_dir, size_guidance={"scalars": 0})
    expected, log = _ExpectedPurge(), logging.getLogger("tensorboard")
    log.addFilter(expected)
    try:
        acc.Reload()
    finally:
        log.removeFilter(expected)
    return {tag: sorted({e.step: e.value for e in acc.Scalars(tag)}.items()) for tag in acc.Tags()["scalars"]}


def doors(stats: dict) -> list[tuple[str, int]]:
    """(door, documents) for every way out of the pipeline; they sum to the input documents."""
    rows = [("kept", stats["kept_docs"])]
    rows += [(f"dropped: {r}", n) for r, n in sorted(stats["dropped_docs"].items(), key=lambda kv: -kv[1])]
    rows += [("exact duplicate", stats["exact_duplicate_docs"]), ("near duplicate", stats["near_duplicate_docs"])]
    rows += [(f"rejected: {r}", n) for r, n in sorted(stats["rejected_docs"].items(), key=lambda kv: -kv[1])]
    return rows


def stage_rates(stats: dict) -> list[tuple[str, float]]:
    """(stage, documents/s), each stage over the documents that reached it."""
    passed = stats["input_docs"] - sum(stats["rejected_docs"].values()) - sum(stats["dropped_docs"].values())
    reached = {"read_clean": stats["input_docs"], "dedup": passed, "near_dedup": passed - stats["exact_duplicate_docs"],
               "tokenize_pack": stats["kept_docs"]}
    secs = stats["stage_seconds"]
    return [(s, n / secs[s]) for s, n in reached.items() if secs.get(s)]


def _bar(ax, rows, xlabel):
    names, values = [r[0] for r in rows], [r[1] for r in rows]
    ax.barh(names[::-1], values[::-1], color="#4c72b0")
    ax.set_xlabel(xlabel)
    for i, v in enumerate(values[::-1]):
        ax.text(v, i, f" {v:,.0f}", va="center", fontsize=8)


def _sources(ax, tb: dict, tokens_per_step: int) -> None:
    """Training tokens so far by source at each step, stacked, from the data/share/<source> scalars."""
    tags = sorted(tag for tag in tb if tag.startswith("data/share/"))
    steps = [step for step, _ in tb[tags[0]]]
    cumulative = [np.cumsum([dict(tb[tag]).get(step, 0.0) * tokens_per_step for step in steps]) for tag in tags]
    ax.stackplot(steps, cumulative, labels=[tag[len("data/share/"):] for tag in tags])
    ax.set_xlabel("step")
    ax.set_ylabel("training tokens so far")
    ax.legend(loc="upper left")


def plot_all(out_dir: str, tb: dict, stats: dict | None, tokens_per_step: int = 0) -> dict[str, str]:
    """Write the PNGs that have data; {name: path}."""
    os.makedirs(out_dir, exist_ok=True)
    paths = {}

    def save(fig, name):
        paths[name] = os.path.join(out_dir, f"{name}.png")
        fig.tight_layout()
        fig.savefig(paths[name], dpi=100)

    if tb.get("train/loss") or tb.get("val/loss"):
        fig = Figure(figsize=(7, 4))
        ax = fig.subplots()
        for tag, style in (("train/loss", "-"), ("val/loss", "o-")):
            if tb.get(tag):
                ax.plot(*zip(*tb[tag]), style, label=tag.split("/")[0])
        ax.set_xlabel("step")
        ax.set_ylabel("loss (nats/token)")
        ax.legend()
        save(fig, "loss")
    if stats:
        rows = doors(stats)
        fig = Figure(figsize=(7, 0.6 + 0.3 * len(rows)))
        ax = fig.subplots()
        _bar(ax, rows, f"documents (of {stats['input_docs']:,})")
        save(fig, "documents")
        fig = Figure(figsize=(7, 0.8 + 0.4 * len(stats["tokens_by_source"])))
        ax = fig.subplots()
        _bar(ax, list(stats["tokens_by_source"].items()), "tokens")
        save(fig, "tokens")
    rates, tok_s = stage_rates(stats) if stats else [], tb.get("perf/tokens_per_s", [])
    if rates or tok_s:
        fig = Figure(figsize=(10, 3.5))
        axes = fig.subplots(1, 2)
        if rates:
            _bar(axes[0], rates, "documents/s (data stages)")
        if tok_s:
            axes[1].plot(*zip(*tok_s))
            axes[1].set_xlabel("step")
            axes[1].set_ylabel("training tokens/s")
        save(fig, "throughput")
    if tokens_per_step and any(tag.startswith("data/share/") for tag in tb):
        fig = Figure(figsize=(7, 4))
        _sources(fig.subplots(), tb, tokens_per_step)
        save(fig, "sources")
    return paths


def write_report(out_dir: str, tb_dir: str, data_dir: str | None, facts: dict[str, str],
                 tokens_per_step: int = 0) -> str:
    """Plots and report.html in out_dir from the TensorBoard events and the shards' stats.json;
    `facts` (label → text) head the page. Returns the HTML's path."""
    stats_path = os.path.join(data_dir, "stats.json") if data_dir else None
    stats = json.load(open(stats_path)) if stats_path and os.path.isfile(stats_path) else None
    paths = plot_all(out_dir, scalars(tb_dir) if os.path.isdir(tb_dir) else {}, stats, tokens_per_step)
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in facts.items())
    images = []
    for name in PLOTS:
        if name in paths:
            data = base64.b64encode(open(paths[name], "rb").read()).decode()
            images.append(f'<h2>{name}</h2><img alt="{name}" src="data:image/png;base64,{data}">')
    page = ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>raypretrain run report</title>"
            "<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto}th{text-align:left;padding-right:1em}"
            "td{font-family:monospace;white-space:pre-wrap}img{max-width:100%}</style></head><body>"
            f"<h1>raypretrain run report</h1><table>{rows}</table>{''.join(images)}</body></html>")
    path = os.path.join(out_dir, "report.html")
    with open(path, "w") as f:
        f.write(page)
    return path
