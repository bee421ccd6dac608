"""Verdicts: a claim of the paper decided by code, not prose.

Each function compares samples of our runs and returns a ``Verdict`` whose ``verdict`` is one of
``reproduced``, ``not reproduced`` or ``inconclusive`` (or ``pending`` while its runs are
not stored yet), with the evidence in words. The rules:

* ``greater(a, b)``: the claim "a is larger than b". Welch's t-test on the two samples: a
  significant difference (p < alpha) in the claimed direction reproduces it, a significant one
  in the other direction does not, anything else (or fewer than 2 values per side) is
  inconclusive.
* ``smaller_gain(a1, b1, a2, b2)``: "the advantage of a over b is smaller in setting 2 than in
  setting 1": a bootstrap interval of (mean a1 - mean b1) - (mean a2 - mean b2); reproduced if
  it lies above 0, not reproduced if below, inconclusive if it straddles 0. Where a had no
  advantage to begin with (mean a1 - mean b1 <= 0), a reproduced verdict says so in its evidence:
  the gain fell, as claimed, but below zero, so there was no advantage to diminish.
* ``decreasing(x, y)`` / ``increasing(x, y)``: "y falls (grows) as x grows": Spearman's rank
  correlation.
* ``at_most(per_point)``: "holds at most ratios": reproduced where more than half of the
  per-ratio verdicts are, not reproduced where more than half contradict it; a tie is
  inconclusive, whichever way it leans.
* ``greater_across`` / ``smaller_gain_across``: the same two claims with two levels of variance,
  pretrained networks and finetuning seeds nested in them (beyond the paper): a hierarchical
  bootstrap (networks drawn with replacement, then each arm's seeds within each) gives the interval
  of the effect averaged over networks; reproduced when it lies above 0, not reproduced when below,
  inconclusive otherwise; the evidence also says with how many networks the one-network test
  reproduces the claim.
* ``within(a, b, margin)``: "a matches b within ``margin``": an equivalence test (two one-sided
  Welch tests, TOST): reproduced when the 90 % interval of the difference of means lies inside
  (-margin, margin), not reproduced when it lies wholly outside, inconclusive otherwise. "No
  significant difference" is not evidence of a match; this rule asks for the interval.
* ``not_above(a, b, margin)``: "a does not help over b": reproduced when the upper end of the
  90 % interval of (mean a - mean b) lies below ``margin``, not reproduced when its lower end lies
  above it, inconclusive otherwise (issue 38: tested as "b beats a", a true null could only come
  out inconclusive).

A claim with a **premise** (an advantage that should shrink needs an advantage first) is decided
only where its premise's own test reproduces it; elsewhere its state is *premise not met*, whichever
way the claim itself would fall, with both tests in the evidence (``premised``; issue 38).

Each verdict has a **kind**: a ``claim`` (of the paper, or of Lee et al.), a question ``beyond``
the paper (the book's own), or a ``check``: a statement that holds by construction (an identity,
such as OrthP's exact isometry of a linear network), a test of the implementation rather than
evidence for the paper. Pages and the claims page count the three apart (``summary``).
"""
from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass

import numpy as np

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = "reproduced", "not reproduced", "inconclusive"
PENDING = "pending"  # not decided yet: the runs it needs are not stored yet
PREMISE = "premise not met"  # a claim about an advantage (that it shrinks) where the advantage is not shown first
VERDICTS = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, PREMISE, PENDING)


MARKS = {REPRODUCED: "✅", NOT_REPRODUCED: "❌", INCONCLUSIVE: "➖", PREMISE: "⭕", PENDING: "⏳"}  # as pages show a verdict
CLAIM, BEYOND, CHECK = "claim", "beyond", "check"  # a verdict's kind (module docstring)
KINDS = {CLAIM: "claim", BEYOND: "beyond the paper", CHECK: "check (holds by construction)"}
ALPHA = 0.05  # every rule decides at this level (a bootstrap: its 95 % interval)


@dataclass(frozen=True)
class Verdict:
    claim: str
    source: str  # where the paper makes it, e.g. "§3.3, Table 3"
    verdict: str
    evidence: str
    kind: str = CLAIM  # CLAIM, BEYOND or CHECK
    effect: float | None = dataclasses.field(default=None, repr=False, compare=False)  # ``greater``'s a - b

    def as_row(self) -> dict:
        return {"claim": self.claim, "paper": self.source, "kind": KINDS[self.kind], "verdict": self.verdict,
                "evidence": self.evidence}

    def _repr_markdown_(self) -> str:
        what = {CLAIM: "", BEYOND: " *(beyond the paper)*", CHECK: " *(a check: holds by construction)*"}[self.kind]
        return f"**{marked(self.verdict)}**{what} — {self.claim} ({self.source}). {self.evidence}"

    def with_evidence(self, before: str = "", after: str = "") -> "Verdict":
        """The same verdict, its evidence with ``before`` put in front and ``after`` added ("; ")."""
        return dataclasses.replace(self, evidence="; ".join(t for t in (before, self.evidence, after) if t))

    def as_kind(self, kind: str) -> "Verdict":
        """The same verdict, of another kind."""
        if kind not in KINDS:
            raise ValueError(f"unknown kind of verdict {kind!r}; choose one of {', '.join(KINDS)}")
        return dataclasses.replace(self, kind=kind)


def marked(verdict: str) -> str:
    """A verdict's state as pages show it, with its mark: "✅ reproduced"."""
    return f"{MARKS[verdict]} {verdict}"


def pending(claim: str, source: str, have: int, need: int, command: str, state: str = "are not stored yet") -> Verdict:
    """A claim whose runs are not all in the store yet: said so (the rest ``state``), with the
    command that computes them."""
    return Verdict(claim, source, PENDING, f"{have} of {need} runs in the store; the rest {state} ({command})")


def p_value(p: float) -> str:
    """A p-value as the book prints it, without "p": "< 0.001", else two significant digits, more
    where two would read as the decision level ``ALPHA`` itself (0.0503 is not "0.05": it decides
    nothing, and 0.0496 does)."""
    if p < 0.001:
        return "< 0.001"
    digits = next((d for d in (2, 3, 4) if float(f"{p:.{d}g}") != ALPHA), 4)
    return f"{p:.{digits}g}"


def p_phrase(p: float) -> str:
    """``p_value`` with its "p": "p < 0.001", "p = 0.33"."""
    text = p_value(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def _clean(x) -> np.ndarray:
    x = np.asarray([v for v in x if v is not None], dtype=float)
    return x[np.isfinite(x)]


def greater(a, b, claim: str, source: str, alpha: float = 0.05, unit: str = "") -> Verdict:
    """Claim: the values ``a`` are larger than ``b`` (two independent samples): Welch's t-test, or,
    where neither sample has any spread (every run alike on each side, e.g. an epoch count at a
    per-epoch resolution) and Welch's is undefined, the exact two-sided permutation test: every run
    of one side above every run of the other has probability 2 / C(n + m, n) under the null (5 runs
    a side: p = 0.0079; 3 a side: p = 0.1, too few to decide)."""
    from scipy import stats

    a, b = _clean(a), _clean(b)
    if (few := _too_few(a, b, claim, source, unit)) is not None:
        return few
    diff = a.mean() - b.mean()
    if np.ptp(a) == 0 and np.ptp(b) == 0:  # no spread: Welch is undefined; the permutation test is exact
        p = 1.0 if diff == 0 else min(1.0, 2 / math.comb(len(a) + len(b), len(a)))
        test = f"no spread on either side; permutation test, {p_phrase(p)}"
    else:  # one constant sample (a run stuck at chance, say) is legitimate: scipy's warning about it is not
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Precision loss occurred", RuntimeWarning)
            p = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
        test = f"Welch {p_phrase(p)}"
    ev = f"difference of means {diff:+.3g}{unit} ({len(a)} vs {len(b)} runs, {test})"
    verdict = (REPRODUCED if diff > 0 else NOT_REPRODUCED) if p < alpha else INCONCLUSIVE
    return Verdict(claim, source, verdict, ev, effect=float(diff))


def _too_few(a: np.ndarray, b: np.ndarray, claim: str, source: str, unit: str) -> Verdict | None:
    """The inconclusive verdict of two samples with fewer than 2 values on a side, else None."""
    if len(a) >= 2 and len(b) >= 2:
        return None
    diff = a.mean() - b.mean() if len(a) and len(b) else float("nan")
    return Verdict(claim, source, INCONCLUSIVE, f"difference of means {diff:+.3g}{unit}; too few runs "
                   f"({len(a)} vs {len(b)}) to test", effect=diff)


def smaller_gain(a1, b1, a2, b2, claim: str, source: str, n_boot: int = 10000, level: float = 0.95,
                 seed: int = 0, unit: str = "") -> Verdict:
    """Claim: the gain (mean a - mean b) is smaller in setting 2 than in setting 1."""
    samples = [_clean(v) for v in (a1, b1, a2, b2)]
    g1 = samples[0].mean() - samples[1].mean()
    g2 = samples[2].mean() - samples[3].mean()
    if min(len(s) for s in samples) < 2:
        return Verdict(claim, source, INCONCLUSIVE, f"gain {g1:+.3g}{unit} then {g2:+.3g}{unit}; too few runs to test")
    rng = np.random.default_rng(seed)
    boot = [rng.choice(s, size=(n_boot, len(s))).mean(1) for s in samples]
    d = (boot[0] - boot[1]) - (boot[2] - boot[3])
    lo, hi = np.quantile(d, [(1 - level) / 2, (1 + level) / 2])
    ev = (f"gain {g1:+.3g}{unit} in the first setting, {g2:+.3g}{unit} in the second; "
          f"{level:.0%} bootstrap interval of the drop [{lo:+.3g}, {hi:+.3g}]{unit}")
    verdict = REPRODUCED if lo > 0 else NOT_REPRODUCED if hi < 0 else INCONCLUSIVE
    if verdict == REPRODUCED and g1 <= 0:
        # "smaller" as worded, but not the paper's reading, "the advantage [...] is diminished" (§4)
        ev += ("; but the gain was not positive in the first setting: there was no advantage to diminish, "
               "it fell further below zero")
    return Verdict(claim, source, verdict, ev)


def _nested(groups: list[list[np.ndarray]], effect, n_boot: int, level: float, seed: int):
    """Hierarchical bootstrap over networks (``groups[i]``: network i's arms, each a sample of
    seeds): the effect per network (``effect`` of the arms' means), averaged over networks; its
    point estimate and ``level`` interval."""
    rng = np.random.default_rng(seed)
    per_net = np.stack([effect(*[rng.choice(arm, size=(n_boot, len(arm))).mean(1) for arm in arms]) for arms in groups])
    pick = rng.integers(0, len(groups), size=(n_boot, len(groups)))
    replicates = per_net[pick, np.arange(n_boot)[:, None]].mean(1)
    point = float(np.mean([effect(*[arm.mean() for arm in arms]) for arms in groups]))
    lo, hi = np.quantile(replicates, [(1 - level) / 2, (1 + level) / 2])
    return point, float(lo), float(hi)


def _across(groups, effect, one_net, claim, source, n_boot, level, seed, unit, what) -> Verdict:
    groups = [[_clean(arm) for arm in arms] for arms in groups]
    if len(groups) < 2 or any(len(arm) < 2 for arms in groups for arm in arms):
        return Verdict(claim, source, INCONCLUSIVE, f"{len(groups)} {what}(s), some with fewer than 2 runs per arm: "
                       "too few to test across them")
    singles = [one_net(*arms).verdict for arms in groups]
    point, lo, hi = _nested(groups, effect, n_boot, level, seed)
    k = singles.count(REPRODUCED)
    ev = (f"effect averaged over {len(groups)} {what}s {point:+.3g}{unit}, {level:.0%} hierarchical bootstrap "
          f"interval [{lo:+.3g}, {hi:+.3g}]{unit}; tested on each {what} alone, it is reproduced with "
          f"{f'every {what}' if k == len(groups) else f'{k} {what}' + ('' if k == 1 else 's') + f' of {len(groups)}'}"
          f" (contradicted with {singles.count(NOT_REPRODUCED)})")
    verdict = REPRODUCED if lo > 0 else NOT_REPRODUCED if hi < 0 else INCONCLUSIVE
    return Verdict(claim, source, verdict, ev)


def greater_across(a_by_net, b_by_net, claim: str, source: str, n_boot: int = 10000, level: float = 0.95,
                   seed: int = 0, unit: str = "", what: str = "pretrained network") -> Verdict:
    """Claim: ``a`` is larger than ``b``, with one sample of each per network (``a_by_net[i]``,
    ``b_by_net[i]``: the finetuning seeds of network i)."""
    return _across([[a, b] for a, b in zip(a_by_net, b_by_net)], lambda a, b: a - b,
                   lambda a, b: greater(a, b, claim, source), claim, source, n_boot, level, seed, unit, what)


def smaller_gain_across(a1, b1, a2, b2, claim: str, source: str, n_boot: int = 10000, level: float = 0.95,
                        seed: int = 0, unit: str = "", what: str = "pretrained network") -> Verdict:
    """Claim: the gain (a - b) is smaller in setting 2 than in setting 1, each argument a list of
    samples by network. Reproduced while the first gain is not positive on some networks, the
    evidence names how many: on those there was no advantage to diminish (as in ``smaller_gain``)."""
    groups = [list(x) for x in zip(a1, b1, a2, b2)]
    v = _across(groups, lambda a1, b1, a2, b2: (a1 - b1) - (a2 - b2),
                lambda *x: smaller_gain(*x, claim, source, n_boot=2000, level=level, seed=seed),
                claim, source, n_boot, level, seed, unit, what)
    below = sum(_clean(a).mean() - _clean(b).mean() <= 0 for a, b, _, _ in groups)
    if v.verdict == REPRODUCED and below:
        some = f"every {what}" if below == len(groups) else f"{below} of {len(groups)} {what}s"
        v = Verdict(claim, source, v.verdict, f"{v.evidence}; but on {some} the gain was not positive in the "
                    f"first setting, so there it had no advantage to diminish")
    return v


def _interval(a: np.ndarray, b: np.ndarray, level: float) -> tuple[float, float, float]:
    """The difference of means ``a - b`` and its two-sided ``level`` interval (Welch's standard
    error and degrees of freedom)."""
    from scipy import stats

    diff = a.mean() - b.mean()
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = float(np.sqrt(va + vb))
    if se == 0:
        return diff, diff, diff
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    half = float(stats.t.ppf((1 + level) / 2, df)) * se
    return diff, diff - half, diff + half


def premised(premise: Verdict, verdict: Verdict) -> Verdict:
    """``verdict``, decided only where ``premise`` (a verdict of its own, e.g. "LR 0.01 beats LR 0.001
    in the first setting") is reproduced; otherwise *premise not met*, in both directions, with the
    premise's test and the claim's own in the evidence. A pending premise leaves it pending."""
    if premise.verdict == REPRODUCED:
        return dataclasses.replace(verdict, evidence=f"{verdict.evidence}; premise ({premise.claim}) met: "
                                                      f"{premise.evidence}")
    if PENDING in (premise.verdict, verdict.verdict):
        return verdict if verdict.verdict == PENDING else premise
    return dataclasses.replace(verdict, verdict=PREMISE, evidence=(
        f"premise ({premise.claim}) {premise.verdict}: {premise.evidence}. The claim's own test, not decided "
        f"for want of it: {verdict.evidence}"))


def _by_interval(a, b, claim: str, source: str, level: float, unit: str, margin_text: str, decide) -> Verdict:
    """A verdict decided by ``decide(lo, hi)`` from the ``level`` interval of the difference of
    means (``_interval``), the evidence ending with ``margin_text``; too few runs: inconclusive."""
    a, b = _clean(a), _clean(b)
    if (few := _too_few(a, b, claim, source, unit)) is not None:
        return dataclasses.replace(few, effect=None)
    diff, lo, hi = _interval(a, b, level)
    ev = (f"difference of means {diff:+.3g}{unit}, {level:.0%} interval [{lo:+.3g}, {hi:+.3g}]{unit} "
          f"({len(a)} vs {len(b)} runs; {margin_text})")
    return Verdict(claim, source, decide(lo, hi), ev)


def within(a, b, margin: float, claim: str, source: str, level: float = 0.90, unit: str = "") -> Verdict:
    """Claim: the values ``a`` match ``b``, their means no more than ``margin`` apart (TOST at
    (1 - level) / 2 on each side, with Welch's standard error and degrees of freedom)."""
    return _by_interval(a, b, claim, source, level, unit, f"margin ±{margin:g}{unit}", lambda lo, hi: (
        REPRODUCED if -margin < lo and hi < margin else
        NOT_REPRODUCED if lo >= margin or hi <= -margin else INCONCLUSIVE))


def not_above(a, b, margin: float, claim: str, source: str, level: float = 0.90, unit: str = "") -> Verdict:
    """Claim: the values ``a`` are no better than ``b`` ("does not help"): their mean exceeds
    ``b``'s by less than ``margin``. A one-sided test at (1 - level) / 2 (the upper end of the
    ``level`` interval of the difference, Welch): reproduced when it lies below ``margin``, not
    reproduced when the whole interval lies above it (``a`` helps by more than the margin),
    inconclusive otherwise. Unlike "b beats a", a true null can be reproduced."""
    return _by_interval(a, b, claim, source, level, unit, f"no help means below +{margin:g}{unit}", lambda lo, hi: (
        REPRODUCED if hi < margin else NOT_REPRODUCED if lo > margin else INCONCLUSIVE))


def decreasing(x, y, claim: str, source: str, min_rho: float = 0.8, alpha: float = 0.05) -> Verdict:
    """Claim: ``y`` decreases as ``x`` grows. Reproduced when Spearman's rho <= -min_rho with
    p < alpha; not reproduced when rho >= 0; inconclusive between."""
    return _monotone(x, y, -1, claim, source, min_rho, alpha)


def increasing(x, y, claim: str, source: str, min_rho: float = 0.8, alpha: float = 0.05) -> Verdict:
    """Claim: ``y`` grows with ``x``: ``decreasing`` mirrored (rho >= min_rho with p < alpha
    reproduces it, rho <= 0 does not)."""
    return _monotone(x, y, 1, claim, source, min_rho, alpha)


def _monotone(x, y, sign: int, claim: str, source: str, min_rho: float, alpha: float) -> Verdict:
    from scipy import stats

    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:  # no ranking to test
        return Verdict(claim, source, INCONCLUSIVE, f"{len(x)} points{' with no spread' if len(x) >= 3 else ''}: "
                       "too few to rank")
    res = stats.spearmanr(x, y)
    rho, p = float(res.statistic), float(res.pvalue)
    ev = f"Spearman rho = {rho:+.2f} ({p_phrase(p)}) over {len(x)} points"
    verdict = REPRODUCED if sign * rho >= min_rho and p < alpha else NOT_REPRODUCED if sign * rho <= 0 else INCONCLUSIVE
    if verdict == INCONCLUSIVE and p < alpha:  # significant, but short of the strength the rule asks for
        ev += f", short of the rho {'>= +' if sign > 0 else '<= -'}{min_rho:g} this rule asks of a trend"
    elif verdict == NOT_REPRODUCED and p >= alpha:  # the wrong sign, not significantly: the rule says so itself
        ev += ", not significant: this rule counts a trend of the wrong sign against the claim without a test"
    return Verdict(claim, source, verdict, ev)


def sign_test(effects) -> tuple[int, int, float]:
    """Across a sweep: how many points' effects lean towards a claim (positive), of those that lean
    either way, and the two-sided sign test's p (the binomial at 1/2; ties left out)."""
    from scipy import stats

    x = [e for e in effects if e is not None and np.isfinite(e) and e != 0]
    k = sum(e > 0 for e in x)
    return k, len(x), (float(stats.binomtest(k, len(x), 0.5).pvalue) if x else 1.0)


def at_most(per_point: list[tuple[float, Verdict]], claim: str, source: str, what: str = "ratio",
            effects: list[float] | None = None) -> Verdict:
    """Claim: something holds "at most" points (pruning ratios), each decided by its own verdict.
    Reproduced when it is reproduced at more than half of them; not reproduced when it is
    contradicted (``not reproduced``) at more than half; inconclusive otherwise (a tie too, either
    way: issue 38). With ``effects`` (each point's effect, positive in the claimed direction; by
    default each point's verdict's own ``effect``, which ``greater`` sets) the evidence opens with
    the sweep as a whole: a sign test over the points (``sign_test``), and
    whether the claim leans towards or against (significantly, or not: low power) whatever the
    per-point verdicts say; it informs the reader, the verdict stays the per-point count's. A pending point makes
    the whole claim pending."""
    if any(v.verdict == PENDING for _, v in per_point):
        return Verdict(claim, source, PENDING, "waiting for runs at " + ", ".join(f"{x:g}" for x, v in per_point
                                                                                  if v.verdict == PENDING))
    by = {k: [x for x, v in per_point if v.verdict == k] for k in (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE)}
    n = len(per_point)

    def at(xs):
        return ", ".join(f"{x:g}" for x in xs) or "none"

    details = "; ".join(f"{what} {x:g}: {v.evidence}" for x, v in per_point)
    whats = what[:-1] + "ies" if what.endswith("y") else what + "s"
    ev = (f"holds at {len(by[REPRODUCED])} of {n} {whats} ({at(by[REPRODUCED])}), is contradicted at "
          f"{at(by[NOT_REPRODUCED])}, undecided at {at(by[INCONCLUSIVE])}. Per {what}: {details}")
    verdict = (REPRODUCED if 2 * len(by[REPRODUCED]) > n else NOT_REPRODUCED if 2 * len(by[NOT_REPRODUCED]) > n
               else INCONCLUSIVE)
    if effects is None and all(v.effect is not None for _, v in per_point):
        effects = [v.effect for _, v in per_point]  # each point's ``greater``: its difference of means
    if effects is not None:  # across the sweep, beside the per-point count (issue 38)
        k, m, p = sign_test(effects)
        side = "towards" if 2 * k > m else "against" if 2 * k < m else None
        lean = ("no lean either way" if side is None else f"leans {side} the claim" if p < ALPHA
                else f"leans {side} the claim, not significantly (low power)")
        ev = f"across the sweep, {k} of {m} {whats} in the claimed direction (sign test {p_phrase(p)}): {lean}. " + ev
    return Verdict(claim, source, verdict, ev)


def table(verdicts: list[Verdict]):
    """The verdicts as a pandas DataFrame (one row per claim)."""
    import pandas as pd

    return pd.DataFrame([v.as_row() for v in verdicts])


def _counts(verdicts: list[Verdict], noun: str, markdown: bool) -> str:
    from collections import Counter

    n, count = len(verdicts), Counter(v.verdict for v in verdicts)
    head = f"{n} {noun}{'' if n == 1 else 's'}:"
    counts = [f"{count[kind]} {kind}" for kind in MARKS if count[kind]]
    return f"{f'**{head}**' if markdown else head} {', '.join(counts) if counts else 'none yet'}"


def summary(verdicts: list[Verdict], markdown: bool = False) -> str:
    """How many claims and how each fell, in a fixed order (reproduced, not reproduced,
    inconclusive, pending; kinds with none left out): "24 claims: 9 reproduced, 9 inconclusive,
    6 pending"; the claims beyond the paper counted among them and said apart ("(3 beyond the
    paper)"), and the checks that hold by construction counted apart ("; 2 checks: 2 reproduced").
    ``markdown``: the counts in bold, as a page's verdict section opens."""
    tested = [v for v in verdicts if v.kind != CHECK]
    checks = [v for v in verdicts if v.kind == CHECK]
    out = _counts(tested, "claim", markdown) if tested or not checks else ""
    beyond = sum(v.kind == BEYOND for v in tested)
    if beyond:
        out += f" ({beyond} beyond the paper)"
    if checks:
        out += ("; " if out else "") + _counts(checks, "check", markdown) + " (by construction)"
    return out


def chance(verdicts: list[Verdict]) -> str:
    """How many of ``verdicts`` (checks aside) a rule at the 5 % level may decide by chance alone:
    each decides a true null wrongly with probability ``ALPHA``, and no correction for the page's
    number of tests is applied, so up to about ``ALPHA`` times the tested claims."""
    n = sum(v.kind != CHECK and v.verdict != PENDING for v in verdicts)
    if not n:
        return ""
    return (f"Each rule decides at the {ALPHA:.0%} level, with no correction for the number of claims: of these "
            f"{n} tested claims, up to about {ALPHA * n:.1f} could be decided by chance alone.")


def show(verdicts: list[Verdict]) -> None:
    """A page's verdict section: the counts (``summary``) and what chance may decide (``chance``),
    then each verdict."""
    from IPython.display import Markdown, display

    display(Markdown(" ".join(filter(None, [summary(verdicts, markdown=True) + ".", chance(verdicts)]))))
    for v in verdicts:
        display(v)
