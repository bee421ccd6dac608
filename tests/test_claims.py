import warnings

import numpy as np
import pytest

from dipcore.book import claims


def test_greater():
    rng = np.random.default_rng(0)
    hi, lo = 92 + 0.05 * rng.standard_normal(5), 91 + 0.05 * rng.standard_normal(5)
    assert claims.greater(hi, lo, "c", "s").verdict == claims.REPRODUCED
    assert claims.greater(lo, hi, "c", "s").verdict == claims.NOT_REPRODUCED
    same = 91 + 0.5 * rng.standard_normal(5)
    assert claims.greater(same, same[::-1] + 0.01, "c", "s").verdict == claims.INCONCLUSIVE
    assert claims.greater([92.0], [91.0], "c", "s").verdict == claims.INCONCLUSIVE  # one run each


def test_greater_without_spread_on_either_side_is_decided_by_the_exact_permutation_test():
    """An epoch count at a per-epoch resolution: every run of a side alike, so Welch's t is undefined.
    5 runs a side, all above: p = 2/252 (decided); 3 a side: p = 0.1 (not); the same on both: p = 1."""
    from scipy import stats

    five = claims.greater([2.0] * 5, [1.0] * 5, "c", "s")
    assert five.verdict == claims.REPRODUCED and "permutation test, p = 0.0079" in five.evidence
    assert "Welch" not in five.evidence
    assert stats.mannwhitneyu([2.0, 2.1, 2.2, 2.3, 2.4], [1.0, 1.1, 1.2, 1.3, 1.4], method="exact").pvalue \
        == pytest.approx(2 / 252)  # the same p, where the runs do spread and no value ties
    assert claims.greater([1.0] * 5, [2.0] * 5, "c", "s").verdict == claims.NOT_REPRODUCED
    assert claims.greater([2.0] * 3, [1.0] * 3, "c", "s").verdict == claims.INCONCLUSIVE
    assert "p = 0.1" in claims.greater([2.0] * 3, [1.0] * 3, "c", "s").evidence
    assert claims.greater([2.0] * 5, [2.0] * 5, "c", "s").verdict == claims.INCONCLUSIVE


def test_a_p_value_beside_the_decision_level_is_printed_so_that_it_reads_on_its_side():
    """"p = 0.05" beside "inconclusive" leaves the reader to guess which side of 0.05 it fell."""
    assert claims.p_phrase(0.0503) == "p = 0.0503" and claims.p_phrase(0.0496) == "p = 0.0496"
    assert claims.p_phrase(0.048) == "p = 0.048" and claims.p_phrase(0.33) == "p = 0.33"
    assert claims.p_phrase(0.0004) == "p < 0.001"


def test_greater_with_one_constant_sample_is_tested_quietly():
    # every run stuck at chance after one epoch (Table 3, ratio 0.9, LR 0.001): a Welch test on the other spread
    stuck, moved = [10.0] * 5, [50.29, 49.64, 49.10, 51.77, 51.43]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        v = claims.greater(moved, stuck, "c", "s")
    assert v.verdict == claims.REPRODUCED and "Welch p < 0.001" in v.evidence


def test_smaller_gain():
    a1, b1 = [92.0, 92.1, 91.9, 92.0, 92.05], [90.0, 90.1, 89.9, 90.0, 90.05]  # gain 2
    a2, b2 = [92.0, 92.1, 91.9, 92.0, 92.05], [91.9, 92.0, 91.8, 91.9, 91.95]  # gain 0.1
    assert claims.smaller_gain(a1, b1, a2, b2, "c", "s").verdict == claims.REPRODUCED
    assert claims.smaller_gain(a2, b2, a1, b1, "c", "s").verdict == claims.NOT_REPRODUCED
    assert claims.smaller_gain(a1, b1, a1, b1, "c", "s").verdict == claims.INCONCLUSIVE


def test_a_smaller_gain_that_was_never_an_advantage_says_so():
    """LeNet-5-ReLU's Table 7 case: LR 0.01 is behind LR 0.001 after 90 epochs and further behind
    after 900. The gain falls (reproduced, as the claim is worded), but the evidence must say that
    there was no advantage to diminish; a gain that falls from above zero carries no such remark."""
    b = [90.0, 90.1, 89.9, 90.0, 90.05]
    behind, further = [x - 0.4 for x in b], [x - 1.3 for x in b]
    v = claims.smaller_gain(behind, b, further, b, "c", "s", unit=" points")
    assert v.verdict == claims.REPRODUCED
    assert "gain -0.4 points in the first setting, -1.3 points in the second" in v.evidence
    assert "no advantage to diminish" in v.evidence
    ahead = [x + 0.4 for x in b]
    v = claims.smaller_gain(ahead, b, further, b, "c", "s")
    assert v.verdict == claims.REPRODUCED and "no advantage" not in v.evidence
    assert "no advantage" not in claims.smaller_gain(further, b, behind, b, "c", "s").evidence  # the gain grew


def test_a_smaller_gain_across_networks_names_those_where_it_was_never_an_advantage():
    """Across networks (the robustness page's verdicts), a gain that falls everywhere is reproduced;
    where on some networks the first gain was not positive, the evidence says on how many; on none,
    no remark."""
    b = np.array([90.0, 90.1, 89.9, 90.0, 90.05])
    ahead = [b + 2.0, b + 1.5, b - 0.4]  # three networks: ahead, ahead, already behind
    fallen = [b - 0.5, b - 1.0, b - 1.3]
    v = claims.smaller_gain_across(ahead, [b] * 3, fallen, [b] * 3, "c", "s")
    assert v.verdict == claims.REPRODUCED
    assert v.evidence.endswith("; but on 1 of 3 pretrained networks the gain was not positive in the first setting, "
                               "so there it had no advantage to diminish")
    behind = [b - 0.4, b - 0.3, b - 0.2]
    v = claims.smaller_gain_across(behind, [b] * 3, fallen, [b] * 3, "c", "s")
    assert v.verdict == claims.REPRODUCED and "but on every pretrained network the gain was not positive" in v.evidence
    v = claims.smaller_gain_across(ahead[:2], [b] * 2, fallen[:2], [b] * 2, "c", "s")
    assert v.verdict == claims.REPRODUCED and "no advantage" not in v.evidence
    v = claims.smaller_gain_across(fallen, [b] * 3, behind, [b] * 3, "c", "s")  # the gain grew: no remark
    assert v.verdict == claims.NOT_REPRODUCED and "no advantage" not in v.evidence


def test_decreasing():
    x = np.linspace(0, 0.9, 10)
    assert claims.decreasing(x, 1 - x, "c", "s").verdict == claims.REPRODUCED
    assert claims.decreasing(x, x, "c", "s").verdict == claims.NOT_REPRODUCED
    v = claims.decreasing(x, [1, 0.9, 1.1, 0.8, 1.2, 0.9, 0.95, 1.0, 0.85, 0.9], "c", "s")
    assert v.verdict == claims.INCONCLUSIVE
    assert "Spearman" in v.evidence and v._repr_markdown_() == f"**➖ inconclusive** — c (s). {v.evidence}"
    assert list(claims.table([v]).columns) == ["claim", "paper", "kind", "verdict", "evidence"]
    assert "short of" not in v.evidence  # not significant: the p says why


def test_a_significant_but_weak_trend_says_which_part_of_the_rule_it_misses():
    """Figure 1's MLP-7-ReLU distance on MNIST: rho +0.78 with p = 0.0075 is inconclusive, because
    the rule asks rho >= 0.8 too; the evidence must say so, or p beside "inconclusive" reads wrong."""
    x, weak = np.arange(10.0), np.array([3, 0, 1, 5, 2, 4, 9, 6, 8, 7.0])  # rho +0.79, p = 0.0061
    v = claims.increasing(x, weak, "c", "s")
    assert v.verdict == claims.INCONCLUSIVE and "rho = +0.79 (p = 0.0061)" in v.evidence
    assert "short of the rho >= +0.8 this rule asks of a trend" in v.evidence
    w = claims.decreasing(x, -weak, "c", "s")
    assert w.verdict == claims.INCONCLUSIVE and "short of the rho <= -0.8" in w.evidence
    strong = claims.increasing(x, [0, 2, 1, 4, 3, 5, 9, 6, 7, 8.0], "c", "s")  # rho +0.9
    assert strong.verdict == claims.REPRODUCED and "short of" not in strong.evidence
    # the wrong sign without significance is not reproduced by this rule's own terms, said so
    against = claims.increasing(x, [4, 3, 9, 0, 5, 1, 2, 8, 6, 7.0][::-1], "c", "s")
    assert against.verdict == claims.NOT_REPRODUCED and "without a test" in against.evidence
    assert "without a test" not in claims.increasing(x, -x, "c", "s").evidence  # significant: the p says it


def test_pending_is_a_verdict_of_its_own():
    v = claims.pending("H1 on MLP-7", "§3.3", 12, 20, "python -m dipcore compute table3")
    assert v.verdict == claims.PENDING and v.verdict in claims.VERDICTS
    assert v.evidence == ("12 of 20 runs in the store; the rest are not stored yet "
                          "(python -m dipcore compute table3)")
    assert v._repr_markdown_().startswith("**⏳ pending** — H1 on MLP-7 (§3.3).")


def test_within_asks_for_an_interval_inside_the_margin():
    rng = np.random.default_rng(0)
    close = rng.normal(80, 0.2, 20), rng.normal(80.1, 0.2, 20)
    assert claims.within(*close, 1.0, "c", "s").verdict == claims.REPRODUCED
    far = rng.normal(80, 0.2, 20), rng.normal(83, 0.2, 20)
    assert claims.within(*far, 1.0, "c", "s").verdict == claims.NOT_REPRODUCED
    # equal means but too noisy to exclude a 1-point difference: no significant difference, yet no match
    noisy = np.array([70.0, 90.0, 75.0]), np.array([88.0, 72.0, 80.0])
    assert claims.within(*noisy, 1.0, "c", "s").verdict == claims.INCONCLUSIVE
    assert claims.greater(*noisy, "c", "s").verdict == claims.INCONCLUSIVE
    # the interval: Welch's, at 90 %
    v = claims.within(np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 1.0]), 5.0, "c", "s")
    from scipy import stats
    half = stats.t.ppf(0.95, 2) * np.sqrt(1 / 3)
    assert f"[{1 - half:+.3g}, {1 + half:+.3g}]" in v.evidence and v.verdict == claims.REPRODUCED
    assert claims.within([1.0], [1.0, 2.0], 1.0, "c", "s").verdict == claims.INCONCLUSIVE


def _nets(effects, sd, n=5, seed=0, base=80.0):
    rng = np.random.default_rng(seed)
    return ([rng.normal(base + e, sd, n) for e in effects], [rng.normal(base, sd, n) for _ in effects])


def test_across_networks_finds_an_effect_the_one_network_test_misses():
    # the book's network (index 0) happens to show almost no effect; the others show +1 point
    a, b = _nets([0.02, 1.0, 0.9, 1.1, 1.0], sd=0.4)
    assert claims.greater(a[0], b[0], "c", "s").verdict == claims.INCONCLUSIVE
    v = claims.greater_across(a, b, "c", "s", unit=" points")
    assert v.verdict == claims.REPRODUCED
    assert "with 4 pretrained networks of 5" in v.evidence or "with 3 pretrained networks of 5" in v.evidence


def test_across_networks_refuses_what_one_network_shows_by_chance():
    # network 0 shows a clear effect; across networks the effect averages out
    a, b = _nets([1.5, -1.2, 0.3, -1.0, 0.4], sd=0.1)
    assert claims.greater(a[0], b[0], "c", "s").verdict == claims.REPRODUCED
    v = claims.greater_across(a, b, "c", "s")
    assert v.verdict == claims.INCONCLUSIVE and "contradicted with 2" in v.evidence
    # and one that holds with every network
    a, b = _nets([1.0, 1.1, 0.9, 1.0, 1.2], sd=0.1)
    assert "with every pretrained network" in claims.greater_across(a, b, "c", "s").evidence


def test_smaller_gain_across_networks_and_its_interval_is_over_networks():
    rng = np.random.default_rng(1)
    gains1, gains2 = [2.0, 2.5, 1.5, 2.2], [0.5, 0.4, 0.8, 0.3]
    a1 = [rng.normal(80 + g, 0.2, 5) for g in gains1]
    a2 = [rng.normal(80 + g, 0.2, 5) for g in gains2]
    b1 = [rng.normal(80, 0.2, 5) for _ in gains1]
    b2 = [rng.normal(80, 0.2, 5) for _ in gains2]
    v = claims.smaller_gain_across(a1, b1, a2, b2, "c", "s")
    assert v.verdict == claims.REPRODUCED and "with every pretrained network" in v.evidence
    point = np.mean([(x.mean() - y.mean()) - (z.mean() - w.mean()) for x, y, z, w in zip(a1, b1, a2, b2)])
    assert f"{point:+.3g}" in v.evidence
    assert claims.greater_across([a1[0]], [b1[0]], "c", "s").verdict == claims.INCONCLUSIVE  # one network: no test


def test_a_summary_counts_each_kind_of_verdict_in_a_fixed_order():
    v = [claims.Verdict(str(i), "§4", kind, "") for i, kind in
         enumerate([claims.PENDING, claims.INCONCLUSIVE, claims.REPRODUCED, claims.PENDING, claims.REPRODUCED,
                    claims.REPRODUCED])]
    assert claims.summary(v) == "6 claims: 3 reproduced, 1 inconclusive, 2 pending"  # none "not reproduced": left out
    assert claims.summary(v, markdown=True) == "**6 claims:** 3 reproduced, 1 inconclusive, 2 pending"
    assert claims.summary(v[1:2]) == "1 claim: 1 inconclusive"
    assert claims.summary([]) == "0 claims: none yet"


def test_a_tie_at_most_points_is_inconclusive_whichever_way_it_leans():
    """Issue 38: ``at_most`` needed more than half of the points to reproduce a claim but only half
    to reject it (MLP-7-Tanh was decided by 2 of 4). Ties are inconclusive either way."""
    R, N, I = (claims.Verdict("c", "s", k, "") for k in (claims.REPRODUCED, claims.NOT_REPRODUCED, claims.INCONCLUSIVE))

    def at(*vs):
        return claims.at_most(list(enumerate(vs)), "c", "s").verdict

    assert at(N, N, R, R) == at(R, R, N, N) == at(N, I) == at(R, I) == claims.INCONCLUSIVE
    assert at(R, R, R, N) == at(R, R, I) == claims.REPRODUCED
    assert at(N, N, N, R) == at(N, N, I) == claims.NOT_REPRODUCED


def test_checks_and_questions_beyond_the_paper_are_counted_apart():
    """Issue 38: a statement that holds by construction is a check, not a confirmation of the
    paper; the book's own questions are counted among the claims but said apart."""
    v = [claims.Verdict("a", "s", claims.REPRODUCED, ""), claims.Verdict("b", "s", claims.INCONCLUSIVE, ""),
         claims.Verdict("c", "s", claims.REPRODUCED, "", claims.BEYOND),
         claims.Verdict("d", "s", claims.REPRODUCED, "").as_kind(claims.CHECK),
         claims.Verdict("e", "s", claims.PENDING, "", claims.CHECK)]
    assert claims.summary(v) == ("3 claims: 2 reproduced, 1 inconclusive (1 beyond the paper); "
                                 "2 checks: 1 reproduced, 1 pending (by construction)")
    assert claims.summary(v[3:4]) == "1 check: 1 reproduced (by construction)"
    assert claims.table(v).kind.tolist() == ["claim", "claim", "beyond the paper", "check (holds by construction)",
                                             "check (holds by construction)"]
    assert "*(a check: holds by construction)*" in v[3]._repr_markdown_()
    with pytest.raises(ValueError, match="unknown kind of verdict 'proof'"):
        v[0].as_kind("proof")
    # what chance may decide: 5 % of the decided claims, checks and pending ones aside
    assert claims.chance(v) == ("Each rule decides at the 5% level, with no correction for the number of claims: "
                                "of these 3 tested claims, up to about 0.2 could be decided by chance alone.")
    assert claims.chance(v[3:]) == ""


def test_does_not_help_is_an_equivalence_a_true_null_can_pass():
    """Issue 38: "OrthP does not help" was decided as "without beats with", so a true null could
    only come out inconclusive. ``not_above``: reproduced when the 90 % interval's upper end lies
    below the margin, refuted when its lower end lies above it."""
    rng = np.random.default_rng(0)
    without = 90 + 0.05 * rng.standard_normal(5)
    same = 90 + 0.05 * rng.standard_normal(5)
    assert claims.greater(without, same, "c", "s").verdict == claims.INCONCLUSIVE  # the old reading
    assert claims.not_above(same, without, 0.21, "c", "s").verdict == claims.REPRODUCED
    assert claims.not_above(same - 1, without, 0.21, "c", "s").verdict == claims.REPRODUCED  # worse: no help either
    assert claims.not_above(same + 1, without, 0.21, "c", "s").verdict == claims.NOT_REPRODUCED  # it helps
    noisy = 90.2 + 1.0 * rng.standard_normal(5)
    assert claims.not_above(noisy, without, 0.21, "c", "s").verdict == claims.INCONCLUSIVE
    v = claims.not_above(same, without, 0.21, "c", "s", unit=" points")
    assert "90% interval" in v.evidence and "no help means below +0.21 points" in v.evidence
    assert claims.not_above([90.0], without, 0.21, "c", "s").verdict == claims.INCONCLUSIVE  # too few runs


def test_a_premise_decides_whether_a_claim_is_decided():
    R, N, I, P = claims.REPRODUCED, claims.NOT_REPRODUCED, claims.INCONCLUSIVE, claims.PENDING

    def v(state, what="c"):
        return claims.Verdict(what, "s", state, f"{what} evidence")

    for premise in (N, I):
        for own in (R, N, I):  # symmetric: whichever way the claim itself falls
            out = claims.premised(v(premise, "p"), v(own))
            assert out.verdict == claims.PREMISE and out.claim == "c" and "p evidence" in out.evidence
    assert claims.premised(v(R, "p"), v(N)).verdict == N
    assert claims.premised(v(P, "p"), v(R)).verdict == P and claims.premised(v(R, "p"), v(P)).verdict == P
    assert claims.MARKS[claims.PREMISE] and claims.PREMISE in claims.VERDICTS


def test_a_sweep_claim_says_how_the_whole_sweep_leans():
    """Issue 38: with 3 seeds each point of a sweep is tested with few degrees of freedom; several
    "inconclusive at most ratios" pointed the same way at every ratio, others against. The
    evidence now opens with a sign test over the points, and says which way the sweep leans,
    significantly or not (low power); the verdict stays the per-point count's."""
    I = claims.Verdict("c", "s", claims.INCONCLUSIVE, "e")
    six = [(r, I) for r in range(6)]
    towards = claims.at_most(six, "c", "s", effects=[0.3, 0.2, 0.5, 0.1, 0.4, 0.2])
    assert towards.verdict == claims.INCONCLUSIVE
    assert towards.evidence.startswith("across the sweep, 6 of 6 ratios in the claimed direction (sign test p = 0.031): "
                                       "leans towards the claim.")
    against = claims.at_most(six, "c", "s", effects=[-0.3, -0.2, -0.5, -0.1, -0.4, 0.2])
    assert "1 of 6 ratios" in against.evidence and "leans against the claim, not significantly (low power)" in against.evidence
    assert "no lean either way" in claims.at_most(six[:2], "c", "s", effects=[0.1, -0.1]).evidence
    assert claims.at_most(six, "c", "s").evidence.startswith("holds at 0 of 6")  # without effects, as before
    assert claims.sign_test([1.0, 0.0, None, -2.0]) == (1, 2, 1.0)
