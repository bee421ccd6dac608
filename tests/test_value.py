"""§3.4, the value of pruning (``grids.value``, ``dipcore.book.chapters.value_of_pruning``): the sweep's specs, its
table, the reductions and the verdicts."""
import dataclasses

import numpy as np
import pytest

from dipcore import nets, pruning
from dipcore.book import claims, evidence, grids, paper, spec
from dipcore.book.chapters import value_of_pruning as value
from test_evidence import _fake_records


def test_the_sweep_is_tables_4_and_5s_protocol():
    specs = grids.get("value", "fashion-mnist", "paper")
    assert len(specs) == 2 * 6 * 5 * 3 == 180 and len({spec.key(s) for s in specs}) == 180
    labelled = grids.labelled_value("lenet5-relu", "fashion-mnist", "paper")
    by_arm = {}
    for lab, s in labelled:
        by_arm.setdefault(lab["setting"], set()).add((s["epochs"], s["schedule"], s["start"] == "scratch"))
    pre = spec.key(grids.pretrain_spec("lenet5-relu", "fashion-mnist", "paper"))
    assert by_arm == {
        "Scratch": {(120, "0:0.01,30:0.001,60:0.0001,90:0.00001", True)},
        "20 epochs, 0.001, fixed": {(20, "0:0.001", False)},
        "90 epochs, 0.001, fixed": {(90, "0:0.001", False)},
        "90 epochs, 0.001, decay": {(90, "0:0.001,45:0.0001,60:0.00001", False)},
        "90 epochs, 0.01, decay": {(90, "0:0.01,30:0.001,60:0.0001,75:0.00001", False)},
    }
    assert {s["start"] for l, s in labelled if l["setting"] != "Scratch"} == {pre}
    assert sorted({l["seed"] for l, _ in labelled}) == [0, 1, 2]
    assert sorted({s["ratio"] for _, s in labelled}) == [0.1, 0.3, 0.5, 0.7, 0.9, 0.95]
    assert all(s["weight_decay"] == 1e-4 and s["momentum"] == 0.9 and s["batch_size"] == 100 for _, s in labelled)
    smoke = grids.labelled_value("mlp7-relu", "mnist", "smoke")
    assert {s["epochs"] for _, s in smoke} == {1, 2} and {s["dataset"] for _, s in smoke} == {"synthetic"}
    with pytest.raises(ValueError, match="unknown arm"):
        grids.value_spec("mlp7-relu", "mnist", "paper", 0.5, "30 epochs", 0)


def test_reductions_are_counted_from_the_networks():
    red = value.reductions("mlp7-relu", (0.5, 0.9))
    # MLP-7 (1024-100x6-10) pruned at 0.9: six hidden layers of 10 units
    dense, small = 1024 * 100 + 5 * 100 * 100 + 100 * 10 + 6 * 100 + 10, 1024 * 10 + 5 * 10 * 10 + 10 * 10 + 6 * 10 + 10
    assert red.loc[0.9, "params"] == small and nets.cost(nets.build("mlp7-relu"))["params"] == dense
    assert red.loc[0.9, "params reduc. (%)"] == pytest.approx(100 * (1 - small / dense))
    assert red.loc[0.5, "FLOPs"] == nets.cost(nets.build("mlp7-relu", pruning.pruned_widths("mlp7-relu", 0.5)))["flops"]


def test_at_most_needs_more_than_half_of_the_ratios_either_way():
    def v(verdict):
        return claims.Verdict("c (ratio x)", "s", verdict, "e")

    R, N, I = claims.REPRODUCED, claims.NOT_REPRODUCED, claims.INCONCLUSIVE
    assert claims.at_most([(r, v(x)) for r, x in zip(range(6), [R, R, R, R, I, N])], "c", "s").verdict == R
    assert claims.at_most([(r, v(x)) for r, x in zip(range(6), [R, R, R, I, I, N])], "c", "s").verdict == I
    assert claims.at_most([(r, v(x)) for r, x in zip(range(6), [R, R, I, N, N, N])], "c", "s").verdict == I  # a tie
    assert claims.at_most([(r, v(x)) for r, x in zip(range(6), [R, I, N, N, N, N])], "c", "s").verdict == N
    out = claims.at_most([(0.1, v(R)), (0.5, v(claims.PENDING))], "c", "s")
    assert out.verdict == claims.PENDING and "0.5" in out.evidence


def test_increasing_mirrors_decreasing():
    x, y = [1, 2, 3, 4, 5, 6], [0.1, 0.2, 0.4, 0.3, 0.9, 2.0]
    assert claims.increasing(x, y, "c", "s").verdict == claims.REPRODUCED
    assert claims.decreasing(x, y, "c", "s").verdict == claims.NOT_REPRODUCED
    assert claims.increasing(x, y[::-1], "c", "s").verdict == claims.NOT_REPRODUCED
    assert claims.increasing(x, [1, 3, 2, 1, 3, 2], "c", "s").verdict == claims.INCONCLUSIVE
    assert claims.increasing([0.5, 0.9], [1, 2], "c", "s").evidence == "2 points: too few to rank"
    assert claims.increasing(x, [1] * 6, "c", "s").verdict == claims.INCONCLUSIVE


def test_verdicts_wait_for_their_runs_and_then_decide():
    """Finetuning with the LR 0.01 schedule ends 1 point above scratch everywhere, its gain over LR
    0.001 grows with the ratio, and scratch beats the 20-epoch schedule: each claim decided so."""
    rng = np.random.default_rng(5)
    level = {"Scratch": 90.0, "20 epochs, 0.001, fixed": 89.0, "90 epochs, 0.001, fixed": 89.2,
             "90 epochs, 0.001, decay": 90.5, "90 epochs, 0.01, decay": 91.0}

    def acc(lab):
        extra = 5 * lab["ratio"] if lab["setting"] == "90 epochs, 0.01, decay" else 0.0
        extra += 3 * lab["ratio"] if lab["setting"] == "90 epochs, 0.001, decay" else 0.0
        return level[lab["setting"]] + extra + 0.01 * rng.standard_normal()

    labelled = grids.labelled_value("mlp7-relu", "mnist", "paper")
    recs = _fake_records(labelled, acc)
    frame = evidence.runs_frame(labelled, recs)
    out = value.decide(frame, "mlp7-relu", "cmd")
    assert [v.verdict for v in out] == [claims.REPRODUCED] * 5
    assert value.argument(out).endswith("the finetuned network beats scratch training (reproduced). Every step shows.")
    assert value.notes(frame, "mlp7-relu", "cmd", out).endswith("Every step shows.")
    last = out[:4] + [dataclasses.replace(out[4], verdict=claims.INCONCLUSIVE)]
    assert value.argument(last).endswith("(inconclusive). Only the last step, finetuning *beating* scratch, does not follow.")
    one = [dataclasses.replace(v, verdict=claims.NOT_REPRODUCED) for v in out[:4]] + out[4:]
    assert value.argument(one).endswith("1 of its 5 steps shows.")
    table = value.sweep_table(frame, "mlp7-relu")
    assert table.loc[0.9, "LR 0.01 - LR 0.001"] == f"{0.5 + 2 * 0.9:+.2f}"
    assert table.loc[0.9, "params reduc. (%)"] == f"{value.reductions('mlp7-relu', (0.9,)).iloc[0, 2]:.2f}"
    # scratch at ratio 0.5 not in yet: the claims comparing with scratch and that cell wait
    partial = [None if (l["setting"] == "Scratch" and l["ratio"] == 0.5 and l["seed"] == 0) else r
               for (l, _), r in zip(labelled, recs)]
    frame = evidence.runs_frame(labelled, partial)
    out = value.decide(frame, "mlp7-relu", "cmd")
    assert [v.verdict for v in out] == [claims.PENDING, claims.REPRODUCED, claims.REPRODUCED, claims.REPRODUCED,
                                        claims.PENDING]
    assert "35 of 36 runs" in out[0].evidence
    assert value.argument(out) == ""  # a step pending: the argument waits
    assert value.sweep_table(frame, "mlp7-relu").loc[0.5, "Scratch"] == "pending (2/3)"


def test_notes_and_differences_say_what_the_runs_show_and_name_what_is_missing():
    """The page's notes are computed from the runs: per comparison, at how many ratios the first arm
    is ahead and where significantly; the closing sentence follows the finetuned-against-scratch
    differences; a ratio with a missing run is named, never averaged over."""
    rng = np.random.default_rng(7)
    level = {"Scratch": 90.0, "20 epochs, 0.001, fixed": 89.0, "90 epochs, 0.001, fixed": 89.2,
             "90 epochs, 0.001, decay": 90.5, "90 epochs, 0.01, decay": 91.0}

    def acc(lab, scratch=90.0):
        extra = 5 * lab["ratio"] if lab["setting"] == "90 epochs, 0.01, decay" else 0.0
        base = scratch if lab["setting"] == "Scratch" else level[lab["setting"]]
        return base + extra + 0.001 * rng.standard_normal()

    labelled = grids.labelled_value("mlp7-relu", "mnist", "paper")
    recs = _fake_records(labelled, acc)
    frame = evidence.runs_frame(labelled, recs)
    diff = value.differences(frame, "mlp7-relu")
    scratch_ft20, high_scratch = value.COMPARISONS[0][2], value.COMPARISONS[3][2]
    assert list(diff.columns) == [0.1, 0.3, 0.5, 0.7, 0.9, 0.95]
    assert list(diff.index) == [row for *_, row in value.COMPARISONS]
    assert diff.loc["Scratch - 20 ep. fixed", 0.5] == "+1.00*"
    assert diff.loc["90 ep. decay (0.01) - Scratch", 0.9] == f"{1 + 5 * 0.9:+.2f}*"
    text = value.notes(frame, "mlp7-relu", "cmd")
    assert text.startswith("**MLP-7-ReLU** (90 of 90 runs stored")
    assert f"{scratch_ft20}: ahead at 6 of 6 ratios (significantly ahead at 0.1, 0.3, 0.5, 0.7, 0.9 and 0.95)" in text
    assert text.endswith("So finetuning beats scratch training here, as the paper finds.")
    assert "from +1.50 points (ratio 0.1) to +5.75 (ratio 0.95)" in text  # finetuned - scratch: 1 + 5 r
    # scratch 5 points higher: finetuning is behind at 0.1-0.7 (-3.5 to -0.5) and ahead at 0.9, 0.95
    frame = evidence.runs_frame(labelled, _fake_records(labelled, lambda lab: acc(lab, scratch=95.0)))
    text = value.notes(frame, "mlp7-relu", "cmd")
    assert (f"{high_scratch}: ahead at 2 of 6 ratios (significantly ahead at 0.9 and 0.95; significantly behind at "
            "0.1, 0.3, 0.5 and 0.7)") in text
    assert text.endswith("So scratch training beats finetuning here, against the paper.")
    # one scratch run missing at ratio 0.5: its comparisons skip that ratio and say so, no conclusion yet
    partial = [None if (l["setting"] == "Scratch" and l["ratio"] == 0.5 and l["seed"] == 1) else r
               for (l, _), r in zip(labelled, recs)]
    frame = evidence.runs_frame(labelled, partial)
    text = value.notes(frame, "mlp7-relu", "cmd")
    assert "(89 of 90 runs stored" in text and "So " not in text
    assert f"{scratch_ft20}: ahead at 5 of 5 ratios" in text and text.count("; ratio 0.5 not stored yet.") == 2
    assert value.differences(frame, "mlp7-relu").loc["Scratch - 20 ep. fixed", 0.5] == ""
    one = value.notes(frame[frame.ratio == 0.3], "mlp7-relu", "cmd")  # one ratio: no range, no "1 of 1"
    assert f"{scratch_ft20}: +1.00 points at ratio 0.3 (significant)." in one and "of 1 ratios" not in one
    # nothing to compare yet: the notes name the command that computes the rest
    frame = evidence.runs_frame(labelled, [None] * len(labelled))
    assert value.notes(frame, "mlp7-relu", "cmd") == ("**MLP-7-ReLU** (0 of 90 runs stored): no ratio has all the "
                                                      "runs of two arms yet; `cmd --net mlp7-relu` computes the rest.")


def test_table5_is_read_with_its_labels_swapped():
    """The paper's "Pruned-Finetuned-2" column is the LR 0.01 schedule in the book's reading."""
    t = value.paper_table5()
    assert t.loc[("ResNet-34", 0.9), "90 epochs, 0.01, decay"] == 61.28  # printed as Pruned-Finetuned-2
    assert t.loc[("ResNet-34", 0.9), "90 epochs, 0.001, decay"] == 60.33
    assert t.loc[("ResNet-18", 0.5), "params reduc. (%)"] == 47.03
    assert [v.verdict for v in value.paper_rising()] == [claims.INCONCLUSIVE, claims.REPRODUCED]


def test_table5s_parentheses_are_checked_against_its_own_columns():
    """The gain Table 5 prints in parentheses (finetuned-2 minus finetuned-1) is kept beside the
    difference computed from its columns; the two misprints (ResNet-18 at 0.5 and 0.9) are found,
    and nothing else is flagged."""
    t = value.paper_table5()
    assert list(t.columns[-2:]) == ["90 epochs, 0.01, decay - 90 epochs, 0.001, decay", "printed in parentheses"]
    assert t["printed in parentheses"].notna().sum() == 12 and t.loc[("ResNet-34", 0.95), "printed in parentheses"] == 2.47
    assert value.paper_table5_misprints() == ("ResNet-18 at ratio 0.5 prints (+0.18) where 67.75 − 67.37 = +0.38; "
                                              "ResNet-18 at ratio 0.9 prints (−0.22) where 53.23 − 53.55 = −0.32")


def test_the_papers_tables_are_printed_with_a_dash_where_the_paper_has_no_number():
    """Table 5's unpruned rows have no reductions, Table 4's original implementations no 90-epoch
    schedules: the page shows a dash there, and every reported number to two decimals."""
    t = value.paper_table5()
    shown = paper.printed(t)
    assert shown.index.equals(t.index) and list(shown.columns) == list(t.columns)
    assert shown.loc[("ResNet-18", 0.0), "params reduc. (%)"] == "–" and np.isnan(t.loc[("ResNet-18", 0.0), "params reduc. (%)"])
    assert shown.loc[("ResNet-18", 0.0), "Unpruned"] == "69.76"
    assert shown.loc[("ResNet-18", 0.9), "90 epochs, 0.01, decay - 90 epochs, 0.001, decay"] == "-0.32"
    assert (shown == "–").sum().sum() == t.isna().sum().sum() > 0
    t4 = paper.printed(value.paper_table4())
    assert t4.loc["Rethinking [30] / ResNet-34-A", "Scratch"] == "73.03"
    assert not t4.map(lambda c: "nan" in c.lower()).any().any()


def test_the_residual_tier_is_the_same_sweep_on_resnet20():
    specs = grids.get("value_resnet", "fashion-mnist", "paper")
    assert len(specs) == 6 * 5 * 3 and {s["net"] for s in specs} == {"resnet20"}
    cpu = {(s["ratio"], s["epochs"], s["schedule"], s["seed"], s["start"] == "scratch")
           for s in grids.get("value", "fashion-mnist", "paper") if s["net"] == "mlp7-relu"}
    assert {(s["ratio"], s["epochs"], s["schedule"], s["seed"], s["start"] == "scratch") for s in specs} == cpu
    assert nets.arch("resnet20").residual and nets.arch("resnet20").prunable == 9
    widths = pruning.pruned_widths("resnet20", 0.9)
    assert widths == (1, 1, 1, 3, 3, 3, 6, 6, 6)  # inner widths 16, 32, 64 less ceil(0.9 n)
    assert nets.widths_of(nets.build("resnet20", widths), "resnet20") == widths
    with pytest.raises(ValueError, match="not for a residual network"):
        grids.finetune_spec("resnet20", "mnist", "paper", 0.9, 90, 0.01, True, 0)


def test_the_residual_tiers_cost_is_said_from_the_store(tmp_path):
    """The page says what the residual tier's missing runs would cost, or, while no ResNet-20 run is
    stored to time them by, that they are not costed; the pretrained network they start from is
    counted apart from the tier's own runs, and nothing is said once all are stored."""
    from dipcore.book import chapter

    (tmp_path / "runs").mkdir()
    ch = chapter.setup("value_of_pruning", dataset="mnist", protocol="paper", store=str(tmp_path / "runs"))
    assert value.residual_cost(ch) == ("Its 90 missing runs and the pretrained network they start from are not "
                                       "costed: no stored run of ResNet-20 to time them by (7,470 epochs of training "
                                       "in all). `python -m dipcore compute value_resnet_pace` times ResNet-20 on a "
                                       "CPU: an epoch of it dense and one pruned at 0.9.")
    # 6 ratios x 3 seeds x (120 + 20 + 3 x 90) epochs, + 90 pretraining
    # its two timed epochs stored (made-up CPU times): the tier is costed from them, and the page says so
    dense, narrow = grids.get("value_resnet_pace", "mnist", "paper")
    body = {"status": "ok", "final_acc": 90.0, "metrics": {}}
    for s, cpu_s in ((dense, 360.0), (narrow, 60.0)):
        ch.store.write(s, body, {"wall_s": cpu_s, "cpu_s": cpu_s, "device": "cpu", "threads": 1})
    said = value.residual_cost(ch)
    # 90 pretraining epochs at the dense rate: 9.0 h; the tier's 7,380 epochs at least at 0.9's rate (2.05 h)
    hours = float(said.split("would take about ")[1].split(" hours")[0])
    assert 9.0 + 7380 * 60 / 3600 <= hours <= 7470 * 360 / 3600
    assert said.endswith("ResNet-20's speed is that of its timed epochs (`value_resnet_pace`, not the paper's runs): "
                         "6.0 min dense and 1.0 min pruned at 0.9, of one CPU thread.")
    ch.store.status = lambda specs: (specs, [], [])  # every run stored
    assert value.residual_cost(ch) == ""


def test_the_residual_tiers_pace_is_one_epoch_of_resnet20_dense_and_at_0_9():
    """The timing grid trains what the tier trains (ResNet-20 on the tier's data, from a fresh init,
    at the first LR of its pretraining and scratch schedules), for one epoch, at the ratios named."""
    pace = grids.get("value_resnet_pace", "mnist", "paper")
    tier = grids.get("value_resnet", "mnist", "paper")
    assert [s["ratio"] for s in pace] == [0.0, 0.9] and {s["epochs"] for s in pace} == {1}
    assert all(s["net"] == "resnet20" and s["start"] == "scratch" and s["schedule"] == "0:0.01" for s in pace)
    scratch = next(s for s in tier if s["start"] == "scratch" and s["ratio"] == 0.9)
    same = ("dataset", "n_train", "n_test", "batch_size", "momentum", "weight_decay", "jsv_examples")
    assert all(pace[1][f] == scratch[f] for f in same)
    assert scratch["schedule"].startswith(pace[1]["schedule"] + ",")
