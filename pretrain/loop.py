"""The per-worker training loop: one DeepSpeed engine per Ray Train worker.

`train_func` is what `TorchTrainer` runs on every worker. It rebuilds the typed config
from the dict it is given, builds the engine, restores the last checkpoint if Ray hands
one over, and then runs llm.c's loop shape:

    for step in range(start, total + 1):
        last_step = step == total
        evaluate / checkpoint when due (always on the last step)
        if last_step: break
        one optimizer step (gradient accumulation over micro-batches)

so the final eval and checkpoint are the loop body's own, not code after the loop.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
import time
from typing import NamedTuple

import numpy as np
import torch

from raypretrain import storage
from raypretrain.config import from_dict
from pretrain.checkpoint import restore, save_checkpoint, staging, sweep_staging
from pretrain.config import PretrainConfig
from pretrain.model import GPT, GPTConfig, flops_per_token, mlm_mask
from raypretrain.console import attach, clock, flush, no_stdout_prints, quiet_libraries, say
from raypretrain.console import step as show_step

IGNORE = -100
# Dense bf16 peak FLOP/s per device, for MFU. Unknown devices (and CPUs) report no MFU.
PEAK_FLOPS = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "A10G": 125e12, "L4": 121e12}


def lr_at(step: int, peak: float, warmup: int, total: int, min_ratio: float) -> float:
    """Learning rate for optimizer step `step` (0-based): linear warmup to `peak` over
    `warmup` steps, then cosine decay to peak × min_ratio at step `total`."""
    if warmup and step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def model_config(cfg: PretrainConfig, manifest: dict) -> GPTConfig:
    """The model shape for these shards; a mismatch is the user's to fix (ConfigError)."""
    from raypretrain.config import ConfigError

    need = manifest["vocab_size"] + (1 if cfg.train.objective == "mlm" else 0)
    if cfg.model.vocab_size < need:
        raise ConfigError(f"model.vocab_size: {cfg.model.vocab_size} is smaller than the tokenizer's "
                          f"{manifest['vocab_size']}{' + 1 mask token' if need > manifest['vocab_size'] else ''}")
    if cfg.model.seq_len != manifest["seq_len"]:
        raise ConfigError(f"model.seq_len: {cfg.model.seq_len} but the shards hold seq_len {manifest['seq_len']} "
                          "(set model.seq_len or data.datapipe.pack.seq_len)")
    return cfg.model


def precision(cfg: PretrainConfig, on_gpu: bool) -> str:
    p = cfg.deepspeed.precision
    return ("bf16" if on_gpu else "fp32") if p == "auto" else p


def deepspeed_config(cfg: PretrainConfig, on_gpu: bool) -> dict:
    """The DeepSpeed JSON generated from our config, with the user's raw file merged on top."""
    ds, prec = cfg.deepspeed, precision(cfg, on_gpu)
    zero: dict = {"stage": ds.zero_stage}
    if ds.offload_optimizer:
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": on_gpu}
    if ds.offload_params:
        zero["offload_param"] = {"device": "cpu", "pin_memory": on_gpu}
    out = {
        "train_micro_batch_size_per_gpu": cfg.train.micro_batch_size,
        "gradient_accumulation_steps": cfg.grad_accum_steps(),
        "train_batch_size": cfg.seqs_per_step(),
        "gradient_clipping": cfg.optim.grad_clip,
        "zero_optimization": zero,
        "bf16": {"enabled": prec == "bf16"},
        "fp16": {"enabled": prec == "fp16", "initial_scale_power": 16},
        # we pass a torch AdamW; DeepSpeed must not insist on its own CPU Adam
        "zero_force_ds_cpu_optimizer": False,
        "steps_per_print": 10**12,
        "wall_clock_breakdown": False,
    }
    if ds.config_file:
        with open(ds.config_file) as f:
            out = deep_merge(out, json.load(f))
    return out


def deep_merge(base: dict, top: dict) -> dict:
    out = dict(base)
    for k, v in top.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def build_engine(cfg: PretrainConfig, mcfg: GPTConfig, on_gpu: bool, universal: bool = False):
    """The DeepSpeed engine; `universal` prepares it to load a universal (re-shardable) checkpoint."""
    import deepspeed

    torch.manual_seed(cfg.train.seed)
    model = GPT(mcfg)
    o = cfg.optim
    optimizer = torch.optim.AdamW(model.param_groups(o.weight_decay), lr=o.lr, betas=(o.beta1, o.beta2),
                                  eps=o.eps, fused=on_gpu)
    total = cfg.total_steps()
    # LambdaLR multiplies the base lr; DeepSpeed steps it once per optimizer step.
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_at(s, o.lr, o.warmup_steps, total, o.min_lr_ratio) / o.lr)
    ds_config = deepspeed_config(cfg, on_gpu)
    if universal:
        ds_config["checkpoint"] = {"load_universal": True}
    engine, *_ = deepspeed.initialize(model=model, optimizer=optimizer, lr_scheduler=schedule, config=ds_config)
    return engine


def batch_inputs(tokens: torch.Tensor, cfg: PretrainConfig, mcfg: GPTConfig, manifest: dict,
                 generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """(inputs, targets, causal) for one batch of packed blocks (B, seq_len + 1)."""
    pad = manifest["pad_id"]
    if cfg.train.objective == "clm":
        x, y = tokens[:, :-1], tokens[:, 1:].clone()
        y[y == pad] = IGNORE
        return x, y, True
    x = tokens[:, :-1]
    inputs, labels = mlm_mask(x.cpu(), mask_id=manifest["vocab_size"], vocab_size=manifest["vocab_size"],
                              generator=generator, prob=cfg.train.mlm_prob, ignore_ids=(pad,))
    return inputs.to(x.device), labels.to(x.device), False


class StepResult(NamedTuple):
    loss: float        # mean over the micro-batches
    wait: float        # seconds spent waiting for data
    positions: list    # the global sample positions used (shard mode), or each block's input file (live mode)
    grad_norm: float   # before clipping


def train_step(engine, batches, cfg, mcfg, manifest, generator, device) -> StepResult:
    """One optimizer step over grad_accum micro-batches."""
    wait, losses, positions, norm = 0.0, [], [], None
    accum = cfg.grad_accum_steps()
    for i in range(accum):
        t0 = time.perf_counter()
        batch = next(batches)
        wait += time.perf_counter() - t0
        if "pos" in batch:
            positions += batch["pos"].tolist()
        elif "file" in batch:
            positions += batch["file"].tolist()
        x, y, causal = batch_inputs(batch["tokens"].to(device), cfg, mcfg, manifest, generator)
        _, loss = engine(x, y, causal=causal)
        engine.backward(loss)
        if i == accum - 1 and engine.zero_optimization_stage() == 0:
            # without ZeRO, DeepSpeed's fp32 path does not keep the norm: take it from the reduced grads
            norm = torch.linalg.vector_norm(torch.stack(
                [p.grad.float().norm() for p in engine.module.parameters() if p.grad is not None])).item()
        engine.step()
        losses.append(loss.detach())
    engine_norm = engine.get_global_grad_norm()
    norm = float(engine_norm) if engine_norm is not None else norm
    return StepResult(torch.stack(losses).mean().item(), wait, positions, float("nan") if norm is None else norm)


@torch.no_grad()
def evaluate(engine, val: np.ndarray, cfg, mcfg, manifest, device) -> dict:
    """Validation loss and perplexity, all ranks together (ZeRO-3 needs every rank's forward)."""
    import torch.distributed as dist

    engine.eval()
    generator = torch.Generator().manual_seed(cfg.train.seed + 1)  # the same masks every eval
    total = torch.zeros(2, dtype=torch.float64, device=device)  # (sum of losses × tokens, tokens)
    mb = cfg.train.micro_batch_size
    # every rank runs the same number of forwards; ranks past the data run an empty-weighted one
    n_batches = math.ceil(math.ceil(len(val) / dist.get_world_size()) / mb)
    mine = val[dist.get_rank()::dist.get_world_size()]
    for i in range(n_batches):
        chunk = mine[i * mb:(i + 1) * mb]
        weight = len(chunk)
        if not weight:
            chunk = val[:1]
        x, y, causal = batch_inputs(torch.from_numpy(chunk).to(device), cfg, mcfg, manifest, generator)
        _, loss = engine(x, y, causal=causal)
        n = (y != IGNORE).sum().item() if weight else 0
        total += torch.tensor([loss.double().item() * n, n], dtype=torch.float64, device=device)
    dist.all_reduce(total)
    engine.train()
    loss = (total[0] / total[1].clamp(min=1)).item()
    return {"val_loss": loss, "val_ppl": math.exp(min(loss, 50.0))}


def mfu(tokens_per_s: float, mcfg: GPTConfig, on_gpu: bool, world: int) -> float | None:
    if not on_gpu:
        return None
    name = torch.cuda.get_device_name()
    peak = next((v for k, v in PEAK_FLOPS.items() if k in name), None)
    return None if peak is None else tokens_per_s * flops_per_token(mcfg, mcfg.seq_len) / (peak * world)


def train_func(config: dict) -> None:
    """Ray Train worker entry. config = {"cfg": PretrainConfig as dict, "manifest": the shards' manifest,
    "tokenizer_json", "per_rank": shard mode, "val": validation blocks, "tensorboard_dir", "tensorboard_mirror":
    remote storage's copy of it or None, "trace_dir", "run_dir", "resume_from": a checkpoint folder or None,
    "universal": its universal conversion or None, "skip": run checkpoints that resume_from replaces}."""
    import ray.train
    import ray.train.torch

    cfg = from_dict(PretrainConfig, config["cfg"])
    if not cfg.run.verbose:
        quiet_libraries()
    manifest = config["manifest"]
    rank, world = ray.train.get_context().get_world_rank(), ray.train.get_context().get_world_size()
    attach(config.get("progress"))
    device = ray.train.torch.get_device()
    on_gpu, mcfg = device.type == "cuda", model_config(cfg, manifest)
    engine, generator, state = _start(config, cfg, mcfg, manifest, rank, world, on_gpu)
    total, per_rank_step = cfg.total_steps(), cfg.seqs_per_step() // world
    start, last_file = state["step"], state.get("files_done", 0)
    batches = iter(_train_batches(cfg, config, state, rank, world, total))
    val = np.asarray(config["val"])
    trace, writer = Trace(config.get("trace_dir"), rank), _writer(config, rank, state)

    run_start, window = time.perf_counter(), {"time": 0.0, "wait": 0.0, "steps": 0, "loss": 0.0}
    for step in range(start, total + 1):
        last_step = step == total
        metrics: dict = {"step": step, "tokens": state["tokens"]}
        if step % cfg.train.eval_every == 0 or last_step:
            metrics |= evaluate(engine, val, cfg, mcfg, manifest, device)
            _show_eval(metrics, step, total, rank, writer)
        if (step > start and step % cfg.train.checkpoint_every == 0) or last_step:
            if not config["per_rank"]:
                state["files_done"] = files_consumed(last_file)
            crash = step == cfg.train.debug_crash_in_save_at_step and trace.first_crash()
            _save_and_report(engine, metrics, state, config, rank, world, generator, writer, crash)
        elif "val_loss" in metrics:
            ray.train.report(metrics)
        if last_step:
            break

        t0 = time.perf_counter()
        loss, wait, positions, grad_norm = train_step(engine, batches, cfg, mcfg, manifest, generator, device)
        last_file = positions[-1] if positions and not config["per_rank"] else last_file
        dt = time.perf_counter() - t0
        trace.record(step, loss, positions)
        state.update(step=step + 1, tokens=state["tokens"] + cfg.train.global_batch_tokens,
                     samples=state["samples"] + per_rank_step * world)
        for k, v in (("time", dt), ("wait", wait), ("steps", 1), ("loss", loss)):
            window[k] += v
        window["grad_norm"] = grad_norm
        if rank == 0:
            eta = (time.perf_counter() - run_start) / (step + 1 - start) * (total - step - 1)
            show_step(step=step + 1, total=total, loss=window["loss"] / window["steps"],
                      tok_s=cfg.train.global_batch_tokens / dt, eta=eta)
        if (step + 1) % cfg.train.log_every == 0 and rank == 0:
            log_progress(writer, window, step + 1, total, engine, cfg, mcfg, on_gpu, world, eta)
            window = {"time": 0.0, "wait": 0.0, "steps": 0, "loss": 0.0}
    if writer:
        writer.close()
    flush()  # the last messages reach the driver before fit() returns


def _start(config: dict, cfg: PretrainConfig, mcfg: GPTConfig, manifest: dict, rank: int, world: int,
           on_gpu: bool) -> tuple:
    """(engine, masking generator, state): a fresh engine, or one restored from Ray's checkpoint (set
    when Ray restarted us after a failure, or continues the run) or from the driver's `resume_from`."""
    import ray.train

    if not on_gpu:  # else DeepSpeed warns that it found no GPU and picked the CPU
        os.environ.setdefault("DS_ACCELERATOR", "cpu")
    checkpoint = ray.train.get_checkpoint()
    if checkpoint and os.path.basename(checkpoint.path.rstrip("/")) in config.get("skip", ()):
        checkpoint = None  # the driver found it incomplete, or older than the one it chose: resume_from instead
    # a checkpoint written by another number of ranks is loaded from its universal conversion
    universal = config.get("universal")
    if checkpoint and not _written_before(checkpoint, config.get("resume_from")):
        universal = None
    sweep_staging(config.get("run_dir") or cfg.run.name)  # what a crashed worker of this run left on this node
    with contextlib.nullcontext() if cfg.run.verbose else no_stdout_prints():  # "… shm_comm_op built successfully"
        engine = build_engine(cfg, mcfg, on_gpu, universal=bool(universal))
    generator = torch.Generator().manual_seed(cfg.train.seed * 1000 + rank)
    state = {"step": 0, "tokens": 0, "samples": 0, "world": world, "seq_len": manifest["seq_len"],
             "tokenizer_sha256": manifest["tokenizer_sha256"]}
    if checkpoint and not universal:
        with checkpoint.as_directory() as path:
            state = restore(engine, path, rank, generator, manifest, say=say)
    elif config.get("resume_from"):
        state = restore(engine, config["resume_from"], rank, generator, manifest, universal, say=say)
    if state["world"] != world and not universal:
        raise RuntimeError(f"the checkpoint has {state['world']} ranks and this run {world}, but it was not "
                           "converted for elastic resume (resume through python -m pretrain --resume)")
    state["world"] = world
    return engine, generator, state


def _writer(config: dict, rank: int, state: dict):
    """Rank 0's TensorBoard writer (None elsewhere), continuing at the resumed step."""
    writer = None
    if rank == 0 and config["tensorboard_dir"]:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(config["tensorboard_dir"], purge_step=state["step"] or None)
        say(f"[pretrain] TensorBoard logs: {config['tensorboard_dir']}")
    if rank == 0 and state["step"]:
        say(f"[pretrain] resumed at step {state['step']} ({state['samples']:,} samples consumed)")
    return writer


def _show_eval(metrics: dict, step: int, total: int, rank: int, writer) -> None:
    if rank == 0:
        show_step(step=step, total=total, val=metrics["val_loss"])
        say(f"[pretrain] step {step}/{total} | val loss {metrics['val_loss']:.3f} | val ppl {metrics['val_ppl']:.1f}")
    if writer:
        writer.add_scalar("val/loss", metrics["val_loss"], step)
        writer.add_scalar("val/perplexity", metrics["val_ppl"], step)


def _save_and_report(engine, metrics: dict, state: dict, config: dict, rank: int, world: int, generator,
                     writer, crash: bool) -> None:
    """Save this rank's part of a checkpoint in a staging folder (removed afterwards, even on an
    error) and report it with the metrics; Ray uploads it and registers it once every rank has."""
    import ray.train

    if writer and config.get("tensorboard_mirror"):
        writer.flush()
        storage.copy_tree(config["tensorboard_dir"], config["tensorboard_mirror"])
    with staging(config.get("run_dir") or config["cfg"]["run"]["name"]) as path:
        saved = save_checkpoint(engine, path, state, config, rank, world, generator, crash)
        ray.train.report(metrics, checkpoint=saved, delete_local_checkpoint_after_upload=True)


def _written_before(checkpoint, resume_from: str | None) -> bool:
    """Is Ray's checkpoint the very one we were told to resume from (so use its conversion)?
    Only local folders are given as --resume PATH, so a remote checkpoint never is (and is not downloaded)."""
    import pyarrow.fs

    local = isinstance(checkpoint.filesystem, pyarrow.fs.LocalFileSystem) and os.path.isdir(checkpoint.path)
    return bool(resume_from) and local and os.path.samefile(checkpoint.path, resume_from)


def _train_batches(cfg: PretrainConfig, config: dict, state: dict, rank: int, world: int, total: int):
    """This rank's micro-batches from the data position in `state` onwards."""
    import ray.data
    import ray.train

    from pretrain.data import rank_dataset

    kwargs = dict(batch_size=cfg.train.micro_batch_size, drop_last=True,
                  prefetch_batches=cfg.data.prefetch_batches, dtypes=torch.int64)
    if config["per_rank"] and state["samples"]:
        # Resuming: read exactly the remaining range, from the same deterministic order.
        ray.data.DataContext.get_current().execution_options.preserve_order = True
        remaining = (total - state["step"]) * cfg.seqs_per_step() // world
        ds = rank_dataset(cfg.data.shards, config["manifest"], cfg.data.weights, cfg.data.seed, rank, world,
                          start=state["samples"], count=remaining, batch_size=cfg.train.micro_batch_size)
        return ds.iter_torch_batches(**kwargs)
    if not config["per_rank"]:
        _set_live_position(config["live_position"], state.get("files_done", 0), rank)
    shard = ray.train.get_dataset_shard(f"train_{rank}" if config["per_rank"] else "train")
    return shard.iter_torch_batches(**kwargs)


def _set_live_position(position: str, files_done: int, rank: int) -> None:
    """Live mode: tell the stream's read tasks how many leading input files to skip, before
    any rank starts reading (see datapipe/live.py)."""
    import torch.distributed as dist

    if rank == 0:
        storage.write_json(storage.resolve(position), {"files_done": files_done})
        if files_done:
            say(f"[pretrain] live mode: the first {files_done} input files were fully consumed "
                "before the checkpoint; they are not read again")
    dist.barrier()


def files_consumed(last_file: int) -> int:
    """Live mode: input files before every rank's current one are fully consumed (blocks leave
    in file order and each carries the file of its first token)."""
    import torch.distributed as dist

    t = torch.tensor([last_file], dtype=torch.int64)
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return int(t.item())


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


def log_progress(writer, window, step, total, engine, cfg, mcfg, on_gpu, world, eta) -> None:
    n = window["steps"]
    tok_s = n * cfg.train.global_batch_tokens / window["time"]
    wait_frac = window["wait"] / window["time"]
    lr = engine.get_lr()[0]
    scalars = {"train/loss": window["loss"] / n, "train/lr": lr, "train/grad_norm": window["grad_norm"],
               "perf/tokens_per_s": tok_s, "perf/step_time_s": window["time"] / n, "perf/data_wait_fraction": wait_frac}
    m = mfu(tok_s, mcfg, on_gpu, world)
    if m is not None:
        scalars["perf/mfu"] = m
    if writer:
        for k, v in scalars.items():
            writer.add_scalar(k, v, step)
        writer.flush()
    say(f"[pretrain] step {step}/{total} | loss {scalars['train/loss']:.3f} | lr {lr:.2e} | "
        f"{tok_s / 1e3:.1f}k tok/s | data wait {wait_frac:.1%}"
        + (f" | MFU {m:.1%}" if m is not None else "") + f" | ETA {clock(eta)}")
