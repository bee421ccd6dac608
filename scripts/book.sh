#!/usr/bin/env bash
# Set up a fresh Debian machine with Python 3.11 and build the book into _build/html.
# Needs no dataset and no GPU: every chapter re-executes from the run store (data/runs).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q --disable-pip-version-check -r requirements.txt
python3 -m pip install -q --disable-pip-version-check --no-deps -e .
python3 -m ipykernel install --user --name python3 >/dev/null
jupyter-book build . -W -n --keep-going
echo "book: $(pwd)/_build/html/index.html"
