"""From stored records to the tables and verdicts of the book, so that a chapter and the claims
page compute each verdict by the same code."""
from __future__ import annotations

import numpy as np

from . import claims, paper

LINEAR_TOL = 1e-4  # |JSV - 1| below this counts as exact isometry in float32


def pretrained_frame(records: list[dict], label: str):
    """The unpruned networks: our final test accuracy beside the paper's (Tables 3 and 7)."""
    import pandas as pd

    rows = []
    for rec in records:
        net = rec["spec"]["net"]
        table = 3 if net == "mlp7-linear" else 7
        rows.append({"network": paper.NET_LABELS[net], f"ours, {label} (%)": rec["final_acc"],
                     "best epoch (%)": rec["best_acc"], "paper, MNIST (%)": paper.value(table, net=net, setting="Unpruned")[0],
                     "paper source": f"Table {table}", "wall time (min)": rec["meta"]["wall_s"] / 60})
    return pd.DataFrame(rows).set_index("network")


def jsv_frame(records: list[dict]):
    """One row per measurement record: its spec's net, ratio, OrthP, seed and the JSV stats."""
    import pandas as pd

    return pd.DataFrame([{"net": r["spec"]["net"], "ratio": r["spec"]["ratio"], "orthp": r["spec"]["orthp"],
                          "seed": r["spec"]["seed"], **{f"jsv_{k}": v for k, v in r["jsv"].items()},
                          "test_acc": r["test_acc"]} for r in records])


def table1(records: list[dict], label: str, seed: int = 0):
    """Table 1 in the paper's layout, ours (one seed) beside the paper's."""
    import pandas as pd

    df = jsv_frame(records)
    df = df[df.seed == seed]
    rows = []
    for _, r in df.iterrows():
        p = {m: paper.value(1, net=r.net, metric=m) for m in ("jsv_mean", "jsv_max", "jsv_min")}
        rows.append({"network": paper.NET_LABELS[r.net],
                     f"JSV mean (std), ours": f"{r.jsv_mean:.4f} ({r.jsv_std:.4f})",
                     "max, ours": f"{r.jsv_max:.4f}", "min, ours": f"{r.jsv_min:.4f}",
                     "JSV mean (std), paper": f"{p['jsv_mean'][0]:.4f} ({p['jsv_mean'][1]:.4f})",
                     "max, paper": f"{p['jsv_max'][0]:.4f}", "min, paper": f"{p['jsv_min'][0]:.4f}"})
    out = pd.DataFrame(rows).set_index("network")
    out.columns = pd.MultiIndex.from_tuples([(f"ours ({label})", c.split(",")[0]) if "ours" in c
                                             else ("paper (MNIST)", c.split(",")[0]) for c in out.columns])
    return out


def table1_verdict(records: list[dict]) -> claims.Verdict:
    """Only the linear MLP reaches exact isometry under orthogonal initialisation (Table 1)."""
    df = jsv_frame(records)
    dev = (df[["jsv_max", "jsv_min"]] - 1).abs().max(axis=1)
    exact = df.assign(dev=dev).groupby("net").dev.max()
    linear_exact = exact["mlp7-linear"] < LINEAR_TOL
    others = exact.drop("mlp7-linear")
    ok = linear_exact and (others > 100 * LINEAR_TOL).all()
    ev = (f"largest |JSV - 1| over {df.seed.nunique()} seed(s): MLP-7-Linear {exact['mlp7-linear']:.1e}; "
          + ", ".join(f"{paper.NET_LABELS[n]} {v:.2f}" for n, v in others.items()))
    return claims.Verdict("Orthogonal initialisation gives exact dynamical isometry (all JSVs 1) only for "
                          "the linear MLP", "§3.1, Table 1", claims.REPRODUCED if ok else claims.NOT_REPRODUCED, ev)


def figure1_verdicts(records: list[dict]) -> list[claims.Verdict]:
    """Per network: mean JSV falls as the pruning ratio grows (Figure 1)."""
    df = jsv_frame(records).sort_values("ratio", kind="stable")
    out = []
    for net, g in df.groupby("net", sort=False):
        v = claims.decreasing(g.ratio, g.jsv_mean, f"{paper.NET_LABELS[net]}: a larger pruning ratio lowers "
                              "mean JSV more", "§3.1, Figure 1")
        below = (g[g.ratio > 0].jsv_mean < g[g.ratio == 0].jsv_mean.iloc[0]).mean() if (g.ratio == 0).any() else np.nan
        out.append(claims.Verdict(v.claim, v.source, v.verdict,
                                  f"{v.evidence}; mean JSV below the unpruned network's at {below:.0%} of the ratios"))
    return out


def orthp_verdict(records: list[dict]) -> claims.Verdict:
    """OrthP makes every JSV of pruned MLP-7-Linear exactly 1 (§3.2)."""
    df = jsv_frame(records)
    lin = df[(df.net == "mlp7-linear") & df.orthp]
    dev = float(np.maximum((lin.jsv_max - 1).abs(), (lin.jsv_min - 1).abs()).max())
    ok = len(lin) > 0 and dev < LINEAR_TOL
    return claims.Verdict("OrthP recovers exact dynamical isometry (all JSVs 1) in pruned MLP-7-Linear",
                          "§3.2, §3.3", claims.REPRODUCED if ok else claims.NOT_REPRODUCED,
                          f"largest |JSV - 1| after OrthP at ratios {sorted(lin.ratio.unique())}: {dev:.1e}")


def store_summary(records: list[dict]):
    """Where and how long the stored runs were computed, by kind of run, dataset and device."""
    import pandas as pd

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
