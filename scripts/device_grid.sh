#!/usr/bin/env bash
# Compute grids on a lent GPU machine (the `device` tool), which has PyTorch but no dataset and no
# internet, and pack the new run files into $OUT/runs.tar to bring back.
#
# Here, once:  mkdir -p .carry/idx/fashion-mnist && cp /usr/share/datasets/fashion-mnist/*.gz .carry/idx/fashion-mnist/
#              echo /.carry/ >> .git/info/exclude
# Device run:  carry [".carry"], command: bash scripts/device_grid.sh table7 table7_ai
# Back here:   tar -xf <files_at>/runs.tar   (then commit data/runs and run scripts/refresh.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
export DIPBOOK_IDX_DIR="$PWD/.carry/idx" DIPBOOK_DATA="${TMPDIR:-/tmp}/dipbook-data" PYTHONUNBUFFERED=1
before=$(mktemp)
ls data/runs > "$before"
for grid in "$@"; do
  python -m dipcore compute "$grid" --dataset fashion-mnist --device "${DEVICE:-cuda}" --no-progress
done
{ ls data/runs | grep -vxFf "$before" || true; } | sed 's|^|data/runs/|' | tar -cf "${OUT:-.}/runs.tar" -T -
echo "packed $(tar -tf "${OUT:-.}/runs.tar" | wc -l) new files into runs.tar"
