"""Ingest without Ray: what it holds is bounded by its sink's buffer, not by its input."""
from __future__ import annotations

import json
import random

from datapipe import stages
from datapipe.config import DatapipeConfig
from datapipe.plan import IngestSpec, Piece
from raypretrain import storage
from raypretrain.config import from_dict, to_dict

OFF = {"enabled": False}


class SmallBufferIngest(stages.Ingest):
    buffer_bytes = 256 * 2**10


def test_ingest_memory_follows_its_buffer_not_its_input(tmp_path):
    rng = random.Random(0)
    path = tmp_path / "in.jsonl"
    with open(path, "w") as f:
        for i in range(30_000):
            f.write(json.dumps({"id": f"d{i}", "text": " ".join(f"w{rng.randrange(10**6)}" for _ in range(40))}) + "\n")
    cfg = from_dict(DatapipeConfig, {"sources": [{"name": "s", "paths": [str(path)]}],
                                     "clean": {k: OFF for k in ("lang_id", "gopher_repetition", "gopher_quality",
                                                                "c4", "fineweb")}})
    out = tmp_path / "out"
    summary = SmallBufferIngest(to_dict(cfg), str(out)).run(
        IngestSpec(task=0, pieces=(Piece(file=0, uri=str(path), source="s"),), num_buckets=8))
    assert summary.ok_docs == 30_000
    layout = stages.WorkLayout(storage.resolve(str(out)))
    written = sum(storage.read_parquet(f).nbytes for b in range(8) for f in storage.list_files(layout.clean_dir(b)))
    batch = 2048 * 400  # one read batch of these ~300-byte records, as Arrow holds it
    assert written > 8 * 2**20 and summary.peak_buffered_bytes <= SmallBufferIngest.buffer_bytes + batch
