#!/usr/bin/env bash
# Install the project into the current Python environment.
# torch goes first, pinned, so that no later requirement pulls a CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install "torch==${TORCH_VERSION:-2.13.0}"
python -m pip install -e '.[dev]'
