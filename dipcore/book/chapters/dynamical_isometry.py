"""§3.1, pruning damages dynamical isometry (``chapters/dynamical_isometry``): the four pretrained
networks, Table 1 (the JSVs of orthogonal initialisation) and Figure 1 (mean JSV and test accuracy
right after L1 pruning, against the pruning ratio), with their verdicts.
"""
from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ... import isometry_distance
from .. import agreement, claims, grids, paper, plotting
from ..chapter import Chapter, glue
from ..evidence import LINEAR_TOL, jsv_frame, pretrained_frame

GRIDS = ("pretrain", "table1", "figure1")
DATASET = "mnist"  # the dataset the page is published on: the paper's, its grids being complete on it
REQUIRED = ("pretrain", "table1", "figure1")  # the grids whose every run the page needs (it shows the others' missing runs as pending)


def table1(records: list[dict], label: str, seed: int = 0):
    """Table 1 in the paper's layout, ours (one seed) beside the paper's."""
    df = jsv_frame(records)
    df = df[df.seed == seed]
    rows = []
    for _, r in df.iterrows():
        p = {m: paper.value(1, net=r.net, metric=m) for m in ("jsv_mean", "jsv_max", "jsv_min")}
        rows.append({"network": paper.NET_LABELS[r.net],
                     "JSV mean (std), ours": f"{r.jsv_mean:.4f} ({r.jsv_std:.4f})",
                     "max, ours": f"{r.jsv_max:.4f}", "min, ours": f"{r.jsv_min:.4f}",
                     "JSV mean (std), paper": f"{p['jsv_mean'][0]:.4f} ({p['jsv_mean'][1]:.4f})",
                     "max, paper": f"{p['jsv_max'][0]:.4f}", "min, paper": f"{p['jsv_min'][0]:.4f}"})
    out = pd.DataFrame(rows).set_index("network")
    out.columns = pd.MultiIndex.from_tuples([(f"ours ({label})", c.split(",")[0]) if "ours" in c
                                             else ("paper (MNIST)", c.split(",")[0]) for c in out.columns])
    return out


TABLE1_STATS = {"jsv_mean": "mean", "jsv_std": "std", "jsv_max": "max", "jsv_min": "min"}  # Table 1's columns


def table1_agreement(records: list[dict]) -> tuple[object, str]:
    """Each cell of Table 1 (per network: the JSVs' mean, std, max and min) over our seeds beside
    the paper's, with ``agreement.draw``: the paper measured one orthogonal initialisation, so its
    value is tested as one more draw of our seeds, known to its four printed decimals. Returns the
    table and its one-line summary."""
    df = jsv_frame(records)
    rows, cells = [], {}
    for net, g in df.groupby("net", sort=False):
        for col, name in TABLE1_STATS.items():
            mean, std = paper.value(1, net=net, metric="jsv_mean")
            printed = std if col == "jsv_std" else mean if col == "jsv_mean" else paper.value(1, net=net, metric=col)[0]
            c = cells[f"{paper.NET_LABELS[net]} {name}"] = agreement.draw(g[col].tolist(), printed, resolution=5e-5)
            rows.append({"network": paper.NET_LABELS[net], "JSV statistic": name,
                         "ours: mean (sd) over seeds": f"{c['mean']:.4f} ({c['std']:.4f})", "paper": f"{printed:.4f}",
                         "ours − paper": f"{c['difference']:+.4f}",
                         "p": "–" if c["p"] is None else claims.p_value(c["p"]),
                         "agrees": "–" if c["agree"] is None else "yes" if c["agree"] else "no"})
    line = agreement.summary(cells, unit="", test="the paper's network as one more of our seeds")
    return pd.DataFrame(rows).set_index(["network", "JSV statistic"]), line


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
                          "the linear MLP", "§3.1, Table 1", claims.REPRODUCED if ok else claims.NOT_REPRODUCED, ev,
                          claims.CHECK)  # the linear rows are an identity, the others the nonlinearities' doing


def nearest_ratio(g) -> float:
    """The pruning ratio at which one network's mean JSV (``g``: its Figure 1 rows) is nearest to
    isometry (``isometry_distance``)."""
    return float(g.ratio.iloc[int(np.argmin(isometry_distance(g.jsv_mean)))])


def figure1_verdicts(records: list[dict]) -> list[claims.Verdict]:
    """Per network: mean JSV falls as the pruning ratio grows (Figure 1). A check rather than
    evidence (issue 38): deleting units of a trained network shrinks its Jacobian. Then, beyond
    the paper, the same read as a distance from isometry (``isometry_distance``, which does not
    reward shrinking): a larger ratio moves the network farther from isometry, with the unpruned
    network's own distance in the evidence."""
    df = jsv_frame(records).sort_values("ratio", kind="stable")
    out, farther = [], []
    for net, g in df.groupby("net", sort=False):
        label = paper.NET_LABELS[net]
        v = claims.decreasing(g.ratio, g.jsv_mean, f"{label}: a larger pruning ratio lowers mean JSV more", "§3.1, Figure 1")
        below = (g[g.ratio > 0].jsv_mean < g[g.ratio == 0].jsv_mean.iloc[0]).mean() if (g.ratio == 0).any() else np.nan
        out.append(claims.Verdict(v.claim, v.source, v.verdict,
                                  f"{v.evidence}; mean JSV below the unpruned network's at {below:.0%} of the ratios",
                                  claims.CHECK))
        d = isometry_distance(g.jsv_mean)
        w = claims.increasing(g.ratio, d, f"{label}: a larger pruning ratio moves the network farther from isometry "
                              "(|log10 mean JSV|)", "beyond the paper, §3.1, Figure 1")
        nearest = nearest_ratio(g)
        unpruned = f"unpruned: mean JSV {g.jsv_mean.iloc[0]:.3g}, distance {d[0]:.2f}; " if (g.ratio == 0).any() else ""
        farther.append(claims.Verdict(w.claim, w.source, w.verdict, f"{unpruned}nearest to isometry at ratio {nearest:g} "
                                      f"(distance {d.min():.2f}); {w.evidence}", claims.BEYOND))
    return out + farther


def verdicts(ch: Chapter) -> list[claims.Verdict]:
    """The page's claims, for the claims page: Table 1's, then Figure 1's per network."""
    dataset, protocol = ch.dataset, ch.protocol
    return [table1_verdict(ch.ensure(grids.table1(dataset, protocol, ch.seeds), "table1")),
            *figure1_verdicts(ch.ensure(grids.figure1(dataset, protocol), "figure1"))]


@dataclass
class Page:
    """What ``chapters/dynamical_isometry`` shows, in its order."""

    pretrained: object  # the unpruned networks, ours beside the paper's (``evidence.pretrained_frame``)
    table1: object  # Table 1, ours (seed 0) beside the paper's
    table1_caption: str
    agreement: object  # each cell of Table 1 over our seeds against the paper's (``table1_agreement``)
    figure1: object  # mean JSV right after pruning, ratio by network
    verdicts: list[claims.Verdict]


def page(ch: Chapter, ratios: tuple[float, ...] = grids.FIGURE1_RATIOS) -> Page:
    """Reads (or computes) the pretrained networks, Table 1 and Figure 1 at ``ratios``; glues
    ``acc_mlp7_linear``, ``jsv_init_max``, ``jsv_end_min``, ``jsv_end_max`` (the pretraining curves'
    mean JSV at the first and last epoch), ``t1_seeds``, ``t1_spread`` and ``t1_spread_net`` (the
    largest spread of Table 1's mean JSV over seeds, and its network), ``t1_agreement`` (how
    many of Table 1's cells agree with the paper's, ``table1_agreement``), ``f1_unpruned_min`` and
    ``f1_unpruned_max`` (the unpruned networks' mean JSV), ``f1_nearest`` (each network's ratio
    nearest to isometry, ``isometry_distance``) and the figures
    ``pretraining`` and ``figure1``."""
    dataset, protocol = ch.dataset, ch.protocol
    pre = ch.ensure(grids.pretrain(dataset, protocol), "pretrain")
    pre_df = pretrained_frame(pre, ch.label)
    glue("acc_mlp7_linear", pre_df.iloc[0, 0])
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.2))
    for rec in pre:
        net, m = rec["spec"]["net"], rec["metrics"]
        a1.plot(m["test_acc"], color=plotting.NET_COLORS[net], label=paper.NET_LABELS[net])
        a2.plot(m["jsv_mean"], color=plotting.NET_COLORS[net])
    a1.set(xlabel="epoch", ylabel="test accuracy (%)", ylim=(0, 100))
    a2.set(xlabel="epoch", ylabel="mean JSV", yscale="log")
    a1.legend(loc="lower right")
    ch.figure(fig, "pretraining", "**Pretraining.** Test accuracy and mean JSV (1000 training examples) per epoch "
              "of the four unpruned networks.", seeds=1)
    glue("jsv_init_max", max(r["metrics"]["jsv_mean"][0] for r in pre))
    glue("jsv_end_min", min(r["metrics"]["jsv_mean"][-1] for r in pre))
    glue("jsv_end_max", max(r["metrics"]["jsv_mean"][-1] for r in pre))

    t1 = ch.ensure(grids.table1(dataset, protocol, ch.seeds), "table1")
    spread = jsv_frame(t1).groupby("net").jsv_mean.agg(lambda v: v.max() - v.min())
    glue("t1_seeds", len(ch.seeds))
    glue("t1_spread", spread.max())
    glue("t1_spread_net", paper.NET_LABELS[spread.idxmax()])
    caption = ch.caption("**Table 1.** JSVs of orthogonal initialization, seed 0; the paper's values "
                         "(MNIST) from its Table 1, rows in the same order.")
    agree, line = table1_agreement(t1)
    glue("t1_agreement", line)

    f1 = ch.ensure(grids.figure1(dataset, protocol, ratios), "figure1")
    df = jsv_frame(f1)
    fig, (a1, a3, a2) = plt.subplots(1, 3, figsize=(13, 3.2))
    for net, g in df.groupby("net", sort=False):
        a1.plot(g.ratio, g.jsv_mean, "o-", color=plotting.NET_COLORS[net], label=paper.NET_LABELS[net])
        a3.plot(g.ratio, isometry_distance(g.jsv_mean), "o-", color=plotting.NET_COLORS[net])
        a2.plot(g.ratio, g.test_acc, "o-", color=plotting.NET_COLORS[net])
    a1.set(xlabel="pruning ratio", ylabel="mean JSV", yscale="log")
    a1.axhline(1, color="0.5", ls=":", lw=1)
    a3.set(xlabel="pruning ratio", ylabel="distance from isometry")
    a2.set(xlabel="pruning ratio", ylabel="test accuracy before finetuning (%)")
    a1.legend()
    ch.figure(fig, "figure1", "**Figure 1.** Mean JSV (left, log scale, 1 dotted), its distance from isometry (middle: "
              "|log10 mean JSV|, 0 at isometry) and test accuracy (right) of the pretrained networks right after L1 "
              "pruning, before finetuning; ratio 0 is the unpruned network.", seeds=1)
    unpruned = df[df.ratio == 0].jsv_mean
    glue("f1_unpruned_min", f"{unpruned.min():.2f}" if len(unpruned) else "–")
    glue("f1_unpruned_max", f"{unpruned.max():.2f}" if len(unpruned) else "–")
    glue("f1_nearest", ", ".join(f"{paper.NET_LABELS[net]} {nearest_ratio(g):g}" for net, g in df.groupby("net", sort=False)))
    figure1 = df.pivot(index="ratio", columns="net", values="jsv_mean").rename(columns=paper.NET_LABELS)
    return Page(pre_df, table1(t1, ch.label), caption, agree, figure1, [table1_verdict(t1), *figure1_verdicts(f1)])
