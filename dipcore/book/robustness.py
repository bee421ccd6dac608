"""Beyond the paper: does each §3.3 verdict survive another pretrained network? (``chapters/robustness``)

The paper varies only the finetuning seed of **one** pretrained network per architecture, and so
does the book's Table 3. Here Table 3's 90-epoch settings are rerun from five pretrained
MLP-7-Linear networks (pretraining seeds 0-4; seed 0 is Table 3's: ``grids.robustness``) and each
hypothesis is decided at two levels: with the book's one network (``claims.greater`` /
``claims.smaller_gain``, as in its chapter) and across networks, finetuning seeds nested in them
(``claims.greater_across`` / ``claims.smaller_gain_across``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import claims, evidence, grids, paper, plotting
from .chapter import Chapter, glue

NET = "mlp7-linear"
SOURCE = "§3.3, Table 3"
SETTINGS = [h.setting for h in grids.HYPOTHESES.values() if h.epochs == 90]  # "90 epochs", "OrthP, 90 epochs"


def runs(ch: Chapter, compute: bool = True, seeds: tuple[int, ...] | None = None):
    """The grid's runs as a frame (``evidence.runs_frame``, with ``pretrained``), the pretrained
    networks' records by pretraining seed (None: not stored yet), and the command that computes
    what is missing; computed first when ``compute`` and ``ch.compute`` allow."""
    labelled = grids.labelled_robustness(NET, ch.dataset, ch.protocol.name, seeds=seeds or ch.seeds)
    specs = [s for _, s in labelled]
    recs = ch.ensure(specs, "robustness") if compute and ch.compute != "never" else [ch.store.get(s) for s in specs]
    pre = {p: ch.store.get(grids.pretrain_spec(NET, ch.dataset, ch.protocol.name, p)) for p in grids.ROBUSTNESS_PRETRAINED}
    return evidence.runs_frame(labelled, recs), pre, f"python -m dipcore compute robustness --dataset {ch.dataset}"


def _acc(frame, pretrained: int, ratio: float, setting: str, lr: float) -> list[float]:
    g = frame[(frame.pretrained == pretrained) & (frame.ratio == ratio) & (frame.setting == setting) & (frame.lr == lr)]
    return g.final_acc.tolist()


def networks_table(frame, pre: dict):
    """One row per pretrained network: its unpruned test accuracy and the mean JSV right after
    L1 pruning at each ratio (the same for every finetuning seed)."""
    import pandas as pd

    rows = []
    for p, rec in pre.items():
        row = {"pretraining seed": p, "unpruned accuracy (%)": f"{rec['final_acc']:.2f}" if rec else "pending"}
        for ratio in sorted(frame.ratio.unique()):
            g = evidence.stored(frame[(frame.pretrained == p) & (frame.ratio == ratio) & (frame.setting == SETTINGS[0])])
            row[f"pruned mean JSV, ratio {ratio:g}"] = f"{g.jsv_0.iloc[0]:.3g}" if len(g) else "pending"
        rows.append(row)
    return pd.DataFrame(rows).set_index("pretraining seed")


def gain(frame, pretrained: int, ratio: float, setting: str) -> tuple[float, float] | None:
    """Table 3's "Acc. gain" (mean at LR 0.01 minus at LR 0.001) with one pretrained network, and
    its standard error from the finetuning seeds alone (NaN with fewer than 2 seeds each); None
    while runs are missing."""
    g = frame[(frame.pretrained == pretrained) & (frame.ratio == ratio) & (frame.setting == setting)]
    if not evidence.complete(g):
        return None
    a, b = (g[g.lr == lr].final_acc.to_numpy(float) for lr in (0.01, 0.001))
    se = float(np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))) if min(len(a), len(b)) > 1 else float("nan")
    return float(a.mean() - b.mean()), se


def gains_table(frame):
    """The LR gain per (ratio, setting) with each pretrained network, its mean and spread across
    networks, and the spread one network's gain has from its finetuning seeds alone (the standard
    error of a difference of two means of the seeds, averaged over networks)."""
    import pandas as pd

    pres = sorted(frame.pretrained.unique())
    rows = []
    for ratio in sorted(frame.ratio.unique()):
        for setting in SETTINGS:
            gains = {p: gain(frame, p, ratio, setting) for p in pres}
            row = {"ratio": ratio, "setting": setting}
            row.update({f"network {p}": ("pending" if g is None else f"{g[0]:+.2f}") for p, g in gains.items()})
            done = [g[0] for g in gains.values() if g is not None]
            ses = [g[1] for g in gains.values() if g is not None]
            full = len(done) == len(pres)
            row["mean over networks"] = f"{np.mean(done):+.2f}" if full else "pending"
            row["sd across networks"] = f"{np.std(done, ddof=1):.2f}" if full and len(done) > 1 else "pending"
            row["sd from seeds alone"] = ("pending" if not full else "n/a (1 seed)" if np.isnan(ses).any()
                                          else f"{np.mean(ses):.2f}")
            rows.append(row)
    return pd.DataFrame(rows).set_index(["ratio", "setting"])


def verdicts(frame, command: str) -> list[claims.Verdict]:
    """Hypotheses 1 and 3 at each ratio, each at two levels: with the book's pretrained network
    (seed 0, the verdict of its chapter) and across the five networks. Hypotheses 2 and 4 need
    900-epoch runs across networks: pending (a GPU's work)."""
    label = paper.NET_LABELS[NET]
    pres = sorted(frame.pretrained.unique())
    out = []
    for ratio in sorted(frame.ratio.unique()):
        g = frame[frame.ratio == ratio]
        h1 = f"{label}, ratio {ratio}: after 90 epochs of finetuning, LR 0.01 beats LR 0.001"
        h3 = f"{label}, ratio {ratio}: the gain of LR 0.01 over 0.001 is smaller with OrthP than without (90 epochs)"
        for claim, settings, is_h1 in ((h1, SETTINGS[:1], True), (h3, SETTINGS, False)):
            one, across = claim + " (with the book's pretrained network)", claim + " (across pretrained networks)"
            cells = g[g.setting.isin(settings)]
            for verdict, nets_, rows in ((one, [0], cells[cells.pretrained == 0]), (across, pres, cells)):
                out.append(_decide(frame, ratio, nets_, verdict, is_h1) if evidence.complete(rows) else
                           claims.pending(verdict, SOURCE, int((rows.status != "missing").sum()), len(rows), command))
    for h in (2, 4):
        out.append(claims.Verdict(f"{label}: Hypothesis {h} across pretrained networks", SOURCE, claims.PENDING,
                                  f"needs 900-epoch finetuning from each of the {len(pres)} pretrained networks, "
                                  "a GPU's work: not in the grid yet"))
    return out


def _decide(frame, ratio: float, pres: list[int], claim: str, h1: bool) -> claims.Verdict:
    acc = lambda setting, lr: [_acc(frame, p, ratio, setting, lr) for p in pres]  # noqa: E731
    no, orth = SETTINGS
    if len(pres) == 1:
        if h1:
            return claims.greater(acc(no, 0.01)[0], acc(no, 0.001)[0], claim, SOURCE, unit=" points")
        return claims.smaller_gain(acc(no, 0.01)[0], acc(no, 0.001)[0], acc(orth, 0.01)[0], acc(orth, 0.001)[0], claim,
                                   SOURCE, unit=" points")
    if h1:
        return claims.greater_across(acc(no, 0.01), acc(no, 0.001), claim, SOURCE, unit=" points")
    return claims.smaller_gain_across(acc(no, 0.01), acc(no, 0.001), acc(orth, 0.01), acc(orth, 0.001), claim, SOURCE,
                                      unit=" points")


def plot_spread(ax, frame, ratio: float) -> None:
    """The LR gain with each pretrained network (dot; bar: ± one standard error from its
    finetuning seeds), per 90-epoch setting: if the dots scatter more than their bars, the
    pretrained network is a source of variance the one-network test cannot see."""
    pres = sorted(frame.pretrained.unique())
    for j, setting in enumerate(SETTINGS):
        for k, p in enumerate(pres):
            if (g := gain(frame, p, ratio, setting)) is None:
                continue
            gv, se = g
            x = j + (k - (len(pres) - 1) / 2) * 0.1
            ax.errorbar(x, gv, yerr=None if np.isnan(se) else se, fmt="o", color="C3" if p == 0 else "0.35", ms=5, capsize=2,
                        label=("the book's network (seed 0)" if p == 0 else "another pretrained network") if j == 0 and k < 2 else None)
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set_xticks(range(len(SETTINGS)), SETTINGS)
    ax.set_xlim(-0.6, len(SETTINGS) - 0.4)
    ax.set_ylabel("LR 0.01 − LR 0.001 (points)")
    ax.set_title(f"ratio {ratio:g}")


@dataclass
class RobustnessPage(evidence.GridPage):
    """The robustness chapter: per-network table (``networks``), gains (``tables``), verdicts."""

    networks: object = None


def page(ch: Chapter) -> RobustnessPage:
    """Reads (or computes) the grid; glues ``rb_have``, ``rb_need``, ``rb_seeds``, ``rb_networks``
    and the figure ``robustness_spread``."""
    import matplotlib.pyplot as plt

    frame, pre, command = runs(ch)
    glue("rb_have", int((frame.status != "missing").sum()))
    glue("rb_need", len(frame))
    glue("rb_seeds", int(frame.seed.nunique()))
    glue("rb_networks", len(grids.ROBUSTNESS_PRETRAINED))
    ratios = sorted(frame.ratio.unique())
    fig, axes = plt.subplots(1, len(ratios), figsize=(5.5 * len(ratios), 3.8), squeeze=False, sharey=True)
    for ax, ratio in zip(axes[0], ratios):
        plot_spread(ax, frame, ratio)
    if axes[0, 0].get_legend_handles_labels()[0]:
        axes[0, 0].legend(loc="best", fontsize=8)
    plotting.mark_pending(axes[0])
    ch.figure(fig, "robustness_spread", "**How much the pretrained network matters.** The gain of LR 0.01 over LR 0.001 "
              "after 90 epochs of finetuning pruned MLP-7-Linear, with each pretrained network (dot) and its "
              "uncertainty from the finetuning seeds alone (bar: ± one standard error).", seeds=int(frame.seed.nunique()))
    return RobustnessPage(frame, {"gains": gains_table(frame)}, verdicts(frame, command), networks_table(frame, pre))
