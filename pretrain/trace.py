"""The debug trace of a run (train.record_trace): what each rank trained on, step by step."""
from __future__ import annotations

import json
import os
import tempfile


class Trace:
    """Debug record (train.record_trace): per rank, one JSON line per step with its loss and
    the global sample positions it trained on; the resume tests compare runs with it."""

    def __init__(self, folder: str | None, rank: int):
        self.folder, self.rank = folder, rank
        if folder:
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, f"pid_rank{rank}"), "w") as f:
                f.write(str(os.getpid()))

    def record(self, step: int, loss: float, positions: list[int]) -> None:
        if self.folder:
            with open(os.path.join(self.folder, f"rank{self.rank}.jsonl"), "a") as f:
                f.write(json.dumps({"step": step, "loss": loss, "pos": positions}) + "\n")

    def first_crash(self) -> bool:
        """True the first time only, so the restarted run saves normally."""
        marker = os.path.join(self.folder or tempfile.gettempdir(), f"crashed_rank{self.rank}")
        if os.path.exists(marker):
            return False
        open(marker, "w").close()
        return True
