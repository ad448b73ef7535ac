"""Single-device throughput and MFU of pretrain.model.GPT: tokens/s and model FLOPs utilisation.

    python bench/mfu.py                                          # 124m and 350m, bf16, eager and compiled
    python bench/mfu.py --preset 350m --compile on --micro-batch 16 --micro-batch 32
    python bench/mfu.py --deepspeed                              # also through pretrain.loop's DeepSpeed engine
    python bench/mfu.py --device cpu --preset debug --steps 2 --warmup 1 --micro-batch 2   # smoke test

Needs only torch (and pretrain/model.py); --deepspeed also needs deepspeed and pretrain.loop's imports
(numpy, pyyaml). Tokens are synthetic (uniform random ids): throughput does not depend on the data.

Paths:
  torch      GPT under bf16 autocast (fp32 master weights), fused AdamW (the model's param groups),
             grad clipping as in training; optionally torch.compile(model).
  deepspeed  `pretrain.loop.build_engine` (the engine `python -m pretrain` trains with: torch AdamW, LambdaLR,
             the generated DeepSpeed config: bf16 weights, ZeRO stage --zero-stage) driven by
             `pretrain.loop.train_step` on a 1-rank process group; --compile on uses `engine.compile()`.

MFU = tokens/s × flops_per_token(cfg, seq_len) / peak, with pretrain.model.flops_per_token (6N + 12·L·d·T,
the PaLM/nanoGPT count) and the dense bf16 peak of the device (--peak-tflops to override). Each config runs
--warmup steps (compilation included) and is then timed over --steps optimizer steps, synchronised.
"""
from __future__ import annotations

import argparse
import gc
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from pretrain.model import GPT, GPTConfig, flops_per_token, num_params  # noqa: E402

# Dense bf16 peak FLOP/s (no sparsity). H100 SXM and H200 share the H100 compute die.
PEAK_FLOPS = {"H200": 989e12, "H100": 989e12, "GH200": 989e12, "A100": 312e12, "L40S": 362e12,
              "A10G": 125e12, "L4": 121e12, "A10": 125e12}
PRESETS = {
    "debug": GPTConfig(),  # 4L/256d/4H, vocab 8192, seq 256
    "124m": GPTConfig(vocab_size=50304, seq_len=1024, n_layer=12, d_model=768, n_head=12),
    "350m": GPTConfig(vocab_size=50304, seq_len=1024, n_layer=24, d_model=1024, n_head=16),
    "760m": GPTConfig(vocab_size=50304, seq_len=1024, n_layer=24, d_model=1536, n_head=16),
}
DEFAULT_MICRO_BATCH = {"debug": 8, "124m": 32, "350m": 16, "760m": 8}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", action="append", choices=sorted(PRESETS), help="model size(s); default 124m and 350m")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--dtype", choices=["bf16", "fp32"], default="bf16", help="bf16: autocast (torch path) / "
                                                                             "bf16 engine (deepspeed path)")
    p.add_argument("--compile", choices=["off", "on", "both"], default="both")
    p.add_argument("--micro-batch", type=int, action="append",
                   help=f"sequences per forward (repeatable); 0: the largest power of two that fits in GPU memory "
                        f"(eager probe, fwd+bwd+AdamW); default per preset {DEFAULT_MICRO_BATCH}")
    p.add_argument("--grad-accum", type=int, default=1)
    p.add_argument("--steps", type=int, default=20, help="timed optimizer steps")
    p.add_argument("--warmup", type=int, default=5, help="untimed optimizer steps first (compilation happens here)")
    p.add_argument("--deepspeed", action="store_true", help="also run pretrain.loop's DeepSpeed engine path")
    p.add_argument("--torch-path", choices=["on", "off"], default="on", help="run the plain torch path")
    p.add_argument("--zero-stage", type=int, default=2, help="ZeRO stage of the deepspeed path")
    p.add_argument("--activation-checkpointing", action="store_true")
    p.add_argument("--peak-tflops", type=float, help="peak dense FLOP/s of the device in TFLOP/s (else by name)")
    p.add_argument("--threads", type=int, default=0, help="torch threads on CPU (0: leave)")
    a = p.parse_args(argv)
    a.preset = a.preset or ["124m", "350m"]
    return a


def peak_flops(args) -> tuple[float | None, str]:
    if args.device.startswith("cuda"):
        name = torch.cuda.get_device_name()
    else:
        import platform
        name = platform.processor() or platform.machine() or "cpu"
    if args.peak_tflops:
        return args.peak_tflops * 1e12, name
    if args.device.startswith("cuda"):
        return next((v for k, v in PEAK_FLOPS.items() if k in name), None), name
    return None, name


def sdpa_backend(cfg: GPTConfig, device, dtype: str) -> str:
    """Which fused attention kernel scaled_dot_product_attention can use for this model's heads: flash, then
    memory-efficient, then the math fallback (tried one at a time with torch.nn.attention.sdpa_kernel)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    dt = torch.bfloat16 if dtype == "bf16" and device.type == "cuda" else torch.float32
    q = torch.randn(1, cfg.n_head, 64, cfg.d_model // cfg.n_head, device=device, dtype=dt)
    for name, backend in (("flash", SDPBackend.FLASH_ATTENTION), ("efficient", SDPBackend.EFFICIENT_ATTENTION),
                          ("cudnn", SDPBackend.CUDNN_ATTENTION), ("math", SDPBackend.MATH)):
        try:
            with sdpa_kernel(backend):
                torch.nn.functional.scaled_dot_product_attention(q, q, q, is_causal=True)
            return name
        except RuntimeError:
            continue
    return "none"


def sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def random_batches(cfg: GPTConfig, mb: int, device, seed: int = 0):
    """Packed-block shaped batches (mb, seq_len + 1) of uniform random token ids, pre-made on the device."""
    g = torch.Generator().manual_seed(seed)
    pool = [torch.randint(0, cfg.vocab_size, (mb, cfg.seq_len + 1), generator=g).to(device) for _ in range(4)]
    i = 0
    while True:
        yield pool[i % len(pool)]
        i += 1


def bench_torch(cfg: GPTConfig, mb: int, compiled: bool, args, device) -> float:
    """Seconds per optimizer step, plain torch."""
    torch.manual_seed(0)
    model = GPT(cfg).to(device).train()
    opt = torch.optim.AdamW(model.param_groups(0.1), lr=3e-4, betas=(0.9, 0.95), eps=1e-8,
                            fused=device.type == "cuda")
    fwd = torch.compile(model) if compiled else model
    amp = torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.dtype == "bf16")
    batches = random_batches(cfg, mb, device)

    def step():
        for _ in range(args.grad_accum):
            tokens = next(batches)
            with amp:
                _, loss = fwd(tokens[:, :-1], tokens[:, 1:])
            (loss / args.grad_accum).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.detach()

    return _time(step, args, device)


def fit_micro_batch(cfg: GPTConfig, args, device, start: int = 4, limit: int = 512, headroom: float = 0.85) -> int:
    """Largest power-of-two micro-batch whose eager bf16 step (fwd + bwd + AdamW) peaks below headroom × memory."""
    if device.type != "cuda":
        return DEFAULT_MICRO_BATCH.get("debug", 8)
    total, best, mb = torch.cuda.get_device_properties(device).total_memory, None, start
    while mb <= limit:
        model = opt = None
        try:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            model = GPT(cfg).to(device).train()
            opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
            tokens = torch.randint(0, cfg.vocab_size, (mb, cfg.seq_len + 1), device=device)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=args.dtype == "bf16"):
                _, loss = model(tokens[:, :-1], tokens[:, 1:])
            loss.backward()
            opt.step()
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated()
        except torch.cuda.OutOfMemoryError:
            break
        finally:
            del model, opt
            gc.collect()
            torch.cuda.empty_cache()
        best = mb
        print(f"[mfu] probe micro-batch {mb}: peak {peak / 2**30:.1f} GiB of {total / 2**30:.0f}", flush=True)
        if peak * 2 > headroom * total:  # the next power of two would not leave the headroom
            break
        mb *= 2
    if best is None:
        raise RuntimeError(f"micro-batch {start} does not fit")
    return best


_DIST = False


def _init_dist(device) -> None:
    global _DIST
    import torch.distributed as dist

    if _DIST or dist.is_initialized():
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK="0", WORLD_SIZE="1", LOCAL_RANK="0",
                      LOCAL_WORLD_SIZE="1")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=0, world_size=1)
    _DIST = True


def bench_deepspeed(cfg: GPTConfig, mb: int, compiled: bool, args, device) -> float:
    """Seconds per optimizer step through pretrain.loop.build_engine + train_step (1 rank)."""
    from raypretrain.config import to_dict, from_dict
    from pretrain.config import PretrainConfig
    from pretrain.loop import Training, build_engine, train_step

    _init_dist(device)
    d = to_dict(PretrainConfig())
    d["model"] = to_dict(cfg)
    d["train"] |= {"micro_batch_size": mb, "global_batch_tokens": cfg.seq_len * mb * args.grad_accum,
                   "max_steps": args.warmup + args.steps + 1}
    d["deepspeed"] |= {"zero_stage": args.zero_stage, "precision": args.dtype}
    d["scaling"] |= {"num_workers": 1}
    pcfg = from_dict(PretrainConfig, d)
    on_gpu = device.type == "cuda"
    engine = build_engine(pcfg, on_gpu)
    if compiled:
        engine.compile()
    manifest = {"pad_id": -1, "vocab_size": cfg.vocab_size}  # no padding in random tokens
    raw = random_batches(cfg, mb, device)
    batches = ({"tokens": t} for t in raw)
    gen = torch.Generator().manual_seed(0)

    def step():
        return train_step(Training(engine, pcfg, manifest, device, gen), batches)[0]

    try:
        return _time(step, args, device, returns_float=True)
    finally:
        if hasattr(engine, "destroy"):
            engine.destroy()
        del engine


def _time(step, args, device, returns_float: bool = False) -> float:
    for _ in range(args.warmup):
        loss = step()
    sync(device)
    if not returns_float:
        float(loss)
    t0 = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    if not returns_float:
        float(loss)  # one host sync at the end, like a logging step
    sync(device)
    return (time.perf_counter() - t0) / args.steps


def main(argv=None) -> int:
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    elif args.threads:
        torch.set_num_threads(args.threads)
    peak, name = peak_flops(args)
    paths = (["torch"] if args.torch_path == "on" else []) + (["deepspeed"] if args.deepspeed else [])
    compiles = {"off": [False], "on": [True], "both": [False, True]}[args.compile]
    print(f"[mfu] device {name}; " + (f"peak {peak / 1e12:.0f} TFLOP/s" if peak else "peak unknown (no MFU; pass "
          "--peak-tflops)") + f"; torch {torch.__version__}", flush=True)

    rows = []
    for preset in args.preset:
        cfg = PRESETS[preset]
        if args.activation_checkpointing:
            from dataclasses import replace
            cfg = replace(cfg, activation_checkpointing=True)
        fpt = flops_per_token(cfg, cfg.seq_len)
        print(f"[mfu] {preset}: scaled_dot_product_attention can use the {sdpa_backend(cfg, device, args.dtype)} "
              "kernel", flush=True)
        mbs = [fit_micro_batch(cfg, args, device) if m == 0 else m
               for m in (args.micro_batch or [DEFAULT_MICRO_BATCH[preset]])]
        for mb in mbs:
            for path in paths:
                for compiled in compiles:
                    label = f"{preset} {path} mb={mb} compile={'on' if compiled else 'off'}"
                    if device.type == "cuda":
                        torch.cuda.reset_peak_memory_stats()
                    try:
                        fn = bench_torch if path == "torch" else bench_deepspeed
                        sec = fn(cfg, mb, compiled, args, device)
                    except torch.cuda.OutOfMemoryError:
                        print(f"[mfu] {label}: out of memory", flush=True)
                        rows.append((preset, cfg, path, compiled, mb, None, None, None, None))
                        continue
                    except Exception as e:  # keep the other configs' numbers
                        print(f"[mfu] {label}: failed: {type(e).__name__}: {str(e)[:300]}", flush=True)
                        rows.append((preset, cfg, path, compiled, mb, None, None, None, None))
                        continue
                    finally:
                        gc.collect()
                        if device.type == "cuda":
                            torch.cuda.empty_cache()
                        torch._dynamo.reset()
                    tok_s = mb * args.grad_accum * cfg.seq_len / sec
                    mfu = tok_s * fpt / peak if peak else None
                    mem = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None
                    rows.append((preset, cfg, path, compiled, mb, tok_s, sec, mfu, mem))
                    print(f"[mfu] {label}: {tok_s:,.0f} tok/s, {sec * 1e3:.1f} ms/step"
                          + (f", MFU {mfu:.1%}" if mfu is not None else "")
                          + (f", peak mem {mem:.1f} GiB" if mem is not None else ""), flush=True)

    print(f"\n`python {' '.join([os.path.relpath(__file__)] + (argv if argv is not None else sys.argv[1:]))}`\n")
    print(f"{name}, {args.dtype}, seq_len per preset, grad-accum {args.grad_accum}, {args.steps} timed steps after "
          f"{args.warmup} warmup; MFU target ≥ 50% on H100/H200\n")
    print("| preset | params | path | compile | micro-batch | tokens/s | step (ms) | MFU | peak mem (GiB) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for preset, cfg, path, compiled, mb, tok_s, sec, mfu, mem in rows:
        ds = f" (ZeRO-{args.zero_stage})" if path == "deepspeed" else ""
        print(f"| {preset} | {num_params(cfg) / 1e6:.0f}M | {path}{ds} | {'on' if compiled else 'off'} | {mb} | "
              + (f"{tok_s:,.0f} | {sec * 1e3:.1f} | " if tok_s else "failed | – | ")
              + (f"{mfu:.1%}" if mfu is not None else "n/a") + " | "
              + (f"{mem:.1f}" if mem is not None else "–") + " |")
    return 0 if all(r[5] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
