#!/usr/bin/env bash
# Set up a fresh Debian machine with Python 3.11 and run the tests. Safe to rerun.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  # Debian's copy of Fashion-MNIST: lets the tests check the real dataset (skipped without it)
  (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null) \
    || echo "warning: could not apt-get install dataset-fashion-mnist; its test will be skipped" >&2
fi
python3 -m pip install -q --disable-pip-version-check -r requirements.txt
python3 -m pip install -q --disable-pip-version-check --no-deps -e .
python3 -m pytest -q "$@"
