"""§4, isometry recovery in nonlinear networks (``chapters/table7``): Table 7 (MLP-7-ReLU,
LeNet-5-Linear and LeNet-5-ReLU pruned at 0.9, finetuned 90 and 900 epochs with and without OrthP,
and scratch) with the book's approximate-isometry arm, its curves, its cost and §4's observations
as verdicts. Shows what is stored and says what is pending.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import matplotlib.pyplot as plt
import pandas as pd

from ... import isometry, nets
from ...jsv import isometry_distance
from .. import claims, cost, grids, mechanism, paper, plotting
from ..chapter import Chapter, glue, glue_markdown, mnist_progress
from ..evidence import (GridPage, acc, at_better_lrs, cell_agreement, compute_table, hypothesis_verdicts,
                        measured_cells, network_note, pending, pretrained_frame, results_table)
from . import orthp, robustness

GRIDS = ("table7", "table7_ai")
DATASET = "mnist"  # the dataset the page is published on: the paper's, its grids being complete on it
MNIST_GRIDS = ("table7", "table7_ai")  # those MNIST grids: the page says how far they are (``chapter.mnist_progress``)
REQUIRED = ("pretrain",)  # the grids whose every run the page needs (it shows the others' missing runs as pending)


def no_help_margin() -> float:
    """The margin of "OrthP does not help" (points of test accuracy): the median run-to-run std
    the paper prints in Table 7, a difference smaller than its own seeds' typical spread."""
    return float(paper.numbers(7)["std"].median())


def decide(frame, command: str | dict | None = None, source: str = "§4, Table 7") -> list[claims.Verdict]:
    """§4's three observations on one network of Table 7 (``frame``: its runs, with the AI arm when
    present), and the book's question about approximate isometry:

    1. more epochs help, whatever the LR: 900 epochs beat 90 at each LR (no recovery);
    2. OrthP helps only on LeNet-5-ReLU: with OrthP beats without (each at its better LR) there,
       and on the other networks it does not help: with it at most ``no_help_margin`` points above
       without (``claims.not_above``; 90 and 900 epochs);
    3. the advantage of LR 0.01 shrinks with 900 epochs: hypotheses 2 and 4 of §3.3, each decided
       only where its premise holds (LR 0.01 ahead after 90 epochs: Hypothesis 1, also a verdict here);
    4. (beyond the paper) approximate isometry beats OrthP, each at its better LR (90 and 900 epochs).
    Each pending while its runs are missing; ``command`` computes them (one command, or one per grid
    as ``runs`` gives them: a pending verdict then names the grids its own runs miss)."""
    setting_name = grids.setting_name
    key = frame.net.iloc[0]
    net = paper.NET_LABELS[key]
    out = []
    for ratio in sorted(frame.ratio.unique()):
        pre = f"{net}, ratio {ratio}: "
        for lr in (0.01, 0.001):
            claim = pre + f"900 epochs of finetuning beat 90 epochs (LR {lr})"
            settings = [setting_name(900, False), setting_name(90, False)]
            out.append(pending(frame, ratio, settings, claim, source, command) or claims.greater(
                acc(frame, ratio, settings[0], lr), acc(frame, ratio, settings[1], lr), claim, source, unit=" points"))
        for epochs in (90, 900):
            plain, orthp = setting_name(epochs, False), setting_name(epochs, True)
            helps = key == "lenet5-relu"
            claim = pre + (f"OrthP helps ({epochs} epochs, each at its better LR)" if helps else
                           f"OrthP does not help: with it at most {no_help_margin():.2f} points above without "
                           f"({epochs} epochs, each at its better LR)")
            out.append(pending(frame, ratio, [plain, orthp], claim, source, command) or (
                at_better_lrs(frame, ratio, orthp, plain, ("OrthP", "without"), lambda x, y: (
                    claims.greater(x, y, claim, source, unit=" points") if helps else
                    claims.not_above(x, y, no_help_margin(), claim, source, unit=" points")))))
        for h in (1, 2, 4):  # H1: the premise of H2, shown as a verdict of its own (issue 38)
            out += hypothesis_verdicts(frame[frame.ratio == ratio], h, source, command)
        if (frame.setting.str.startswith("AI")).any():
            for epochs in (90, 900):
                ai, orthp = setting_name(epochs, False, "ai"), setting_name(epochs, True)
                claim = pre + f"approximate isometry beats OrthP ({epochs} epochs, each at its better LR)"
                source_ai = "beyond the paper, §4"
                out.append((pending(frame, ratio, [ai, orthp], claim, source_ai, command) or at_better_lrs(
                    frame, ratio, ai, orthp, ("AI", "OrthP"), lambda x, y: claims.greater(
                        x, y, claim, source_ai, unit=" points"))).as_kind(claims.BEYOND))
    return out


def notes(frame) -> dict[str, str]:
    """The numbers the §4 page's prose quotes for one network of Table 7 (``frame``: its runs), as
    text, each "–" while a run it needs is missing: ``scratch``, the pruned architecture trained
    from scratch (mean final accuracy); ``best``, the best finetuning setting and LR by mean final
    accuracy, with that mean (every setting whose runs are all stored, AI included), and
    ``scratch_vs``, whether scratch is "above" or "below" it (Welch's test on the seeds, p < 0.05) or
    "within noise of" it; ``peak_900`` and
    ``final_900``, the 900-epoch runs without recovery at LR 0.01, the mean of each run's best epoch
    and of its final one; ``jsv_0``, the mean JSV right after pruning, after OrthP and after AI;
    ``jsv_end_90`` and ``jsv_end_900``, the range of the per-setting means at the end of 90 and
    900 epochs (no recovery, OrthP and AI, those whose runs are all stored); ``jsv_head``, the
    heading those numbers bear (``jsv_heading``)."""
    setting_name = grids.setting_name
    done = frame[frame.status != "missing"]
    complete = [s for s, g in frame.groupby("setting") if (g.status != "missing").all()]
    out = dict.fromkeys(["scratch", "scratch_vs", "best", "peak_900", "final_900", "jsv_0", "jsv_end_90", "jsv_end_900"], "–")
    ends_90 = None
    scratch = done[done.setting == "Scratch"].final_acc.mean() if "Scratch" in complete else None
    if scratch is not None:
        out["scratch"] = f"{scratch:.2f}"
    tuned = done[done.setting.isin(complete) & (done.setting != "Scratch")]
    if len(tuned):
        (setting, lr), best = max(tuned.groupby(["setting", "lr"]).final_acc.mean().items(), key=lambda kv: kv[1])
        out["best"] = f"{best:.2f} % ({setting}, LR {lr})"
        if scratch is not None:  # Welch on the seeds (issue 38: "above" only where the runs say more than noise)
            v = claims.greater(done[done.setting == "Scratch"].final_acc, tuned[(tuned.setting == setting) &
                                                                               (tuned.lr == lr)].final_acc, "", "")
            out["scratch_vs"] = {claims.REPRODUCED: "above", claims.NOT_REPRODUCED: "below"}.get(v.verdict, "within noise of")
    plain900 = setting_name(900, False)
    if plain900 in complete:
        g = done[(done.setting == plain900) & (done.lr == 0.01)]
        out["peak_900"], out["final_900"] = f"{g.best_acc.mean():.2f}", f"{g.final_acc.mean():.2f}"
    starts = [done[done.setting == setting_name(90, False, r)].jsv_0 for r in isometry.RECOVERIES]
    if all(len(x) for x in starts):
        out["jsv_0"] = ", ".join(f"{x.iloc[0]:.3g}" for x in starts)
    for epochs in (90, 900):
        names = [n for n in (setting_name(epochs, False, r) for r in isometry.RECOVERIES) if n in complete]
        if names:
            ends = done[done.setting.isin(names)].groupby(["setting", "lr"]).jsv_end.mean()
            out[f"jsv_end_{epochs}"] = f"{ends.min():.2f}-{ends.max():.2f}"
            if epochs == 90 and len(names) == len(isometry.RECOVERIES):
                ends_90 = ends
    out["jsv_head"] = jsv_heading([x.iloc[0] for x in starts] if all(len(x) for x in starts) else None, ends_90)
    return out


def jsv_heading(starts, ends) -> str:
    """The heading of the page's note on mean JSV after recovery (plain text). Recovery has a head
    start where right after it every method's mean JSV is nearer to isometry than without recovery
    by more than a factor of ``mechanism.NEAR`` (``dipcore.jsv.isometry_distance``; ``starts``: no
    recovery first, then each of ``isometry.RECOVERIES``' others); it "does not last" where after
    90 epochs every setting's mean JSV, at either LR, lies within that factor of every other's
    (``ends``: those means); otherwise the heading says they still differ. A plain title while a
    run is missing (None) or where there is no head start."""
    plain = "Mean JSV after recovery and after finetuning"
    if starts is None or ends is None or not len(ends) or min(starts) <= 0:
        return plain
    d = [float(isometry_distance(s)) for s in starts]
    if not all(x + math.log10(mechanism.NEAR) < d[0] for x in d[1:]):
        return plain
    if ends.min() > 0 and ends.max() / ends.min() <= mechanism.NEAR:
        return "Recovery's head start in mean JSV does not last"
    return f"The settings' mean JSVs still differ by more than a factor of {mechanism.NEAR:g} after 90 epochs"


def zeros_note(shares: dict[str, dict[str, float]] | None) -> str:
    """The page's sentence on what recovery cannot do in the ReLU networks (Markdown), from
    ``shares`` (``{net: orthp.zero_shares}``, None while the grid ``orthp`` is not stored). The
    zero singular values "remain after either" recovery where they remain after each
    (``orthp.zeros_remain``, as the OrthP page says it); else the sentence gives the shares."""
    if shares is None:
        return ("How many of the ReLU networks' Jacobian singular values are zero after each recovery is "
                "measured by the grid `orthp`, not stored yet.")
    numbers = "; ".join(f"{paper.NET_LABELS[net]} {100 * s['none']:.0f} % right after pruning, {100 * s['orthp']:.0f} % "
                        f"after OrthP, {100 * s['ai']:.0f} % after AI" for net, s in shares.items())
    if all(orthp.zeros_remain(s, rec) for s in shares.values() for rec in ("orthp", "ai")):
        return ("In the ReLU networks neither method can revive units that the pruned network has switched off "
                "for most inputs: most of the Jacobians' zero singular values remain after either (the share of "
                f"JSVs below 10⁻⁶: {numbers}).")
    return f"In the ReLU networks the share of the Jacobians' singular values below 10⁻⁶ is {numbers}."


def progress(have: int, need: int, dataset: str = "mnist") -> str:
    """What the §4 page says of its runs' progress (Markdown): all in, or how many and the commands
    that compute the rest (on a CPU or a GPU; the page cannot know whether one is running), the
    verdicts that need them pending."""
    if have >= need:
        return f"All {need} runs are in the store, and every verdict is decided on all of its runs."
    return (f"{have} of the {need} runs are in the store; the others are not stored yet (`python -m dipcore compute "
            f"table7 --dataset {dataset}` and `table7_ai` compute them, or on a GPU `DATASET={dataset} bash "
            "scripts/device_grid.sh table7 table7_ai`). Verdicts that need them stay *pending* until then; none is "
            "decided on part of its runs.")


MECHANISM_SOURCE = "§3.3, Figure 2, on Table 7's runs"  # the mechanism's claims, read on §4's networks


def verdicts(ch: Chapter) -> list[claims.Verdict]:
    """§4's claims per network (``decide``), then Figure 2's mechanism on each (``mechanism.verdicts``),
    for the claims page: each pending until its runs are in."""
    frame, _, commands = runs(ch)
    return [v for net in grids.TABLE7_NETS for v in decide(frame[frame.net == net], commands[net])] + \
        [v for net in grids.TABLE7_NETS for v in mechanism.verdicts(frame[frame.net == net], commands[net], MECHANISM_SOURCE)]


@dataclass
class Table7Page(GridPage):
    """§4: Table 7 with the approximate-isometry arm, per network (tables: each network's Table 7
    block, ours beside the paper's)."""

    unpruned: object  # the unpruned networks, ours beside the paper's (pretrained_frame)
    compute: object  # what the stored runs cost, by network, grid and epochs (compute_table)
    mechanism: list[claims.Verdict]  # Figure 2's mechanism on each network (``mechanism.verdicts``)
    agreement: object  # each cell beside the paper's, by network (``evidence.cell_agreement``)


def spread_note(agree: dict, have: int, need: int) -> str:
    """How far Table 7's cells move with the pretrained network (issue 33), for ``t7_network_spread``:
    per network whose cells the robustness chapter's grid on Table 7's networks measures
    (``evidence.network_note`` on its ``cell_agreement`` table, by label), and the networks it does
    not measure yet, with ``have`` of the ``need`` finetuning runs of that grid stored."""
    measured = [k for k, t in agree.items() if not measured_cells(t).empty]
    parts = [f"{k}: {network_note(agree[k])}" for k in measured]
    rest = [k for k in agree if k not in measured]
    if rest:
        names = rest[0] if len(rest) == 1 else ", ".join(rest[:-1]) + " and " + rest[-1]
        parts.append(f"For {names} it is not measured yet: the robustness chapter's grid on Table 7's networks "
                     f"(`robustness_table7`, each cell from five pretrained networks) has {have} of its {need} "
                     "finetuning runs stored.")
    return " ".join(parts)


def runs(ch: Chapter):
    """The runs of Table 7 and its AI arm as a frame (``runs_frame``; runs not stored yet
    have status ``missing``; its ``grid`` column names the grid each run belongs to, ``table7`` or
    ``table7_ai``), computing the missing ones first when ``ch.compute`` allows; with the records by
    key and, per network, the command that computes each grid's runs of it (``{grid: command}``: a
    pending verdict names only the grids its own missing runs belong to)."""
    dataset, protocol = ch.dataset, ch.protocol
    parts = {(net, g): make(net, dataset, protocol, grids.TABLE7_RATIOS, ch.seeds) for net in grids.TABLE7_NETS
             for g, make in (("table7", grids.labelled_hypotheses), ("table7_ai", grids.labelled_ai))}
    labelled = [({**labels, "grid": g}, s) for (_, g), part in parts.items() for labels, s in part]
    frame, by_key = ch.frame(labelled, "table7 and table7_ai")
    commands = {net: {g: f"python -m dipcore compute {g} --net {net} --dataset {dataset}" for g in ("table7", "table7_ai")}
                for net in grids.TABLE7_NETS}
    return frame, by_key, commands


def page(ch: Chapter) -> Table7Page:
    """Table 7 (MLP-7-ReLU, LeNet-5-Linear, LeNet-5-ReLU pruned at 0.9) and its AI arm: reads the
    runs that are stored (with ``compute="never"``; else computes the missing ones first), so that
    the page shows what is done and says what is pending. Glues ``n_seeds``, ``t7_have``,
    ``t7_need``, ``t7_status`` (the status command, Markdown), ``t7_progress`` (Markdown),
    ``t7_zeros`` (``zeros_note`` on the grid ``orthp``'s measurements, Markdown), ``t7_hours`` (the
    stored runs' training, thread-hours), ``t7_<net>_<note>`` (``notes``), ``t7_agreement`` (how
    many cells agree with the paper's, per network, ``evidence.cell_agreement``), ``t7_network_spread``
    (``spread_note``, Markdown), the figures
    ``table7_<net>`` (curves) and ``table7_runs`` (every run)."""
    pre = [r for r in ch.ensure(grids.pretrain(ch.dataset, ch.protocol), "pretrain")
           if r["spec"]["net"] in grids.TABLE7_NETS]
    frame, by_key, commands = runs(ch)
    glue("n_seeds", len(ch.seeds))
    have = glue("t7_have", int((frame.status != "missing").sum()))
    glue_markdown("t7_mnist", mnist_progress(ch, MNIST_GRIDS))
    glue("t7_need", len(frame))
    glue_markdown("t7_status", f"`python -m dipcore status table7 --dataset {ch.dataset}`")
    glue_markdown("t7_progress", progress(have, len(frame), ch.dataset))
    measured = ch.records(grids.orthp(ch.dataset, ch.protocol), "orthp")
    glue_markdown("t7_zeros", zeros_note(None if None in measured else {
        net: orthp.zero_shares(measured, net) for net in grids.TABLE7_NETS if nets.arch(net).activation == "relu"}))
    unpruned = pretrained_frame(pre, ch.label)
    tables, verdicts, mech, agree, lines, spread_runs = {}, [], [], {}, [], []
    settings = [grids.setting_name(e, False, r) for r in isometry.RECOVERIES for e in (90, 900)]
    for net in grids.TABLE7_NETS:
        g = frame[frame.net == net]
        tables[paper.NET_LABELS[net]] = results_table(g, 7, net)
        spread_runs.append(robustness.runs(ch, net, compute=False)[0])  # the robustness chapter's grid on this network
        spread = robustness.network_spread(spread_runs[-1])  # each cell's sd across pretrained networks, where measured
        agree[paper.NET_LABELS[net]], line = cell_agreement(g, 7, net, network_sd=spread)
        lines.append(f"{paper.NET_LABELS[net]}: {line}")
        verdicts += decide(g, commands[net])
        mech += mechanism.verdicts(g, commands[net], MECHANISM_SOURCE)
        for k, v in notes(g).items():
            glue(f"t7_{net}_{k}", v)
        fig, axes = plt.subplots(3, len(settings), figsize=(16, 7.4), sharex="col", sharey="row", squeeze=False)
        for j, setting in enumerate(settings):
            plotting.finetuning_curves(axes[0, j], axes[2, j], g, by_key, grids.TABLE7_RATIOS[0], setting, legend=j == 0,
                                       ax_distance=axes[1, j])
            axes[0, j].set_title(setting)
            if j:
                for ax in axes[:, j]:
                    ax.set_ylabel("")
        ch.figure(fig, f"table7_{net}", f"**{paper.NET_LABELS[net]}, pruned at ratio 0.9: mean JSV (top), its distance "
                  f"from isometry (middle: {plotting.DISTANCE_TEXT}) and test accuracy (bottom) per finetuning epoch** "
                  "in every setting of Table 7 and the approximate-"
                  "isometry arm, LR 0.01 against LR 0.001: mean over seeds (line), range (band); epoch 0 is the "
                  "network right after pruning and recovery.", seeds=len(ch.seeds))
    fig, axes = plt.subplots(1, len(grids.TABLE7_NETS), figsize=(15, 3.8), squeeze=False)
    for ax, net in zip(axes[0], grids.TABLE7_NETS):
        plotting.final_accuracy_dots(ax, frame[frame.net == net], grids.TABLE7_RATIOS[0])
        ax.set_title(paper.NET_LABELS[net])
    axes[0, 0].legend(loc="lower right")
    ch.figure(fig, "table7_runs", "**Table 7, run by run.** Final test accuracy (%) of each stored finetuning and "
              "scratch run (dots; bars: means), LR 0.001 left of each setting, LR 0.01 right, scratch in grey"
              + ("; a setting none of whose runs is in the store yet is marked pending." if have < len(frame) else "."),
              seeds=len(ch.seeds))
    compute = compute_table(frame, by_key, by=("net", "grid", "epochs"))
    line = " ".join(lines)
    glue("t7_agreement", line if ch.data_name == "mnist" else
         f"(our runs on {ch.label}, the paper's on MNIST: a difference is expected) {line}")
    everyone = pd.concat(spread_runs, ignore_index=True)
    glue_markdown("t7_network_spread", spread_note(agree, int((everyone.status != "missing").sum()), len(everyone)))
    agreement = pd.concat({k: v for k, v in agree.items() if not v.empty}, names=["network"]) \
        if any(not v.empty for v in agree.values()) else pd.DataFrame()
    glue("t7_hours", f"{sum(cost.thread_seconds(r['meta']) for r in by_key.values() if r['meta'].get('wall_s')) / 3600:.0f}")
    return Table7Page(frame, tables, verdicts, unpruned, compute, mech, agreement)
