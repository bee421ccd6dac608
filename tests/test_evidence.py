import numpy as np
import pytest

from dipcore import book, claims, evidence, grids


def _fake_records(labelled, acc):
    """Records as the store holds them, with final accuracy acc(labels); with OrthP the accuracy is
    1 point higher before finetuning and 30 points higher after its first epoch."""
    recs, rng = [], np.random.default_rng(1)
    for i, (labels, spec) in enumerate(labelled):
        a, orthp = acc(labels), labels["setting"].startswith("OrthP")
        recs.append({"key": f"k{i}", "spec": spec, "status": "ok", "final_acc": a, "best_acc": a + 0.1,
                     "metrics": {"test_acc": [10.0 + orthp, 50.0 + 30 * orthp + rng.standard_normal(), a],
                                 "jsv_mean": [0.1, 0.5, 1.0]}})
    return recs


def test_table3_layout_and_verdicts_from_records():
    labelled = grids.labelled_hypotheses("mlp7-linear", "mnist", "paper", grids.TABLE3_RATIOS)
    gains = {"90 epochs": 1.0, "900 epochs": 0.5, "OrthP, 90 epochs": 0.1, "OrthP, 900 epochs": 0.0}
    rng = np.random.default_rng(0)

    def acc(lab):
        base = 90.0 if lab["setting"] == "Scratch" else 91.0
        return base + (gains[lab["setting"]] if lab["lr"] == 0.01 else 0.0) + 0.01 * rng.standard_normal()

    frame = evidence.runs_frame(labelled, _fake_records(labelled, acc))
    table = evidence.results_table(frame, 3, "mlp7-linear")
    assert table.shape == (10, 6)  # 2 ratios x (4 settings + scratch); ours and the paper's, 3 columns each
    assert table.loc[(0.8, "90 epochs"), ("paper (MNIST)", "LR 0.01")] == "91.36 (0.02)"
    assert table.loc[(0.8, "90 epochs"), ("paper (MNIST)", "Acc. gain")] == "+0.82"
    assert table.loc[(0.9, "900 epochs"), ("ours", "Acc. gain")] == "+0.50"
    assert [v.verdict for v in evidence.hypothesis_verdicts(frame, 1)] == [claims.REPRODUCED] * 2
    for h in (2, 3, 4):  # each shrinks the gain: 1 -> 0.5 (H2), 1 -> 0.1 (H3), 0.1 -> 0 (H4)
        assert [v.verdict for v in evidence.hypothesis_verdicts(frame, h)] == [claims.REPRODUCED] * 2, h
    extra = evidence.table3_extra_verdicts(frame)
    # per ratio: OrthP-90 (91.1) against 900 epochs (91.5), both at LR 0.01; first epoch at each LR; epoch 0
    assert [v.verdict for v in extra] == [claims.NOT_REPRODUCED] + [claims.REPRODUCED] * 3 + \
        [claims.NOT_REPRODUCED] + [claims.REPRODUCED] * 3
    assert "LR 0.001" in extra[1].claim and "first finetuning epoch" in extra[1].claim


def test_chapter_parameters_are_validated():
    ch = book.setup("x", dataset="synthetic", protocol="smoke", device="cpu", compute="missing")
    assert ch.data_name == "synthetic" and "Protocol: smoke. 1 seed." in ch.caption("t", seeds=1)
    assert book.setup("x", protocol="smoke").data_name == "synthetic"  # smoke always uses synthetic data
    assert book.check_ratios([0, 0.5]) == (0.0, 0.5)
    for bad in ([1.0], [-0.1], ["0.5"], [True]):
        with pytest.raises(ValueError, match="pruning ratios"):
            book.check_ratios(bad)
    with pytest.raises(ValueError, match="device"):
        book.setup("x", device="tpu")
    with pytest.raises(ValueError, match="no CUDA GPU|GPU"):
        book.setup("x", device="cuda:3")


def test_each_hypothesis_is_decided_on_its_setting_and_its_baseline():
    assert grids.hypothesis_settings(1) == ["90 epochs"]
    assert grids.hypothesis_settings(2) == ["900 epochs", "90 epochs"]
    assert grids.hypothesis_settings(3) == ["OrthP, 90 epochs", "90 epochs"]
    assert grids.hypothesis_settings(4) == ["OrthP, 900 epochs", "OrthP, 90 epochs"]
    runs = grids.labelled_hypothesis(4, "mlp7-linear", "mnist", "paper", grids.TABLE3_RATIOS)
    assert len(runs) == 2 * 2 * 2 * 5  # 2 ratios x 2 settings x 2 LRs x 5 seeds
    assert all(spec["orthp"] and labels["setting"].startswith("OrthP") for labels, spec in runs)
    assert {spec["epochs"] for _, spec in runs} == {90, 900}
