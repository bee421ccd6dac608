"""What a page of the book shows, for pages that share a shape: one call per page, so that a
notebook holds the narrative and a few calls (the four hypothesis chapters differ only in their
number; the claims page gathers every verdict with one call).

Figures are glued (``myst_nb.glue``) under fixed names so that the page's markdown places them as
named MyST figures (``{glue:figure}`` with ``:name:``), referenced with ``{numref}``; captions are
glued too, since they name the dataset, protocol and number of seeds of the run.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import claims, cost, evidence, grids, pai, plotting, robustness, spec, value
from .chapter import Chapter, glue, glue_markdown

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


# The introduction's rows, each a page (or the four hypothesis pages), in the book's order.
ROWS = ("dynamical_isometry", "orthp", "hypotheses", "table3", "value_of_pruning", "table7", "pruning_at_init",
        "robustness")


def verdicts_by_row(ch: Chapter) -> dict[str, list[claims.Verdict]]:
    """Every claim the book tests, by the introduction's row that shows it (``ROWS``; ``table3``:
    the page's own claims, not the hypotheses' it repeats), each once and decided by the same code as
    in its chapter; a claim whose runs are not all stored (and may not be computed) is ``pending``."""
    dataset, protocol = ch.dataset, ch.protocol.name
    rows: dict[str, list[claims.Verdict]] = {r: [] for r in ROWS}

    def measured(grid, *args):
        return ch.ensure(getattr(grids, grid)(dataset, protocol, *args), grid)

    rows["dynamical_isometry"] = [evidence.table1_verdict(measured("table1", ch.seeds)),
                                  *evidence.figure1_verdicts(measured("figure1"))]
    rows["orthp"] = [evidence.orthp_verdict(measured("orthp"))]

    def stored(labelled, what, row):
        specs = [s for _, s in labelled]
        if ch.compute != "never":
            return ch.ensure(specs, "table3")
        done, missing, damaged, found = ch.store._scan(specs)  # each record read once
        if missing or damaged:
            rows[row].append(claims.pending(f"{what} on MLP-7-Linear", "§3.3, Table 3", len(done), len(specs),
                                            f"python -m dipcore compute table3 --dataset {dataset}"))
            return None
        return [found[spec.key(s)] for s in specs]

    for h in grids.HYPOTHESES:
        labelled = grids.labelled_hypothesis(h, TABLE3_NET, dataset, protocol, grids.TABLE3_RATIOS, ch.seeds)
        if (recs := stored(labelled, f"Hypothesis {h}", "hypotheses")) is not None:
            rows["hypotheses"] += evidence.hypothesis_verdicts(evidence.runs_frame(labelled, recs), h)
    everything = grids.labelled_hypotheses(TABLE3_NET, dataset, protocol, grids.TABLE3_RATIOS, ch.seeds)
    what = "OrthP with 90 epochs against 900 epochs without; initial test accuracy with OrthP"
    if (recs := stored(everything, what, "table3")) is not None:
        rows["table3"] += evidence.table3_extra_verdicts(evidence.runs_frame(everything, recs))
    frame, _, command = value.runs(ch, seeds=ch.seeds[:grids.VALUE_SEEDS])  # §3.4
    rows["value_of_pruning"] = [v for net in grids.VALUE_NETS for v in value.verdicts(frame, net, command)]
    frame, _, command = value.runs(ch, seeds=ch.seeds[:grids.VALUE_SEEDS], nets_=(grids.VALUE_RESIDUAL,),
                                   compute=False)  # the GPU tier: its own chapter computes it
    rows["value_of_pruning"] += value.verdicts(frame, grids.VALUE_RESIDUAL, command)
    frame, _, commands = table7_runs(ch)  # §4: each claim pending until its runs are in
    rows["table7"] = [v for net in grids.TABLE7_NETS for v in evidence.table7_verdicts(frame[frame.net == net],
                                                                                         commands[net])]
    frame, _, command = pai.runs(ch, seeds=ch.seeds[:grids.PAI_SEEDS])  # Lee et al.: pruning at initialization
    meas = pai.measurements(ch)
    rows["pruning_at_init"] = [v for net in grids.PAI_NETS for v in pai.verdicts(frame, meas, net, command)]
    frame, _, commands = robustness.runs(ch, compute=False)  # beyond the paper: its own chapter computes it
    rows["robustness"] = robustness.verdicts(frame, commands)
    return rows


def all_verdicts(ch: Chapter) -> list[claims.Verdict]:
    """Every claim the book tests, in the book's order, each once (``verdicts_by_row``, flattened)."""
    return [v for row in verdicts_by_row(ch).values() for v in row]


def glue_row_statuses(rows: dict[str, list[claims.Verdict]]) -> dict[str, str]:
    """Glue each row's verdict counts (``claims.summary``) as ``status_<row>``, for the introduction's
    table to paste from the claims page (``{glue:text}`claims.ipynb::status_table7:s```): the Table 3
    row counts the hypotheses it repeats as well, ``status_all`` every claim. Returns them by row."""
    out = {r: claims.summary(vs) for r, vs in rows.items()}
    out["table3"] = claims.summary(rows["hypotheses"] + rows["table3"])
    out["all"] = claims.summary([v for vs in rows.values() for v in vs])
    for r, text in out.items():
        glue(f"status_{r}", text)
    return out


@dataclass
class Table7Page(evidence.GridPage):
    """§4: Table 7 with the approximate-isometry arm, per network (tables: each network's Table 7
    block, ours beside the paper's)."""

    unpruned: object  # the unpruned networks, ours beside the paper's (evidence.pretrained_frame)
    compute: object  # what the stored runs cost, by network, grid and epochs (evidence.compute_table)


def table7_runs(ch: Chapter):
    """The runs of Table 7 and its AI arm as a frame (``evidence.runs_frame``; runs not stored yet
    have status ``missing``; its ``grid`` column names the grid each run belongs to, ``table7`` or
    ``table7_ai``), computing the missing ones first when ``ch.compute`` allows; with the records by
    key and, per network, the command that computes each grid's runs of it (``{grid: command}``: a
    pending verdict names only the grids its own missing runs belong to)."""
    dataset, protocol = ch.dataset, ch.protocol.name
    parts = {(net, g): make(net, dataset, protocol, grids.TABLE7_RATIOS, ch.seeds) for net in grids.TABLE7_NETS
             for g, make in (("table7", grids.labelled_hypotheses), ("table7_ai", grids.labelled_ai))}
    labelled = [({**labels, "grid": g}, s) for (_, g), part in parts.items() for labels, s in part]
    recs = ch.records([s for _, s in labelled], "table7 and table7_ai")
    commands = {net: {g: f"python -m dipcore compute {g} --net {net} --dataset {dataset}" for g in ("table7", "table7_ai")}
                for net in grids.TABLE7_NETS}
    return evidence.runs_frame(labelled, recs), {r["key"]: r for r in recs if r}, commands


def table7(ch: Chapter) -> Table7Page:
    """Table 7 (MLP-7-ReLU, LeNet-5-Linear, LeNet-5-ReLU pruned at 0.9) and its AI arm: reads the
    runs that are stored (with ``compute="never"``; else computes the missing ones first), so that
    the page shows what is done and says what is pending. Glues ``n_seeds``, ``t7_have``,
    ``t7_need``, ``t7_progress`` (Markdown), ``t7_hours`` (the stored runs' training,
    thread-hours), ``t7_<net>_<note>`` (``evidence.table7_notes``), the figures ``table7_<net>``
    (curves) and ``table7_runs`` (every run)."""
    import matplotlib.pyplot as plt

    pre = [r for r in ch.ensure(grids.pretrain(ch.dataset, ch.protocol.name), "pretrain")
           if r["spec"]["net"] in grids.TABLE7_NETS]
    frame, by_key, commands = table7_runs(ch)
    glue("n_seeds", len(ch.seeds))
    have = glue("t7_have", int((frame.status != "missing").sum()))
    glue("t7_need", len(frame))
    glue_markdown("t7_progress", evidence.table7_progress(have, len(frame)))
    unpruned = evidence.pretrained_frame(pre, ch.label)
    tables, verdicts = {}, []
    settings = [grids.setting_name(e, False, r) for r in ("none", "orthp", "ai") for e in (90, 900)]
    for net in grids.TABLE7_NETS:
        g = frame[frame.net == net]
        tables[evidence.paper.NET_LABELS[net]] = evidence.results_table(g, 7, net)
        verdicts += evidence.table7_verdicts(g, commands[net])
        for k, v in evidence.table7_notes(g).items():
            glue(f"t7_{net}_{k}", v)
        fig, axes = plt.subplots(2, len(settings), figsize=(16, 5.2), sharex="col", sharey="row", squeeze=False)
        for j, setting in enumerate(settings):
            plotting.finetuning_curves(axes[0, j], axes[1, j], g, by_key, grids.TABLE7_RATIOS[0], setting, legend=j == 0)
            axes[0, j].set_title(setting)
            if j:
                axes[0, j].set_ylabel("")
                axes[1, j].set_ylabel("")
        ch.figure(fig, f"table7_{net}", f"**{evidence.paper.NET_LABELS[net]}, pruned at ratio 0.9: mean JSV (top) and "
                  "test accuracy (bottom) per finetuning epoch** in every setting of Table 7 and the approximate-"
                  "isometry arm, LR 0.01 against LR 0.001: mean over seeds (line), range (band); epoch 0 is the "
                  "network right after pruning and recovery.", seeds=len(ch.seeds))
    fig, axes = plt.subplots(1, len(grids.TABLE7_NETS), figsize=(15, 3.8), squeeze=False)
    for ax, net in zip(axes[0], grids.TABLE7_NETS):
        plotting.final_accuracy_dots(ax, frame[frame.net == net], grids.TABLE7_RATIOS[0])
        ax.set_title(evidence.paper.NET_LABELS[net])
    axes[0, 0].legend(loc="lower right")
    ch.figure(fig, "table7_runs", "**Table 7, run by run.** Final test accuracy (%) of each stored finetuning and "
              "scratch run (dots; bars: means), LR 0.001 left of each setting, LR 0.01 right, scratch in grey"
              + ("; a setting none of whose runs is in the store yet is marked pending." if have < len(frame) else "."),
              seeds=len(ch.seeds))
    compute = evidence.compute_table(frame, by_key, by=("net", "grid", "epochs"))
    glue("t7_hours", f"{sum(cost.thread_seconds(r['meta']) for r in by_key.values() if r['meta'].get('wall_s')) / 3600:.0f}")
    return Table7Page(frame, tables, verdicts, unpruned, compute)
