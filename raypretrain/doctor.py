"""`raypretrain doctor`: is this machine ready to run the jobs? One line per check, and what to fix.

Exit 0 when every check passes, 1 when one needs fixing. It starts no Ray and trains nothing."""
from __future__ import annotations

import contextlib
import importlib
import io
import os
import shutil
import sys
from dataclasses import dataclass
from importlib import metadata

MIN_FREE_GIB = 5.0
"""Free disk below the output folder under which doctor asks for room (sample shards and checkpoints)."""
TESTED = {"ray": "2.60", "deepspeed": "0.19", "torch": "2.13"}
"""The versions the test suite ran on; others may work, and doctor says so rather than failing."""


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        return f"{'ok ' if self.ok else 'FIX'}  {self.name:<18} {self.detail}" + (f" → {self.fix}" if not self.ok else "")


def package(name: str) -> Check:
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            importlib.import_module(name)  # DeepSpeed logs its accelerator choice on import
        version = metadata.version(name)
    except Exception as e:  # a missing or broken install: say which, never a traceback
        return Check(name, False, f"cannot import ({type(e).__name__}: {str(e)[:60]})",
                     "bash scripts/install.sh (torch first, then pip install -e '.[dev]')")
    tested = TESTED.get(name)
    note = "" if not tested or version.startswith(tested) else f" (tested on {tested}.x)"
    return Check(name, True, f"{version}{note}")


def extension_dirs() -> list[str]:
    """Where torch caches JIT-built extensions such as DeepSpeed's deepspeed_shm_comm."""
    env = os.environ.get("TORCH_EXTENSIONS_DIR")
    if env:
        return [env]
    # torch may be missing or broken: checks() says so first, and calls this only once torch imported
    from torch.utils.cpp_extension import get_default_build_root
    import torch

    root = get_default_build_root()
    tag = f"py{sys.version_info.major}{sys.version_info.minor}_{'cu' + torch.version.cuda.replace('.', '') if torch.version.cuda else 'cpu'}"
    return [os.path.join(root, tag), root]


def deepspeed_extension() -> Check:
    dirs = extension_dirs()
    built = [d for d in dirs if os.path.isfile(os.path.join(d, "deepspeed_shm_comm", "deepspeed_shm_comm.so"))]
    if built:
        return Check("deepspeed CPU op", True, f"deepspeed_shm_comm built in {built[0]}")
    compiler = shutil.which("c++") or shutil.which("g++")
    if not compiler:
        return Check("deepspeed CPU op", False, "not built, and no C++ compiler to build it",
                     "apt-get install g++ (DeepSpeed compiles deepspeed_shm_comm on first CPU use)")
    writable = os.access(next((d for d in dirs if os.path.isdir(d)), os.path.dirname(dirs[0]) or "."), os.W_OK)
    return Check("deepspeed CPU op", writable, f"not built yet; the first CPU training run compiles it (30-90 s) "
                 f"into {dirs[0]}", "" if writable else "set TORCH_EXTENSIONS_DIR to a writable folder")


def free_disk(folder: str = ".") -> Check:
    free = shutil.disk_usage(folder).free / 2**30
    ok = free >= MIN_FREE_GIB
    return Check("disk", ok, f"{free:.1f} GiB free for ./outputs",
                 "" if ok else f"free at least {MIN_FREE_GIB:g} GiB, or run from a folder on a larger disk")


def gpu() -> Check:
    import torch  # as in extension_dirs: checks() calls this only once torch imported

    if torch.cuda.is_available():
        return Check("gpu", True, f"{torch.cuda.device_count()} × {torch.cuda.get_device_name(0)}")
    return Check("gpu", True, "none visible: training runs on CPU with gloo (scaling.use_gpu=auto)")


def checks() -> list[Check]:
    found = [Check("python", sys.version_info >= (3, 10), sys.version.split()[0], "use Python 3.10 or newer")]
    found += [package(name) for name in ("torch", "ray", "deepspeed", "pyarrow", "tokenizers", "datasketch")]
    if all(c.ok for c in found):
        found += [deepspeed_extension(), gpu()]
    return found + [free_disk()]


def main(argv: list[str] | None = None) -> int:
    results = checks()
    for c in results:
        print(c.line())
    bad = [c.name for c in results if not c.ok]
    print("doctor: all good" if not bad else f"doctor: fix {', '.join(bad)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
