"""One plotting style for the whole book, readable in its light theme."""
from __future__ import annotations

NET_COLORS = {"mlp7-linear": "#0072B2", "mlp7-relu": "#D55E00", "lenet5-linear": "#009E73", "lenet5-relu": "#CC79A7"}
LR_COLORS = {0.01: "#D55E00", 0.001: "#0072B2"}  # Okabe-Ito, colour-blind safe
PAPER_STYLE = {"marker": "x", "color": "0.35"}


def use_style() -> None:
    import matplotlib as mpl

    mpl.rcParams.update({
        "figure.dpi": 110, "savefig.dpi": 110, "figure.figsize": (6.4, 3.6), "figure.facecolor": "white",
        "axes.facecolor": "white", "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False,
        "axes.spines.right": False, "font.size": 10, "axes.titlesize": 11, "legend.frameon": False,
        "savefig.bbox": "tight",
    })


def finetuning_curves(ax_jsv, ax_acc, frame, records: dict, ratio: float, setting: str, legend: bool = True) -> None:
    """Mean JSV and test accuracy per epoch of one setting, LR 0.01 against LR 0.001: the mean
    over seeds as a line, the range over seeds as a band (epoch 0: right after pruning/OrthP)."""
    import numpy as np

    for lr in (0.01, 0.001):
        keys = frame[(frame.ratio == ratio) & (frame.setting == setting) & (frame.lr == lr)].key
        for ax, metric in ((ax_jsv, "jsv_mean"), (ax_acc, "test_acc")):
            series = [records[k]["metrics"][metric] for k in keys]
            n = min(len(s) for s in series)  # a diverged run stops early
            y = np.array([[np.nan if v is None else v for v in s[:n]] for s in series], dtype=float)
            x = np.arange(n)
            ax.plot(x, np.nanmean(y, 0), color=LR_COLORS[lr], label=f"LR {lr}", lw=1.4)
            if len(y) > 1:
                ax.fill_between(x, np.nanmin(y, 0), np.nanmax(y, 0), color=LR_COLORS[lr], alpha=0.2, lw=0)
    ax_jsv.set(ylabel="mean JSV", yscale="log")
    ax_acc.set(ylabel="test accuracy (%)", xlabel="finetuning epoch")
    if legend:
        ax_acc.legend(loc="lower right")
