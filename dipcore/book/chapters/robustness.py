"""Beyond the paper: does each §3.3 verdict survive another pretrained network? (``chapters/robustness``)

The paper varies only the finetuning seed of **one** pretrained network per architecture, and so
does the book's Table 3. Here Table 3's settings are rerun from five pretrained networks
(pretraining seeds 0-4; seed 0 is Table 3's: ``grids.robustness``, and ``grids.robustness_900``
for the 900-epoch settings, about 5.5 hours of one CPU thread) and each hypothesis is decided at two levels: with the
book's one network (``evidence.hypothesis_verdicts``, as in its chapter) and across networks,
finetuning seeds nested in them (the same with ``across=True``: ``claims.greater_across`` /
``claims.smaller_gain_across``). The network is a parameter: MLP-7-Linear at Table 3's ratios
(published), or a Table 7 network at ratio 0.9 (``grids.robustness_table7``).
"""
from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

from .. import claims, cost, evidence, grids, paper, plotting, spec
from ..chapter import Chapter, glue, glue_markdown, gpu_tier_computes, mnist_progress

GRIDS = ("robustness", "robustness_900", "robustness_table7")  # the grids this page's runs come from
DATASET = "mnist"  # the dataset the page is published on: the paper's, its grids being complete on it
MNIST_GRIDS = ("robustness", "robustness_900")  # those MNIST grids: the page says how far they are (``chapter.mnist_progress``)
REQUIRED = ()  # the grids whose every run the page needs (it shows the others' missing runs as pending)

NET = "mlp7-linear"  # the published chapter's network
SETTINGS = [h.setting for h in grids.HYPOTHESES.values()]  # Table 3's four finetuning settings
HYPOTHESES = tuple(grids.HYPOTHESES)


def source(net: str) -> str:
    return "§3.3, Table 3" if net == NET else "§4, Table 7 (Table 3's hypotheses)"


MISSING = "are not stored yet"  # what a pending verdict says of its missing runs, on any network: a CPU's work
# at either length (the book's network's 900-epoch runs about 5.5 hours of one thread; Table 7's networks'
# grid, ``robustness_table7``, about 27 hours of one thread on MNIST), or a GPU's; ``cost_line`` says how long


def commands(ch: Chapter, net: str) -> dict[int, str]:
    """The command that computes the missing runs of each finetuning length."""
    if net == NET:
        return {90: f"python -m dipcore compute robustness --dataset {ch.dataset}",
                900: f"python -m dipcore compute robustness_900 --dataset {ch.dataset}"}
    return {e: f"python -m dipcore compute robustness_table7 --net {net} --dataset {ch.dataset}" for e in (90, 900)}


def runs(ch: Chapter, net: str = NET, compute: bool = True, seeds: tuple[int, ...] | None = None):
    """The grid's runs on ``net`` as a frame (``evidence.runs_frame``, with ``pretrained``), the
    pretrained networks' records by pretraining seed (None: not stored yet), and the commands that
    compute what is missing (by finetuning length). The 90-epoch runs are computed first when
    ``compute`` and ``ch.compute`` allow; the 900-epoch ones only where a GPU tier computes
    (``gpu_tier_computes``: on a GPU, or at a protocol other than the paper's; on a CPU they are
    about 5.5 hours of one thread, for the command line, not for a notebook)."""
    frames = []
    for epochs, may in ((90, compute), (900, compute and gpu_tier_computes(ch))):
        labelled = grids.labelled_robustness(net, ch.dataset, ch.protocol, seeds=seeds or ch.seeds, epochs=(epochs,))
        grid = "robustness_table7" if net != NET else "robustness" if epochs == 90 else "robustness_900"
        frames.append(ch.frame(labelled, grid, may)[0])
    pre = dict(zip(grids.ROBUSTNESS_PRETRAINED, ch.records(
        [grids.pretrain_spec(net, ch.dataset, ch.protocol, p) for p in grids.ROBUSTNESS_PRETRAINED], "robustness", False)))
    return pd.concat(frames, ignore_index=True), pre, commands(ch, net)


def cost_line(ch: Chapter, keys, net: str) -> str:
    """What the runs ``keys`` of the grid on ``net`` (900 epochs) would cost on a CPU, estimated
    from the stored runs' speed as ``python -m dipcore status`` does (``cost.estimate``), in words."""
    keys = set(keys)
    specs = [s for _, s in grids.labelled_robustness(net, ch.dataset, ch.protocol, seeds=ch.seeds, epochs=(900,))
             if spec.key(s) in keys]
    hours, costed, total = cost.estimate(specs, cost.rates(ch.store.read_all()[0]), "cpu")
    if not total:
        return "none"
    if not costed:
        return "not estimated: no run of this network is stored to time them by"
    return (f"about {hours:.0f} hours of one CPU thread at the speed of the stored runs"
            + (f", {costed} of {total} runs costed" if costed < total else ""))


def _acc(frame, pretrained: int, ratio: float, setting: str, lr: float) -> list[float]:
    g = frame[(frame.pretrained == pretrained) & (frame.ratio == ratio) & (frame.setting == setting) & (frame.lr == lr)]
    return g.final_acc.tolist()


def networks_table(frame, pre: dict):
    """One row per pretrained network: its unpruned test accuracy and the mean JSV right after
    L1 pruning at each ratio (the same for every finetuning seed)."""
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


def network_spread(frame) -> dict[tuple[float, str, float], tuple[float, int, tuple[float, ...]]]:
    """Per cell (ratio, setting, LR) whose runs are stored for every pretrained network: the sd
    across networks of the cell's mean final accuracy (each network's finetuning seeds averaged),
    the number of networks, and those means (by pretraining seed, the book's network first). Every
    run of a table like Table 3 starts from one pretrained network: this is how far its cells move
    with another (issue 33)."""
    out = {}
    pres = sorted(frame.pretrained.unique())
    for (ratio, setting, lr), g in frame.groupby(["ratio", "setting", "lr"]):
        if len(pres) > 1 and evidence.complete(g) and set(g.pretrained) == set(pres):
            means = g.groupby("pretrained").final_acc.mean().sort_index()
            out[float(ratio), setting, float(lr)] = (float(means.std(ddof=1)), len(means), tuple(map(float, means)))
    return out


def gains_table(frame):
    """The LR gain per (ratio, setting) with each pretrained network, its mean and spread across
    networks, and the spread one network's gain has from its finetuning seeds alone (the standard
    error of a difference of two means of the seeds, averaged over networks)."""
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


def jsv_gain_rank(frame, ratio: float) -> tuple[float, float] | None:
    """Spearman's rho between a network's mean JSV right after pruning and its Hypothesis 1 LR
    gain, over the pretrained networks, and its two-sided p-value from every pairing of the two
    (``scipy.stats.permutation_test``: exact for five networks, 120 pairings, where the t
    approximation is not); both NaN where either is the same for every network; None until all
    are stored. Does the pruned mean JSV tell which network
    gains most from the larger LR?"""
    pres = sorted(frame.pretrained.unique())
    gains = [gain(frame, p, ratio, SETTINGS[0]) for p in pres]
    if any(g is None for g in gains) or len(pres) < 3:
        return None
    jsv = [evidence.stored(frame[(frame.pretrained == p) & (frame.ratio == ratio) & (frame.setting == SETTINGS[0])]).jsv_0.iloc[0]
           for p in pres]
    y = [g[0] for g in gains]
    if np.ptp(jsv) == 0 or np.ptp(y) == 0:
        return float("nan"), float("nan")  # one of the two the same for every network: no ranking to test
    test = stats.permutation_test((jsv,), lambda x: stats.spearmanr(x, y).statistic, permutation_type="pairings")
    return float(test.statistic), float(test.pvalue)


def heterogeneity(frame, ratio: float, setting: str) -> tuple[float, float] | None:
    """Cochran's Q test that the LR gain in ``setting`` is the same with every pretrained network:
    Q = sum of w (gain - weighted mean)^2 with weights w = 1 / se^2 (each network's standard
    error from its finetuning seeds, ``gain``), against chi-square with (networks - 1) degrees of
    freedom (approximate: the standard errors are themselves estimated from five seeds per LR).
    (Q, p); None while a run is missing or a standard error cannot be estimated."""
    return _cochran([gain(frame, p, ratio, setting) for p in sorted(frame.pretrained.unique())])


def _cochran(gains: list[tuple[float, float] | None]) -> tuple[float, float] | None:
    """``heterogeneity`` of the networks' ``gain`` results, already computed."""
    if len(gains) < 2 or any(g is None or not np.isfinite(g[1]) or g[1] <= 0 for g in gains):
        return None
    g, se = np.array(gains).T
    w = 1 / se ** 2
    q = float((w * (g - (w * g).sum() / w.sum()) ** 2).sum())
    return q, float(stats.chi2.sf(q, len(g) - 1))


def rank_words(i: int, n: int) -> str:
    """Where the ``i``-th largest of ``n`` values stands, in words: "the largest", "the second
    smallest", "the middle one" (0-based ``i``)."""
    ordinal = ("", "second ", "third ", "fourth ", "fifth ")
    j = n - 1 - i
    if i == j:
        return "the middle one"
    return f"the {ordinal[i]}largest" if i < j else f"the {ordinal[j]}smallest"


def _spread(frame, ratio: float, setting: str) -> dict | None:
    """One setting's LR gains at one ratio across networks: each network's gain, their sd, the
    seeds' standard error averaged over networks, and Cochran's Q p (``heterogeneity``); None
    while a run is missing."""
    pres = sorted(frame.pretrained.unique())
    gains = [gain(frame, p, ratio, setting) for p in pres]
    if any(g is None for g in gains) or len(pres) < 2:
        return None
    q = _cochran(gains)
    return {"gains": dict(zip(pres, (g[0] for g in gains))), "sd_net": float(np.std([g[0] for g in gains], ddof=1)),
            "sd_seed": float(np.mean([g[1] for g in gains])), "p": None if q is None else q[1]}


def _p(p: float | None) -> str:
    """A p-value as the notes print it (``claims.p_value``: "< 0.001" below that, as Cochran's Q's
    chi-square is an approximation whose far tail is not worth more digits), "n/a" where none."""
    return "n/a" if p is None else claims.p_value(p)


def _ps(ps, ratios) -> str:
    """p-values, one per ratio, after "p": "= 0.91 at 0.8 and < 0.001 at 0.9", "< 0.001 at 0.8 and = 0.9 at 0.9"."""
    said = [_p(p) for p in ps]  # "=" where the relation is new: first, or after a "<"
    return _at([("" if t.startswith("<") else "= " if not k or said[k - 1].startswith("<") else "") + t
                for k, t in enumerate(said)], ratios)


def _only(ps, ratios) -> str:
    """" at 0.9 only" where some but not all of the per-ratio ``ps`` are under 0.05, else ""."""
    shown = [r for r, p in zip(ratios, ps) if p is not None and p < 0.05]
    return "" if len(shown) == len(ratios) else " at " + evidence.listed(f"{r:g}" for r in shown) + " only"


def _rho(rho: float, p: float) -> str:
    if not np.isfinite(rho):
        return "undefined (one of the two the same for every network)"
    return f"{rho:+.2f} ({claims.p_phrase(p)})"


def _n(n: int) -> str:
    """A small count in words, as the prose writes it."""
    return ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")[n] if 0 <= n <= 10 else str(n)


def _every(ratios) -> str:
    return "both ratios" if len(ratios) == 2 else "every ratio"


def _at(values, ratios) -> str:
    """"a at 0.8 and b at 0.9" for per-ratio texts ``values``."""
    return evidence.listed(f"{v} at {r:g}" for v, r in zip(values, ratios))


def variance_note(frame, ratios) -> str:
    """The note on where Hypothesis 1's LR gain varies (Markdown): across the pretrained networks
    or within one, from the seeds, per ratio, with Cochran's Q (``heterogeneity``); its heading
    says what the test found."""
    spreads = [_spread(frame, r, SETTINGS[0]) for r in ratios]
    if any(s is None for s in spreads):
        return ("**The pretrained network against the finetuning seed.** Hypothesis 1's LR gain with every "
                "network waits for runs not stored yet.")
    ps = [s["p"] for s in spreads]
    factor = min(s["sd_net"] / s["sd_seed"] for s in spreads)
    shown = [p is not None and p < 0.05 for p in ps]
    head = ("The pretrained network is the larger source of variance" + (", by far" if factor >= 5 else "")
            if all(shown) else "The networks' LR gains differ no more than their seeds explain" if not any(shown)
            else "The pretrained network matters at " + evidence.listed(f"{r:g}" for r, s in zip(ratios, shown) if s) + " only")
    sd_net = _at([f"{s['sd_net']:.2f}" + (" points" if not k else "") for k, s in enumerate(spreads)], ratios)
    sd_seed = evidence.listed(f"{s['sd_seed']:.2f}" for s in spreads)
    text = (f"**{head}.** Hypothesis 1's LR gain (90 epochs, no OrthP) spreads across the "
            f"{_n(frame.pretrained.nunique())} networks with a standard deviation of {sd_net}, against "
            f"{sd_seed} from the finetuning seeds alone (Cochran's Q, that every network has the same gain: "
            f"p {_ps(ps, ratios)}).")
    if all(shown):
        text += (f" {_n(frame.seed.nunique()).capitalize()} finetuning seeds of one network measure the seeds' noise, "
                 "not the network's: the paper's error bars, and the book's, are too narrow for a claim about the method.")
    return text


LASTING = {(True, False): "is no longer detected after 900 epochs", (True, True): "lasts 900 epochs",
           (False, True): "is detected only after 900 epochs", (False, False): "is detected at neither length"}
"""``lasting_note``'s heading, by whether Cochran's Q tells the networks apart (p < 0.05) after 90 and after 900 epochs."""


def lasting_note(frame, ratios) -> str:
    """The note on whether the pretrained network's effect on the LR gain lasts when finetuning is
    ten times longer (Markdown): the gains' spread across networks and Cochran's Q after 90 epochs
    (Hypothesis 1's setting) and after 900 (Hypothesis 2's), per ratio; the heading reads the two
    tests at each ratio (``LASTING``). Where the effect fades, the range of each LR's mean accuracy
    across the networks at both lengths says which LR the networks differ in."""
    short = [_spread(frame, r, SETTINGS[0]) for r in ratios]
    long = [_spread(frame, r, SETTINGS[1]) for r in ratios]
    if any(s is None for s in short + long):
        return ("**Whether the network's effect lasts.** The LR gains after 90 and 900 epochs with every network "
                "wait for runs not stored yet.")
    differ = [(a["p"] is not None and a["p"] < 0.05, b["p"] is not None and b["p"] < 0.05) for a, b in zip(short, long)]
    kinds = {k: [r for r, d in zip(ratios, differ) if d == k] for k in dict.fromkeys(differ)}  # in the ratios' order
    head = evidence.listed(f"{LASTING[k]} at " + evidence.listed(f"{r:g}" for r in rs) for k, rs in kinds.items())
    sd = [_at([f"{s['sd_net']:.2f}" for s in spreads], ratios) for spreads in (short, long)]
    ps = [_ps([s["p"] for s in spreads], ratios) for spreads in (short, long)]
    text = (f"**The network's effect on the LR gain {head}.** Across the {_n(frame.pretrained.nunique())} networks "
            f"the gain's standard deviation is {sd[0]} after 90 epochs (Cochran's Q: p {ps[0]}) and {sd[1]} after "
            f"900 (p {ps[1]}).")
    for r in kinds.get((True, False), []):
        spans = {(lr, s): _span(frame, r, s, lr) for lr in (0.001, 0.01) for s in SETTINGS[:2]}
        text += (f" At {r:g} the networks' mean accuracies with LR 0.001 span {spans[0.001, SETTINGS[0]]} after 90 epochs "
                 f"and {spans[0.001, SETTINGS[1]]} after 900; with LR 0.01 {spans[0.01, SETTINGS[0]]} and "
                 f"{spans[0.01, SETTINGS[1]]}.")
    return text


def _span(frame, ratio: float, setting: str, lr: float) -> str:
    """The range of the networks' mean final accuracies in one arm, e.g. "79.80-87.45 %"."""
    means = frame[(frame.ratio == ratio) & (frame.setting == setting) & (frame.lr == lr)].groupby("pretrained").final_acc.mean()
    return f"{means.min():.2f}-{means.max():.2f} %"


def levels_note(frame, decided, ratios) -> str:
    """The note on the two levels of the 90-epoch hypotheses (1 and 3; Markdown, from ``pairs``'
    ``decided`` verdicts, one per ratio in ``ratios``' order): where the book's network and the
    five disagree, or that they agree, and where the book's network's LR gain stands among them."""
    short = [h for h in HYPOTHESES if grids.HYPOTHESES[h].epochs == 90]
    at = [(h, r, a, b) for h in short for r, (g, a, b) in zip(ratios, [d for d in decided if d[0] == h])]
    if any(claims.PENDING in (a.verdict, b.verdict) for *_, a, b in at):
        return ("**The book's network among the five.** Hypotheses 1 and 3 at both levels wait for runs not "
                "stored yet.")
    n = _n(frame.pretrained.nunique())
    differ = [f"Hypothesis {h} at {r:g} is {a.verdict} with the book's network, {b.verdict} across the {n}"
              for h, r, a, b in at if a.verdict != b.verdict]
    head = (f"**The book's network and the {n} disagree** where " + "; ".join(differ) + "." if differ else
            f"**The book's network and the {n} agree** on Hypotheses 1 and 3 at {_every(ratios)} (the table above).")
    where = []
    for r in ratios:
        gains = _spread(frame, r, SETTINGS[0])["gains"]
        order = sorted(gains, key=gains.get, reverse=True)  # largest gain first
        others = ", ".join(f"{gains[p]:+.2f}" for p in sorted(gains) if p)
        where.append(f"{gains[0]:+.2f} points at {r:g}, {rank_words(order.index(0), len(order))} of the {n} "
                     f"(the others: {others})")
    return head + " With the book's network the larger LR gains " + "; ".join(where) + "."


def orthp_note(frame, decided, ratios) -> str:
    """The note on the LR gain with OrthP across networks (Hypothesis 3's setting, Markdown): its
    range over every network and ratio, its spread across networks beside that without OrthP and
    the seeds' alone, and Cochran's Q (``heterogeneity``). The heading reads the size of the spread
    (OrthP makes the gain "nearly independent of the network" where it cuts the spread across
    networks at least five-fold at every ratio), the sentence after it the test; the sentence on
    Hypothesis 3 follows its verdicts across networks."""
    spreads = [_spread(frame, r, SETTINGS[2]) for r in ratios]
    plain = [_spread(frame, r, SETTINGS[0]) for r in ratios]
    if any(s is None for s in spreads + plain):
        return "**OrthP across networks.** The LR gain with OrthP with every network waits for runs not stored yet."
    gains = [g for s in spreads for g in s["gains"].values()]
    ps = [s["p"] for s in spreads]
    flat = all(p is not None and p >= 0.05 for p in ps)
    shrinks = all(s["sd_net"] * 5 <= n["sd_net"] for s, n in zip(spreads, plain))
    head = ("OrthP makes the gain nearly independent of the network" if shrinks else
            "With OrthP the networks' gains differ no more than their seeds explain" if flat else
            "With OrthP the gain still depends on the network")
    sd_net = _at([f"{s['sd_net']:.2f}" for s in spreads], ratios)
    sd_plain = evidence.listed(f"{n['sd_net']:.2f}" for n in plain)
    sd_seed = evidence.listed(f"{s['sd_seed']:.2f}" for s in spreads)
    text = (f"**{head}.** With OrthP the LR gain is {min(gains):+.2f} to {max(gains):+.2f} points with every network "
            f"at {_every(ratios)} (the `OrthP, 90 epochs` rows), its standard deviation across networks {sd_net}, "
            f"against {sd_plain} without OrthP and {sd_seed} from the seeds alone. "
            + (f"Cochran's Q finds no difference between the networks beyond their seeds' (p {_ps(ps, ratios)})."
               if flat else f"Cochran's Q still tells the networks apart{_only(ps, ratios)} (p {_ps(ps, ratios)}), by a "
               f"standard deviation of at most {max(s['sd_net'] for s in spreads):.2f} points."))
    h3 = [b.verdict for g, a, b in decided if g == 3]
    if shrinks and h3 and all(v == claims.REPRODUCED for v in h3):
        most = all(abs(np.mean(list(o["gains"].values()))) < 0.5 * np.mean(list(n["gains"].values()))
                   for o, n in zip(spreads, plain))
        text += (f" Hypothesis 3 is reproduced across networks at {_every(ratios)}: restoring the JSVs before "
                 f"finetuning removes most of the network-to-network differences along with "
                 f"{'most of' if most else 'part of'} the larger LR's advantage.")
    return text


def jsv_note(frame, pre: dict, ratios) -> str:
    """The note on whether the pruned mean JSV ranks the networks' Hypothesis 1 gains (Markdown):
    how far apart the networks are unpruned, and Spearman's rho with its exact p per ratio
    (``jsv_gain_rank``); the heading says what the test found, and a significant negative rho is
    read as §3.3's account would have it."""
    accs = [rec["final_acc"] for rec in pre.values() if rec]
    ranks = [jsv_gain_rank(frame, r) for r in ratios]
    if len(accs) < len(pre) or any(x is None for x in ranks):
        return "**The pruned mean JSV and the gain.** Waits for runs not stored yet."
    n = _n(frame.pretrained.nunique())
    shown = [r for r, (rho, p) in zip(ratios, ranks) if p < 0.05]
    head = ("The pruned mean JSV does not rank the networks' gains" if not shown else
            "The pruned mean JSV ranks the networks' gains at " + evidence.listed(f"{r:g}" for r in shown))
    text = (f"**{head}.** Unpruned, the {n} networks' test accuracies are within {max(accs) - min(accs):.2f} points "
            f"of each other (the table above). Spearman's rho between a network's mean JSV right after pruning and "
            f"its Hypothesis 1 LR gain is {_at([_rho(rho, p) for rho, p in ranks], ratios)}, "
            f"{n} networks each (p from all pairings of the two, two-sided).")
    if not shown:
        return text + (f" Neither is told apart from no relation: whatever makes a network's LR gain large, a single "
                       f"mean JSV does not show it with {n} networks.")
    negative = [r for r, (rho, p) in zip(ratios, ranks) if p < 0.05 and rho < 0]
    if negative:
        text += (" Where it does, the networks that pruning left further from isometry (the smaller mean JSV) "
                 "gained more from the larger LR, the direction §3.3's account predicts.")
    if len(shown) < len(ratios):
        text += f" With {len(ratios)} ratios tested, one p under 0.05 is weak evidence on its own."
    return text


def progress_900(net: str, have: int, need: int, cost: str, command: str) -> str:
    """What the page says of its 900-epoch runs (Markdown, to follow "N of the M 90-epoch runs
    (Hypotheses 1 and 3)"): all in, or how many, that the rest are not stored yet (``MISSING``), what they would
    cost (``cost_line``) and the command that computes them."""
    if have >= need:
        return f"and all {need} of its 900-epoch runs (Hypotheses 2 and 4)"
    return (f"and {have} of the {need} 900-epoch runs (Hypotheses 2 and 4); the other {need - have} "
            f"{MISSING} ({cost}: `{command}`)")


def long_note(decided, ratios, missing: int, networks: int) -> str:
    """The page's note on Hypotheses 2 and 4, the 900-epoch ones (Markdown), from their verdicts at
    both levels (``pairs``, one per ratio in ``ratios``' order): while ``missing`` runs are not
    stored, the verdicts with the book's network and what the rest waits for; then how each falls
    across the ``networks`` pretrained networks beside the book's one."""
    long = {h: list(zip(ratios, [(a, b) for g, a, b in decided if g == h]))
            for h in HYPOTHESES if grids.HYPOTHESES[h].epochs == 900}
    if missing:
        alone = "; ".join(f"Hypothesis {h} is " + " and ".join(f"{a.verdict} at {r:g}" for r, (a, _) in at)
                          for h, at in long.items())
        return (f"Hypotheses 2 and 4 need 900-epoch runs from the other networks ({missing} runs not stored "
                f"yet); with the book's network alone, {alone}. Whether each holds across networks is the "
                "question this page leaves open until they are in.")
    each = "; ".join(f"Hypothesis {h} at {r:g} is {b.verdict} across them"
                     + (", as with the book's network alone" if a.verdict == b.verdict
                        else f" (with the book's network alone: {a.verdict})") for h, at in long.items() for r, (a, b) in at)
    return f"**Hypotheses 2 and 4 (900 epochs) across the {_n(networks)} networks.** {each}."


def decide(frame, commands: dict[int, str]) -> list[claims.Verdict]:
    """Each hypothesis at each ratio across the pretrained networks (pending while runs are
    missing)."""
    return [v for h in HYPOTHESES for v in _verdicts(frame, h, commands, True)]


def verdicts(ch: Chapter) -> list[claims.Verdict]:
    """The page's claims (each hypothesis across pretrained networks), for the claims page; read
    only, nothing computed here (its own chapter computes the grid)."""
    frame, _, commands = runs(ch, compute=False)
    return decide(frame, commands)


def _verdicts(frame, h: int, commands: dict[int, str], across: bool) -> list[claims.Verdict]:
    epochs = grids.HYPOTHESES[h].epochs
    out = evidence.hypothesis_verdicts(frame, h, source(frame.net.iloc[0]), commands[epochs], across,
                                        MISSING)
    return [v.as_kind(claims.BEYOND) for v in out] if across else out  # across networks: the book's question


def pairs(frame, commands: dict[int, str], hypotheses: tuple[int, ...] = HYPOTHESES):
    """Each hypothesis at each ratio as (hypothesis, with the book's pretrained network, across all
    of them): the first verdict is that of its chapter (seed 0's runs), the second ``verdicts``' own."""
    return [(h, a, b) for h in hypotheses for a, b in zip(_verdicts(frame[frame.pretrained == 0], h, commands, False),
                                                           _verdicts(frame, h, commands, True))]


def two_levels(frame, commands: dict[int, str], hypotheses: tuple[int, ...] = HYPOTHESES, decided=None):
    """Each hypothesis at each ratio decided at two levels, side by side (``pairs``, or the
    ``decided`` pairs when given); one row per claim, with the evidence of the second."""
    decided = pairs(frame, commands, hypotheses) if decided is None else decided
    rows = [{"hypothesis": h, "claim": a.claim, "with the book's network": claims.marked(a.verdict),
             f"across {frame.pretrained.nunique()} pretrained networks": claims.marked(b.verdict),
             "evidence across networks": b.evidence}
            for h, a, b in decided]
    return pd.DataFrame(rows).set_index(["hypothesis", "claim"])


def plot_spread(ax, frame, ratio: float) -> None:
    """The LR gain with each pretrained network (dot; bar: ± one standard error from its
    finetuning seeds), per setting (its label says with how many networks it is stored): if
    the dots scatter more than their bars, the pretrained network is a source of variance the
    one-network test cannot see."""
    pres = sorted(frame.pretrained.unique())
    labelled, ticks = set(), []
    for j, setting in enumerate(SETTINGS):
        gains = [(k, p, gain(frame, p, ratio, setting)) for k, p in enumerate(pres)]
        have = sum(g is not None for _, _, g in gains)
        ticks.append(setting.replace(", ", ",\n") + ("" if have == len(pres) else f"\n({have} of {len(pres)} networks;\nthe rest pending)"))
        for k, p, g in gains:
            if g is None:
                continue
            gv, se = g
            label = "the book's network (seed 0)" if p == 0 else "another pretrained network"
            ax.errorbar(j + (k - (len(pres) - 1) / 2) * 0.1, gv, yerr=None if np.isnan(se) else se, fmt="o",
                        color="C3" if p == 0 else "0.35", ms=5, capsize=2, label=None if label in labelled else label)
            labelled.add(label)
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set_xticks(range(len(SETTINGS)), ticks, fontsize=8)
    ax.set_xlim(-0.6, len(SETTINGS) - 0.4)
    ax.set_ylabel("LR 0.01 − LR 0.001 (points)")
    ax.set_title(f"ratio {ratio:g}")


@dataclass
class RobustnessPage(evidence.GridPage):
    """The robustness chapter: per-network table (``networks``), gains (``tables``), verdicts
    across networks (``verdicts``) and both levels side by side (``levels``)."""

    networks: object = None
    levels: object = None


def check_net(net) -> str:
    """The chapter's ``net`` parameter: a network of ``grids.ROBUSTNESS_NETS``."""
    if net not in grids.ROBUSTNESS_NETS:
        raise ValueError(f"net must be one of {', '.join(grids.ROBUSTNESS_NETS)} (MLP-7-Linear: Table 3's ratios; "
                         f"the others: Table 7's ratio 0.9), got {net!r}")
    return net


def page(ch: Chapter, net: str = NET) -> RobustnessPage:
    """Reads (or computes) the grid on ``net``; glues ``rb_have``, ``rb_need``, ``rb_have_90``,
    ``rb_need_90``, ``rb_seeds``, ``rb_networks``, ``rb_net``, ``rb_progress_900`` (Markdown,
    ``progress_900``), the notes of "What we noticed", each written from the runs and verdicts it
    reads (Markdown: ``rb_variance``, ``rb_levels``, ``rb_lasting``, ``rb_orthp``, ``rb_jsv``, ``rb_long_note``),
    and the figure ``robustness_spread``."""
    frame, pre, cmds = runs(ch, check_net(net))
    stored = frame.status != "missing"
    short = frame.setting.isin([h.setting for h in grids.HYPOTHESES.values() if h.epochs == 90])
    glue("rb_have", int(stored.sum()))
    glue_markdown("rb_mnist", mnist_progress(ch, MNIST_GRIDS) if net == NET else "")
    glue("rb_need", len(frame))
    glue("rb_have_90", int((stored & short).sum()))
    glue("rb_need_90", int(short.sum()))
    glue("rb_seeds", int(frame.seed.nunique()))
    glue("rb_networks", len(grids.ROBUSTNESS_PRETRAINED))
    glue("rb_net", paper.NET_LABELS[net])
    missing_900 = frame[~stored & ~short].key
    glue_markdown("rb_progress_900", progress_900(net, int((stored & ~short).sum()), int((~short).sum()),
                                                  cost_line(ch, missing_900, net) if len(missing_900) else "", cmds[900]))
    ratios = sorted(frame.ratio.unique())
    fig, axes = plt.subplots(1, len(ratios), figsize=(6.5 * len(ratios), 4), squeeze=False, sharey=True)
    for ax, ratio in zip(axes[0], ratios):
        plot_spread(ax, frame, ratio)
    if axes[0, 0].get_legend_handles_labels()[0]:
        axes[0, 0].legend(loc="best", fontsize=8)
    plotting.mark_pending(axes[0])
    ch.figure(fig, "robustness_spread", "**How much the pretrained network matters.** The gain of LR 0.01 over LR 0.001 "
              f"after finetuning pruned {paper.NET_LABELS[net]}, with each pretrained network (dot) and its "
              "uncertainty from the finetuning seeds alone (bar: ± one standard error).", seeds=int(frame.seed.nunique()))
    gains = gains_table(frame)
    decided = pairs(frame, cmds)  # each across-networks bootstrap once, for the verdicts, the notes and the table
    glue_markdown("rb_variance", variance_note(frame, ratios))
    glue_markdown("rb_levels", levels_note(frame, decided, ratios))
    glue_markdown("rb_lasting", lasting_note(frame, ratios))
    glue_markdown("rb_orthp", orthp_note(frame, decided, ratios))
    glue_markdown("rb_jsv", jsv_note(frame, pre, ratios))
    glue_markdown("rb_long_note", long_note(decided, ratios, len(missing_900), int(frame.pretrained.nunique())))
    return RobustnessPage(frame, {"gains": gains}, [b for _, _, b in decided], networks_table(frame, pre),
                          two_levels(frame, cmds, decided=decided))


def beside(ch: Chapter, hypothesis: int):
    """For a hypothesis chapter: its verdicts at both levels (``two_levels``) from the robustness
    grid as stored (nothing computed here: ``chapters/robustness`` computes it)."""
    frame, _, cmds = runs(ch, NET, compute=False)
    return two_levels(frame, cmds, (hypothesis,))
