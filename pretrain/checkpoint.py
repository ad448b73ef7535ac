"""Training checkpoints: how a folder is saved, checked before anything unpickles it, and read back.

A checkpoint folder (what Ray stores per report) holds:

    engine/                DeepSpeed's files: model states, one optimizer shard per rank (ZeRO)
    latest                 the DeepSpeed tag file
    state.json             step, tokens seen, samples consumed, world size, seq_len, tokenizer SHA-256
    config.json            the PretrainConfig of the run, as plain data
    tokenizer.json         the tokenizer the shards were encoded with
    rng_rank<r>.pt         rank r's RNG states, as tensors and numbers (loads with weights_only=True)
    complete_rank<r>.json  rank r's completion marker, written last: {"rank", "world", "files": {path: {sha256, bytes}}}
    engine_universal/      made on an elastic resume: DeepSpeed's universal conversion, with its own marker

Each rank stages its files in a local folder (`staging`) and reports it; Ray copies every rank's files
into one checkpoint_<time> folder and registers the checkpoint in checkpoint_manager_snapshot.json once
every rank has reported. A checkpoint is complete when every rank's marker is there and every file a
marker lists has its size and SHA-256 (`check_complete`). DeepSpeed's own loaders (engine.load_checkpoint,
zero_to_fp32, ds_to_universal) unpickle their files, so they only ever see complete checkpoints. The
markers catch files cut off or changed since the save; they cannot make a store that others can write
to safe: unpickling runs code, so checkpoints must come from a store you trust.
"""
from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import logging
import os
import pickle
import random
import re
import shutil
import subprocess
import sys
import tempfile
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist
from ray.train import Checkpoint
from tokenizers import Tokenizer

from raypretrain import storage
from raypretrain.config import ConfigError, from_dict, to_dict
from pretrain.config import PretrainConfig
from pretrain.model import GPT

logger = logging.getLogger("pretrain")

TAG = "engine"
UNIVERSAL = "engine_universal"
MARKER = "complete_rank{}.json"
SNAPSHOT = "checkpoint_manager_snapshot.json"
"""Ray Train's record of the checkpoints it registered, in the run folder."""
STAGING = f"{storage.TMP_PREFIX}ckpt-"
"""Workers' local staging folders start with this (in the temp folder), so a later run can sweep stale ones."""
_MARKER_RE = re.compile(r"complete_rank(\d+)\.json\Z")


class IncompleteCheckpoint(ConfigError):
    """A checkpoint with a file missing, cut short or changed since it was saved."""


def warn(line: str) -> None:
    print(f"[pretrain] warning: {line}", file=sys.stderr, flush=True)


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def seal(folder: str, rank: int = 0, world: int = 1) -> None:
    """Write `rank`'s completion marker into `folder`, after everything else: the size and SHA-256 of
    every file there (a rank's staging folder holds only what that rank wrote)."""
    files = {}
    for d, _, names in os.walk(folder):
        for name in names:
            rel = os.path.relpath(os.path.join(d, name), folder)
            if not _MARKER_RE.match(rel) and not name.startswith(storage.TMP_PREFIX):
                p = os.path.join(folder, rel)
                files[rel] = {"sha256": sha256_file(p), "bytes": os.path.getsize(p)}
    storage.write_json(storage.resolve(os.path.join(folder, MARKER.format(rank))),
                  {"rank": rank, "world": world, "files": dict(sorted(files.items()))})


def _markers(folder: str) -> dict[int, dict]:
    out = {}
    for p in glob.glob(os.path.join(glob.escape(folder), "complete_rank*.json")):
        try:
            with open(p) as f:
                m = json.load(f)
            out[int(m["rank"])] = {"world": int(m["world"]), "files": dict(m["files"])}
        except (ValueError, KeyError, TypeError):
            raise IncompleteCheckpoint(f"checkpoint {folder} is damaged: {os.path.basename(p)} is not a "
                                       "completion marker") from None
    return out


def verify(folder: str, hashes: bool = True, share: tuple[int, int] = (0, 1)) -> bool:
    """True when every rank's completion marker is in `folder` and every file they list is there with
    its size (and, with `hashes`, its SHA-256; this caller hashes its `share` (i, n): every n-th file
    from the i-th). False when the folder has no marker at all (saved before markers were written).
    IncompleteCheckpoint naming the first missing marker, missing file or wrong file otherwise."""
    found = _markers(folder)
    if not found:
        return False
    world = max(m["world"] for m in found.values())
    missing = sorted(set(range(world)) - set(found))
    if missing:
        raise IncompleteCheckpoint(f"checkpoint {folder} is incomplete: rank {missing[0]} of {world} has no "
                                   f"completion marker ({MARKER.format(missing[0])})")
    listed = sorted((rel, f["sha256"], f["bytes"]) for m in found.values() for rel, f in m["files"].items())
    for rel, _, size in listed:
        path = os.path.join(folder, rel)
        if not os.path.isfile(path):
            raise IncompleteCheckpoint(f"checkpoint {folder} is incomplete: {rel} is missing")
        if os.path.getsize(path) != size:
            raise IncompleteCheckpoint(f"checkpoint {folder} is incomplete: {rel} has {os.path.getsize(path):,} "
                                       f"bytes, its completion marker says {size:,}")
    i, n = share
    for rel, sha, _ in listed[i::n] if hashes else ():
        if sha256_file(os.path.join(folder, rel)) != sha:
            raise IncompleteCheckpoint(f"checkpoint {folder} is damaged: {rel} does not have the SHA-256 "
                                       "recorded when it was saved")
    return True


def registered(folder: str) -> bool | None:
    """Did Ray Train register this checkpoint (its run folder's checkpoint_manager_snapshot.json lists
    it)? None when there is no readable snapshot next to it."""
    folder = os.path.abspath(folder)
    try:
        with open(os.path.join(os.path.dirname(folder), SNAPSHOT)) as f:
            snapshot = json.load(f)
        results = snapshot["checkpoint_results"] + [snapshot.get("latest_checkpoint_result") or {}]
        names = {r.get("checkpoint_dir_name") for r in results}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return os.path.basename(folder) in names


def check_complete(folder: str, hashes: bool = True, share: tuple[int, int] = (0, 1),
                   trusted: bool | None = None, warn: Callable[[str], None] | None = warn) -> None:
    """Refuse (IncompleteCheckpoint) what is not a complete checkpoint folder (see `verify`). A folder
    without completion markers, saved by an older pretrain, passes with a warning when Ray registered
    it (or `trusted`, e.g. Ray handed it over) and is refused otherwise: it may be a copy cut off halfway."""
    if verify(folder, hashes, share):
        return
    if not os.path.isfile(os.path.join(folder, "state.json")):
        raise IncompleteCheckpoint(f"{folder} is not a checkpoint folder (no state.json)")
    if not (registered(folder) if trusted is None else trusted):
        raise IncompleteCheckpoint(f"checkpoint {folder} has no completion marker ({MARKER.format(0)}) and "
                                   "Ray Train never registered it, so it may be cut off mid-upload")
    if warn:
        warn(f"checkpoint {folder} has no completion marker (saved by an older pretrain): its files are "
             "loaded without checking them first")


def checkpoint_folders(run_dir: str) -> list[str]:
    """The checkpoint_* folders under a Ray run folder, oldest first (their names are times)."""
    return sorted(p for p in glob.glob(os.path.join(glob.escape(run_dir), "checkpoint_*")) if os.path.isdir(p))


def latest_checkpoint(run_dir: str) -> str | None:
    """The newest complete checkpoint of a run, or None. Each newer folder that is not complete (cut
    off mid-save or mid-upload, damaged, or unregistered without a marker) is named in a one-line
    warning and skipped. When Ray registered checkpoints but none of them is complete, ConfigError."""
    skipped = []
    for path in reversed(checkpoint_folders(run_dir)):
        try:
            check_complete(path)
            return path
        except IncompleteCheckpoint as e:
            warn(f"{e}; skipping it")
            skipped.append(path)
    if any(registered(p) for p in skipped):
        raise ConfigError(f"run folder {run_dir}: none of its checkpoints is complete; remove them to start "
                          "afresh or choose another run.name")
    return None


def staging_prefix(run_dir: str) -> str:
    """Where a worker stages this run's checkpoint files: a fixed-length key of the run folder, so a
    sweep of one run's stale folders never matches another run's."""
    key = hashlib.sha256(run_dir.encode()).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), f"{STAGING}{key}-")


@contextlib.contextmanager
def staging(run_dir: str):
    """A fresh local folder to save a checkpoint into, removed when done (Ray removes it once uploaded)."""
    prefix = staging_prefix(run_dir)
    path = tempfile.mkdtemp(prefix=os.path.basename(prefix), dir=os.path.dirname(prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def sweep_staging(run_dir: str) -> int:
    """Remove this run's staging folders that crashed workers left on this node. Call it before the
    engine is built: no rank of this run saves before every rank has passed that point."""
    stale = glob.glob(glob.escape(staging_prefix(run_dir)) + "*")
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    return len(stale)


def rng_state(generator: torch.Generator) -> dict:
    """Every RNG the loop draws from, as tensors, numbers and strings only (torch.load(weights_only=True))."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    return {"torch": torch.get_rng_state(), "masking": generator.get_state(),
            "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                      "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
            "python": {"version": version, "state": torch.tensor(internal, dtype=torch.int64),
                       "gauss_next": gauss_next}}


def set_rng_state(saved: dict, generator: torch.Generator) -> None:
    n, p = saved["numpy"], saved["python"]
    torch.set_rng_state(saved["torch"])
    generator.set_state(saved["masking"])
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    random.setstate((p["version"], tuple(p["state"].tolist()), p["gauss_next"]))


def load_rng(path: str, generator: torch.Generator) -> bool:
    """Restore the RNG states in `path`; False (and nothing restored) for an older checkpoint's
    pickled file, which is not unpickled."""
    try:
        saved = torch.load(path, weights_only=True)
    except pickle.UnpicklingError:
        return False
    set_rng_state(saved, generator)
    return True


def save_checkpoint(engine, path: str, state: dict, cfg: PretrainConfig, tokenizer: bytes, rank: int, world: int,
                    generator: torch.Generator, crash: bool = False) -> Checkpoint:
    """Every rank writes its DeepSpeed shard, its RNG states and (rank 0) the run's files (state.json,
    config.json, the `tokenizer` bytes) into its staging folder `path`, then its completion marker, and
    hands Ray the folder to report. Ray registers the checkpoint only once every rank has reported, so
    a crash in the middle of a save leaves the previous checkpoint the latest."""
    engine.save_checkpoint(path, tag=TAG)
    torch.save(rng_state(generator), os.path.join(path, f"rng_rank{rank}.pt"))
    if crash:  # debug: die with the save half done (see train.debug_crash_in_save_at_step)
        os._exit(1)
    if rank == 0:
        for name, data in (("state.json", json.dumps(state, indent=1).encode()),
                           ("config.json", json.dumps(to_dict(cfg), indent=1).encode()),
                           ("tokenizer.json", tokenizer)):
            with open(os.path.join(path, name), "wb") as f:
                f.write(data)
    seal(path, rank, world)
    return Checkpoint.from_directory(path)


def restore(engine, checkpoint_dir: str, rank: int, generator: torch.Generator, manifest: dict,
            universal: str | None = None, say: Callable[[str], None] = print) -> dict:
    """Check the checkpoint folder (and its universal conversion `universal`, loaded instead of its
    engine/ when the world size changed) on every rank, then load the engine, step/tokens/data position
    and this rank's RNG states from it."""
    _check_together([checkpoint_dir] + ([universal] if universal else []), rank, engine.device, say)
    with open(os.path.join(checkpoint_dir, "state.json")) as f:
        state = json.load(f)
    check_resumable(state, manifest, checkpoint_dir)
    if universal:
        engine.load_checkpoint(os.path.dirname(universal), tag=os.path.basename(universal))
    else:
        engine.load_checkpoint(checkpoint_dir, tag=TAG)
    rng = os.path.join(checkpoint_dir, f"rng_rank{rank}.pt")
    if os.path.exists(rng) and not universal and not load_rng(rng, generator) and rank == 0:
        say(f"[pretrain] warning: {checkpoint_dir} holds RNG states in an older pickled format, which are not "
            "unpickled: the ranks' random streams restart from their seeds")
    return state


def _check_together(folders: list[str], rank: int, device, say: Callable[[str], None]) -> None:
    """check_complete on every rank, each hashing its share of the files (DeepSpeed makes every rank
    read them all); if any rank finds a bad file, every rank raises."""
    error = ""
    try:
        for folder in folders:
            check_complete(folder, share=(rank, dist.get_world_size()), trusted=True,
                           warn=(lambda line: say(f"[pretrain] warning: {line}")) if rank == 0 else None)
    except IncompleteCheckpoint as e:
        error = str(e)
    bad = torch.tensor([int(bool(error))], device=device)
    dist.all_reduce(bad)
    if error or bad.item():
        raise IncompleteCheckpoint(error or f"{folders[0]}: another rank found a missing or damaged file")


def check_tokenizer(tokenizer_json: str | bytes, manifest: dict, what: str) -> None:
    """ConfigError unless these tokenizer.json bytes are the ones the shards were encoded with (the
    manifest's tokenizer_sha256; datapipe.tokenize.tokenizer_sha256 hashes the same UTF-8 bytes)."""
    data = tokenizer_json.encode() if isinstance(tokenizer_json, str) else tokenizer_json
    got, want = hashlib.sha256(data).hexdigest(), manifest["tokenizer_sha256"]
    if got != want:
        raise ConfigError(f"{what} is not the tokenizer the shards were encoded with "
                          f"(sha256 {got[:12]}…, their manifest.json records {want[:12]}…)")


def load_tokenizer(uri: str, manifest: dict, what: str) -> bytes:
    """The bytes of the tokenizer.json at `uri` (a path or URI), once check_tokenizer has found them the
    ones the shards were encoded with."""
    loc = storage.resolve(uri)
    with loc.fs.open_input_stream(loc.path) as f:
        data = f.read()
    check_tokenizer(data, manifest, what)
    return data


def check_resumable(state: dict, manifest: dict, where: str) -> None:
    """A checkpoint only resumes on the data it was trained on."""
    if state["tokenizer_sha256"] != manifest["tokenizer_sha256"]:
        raise ConfigError(f"cannot resume from {where}: it was trained with another tokenizer (sha256 "
                          f"{state['tokenizer_sha256'][:12]}…, the shards have {manifest['tokenizer_sha256'][:12]}…)")
    if state["seq_len"] != manifest["seq_len"]:
        raise ConfigError(f"cannot resume from {where}: it was trained at seq_len {state['seq_len']}, "
                          f"the shards hold {manifest['seq_len']}")
    path = os.path.join(where, "tokenizer.json")
    if not os.path.isfile(path):
        raise IncompleteCheckpoint(f"checkpoint {where} is incomplete: tokenizer.json is missing")
    with open(path, "rb") as f:
        check_tokenizer(f.read(), manifest, f"cannot resume from {where}: its tokenizer.json")


def universal_conversion(checkpoint: str, note: str = "") -> str:
    """DeepSpeed's universal (re-shardable) form of a complete checkpoint, made once into engine_universal/
    inside it: converted into a temporary folder, sealed and renamed into place, so a conversion cut off
    halfway is never found under that name. One found there without a complete marker (an older
    pretrain's, perhaps half-written) is made again. `note` is printed when a conversion starts."""
    out = os.path.join(checkpoint, UNIVERSAL)
    if os.path.isdir(out):
        with contextlib.suppress(IncompleteCheckpoint):
            if verify(out):
                return out
        warn(f"{out} is not a complete conversion (cut off, or made by an older pretrain); converting again")
        shutil.rmtree(out)
    for stale in glob.glob(os.path.join(glob.escape(checkpoint), f"{storage.TMP_PREFIX}universal-*")):
        shutil.rmtree(stale, ignore_errors=True)  # a crashed conversion's
    if note:
        logger.info(note)
    tmp = tempfile.mkdtemp(prefix=f"{storage.TMP_PREFIX}universal-", dir=checkpoint)
    try:
        proc = subprocess.run([sys.executable, "-m", "deepspeed.checkpoint.ds_to_universal", "--input_folder",
                               os.path.join(checkpoint, TAG), "--output_folder", tmp, "--inject_missing_state"],
                              capture_output=True, text=True)
        if proc.returncode:
            raise ConfigError(f"elastic resume: DeepSpeed could not convert {checkpoint}: "
                              f"{(proc.stderr.strip().splitlines() or ['?'])[-1]}")
        seal(tmp)
        os.rename(tmp, out)
        # ds_to_universal points this at the folder it wrote; we load by tag, but keep it true
        storage.write_bytes(storage.resolve(os.path.join(checkpoint, "latest_universal")), UNIVERSAL.encode())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def consolidated_state_dict(path: str, zero_stage: int) -> dict[str, torch.Tensor]:
    """fp32 weights of the whole model from a complete checkpoint folder, in one process."""
    if zero_stage == 0:
        (states,) = glob.glob(os.path.join(glob.escape(path), TAG, "mp_rank_*_model_states.pt"))
        module = torch.load(states, map_location="cpu", weights_only=True)["module"]
        return {k: v.float() for k, v in module.items()}
    # heavy (seconds), and only ZeRO checkpoints need it
    from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint

    return get_fp32_state_dict_from_zero_checkpoint(path, tag=TAG)  # unpickles: only after check_complete


def load_config(path: str) -> PretrainConfig:
    if not os.path.isfile(os.path.join(path, "config.json")):
        raise ConfigError(f"checkpoint not found: {path} has no config.json (pass a checkpoint_* folder)")
    with open(os.path.join(path, "config.json")) as f:
        return from_dict(PretrainConfig, json.load(f))


def load_model(path: str) -> tuple[GPT, PretrainConfig, Tokenizer]:
    """(model in eval mode, its PretrainConfig, its tokenizers.Tokenizer) from a complete checkpoint folder."""
    if not os.path.isdir(path):
        raise ConfigError(f"checkpoint not found: no folder {path}")
    check_complete(path)
    cfg = load_config(path)
    model = GPT(cfg.model)
    state = consolidated_state_dict(path, cfg.deepspeed.zero_stage)
    missing, unexpected = model.load_state_dict(state, strict=False)
    # a tied output layer is stored once, under whichever name the engine saw first
    if [m for m in missing if not (cfg.model.tie_embeddings and "lm_head" in m)] or unexpected:
        raise ConfigError(f"checkpoint {path} does not fit the model: missing {missing[:3]}, unexpected {unexpected[:3]}")
    tok = Tokenizer.from_file(os.path.join(path, "tokenizer.json"))
    return model.eval(), cfg, tok
