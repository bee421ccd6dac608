"""§3.3, why a larger finetuning LR helps: the four hypotheses (``chapters/hypothesis1`` to
``hypothesis4``, one page each) and Table 3 with Figure 2 (``chapters/table3``), all on pruned
MLP-7-Linear at Table 3's ratios. The rule each hypothesis is decided by is shared with §4 and the
robustness chapter (``evidence.hypothesis_verdicts``); this module holds the pages and the claims
only Table 3's page makes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import matplotlib.pyplot as plt

from .. import claims, grids, mechanism, paper, plotting, spec
from ..chapter import Chapter, glue
from ..evidence import acc, at_better_lrs, cell_agreement, complete, network_note, hypothesis_verdicts, lr_gain, results_table, runs_frame
from . import robustness

GRIDS = ("table3",)
DATASET = "mnist"  # the dataset the page is published on: the paper's, its grid being complete on it
REQUIRED = ("table3",)  # the grids whose every run the page needs (it shows the others' missing runs as pending)
NET = "mlp7-linear"  # Table 3's network


def table3_notes(frame, unpruned: dict | None) -> dict[str, str]:
    """The numbers Table 3's page quotes in its prose, as text, each "–" while a run it needs is
    missing: ``unpruned``, the final test accuracy of our unpruned network (``unpruned``: its
    record), beside ``paper_unpruned``, the paper's (Table 3's caption); ``orthp_900_vs_90``, how
    far OrthP with 900 epochs ends from OrthP with 90 epochs, mean against mean at every ratio and
    LR ("0.6 to 0.7 points below")."""
    net = frame.net.iloc[0]
    out = {"unpruned": f"{unpruned['final_acc']:.1f}" if unpruned else "–",
           "paper_unpruned": f"{paper.value(3, net=net, setting='Unpruned')[0]:.1f}"}
    long, short = (frame[frame.setting == grids.setting_name(e, True)] for e in (900, 90))
    if not (complete(long) and complete(short)):
        return {**out, "orthp_900_vs_90": "–"}
    d = long.groupby(["ratio", "lr"]).final_acc.mean() - short.groupby(["ratio", "lr"]).final_acc.mean()
    lo, hi = sorted((abs(d.min()), abs(d.max())))
    out["orthp_900_vs_90"] = (f"{lo:.1f} to {hi:.1f} points below" if d.max() < 0 else
                              f"{lo:.1f} to {hi:.1f} points above" if d.min() > 0 else
                              f"between {d.min():+.1f} and {d.max():+.1f} points from")
    return out


def table3_extra_verdicts(frame, source: str = "§3.3") -> list[claims.Verdict]:
    """Further claims of §3.3: OrthP with 90 epochs beats 900 epochs without it (each at its
    better LR), and "the initial test accuracy is much higher when OrthP is used", read two ways:
    after the first finetuning epoch (where Figure 2's curves start; one verdict per LR, 90-epoch
    settings) and, an observation beyond the paper (issue 38: the paper's sentence is about its
    curves, which start after the first epoch), right after OrthP, before any finetuning step."""
    setting_name = grids.setting_name
    out = []
    net = paper.NET_LABELS[frame.net.iloc[0]]
    for ratio in sorted(frame.ratio.unique()):
        claim = f"{net}, ratio {ratio}: OrthP with 90 epochs beats 900 epochs without OrthP (each at its better LR)"
        out.append(at_better_lrs(frame, ratio, setting_name(90, True), setting_name(900, False), ("OrthP", "without"),
                                 lambda x, y: claims.greater(x, y, claim, source, unit=" points")))
        for lr in (0.001, 0.01):
            a, b = (acc(frame, ratio, setting_name(90, o), lr, "acc_1") for o in (True, False))
            out.append(claims.greater(a, b, f"{net}, ratio {ratio}: after the first finetuning epoch (LR {lr}), test "
                                      "accuracy is higher with OrthP than without", source, unit=" points"))
        g = frame[(frame.ratio == ratio) & (frame.setting != "Scratch")]
        orthp = g.setting.str.startswith("OrthP")
        claim = (f"{net}, ratio {ratio}: right after OrthP, before any finetuning step, test accuracy is higher "
                 "than right after pruning")
        if orthp.any() and (~orthp).any():  # every run of a kind starts from one network: one number each
            a0, b0 = g[orthp].acc_0.iloc[0], g[~orthp].acc_0.iloc[0]
            out.append(claims.Verdict(claim, source, claims.REPRODUCED if a0 > b0 else claims.NOT_REPRODUCED,
                                      f"{a0:.2f}% after OrthP vs {b0:.2f}% after pruning alone (exact, before any step)",
                                      claims.BEYOND))
    return out


def _stored(ch: Chapter, labelled, what: str) -> tuple[object | None, claims.Verdict | None]:
    """For the claims page: the frame of ``labelled`` (computed first when ``ch.compute`` allows),
    or, when some of its runs are not stored and may not be computed, one pending verdict for
    ``what`` (the store read once)."""
    specs = [s for _, s in labelled]
    if ch.compute != "never":
        return runs_frame(labelled, ch.ensure(specs, "table3")), None
    done, missing, damaged, found = ch.store.scan(specs)
    if missing or damaged:
        return None, claims.pending(f"{what} on MLP-7-Linear", "§3.3, Table 3", len(done), len(specs),
                                    f"python -m dipcore compute table3 --dataset {ch.dataset}")
    return runs_frame(labelled, [found[spec.key(s)] for s in specs]), None


def verdicts(ch: Chapter) -> list[claims.Verdict]:
    """The four hypotheses' claims at each of Table 3's ratios, for the claims page; a hypothesis
    whose runs are not all stored (and may not be computed) is one ``pending`` verdict."""
    out = []
    for h in grids.HYPOTHESES:
        labelled = grids.labelled_hypothesis(h, NET, ch.dataset, ch.protocol, grids.TABLE3_RATIOS, ch.seeds)
        frame, waiting = _stored(ch, labelled, f"Hypothesis {h}")
        out += [waiting] if frame is None else hypothesis_verdicts(frame, h)
    return out


def table3_verdicts(ch: Chapter) -> list[claims.Verdict]:
    """Table 3's page's own claims (``table3_extra_verdicts``) and Figure 2's mechanism
    (``mechanism.verdicts``), for the claims page."""
    labelled = grids.labelled_hypotheses(NET, ch.dataset, ch.protocol, grids.TABLE3_RATIOS, ch.seeds)
    what = ("OrthP with 90 epochs against 900 epochs without; initial test accuracy with OrthP; Figure 2's "
            "mechanism (distance from isometry during finetuning)")
    frame, waiting = _stored(ch, labelled, what)
    return [waiting] if frame is None else table3_extra_verdicts(frame) + mechanism.verdicts(frame)


@dataclass
class HypothesisPage:
    """The runs, table, figure and verdicts of one hypothesis of §3.3."""

    hypothesis: grids.Hypothesis
    frame: object  # pandas DataFrame, one row per run (evidence.runs_frame)
    records: dict = field(repr=False)  # by key
    table: object  # pandas DataFrame: Table 3 rows of its settings, ours beside the paper's
    table_caption: str
    verdicts: list[claims.Verdict]
    levels: object  # the hypothesis at both levels, from the robustness grid as stored (robustness.beside)


def _paper_gain(ratio: float, setting: str) -> float:
    """The paper's "Acc. gain" of LR 0.01 over 0.001 in one setting of its Table 3."""
    return paper.value(3, net=NET, ratio=ratio, setting=setting, lr=0.01)[0] - \
        paper.value(3, net=NET, ratio=ratio, setting=setting, lr=0.001)[0]


def hypothesis(ch: Chapter, h: int) -> HypothesisPage:
    """Hypothesis ``h`` of §3.3 on pruned MLP-7-Linear (Table 3's ratios): computes (or reads) its
    runs, and glues for the page: ``hypothesis_text``, ``schedule_high`` and ``schedule_low`` (the LR
    schedules of its setting), ``epochs``, ``n_seeds``, the figure ``hypothesisH`` and its
    ``hypothesisH_caption``, ``data_label`` (the dataset), and per ratio (``80``, ``90``) the gain of
    LR 0.01 over 0.001 in its setting (``gain_80``) and its base hypothesis's (``base_gain_80``), and
    the paper's same gains (``paper_gain_80``, ``paper_base_gain_80``)."""
    hyp = grids.HYPOTHESES[h]
    labelled = grids.labelled_hypothesis(h, NET, ch.dataset, ch.protocol, grids.TABLE3_RATIOS, ch.seeds)
    frame, by_key = ch.frame(labelled, "table3", complete=True)
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
    glue("data_label", ch.label)
    for ratio in grids.TABLE3_RATIOS:  # the gains of LR 0.01 over 0.001 the prose refers to, ours and the paper's
        tag = f"{round(ratio * 100):02d}"
        glue(f"gain_{tag}", round(lr_gain(frame, ratio, hyp.setting), 2))
        glue(f"paper_gain_{tag}", round(_paper_gain(ratio, hyp.setting), 2))
        if hyp.base is not None:
            glue(f"base_gain_{tag}", round(lr_gain(frame, ratio, grids.HYPOTHESES[hyp.base].setting), 2))
            glue(f"paper_base_gain_{tag}", round(_paper_gain(ratio, grids.HYPOTHESES[hyp.base].setting), 2))
    table = results_table(frame, 3, NET)
    caption = ch.caption("**Test accuracy (%)** after finetuning, mean (std) over seeds; the paper's numbers from "
                         "its Table 3 (MNIST).", seeds=len(ch.seeds))
    levels = robustness.beside(ch, h).droplevel("hypothesis")
    return HypothesisPage(hyp, frame, by_key, table, caption, hypothesis_verdicts(frame, h), levels)


@dataclass
class Table3Page:
    """What ``chapters/table3`` shows, in its order."""

    frame: object  # one row per run of the four hypotheses' settings and scratch (evidence.runs_frame)
    table: object  # Table 3, ours beside the paper's (final epoch)
    caption: str
    best: object  # the same at each run's best epoch
    verdicts: list[claims.Verdict]
    mechanism: list[claims.Verdict]  # Figure 2's mechanism, decided (``mechanism.verdicts``)
    agreement: object  # each cell beside the paper's (``evidence.cell_agreement``)
    agreement_caption: str  # without the dataset line, which ``ch.table`` adds


def table3(ch: Chapter) -> Table3Page:
    """Table 3 and Figure 2: computes (or reads) every run of the four hypotheses' settings; glues
    ``n_seeds``, each of ``table3_notes`` as ``t3_<key>``, ``t3_agreement`` (how many cells agree
    with the paper's, ``evidence.cell_agreement``), and the figures ``table3_runs`` and
    ``figure2_r<ratio>`` (``figure2_r80``, ``figure2_r90``). Prints how many runs it read."""
    labelled = grids.labelled_hypotheses(NET, ch.dataset, ch.protocol, grids.TABLE3_RATIOS, ch.seeds)
    frame, by_key = ch.frame(labelled, "table3", complete=True)
    n_seeds = glue("n_seeds", len(ch.seeds))
    glue("t3_data_label", ch.label)
    unpruned = ch.records([grids.pretrain_spec(NET, ch.dataset, ch.protocol)], "pretrain")[0]
    for key, text in table3_notes(frame, unpruned).items():  # the numbers "What we noticed" quotes
        glue(f"t3_{key}", text)
    print(f"{len(frame)} runs ({(frame.status != 'ok').sum()} diverged); dataset {ch.data_name}, "
          f"protocol {ch.protocol.name}")
    caption = ch.caption("**Table 3.** Test accuracy (%) of pruned MLP-7-Linear at the final finetuning epoch, mean "
                         "(std) over seeds; Acc. gain is LR 0.01 minus LR 0.001. The paper's numbers (MNIST) "
                         "from its Table 3.", seeds=n_seeds)

    fig, axes = plt.subplots(1, len(grids.TABLE3_RATIOS), figsize=(11, 3.6), sharey=True, squeeze=False)
    for ax, ratio in zip(axes[0], grids.TABLE3_RATIOS):
        plotting.final_accuracy_dots(ax, frame, ratio)
    axes[0, 0].legend(loc="lower right")
    for ax in axes[0, 1:]:
        ax.set_ylabel("")
    ch.figure(fig, "table3_runs", "**Table 3, run by run.** Final test accuracy (%) of each finetuning and scratch run of "
              "pruned MLP-7-Linear (dots; bars: means), LR 0.001 left of each setting, LR 0.01 right, scratch in grey.",
              seeds=n_seeds)
    for ratio in grids.TABLE3_RATIOS:
        fig, axes = plt.subplots(3, 4, figsize=(13, 7.4), sharex="col", sharey="row")
        for j, h in enumerate((1, 2, 3, 4)):
            setting = grids.HYPOTHESES[h].setting
            plotting.finetuning_curves(axes[0, j], axes[2, j], frame, by_key, ratio, setting, legend=j == 0,
                                       ax_distance=axes[1, j])
            axes[0, j].set_title(f"({'abcd'[j]}) H{h}: {setting}")
            if j:
                for ax in axes[:, j]:
                    ax.set_ylabel("")
        ch.figure(fig, f"figure2_r{round(100 * ratio)}", f"**Figure 2, pruning ratio {ratio}.** Mean JSV (top), its distance "
                  f"from isometry (middle: {plotting.DISTANCE_TEXT}) and test accuracy (bottom) during finetuning of "
                  "pruned MLP-7-Linear, LR 0.01 against LR 0.001: mean over seeds (line), range (band).", seeds=n_seeds)
    found = [v for h in (1, 2, 3, 4) for v in hypothesis_verdicts(frame, h)] + table3_extra_verdicts(frame)
    spread = robustness.network_spread(robustness.runs(ch, NET, compute=False)[0])
    agreement, line = cell_agreement(frame, 3, NET, network_sd=spread)
    glue("t3_agreement", line if ch.data_name == "mnist" else
         f"(our runs on {ch.label}, the paper's on MNIST: a difference is expected) {line}")
    glue("t3_network_spread", network_note(agreement) or "How far a cell moves with the pretrained network is not "
         "measured for this table.")
    agreement_caption = ("**Table 3, cell by cell.** Our final test accuracy (%), mean (std) over seeds, beside the "
                         "paper's same cell; difference (ours - paper) and Welch's p from the paper's printed mean (std) "
                         "over its 5 runs (`dipcore.book.agreement.cell`); the sd of the cell's mean across five "
                         "pretrained networks (the robustness grid, `robustness.network_spread`) and its mean "
                         "from each (the book's network first), where measured.")
    return Table3Page(frame, results_table(frame, 3, NET), caption, results_table(frame, 3, NET, column="best_acc"),
                      found, mechanism.verdicts(frame), agreement, agreement_caption)
