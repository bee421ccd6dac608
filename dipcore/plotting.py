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
