"""How the book's numbers were computed (``chapters/reproducibility``): where and how long the
stored runs ran, and the measured drift of a run retrained in another stack composition (the
guarantee the page states).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..store import DEFAULT_ROOT

def store_summary(records: list[dict]):
    """Where and how long the stored runs were computed, by kind of run, dataset and device."""
    df = pd.DataFrame([{
        "kind": "measurement" if r["spec"]["kind"] == "jsv" else
                ("pretraining" if r["spec"].get("keep_weights") else "finetuning / scratch"),
        "dataset": r["spec"]["dataset"], "device": r["meta"]["device"], "torch": r["meta"]["torch"],
        "epochs": r["spec"].get("epochs", 0), "wall_s": r["meta"]["wall_s"] / r["meta"].get("stacked_with", 1),
    } for r in records])
    if df.empty:
        return df
    out = df.groupby(["kind", "dataset", "device", "torch"]).agg(
        runs=("epochs", "size"), epochs=("epochs", "sum"), hours=("wall_s", lambda s: s.sum() / 3600))
    return out.round({"hours": 3})


DRIFT_CSV = "data/drift/stack_composition.csv"  # written by benchmarks/stack_drift.py


def _seed_std(store, key: str) -> float:
    """The std over seeds 0-4 of the final test accuracy of the stored run ``key``'s setting."""
    import numpy as np

    rec = store.by_key(key)
    if rec is None:
        return float("nan")
    spec = rec["spec"]
    accs = [r["final_acc"] for r in (store.get(dict(spec, seed=s)) for s in range(5)) if r]
    return float(np.std(accs, ddof=1)) if len(accs) > 1 else float("nan")


def stack_drift(path: Path | None = None, store=None) -> tuple[object, str]:
    """The measured drift of stored runs retrained in another stack composition, or by another path
    for the training steps (``train.TRAINERS``, issue 36): a table by epochs, path and composition
    (None before any measurement) and the guarantee it supports, in one sentence. ``path`` defaults
    to the repository's ``DRIFT_CSV``; with ``store`` (a ``RunStore``) the sentence weighs a path's
    drift against each setting's seed-to-seed std of final accuracy, from that store."""
    path = DEFAULT_ROOT.parents[1] / DRIFT_CSV if path is None else path
    df = pd.read_csv(path) if path.exists() and path.stat().st_size else pd.DataFrame()
    if df.empty:
        return None, ("Not measured yet: `benchmarks/stack_drift.py` retrains stored runs in another stack "
                    "composition and writes its figures here.")
    for col in ("stored_trainer", "new_trainer"):  # rows written before a second path existed: vmap's
        df[col] = df[col].fillna("vmap") if col in df else "vmap"
    df = df.drop_duplicates(["key", "epochs", "new_stack", "new_trainer"], keep="last")  # a re-measurement replaces the older row
    df["final_gap"] = (df["new_final_acc"] - df["stored_final_acc"]).abs()
    differing = df.get("differing_metrics", pd.Series("", index=df.index)).fillna("").astype(str)
    df["differing"] = differing.where(~df["bitwise_equal"].astype(bool), "")
    table = df.groupby(["epochs", "new_trainer", "stored_stack", "new_stack"]).agg(
        runs=("key", "size"), bitwise_equal=("bitwise_equal", "sum"), max_final_acc_gap=("final_gap", "max"),
        mean_final_acc_gap=("final_gap", "mean"), max_acc_gap_any_epoch=("max_abs_acc_gap", "max"),
        max_rel_jsv_gap=("max_rel_jsv_gap", "max"),
        not_bitwise_equal=("differing", lambda v: ", ".join(sorted({m for x in v for m in x.split() if m})) or "-"),
    ).round(3)
    same = df[df.new_trainer == df.stored_trainer]
    parts = [f"{int(e)} epochs: final test accuracy within {g['final_gap'].max():.2f} points "
             f"({len(g)} run{'s' if len(g) != 1 else ''}, {int(g['bitwise_equal'].astype(bool).sum())} bitwise equal), "
             f"mean JSV within {g['max_rel_jsv_gap'].max():.1e} relative"
             for e, g in same.groupby("epochs")]
    other = []
    df["net"] = df.setting.astype(str).str.split().str[0]
    for (e, t, net), g in df[df.new_trainer != df.stored_trainer].groupby(["epochs", "new_trainer", "net"]):
        text = (f"`{t}` ({net}, {int(e)} epochs): final test accuracy within {g['final_gap'].max():.2f} points "
                f"({len(g)} run{'s' if len(g) != 1 else ''}), at any epoch within {g['max_abs_acc_gap'].max():.2f}")
        if store is not None:
            ratio = (g["final_gap"] / [_seed_std(store, k) for k in g.key]).max()
            text += f"; each final gap at most {ratio:.2f} times its setting's seed-to-seed std"
        other.append(text)
    sentence = ("Same stack composition, same machine: bitwise equal (tested), also across a kill: a stack killed "
                "part-way resumes from its checkpoint as it was, whatever `--max-stack` the rerun is given (tested). "
                "Another composition (another `--max-stack`, or other runs of its grid missing when it was made): "
                + "; ".join(parts) + ", measured.")
    if other:
        sentence += (" Another path for the training steps, where a nonlinear network's rounding differences grow "
                     "through the epochs: " + "; ".join(other) + ", measured.")
    return table, sentence
