#!/usr/bin/env bash
# A clean-machine check: a fresh clone in a brand-new venv runs the README's install command, then, as a
# user who installed it would, its run command from a folder outside the clone with a short budget; the
# outputs must exist and the console must not show Ray's lines that raypretrain/noise.py filters. The
# commands are read from the README's "Install, run, test" block (the lines commented "# install:" and
# "# run:"), never repeated here.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUDGET="${FRESH_CHECK_ARGS:---set train.max_steps=20 --set train.eval_every=10 --set train.checkpoint_every=20 --set data.datapipe.sample_docs=600}"

readme_command() {  # the command on the README line commented "# $1:" in the Install, run, test section
  awk -v tag="# $1:" '/^## Install, run, test/ {s = 1} s && index($0, tag) {sub(/[ \t]*#.*/, ""); print; exit}' "$ROOT/README.md"
}
INSTALL="$(readme_command install)"
RUN="$(readme_command run)"
if [ -z "$INSTALL" ] || [ -z "$RUN" ]; then
  echo "fresh_check: the README has no '# install:' or '# run:' command" >&2
  exit 2
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
git clone -q "$ROOT" "$WORK/repo"             # committed files only
python3 -m venv "$WORK/venv"
# shellcheck disable=SC1091
source "$WORK/venv/bin/activate"
cd "$WORK/repo"
echo "fresh_check: install: $INSTALL"
eval "$INSTALL" > "$WORK/install.log" 2>&1 || { tail -30 "$WORK/install.log"; exit 1; }
mkdir "$WORK/user"
cd "$WORK/user"                                # outside the clone: presets and code come from the install
echo "fresh_check: run (in $PWD): $RUN $BUDGET"
eval "$RUN $BUDGET" 2>&1 | tee "$WORK/run.log"

fail() { echo "fresh_check: FAILED: $*" >&2; exit 1; }
# Ray's lines about its own actors (raypretrain/noise.py: NOISE, each with its Ray issue) and its
# token-authentication notice stay off the console
python -c 'import sys; from raypretrain.noise import is_noise; sys.exit(any(map(is_noise, open(sys.argv[1], errors="replace"))))' \
  "$WORK/run.log" || fail "a line raypretrain/noise.py filters reached the console"
! grep -q 'Token authentication is enabled' "$WORK/run.log" || fail "Ray's token-authentication notice reached the console"
RUN_DIR=outputs/pretrain/debug
ls -d "$RUN_DIR"/checkpoint_*/engine > /dev/null 2>&1 || fail "no checkpoint in $RUN_DIR"
grep -q '^\[pretrain\] sample: ' "$WORK/run.log" || fail "no generated sample printed"
for f in report.html loss.png documents.png tokens.png throughput.png; do
  [ -s "$RUN_DIR/report/$f" ] || fail "missing $RUN_DIR/report/$f"
done
ls outputs/pretrain-data/*/stats.json > /dev/null 2>&1 || fail "no datapipe stats.json"
echo "fresh_check: OK (checkpoint, sample, report.html and plots from a fresh venv)"
