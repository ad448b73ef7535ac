"""The typed objects at the Ray Train boundary: where a run's files go (`RunPaths`), the checkpoint to
resume from (`ResumeFrom`) and everything a worker is handed (`WorkerInputs`)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from pretrain.config import PretrainConfig
from raypretrain import storage


@dataclass(frozen=True)
class RunPaths:
    """Where a run's files go, derived once from its config (`RunPaths.of(cfg)`, on the driver: a
    relative run.storage_path is made absolute there, since Ray workers do not share its cwd)."""

    storage_path: str
    """run.storage_path: an absolute local folder, or the URI as given."""
    remote: bool
    """The storage is a URI (s3://, gs://, file://): the driver does not look for checkpoints in it,
    TensorBoard events are written to a local folder and mirrored there, the report goes below outputs/."""
    run_dir: str
    """<storage_path>/<run.name>: Ray's run folder, holding the checkpoint_* folders."""
    tensorboard: str
    """The local folder rank 0 writes its TensorBoard events to."""
    tensorboard_mirror: str | None
    """With remote storage, <run_dir>/tensorboard: where rank 0 copies its events at every checkpoint."""
    live_position: str
    """Live mode: the file through which a resumed run tells the stream which input files to skip."""
    trace: str
    """train.record_trace: each rank's per-step record (rank<r>.jsonl)."""
    report: str
    """The run report's folder: <run_dir>/report, or outputs/report/<name>/report with remote storage."""

    @classmethod
    def of(cls, cfg: PretrainConfig) -> RunPaths:
        run = cfg.run
        remote = storage.is_remote(run.storage_path)
        root = run.storage_path if remote else os.path.abspath(run.storage_path)
        run_dir = os.path.join(root, run.name)
        if run.tensorboard_dir:
            tensorboard = os.path.abspath(run.tensorboard_dir)
        elif remote:
            tensorboard = os.path.abspath(os.path.join("outputs", "tensorboard", run.name))
        else:
            tensorboard = os.path.join(run_dir, "tensorboard")
        return cls(storage_path=root, remote=remote, run_dir=run_dir, tensorboard=tensorboard,
                   tensorboard_mirror=f"{run_dir}/tensorboard" if remote else None,
                   live_position=os.path.join(run_dir, "live_position.json"), trace=os.path.join(run_dir, "trace"),
                   report=os.path.join(os.path.join("outputs", "report", run.name) if remote else run_dir, "report"))


@dataclass(frozen=True)
class ResumeFrom:
    """The checkpoint the driver chose (--resume), for the workers."""

    path: str | None = None
    """Absolute checkpoint folder to start from; None: start fresh, or from what Ray hands over."""
    universal: str | None = None
    """Its universal conversion, when it was written by another number of ranks."""
    skip: tuple[str, ...] = ()
    """This run's checkpoints the workers must not take from Ray (incomplete, or older than `path`)."""


@dataclass(frozen=True)
class WorkerInputs:
    """What `build_trainer` hands every worker: it crosses the Ray boundary as `to_dict(inputs)`
    (train_loop_config) and `train_func`'s first line rebuilds it. Only small things: the workers
    read the tokenizer and the validation blocks (data.shards, train.eval_blocks) themselves."""

    config: PretrainConfig
    manifest: dict[str, Any]
    """The shards' manifest.json, without the datapipe config it records."""
    paths: RunPaths
    tokenizer: str
    """Path or URI of the tokenizer.json the shards were encoded with (checked against the manifest)."""
    per_rank: bool
    """Shard mode: one deterministic dataset per rank (train_<rank>); else the live stream, split by Ray."""
    resume: ResumeFrom = field(default_factory=ResumeFrom)
    progress: str | None = None
    """The name of the driver's progress Board (raypretrain/console.py); None: rank 0 prints."""
