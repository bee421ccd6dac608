"""The paper's mechanism as claims (§3.3 and Figure 2, §4; issue 38): pruning takes a network away
from dynamical isometry, finetuning brings it back, a larger LR brings it back sooner, OrthP
starts it there, and the accuracy gap between the two LRs closes as their gap in isometry does.
The paper draws this (Figure 2's mean JSV curves); here each part is decided, per network and
ratio, from the mean JSV every run logs per epoch (``evidence.runs_frame``'s ``jsv_curve``).

"Near isometry" is read with ``dipcore.jsv.isometry_distance`` (|log10 mean JSV|), not with the
mean JSV itself: the unpruned networks' mean JSV is well above 1, so a pruning that shrinks it can
move it *towards* 1, and finetuning often carries it past 1 (§3.1's pretraining curves). The rules:

1. ``towards``: finetuning (90 epochs, no recovery) ends nearer to isometry than it started
   (each run's distance at its last epoch against right after pruning; ``claims.greater``), per LR.
2. ``sooner``: with LR 0.01 the network comes within a factor of ``NEAR`` of isometry (mean JSV
   between 1/2 and 2) in fewer epochs than with LR 0.001 (``claims.greater`` on each run's first
   such epoch; a run that never gets there counts as its last epoch + 1, said in the evidence).
   Where every run of both LRs gets there after the first epoch, the rule cannot tell them apart
   at the runs' per-epoch resolution, and the evidence says so (``resolution``).
3. ``starts``: right after OrthP, before any step, the mean JSV is within a factor of ``NEAR`` of 1
   (one deterministic network: exact, no test). A check, not a claim, where OrthP is an exact
   isometry by construction (a linear MLP, §3.2).
4. ``gaps``: the accuracy gap between LR 0.01 and LR 0.001 closes as their distance gap does: for
   each pair of runs with the same seed, Spearman's rho over epochs 1 to the end between
   |difference of distances| and |difference of test accuracies|; a one-sample t-test of the pairs'
   Fisher-z values against 0 decides (the pairs are independent; the epochs of one pair are not,
   so no single curve's correlation is tested); where every pair's rho is the same, the exact
   sign-flip test (p = 2/2^n), which 5 pairs alike cannot pass.

Only the 90-epoch settings are decided (Figure 2's curves for 900 epochs and after OrthP are drawn,
not tested).
"""
from __future__ import annotations

import math

import numpy as np

from .. import nets
from ..jsv import isometry_distance
from . import claims, paper
from .evidence import pending
from .grids import setting_name

NEAR = 2.0  # "near isometry": mean JSV within this factor of 1
SOURCE = "§3.3, Figure 2"


def curves(g, column: str = "jsv_curve") -> np.ndarray:
    """The per-epoch curves of the finished runs of ``g`` (``runs_frame`` rows), ``[runs, epochs]``,
    cut to the shortest; mean JSV as ``isometry_distance``, test accuracy as it is."""
    rows = [c for c, s in zip(g[column], g.status) if s == "ok"]
    n = min(len(c) for c in rows)
    y = np.array([[np.nan if v is None else v for v in c[:n]] for c in rows], dtype=float)
    return isometry_distance(y) if column == "jsv_curve" else y


def first_near(d: np.ndarray) -> tuple[np.ndarray, int]:
    """Each run's first epoch within a factor of ``NEAR`` of isometry (``d``: distances,
    ``[runs, epochs]``), the number of epochs + 1 where it never gets there; and how many never do."""
    near = d <= math.log10(NEAR)
    first = np.where(near.any(1), near.argmax(1), d.shape[1])
    return first, int((~near.any(1)).sum())


def resolution(hi: np.ndarray, lo: np.ndarray, d_hi: np.ndarray, d_lo: np.ndarray) -> str:
    """Where every run of both LRs first comes near isometry at the same epoch (``first_near``'s
    ``hi`` and ``lo``) within the first epoch or right after pruning, why rule 2 cannot decide
    there: the curves log once an epoch, so nothing finer than that epoch tells the LRs apart. Says
    the mean distances (``d_hi``, ``d_lo``) at that epoch, as information, not a test; "" otherwise."""
    tied = np.ptp(hi) == 0 and np.ptp(lo) == 0 and hi[0] == lo[0]
    if not tied or hi[0] > 1:
        return ""
    at = int(hi[0])
    if at == 0:
        return "every run is within it already right after pruning, so there is no recovery to time"
    return ("every run is within it after its first epoch, the first point its curve logs after pruning: the "
            "curves are logged once an epoch, so at this resolution the two LRs cannot be told apart (a finer step "
            f"was not measured); |log10 mean JSV| after that epoch {d_hi[:, at].mean():.2f} at LR 0.01, "
            f"{d_lo[:, at].mean():.2f} at LR 0.001 (not tested)")


def gap_correlations(d_hi, d_lo, a_hi, a_lo) -> np.ndarray:
    """Spearman's rho, per pair of runs (row ``i`` of each), between the |distance gap| and the
    |accuracy gap| of LR 0.01 (``hi``) and LR 0.001 (``lo``) over epochs 1 to the end."""
    from scipy import stats

    n = min(len(d_hi), len(d_lo))
    out = []
    for i in range(n):
        dd, da = np.abs(d_hi[i, 1:] - d_lo[i, 1:]), np.abs(a_hi[i, 1:] - a_lo[i, 1:])
        out.append(stats.spearmanr(dd, da).statistic if np.ptp(dd) and np.ptp(da) else np.nan)
    return np.array(out, dtype=float)


def _exact(net: str) -> bool:
    """Whether OrthP makes this network exactly isometric by construction: a linear MLP."""
    model = nets.build(net)
    return nets.is_linear_map(model) and all(type(m).__name__ == "Linear" for m in nets.weight_layers(model))


def verdicts(frame, command: str | dict | None = None, source: str = SOURCE) -> list[claims.Verdict]:
    """The mechanism's claims (module docstring) for one network's runs (``frame``: ``runs_frame``
    with the 90-epoch settings with and without OrthP), at each of its ratios; each pending while
    a run it reads is missing (``command`` computes them)."""
    net = frame.net.iloc[0]
    label = paper.NET_LABELS[net]
    plain, orthp = setting_name(90, False), setting_name(90, True)
    out = []
    for ratio in sorted(frame.ratio.unique()):
        pre = f"{label}, ratio {ratio}: "
        at = frame[frame.ratio == ratio]

        def runs(setting, lr=None):
            g = at[at.setting == setting]
            return g if lr is None else g[g.lr == lr]

        def wait(claim, settings):
            return pending(frame, ratio, settings, claim, source, command)

        for lr in (0.01, 0.001):
            claim = pre + f"finetuning (LR {lr}, 90 epochs) ends nearer to isometry than it starts, right after pruning"
            if not (v := wait(claim, [plain])):
                d = curves(runs(plain, lr))
                v = claims.greater(d[:, 0], d[:, -1], claim, source, unit=" orders of magnitude")
                v = v.with_evidence(before=f"|log10 mean JSV| {d[:, 0].mean():.2f} right after pruning, {d[:, -1].mean():.2f} at the end")
            out.append(v)

        claim = pre + f"with LR 0.01 the pruned network comes within a factor of {NEAR:g} of isometry in fewer epochs than with LR 0.001 (90 epochs)"
        if not (v := wait(claim, [plain])):
            d_hi, d_lo = (curves(runs(plain, lr)) for lr in (0.01, 0.001))
            (hi, n_hi), (lo, n_lo) = first_near(d_hi), first_near(d_lo)
            v = claims.greater(lo, hi, claim, source, unit=" epochs")
            never = f"; never within it: {n_hi} run(s) at LR 0.01, {n_lo} at LR 0.001 (counted as the last epoch + 1)" \
                if n_hi or n_lo else ""
            first = f"first such epoch, mean over runs: {hi.mean():.1f} at LR 0.01, {lo.mean():.1f} at LR 0.001{never}"
            v = v.with_evidence(before=first, after=resolution(hi, lo, d_hi, d_lo))
        out.append(v)

        claim = pre + f"right after OrthP, before any step, the mean JSV is within a factor of {NEAR:g} of 1"
        if not (v := wait(claim, [plain, orthp])):
            m0, p0 = runs(orthp).jsv_0.dropna().iloc[0], runs(plain).jsv_0.dropna().iloc[0]
            d_end = curves(runs(orthp))[:, -1].mean()
            v = claims.Verdict(claim, source, claims.REPRODUCED if isometry_distance(m0) <= math.log10(NEAR)
                               else claims.NOT_REPRODUCED,
                               f"mean JSV {m0:.3g} after OrthP, {p0:.3g} after pruning alone (exact, one network each); "
                               f"after 90 epochs from OrthP, |log10 mean JSV| {d_end:.2f} (mean over runs and LRs)",
                               claims.CHECK if _exact(net) else claims.CLAIM)
        out.append(v)

        claim = pre + "the accuracy gap between LR 0.01 and LR 0.001 closes as their gap in distance from isometry closes (90 epochs)"
        if not (v := wait(claim, [plain])):
            out.append(_gaps(runs(plain, 0.01), runs(plain, 0.001), claim, source))
        else:
            out.append(v)
    return out


def _gaps(hi, lo, claim: str, source: str) -> claims.Verdict:
    """Rule 4 (module docstring) on the runs of the two LRs, paired by seed."""
    from scipy import stats

    hi, lo = hi.sort_values("seed"), lo.sort_values("seed")
    rho = gap_correlations(curves(hi), curves(lo), curves(hi, "acc_curve"), curves(lo, "acc_curve"))
    rho = rho[np.isfinite(rho)]
    if len(rho) < 2:
        return claims.Verdict(claim, source, claims.INCONCLUSIVE, f"{len(rho)} pair(s) of runs with a correlation; too few to test")
    z = np.arctanh(np.clip(rho, -0.999999, 0.999999))
    if np.ptp(z):
        p, test = float(stats.ttest_1samp(z, 0.0).pvalue), "one-sample t-test of their Fisher z"
    else:  # every pair alike: no spread for a t-test; the exact sign test, 2 / 2^n (two-sided), or 1 at rho 0
        p, test = claims.sign_test(z)[2], "all alike, so the exact sign-flip test"
    verdict = (claims.REPRODUCED if z.mean() > 0 else claims.NOT_REPRODUCED) if p < claims.ALPHA else claims.INCONCLUSIVE
    return claims.Verdict(claim, source, verdict,
                          f"Spearman rho per pair of runs (same seed) over epochs: {', '.join(f'{r:+.2f}' for r in rho)}; "
                          f"{test}, {claims.p_phrase(p)}", effect=float(np.tanh(z.mean())))


