"""Training-path overhead on CPU: our Ray Train + DeepSpeed step against a bare PyTorch loop.

    python bench/train_overhead.py                     # bare vs ours (ZeRO-2), 3 interleaved rounds of 40 steps
    python bench/train_overhead.py --ray-bare --zero 2 --zero 0 --worker-niceness -1   # + Ray's default nice 15
    python bench/train_overhead.py --in-process --no-ours --zero 2 --zero 0        # DeepSpeed alone, no Ray
    python bench/train_overhead.py --compile           # + bare-compiled and ours-zN-compiled (train.compile)

Same run, same model, same batch, same blocks, same thread count (and, with --worker-niceness 0, same priority):

  bare      one process, no Ray, no DeepSpeed: GPT + torch AdamW (the model's param groups, the same LambdaLR
            schedule and grad clipping), grad accumulation over micro-batches read with numpy from the shards
            (pretrain.data.BlockReader called in-process, so the very blocks rank 0 of a 1-worker run reads).
  ours-zN   `pretrain.trainer.build_trainer(cfg).fit()` with deepspeed.zero_stage=N: one Ray Train worker
            (num_workers=1, so the same compute in one process) running the real `pretrain.loop.train_func` with
            its DeepSpeed engine and its Ray Data stream. Its step time and data-wait fraction are what the loop
            itself logs to TensorBoard (`perf/step_time_s`, `perf/data_wait_fraction`), read back with
            EventAccumulator.
  bare-ray  (--ray-bare) the bare loop as a 1-CPU Ray task: what running in a Ray worker process costs by itself.
  *-compiled (--compile) the same with torch.compile: `torch.compile(model)` in the bare loop, train.compile=true
            (DeepSpeed's engine.compile, inductor) in ours; the first logging window, skipped, holds the compilation.
  ds-zN     (--in-process) `pretrain.loop.build_engine` + `pretrain.loop.train_step` in this process on a numpy
            iterator, no Ray: DeepSpeed's share of ours/bare.

Every variant skips its first logging window (warmup, allocator, first-touch) and reports the mean step time
over the rest. Variants are interleaved round by round (order reversed every other round) because the CPU is
shared; the ratio is taken per round and the median reported. Targets: ours/bare <= 1.10, data wait <= 2%.
Besides wall time, CPU seconds per step are compared (bare: process CPU; ours: the training thread's CPU in the
steady part of the fit, sampled with psutil), which a busy machine distorts much less than wall time.

Two things make a naive comparison unfair on a shared CPU, and both are pinned here:
  * Ray gives a 1-CPU worker OMP_NUM_THREADS=1: both sides get --threads explicitly (runtime_env + set_num_threads).
  * Ray starts its worker processes at nice 15 (RAY_worker_niceness): next to other users' nice-0 processes the
    trainer gets a smaller share of the CPU than the bare loop. --worker-niceness 0 compares at equal priority.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import socket
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "1")

TARGET_RATIO, TARGET_WAIT = 1.10, 0.02


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shards", default="", help="datapipe output folder; empty builds/reuses the sample shards "
                                                "of configs/pretrain/debug.yaml (outputs/datapipe)")
    p.add_argument("--n-layer", type=int, default=4)
    p.add_argument("--d-model", type=int, default=256)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--micro-batch", type=int, default=16)
    p.add_argument("--grad-accum", type=int, default=2)
    p.add_argument("--steps", type=int, default=40, help="optimizer steps per variant and round")
    p.add_argument("--log-every", type=int, default=10, help="logging window; the first one is skipped")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads on both sides")
    p.add_argument("--zero", type=int, action="append", help="ZeRO stage(s) for 'ours' (repeatable; default 2)")
    p.add_argument("--prefetch", type=int, default=2, help="data.prefetch_batches for 'ours'")
    p.add_argument("--in-process", action="store_true", help="also time the DeepSpeed engine without Ray (ds)")
    p.add_argument("--ray-bare", action="store_true",
                   help="also time the bare loop inside a 1-CPU Ray task (Ray's process, no Train/Data/DeepSpeed)")
    p.add_argument("--worker-niceness", type=int, default=0,
                   help="RAY_worker_niceness for the local Ray. Ray's own default is 15 (workers below everything "
                        "else on the box); the bare loop runs at nice 0, so 0 (default) compares at equal priority. "
                        "-1 leaves Ray's default")
    p.add_argument("--health-check-s", type=float,
                   help="RAY_TRAIN_HEALTH_CHECK_INTERVAL_S (how often the controller polls the worker; Ray's default 2)")
    p.add_argument("--no-ours", action="store_true", help="skip the Ray Train runs (with --in-process: DeepSpeed only)")
    p.add_argument("--compile", action="store_true", help="also time bare-compiled and ours-zN-compiled (train.compile)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--out", default="outputs/bench/train_overhead", help="Ray storage for the 'ours' runs")
    p.add_argument("--verbose", action="store_true", help="show the Ray workers' output")
    a = p.parse_args(argv)
    a.zero = a.zero or [2]
    if a.steps < 2 * a.log_every:
        p.error("--steps must be at least 2 × --log-every (the first window is skipped)")
    return a


def make_cfg(args, shards: str, seq_len: int, vocab: int, zero: int, name: str, compile: bool = False):
    from raypretrain.config import load
    from pretrain.config import PretrainConfig
    from pretrain.main import DEFAULT_CONFIG

    sets = [f"model.n_layer={args.n_layer}", f"model.d_model={args.d_model}", f"model.n_head={args.n_head}",
            f"model.seq_len={seq_len}", f"model.vocab_size={vocab}",
            f"train.micro_batch_size={args.micro_batch}",
            f"train.global_batch_tokens={seq_len * args.micro_batch * args.grad_accum}",
            f"train.max_steps={args.steps}", f"train.log_every={args.log_every}",
            f"train.eval_every={args.steps}", f"train.checkpoint_every={args.steps}", "train.eval_blocks=8",
            f"deepspeed.zero_stage={zero}", "scaling.num_workers=1", "scaling.cpus_per_worker=1",
            "scaling.use_gpu='no'", f"data.prefetch_batches={args.prefetch}",
            f"run.name={name}", f"run.storage_path={args.out}", f"train.compile={str(compile).lower()}"]
    if shards:
        sets.append(f"data.shards={shards}")
    return load(PretrainConfig, DEFAULT_CONFIG, sets, job="pretrain")


def block_reader(cfg, manifest):
    """The callable rank 0 of a 1-worker run maps its sample indices through, used here without Ray."""
    from pretrain.data import BlockReader, run_mix, train_sources

    return BlockReader(cfg.data.shards, train_sources(cfg.data.shards, manifest), run_mix(cfg, manifest),
                       cfg.data.seed, rank=0, world=1, start=0)


def numpy_batches(cfg, manifest):
    """Micro-batches {"tokens": int64 (B, seq_len + 1)} in the order the Ray Data stream yields them."""
    import numpy as np
    import torch

    reader, mb, i = block_reader(cfg, manifest), cfg.train.micro_batch_size, 0
    while True:
        yield {"tokens": torch.from_numpy(reader({"data": np.arange(i, i + mb)})["tokens"])}
        i += mb


def summarize(times: list[float], waits: list[float], losses: list[float], log_every: int) -> dict:
    """Per-window means like the loop's own logging; the first window is dropped."""
    win = [slice(i, i + log_every) for i in range(0, len(times) - log_every + 1, log_every)]
    step = [sum(times[s]) / log_every for s in win[1:]]
    wait = [sum(waits[s]) / sum(times[s]) for s in win[1:]]
    return {"step": step, "wait": wait, "loss": [sum(losses[s]) / log_every for s in win]}


def run_bare(cfg, manifest, args) -> dict:
    import torch

    from pretrain.loop import batch_inputs, lr_at
    from pretrain.model import GPT

    torch.set_num_threads(args.threads)
    mcfg, o = cfg.model, cfg.optim
    torch.manual_seed(cfg.train.seed)
    model = GPT(mcfg).train()
    if cfg.train.compile:
        model.compile(backend="inductor", mode=cfg.train.compile_mode)  # in place, as DeepSpeed's engine.compile
    opt = torch.optim.AdamW(model.param_groups(o.weight_decay), lr=o.lr, betas=(o.beta1, o.beta2), eps=o.eps)
    total = cfg.total_steps()
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_at(s, o.lr, o.warmup_steps, total, o.min_lr_ratio) / o.lr)
    gen = torch.Generator().manual_seed(cfg.train.seed * 1000)
    batches, accum = numpy_batches(cfg, manifest), cfg.grad_accum_steps()
    times, waits, losses = [], [], []
    cpu0 = time.process_time()
    for _ in range(total):
        t0, wait, step_losses = time.perf_counter(), 0.0, []
        for _ in range(accum):
            tw = time.perf_counter()
            batch = next(batches)
            wait += time.perf_counter() - tw
            x, y, causal = batch_inputs(batch["tokens"], cfg, manifest, gen)
            _, loss = model(x, y, causal=causal)
            (loss / accum).backward()
            step_losses.append(loss.detach())
        if cfg.optim.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(torch.stack(step_losses).mean().item())
        times.append(time.perf_counter() - t0)
        waits.append(wait)
    out = summarize(times, waits, losses, cfg.train.log_every)
    out["cpu_per_step"] = (time.process_time() - cpu0) / total
    return out


def run_bare_in_ray(cfg, manifest, args) -> dict:
    """The bare loop as a 1-CPU Ray task: Ray's worker process and env, none of Train, Data or DeepSpeed."""
    import ray

    return ray.get(ray.remote(num_cpus=1)(run_bare).remote(cfg, manifest, args))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_ds_in_process(cfg, manifest, args) -> dict:
    """pretrain.loop's engine and train_step in this process (1-rank gloo group), no Ray."""
    import torch
    import torch.distributed as dist

    from pretrain.loop import Training, build_engine, train_step

    torch.set_num_threads(args.threads)
    if not dist.is_initialized():
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()), RANK="0", WORLD_SIZE="1",
                          LOCAL_RANK="0", LOCAL_WORLD_SIZE="1")
        dist.init_process_group("gloo", rank=0, world_size=1)
    engine = build_engine(cfg, on_gpu=False)
    gen = torch.Generator().manual_seed(cfg.train.seed * 1000)
    batches = numpy_batches(cfg, manifest)
    times, waits, losses = [], [], []
    for _ in range(cfg.total_steps()):
        t0 = time.perf_counter()
        loss, wait = train_step(Training(engine, cfg, manifest, torch.device("cpu"), gen), batches)[:2]
        times.append(time.perf_counter() - t0)
        waits.append(wait)
        losses.append(loss)
    del engine
    return summarize(times, waits, losses, cfg.train.log_every)


def run_ours(cfg) -> dict:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from pretrain.trainer import RunPaths, build_trainer

    shutil.rmtree(RunPaths.of(cfg).run_dir, ignore_errors=True)  # never resume
    trainer = build_trainer(cfg)
    cpu = CpuSampler().start()
    t0 = time.perf_counter()
    try:
        trainer.fit()
    finally:
        cpu.stop()
    wall = time.perf_counter() - t0
    acc = EventAccumulator(RunPaths.of(cfg).tensorboard, size_guidance={"scalars": 0})
    acc.Reload()

    def scalars(tag):
        return [e.value for e in sorted(acc.Scalars(tag), key=lambda e: e.step)][1:]  # skip the first window

    step, wait = scalars("perf/step_time_s"), scalars("perf/data_wait_fraction")
    loss = [e.value for e in sorted(acc.Scalars("train/loss"), key=lambda e: e.step)]
    res = {"step": step, "wait": wait, "loss": loss, "wall": wall, "cpu": cpu.result()}
    # CPU seconds the training thread burns per step while training (steady span): insensitive to how much of a
    # core the box left it, so comparable with the bare loop's process CPU per step even on a busy machine
    thread_cores = res["cpu"]["steady"].get("train worker: training thread")
    if thread_cores:
        res["cpu_per_step"] = thread_cores * mean(step)
    return res


class CpuSampler:
    """CPU seconds used during a fit by this driver's Ray processes (its descendants), grouped by role, and
    the Ray Train worker's main thread (the compute) against its other threads. Sampled every second, so a
    process's last second before it exits can be missed."""

    ROLES = (("RayTrainWorker", "train worker"), ("MapWorker", "data actor"), ("BlockReader", "data actor"),
             ("TrainController", "train controller"), ("raylet", "raylet"), ("gcs_server", "gcs"))

    def __init__(self, interval: float = 1.0):
        import threading

        import psutil

        self.psutil, self.interval, self.stop_event = psutil, interval, threading.Event()
        self.me = psutil.Process()
        self.base: dict[int, float] = {}  # CPU time of processes alive before the fit (they count from now)
        self.base_threads: dict[int, dict[int, float]] = {}
        self.last: dict[int, tuple[str, float]] = {}
        self.threads: dict[int, dict[int, float]] = {}  # train worker pid → thread id → CPU s (dead ones kept)
        self.timeline: list[tuple[float, dict[str, float]]] = []
        for p in self.me.children(recursive=True):
            try:
                t = p.cpu_times()
                self.base[p.pid] = t.user + t.system
                self.base_threads[p.pid] = {th.id: th.user_time + th.system_time for th in p.threads()}
            except psutil.Error:
                pass
        t = self.me.cpu_times()
        self.driver0 = t.user + t.system
        self.thread = threading.Thread(target=self._run, daemon=True)

    def role(self, p) -> str:
        """By process title (Ray sets ray::<Actor>); a process starts as a plain python or ray::IDLE worker
        and takes its role later, so this is asked at every sample and a specific role sticks."""
        cmd = p.cmdline()
        title = cmd[0] if cmd and cmd[0].startswith("ray::") else os.path.basename(cmd[0]) if cmd else p.name()
        return next((r for k, r in self.ROLES if k in title),
                    "other: " + (title[5:].split(".")[0].split("(")[0] if title.startswith("ray::") else title)[:40])

    def _sample(self) -> None:
        ps = self.psutil
        for p in self.me.children(recursive=True):
            try:
                t = p.cpu_times()
                role = self.role(p)
                if role.startswith("other") and p.pid in self.last and not self.last[p.pid][0].startswith("other"):
                    role = self.last[p.pid][0]
                self.last[p.pid] = (role, t.user + t.system)
                if role == "train worker":
                    base, seen = self.base_threads.get(p.pid, {}), self.threads.setdefault(p.pid, {})
                    for th in p.threads():
                        seen[th.id] = th.user_time + th.system_time - base.get(th.id, 0.0)
            except ps.Error:
                pass
        t = self.me.cpu_times()
        threads = {(pid, tid): ("train worker: training thread", cpu)
                   for pid, th in self.threads.items() for tid, cpu in th.items()}
        self.timeline.append((time.perf_counter(), dict(self.last) | threads | {
            "driver (incl. this sampler)": ("driver (incl. this sampler)", t.user + t.system)}))

    def totals(self) -> dict[str, float]:
        t = self.me.cpu_times()
        out: dict[str, float] = {"driver (incl. this sampler)": t.user + t.system - self.driver0}
        for pid, (role, cpu) in self.last.items():
            out[role] = out.get(role, 0.0) + cpu - self.base.get(pid, 0.0)
        # Ray Train runs train_func in a thread of its own: the busiest thread is the training loop
        busiest = [max(t.values(), default=0.0) for t in self.threads.values()]
        out["train worker: training thread"] = sum(busiest)
        out["train worker: other threads"] = sum(sum(t.values()) for t in self.threads.values()) - sum(busiest)
        return out

    def steady(self) -> tuple[float, dict[str, float]]:
        """(seconds, cores used by each role) over the sampling intervals in which the training thread (the train
        worker's thread with the most CPU at the end) was busy (>= 0.5 core): Ray's own CPU use alongside the
        training steps, startup left out."""
        final = {(pid, tid): cpu for pid, th in self.threads.items() for tid, cpu in th.items()}
        if not final:
            return 0.0, {}
        k = max(final, key=final.get)
        span, used = 0.0, {}
        for (t0, a), (t1, b) in zip(self.timeline, self.timeline[1:]):
            if k not in a or k not in b or (b[k][1] - a[k][1]) / (t1 - t0) < 0.5:
                continue
            span += t1 - t0
            for key, (role, cpu) in b.items():  # per process, so a process changing role moves no history
                if key in a and (not isinstance(key, tuple) or key == k):
                    used[role] = used.get(role, 0.0) + cpu - a[key][1]
        return span, {r: v / span for r, v in used.items()} if span else {}

    def _run(self) -> None:
        while not self.stop_event.wait(self.interval):
            self._sample()

    def start(self) -> "CpuSampler":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join()
        self._sample()

    def result(self) -> dict:
        span, cores = self.steady()
        return {"total": self.totals(), "steady_s": span, "steady": cores}


def mean(xs):
    return sum(xs) / len(xs)


def weighted_wait(r: dict) -> float:
    return sum(w * t for w, t in zip(r["wait"], r["step"])) / sum(r["step"])


def main(argv=None) -> int:
    args = parse_args(argv)
    import ray
    import ray.data
    import torch

    from pretrain.data import load_manifest
    from pretrain.trainer import ensure_shards
    from pretrain.model import flops_per_token, num_params

    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # inherited by the local Ray's workers, too
    if args.health_check_s is not None:
        os.environ["RAY_TRAIN_HEALTH_CHECK_INTERVAL_S"] = str(args.health_check_s)
    if args.worker_niceness >= 0:
        os.environ["RAY_worker_niceness"] = str(args.worker_niceness)
    torch.set_num_threads(args.threads)
    # shards first (ensure_shards may run datapipe, which starts and stops its own Ray)
    probe = ensure_shards(make_cfg(args, args.shards, 128, 1 << 16, 2, "probe"))
    manifest = load_manifest(probe.data.shards)
    seq_len, vocab = manifest["seq_len"], manifest["vocab_size"]
    vocab = 64 * -(-vocab // 64)
    cfgs = {"bare": make_cfg(args, probe.data.shards, seq_len, vocab, args.zero[0], "bare")}
    if args.compile:
        cfgs["bare-compiled"] = make_cfg(args, probe.data.shards, seq_len, vocab, args.zero[0], "bare", compile=True)
    if args.ray_bare:
        cfgs["bare-ray"] = cfgs["bare"]
    if args.in_process:
        for z in args.zero:
            cfgs[f"ds-z{z}"] = make_cfg(args, probe.data.shards, seq_len, vocab, z, f"ds-z{z}")
    if not args.no_ours:
        for z in args.zero:
            cfgs[f"ours-z{z}"] = make_cfg(args, probe.data.shards, seq_len, vocab, z, f"ours-z{z}")
            if args.compile:
                cfgs[f"ours-z{z}-compiled"] = make_cfg(args, probe.data.shards, seq_len, vocab, z,
                                                       f"ours-z{z}-compiled", compile=True)
    mcfg = cfgs["bare"].model

    if ray.is_initialized():
        ray.shutdown()
    # Ray Train's PlacementGroupCleaner asks the State API whether the controller is alive. In a worker the State
    # API finds "its" cluster by scanning the machine (no RAY_ADDRESS), so with other local Rays on a shared box it
    # can ask a foreign cluster, get "no such actor", take the controller for dead and remove the live run's
    # placement group (the worker dies: "A worker health check failed ... placement group was removed").
    # Pin the State API of every process of this cluster to an address of ours (the dashboard is off: a port
    # nobody listens on, so the cleaner only ever sees "unavailable" and never kills a live run).
    if "RAY_ADDRESS" not in os.environ:
        os.environ.setdefault("RAY_API_SERVER_ADDRESS", f"http://127.0.0.1:{_free_port()}")
    ray.init(num_cpus=max(2, os.cpu_count() or 2), include_dashboard=False, log_to_driver=args.verbose,
             runtime_env={"env_vars": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "RAY_TRAIN_HEALTH_CHECK_INTERVAL_S",
                                                                        "RAY_worker_niceness", "RAY_API_SERVER_ADDRESS")
                                       if k in os.environ}})
    ray.data.DataContext.get_current().enable_progress_bars = False
    worker_threads, worker_nice = ray.get(ray.remote(num_cpus=1)(
        lambda: (__import__("torch").get_num_threads(), os.nice(0))).remote())

    print(f"[bench] model {args.n_layer}L/{args.d_model}d/{args.n_head}H vocab {vocab} seq {seq_len} "
          f"({num_params(mcfg) / 1e6:.2f}M params, {flops_per_token(mcfg, seq_len) / 1e6:.1f} MFLOP/token); "
          f"micro-batch {args.micro_batch} × accum {args.grad_accum}; {args.steps} steps, windows of "
          f"{args.log_every}; torch threads driver {torch.get_num_threads()} / Ray worker {worker_threads}; "
          f"niceness driver {os.nice(0)} / Ray worker {worker_nice}; "
          f"shards {probe.data.shards}", flush=True)

    results: dict[str, list[dict]] = {k: [] for k in cfgs}
    failures: list[str] = []
    for r in range(args.rounds):
        names = list(cfgs) if r % 2 == 0 else list(cfgs)[::-1]
        for name in names:
            cfg = cfgs[name]
            if name.startswith("ours"):
                for attempt in range(2):  # a fit can die of Ray trouble on a loaded box; retry it once
                    run = dataclasses.replace(cfg.run, name=f"{name}-r{r}" + (f"-retry{attempt}" if attempt else ""))
                    try:
                        res = run_ours(dataclasses.replace(cfg, run=run))
                        break
                    except Exception as e:  # noqa: BLE001
                        print(f"[bench] round {r} {name}: fit failed ({type(e).__name__}: "
                              f"{str(e).splitlines()[0] if str(e) else ''}){'; retrying' if not attempt else ''}",
                              flush=True)
                        failures.append(f"round {r} {name}: {type(e).__name__}: {' '.join(str(e).split())[:300]}")
                        if attempt:
                            raise
            elif name.startswith("ds"):
                res = run_ds_in_process(cfg, manifest, args)
            elif name == "bare-ray":
                res = run_bare_in_ray(cfg, manifest, args)
            else:
                res = run_bare(cfg, manifest, args)
            results[name].append(res)
            print(f"[bench] round {r} {name:8s} step {mean(res['step']):.3f}s (windows "
                  f"{', '.join(f'{s:.3f}' for s in res['step'])}) data wait {weighted_wait(res):.2%} "
                  f"loss by window {' '.join(f'{x:.4f}' for x in res['loss'])}"
                  + (f" | fit wall {res['wall']:.0f}s" if "wall" in res else "")
                  + (f" | CPU {res['cpu_per_step']:.3f} s/step" if "cpu_per_step" in res else ""), flush=True)
            if "cpu" in res:
                c = res["cpu"]
                print("[bench]   CPU-s during the fit (startup, eval, checkpoint included): " + ", ".join(
                    f"{k} {v:.1f}" for k, v in sorted(c["total"].items(), key=lambda kv: -kv[1]) if v >= 0.05),
                    flush=True)
                print(f"[bench]   cores in use while the training thread was busy ({c['steady_s']:.0f}s): " + ", ".join(
                    f"{k} {v:.2f}" for k, v in sorted(c["steady"].items(), key=lambda kv: -kv[1]) if v >= 0.005),
                    flush=True)
    ray.shutdown()

    bare = [mean(x["step"]) for x in results["bare"]]
    cmd = "python " + " ".join([os.path.relpath(__file__)] + (argv if argv is not None else sys.argv[1:]))
    print(f"\n`{cmd}`\n")
    print(f"{args.n_layer}L/{args.d_model}d/{args.n_head}H, vocab {vocab}, seq {seq_len}, micro-batch "
          f"{args.micro_batch} × {args.grad_accum} accum, fp32, {args.threads} torch thread(s) each, niceness bare "
          f"{os.nice(0)} / Ray workers {worker_nice}, "
          f"{args.rounds} interleaved rounds of {args.steps} steps (first {args.log_every} skipped)\n")
    print("| variant | step time (s), per round | ratio vs bare, per round | ratio (median) | target | "
          "data wait | target | CPU s/step, per round | CPU ratio (median) | loss, first / last window |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    bare_cpu = [x.get("cpu_per_step") for x in results["bare"]]
    for name, rs in results.items():
        steps = [mean(x["step"]) for x in rs]
        ratios = [s / b for s, b in zip(steps, bare)]
        waits = [weighted_wait(x) for x in rs]
        cpus = [x.get("cpu_per_step") for x in rs]
        cpu_ratios = [c / b for c, b in zip(cpus, bare_cpu) if c and b]
        is_ours = name.startswith("ours")
        print(f"| {name} | {' / '.join(f'{s:.3f}' for s in steps)} | {' / '.join(f'{q:.3f}' for q in ratios)} | "
              f"{statistics.median(ratios):.3f} | "
              f"{f'≤ {TARGET_RATIO:.2f}' if is_ours else ''} | {max(waits):.2%} (max) | "
              f"{f'≤ {TARGET_WAIT:.0%}' if is_ours else ''} | "
              f"{' / '.join(f'{x:.3f}' if x else '–' for x in cpus)} | "
              f"{f'{statistics.median(cpu_ratios):.3f}' if cpu_ratios else '–'} | "
              f"{rs[-1]['loss'][0]:.4f} / {rs[-1]['loss'][-1]:.4f} |")
    spread = [(max(x["step"]) - min(x["step"])) / mean(x["step"]) for rs in results.values() for x in rs]
    for f in failures:
        print(f"\nfailed fit (retried): {f}")
    print(f"\nnoise: window-to-window spread within a run up to {max(spread):.0%} of its mean; "
          f"bare across rounds {min(bare):.3f}–{max(bare):.3f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
