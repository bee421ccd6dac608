#!/usr/bin/env bash
# Compute grids on a lent GPU machine (the `device` tool), which has PyTorch but no dataset, no
# internet and no tqdm, and pack the new run files into $OUT/runs.tar to bring back.
#
# Here, once:  python -m dipcore data mnist   # the four files, SHA-256 checked, into $DIPBOOK_DATA/MNIST/raw
#              mkdir -p .carry/idx/mnist && for f in "${DIPBOOK_DATA:-$HOME/.cache/dipbook}"/MNIST/raw/*-ubyte; do
#                gzip -c "$f" > ".carry/idx/mnist/$(basename "$f").gz"; done
#              mkdir -p .carry/idx/fashion-mnist && cp /usr/share/datasets/fashion-mnist/*.gz .carry/idx/fashion-mnist/
#              (gzipped, both datasets are 41 MB of carry's 64 MiB; .gitignore keeps .carry/ out of git,
#              and `carry` still takes it to the device machine)
# Device run:  carry [".carry"], command: bash scripts/device_grid.sh value_resnet
#              (MNIST's files are checked against their SHA-256 there too, on every load)
# Back here:   tar -xf <files_at>/runs.tar   (then run scripts/refresh.sh and commit data/runs with the notebooks)
#
# Settings (environment): DEVICE (default cuda), DATASET (mnist, the book's; or fashion-mnist), PROTOCOL (paper),
# STORE (data/runs), MAX_STACK (64), OUT (.), BUDGET_S (none: seconds the grids may take in all;
# then compute is interrupted and the runs that landed are packed, so set it under the device
# call's time limit, e.g. BUDGET_S=500 with timeout_s 600). DRY_RUN=1 checks everything (imports, device,
# dataset, grid names) and prints what would be computed, computing and packing nothing; it runs
# on a CPU (tests/test_device_grid.py runs both modes there at the smoke protocol).
set -euo pipefail
cd "$(dirname "$0")/.."
export DIPBOOK_IDX_DIR="${DIPBOOK_IDX_DIR:-$PWD/.carry/idx}" DIPBOOK_DATA="${DIPBOOK_DATA:-${TMPDIR:-/tmp}/dipbook-data}"
export PYTHONUNBUFFERED=1
DEVICE="${DEVICE:-cuda}" DATASET="${DATASET:-mnist}" PROTOCOL="${PROTOCOL:-paper}"
STORE="${STORE:-data/runs}" MAX_STACK="${MAX_STACK:-64}" OUT="${OUT:-.}" BUDGET_S="${BUDGET_S:-}"
[ $# -gt 0 ] || { echo "usage: bash scripts/device_grid.sh GRID [GRID ...]" >&2; exit 2; }
args=(--dataset "$DATASET" --protocol "$PROTOCOL" --device "$DEVICE" --store "$STORE" --max-stack "$MAX_STACK" --no-progress)

# Every check before any compute: imports, the device, the dataset, each grid's name.
python - "$DEVICE" "$DATASET" "$PROTOCOL" <<'EOF'
import sys
import torch
from dipcore import data
from dipcore.book import protocol
device, dataset, proto = sys.argv[1:]
if device.startswith("cuda") and not torch.cuda.is_available():
    sys.exit(f"device_grid: DEVICE={device} but torch sees no GPU here; set DEVICE=cpu to run on the CPU")
name = protocol.get(proto).dataset_for(dataset)
d = data.load(name, n_train=10, n_test=10)  # a missing dataset stops here, saying where it was looked for
print(f"device_grid: torch {torch.__version__} on {device}"
      + (f" ({torch.cuda.get_device_name(torch.device(device))})" if device.startswith("cuda") else "")
      + f"; dataset {name} found; protocol {proto}")
EOF
for grid in "$@"; do
  python -m dipcore status "$grid" "${args[@]}" || [ $? -eq 1 ]  # 1: runs missing, the reason to be here
done
if [ "${DRY_RUN:-0}" = 1 ]; then
  for grid in "$@"; do echo "would run: python -m dipcore compute $grid ${args[*]}"; done
  exit 0
fi

mkdir -p "$STORE"
before=$(mktemp)
ls "$STORE" > "$before"
pack() {  # every new run file, also when a grid fails or the budget ends it: nothing that landed is lost
  { ls "$STORE" | grep -vxFf "$before" || true; } | sed "s|^|$STORE/|" | tar -cf "$OUT/runs.tar" -T -
  echo "packed $(tar -tf "$OUT/runs.tar" | wc -l) new files into $OUT/runs.tar"
}
trap pack EXIT
start=$SECONDS
for grid in "$@"; do
  limit=()
  if [ -n "$BUDGET_S" ]; then
    left=$((BUDGET_S - (SECONDS - start)))
    if [ "$left" -le 0 ]; then echo "device_grid: BUDGET_S=$BUDGET_S spent; $grid not started"; break; fi
    limit=(timeout --signal=INT --kill-after=30 "$left")
  fi
  rc=0
  "${limit[@]}" python -m dipcore compute "$grid" "${args[@]}" || rc=$?
  if [ -n "$BUDGET_S" ] && { [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; }; then  # timeout's: interrupted (or killed 30 s later)
    echo "device_grid: BUDGET_S=$BUDGET_S reached during $grid: the runs that landed are packed; the rest" \
         "starts again on a later call (a stack's checkpoint stays on this machine)"
    break
  fi
  [ "$rc" -eq 0 ] || exit "$rc"
done
