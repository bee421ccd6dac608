#!/usr/bin/env bash
# Re-execute the published chapters in place from the run store, so that their committed outputs
# (which nbval checks against re-execution) match the store. Run it after adding runs to data/runs.
set -euo pipefail
cd "$(dirname "$0")/../chapters"
export OMP_NUM_THREADS=1  # as the test command (scripts/test.sh) re-executes them for nbval
export PYTHONPATH="$(cd .. && pwd)${PYTHONPATH:+:$PYTHONPATH}"  # this checkout's dipcore, whatever is installed
for page in $(python3 -c "from dipcore.book.chapter import published; print(' '.join(p.split('/')[-1] for p in published()))"); do
  if [ -f "$page.ipynb" ]; then
    echo "executing $page"
    papermill "$page.ipynb" "$page.ipynb" -k python3 --cwd . --no-progress-bar
  fi
done
python3 -m dipcore.book.clean ./*.ipynb  # no timestamps or durations in the committed notebooks
