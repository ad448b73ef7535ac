"""Memory figures for the benches: this process's RSS and peak (from /proc/self/status), and a
sampler of the Ray workers below a driver process (psutil). No Ray: a bench imports it first."""
from __future__ import annotations

import os
import resource
import threading
import time

import psutil


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def rss_bytes() -> int:
    kib = _status_kib("VmRSS")
    return kib * 1024 if kib is not None else 0


def peak_bytes() -> int:
    """This process's peak RSS since start or the last reset_peak: VmHWM, else ru_maxrss."""
    kib = _status_kib("VmHWM")
    return (kib if kib is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class WorkerRSS(threading.Thread):
    """Samples, every `interval` s until `stop` is set, the RSS of the processes below `pid` (default:
    this process): `max_worker` the largest Ray worker's peak, `max_workers` the peak of all Ray
    workers together, `max_tree` the peak of every process below `pid` (raylet and GCS too), and
    `by_title` each Ray worker title's peak (`ray::MapWorker(MapBatches(Dedup))`, a task's name, ...),
    so a bench can name the process that was largest."""

    def __init__(self, pid: int | None = None, interval: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.interval, self.stop = pid or os.getpid(), interval, threading.Event()
        self.max_worker = self.max_workers = self.max_tree = 0
        self.by_title: dict[str, int] = {}

    def run(self) -> None:
        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self.stop.is_set():
            try:
                kids = root.children(recursive=True)
            except psutil.NoSuchProcess:
                return
            workers, tree = [], 0
            for p in kids:
                try:
                    rss, cmd = p.memory_info().rss, p.cmdline()
                except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                    continue
                tree += rss
                if (cmd[:1] and cmd[0].startswith("ray::")) or any("default_worker" in a for a in cmd):
                    workers.append(rss)
                    title = cmd[0].split(" ")[0] if cmd[0].startswith("ray::") else "ray::(starting)"
                    self.by_title[title] = max(self.by_title.get(title, 0), rss)
            self.max_worker = max(self.max_worker, max(workers, default=0))
            self.max_workers = max(self.max_workers, sum(workers))
            self.max_tree = max(self.max_tree, tree)
            time.sleep(self.interval)
