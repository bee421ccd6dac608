"""Our cell beside the paper's same cell (issue 33): does a mean of our runs agree with the mean
(std) the paper prints for the same setting, within the run-to-run noise of both?

The paper prints each cell of Tables 1, 3 and 7 as "mean (std)" over 5 runs ("each setting is
randomly run 5 times"); it does not say which std. We assume the **population** std (numpy's
``np.std``, ddof 0, the default of the tools the authors' code uses) and turn it into the sample
std Welch's test needs (``s = sigma * sqrt(n / (n - 1))``); with the sample std instead, ``s``
would be about 11 % smaller for n = 5 and the test slightly stricter. Our runs' std is computed
from the runs themselves. The test is Welch's t-test from summary statistics
(``scipy.stats.ttest_ind_from_stats``, unequal variances): a cell *agrees* when p >= alpha. With
a std of 0.00 printed (rounded), the paper's side is taken as exact and only our spread counts.

Table 1 is different: the paper measured one orthogonal initialisation, and its "(std)" is the
spread of that network's JSVs, not a spread over runs; ``draw`` asks whether its value could be one
more of our seeds (a prediction interval).

Agreement is not equivalence: a cell with large spread agrees easily. ``cell`` therefore also
returns the difference of means, which a page shows beside p.
"""
from __future__ import annotations

import math

import numpy as np

from . import claims

PAPER_RUNS = 5  # "each setting is randomly run 5 times"


def _ours(ours, paper_mean: float, paper_std: float | None) -> tuple[np.ndarray, dict]:
    """Our runs' values (missing and non-finite ones left out) and a cell's fields before its
    test: our mean, std (ddof 1), n, the paper's numbers and the difference; p and agree None."""
    x = np.asarray([v for v in ours if v is not None and np.isfinite(v)], dtype=float)
    return x, {"mean": float(x.mean()) if len(x) else math.nan, "std": float(x.std(ddof=1)) if len(x) > 1 else math.nan,
               "n": int(len(x)), "paper_mean": float(paper_mean), "paper_std": paper_std,
               "difference": float(x.mean() - paper_mean) if len(x) else math.nan, "p": None, "agree": None}


def cell(ours, paper_mean: float, paper_std: float | None, paper_n: int = PAPER_RUNS, paper_ddof: int = 0,
         alpha: float = 0.05) -> dict:
    """Our runs' values ``ours`` against the paper's ``paper_mean`` (``paper_std``, over
    ``paper_n`` runs, a std with ``paper_ddof``): our mean, std (ddof 1) and n, the difference
    (ours - paper), Welch's p and whether they agree (p >= ``alpha``). With fewer than 2 of our
    runs or no printed std, p and agree are None."""
    from scipy import stats

    x, out = _ours(ours, paper_mean, paper_std)
    if len(x) < 2 or paper_std is None or (isinstance(paper_std, float) and math.isnan(paper_std)):
        return out
    s_paper = float(paper_std) * math.sqrt((paper_n - paper_ddof) / (paper_n - 1))  # as a sample std (ddof 1)
    s_ours = out["std"]
    if s_paper == 0 and s_ours == 0:
        p = 1.0 if out["difference"] == 0 else 0.0
    elif s_paper == 0:  # the paper's side exact: a one-sample t-test of our runs against its mean
        p = float(stats.ttest_1samp(x, paper_mean).pvalue)
    else:
        p = float(stats.ttest_ind_from_stats(out["mean"], s_ours, len(x), paper_mean, s_paper, paper_n,
                                             equal_var=False).pvalue)
    out.update(p=p, agree=p >= alpha)
    return out


def draw(ours, paper_value: float, alpha: float = 0.05, resolution: float = 0.0) -> dict:
    """Our runs' values ``ours`` against a value the paper measured on **one** draw of the same
    random process (Table 1: one orthogonal initialisation; its printed "(std)" is the spread of
    the JSVs within that one network, not across runs): could the paper's value be one more of our
    seeds? The prediction-interval t-test, ``t = (paper - mean) / (s * sqrt(1 + 1/n))`` with
    ``n - 1`` degrees of freedom. The printed value is known to ``resolution`` only (half a unit of
    its last digit: 5e-5 for four decimals), so the test is against the nearest value it may stand
    for (a difference within it counts as none); with no spread among our runs it agrees only when
    equal to that. Same fields as ``cell``."""
    from scipy import stats

    x, out = _ours(ours, paper_value, None)
    if len(x) < 2:
        return out
    gap = max(0.0, abs(out["difference"]) - resolution)  # to the nearest value the printed one stands for
    if gap == 0:
        p = 1.0
    elif out["std"] == 0:
        p = 0.0
    else:
        t = gap / (out["std"] * math.sqrt(1 + 1 / len(x)))
        p = float(2 * stats.t.sf(abs(t), len(x) - 1))
    out.update(p=p, agree=p >= alpha)
    return out


def summary(cells: dict[str, dict], unit: str = " points", test: str = "Welch") -> str:
    """One line for a table: how many of its decided cells agree within noise (by ``test``), and
    which differ, by how much (largest first)."""
    decided = {k: c for k, c in cells.items() if c["agree"] is not None}
    differ = sorted(((k, c) for k, c in decided.items() if not c["agree"]), key=lambda kc: -abs(kc[1]["difference"]))
    line = f"{len(decided) - len(differ)} of {len(decided)} cells agree with the paper's within noise ({test}, p >= 0.05)"
    if len(decided) < len(cells):
        line += f"; {len(cells) - len(decided)} not tested (too few runs or no printed std)"
    if differ:
        line += "; differ: " + ", ".join(f"{k} ({c['difference']:+.2f}{unit}, {claims.p_phrase(c['p'])})"
                                         for k, c in differ)
    return line + "."
