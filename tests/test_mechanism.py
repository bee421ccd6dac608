"""The paper's mechanism as claims (issue 38, ``dipcore.book.mechanism``): a distance from isometry
that does not reward shrinking, and the four rules decided on made-up curves whose answer is known."""
import json
from pathlib import Path

import numpy as np
import pytest

from dipcore import isometry_distance
from dipcore.book import claims, evidence, grids, mechanism, paper

ROOT = Path(__file__).resolve().parents[1] / "chapters"


def test_the_distance_from_isometry_counts_shrinking_and_growing_alike():
    assert isometry_distance(1.0) == 0
    assert isometry_distance(10.0) == pytest.approx(1) and isometry_distance(0.1) == pytest.approx(1)
    # a mean JSV of 5 pruned down to 0.2 is no nearer to isometry, though it "fell towards 1" and past it
    assert isometry_distance(0.2) == pytest.approx(isometry_distance(5.0))
    assert isometry_distance([0.5, 2.0]).tolist() == pytest.approx([np.log10(2)] * 2)


def _frame(net="mlp7-relu", jsv=None, acc=None, orthp_start=1.0, drop=()):
    """Table 3's 90-epoch settings for one network at ratio 0.9, 5 seeds (the book's): ``jsv(lr, seed)`` and
    ``acc(lr, seed)`` give each run's per-epoch curves (no OrthP); OrthP runs start at
    ``orthp_start``; the runs of ``drop`` (setting, lr) are not stored."""
    labelled = [(lab, s) for lab, s in grids.labelled_hypotheses(net, "mnist", "paper", (0.9,), tuple(range(5)))
                if lab["setting"] in ("90 epochs", "OrthP, 90 epochs")]
    recs = []
    for i, (lab, spec) in enumerate(labelled):
        if (lab["setting"], lab["lr"]) in drop:
            recs.append(None)
            continue
        if lab["setting"] == "90 epochs":
            j, a = list(jsv(lab["lr"], lab["seed"])), list(acc(lab["lr"], lab["seed"]))
        else:
            j, a = [orthp_start, 1.5, 2.0], [10.0, 80.0, 90.0]
        recs.append({"key": f"k{i}", "spec": spec, "status": "ok", "final_acc": a[-1], "best_acc": max(a),
                     "metrics": {"test_acc": a, "jsv_mean": j}})
    return evidence.runs_frame(labelled, recs)


def _by_rule(verdicts):
    """The five verdicts of one ratio, by what they claim."""
    towards_hi, towards_lo, sooner, starts, gaps = verdicts
    assert "LR 0.01" in towards_hi.claim and "ends nearer to isometry" in towards_lo.claim
    assert "fewer epochs" in sooner.claim and "after OrthP" in starts.claim and "accuracy gap" in gaps.claim
    return towards_hi, towards_lo, sooner, starts, gaps


def _noise(seed, n, scale=0.01):
    return scale * np.random.default_rng(seed).standard_normal(n)


def test_the_mechanism_as_the_paper_tells_it_is_reproduced():
    """Pruning leaves mean JSV at 0.001; LR 0.01 brings it within a factor of 2 after 1 epoch, LR
    0.001 after 3; the accuracy gap closes with the distance gap; OrthP starts at 1."""
    curves = {0.01: [1e-3, 1.5, 1.2, 1.1, 1.1, 1.05], 0.001: [1e-3, 0.01, 0.1, 0.6, 0.9, 1.0]}
    accs = {0.01: [10, 80, 85, 88, 89, 90], 0.001: [10, 20, 40, 70, 85, 89.5]}
    frame = _frame(jsv=lambda lr, s: np.array(curves[lr]) * (1 + _noise(s, 6)),
                   acc=lambda lr, s: np.array(accs[lr]) + _noise(s + 10 + int(lr * 1000), 6, 3.0))
    towards_hi, towards_lo, sooner, starts, gaps = _by_rule(mechanism.verdicts(frame))
    assert towards_hi.verdict == towards_lo.verdict == claims.REPRODUCED
    assert sooner.verdict == claims.REPRODUCED and "1.0 at LR 0.01, 3.0 at LR 0.001" in sooner.evidence
    assert starts.verdict == claims.REPRODUCED and starts.kind == claims.CLAIM  # ReLU: OrthP is not exact there
    assert gaps.verdict == claims.REPRODUCED and "t-test" in gaps.evidence  # each LR its own noise: rhos differ


def test_a_mean_jsv_that_shrinks_past_1_is_not_called_a_recovery():
    """Mean JSV 5 after pruning, 0.1 after finetuning: it fell, but ends farther from isometry."""
    frame = _frame(jsv=lambda lr, s: np.array([5.0, 2.0, 0.5, 0.2, 0.1]) * (1 + _noise(s, 5)),
                   acc=lambda lr, s: np.array([10, 50, 60, 70, 80.0]) + _noise(s, 5))
    towards_hi, towards_lo, *_ = _by_rule(mechanism.verdicts(frame))
    assert towards_hi.verdict == towards_lo.verdict == claims.NOT_REPRODUCED


def test_the_larger_lr_arriving_later_and_gaps_moving_apart_are_not_reproduced():
    curves = {0.01: [1e-3, 1e-3, 0.01, 0.1, 1.0], 0.001: [1e-3, 0.9, 1.0, 1.0, 1.0]}
    # the accuracy gap grows while the distance gap closes
    accs = {0.01: [10, 50, 60, 70, 80], 0.001: [10, 50, 55, 57, 58]}
    frame = _frame(jsv=lambda lr, s: np.array(curves[lr]) * (1 + _noise(s, 5)),
                   acc=lambda lr, s: np.array(accs[lr], dtype=float) + _noise(s + 5 + int(lr * 1000), 5, 3.0),
                   orthp_start=0.3)
    _, _, sooner, starts, gaps = _by_rule(mechanism.verdicts(frame))
    assert sooner.verdict == claims.NOT_REPRODUCED
    assert starts.verdict == claims.NOT_REPRODUCED and "0.3 after OrthP" in starts.evidence
    assert gaps.verdict == claims.NOT_REPRODUCED and "t-test" in gaps.evidence


def test_gaps_alike_in_every_pair_are_tested_exactly_not_taken_as_certain():
    """Curves without noise give every pair of runs the same rho: a t-test has no spread to work
    with, so the exact sign-flip test decides, which 5 pairs alike cannot pass (p = 2/32 = 0.0625)."""
    curves = {0.01: [1e-3, 1.5, 1.2, 1.1, 1.1, 1.05], 0.001: [1e-3, 0.01, 0.1, 0.6, 0.9, 1.0]}
    accs = {0.01: [10, 80, 85, 88, 89, 90], 0.001: [10, 20, 40, 70, 85, 89.5]}
    frame = _frame(jsv=lambda lr, s: np.array(curves[lr]), acc=lambda lr, s: np.array(accs[lr], dtype=float))
    gaps = _by_rule(mechanism.verdicts(frame))[4]
    assert gaps.verdict == claims.INCONCLUSIVE and gaps.effect > 0
    assert "all alike, so the exact sign-flip test, p = 0.062" in gaps.evidence


def test_a_run_that_never_gets_near_is_counted_and_said():
    curves = {0.01: [1e-3, 1.0, 1.0], 0.001: [1e-3, 1e-3, 1e-3]}
    frame = _frame(jsv=lambda lr, s: np.array(curves[lr]), acc=lambda lr, s: np.array([10, 50, 60.0]))
    sooner = _by_rule(mechanism.verdicts(frame))[2]
    assert "never within it: 0 run(s) at LR 0.01, 5 at LR 0.001" in sooner.evidence
    # 1 epoch against "3" (the last epoch + 1) on every run: no spread, the permutation test decides
    assert sooner.verdict == claims.REPRODUCED and "permutation test, p = 0.0079" in sooner.evidence


def test_a_tie_at_the_first_logged_epoch_says_the_curves_cannot_tell_the_lrs_apart():
    """LeNet-5's Table 7 case on MNIST: both LRs come within a factor of 2 after the first epoch,
    LR 0.01 nearer. Rule 2 ties (inconclusive), and the evidence says why and what each LR reached;
    a tie at a later epoch, or no tie, carries no such remark."""
    curves = {0.01: [1e-3, 1.2, 1.1, 1.0], 0.001: [1e-3, 1.9, 1.5, 1.2]}
    frame = _frame(jsv=lambda lr, s: np.array(curves[lr]), acc=lambda lr, s: np.array([10, 50, 60.0, 61.0]))
    sooner = _by_rule(mechanism.verdicts(frame))[2]
    assert sooner.verdict == claims.INCONCLUSIVE
    assert "cannot be told apart" in sooner.evidence
    assert "after that epoch 0.08 at LR 0.01, 0.28 at LR 0.001" in sooner.evidence
    later = {0.01: [1e-3, 0.1, 1.0], 0.001: [1e-3, 0.1, 1.0]}
    frame = _frame(jsv=lambda lr, s: np.array(later[lr]), acc=lambda lr, s: np.array([10, 50, 60.0]))
    assert "cannot be told apart" not in _by_rule(mechanism.verdicts(frame))[2].evidence
    at_once = {0.01: [1.5, 1.2, 1.0], 0.001: [1.5, 1.4, 1.2]}
    frame = _frame(jsv=lambda lr, s: np.array(at_once[lr]), acc=lambda lr, s: np.array([10, 50, 60.0]))
    assert "already right after pruning" in _by_rule(mechanism.verdicts(frame))[2].evidence


def test_orthp_starting_at_isometry_is_a_check_on_a_linear_mlp_and_a_missing_run_is_pending():
    up = lambda lr, s: np.array([1e-3, 0.5, 1.0])  # noqa: E731
    frame = _frame("mlp7-linear", jsv=up, acc=lambda lr, s: np.array([10, 50, 60.0]))
    assert _by_rule(mechanism.verdicts(frame))[3].kind == claims.CHECK
    waiting = mechanism.verdicts(_frame(jsv=up, acc=lambda lr, s: np.array([10, 50, 60.0]), drop={("90 epochs", 0.001)}),
                                 command="python -m dipcore compute table7")
    assert [v.verdict for v in waiting] == [claims.PENDING] * 5
    assert "compute table7" in waiting[0].evidence


def test_the_claims_page_decides_the_mechanism_for_every_network_of_tables_3_and_7():
    """Over the committed claims page: each network of Tables 3 and 7 has its mechanism claims
    (four per ratio, the "towards" one per LR), none of them pending."""
    cells = json.loads((ROOT / "claims.ipynb").read_text())["cells"]
    html = "".join("".join(o.get("data", {}).get("text/html", "")) for c in cells if c["cell_type"] == "code"
                   for o in c.get("outputs", []))
    rows = html.split("<tr>")  # the claims table: one row per claim, its verdict in a cell of its own
    phrases = ("ends nearer to isometry", "of isometry in fewer epochs", "right after OrthP, before any step, the mean JSV",
               "gap in distance from isometry closes")
    for net in ("mlp7-linear", *grids.TABLE7_NETS):
        label = paper.NET_LABELS[net]
        found = [r for r in rows if f"{label}, ratio" in r and any(p in r for p in phrases)]
        assert len(found) >= 5, (label, len(found))
        assert not [r for r in found if f"<td>{claims.marked(claims.PENDING)}</td>" in r], label
        assert all(any(f"<td>{claims.marked(v)}</td>" in r for v in claims.VERDICTS) for r in found), label
