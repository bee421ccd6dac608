"""Pruning at initialization (Lee et al., ICLR 2020; ``chapters/pruning_at_init``): connection
sensitivity (SNIP) on three MLP-7s under four initialisations, with approximate isometry (AI)
after pruning and with a label-free criterion (``grids.pai`` and its measurements
``grids.pai_jsv``). This module turns their stored runs into the chapter's tables, figures and
verdicts; the other half of the story (pruning *after* training) is the paper's, in §3.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

from .. import claims, evidence, grids, paper, plotting
from ..chapter import Chapter, glue

GRIDS = ("pai", "pai_jsv")  # the grids this page's runs come from
DATASET = "mnist"  # the dataset the page is published on: the paper's (and Lee et al.'s), its grids being complete on it
REQUIRED = ()  # the grids whose every run the page needs (it shows the others' missing runs as pending)

SOURCE = "Lee et al. (ICLR 2020)"
VS_INITS = ("lecun", "glorot", "he")  # variance scaling
HIGH = tuple(s for s in grids.PAI_SPARSITIES if s >= 0.9)  # where the inits part ways
AE_MARGIN = 1.0  # points of test accuracy within which label-free pruning "matches" supervised
CHANCE = 10.0  # the test accuracy a diverged run counts at (10 classes)
# the arms as (init, criterion, recovery), with their row labels and line styles
ARMS = {
    ("lecun", "snip", "none"): ("LeCun (VS)", "#E69F00", "-"),
    ("glorot", "snip", "none"): ("Glorot (VS)", "#56B4E9", "-"),
    ("he", "snip", "none"): ("He (VS)", "#CC79A7", "-"),
    ("orthogonal", "snip", "none"): ("orthogonal", "#009E73", "-"),
    ("orthogonal", "snip", "ai"): ("orthogonal + AI", "#000000", "--"),
    ("orthogonal", "snip-ae", "none"): ("orthogonal, label-free", "#D55E00", ":"),
}
ORTH, ORTH_AI, ORTH_AE = ("orthogonal", "snip", "none"), ("orthogonal", "snip", "ai"), ("orthogonal", "snip-ae", "none")


def _arm_rows(frame, arm: tuple[str, str, str], net: str | None = None, dense: bool = True):
    """The rows of one arm (with its init's dense runs at sparsity 0 when ``dense``)."""
    init, criterion, recovery = arm
    f = frame if net is None else frame[frame.net == net]
    f = f[f.lr == f.net.map(grids.PAI_LR)]  # the network's LR (Lee et al.'s LR, where it differs, is a check apart)
    mine = (f.init == init) & (f.criterion == criterion) & (f.recovery == recovery)
    if dense:
        mine |= (f.init == init) & (f.criterion == "dense")
    return f[mine]


def runs(ch: Chapter, compute: bool = True, seeds: tuple[int, ...] | None = None):
    """The grid's runs as a frame (``evidence.runs_frame`` with the labels of ``grids.pai_arms``
    and ``loss_1``, the mean training loss of the first epoch: trainability), computing what is
    missing first when ``compute`` and ``ch.compute`` allow; with the records by key and the
    command that computes what is missing. A run that diverged counts at chance accuracy
    (``CHANCE``) and has no first-epoch loss. ``seeds`` None: the chapter's."""
    labelled = [pair for net in grids.PAI_NETS for pair in
                grids.labelled_pai(net, ch.dataset, ch.protocol, seeds or ch.seeds)]
    frame, by_key = ch.frame(labelled, "pai", compute)
    losses = [by_key[k]["metrics"]["train_loss"] if k in by_key else [] for k in frame.key]
    frame["loss_1"] = [float(x[1]) if len(x) > 1 else float("nan") for x in losses]
    frame["diverged"] = frame.status == "diverged"
    frame.loc[frame.diverged, ["final_acc", "best_acc"]] = CHANCE
    return frame, by_key, f"python -m dipcore compute pai --dataset {ch.dataset}"


def measurements(ch: Chapter, compute: bool = True):
    """The JSVs before training of every arm (seed 0): one row per arm with the input-output mean
    JSV (``io_jsv``), each layer's mean JSV (``layers``) and their mean over layers (``layer_jsv``),
    and the test accuracy at initialization; arms not measured yet have status ``missing``."""
    labelled = [pair for net in grids.PAI_NETS for pair in grids.labelled_pai_jsv(net, ch.dataset, ch.protocol)]
    specs = [s for _, s in labelled]
    recs = ch.records(specs, "pai_jsv", compute)
    rows = []
    for (labels, _), rec in zip(labelled, recs):
        if rec is None:
            rows.append({**labels, "status": "missing"})
            continue
        layers = [st["mean"] for st in rec["layerwise"]]
        rows.append({**labels, "status": rec["status"], "io_jsv": rec["jsv"]["mean"], "layers": layers,
                     "layer_jsv": float(np.mean(layers)), "acc_init": rec["test_acc"]})
    return pd.DataFrame(rows).reindex(columns=[*labelled[0][0], "status", "io_jsv", "layers", "layer_jsv", "acc_init"])


def lee_lr_check(frame):
    """The dense networks trained at Lee et al.'s LR where the book uses another (MLP-7-Linear):
    per network, how many of them diverged, of how many stored."""
    f = frame[(frame.criterion == "dense") & (frame.lr == grids.LEE_LR) & (frame.net.map(grids.PAI_LR) != grids.LEE_LR)]
    f = evidence.stored(f)
    return {net: (int(g.diverged.sum()), len(g)) for net, g in f.groupby("net", sort=False)}


# -- tables -----------------------------------------------------------------------------------------
def accuracy_table(frame, net: str, column: str = "final_acc"):
    """Lee et al.'s Table 1 layout for one network: per arm (rows) and sparsity (columns; 0 is the
    dense network at that init), the test accuracy (%) at the end of training (``column``
    ``best_acc``: the best epoch, as Lee et al. report), mean (std) over seeds, a diverged run
    counted at chance and named."""
    rows = {}
    for arm, (label, _, _) in ARMS.items():
        g = _arm_rows(frame, arm, net, dense=arm[2] == "none" and arm[1] == "snip")
        rows[label] = {("dense" if s == 0 else f"{100 * s:g} %"): evidence.cell(g[g.sparsity == s], column)
                       for s in (0.0, *grids.PAI_SPARSITIES) if (g.sparsity == s).any()}
    return pd.DataFrame(rows).T.fillna("")


def jsv_table(meas, net: str, column: str = "layer_jsv"):
    """Mean JSV before training (``layer_jsv``: the mean over layers of each layer's own mean JSV,
    Lee et al.'s layerwise dynamical isometry; ``io_jsv``: the input-output one, Eq. 1), per arm and
    sparsity, the first seed."""
    rows = {}
    for arm, (label, _, _) in ARMS.items():
        g = _arm_rows(meas, arm, net, dense=arm[2] == "none" and arm[1] == "snip")
        rows[label] = {("dense" if s == 0 else f"{100 * s:g} %"):
                       ("pending" if (c := g[g.sparsity == s]).status.eq("missing").any() else f"{c[column].iloc[0]:.3g}")
                       for s in (0.0, *grids.PAI_SPARSITIES) if (g.sparsity == s).any()}
    return pd.DataFrame(rows).T.fillna("")


# -- verdicts ---------------------------------------------------------------------------------------
def _at(g, s):
    return g[g.sparsity == s]


def decide(frame, meas, net: str, command: str) -> list[claims.Verdict]:
    """The claims of Lee et al. on one network, each decided once all its runs are in the store:
    (1) with the orthogonal init SNIP-pruned networks train better at high sparsity than with
    the best variance-scaling init; (2) pruning moves the layerwise JSVs away from 1, the more the
    higher the sparsity; (3) AI brings the JSVs back towards 1, (4) lowers the first epoch's loss,
    (5) raises the final accuracy, (6) the more the higher the sparsity; (7) label-free connection
    sensitivity prunes as well as supervised (within ``AE_MARGIN`` points). (2) and (3) are checks
    (issue 38): deleting weights shrinks a layer's JSVs, and (3) is AI's own objective."""
    label = paper.NET_LABELS[net]
    f = frame[frame.net == net]
    orth, ai, ae = (_arm_rows(f, a, dense=False) for a in (ORTH, ORTH_AI, ORTH_AE))
    vs = f[f.init.isin(VS_INITS) & (f.criterion == "snip")]
    m = _arm_rows(meas[meas.net == net], ORTH)
    sp = grids.PAI_SPARSITIES

    def best_vs(s):
        g = _at(vs, s)
        return g[g.init == g.groupby("init").final_acc.mean().idxmax()]

    out = []
    specs = [
        (f"{label}: with the orthogonal init, SNIP-pruned networks reach a higher test accuracy than with the best "
         "variance-scaling init (LeCun, Glorot or He), at most sparsities from 90 %", [orth, vs], claims.CLAIM,
         lambda c: claims.at_most([(s, claims.greater(_at(orth, s).final_acc, best_vs(s).final_acc, c, SOURCE, unit=" points"))
                                   for s in HIGH], c, SOURCE, "sparsity")),
        (f"{label}: pruning moves the layerwise JSVs of the orthogonally initialised network away from 1, the more "
         "the higher the sparsity", [m], claims.CHECK,  # deleting weights of a layer shrinks its JSVs
         lambda c: claims.increasing(m.sparsity, _dist(m.layer_jsv), c, SOURCE)),
        (f"{label}: approximate isometry brings the input-output mean JSV of the pruned network closer to 1, at most "
         "sparsities", [orth, ai], claims.CHECK,  # AI's own objective, layer by layer
         lambda c: claims.at_most([(s, claims.greater(_dist(_at(orth, s).jsv_0), _dist(_at(ai, s).jsv_0), c, SOURCE))
                                   for s in sp], c, SOURCE, "sparsity")),
        (f"{label}: approximate isometry makes the pruned network more trainable (a lower training loss in the first "
         "epoch), at most sparsities", [orth, ai], claims.CLAIM,
         lambda c: claims.at_most([(s, claims.greater(_at(orth, s).loss_1, _at(ai, s).loss_1, c, SOURCE))
                                   for s in sp], c, SOURCE, "sparsity")),
        (f"{label}: approximate isometry raises the final test accuracy of the pruned network, at most sparsities",
         [orth, ai], claims.CLAIM,
         lambda c: claims.at_most([(s, claims.greater(_at(ai, s).final_acc, _at(orth, s).final_acc, c, SOURCE,
                                                      unit=" points")) for s in sp], c, SOURCE, "sparsity")),
        (f"{label}: the accuracy gained by approximate isometry grows with the sparsity", [orth, ai], claims.CLAIM,
         lambda c: claims.increasing(sp, [_at(ai, s).final_acc.mean() - _at(orth, s).final_acc.mean() for s in sp],
                                     c, SOURCE)),
        (f"{label}: connection sensitivity from a label-free (autoencoder) loss prunes as well as from the labels: "
         f"final accuracies within {AE_MARGIN:g} point, at most sparsities", [orth, ae], claims.CLAIM,
         lambda c: claims.at_most([(s, _matches(_at(ae, s).final_acc, _at(orth, s).final_acc, c)) for s in sp],
                                  c, SOURCE, "sparsity")),
    ]
    for claim, needs, kind, decide in specs:
        if all(evidence.complete(g) for g in needs):
            out.append(decide(claim).as_kind(kind))
        else:
            have = sum(int((g.status != "missing").sum()) for g in needs)
            out.append(claims.pending(claim, SOURCE, have, sum(len(g) for g in needs), command).as_kind(kind))
    return out


def verdicts(ch: Chapter) -> list[claims.Verdict]:
    """The page's claims (Lee et al.'s, per network), for the claims page, on the first ``PAI_SEEDS`` seeds."""
    frame, _, command = runs(ch, seeds=ch.seeds[:grids.PAI_SEEDS])
    meas = measurements(ch)
    return [v for net in grids.PAI_NETS for v in decide(frame, meas, net, command)]


def _dist(x):
    """Distance of a mean JSV from 1, on a log scale (0.1 and 10 are equally far); a dead network
    (JSV 0) is far, not left out."""
    return np.abs(np.log(np.clip(np.asarray(x, float), 1e-300, None)))


def _pct(sparsities) -> str:
    """Sparsities as the prose says them: "50 and 99 %"."""
    return evidence.listed(f"{100 * s:g}" for s in sparsities) + " %"


def notes(frame, meas) -> dict[str, str]:
    """The numbers the page's "What we noticed" quotes, as text, each "–" while a run or
    measurement it needs is missing (``net`` below is each of ``grids.PAI_NETS``; 98 and 99 are
    the two highest sparsities):

    - ``rho_<net>``: Spearman's rho of claim 2 (the layerwise mean JSV's distance from 1 against
      the sparsity, orthogonal init);
    - ``layer_jsv_dense`` and ``layer_jsv`` (MLP-7-Linear, orthogonal init): the layerwise mean JSV
      of the dense network and at each sparsity; ``io_jsv_99``: its input-output mean JSV at 99 %;
    - ``ai_closer_<net>``: at how many sparsities AI's input-output mean JSV is closer to 1 (mean
      log-distance over seeds) than without it, naming those where it is not;
    - ``ai_gain`` (MLP-7-Linear): AI's final-accuracy gain at each sparsity from 90 %;
    - ``orth_<s>_<net>``, ``ai_<s>_<net>``, ``ae_<s>_<net>`` (s 98 and 99): the mean final
      accuracy of the orthogonal init, with AI, and pruned by the label-free criterion;
      ``vs_<s>_<net>``: the best variance-scaling init there, named ("He init, 54.9 %");
    - ``ae_gap_95_<net>``: label-free minus supervised at 95 %; ``ae_loss_98``: the range of what
      the label-free criterion loses at 98 % over the networks ("9 to 30");
    - ``best_gap_low`` and ``best_gap_high``: how far the best epoch's mean accuracy lies above the
      final one at most, over every arm up to 95 % and from 98 %; ``best_gap_where``: where the
      latter is."""
    out: dict[str, str] = {}
    sp, high2 = grids.PAI_SPARSITIES, grids.PAI_SPARSITIES[-2:]

    def mean(g, column="final_acc"):
        return float(g[column].mean()) if evidence.complete(g) else None

    def put(key, value, fmt):
        out[key] = "–" if value is None else fmt(value)

    ae_loss = []  # supervised minus label-free at 98 %, per network
    gains = {}  # AI's final-accuracy gain per sparsity from 90 %, per network (None while a run is missing)
    for net in grids.PAI_NETS:
        f, m = frame[frame.net == net], _arm_rows(meas[meas.net == net], ORTH)
        orth, ai, ae = (_arm_rows(f, a, dense=False) for a in (ORTH, ORTH_AI, ORTH_AE))
        vs = f[f.init.isin(VS_INITS) & (f.criterion == "snip") & (f.lr == f.net.map(grids.PAI_LR))]
        put(f"rho_{net}", stats.spearmanr(m.sparsity, _dist(m.layer_jsv)).statistic if evidence.complete(m) else None,
            lambda r: f"{r:+.2f}")
        closer = ([s for s in sp if _dist(_at(ai, s).jsv_0).mean() < _dist(_at(orth, s).jsv_0).mean()]
                  if evidence.complete(orth) and evidence.complete(ai) else None)
        put(f"ai_closer_{net}", closer, lambda c: "every sparsity" if len(c) == len(sp) else
            f"{len(c)} of {len(sp)} sparsities (not at {_pct([s for s in sp if s not in c])})")
        for s in high2:
            tag = f"{100 * s:g}_{net}"
            for name, g in (("orth", orth), ("ai", ai), ("ae", ae)):
                put(f"{name}_{tag}", mean(_at(g, s)), lambda v: f"{v:.1f}")
            at = _at(vs, s)
            by_init = at.groupby("init").final_acc.mean()
            put(f"vs_{tag}", by_init.idxmax() if evidence.complete(at) else None,
                lambda i: f"{ARMS[(i, 'snip', 'none')][0].removesuffix(' (VS)')} init, {by_init[i]:.1f} %")
        at95, at98 = (mean(_at(ae, 0.95)), mean(_at(orth, 0.95))), (mean(_at(orth, high2[0])), mean(_at(ae, high2[0])))
        put(f"ae_gap_95_{net}", None if None in at95 else at95[0] - at95[1], evidence.signed)
        ae_loss.append(None if None in at98 else at98[0] - at98[1])
        pairs = [(mean(_at(ai, s)), mean(_at(orth, s))) for s in HIGH]
        gains[net] = None if any(None in p for p in pairs) else [a - b for a, b in pairs]
    put("ae_loss_98", None if None in ae_loss else ae_loss, lambda d: f"{min(d):.0f} to {max(d):.0f}")

    m = _arm_rows(meas[meas.net == "mlp7-linear"], ORTH).set_index("sparsity")
    done = evidence.complete(m)
    put("layer_jsv_dense", m.layer_jsv[0.0] if done else None, lambda v: f"{v:.2f}")
    put("layer_jsv", m.layer_jsv[list(sp)] if done else None, lambda v: evidence.listed(f"{x:.2f}" for x in v))
    put("io_jsv_99", m.io_jsv[sp[-1]] if done else None, lambda v: f"{v:.2g}")
    put("ai_gain", gains["mlp7-linear"], lambda gs: evidence.listed(f"{g:+.3g}" for g in gs))

    cells = [(net, label, s, cell) for net in grids.PAI_NETS for arm, (label, _, _) in ARMS.items()
             for s, cell in _arm_rows(frame, arm, net, dense=arm[2] == "none" and arm[1] == "snip").groupby("sparsity")]
    done = all(evidence.complete(c[3]) for c in cells)
    gaps = [(c.best_acc.mean() - c.final_acc.mean(), net, label, s) for net, label, s, c in cells] if done else []
    low = max((g for g in gaps if g[3] <= 0.95), default=None)  # up to 95 %
    high = max((g for g in gaps if g[3] > 0.95), default=None)  # 98 and 99 %
    put("best_gap_low", low, lambda g: f"{g[0]:.1f}")
    put("best_gap_high", high, lambda g: f"{g[0]:.1f}")
    put("best_gap_where", high, lambda g: f"{paper.NET_LABELS[g[1]]}, {g[2]}, {100 * g[3]:g} %")
    return out


CLAIM_WORDS = {  # glue key -> words that find the claim in ``decide``'s verdicts (``states``)
    "claim1": "with the orthogonal init", "claim_jsv": "pruning moves the layerwise JSVs",
    "claim_closer": "brings the input-output mean JSV", "claim_loss": "more trainable",
    "claim_acc": "raises the final test accuracy", "claim_grows": "grows with the sparsity",
    "claim_ae": "label-free"}


def states(verdicts: list[claims.Verdict], words: str) -> str:
    """How the claim containing ``words`` fell on each network, for the prose (issue 38: a
    sentence claims no more than its verdicts): "inconclusive on all three networks", or
    "not reproduced on MLP-7-Tanh, inconclusive on MLP-7-Linear and MLP-7-ReLU"."""
    by: dict[str, list[str]] = {}
    for v in verdicts:
        if words in v.claim:
            by.setdefault(v.verdict, []).append(v.claim.split(":", 1)[0])
    if len(by) == 1:
        (state, nets_), = by.items()
        return f"{state} on {'all three networks' if len(nets_) == 3 else evidence.listed(nets_)}"
    return ", ".join(f"{state} on {evidence.listed(nets_)}" for state, nets_ in by.items())


def _matches(a, b, claim: str) -> claims.Verdict:
    """``claims.within`` of ``a`` and ``b``, except where ``b`` (the supervised criterion) does not
    train at all: two networks at chance "match" without saying anything about the criterion."""
    if b.astype(float).mean() <= CHANCE + AE_MARGIN:
        return claims.Verdict(claim, SOURCE, claims.INCONCLUSIVE, f"the supervised criterion's networks do not train "
                              f"here (mean {b.astype(float).mean():.1f} %, chance {CHANCE:g} %): nothing to match")
    return claims.within(a, b, AE_MARGIN, claim, SOURCE, unit=" points")


# -- figures ----------------------------------------------------------------------------------------
def _xpos(sparsity) -> np.ndarray:
    """Sparsities on the axis the chapter uses: the kept fraction on a log scale, dense at 1."""
    return 1 - np.asarray(sparsity, float)


def _axis(ax, ylabel: str) -> None:
    ax.set_xscale("log")
    ax.set_xlim(1.3, 0.75 * (1 - max(grids.PAI_SPARSITIES)))  # dense on the left, the sparsest on the right
    ticks = [1.0, *(1 - s for s in grids.PAI_SPARSITIES)]
    ax.set_xticks(ticks, ["dense" if t == 1 else f"{100 * (1 - t):g}" for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel("sparsity (%)")
    ax.set_ylabel(ylabel)


def plot_against_sparsity(ax, frame, net: str, column: str, arms=tuple(ARMS), log: bool = False) -> None:
    """``column`` of each arm against sparsity (mean over its stored rows; band: range)."""
    for arm in arms:
        label, color, style = ARMS[arm]
        g = evidence.stored(_arm_rows(frame, arm, net, dense=True))
        if not len(g):
            continue
        a = g.groupby("sparsity")[column].agg(["mean", "min", "max"])
        ax.plot(_xpos(a.index), a["mean"], style, marker="o", color=color, label=label, ms=3.5, lw=1.4)
        if len(g) > len(a):
            ax.fill_between(_xpos(a.index), a["min"], a["max"], color=color, alpha=0.15, lw=0)
    if log:
        ax.set_yscale("log")
    ax.set_title(paper.NET_LABELS[net])


def plot_layers(ax, meas, net: str) -> None:
    """Each layer's own mean JSV before training, orthogonal init, one line per sparsity: solid
    after SNIP, dashed after SNIP and AI."""
    cmap = mpl.colormaps["viridis"]
    for arm, style in ((ORTH, "-"), (ORTH_AI, "--")):
        g = evidence.stored(_arm_rows(meas, arm, net, dense=arm == ORTH))
        for _, row in g.iterrows():
            shade = cmap(0.9 * (list((0.0, *grids.PAI_SPARSITIES)).index(row.sparsity)) / len(grids.PAI_SPARSITIES))
            ax.plot(range(1, len(row.layers) + 1), row.layers, style, marker=".", color=shade, lw=1.2,
                    label=(("dense" if row.sparsity == 0 else f"{100 * row.sparsity:g} %") if arm == ORTH else None))
    ax.axhline(1, color="0.5", lw=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("layer")
    ax.set_ylabel("layer's mean JSV")
    ax.set_title(paper.NET_LABELS[net])


def plot_loss(ax, frame, records: dict, net: str, sparsity: float) -> None:
    """Training loss per epoch at one sparsity, per arm (mean over the seeds that did not diverge)."""
    for arm in ARMS:
        label, color, style = ARMS[arm]
        g = evidence.stored(_at(_arm_rows(frame, arm, net, dense=False), sparsity))
        curves = [records[k]["metrics"]["train_loss"][1:] for k in g[~g.diverged].key if k in records]
        if curves:
            ax.plot(range(1, len(curves[0]) + 1), np.mean(np.asarray(curves, float), 0), style, color=color,
                    label=label, lw=1.4)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax.set_title(f"{paper.NET_LABELS[net]}, sparsity {100 * sparsity:g} %")


@dataclass
class PaiPage(evidence.GridPage):
    """Pruning at initialization: per network the accuracy table (``tables``), the verdicts, and
    the measurements before training (``meas``, with a JSV table per network)."""

    meas: object = None
    jsv_tables: dict = field(default_factory=dict)
    best_tables: dict = field(default_factory=dict)
    io_tables: dict = field(default_factory=dict)


def page(ch: Chapter) -> PaiPage:
    """Reads (or, when ``ch.compute`` allows, computes) the grid and its measurements; glues
    ``pai_have``, ``pai_need``, ``pai_seeds``, ``pai_meas_have``, ``pai_meas_need``,
    ``lee_lr_diverged`` and ``lee_lr_dense`` (MLP-7-Linear's dense runs at Lee et al.'s LR),
    ``pai_dataset`` (the data's name), each of ``notes`` as ``pai_<key>``, how each claim fell per
    network as ``pai_<key>`` of ``CLAIM_WORDS`` (``states``), and the figures
    ``pai_accuracy``, ``pai_jsv``, ``pai_layers`` and ``pai_loss``."""
    frame, by_key, command = runs(ch)
    meas = measurements(ch)
    seeds = int(frame.seed.nunique())
    glue("pai_have", int((frame.status != "missing").sum()))
    glue("pai_need", len(frame))
    glue("pai_seeds", seeds)
    glue("pai_meas_have", int((meas.status != "missing").sum()))
    glue("pai_meas_need", len(meas))
    diverged, dense = lee_lr_check(frame).get("mlp7-linear", (0, 0))
    glue("lee_lr_diverged", diverged)
    glue("lee_lr_dense", dense)
    nets_ = grids.PAI_NETS
    tables = {paper.NET_LABELS[n]: accuracy_table(frame, n) for n in nets_}
    jsv_tables = {paper.NET_LABELS[n]: jsv_table(meas, n) for n in nets_}
    best_tables = {paper.NET_LABELS[n]: accuracy_table(frame, n, "best_acc") for n in nets_}
    io_tables = {paper.NET_LABELS[n]: jsv_table(meas, n, "io_jsv") for n in nets_}
    out = [v for n in nets_ for v in decide(frame, meas, n, command)]
    glue("pai_dataset", ch.label)
    for key, text in notes(frame, meas).items():
        glue(f"pai_{key}", text)
    for key, words in CLAIM_WORDS.items():  # how each claim fell, per network, for the prose
        glue(f"pai_{key}", states(out, words))

    fig, axes = plt.subplots(1, len(nets_), figsize=(5.4 * len(nets_), 4), squeeze=False)
    for ax, net in zip(axes[0], nets_):
        plot_against_sparsity(ax, frame, net, "final_acc")
        _axis(ax, "final test accuracy (%)")
    plotting.mark_pending(axes[0])
    if axes[0, 0].get_legend_handles_labels()[0]:
        axes[0, 0].legend(loc="lower left", fontsize=8)
    ch.figure(fig, "pai_accuracy", "**Pruning at initialization: final test accuracy against sparsity**, per "
              "initialisation, SNIP-pruned (solid), then approximate isometry (dashed), or pruned by the label-free "
              "criterion (dotted); mean over seeds (markers) and range (band); the leftmost point is the dense network "
              "at that init.", seeds=seeds)
    fig, axes = plt.subplots(2, len(nets_), figsize=(5.4 * len(nets_), 7.2), squeeze=False, sharex=True)
    for j, net in enumerate(nets_):
        plot_against_sparsity(axes[0, j], meas, net, "layer_jsv")
        plot_against_sparsity(axes[1, j], frame, net, "jsv_0", log=True)
        _axis(axes[0, j], "layerwise mean JSV")
        _axis(axes[1, j], "input-output mean JSV")
        for ax in axes[:, j]:
            ax.axhline(1, color="0.5", lw=0.8)
        axes[1, j].set_title("")
    plotting.mark_pending(axes.flat)
    if axes[0, 0].get_legend_handles_labels()[0]:
        axes[0, 0].legend(loc="lower left", fontsize=8)
    ch.figure(fig, "pai_jsv", "**What pruning does to signal propagation, before any training.** Top: the mean over "
              "layers of each layer's own mean JSV (layerwise dynamical isometry: 1), the first seed. Bottom: the "
              "input-output mean JSV (Eq. 1) right after pruning (and AI), mean over seeds.", seeds=seeds)
    fig, axes = plt.subplots(1, len(nets_), figsize=(5.4 * len(nets_), 3.8), squeeze=False)
    for ax, net in zip(axes[0], nets_):
        plot_layers(ax, meas, net)
    plotting.mark_pending(axes[0])
    if axes[0, 0].get_legend_handles_labels()[0]:
        axes[0, 0].legend(loc="lower left", fontsize=7, ncol=2, title="sparsity", title_fontsize=7)
    ch.figure(fig, "pai_layers", "**Layer by layer, orthogonal init:** each layer's own mean JSV after SNIP (solid) "
              "and after SNIP and approximate isometry (dashed), per sparsity (colour), the first seed.", seeds=1)
    shown = max(grids.PAI_SPARSITIES[:-1]) if len(grids.PAI_SPARSITIES) > 1 else grids.PAI_SPARSITIES[0]
    fig, axes = plt.subplots(1, len(nets_), figsize=(5.4 * len(nets_), 3.8), squeeze=False)
    for ax, net in zip(axes[0], nets_):
        plot_loss(ax, frame, by_key, net, shown)
    plotting.mark_pending(axes[0])
    if axes[0, 0].get_legend_handles_labels()[0]:
        axes[0, 0].legend(loc="upper right", fontsize=7)
    ch.figure(fig, "pai_loss", f"**Trainability at sparsity {100 * shown:g} %:** training loss per epoch of each arm, "
              "mean over seeds.", seeds=seeds)
    return PaiPage(frame, tables, out, meas, jsv_tables, best_tables, io_tables)
