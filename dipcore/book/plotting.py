"""One plotting style for the whole book, readable in its light theme."""
from __future__ import annotations

from ..nets import ENTRIES

NET_COLORS = {name: entry.color for name, entry in ENTRIES.items()}
LR_COLORS = {0.01: "#D55E00", 0.001: "#0072B2"}  # Okabe-Ito, colour-blind safe
SCRATCH_COLOR = "0.45"
AI_COLOR = "0.1"  # approximate isometry: near-black outlines, apart from every network colour
PAPER_STYLE = {"marker": "x", "color": "0.35"}


def mark_pending(axes, reference: tuple[str, ...] = ()) -> None:
    """Write "pending" on each panel where no run is drawn: no line or error bar with a legend
    label (unlabelled reference lines, and those labelled ``reference``, aside)."""
    for ax in axes:
        drawn = [a for a in [*ax.lines, *ax.containers] if not a.get_label().startswith("_")
                 and a.get_label() not in reference]
        if not drawn:
            ax.text(0.5, 0.5, "pending: no run stored yet", transform=ax.transAxes, ha="center", va="center", color="0.4")


def use_style() -> None:
    import matplotlib as mpl

    mpl.rcParams.update({
        "figure.dpi": 110, "savefig.dpi": 110, "figure.figsize": (6.4, 3.6), "figure.facecolor": "white",
        "axes.facecolor": "white", "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False,
        "axes.spines.right": False, "font.size": 10, "axes.titlesize": 11, "legend.frameon": False,
        "savefig.bbox": "tight",
    })


DISTANCE_TEXT = "|log10 mean JSV|, 0 at isometry, the dotted line a factor of 2"  # what a distance panel shows


def finetuning_curves(ax_jsv, ax_acc, frame, records: dict, ratio: float, setting: str, legend: bool = True,
                      ax_distance=None) -> None:
    """Mean JSV and test accuracy per epoch of one setting, LR 0.01 against LR 0.001: the mean
    over seeds as a line, the range over seeds as a band (epoch 0: right after pruning/OrthP);
    on ``ax_distance``, when given, the mean JSV's distance from isometry
    (``dipcore.jsv.isometry_distance``, issue 38) the same way, with a factor of 2 dotted. Runs
    not stored yet (status ``missing``) are left out; a setting with none says so."""
    import numpy as np

    from ..jsv import isometry_distance

    panels = ((ax_jsv, "jsv_mean", None), (ax_acc, "test_acc", None))
    if ax_distance is not None:
        panels += ((ax_distance, "jsv_mean", isometry_distance),)
    drawn = False
    for lr in (0.01, 0.001):
        rows = frame[(frame.ratio == ratio) & (frame.setting == setting) & (frame.lr == lr)]
        keys = rows[rows.status != "missing"].key if "status" in rows else rows.key
        if not len(keys):  # not stored yet
            continue
        drawn = True
        for ax, metric, transform in panels:
            series = [records[k]["metrics"][metric] for k in keys]
            n = min(len(s) for s in series)  # a diverged run stops early
            y = np.array([[np.nan if v is None else v for v in s[:n]] for s in series], dtype=float)
            if transform is not None:
                y = transform(y)
            x = np.arange(n)
            ax.plot(x, np.nanmean(y, 0), color=LR_COLORS[lr], label=f"LR {lr}", lw=1.4)
            if len(y) > 1:
                ax.fill_between(x, np.nanmin(y, 0), np.nanmax(y, 0), color=LR_COLORS[lr], alpha=0.2, lw=0)
    ax_jsv.set(ylabel="mean JSV", yscale="log")
    ax_acc.set(ylabel="test accuracy (%)", xlabel="finetuning epoch")
    if ax_distance is not None:
        ax_distance.set(ylabel="distance from\nisometry")
        ax_distance.axhline(np.log10(2), color="0.5", ls=":", lw=1)
    if not drawn:
        for ax in [a for a, _, _ in panels]:
            ax.text(0.5, 0.5, "pending: runs\nnot stored yet", transform=ax.transAxes, ha="center", va="center",
                    color="0.4")
            ax.set_xticks([])
    elif legend:
        ax_acc.legend(loc="lower right")


def final_accuracy_dots(ax, frame, ratio: float, column: str = "final_acc") -> None:
    """Table 3 as a picture: every run's final test accuracy as a dot, per setting, LR 0.001 left
    and LR 0.01 right of the setting's tick (the scratch runs in grey), each group's mean as a bar.
    Shows the run-to-run spread the verdicts weigh the differences against."""
    import numpy as np

    g = frame[frame.ratio == ratio]
    settings = list(dict.fromkeys(g.setting))  # in the grid's order
    if "status" in g:  # runs not stored yet: their setting keeps its place, marked pending
        for i, setting in enumerate(settings):
            if (g[g.setting == setting].status == "missing").all():
                ax.text(i, 0.5, "pending", transform=ax.get_xaxis_transform(), ha="center", va="center", color="0.4",
                        fontsize=8, rotation=90)
        g = g[g.status != "missing"]
    for i, setting in enumerate(settings):
        arms = [(None, 0.0, SCRATCH_COLOR)] if setting == "Scratch" else \
            [(0.001, -0.17, LR_COLORS[0.001]), (0.01, 0.17, LR_COLORS[0.01])]
        for lr, dx, color in arms:
            rows = g[g.setting == setting] if lr is None else g[(g.setting == setting) & (g.lr == lr)]
            y = rows[column].to_numpy(dtype=float)
            jitter = np.linspace(-0.05, 0.05, len(y)) if len(y) > 1 else np.zeros(len(y))
            ax.scatter(i + dx + jitter, y, s=14, color=color, alpha=0.8, lw=0, zorder=3,
                       label=None if lr is None or i else f"LR {lr}")
            if len(y):
                ax.hlines(y.mean(), i + dx - 0.11, i + dx + 0.11, color=color, lw=2, zorder=4)
    ax.set_xticks(range(len(settings)), [s.replace(" epochs", "").replace(", ", "\n") for s in settings])
    if g.empty:
        ax.set_yticks([])
    ax.set_xlim(-0.5, len(settings) - 0.5)
    ax.set(ylabel="final test accuracy (%)" if column == "final_acc" else "best test accuracy (%)",
           title=f"pruning ratio {ratio}", xlabel="setting (finetuning epochs)")
    ax.grid(axis="x", visible=False)
    ax.tick_params(axis="x", labelsize=8.5)
