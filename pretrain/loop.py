"""The per-worker training loop: one DeepSpeed engine per Ray Train worker.

`train_func` is what `TorchTrainer` runs on every worker. Its first line rebuilds the
`WorkerInputs` that `pretrain.trainer.build_trainer` sent as plain data; `start` builds the
engine, restored from the last checkpoint if Ray hands one over or the driver named one, into
a `Training` that `train_step`, `evaluate`, `checkpoint` and `log_progress` take. Then llm.c's
loop shape:

    for step in range(start, total + 1):
        last = step == total
        evaluate / checkpoint when due (always on the last step)
        if last: break
        one optimizer step (gradient accumulation over micro-batches)

so the final eval and checkpoint are the loop body's own, not code after the loop.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pyarrow.fs
import ray.data
import ray.train
import ray.train.torch
import torch
import torch.distributed as dist
from torch.utils.tensorboard import SummaryWriter

from pretrain.checkpoint import load_tokenizer, restore, save_checkpoint, staging, sweep_staging
from pretrain.config import PretrainConfig
from pretrain.data import MixPlan, rank_dataset, run_mix, train_sources, val_blocks
from pretrain.model import GPT, GPTConfig, flops_per_token, mlm_mask
from pretrain.paths import RunPaths, WorkerInputs
from pretrain.trace import Trace
from raypretrain import storage
from raypretrain.config import ConfigError, from_dict
from raypretrain.console import Progress, attach, clock, quiet, quiet_loggers, quiet_warnings

IGNORE = -100
# Dense bf16 peak FLOP/s per device, for MFU. Unknown devices (and CPUs) report no MFU.
PEAK_FLOPS = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "A10G": 125e12, "L4": 121e12}


@dataclass
class Training:
    """One worker's training, built by `start`: what the loop's helpers share."""

    engine: Any
    cfg: PretrainConfig
    manifest: dict
    device: torch.device
    generator: torch.Generator
    """The MLM masking RNG (saved in every checkpoint)."""
    progress: Progress = field(default_factory=Progress)
    rank: int = 0
    world: int = 1
    paths: RunPaths | None = None
    tokenizer: bytes = b""
    """The tokenizer.json bytes, written into every checkpoint."""
    state: dict = field(default_factory=dict)
    """What a checkpoint records: step, tokens, samples, world, seq_len, tokenizer_sha256 (live mode: files_done)."""
    writer: SummaryWriter | None = None
    """Rank 0's TensorBoard writer (None on other ranks)."""
    mix: MixPlan | None = None
    """Shards mode: the run's position → source map (what each step's share of sources and stage is)."""

    @property
    def on_gpu(self) -> bool:
        return self.device.type == "cuda"

    def quiet(self, *packages: str):
        """Around one call into the libraries, unless run.verbose: no Future/Deprecation/User warnings
        (DeepSpeed's ZeRO steps call torch.distributed functions torch deprecates), and no print()s of
        `packages` (raypretrain.console.quiet)."""
        if self.cfg.run.verbose:
            return contextlib.nullcontext()
        return quiet(*packages) if packages else quiet_warnings()


def lr_at(step: int, peak: float, warmup: int, total: int, min_ratio: float) -> float:
    """Learning rate for optimizer step `step` (0-based): linear warmup to `peak` over
    `warmup` steps, then cosine decay to peak × min_ratio at step `total`."""
    if warmup and step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def model_config(cfg: PretrainConfig, manifest: dict) -> GPTConfig:
    """The model shape for these shards; a mismatch is the user's to fix (ConfigError)."""
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


def build_engine(cfg: PretrainConfig, on_gpu: bool, universal: bool = False):
    """The DeepSpeed engine; `universal` prepares it to load a universal (re-shardable) checkpoint."""
    import deepspeed  # heavy (seconds), and it picks its accelerator at import: after DS_ACCELERATOR is set

    torch.manual_seed(cfg.train.seed)
    model = GPT(cfg.model)
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
    if cfg.train.compile:
        # nn.Module.compile in place: the state dict's keys stay the model's, so checkpoints do not change
        engine.compile(backend="inductor", compile_kwargs={"mode": cfg.train.compile_mode})
    return engine


def batch_inputs(tokens: torch.Tensor, cfg: PretrainConfig, manifest: dict,
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


def train_step(t: Training, batches) -> StepResult:
    """One optimizer step over grad_accum micro-batches."""
    with t.quiet():
        return _train_step(t, batches)


def _train_step(t: Training, batches) -> StepResult:
    engine, wait, losses, positions, norm = t.engine, 0.0, [], [], None
    accum = t.cfg.grad_accum_steps()
    for i in range(accum):
        t0 = time.perf_counter()
        batch = next(batches)
        wait += time.perf_counter() - t0
        if "pos" in batch:
            positions += batch["pos"].tolist()
        elif "file" in batch:
            positions += batch["file"].tolist()
        x, y, causal = batch_inputs(batch["tokens"].to(t.device), t.cfg, t.manifest, t.generator)
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


def evaluate(t: Training, val: np.ndarray) -> dict:
    """Validation loss and perplexity, all ranks together (ZeRO-3 needs every rank's forward)."""
    with t.quiet():
        return _evaluate(t, val)


@torch.no_grad()
def _evaluate(t: Training, val: np.ndarray) -> dict:
    engine, cfg = t.engine, t.cfg
    engine.eval()
    generator = torch.Generator().manual_seed(cfg.train.seed + 1)  # the same masks every eval
    total = torch.zeros(2, dtype=torch.float64, device=t.device)  # (sum of losses × tokens, tokens)
    mb = cfg.train.micro_batch_size
    # every rank runs the same number of forwards; ranks past the data run an empty-weighted one
    n_batches = math.ceil(math.ceil(len(val) / dist.get_world_size()) / mb)
    mine = val[dist.get_rank()::dist.get_world_size()]
    for i in range(n_batches):
        chunk = mine[i * mb:(i + 1) * mb]
        weight = len(chunk)
        if not weight:
            chunk = val[:1]
        x, y, causal = batch_inputs(torch.from_numpy(chunk).to(t.device), cfg, t.manifest, generator)
        _, loss = engine(x, y, causal=causal)
        n = (y != IGNORE).sum().item() if weight else 0
        total += torch.tensor([loss.double().item() * n, n], dtype=torch.float64, device=t.device)
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


@dataclass
class Window:
    """Sums over the optimizer steps since the last progress line."""

    time: float = 0.0
    wait: float = 0.0
    steps: int = 0
    loss: float = 0.0
    grad_norm: float = float("nan")
    """The last step's."""

    def add(self, seconds: float, result: StepResult) -> None:
        self.time, self.wait, self.steps = self.time + seconds, self.wait + result.wait, self.steps + 1
        self.loss, self.grad_norm = self.loss + result.loss, result.grad_norm


def train_func(config: dict) -> None:
    """Ray Train worker entry; `config` is a WorkerInputs as plain data."""
    inputs = from_dict(WorkerInputs, config)
    t = start(inputs)
    cfg, state, total, begin = t.cfg, t.state, t.cfg.total_steps(), t.state["step"]
    batches = iter(_train_batches(t, inputs.per_rank, total))
    val = val_blocks(cfg.data.shards, t.manifest, cfg.train.eval_blocks)
    trace = Trace(inputs.paths.trace if cfg.train.record_trace else None, t.rank)
    run_start, window, last_file = time.perf_counter(), Window(), state.get("files_done", 0)
    for step in range(begin, total + 1):
        last = step == total
        metrics: dict = {"step": step, "tokens": state["tokens"]}
        if step % cfg.train.eval_every == 0 or last:
            metrics |= evaluate(t, val)
            show_eval(t, metrics, step, record=not begin or step > begin)  # the events hold step `begin`'s
        if (step > begin and step % cfg.train.checkpoint_every == 0) or last:
            if not inputs.per_rank:
                state["files_done"] = files_consumed(last_file)
            checkpoint(t, metrics, crash=step == cfg.train.debug_crash_in_save_at_step and trace.first_crash())
        elif "val_loss" in metrics:
            ray.train.report(metrics)
        if last:
            break

        t0 = time.perf_counter()
        result = train_step(t, batches)
        dt = time.perf_counter() - t0
        last_file = result.positions[-1] if result.positions and not inputs.per_rank else last_file
        trace.record(step, result.loss, result.positions)
        state.update(step=step + 1, tokens=state["tokens"] + cfg.train.global_batch_tokens,
                     samples=state["samples"] + cfg.seqs_per_step() // t.world * t.world)
        window.add(dt, result)
        record_mix(t, step)
        if t.rank == 0:
            eta = (time.perf_counter() - run_start) / (step + 1 - begin) * (total - step - 1)
            t.progress.step(step=step + 1, total=total, loss=window.loss / window.steps,
                            tok_s=cfg.train.global_batch_tokens / dt, eta=eta)
            if (step + 1) % cfg.train.log_every == 0:
                log_progress(t, window, step + 1, eta)
                window = Window()
    if t.writer:
        t.writer.close()
    t.progress.flush()  # the last messages reach the driver before fit() returns


def start(inputs: WorkerInputs) -> Training:
    """This worker's Training: a fresh engine, or one restored from Ray's checkpoint (set when Ray
    restarted us after a failure, or continues the run) or from the driver's resume point."""
    cfg, manifest = inputs.config, inputs.manifest
    if not cfg.run.verbose:
        quiet_loggers()
    context, device = ray.train.get_context(), ray.train.torch.get_device()
    t = Training(None, cfg, manifest, device, torch.Generator(), attach(inputs.progress),
                 context.get_world_rank(), context.get_world_size(), inputs.paths,
                 load_tokenizer(inputs.tokenizer, manifest, inputs.tokenizer))
    model_config(cfg, manifest)
    if not t.on_gpu:  # else DeepSpeed warns that it found no GPU and picked the CPU
        os.environ.setdefault("DS_ACCELERATOR", "cpu")
    handed, universal = _ray_checkpoint(inputs)
    sweep_staging(inputs.paths.run_dir)  # what a crashed worker of this run left on this node
    with t.quiet("deepspeed"):  # "… shm_comm_op built successfully"
        t.engine = build_engine(cfg, t.on_gpu, universal=bool(universal))
    t.generator.manual_seed(cfg.train.seed * 1000 + t.rank)
    t.state = {"step": 0, "tokens": 0, "samples": 0, "world": t.world, "seq_len": manifest["seq_len"],
               "tokenizer_sha256": manifest["tokenizer_sha256"]}
    with t.quiet("deepspeed"):
        if handed and not universal:
            with handed.as_directory() as path:
                t.state = restore(t.engine, path, t.rank, t.generator, manifest, say=t.progress.say)
        elif inputs.resume.path:
            t.state = restore(t.engine, inputs.resume.path, t.rank, t.generator, manifest, universal,
                              say=t.progress.say)
    if t.state["world"] != t.world and not universal:
        raise RuntimeError(f"the checkpoint has {t.state['world']} ranks and this run {t.world}, but it was not "
                           "converted for elastic resume (resume through python -m pretrain --resume)")
    t.state["world"] = t.world
    t.writer = open_writer(t)
    if cfg.data.mode == "shards":
        t.mix = MixPlan(train_sources(cfg.data.shards, manifest), run_mix(cfg, manifest), cfg.data.seed)
        t.state["stage"] = t.mix.stage_at(t.state["samples"])
    return t


def _ray_checkpoint(inputs: WorkerInputs) -> tuple:
    """(Ray's checkpoint to restore or None, the universal conversion to load instead or None)."""
    checkpoint = ray.train.get_checkpoint()
    if checkpoint and os.path.basename(checkpoint.path.rstrip("/")) in inputs.resume.skip:
        checkpoint = None  # the driver found it incomplete, or older than the one it chose: resume.path instead
    # a checkpoint written by another number of ranks is loaded from its universal conversion
    universal = inputs.resume.universal
    if checkpoint and not _written_before(checkpoint, inputs.resume.path):
        universal = None
    return checkpoint, universal


def open_writer(t: Training) -> SummaryWriter | None:
    """Rank 0's TensorBoard writer (None elsewhere). A resumed run writes a fresh event file that
    starts by purging the events after its checkpoint's step (what the interrupted run wrote past
    it), so TensorBoard shows each step once. The events up to that step are kept: the checkpoint
    was saved after them (and after `checkpoint` flushed them), so the resumed run does not record
    its re-evaluation of that step again."""
    writer, step = None, t.state["step"]
    if t.rank == 0 and t.paths.tensorboard:
        writer = SummaryWriter(t.paths.tensorboard, purge_step=step + 1 if step else None,
                               filename_suffix=f".resumed-at-{step}" if step else "")
        t.progress.say(f"[pretrain] TensorBoard logs: {t.paths.tensorboard}")
    if t.rank == 0 and step:
        t.progress.say(f"[pretrain] resumed at step {step} ({t.state['samples']:,} samples consumed)")
    return writer


def show_eval(t: Training, metrics: dict, step: int, record: bool = True) -> None:
    """Rank 0 shows an eval on the console and, when `record`, in TensorBoard."""
    if t.rank == 0:
        t.progress.step(step=step, total=t.cfg.total_steps(), val=metrics["val_loss"])
        t.progress.say(f"[pretrain] step {step}/{t.cfg.total_steps()} | val loss {metrics['val_loss']:.3f} | "
                       f"val ppl {metrics['val_ppl']:.1f}")
    if t.writer and record:
        t.writer.add_scalar("val/loss", metrics["val_loss"], step)
        t.writer.add_scalar("val/perplexity", metrics["val_ppl"], step)


def record_mix(t: Training, step: int) -> None:
    """After `step`: its share of samples by source (data/share/<source>) and its data.schedule stage
    (data/stage) in TensorBoard, from the run's pure position → source map; the stage in `t.state`."""
    if t.mix is None:
        return
    seqs = t.cfg.seqs_per_step()
    t.state["stage"] = t.mix.stage_at(t.state["samples"])  # where the next step starts
    if t.writer:
        src, _ = t.mix.source_and_index(np.arange(step * seqs, (step + 1) * seqs, dtype=np.int64))
        for i, share in enumerate(np.bincount(src, minlength=len(t.mix.sources)) / seqs):
            t.writer.add_scalar(f"data/share/{t.mix.sources[i].name}", share, step + 1)
        t.writer.add_scalar("data/stage", t.mix.stage_at(step * seqs), step + 1)


def checkpoint(t: Training, metrics: dict, crash: bool = False) -> None:
    """Save this rank's part of a checkpoint in a staging folder (removed afterwards, even on an
    error) and report it with the metrics; Ray uploads it and registers it once every rank has.
    Rank 0's TensorBoard events up to this step reach the disk (and the storage's mirror) first."""
    if t.writer:
        t.writer.flush()
        if t.paths.tensorboard_mirror:
            storage.copy_tree(t.paths.tensorboard, t.paths.tensorboard_mirror)
    with staging(t.paths.run_dir) as path, t.quiet():
        saved = save_checkpoint(t.engine, path, t.state, t.cfg, t.tokenizer, t.rank, t.world, t.generator, crash)
        ray.train.report(metrics, checkpoint=saved, delete_local_checkpoint_after_upload=True)


def _written_before(checkpoint, resume_from: str | None) -> bool:
    """Is Ray's checkpoint the very one we were told to resume from (so use its conversion)?
    Only local folders are given as --resume PATH, so a remote checkpoint never is (and is not downloaded)."""
    local = isinstance(checkpoint.filesystem, pyarrow.fs.LocalFileSystem) and os.path.isdir(checkpoint.path)
    return bool(resume_from) and local and os.path.samefile(checkpoint.path, resume_from)


def _train_batches(t: Training, per_rank: bool, total: int):
    """This rank's micro-batches from the data position in `t.state` onwards."""
    cfg, state = t.cfg, t.state
    kwargs = dict(batch_size=cfg.train.micro_batch_size, drop_last=True,
                  prefetch_batches=cfg.data.prefetch_batches, dtypes=torch.int64)
    if per_rank and state["samples"]:
        # Resuming: read exactly the remaining range, from the same deterministic order.
        ray.data.DataContext.get_current().execution_options.preserve_order = True
        remaining = (total - state["step"]) * cfg.seqs_per_step() // t.world
        ds = rank_dataset(cfg.data.shards, t.manifest, run_mix(cfg, t.manifest), cfg.data.seed, t.rank, t.world,
                          start=state["samples"], count=remaining, batch_size=cfg.train.micro_batch_size)
        return ds.iter_torch_batches(**kwargs)
    if not per_rank:
        _set_live_position(t, state.get("files_done", 0))
    shard = ray.train.get_dataset_shard(f"train_{t.rank}" if per_rank else "train")
    return shard.iter_torch_batches(**kwargs)


def _set_live_position(t: Training, files_done: int) -> None:
    """Live mode: tell the stream's read tasks how many leading input files to skip, before
    any rank starts reading (see datapipe/live.py)."""
    if t.rank == 0:
        storage.write_json(storage.resolve(t.paths.live_position), {"files_done": files_done})
        if files_done:
            t.progress.say(f"[pretrain] live mode: the first {files_done} input files were fully consumed "
                           "before the checkpoint; they are not read again")
    dist.barrier()


def files_consumed(last_file: int) -> int:
    """Live mode: input files before every rank's current one are fully consumed (blocks leave
    in file order and each carries the file of its first token)."""
    t = torch.tensor([last_file], dtype=torch.int64)
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return int(t.item())


def log_progress(t: Training, window: Window, step: int, eta: float) -> None:
    """Rank 0's progress line and TensorBoard scalars over the steps in `window`."""
    cfg, n = t.cfg, window.steps
    tok_s = n * cfg.train.global_batch_tokens / window.time
    wait_frac = window.wait / window.time
    lr = t.engine.get_lr()[0]
    scalars = {"train/loss": window.loss / n, "train/lr": lr, "train/grad_norm": window.grad_norm,
               "perf/tokens_per_s": tok_s, "perf/step_time_s": window.time / n, "perf/data_wait_fraction": wait_frac}
    m = mfu(tok_s, cfg.model, t.on_gpu, t.world)
    if m is not None:
        scalars["perf/mfu"] = m
    if t.writer:
        for k, v in scalars.items():
            t.writer.add_scalar(k, v, step)
        t.writer.flush()
    t.progress.say(f"[pretrain] step {step}/{cfg.total_steps()} | loss {scalars['train/loss']:.3f} | lr {lr:.2e} | "
                   f"{tok_s / 1e3:.1f}k tok/s | data wait {wait_frac:.1%}"
                   + (f" | MFU {m:.1%}" if m is not None else "") + f" | ETA {clock(eta)}")
