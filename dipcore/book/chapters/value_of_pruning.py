"""§3.4, the value of pruning: scratch training against L1-pruned finetuning across pruning ratios,
Tables 4 and 5's protocol on the book's networks (``grids.value``). This module turns the sweep's
stored runs into Table 5's layout, counts the reductions, decides the verdicts and draws the
figures of ``chapters/value_of_pruning``; the paper's own Tables 4-6 (ImageNet, CIFAR-10) come
from ``data/paper/numbers.csv`` and are shown as reference, never compared number for number.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ... import nets, pruning
from .. import claims, cost, evidence, executor, grids, paper, plotting
from ..chapter import Chapter, gpu_tier_computes, glue, glue_markdown, mnist_progress
from ..spec import key

GRIDS = ("value", "value_resnet", "value_resnet_pace")  # the grids this page's runs come from
DATASET = "mnist"  # the dataset the page is published on: the paper's, its grids being complete on it (value_resnet, a GPU's work, pending)
MNIST_GRIDS = ("value",)  # those MNIST grids: the page says how far they are (``chapter.mnist_progress``)
REQUIRED = ("pretrain",)  # the grids whose every run the page needs (it shows the others' missing runs as pending)

SCRATCH, FT20, FIXED90, DECAY_LOW, DECAY_HIGH = grids.VALUE_ARMS  # the five arms, in Table 4's order
FINETUNED = (FT20, FIXED90, DECAY_LOW, DECAY_HIGH)
ARM_COLORS = {SCRATCH: plotting.SCRATCH_COLOR, FT20: "#E69F00", FIXED90: "#56B4E9",
              DECAY_LOW: plotting.LR_COLORS[0.001], DECAY_HIGH: plotting.LR_COLORS[0.01]}
SOURCE_T4, SOURCE_T5 = "§3.4, Table 4", "§3.4, Table 5"


def reductions(net: str, ratios: tuple[float, ...] = grids.VALUE_RATIOS):
    """Table 5's "Params reduc." and "FLOPs reduc." (%) of ``net`` L1-pruned at each ratio, counted
    from the networks themselves (``nets.cost``), with the counts."""
    dense = nets.cost(nets.build(net))
    rows = []
    for r in ratios:
        c = nets.cost(nets.build(net, pruning.pruned_widths(net, r)))
        rows.append({"pruning ratio": r, "params": c["params"], "FLOPs": c["flops"],
                     "params reduc. (%)": 100 * (1 - c["params"] / dense["params"]),
                     "FLOPs reduc. (%)": 100 * (1 - c["flops"] / dense["flops"])})
    return pd.DataFrame(rows).set_index("pruning ratio")


def runs(ch: Chapter, ratios: tuple[float, ...] | None = None, seeds: tuple[int, ...] | None = None,
         nets_: tuple[str, ...] = grids.VALUE_NETS, compute: bool = True):
    """The sweep's runs on ``nets_`` (seeds: ``ch.seeds`` by default) as a frame
    (``evidence.runs_frame``; missing ones have status ``missing``), computing what is missing
    first when ``compute`` and ``ch.compute`` allow; with the records by key and the command that
    computes what is missing."""
    dataset, protocol = ch.dataset, ch.protocol
    labelled = [pair for net in nets_ for pair in grids.labelled_value(net, dataset, protocol, ratios, seeds or ch.seeds)]
    grid = "value_resnet" if grids.VALUE_RESIDUAL in nets_ else "value"
    frame, by_key = ch.frame(labelled, grid, compute)
    device = " --device cuda" if grid == "value_resnet" else ""
    return frame, by_key, f"python -m dipcore compute {grid} --dataset {dataset}{device}"


def _mean(frame, ratio, arm) -> float | None:
    g = frame[(frame.ratio == ratio) & (frame.setting == arm)]
    return float(g.final_acc.mean()) if len(g) and (g.status != "missing").all() else None


def sweep_table(frame, net: str):
    """Our sweep in Table 5's layout (with Table 4's four finetuning arms): per ratio, the
    reductions, each arm's final test accuracy mean (std) over seeds, and the gain of LR 0.01
    over LR 0.001 (both decayed), Table 5's parenthesis."""
    g = frame[frame.net == net]
    red = reductions(net, tuple(dict.fromkeys(g.ratio)))
    rows = []
    for ratio, cell in g.groupby("ratio", sort=False):
        row = {"pruning ratio": ratio, "params reduc. (%)": f"{red.loc[ratio, 'params reduc. (%)']:.2f}",
               "FLOPs reduc. (%)": f"{red.loc[ratio, 'FLOPs reduc. (%)']:.2f}"}
        row.update({arm: evidence.cell(cell[cell.setting == arm]) for arm in grids.VALUE_ARMS})
        hi, lo = _mean(g, ratio, DECAY_HIGH), _mean(g, ratio, DECAY_LOW)
        row["LR 0.01 - LR 0.001"] = "" if None in (hi, lo) else f"{hi - lo:+.2f}"
        rows.append(row)
    return pd.DataFrame(rows).set_index("pruning ratio")


def paper_table5():
    """The paper's Table 5 (ResNet-18/34, ImageNet, top-1 %), with the book's reading of its two
    finetuned columns (``paper.py``): reference numbers on another dataset."""
    df = paper.numbers(5)
    acc = df[df.metric == "test_acc"].pivot_table(index=["net", "ratio"], columns="setting", values="value")
    red = df[df.metric != "test_acc"].pivot_table(index=["net", "ratio"], columns="metric", values="value")
    out = red.join(acc, how="outer").rename(columns={"params_reduction": "params reduc. (%)",
                                                      "flops_reduction": "FLOPs reduc. (%)"})
    out = out[["params reduc. (%)", "FLOPs reduc. (%)", "Unpruned", SCRATCH, DECAY_LOW, DECAY_HIGH, "printed_gain"]]
    out.insert(len(out.columns) - 1, f"{DECAY_HIGH} - {DECAY_LOW}", out[DECAY_HIGH] - out[DECAY_LOW])
    out = out.rename(columns={"printed_gain": "printed in parentheses"})
    return out.rename(index={"resnet18": "ResNet-18", "resnet34": "ResNet-34"})


def paper_table5_misprints() -> str:
    """Where Table 5's parentheses (the gain of one finetuned column over the other, as printed)
    differ from its own two columns' difference, in words ("none" where they all agree)."""
    t = paper_table5()
    gain, printed = t[f"{DECAY_HIGH} - {DECAY_LOW}"], t["printed in parentheses"]
    bad = t[(gain.round(2) - printed).abs() > 0.005]
    return "; ".join(f"{net} at ratio {ratio:g} prints ({evidence.signed(row['printed in parentheses'], 2)}) where "
                     f"{row[DECAY_HIGH]:.2f} − {row[DECAY_LOW]:.2f} = "
                     f"{evidence.signed(row[DECAY_HIGH] - row[DECAY_LOW], 2)}"
                     for (net, ratio), row in bad.iterrows()) or "none"


def paper_rising() -> list[claims.Verdict]:
    """Table 5's "the larger the pruning ratio, the more of the improvement", decided by the same
    rule as ours (Spearman over the six ratios) on the paper's own numbers, per ResNet."""
    t = paper_table5()
    out = []
    for name in ("ResNet-18", "ResNet-34"):
        part = t.loc[name]
        part = part[part.index > 0]
        out.append(claims.increasing(part.index, part[DECAY_HIGH] - part[DECAY_LOW], f"{name} (the paper's own Table 5): "
                                     "the gain of the LR 0.01 schedule over the LR 0.001 one grows with the pruning ratio",
                                     SOURCE_T5))
    return out


def paper_table4():
    """The paper's Table 4 (ResNet-34-A/B, ImageNet, top-1 %): each implementation's scratch and
    finetuned accuracies, one column per finetuning schedule."""
    df = paper.numbers(4)
    out = df.pivot_table(index="row", columns="setting", values="value", sort=False)
    return out[[c for c in ("Unpruned", SCRATCH, *FINETUNED) if c in out.columns]]


def paper_table6():
    """The paper's Table 6 (WRN-40-2, CIFAR-10): accuracy (%) per method and parameter budget."""
    df = paper.numbers(6)
    df = df[(df.metric == "test_acc") & (df.setting != "Unpruned")].copy()
    df["budget"] = df.row.str.split(" / ").str[1]
    return df.pivot_table(index="setting", columns="budget", values="value", sort=False)[
        ["500K params budget", "1M params budget", "1.5M params budget"]]


# -- verdicts ---------------------------------------------------------------------------------------
def _per_ratio(frame, a: str, b: str, claim: str, source: str) -> list[tuple[float, claims.Verdict]]:
    """``claims.greater`` of arm ``a`` over arm ``b`` at each ratio of ``frame``."""
    out = []
    for ratio in dict.fromkeys(frame.ratio):
        g = frame[frame.ratio == ratio]
        out.append((ratio, claims.greater(g[g.setting == a].final_acc, g[g.setting == b].final_acc,
                                          f"{claim} (ratio {ratio:g})", source, unit=" points")))
    return out


def _gains(frame, a: str, b: str) -> tuple[list[float], list[float]]:
    ratios = list(dict.fromkeys(frame.ratio))
    return ratios, [_mean(frame, r, a) - _mean(frame, r, b) for r in ratios]


def decide(frame, net: str, command: str) -> list[claims.Verdict]:
    """The claims of §3.4 on one network, each decided once all its runs are stored:
    (1) with Rethinking's schedule scratch beats finetuning at most ratios (Table 4, the "no value"
    observation the paper reproduces); (2) 90 decayed epochs at LR 0.001 beat that schedule at most
    ratios, (3) more so at larger ratios; (4) LR 0.01 gains over LR 0.001 more at larger ratios;
    (5) the finetuned network (LR 0.01, decayed) beats scratch at most ratios."""
    label = paper.NET_LABELS[net]
    g = frame[frame.net == net]
    specs = [
        ("most", SCRATCH, FT20, f"{label}: with Rethinking's finetuning schedule (20 epochs, LR 0.001 fixed), the "
         "pruned architecture trained from scratch beats the L1-pruned network finetuned, at most ratios", SOURCE_T4),
        ("most", DECAY_LOW, FT20, f"{label}: finetuning 90 epochs with a decayed LR (from 0.001) beats 20 epochs "
         "at a fixed LR 0.001, at most ratios", SOURCE_T4),
        ("rising", DECAY_LOW, FT20, f"{label}: the advantage of the decayed 90-epoch schedule over the 20-epoch fixed "
         "one grows with the pruning ratio", "§3.4"),
        ("rising", DECAY_HIGH, DECAY_LOW, f"{label}: the advantage of the larger initial LR (0.01 over 0.001, both "
         "decayed, 90 epochs) grows with the pruning ratio", SOURCE_T5),
        ("most", DECAY_HIGH, SCRATCH, f"{label}: the L1-pruned network finetuned (90 epochs, LR 0.01 decayed) beats "
         "the pruned architecture trained from scratch, at most ratios (pruning has value)", SOURCE_T5),
    ]
    out = []
    for rule, a, b, claim, source in specs:
        cells = g[g.setting.isin([a, b])]
        have = int((cells.status != "missing").sum())
        if have < len(cells) or not len(cells):
            state = "await a GPU" if nets.arch(net).residual else "are not stored yet"
            out.append(claims.pending(claim, source, have, len(cells), command, state))
        elif rule == "most":  # each ratio's ``greater``: the sweep's sign test reads its difference
            out.append(claims.at_most(_per_ratio(g, a, b, claim, source), claim, source))
        else:
            ratios, gains = _gains(g, a, b)
            out.append(claims.increasing(ratios, gains, claim, source))
    return out


# -- what the page notices -------------------------------------------------------------------------
COMPARISONS = (  # (a, b, what a - b says, its row in the table): the differences the page's notes quote
    (SCRATCH, FT20, "Scratch training against Rethinking's 20-epoch fixed schedule", "Scratch - 20 ep. fixed"),
    (DECAY_LOW, FT20, "The decayed 90-epoch schedule (LR 0.001) against the 20-epoch fixed one",
     "90 ep. decay (0.001) - 20 ep. fixed"),
    (DECAY_HIGH, DECAY_LOW, "The LR 0.01 schedule against the LR 0.001 one (both decayed, 90 epochs)",
     "90 ep. decay: LR 0.01 - LR 0.001"),
    (DECAY_HIGH, SCRATCH, "Finetuned with the LR 0.01 schedule against scratch training",
     "90 ep. decay (0.01) - Scratch"),
)


def verdicts(ch: Chapter) -> list[claims.Verdict]:
    """The page's claims, for the claims page: the sweep's per network (its first ``VALUE_SEEDS``
    seeds), then the residual tier's (read only: its own chapter computes it, on a GPU)."""
    seeds = ch.seeds[:grids.VALUE_SEEDS]
    frame, _, command = runs(ch, seeds=seeds)
    out = [v for net in grids.VALUE_NETS for v in decide(frame, net, command)]
    frame, _, command = runs(ch, seeds=seeds, nets_=(grids.VALUE_RESIDUAL,), compute=False)
    return out + decide(frame, grids.VALUE_RESIDUAL, command)


def _differences(frame, a: str, b: str) -> list[tuple[float, float | None, int]]:
    """Per ratio of ``frame`` (one network): (ratio, mean a - mean b in points, +1/-1 where Welch's
    test finds a ahead/behind at p < 0.05, else 0); the difference is None while a run is missing."""
    out = []
    for ratio in dict.fromkeys(frame.ratio):
        ma, mb = _mean(frame, ratio, a), _mean(frame, ratio, b)
        if ma is None or mb is None:
            out.append((ratio, None, 0))
            continue
        g = frame[frame.ratio == ratio]
        v = claims.greater(g[g.setting == a].final_acc, g[g.setting == b].final_acc, "", "").verdict
        out.append((ratio, ma - mb, {claims.REPRODUCED: 1, claims.NOT_REPRODUCED: -1}.get(v, 0)))
    return out


def differences(frame, net: str):
    """The four comparisons of ``COMPARISONS`` on ``net`` as a table (one row each, one column per
    pruning ratio): the difference of mean final accuracies in points, starred where Welch's test
    on the seeds finds it significant (p < 0.05, either way), empty while a run is missing."""
    g = frame[frame.net == net]
    rows = {}
    for a, b, _, row in COMPARISONS:
        rows[row] = {r: "" if d is None else f"{d:+.2f}{'*' if s else ''}" for r, d, s in _differences(g, a, b)}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.columns.name = "pruning ratio"
    return out


def differences_table(frame):
    """``differences`` for every network of ``frame``, one block per network (its label)."""
    return pd.concat({paper.NET_LABELS[n]: differences(frame, n) for n in dict.fromkeys(frame.net)}, names=["network"])


def _listing(xs) -> str:
    return evidence.listed(f"{x:g}" for x in xs)


STEPS = (  # the paper's argument (§3.4), one step per claim of ``decide``, in its order
    "Rethinking's schedule loses to scratch training",
    "90 decayed epochs beat that schedule",
    "the more, the larger the ratio",
    "the larger LR's gain grows with the ratio",
    "the finetuned network beats scratch training",
)


def argument(decided: list[claims.Verdict]) -> str:
    """The paper's argument on one network, step by step (``STEPS``), each with its verdict
    (``decide``'s, in its order), and which steps show (Markdown); "" while any is pending."""
    if len(decided) != len(STEPS) or any(v.verdict == claims.PENDING for v in decided):
        return ""
    steps = "; ".join(f"{step} ({v.verdict})" for step, v in zip(STEPS, decided))
    shown = [v.verdict == claims.REPRODUCED for v in decided]
    summary = ("Every step shows." if all(shown) else
               "Only the last step, finetuning *beating* scratch, does not follow." if all(shown[:-1]) else
               f"{sum(shown)} of its {len(STEPS)} steps show{'s' if sum(shown) == 1 else ''}.")
    return f"The paper's argument on this network, step by step (the verdicts above): {steps}. {summary}"


def notes(frame, net: str, command: str, decided: list[claims.Verdict] | None = None) -> str:
    """What the page notices about one network, in words, from its runs (Markdown, glued as
    ``vp_notes_<net>``): per comparison of ``COMPARISONS``, at how many ratios the first arm is
    ahead, where significantly, and the range of the differences; and whether the finetuned network
    beats, loses to or ties with scratch at most ratios; then, given the network's verdicts
    (``decided``), the paper's argument step by step (``argument``). Ratios whose runs are missing
    are named; with none complete it says what is stored and the command that computes the rest."""
    label = paper.NET_LABELS[net]
    g = frame[frame.net == net]
    have, need = int((g.status != "missing").sum()), len(g)
    if not need:
        return f"**{label}**: no run of this network on this page."
    parts, last = [], None
    for a, b, what, _ in COMPARISONS:
        diffs = _differences(g, a, b)
        done = [(r, d, s) for r, d, s in diffs if d is not None]
        if not done:
            continue
        ahead = sum(d > 0 for _, d, _ in done)
        sig = [f"significantly {word} at {_listing(r for r, _, s in done if s == sign)}"
               for sign, word in ((1, "ahead"), (-1, "behind")) if any(s == sign for _, _, s in done)]
        (lo_r, lo), (hi_r, hi) = (min(((r, d) for r, d, _ in done), key=lambda t: t[1]),
                                  max(((r, d) for r, d, _ in done), key=lambda t: t[1]))
        if len(done) == 1:
            text = f"{what}: {hi:+.2f} points at ratio {hi_r:g} ({'significant' if done[0][2] else 'not significant'})"
        else:
            text = (f"{what}: ahead at {ahead} of {len(done)} ratios ({'; '.join(sig) or 'significantly at none'}), "
                    f"from {lo:+.2f} points (ratio {lo_r:g}) to {hi:+.2f} (ratio {hi_r:g})")
        waiting = [r for r, d, _ in diffs if d is None]
        parts.append(text + (f"; ratio{'s' if len(waiting) > 1 else ''} {_listing(waiting)} not stored yet"
                             if waiting else "") + ".")
        if (a, b) == (DECAY_HIGH, SCRATCH):
            last = done
    if not parts:
        gpu = " (a GPU's work at the paper protocol)" if nets.arch(net).residual else ""
        return (f"**{label}** ({have} of {need} runs stored): no ratio has all the runs of two arms yet; "
                f"`{command} --net {net}` computes the rest{gpu}.")
    head = f"**{label}** ({have} of {need} runs stored; significant: Welch's test on the seeds, p < 0.05). "
    if last is not None and len(last) == len(set(g.ratio)):
        wins, losses = sum(s > 0 for _, _, s in last), sum(s < 0 for _, _, s in last)
        n = len(last)
        parts.append("So finetuning beats scratch training here, as the paper finds." if 2 * wins > n else
                     "So scratch training beats finetuning here, against the paper." if 2 * losses >= n else
                     "So on this network neither beats the other at most ratios" + (
                         ": the difference is not significant at any ratio." if not wins + losses else
                         f": the finetuned network is significantly ahead at {wins} and behind at {losses} of {n}."))
    return head + " ".join(parts + [argument(decided or [])]).rstrip()


# -- figures ----------------------------------------------------------------------------------------
def plot_accuracy(ax, frame, net: str, unpruned: float | None = None) -> None:
    """Final test accuracy against pruning ratio, one line per arm (mean over seeds, band: range),
    the unpruned network as a dashed line."""
    g = evidence.stored(frame[frame.net == net])
    for arm in grids.VALUE_ARMS:
        a = g[g.setting == arm].groupby("ratio").final_acc.agg(["mean", "min", "max"])
        if not len(a):
            continue
        ax.plot(a.index, a["mean"], "o-", color=ARM_COLORS[arm], label=arm, ms=4, lw=1.5)
        ax.fill_between(a.index, a["min"], a["max"], color=ARM_COLORS[arm], alpha=0.2, lw=0)
    if unpruned is not None:
        ax.axhline(unpruned, ls="--", color="0.3", lw=1, label="unpruned")
    ax.set_xlabel("pruning ratio")
    ax.set_ylabel("final test accuracy (%)")
    ax.set_title(paper.NET_LABELS[net])


def plot_over_scratch(ax, frame, net: str) -> None:
    """Each finetuning arm's mean accuracy minus scratch's, against pruning ratio (above 0: pruning
    has value at that ratio)."""
    g = frame[frame.net == net]
    scratch = {r: _mean(g, r, SCRATCH) for r in dict.fromkeys(g.ratio)}
    for arm in FINETUNED:
        means = {r: _mean(g, r, arm) for r in scratch}
        pts = [(r, means[r] - scratch[r]) for r in scratch if means[r] is not None and scratch[r] is not None]
        if pts:
            ax.plot(*zip(*pts), "o-", color=ARM_COLORS[arm], label=arm, ms=4, lw=1.5)
    ax.axhline(0, color="0.3", lw=1)
    ax.set_xlabel("pruning ratio")
    ax.set_ylabel("finetuned - scratch (points)")
    ax.set_title(paper.NET_LABELS[net])


def plot_jsv(ax, frame, records: dict, net: str, ratio: float) -> None:
    """Mean JSV per epoch of each arm at one ratio (mean over seeds; epoch 0: right after pruning,
    or the fresh init for scratch): how fast each schedule restores dynamical isometry."""
    g = evidence.stored(frame[(frame.net == net) & (frame.ratio == ratio)])
    for arm in grids.VALUE_ARMS:
        curves = [records[k]["metrics"]["jsv_mean"] for k in g[g.setting == arm].key if k in records]
        if curves:
            ax.plot(np.mean(np.asarray(curves, float), 0), color=ARM_COLORS[arm], label=arm, lw=1.5)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean JSV")
    ax.set_title(f"{paper.NET_LABELS[net]}, ratio {ratio:g}")


def plot_paper_over_scratch(ax) -> None:
    """The same difference from the paper's Table 5 (ImageNet): reference, another dataset."""
    t = paper_table5()
    for name, style in (("ResNet-18", "--"), ("ResNet-34", ":")):
        part = t.loc[name].dropna(subset=[SCRATCH])
        part = part[part.index > 0]
        for arm in (DECAY_LOW, DECAY_HIGH):
            ax.plot(part.index, part[arm] - part[SCRATCH], style, marker="x", color=ARM_COLORS[arm],
                    label=f"{name}, {arm}", lw=1.2)
    ax.axhline(0, color="0.3", lw=1)
    ax.set_xlabel("pruning ratio")
    ax.set_title("paper, Table 5 (ImageNet)")


def _legend(ax, **kw) -> None:
    """A legend where something is drawn; a panel with no run stored yet says so instead."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower left", **kw)


def _mark_pending(axes) -> None:
    plotting.mark_pending(axes, reference=("unpruned",))


def residual_cost(ch: Chapter) -> str:
    """What the residual tier's missing runs (the pretrained ResNet-20 included) would cost, as a
    sentence (``cost.sentence``: "not costed" while no ResNet-20 run is stored to time them by),
    and what timed ResNet-20 (``paced``); "" once all are stored."""
    grid = grids.get("value_resnet", ch.dataset, ch.protocol)
    todo = ch.store.todo(executor.closure(grid))
    if not todo:
        return ""
    own = {key(s) for s in grid}
    first = sum(key(s) not in own for s in todo)  # the pretrained network they start from
    what = f"Its {len(todo) - first} missing runs" + (
        "" if not first else " and the pretrained network they start from" if first == 1 else
        f" and the {first} pretrained networks they start from")
    return f"{what} {cost.sentence(todo, ch.store.read_all()[0])}. {paced(ch)}"


def paced(ch: Chapter) -> str:
    """What times ResNet-20 on a CPU, as a sentence: the epoch of each ``value_resnet_pace`` run stored
    (one CPU thread's time, ``cost.thread_seconds``), or the command that computes them."""
    specs = grids.get("value_resnet_pace", ch.dataset, ch.protocol)
    pace = [r for r in ch.records(specs, "value_resnet_pace", False) if r]
    if not pace:
        return ("`python -m dipcore compute value_resnet_pace` times ResNet-20 on a CPU: an epoch of it dense and "
                "one pruned at 0.9.")
    took = [f"{cost.thread_seconds(r['meta']) / r['spec']['epochs'] / 60:.1f} min "
            + ("dense" if not r["spec"]["ratio"] else f"pruned at {r['spec']['ratio']:g}") for r in pace]
    return (f"ResNet-20's speed is that of its timed epochs (`value_resnet_pace`, not the paper's runs): "
            f"{' and '.join(took)}, of one CPU thread.")


class ValuePage(evidence.GridPage):
    """§3.4: the sweep per network (tables: Table 5's layout) beside the paper's Tables 4-6."""


def page(ch: Chapter, ratios: tuple[float, ...] | None = None) -> ValuePage:
    """Reads (or, when ``ch.compute`` allows, computes) the sweep, and the residual tier's runs
    (computed only on a GPU at the paper protocol: ``gpu_tier_computes``); glues ``vp_have``,
    ``vp_need``, ``vp_seeds``, ``vp_dataset`` (the dataset's name), ``vp_res_have``, ``vp_res_need``,
    ``vp_res_cost`` (``residual_cost``), the notes ``vp_notes_<net>`` and the figures
    ``value_accuracy``, ``value_over_scratch`` and ``value_jsv``."""
    pre = {r["spec"]["net"]: r for r in ch.ensure(grids.pretrain(ch.dataset, ch.protocol), "pretrain")}
    ratios = ratios or grids.value_ratios(ch.protocol)
    frame, by_key, command = runs(ch, ratios)
    res_frame, res_keys, res_command = runs(ch, ratios, nets_=(grids.VALUE_RESIDUAL,), compute=gpu_tier_computes(ch))
    glue("vp_have", int((frame.status != "missing").sum()))
    glue_markdown("vp_mnist", mnist_progress(ch, MNIST_GRIDS))
    glue("vp_need", len(frame))
    glue("vp_seeds", int(frame.seed.nunique()))
    glue("vp_dataset", ch.label)
    glue("vp_res_have", int((res_frame.status != "missing").sum()))
    glue("vp_res_need", len(res_frame))
    glue_markdown("vp_res_cost", residual_cost(ch))
    decided = {n: decide(frame, n, command) for n in grids.VALUE_NETS}
    decided[grids.VALUE_RESIDUAL] = decide(res_frame, grids.VALUE_RESIDUAL, res_command)
    for net in grids.VALUE_NETS:
        glue_markdown(f"vp_notes_{net}", notes(frame, net, command, decided[net]))
    glue_markdown(f"vp_notes_{grids.VALUE_RESIDUAL}", notes(res_frame, grids.VALUE_RESIDUAL, res_command,
                                                           decided[grids.VALUE_RESIDUAL]))
    res_pre = ch.records([grids.pretrain_spec(grids.VALUE_RESIDUAL, ch.dataset, ch.protocol)], "value_resnet", False)[0]
    if res_pre is not None:
        pre[grids.VALUE_RESIDUAL] = res_pre
    shown = grids.VALUE_NETS + ((grids.VALUE_RESIDUAL,) if (res_frame.status != "missing").any() else ())
    tables = {paper.NET_LABELS[n]: sweep_table(frame if n in grids.VALUE_NETS else res_frame, n)
              for n in grids.VALUE_NETS + (grids.VALUE_RESIDUAL,)}
    out = [v for n in grids.VALUE_NETS + (grids.VALUE_RESIDUAL,) for v in decided[n]]
    frame, by_key = pd.concat([frame, res_frame], ignore_index=True), by_key | res_keys
    fig, axes = plt.subplots(1, len(shown), figsize=(6.5 * len(shown), 4.2), squeeze=False)
    for ax, net in zip(axes[0], shown):
        plot_accuracy(ax, frame, net, pre[net]["final_acc"] if net in pre else None)
    _mark_pending(axes[0])
    _legend(axes[0, 0], fontsize=8)
    ch.figure(fig, "value_accuracy", "**Scratch against L1-pruned finetuning across pruning ratios (§3.4).** Final "
              "test accuracy of each arm: mean over seeds (line) and range (band); dashed: the unpruned network.",
              seeds=int(frame.seed.nunique()))
    fig, axes = plt.subplots(1, len(shown) + 1, figsize=(5.3 * (len(shown) + 1), 4), squeeze=False)
    for ax, net in zip(axes[0], shown):
        plot_over_scratch(ax, frame, net)
    _mark_pending(axes[0, :-1])
    plot_paper_over_scratch(axes[0, -1])
    _legend(axes[0, 0], fontsize=8)
    _legend(axes[0, -1], fontsize=7)
    ch.figure(fig, "value_over_scratch", "**Does pruning have value?** Mean accuracy of each finetuning arm minus "
              "scratch training's, per pruning ratio (above 0: the pruned network's weights are worth inheriting). "
              "Right: the same difference from the paper's Table 5, ResNet-18/34 on ImageNet (reference only, "
              "another dataset and network).", seeds=int(frame.seed.nunique()))
    jsv_ratio = max(frame.ratio)  # the most damaged networks: where the schedules differ most
    fig, axes = plt.subplots(1, len(shown), figsize=(6.5 * len(shown), 3.8), squeeze=False)
    for ax, net in zip(axes[0], shown):
        plot_jsv(ax, frame, by_key, net, jsv_ratio)
    _mark_pending(axes[0])
    _legend(axes[0, 0], fontsize=8)
    ch.figure(fig, "value_jsv", f"**How fast each schedule restores dynamical isometry.** Mean JSV per epoch at "
              f"pruning ratio {jsv_ratio:g}, mean over seeds; epoch 0 is the network right after pruning (for scratch: "
              "the fresh initialisation of the pruned architecture).", seeds=int(frame.seed.nunique()))
    return ValuePage(frame, tables, out)
