"""What a page of the book shows, for pages that share a shape: one call per page, so that a
notebook holds the narrative and a few calls (the four hypothesis chapters differ only in their
number; the claims page gathers every verdict with one call).

Figures are glued (``myst_nb.glue``) under fixed names so that the page's markdown places them as
named MyST figures (``{glue:figure}`` with ``:name:``), referenced with ``{numref}``; captions are
glued too, since they name the dataset, protocol and number of seeds of the run.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import claims, evidence, grids, plotting
from .chapter import Chapter, glue

TABLE3_NET = "mlp7-linear"


@dataclass
class HypothesisPage:
    """The runs, table, figure and verdicts of one hypothesis of §3.3."""

    hypothesis: grids.Hypothesis
    frame: object  # pandas DataFrame, one row per run (evidence.runs_frame)
    records: dict = field(repr=False)  # by key
    table: object  # pandas DataFrame: Table 3 rows of its settings, ours beside the paper's
    table_caption: str
    verdicts: list[claims.Verdict]


def hypothesis(ch: Chapter, h: int) -> HypothesisPage:
    """Hypothesis ``h`` of §3.3 on pruned MLP-7-Linear (Table 3's ratios): computes (or reads) its
    runs, and glues for the page: ``hypothesis_text``, ``schedule_high`` and ``schedule_low`` (the LR
    schedules of its setting), ``epochs``, ``n_seeds``, the figure ``hypothesisH`` and its
    ``hypothesisH_caption``, and per ratio (``80``, ``90``) the gain of LR 0.01 over 0.001 in its setting
    (``gain_80``) and its base hypothesis's (``base_gain_80``)."""
    import matplotlib.pyplot as plt

    hyp = grids.HYPOTHESES[h]
    labelled = grids.labelled_hypothesis(h, TABLE3_NET, ch.dataset, ch.protocol.name, grids.TABLE3_RATIOS, ch.seeds)
    recs = ch.ensure([s for _, s in labelled], "table3")
    frame = evidence.runs_frame(labelled, recs)
    by_key = {r["key"]: r for r in recs}
    glue("hypothesis_text", hyp.text)
    glue("schedule_high", grids.FINETUNE[hyp.epochs, 0.01])
    glue("schedule_low", grids.FINETUNE[hyp.epochs, 0.001])
    glue("epochs", hyp.epochs)
    glue("n_seeds", len(ch.seeds))

    fig, axes = plt.subplots(2, len(grids.TABLE3_RATIOS), figsize=(9, 5.5), sharex=True, squeeze=False)
    for j, ratio in enumerate(grids.TABLE3_RATIOS):
        plotting.finetuning_curves(axes[0, j], axes[1, j], frame, by_key, ratio, hyp.setting, legend=j == 0)
        axes[0, j].set_title(f"{hyp.setting}, ratio {ratio}")
    ch.figure(fig, f"hypothesis{h}", f"**Mean JSV (top) and test accuracy (bottom) per epoch** of pruned MLP-7-Linear, "
              f"{hyp.setting}: mean over seeds (line) and range (band); epoch 0 is the network right after pruning"
              f"{' and OrthP' if hyp.orthp else ''}.", seeds=len(ch.seeds))
    for ratio in grids.TABLE3_RATIOS:  # the gains of LR 0.01 over 0.001 the prose refers to
        tag = f"{round(ratio * 100):02d}"
        glue(f"gain_{tag}", round(evidence.lr_gain(frame, ratio, hyp.setting), 2))
        if hyp.base is not None:
            glue(f"base_gain_{tag}", round(evidence.lr_gain(frame, ratio, grids.HYPOTHESES[hyp.base].setting), 2))
    table = evidence.results_table(frame, 3, TABLE3_NET)
    caption = ch.caption("**Test accuracy (%)** after finetuning, mean (std) over seeds; the paper's numbers from "
                         "its Table 3 (MNIST).", seeds=len(ch.seeds))
    return HypothesisPage(hyp, frame, by_key, table, caption, evidence.hypothesis_verdicts(frame, h))


def all_verdicts(ch: Chapter) -> list[claims.Verdict]:
    """Every claim the book tests, in the book's order, each decided by the same code as in its
    chapter; a claim whose runs are not all stored (and may not be computed) is ``pending``."""
    dataset, protocol = ch.dataset, ch.protocol.name

    def measured(grid, *args):
        return ch.ensure(getattr(grids, grid)(dataset, protocol, *args), grid)

    verdicts = [evidence.table1_verdict(measured("table1", ch.seeds)), *evidence.figure1_verdicts(measured("figure1")),
                evidence.orthp_verdict(measured("orthp"))]

    def stored(labelled, what):
        specs = [s for _, s in labelled]
        if ch.compute != "never":
            return ch.ensure(specs, "table3")
        done, missing, damaged = ch.store.status(specs)
        if missing or damaged:
            verdicts.append(claims.pending(f"{what} on MLP-7-Linear", "§3.3, Table 3", len(done), len(specs),
                                           f"python -m dipcore compute table3 --dataset {dataset}"))
            return None
        return [ch.store.get(s) for s in specs]

    for h in grids.HYPOTHESES:
        labelled = grids.labelled_hypothesis(h, TABLE3_NET, dataset, protocol, grids.TABLE3_RATIOS, ch.seeds)
        if (recs := stored(labelled, f"Hypothesis {h}")) is not None:
            verdicts += evidence.hypothesis_verdicts(evidence.runs_frame(labelled, recs), h)
    everything = grids.labelled_hypotheses(TABLE3_NET, dataset, protocol, grids.TABLE3_RATIOS, ch.seeds)
    what = "OrthP with 90 epochs against 900 epochs without; initial test accuracy with OrthP"
    if (recs := stored(everything, what)) is not None:
        verdicts += evidence.table3_extra_verdicts(evidence.runs_frame(everything, recs))
    return verdicts
