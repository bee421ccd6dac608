"""Committed notebooks without execution metadata (issue 35): papermill and the kernel stamp every
cell with start and end times and a duration, so one re-execution of a chapter changed hundreds of
lines that say nothing about the page. ``python -m dipcore.book.clean NOTEBOOK ...`` removes them
(``scripts/refresh.sh`` runs it after re-executing the chapters); outputs, tags and the
parameters papermill injected stay.
"""
from __future__ import annotations

import sys
from pathlib import Path

CELL_KEYS = ("execution", "papermill")  # per-cell timestamps, durations, status
PAPERMILL_KEYS = ("start_time", "end_time", "duration", "exception")  # the notebook's run times


def strip(nb) -> bool:
    """Remove execution timestamps and durations from ``nb`` in place; True if any were there."""
    changed = False
    for cell in nb.cells:
        for k in CELL_KEYS:
            changed |= cell.metadata.pop(k, None) is not None
    pm = nb.metadata.get("papermill", {})
    for k in PAPERMILL_KEYS:
        changed |= pm.pop(k, None) is not None
    return changed


def main(argv: list[str] | None = None) -> int:
    import nbformat

    paths = [Path(p) for p in (sys.argv[1:] if argv is None else argv)]
    for path in paths:
        nb = nbformat.read(path, 4)
        if strip(nb):
            nbformat.write(nb, path)
            print(f"stripped execution metadata: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
