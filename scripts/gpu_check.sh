#!/usr/bin/env bash
# The whole GPU path on one machine, in one run: bench/mfu.py for 124m and 350m (bf16, eager and compiled,
# two micro-batch sizes) with MFU from the device's peak, which SDPA kernel ran, the peak memory of each,
# and DeepSpeed ZeRO-2 on one GPU for a few steps of 124m when DeepSpeed (and pretrain.loop's imports) can be
# installed from the wheel folder. It needs no network: extra packages come from WHEELS, installed offline.
#
#   bash scripts/gpu_check.sh [WHEELS_DIR]     # on the GPU machine (a CUDA torch preinstalled)
#   bash scripts/gpu_check.sh --cpu-smoke      # the same code paths at toy size on CPU (CI runs this)
#
# Filling WHEELS_DIR on a machine with network (keep it under 60 MB; torch is already on the GPU machine):
#   pip download --only-binary=:all: --no-deps -d wheels hjson ninja py-cpuinfo pydantic pydantic-core \
#       annotated-types typing-inspection msgpack einops psutil packaging numpy pyyaml
#   pip wheel --no-deps -w wheels deepspeed==0.19.8
# (Ray is not needed for the torch path; the DeepSpeed path goes through pretrain.loop, which imports Ray, so it
#  is skipped with a note unless a ray wheel is in WHEELS_DIR too, and Ray's wheel alone is about 70 MB.)
set -uo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--cpu-smoke" ]; then
  exec python bench/mfu.py --device cpu --preset debug --dtype fp32 --compile both --micro-batch 2 --micro-batch 4 \
      --steps 2 --warmup 1 --threads 1 ${GPU_CHECK_DEEPSPEED:+--deepspeed}
fi
WHEELS="${1:-wheels}"
SITE="${GPU_CHECK_SITE:-/tmp/gpu-check-site}"
if [ -d "$WHEELS" ] && ls "$WHEELS"/*.whl >/dev/null 2>&1; then
  python -m pip install --no-index --no-deps --target "$SITE" "$WHEELS"/*.whl >/dev/null && echo "[gpu_check] installed $(ls "$WHEELS"/*.whl | wc -l) wheels into $SITE"
  export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
fi
python -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print('[gpu_check]', torch.cuda.get_device_name(), 'torch', torch.__version__)" || exit 1
DS=""
if python -c "import deepspeed, ray" 2>/dev/null; then DS="--deepspeed"; else echo "[gpu_check] DeepSpeed path skipped: deepspeed and ray must both import (see the wheel notes above)"; fi
timeout 420 python bench/mfu.py --preset 124m --preset 350m --dtype bf16 --compile both --micro-batch 8 --micro-batch 16 \
    --steps 10 --warmup 3 $DS --zero-stage 2
