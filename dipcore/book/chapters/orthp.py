"""§3.2, OrthP (``chapters/orthp``): the JSVs of the pruned networks before and after OrthP (Eq. 2)
and after approximate isometry (Lee et al.), what each recovery does to the inherited weights, and
the verdict that OrthP gives exact isometry to pruned MLP-7-Linear.
"""
from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from ... import isometry, nets
from .. import claims, grids, paper, plotting, recipe, spec
from ..chapter import Chapter, glue
from ..evidence import LINEAR_TOL, jsv_frame

GRIDS = ("orthp",)
DATASET = "mnist"  # the dataset the page is published on: the paper's, its grids being complete on it
REQUIRED = ("orthp",)  # the grids whose every run the page needs (it shows the others' missing runs as pending)
RECOVERY_LABELS = {name: r.label for name, r in isometry.RECOVERIES.items()}
FLOOR = 1e-6  # JSVs below (rank-deficient Jacobians) are counted in a histogram's leftmost bin


def orthp_verdict(records: list[dict]) -> claims.Verdict:
    """OrthP makes every JSV of pruned MLP-7-Linear exactly 1 (§3.2)."""
    df = jsv_frame(records)
    lin = df[(df.net == "mlp7-linear") & df.orthp]
    dev = float(np.maximum((lin.jsv_max - 1).abs(), (lin.jsv_min - 1).abs()).max())
    ok = len(lin) > 0 and dev < LINEAR_TOL
    return claims.Verdict("OrthP recovers exact dynamical isometry (all JSVs 1) in pruned MLP-7-Linear",
                          "§3.2, §3.3", claims.REPRODUCED if ok else claims.NOT_REPRODUCED,
                          f"largest |JSV - 1| after OrthP at ratios {', '.join(f'{r:g}' for r in sorted(lin.ratio.unique()))}: {dev:.1e}",
                          claims.CHECK)  # a product of orthonormal matrices is one: an identity


def verdicts(ch: Chapter) -> list[claims.Verdict]:
    """The page's claims, for the claims page."""
    return [orthp_verdict(ch.ensure(grids.orthp(ch.dataset, ch.protocol), "orthp"))]


def recovery_moves(weights, net: str, dataset: str, protocol, ratio: float):
    """Per weight layer of the pretrained ``net`` pruned at ``ratio``: how far OrthP and
    approximate isometry (AI) move the inherited weights ``W`` (``|W' - W| / |W|``, Frobenius), how
    far apart their results are, and how far ``W`` is from the nearest matrix with orthonormal rows
    or columns (``isometry.nearest_isometry``, scaled by the gain): the least any exact recovery must move it.
    The isometry error ``|W W^T - g^2 I|`` before and after each. ``weights(key)`` reads stored
    weights (``RunStore.weights``). Recomputes AI (seconds), on one CPU thread as the store's runs
    are computed: a float32 reduction's rounding depends on the thread count, and AI's 10 000 steps
    carry it into the page's numbers (the 8th digit), which nbval compares."""
    g = nets.gain(net)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        models = {rec: recipe.initial_model(grids.pruned_jsv_spec(net, dataset, protocol, ratio, recovery=rec), weights)
                  for rec in ("none", "orthp", "ai")}
    finally:
        torch.set_num_threads(threads)
    rows = []
    layers = zip(*(nets.weight_layers(models[r]) for r in ("none", "orthp", "ai")))
    for i, (w, o, a) in enumerate(layers):
        w, o, a = w.weight.detach(), o.weight.detach(), a.weight.detach()
        size, nearest = float(w.norm()), isometry.nearest_isometry(w, g)
        rows.append({"network": paper.NET_LABELS[net], "layer": i + 1,
                     "shape": "x".join(map(str, w.flatten(1).shape)),
                     "error, pruned": float(isometry.isometry_error(w, g)),
                     "error, OrthP": float(isometry.isometry_error(o, g)),
                     "error, AI": float(isometry.isometry_error(a, g)),
                     "moved by OrthP": float((o - w).norm()) / size, "moved by AI": float((a - w).norm()) / size,
                     "OrthP to AI": float((o - a).norm()) / size,
                     "nearest isometry": float((nearest - w).norm()) / size,
                     "AI to nearest": float((nearest - a).norm()) / size})
    return pd.DataFrame(rows).set_index(["network", "layer", "shape"])


@dataclass
class Page:
    """What ``chapters/orthp`` shows, in its order."""

    table: object  # the JSV statistics and test accuracy of every measurement, by network, ratio, recovery
    moves: object  # ``recovery_moves`` of MLP-7-Linear and LeNet-5-ReLU at ratio 0.9
    moves_caption: str
    verdicts: list[claims.Verdict]


def _values(records, net, ratio, recovery) -> np.ndarray:
    (r,) = [r for r in records if r["spec"]["net"] == net and r["spec"]["ratio"] == ratio
            and spec.recovery(r["spec"]) == recovery]
    return np.asarray(r["values"])


def zero_shares(records, net: str) -> dict[str, float]:
    """Per recovery (none, OrthP, AI): the share of pruned ``net``'s JSVs (at its ratio of the grid
    ``orthp``) below ``FLOOR``, numerically zero: a Jacobian made rank-deficient by ReLUs the pruned
    network switches off (§3.2; §4's ReLU networks)."""
    r = grids.ORTHP_RATIOS[net][0]
    return {rec: float((_values(records, net, r, rec) < FLOOR).mean()) for rec in ("none", "orthp", "ai")}


def zeros_remain(shares: dict[str, float], recovery: str) -> bool:
    """Whether most of the numerically zero JSVs pruning left remain after ``recovery`` (``shares``:
    ``zero_shares``): its share above half of the share right after pruning (§3.2; §4's ReLU networks).
    The OrthP page and Table 7's note say "remain" by this rule only."""
    return shares[recovery] > shares["none"] / 2


def zeros_clauses(shares: dict[str, dict[str, float]]) -> dict[str, str]:
    """The OrthP page's two clauses on the ReLU networks' zero JSVs (``shares``: ``{net: zero_shares}``),
    by ``zeros_remain`` in every network: ``orthp`` (before and after OrthP) and ``ai`` (after AI),
    each with its percentages."""
    nets = list(shares)
    labels = [paper.NET_LABELS[n] for n in nets]
    both = "both ReLU networks" if len(nets) == 2 else "the ReLU networks"
    pct = {n: {rec: f"{100 * v:.0f}%" for rec, v in s.items()} for n, s in shares.items()}
    then = ", ".join(f"{pct[n]['none']} then {pct[n]['orthp']} in {lab}" for n, lab in zip(nets, labels))
    after_ai = " and ".join(pct[n]["ai"] for n in nets)
    if all(zeros_remain(s, "orthp") for s in shares.values()):
        orthp = f"In {both} a large share of them is numerically zero before OrthP and stays so after ({then})"
    else:
        orthp = f"In {both} the share of them that is numerically zero is, before OrthP then after, {then}"
    if all(zeros_remain(s, "ai") for s in shares.values()):
        ai = (f"most of the zeros remain ({after_ai} in the ReLU networks): no recovery of the weights alone can "
              "switch a dead ReLU back on")
    else:
        ai = f"the share of zeros after it is {after_ai} in the ReLU networks"
    return {"orthp": orthp, "ai": ai}


def _linear_figure(ch: Chapter, records) -> None:
    """The 10 JSVs of pruned MLP-7-Linear before and after each recovery, one panel per ratio."""
    lin_ratios = grids.ORTHP_RATIOS["mlp7-linear"]
    fig, axes = plt.subplots(1, len(lin_ratios), figsize=(4.5 * len(lin_ratios), 3), squeeze=False)
    for ax, r in zip(axes[0], lin_ratios):
        # one Jacobian for every input: the first example's 10 values are all of them
        before, after, ai = (np.sort(_values(records, "mlp7-linear", r, rec)[:10]) for rec in ("none", "orthp", "ai"))
        ax.scatter(before, np.arange(10), label="pruned", color="0.4")
        ax.scatter(after, np.arange(10), label="pruned + OrthP", color=plotting.NET_COLORS["mlp7-linear"], marker="D")
        ax.scatter(ai, np.arange(10), label="pruned + AI", color=plotting.AI_COLOR, marker="o", facecolors="none")
        ax.axvline(1, color="k", lw=0.8, ls=":")
        ax.set(xscale="log", xlabel="Jacobian singular value", ylabel="singular value index",
               title=f"MLP-7-Linear, ratio {r}")
    axes[0, 0].legend(loc="upper left")
    ch.figure(fig, "orthp_mlp7_linear", "**The 10 JSVs of pruned MLP-7-Linear** before (grey), after OrthP (blue diamonds) "
              "and after approximate isometry (black open circles); the dotted line is 1.", seeds=1)


def _nonlinear_figure(ch: Chapter, records) -> dict:
    """The JSV histograms of the pruned nonlinear networks; returns, per network, the mean JSV after
    each recovery (none, OrthP, AI), which the prose quotes."""
    means = {}
    fig, axes = plt.subplots(1, 3, figsize=(12, 3), sharey=False)
    for ax, net in zip(axes, ["mlp7-relu", "lenet5-linear", "lenet5-relu"]):
        r = grids.ORTHP_RATIOS[net][0]
        raw = {rec: _values(records, net, r, rec) for rec in ("none", "orthp", "ai")}
        before, after, ai = (np.clip(raw[rec], FLOOR, None) for rec in ("none", "orthp", "ai"))
        bins = np.logspace(np.log10(min(before.min(), after.min(), ai.min())),
                           np.log10(max(before.max(), after.max(), ai.max())), 40)
        means[net] = {rec: raw[rec].mean() for rec in raw}
        ax.hist(before, bins=bins, color="0.6", label="pruned")
        ax.hist(after, bins=bins, color=plotting.NET_COLORS[net], alpha=0.7, label="pruned + OrthP")
        ax.hist(ai, bins=bins, histtype="step", color=plotting.AI_COLOR, lw=1.4, label="pruned + AI")
        ax.axvline(1, color="k", lw=0.8, ls=":")
        ax.set(xscale="log", xlabel="Jacobian singular value", title=f"{paper.NET_LABELS[net]}, ratio {r}")
    axes[0].set_ylabel("count")
    axes[0].legend(loc="upper left")
    ch.figure(fig, "orthp_nonlinear", "**JSV distributions of the pruned nonlinear networks** before (grey), after "
              "OrthP (colour) and after approximate isometry (black outline), 10 values for each JSV example of the protocol; values below 10⁻⁶ are counted in the "
              "leftmost bin.", seeds=1)
    return means


def page(ch: Chapter) -> Page:
    """Reads (or computes) the measurements of the grid ``orthp``; glues ``ai_lin_min`` and
    ``ai_lin_max`` (MLP-7-Linear's JSVs after AI at ratio 0.9), per nonlinear network the mean JSV
    before and after each recovery (``before_<net>``, ``after_<net>``, ``ai_<net>``), the ReLU
    networks' clauses on their zero JSVs (``zeros_orthp``, ``zeros_ai``: ``zeros_clauses``), ``ai_to_nearest_max``,
    ``orthp_extra_median`` and ``ai_error_max`` (``recovery_moves``), and the figures
    ``orthp_mlp7_linear`` and ``orthp_nonlinear``."""
    dataset, protocol = ch.dataset, ch.protocol
    recs = ch.ensure(grids.orthp(dataset, protocol), "orthp")
    df = jsv_frame(recs)
    table = df.assign(network=df.net.map(paper.NET_LABELS), recovery=df.recovery.map(RECOVERY_LABELS))
    table = table.set_index(["network", "ratio", "recovery"])[["jsv_mean", "jsv_std", "jsv_max", "jsv_min", "test_acc"]]
    table.columns = ["JSV mean", "JSV std", "JSV max", "JSV min", "test acc. (%)"]
    _linear_figure(ch, recs)
    lin_ai = _values(recs, "mlp7-linear", 0.9, "ai")
    glue("ai_lin_min", lin_ai.min())
    glue("ai_lin_max", lin_ai.max())
    for net, m in _nonlinear_figure(ch, recs).items():
        glue(f"ai_{net}", m["ai"])
        glue(f"before_{net}", m["none"])
        glue(f"after_{net}", m["orthp"])
    relu = ("mlp7-relu", "lenet5-relu")
    for name, clause in zeros_clauses({net: zero_shares(recs, net) for net in relu}).items():
        glue(f"zeros_{name}", clause)
    moves = pd.concat([recovery_moves(ch.store.weights, net, dataset, protocol, 0.9)
                       for net in ("mlp7-linear", "lenet5-relu")])
    glue("ai_to_nearest_max", moves["AI to nearest"].max())
    glue("orthp_extra_median", (moves["moved by OrthP"] - moves["nearest isometry"]).median())
    glue("ai_error_max", moves["error, AI"].max())
    caption = ch.caption("**What each recovery does to the inherited weights.** Isometry error "
                         "$\\lVert W W^\\top - g^2 I\\rVert_F$ of each layer before and after, and distances relative "
                         "to $\\lVert W\\rVert_F$.")
    return Page(table, moves, caption, [orthp_verdict(recs)])
