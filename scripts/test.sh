#!/usr/bin/env bash
# Set up a fresh Debian machine with Python 3.11 and run the tests. Safe to rerun.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  # Debian's Fashion-MNIST (the real-dataset test), Chromium (the browser check of the built book) and g++
  # (dipcore's C++ kernel)
  (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist chromium g++ >/dev/null) \
    || echo "WARNING: apt-get install failed; the Fashion-MNIST test and the browser check will be skipped" >&2
fi
python3 -m pip install -q --disable-pip-version-check -r requirements.txt
python3 -m pip install -q --disable-pip-version-check --no-deps -e .
python3 -m ipykernel install --user --name python3 >/dev/null  # the kernel papermill and nbval run
# dipcore's C++ kernels (LeNet-5's first layer, MLP-7's step; issue 36), built once and checked; without them, slower paths
python3 -m dipcore kernels || echo "WARNING: dipcore's C++ kernels could not be built; LeNet-5 and MLP-7 train on the slower pure-PyTorch paths" >&2
# MNIST, the paper's dataset (the real-dataset test): fetched and verified (python -m dipcore data mnist)
python3 -m dipcore data mnist --no-progress \
  || echo "WARNING: MNIST could not be fetched; the real-MNIST test will be skipped" >&2
# Both cores: pytest-xdist's two workers, one thread each; conftest.py groups the tests that share
# a build (the smoke edition, the book) or a kernel (a notebook's cells) onto one worker.
OMP_NUM_THREADS=1 python3 -m pytest -q tests chapters --nbval --nbval-current-env \
  -n 2 --dist loadgroup --no-loadscope-reorder "$@"
