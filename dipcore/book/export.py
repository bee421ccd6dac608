"""The run store as tidy data: one row per run, or one row per run and epoch, for a researcher's
own analysis (``python -m dipcore export GRID``, or ``frame(...)`` in a notebook).

A run's row holds its key, every field of its spec (the fields stored specs lack at their
default, so that every row has every column), its status, final and best test accuracy, mean JSV
right after pruning/recovery (epoch 0) and at the end, and where it ran (device; ``wall_s``, the
wall time of the stack it trained in, ``cpu_s`` its CPU time where measured, ``stacked_with`` runs at
once: its share is the ratio). A
measurement's row (a ``jsv`` spec) has its JSV statistics and test accuracy instead. Runs of the
grid that are not stored yet are left out (``missing`` says how many).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from . import grids, spec as specmod
from .store import RunStore
from ..train import METRICS

FORMATS = ("csv", "parquet")


def _spec_columns(spec: dict) -> dict:
    """The spec's fields, with those it lacks at their default."""
    out = {k: v for k, v in spec.items() if k != "kind"}
    return out | {f: specmod.field(spec, f) for f in specmod.OPTIONAL if f not in out}


def spec_of(row: dict) -> dict:
    """The spec a row was made from (the inverse of its spec columns): its key is the row's key."""
    kind = row["kind"]
    fields = set(specmod.FIELDS[kind]) | set(specmod.OPTIONAL) | set(specmod.recovery_fields())
    spec = {"kind": kind}
    for f in fields:
        v = row.get(f)
        if v is None or v != v:  # absent, or NaN from a column other rows have
            if f in specmod.FIELDS[kind]:
                spec[f] = None
            continue
        if f in specmod.OPTIONAL and f not in specmod.FIELDS[kind] and v == specmod.OPTIONAL[f]:
            continue
        spec[f] = v.item() if hasattr(v, "item") else v
    return spec


def run_row(rec: dict) -> dict:
    """One stored record as a flat row."""
    spec, meta = rec["spec"], rec.get("meta", {})
    row = {"key": rec["key"], "kind": spec["kind"], **_spec_columns(spec), "status": rec["status"]}
    if spec["kind"] == "train":
        m = rec["metrics"]
        row.update({"final_acc": rec.get("final_acc"), "best_acc": rec.get("best_acc"),
                    "best_epoch": rec.get("best_epoch"), "diverged_at": rec.get("diverged_at"),
                    "jsv_mean_start": m["jsv_mean"][0], "jsv_mean_end": m["jsv_mean"][-1],
                    "epochs_logged": len(m["test_acc"]) - 1})
    else:
        row.update({"test_acc": rec["test_acc"], **{f"jsv_{k}": v for k, v in rec["jsv"].items()}})
    row.update({"device": meta.get("device"), "wall_s": meta.get("wall_s"), "cpu_s": meta.get("cpu_s"),
                "stacked_with": meta.get("stacked_with", 1)})
    return row


def epoch_rows(rec: dict) -> list[dict]:
    """A training run's per-epoch metrics, one row per epoch (0: before the first step)."""
    if rec["spec"]["kind"] != "train":
        return []
    m = rec["metrics"]
    head = {"key": rec["key"], **_spec_columns(rec["spec"])}
    return [{**head, "epoch": e, **{k: m[k][e] for k in METRICS if k in m}} for e in range(len(m["test_acc"]))]


def frame(grid: str, dataset: str = "mnist", protocol: str = "paper", store: str | RunStore | None = None,
          per_epoch: bool = False):
    """The stored runs of ``grid`` as a pandas DataFrame (``per_epoch``: one row per run and epoch),
    with ``.attrs["missing"]``, the number of the grid's runs not stored yet, and
    ``.attrs["damaged"]``, why each damaged run file of the grid is damaged (both left out)."""
    st = store if isinstance(store, RunStore) else RunStore(store) if store is not None else RunStore()
    specs = grids.get(grid, dataset, protocol)
    done, missing, damaged, found = st.scan(specs)  # each record read once
    out = frame_of([found[specmod.key(s)] for s in done], per_epoch)
    out.attrs["missing"] = len(missing)
    out.attrs["damaged"] = [why for _, why in damaged]  # left out too, each with what is wrong
    return out


def frame_of(records, per_epoch: bool = False):
    """Stored records as a pandas DataFrame, one row per run (``per_epoch``: per run and epoch)."""
    import pandas as pd

    records = list(records)
    return pd.DataFrame([r for rec in records for r in epoch_rows(rec)] if per_epoch else [run_row(rec) for rec in records])


def check_out(out: str | None) -> None:
    """Refuse, before anything is read or written, an ``--out`` that cannot be a file: a folder, a
    file in a missing folder, or one that cannot be written."""
    if out is None:
        return
    path = Path(out)
    if path.is_dir():
        raise ValueError(f"--out {out} is a folder: give a file name (e.g. {path / 'runs.csv'})")
    if not path.parent.is_dir():
        raise ValueError(f"--out {out}: the folder {path.parent} does not exist; create it first or give another file")
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ValueError(f"--out {out} cannot be written (no permission): give another file")


def write(df, fmt: str = "csv", out: str | None = None) -> None:
    """Write ``df`` as CSV (to standard output when ``out`` is None) or Parquet (needs ``out``);
    a file is written whole or not at all (a temporary file renamed into place). The command line
    calls ``check_out`` first, so that a bad ``--out`` is refused before the store is read."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "parquet":
        if out is None:
            raise ValueError("parquet is binary: give a file with --out")
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ValueError("parquet needs pyarrow: pip install pyarrow (or use --format csv)") from None
    if out is None:
        df.to_csv(sys.stdout, index=False)
        return
    tmp = Path(out).with_name(f".{Path(out).name}.part")
    try:
        df.to_parquet(tmp, index=False) if fmt == "parquet" else df.to_csv(tmp, index=False)
        tmp.replace(out)
    except OSError as e:  # a read-only file system, a full disk
        tmp.unlink(missing_ok=True)
        raise ValueError(f"--out {out} could not be written ({e.strerror or e}): give another file") from None
