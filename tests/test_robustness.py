"""Beyond the paper: each §3.3 verdict with one pretrained network and across five
(``dipcore.book.chapters.robustness``), on synthetic runs whose answer is known."""
import re

import numpy as np
import pandas as pd
import pytest

from dipcore.book import claims, evidence, grids
from dipcore.book.chapters import robustness

COMMANDS = {90: "compute robustness", 900: "compute robustness_900 --device cuda"}


def _frame(h1_gain_by_net, sd=0.4, long_stored=False):
    """Runs of the robustness grid at ratio 0.8: H1's LR gain per pretrained network as given,
    no gain anywhere else; the 900-epoch runs stored only from network 0 unless ``long_stored``."""
    rng = np.random.default_rng(0)
    rows = []
    for p, g in enumerate(h1_gain_by_net):
        for h in grids.HYPOTHESES.values():
            for lr in (0.01, 0.001):
                for s in range(5):
                    missing = h.epochs == 900 and p > 0 and not long_stored
                    acc = 80 + (g if (h.number == 1 and lr == 0.01) else 0) + rng.normal(0, sd)
                    rows.append({"net": "mlp7-linear", "pretrained": p, "ratio": 0.8, "setting": h.setting, "lr": lr,
                                 "seed": s, "status": "missing" if missing else "done",
                                 "final_acc": np.nan if missing else acc})
    return pd.DataFrame(rows)


def test_two_levels_finds_what_the_books_one_network_misses():
    frame = _frame([0.02, 1.0, 0.9, 1.1, 1.0])
    levels = robustness.two_levels(frame, COMMANDS).droplevel("hypothesis")
    h1 = evidence.hypothesis_claim("MLP-7-Linear", 0.8, 1)
    assert levels.loc[h1, "with the book's network"] == "➖ inconclusive"
    assert levels.loc[h1, "across 5 pretrained networks"] == "✅ reproduced"
    # the first column is the hypothesis chapter's own verdict (the runs of network 0)
    one = evidence.hypothesis_verdicts(frame[frame.pretrained == 0], 1)
    assert [f"{claims.MARKS[v.verdict]} {v.verdict}" for v in one] == [levels.loc[h1, "with the book's network"]]
    # the 900-epoch settings from the other networks are not stored: Hypotheses 2 and 4 wait for them
    h2 = evidence.hypothesis_claim("MLP-7-Linear", 0.8, 2)
    assert levels.loc[h2, "with the book's network"] != "⏳ pending"
    assert levels.loc[h2, "across 5 pretrained networks"] == "⏳ pending"
    assert "not stored yet" in levels.loc[h2, "evidence across networks"]
    assert COMMANDS[900] in levels.loc[h2, "evidence across networks"]
    verdicts = robustness.decide(frame, COMMANDS)
    assert [v.verdict for v in verdicts[::2]][0] == claims.REPRODUCED and {verdicts[1].verdict, verdicts[3].verdict} == {claims.PENDING}
    assert all(v.claim.endswith("(across pretrained networks)") for v in verdicts)


def test_two_levels_refuses_what_the_books_network_shows_by_chance():
    frame = _frame([1.5, -1.2, 0.3, -1.0, 0.4], sd=0.1, long_stored=True)
    levels = robustness.two_levels(frame, COMMANDS, (1,)).droplevel("hypothesis")
    h1 = evidence.hypothesis_claim("MLP-7-Linear", 0.8, 1)
    assert levels.loc[h1, "with the book's network"] == "✅ reproduced"
    assert levels.loc[h1, "across 5 pretrained networks"] == "➖ inconclusive"
    assert "contradicted with 2" in levels.loc[h1, "evidence across networks"]


def test_the_network_is_a_parameter_checked_before_anything_runs():
    assert [robustness.check_net(n) for n in grids.ROBUSTNESS_NETS] == list(grids.ROBUSTNESS_NETS)
    with pytest.raises(ValueError, match="net must be one of mlp7-linear, mlp7-relu, lenet5-linear, lenet5-relu"):
        robustness.check_net("resnet20")
    assert robustness.source("lenet5-relu").startswith("§4, Table 7")


def test_a_pending_verdict_says_its_missing_runs_are_not_stored_yet():
    """On the book's network and on a Table 7 network (robustness_table7, computed on a CPU too), at
    either length, a pending verdict says its missing runs are not stored yet and names the command;
    it does not call them a GPU's work, nor being computed."""
    for net in ("mlp7-linear", "mlp7-relu"):
        frame = _frame([1.0] * 5).assign(net=net)
        frame.loc[(frame.pretrained == 1) & (frame.setting == grids.HYPOTHESES[1].setting), "status"] = "missing"
        h1, h2 = robustness.decide(frame, COMMANDS)[:2]  # ratio 0.8: H1 (90 epochs), H2 (900)
        assert h1.verdict == h2.verdict == claims.PENDING
        for v, epochs in ((h1, 90), (h2, 900)):
            assert "not stored yet" in v.evidence and COMMANDS[epochs] in v.evidence
            assert "GPU" not in v.evidence and "being computed" not in v.evidence


def test_the_pages_words_on_the_900_epoch_runs_follow_the_store():
    """The sentence on the 900-epoch runs and the note on Hypotheses 2 and 4 say what is missing
    while runs are, and once all are stored, how each verdict fell at both levels."""
    frame = _frame([1.0] * 5)  # ratio 0.8; the other networks' 900-epoch runs missing
    missing = int((frame.status == "missing").sum())
    text = robustness.progress_900("mlp7-linear", 20, 20 + missing, "about 9 hours", "compute robustness_900")
    assert text == (f"and 20 of the {20 + missing} 900-epoch runs (Hypotheses 2 and 4); the other {missing} are "
                    "not stored yet (about 9 hours: `compute robustness_900`)")
    assert "GPU" not in robustness.progress_900("lenet5-relu", 0, 40, "about 9 hours", "c")
    assert robustness.progress_900("mlp7-linear", 200, 200, "", "c") == "and all 200 of its 900-epoch runs (Hypotheses 2 and 4)"
    decided = robustness.pairs(frame, COMMANDS)
    alone = {h: a.verdict for h, a, _ in decided}
    note = robustness.long_note(decided, [0.8], missing, 5)
    assert note.startswith(f"Hypotheses 2 and 4 need 900-epoch runs from the other networks ({missing} runs")
    assert f"Hypothesis 2 is {alone[2]} at 0.8; Hypothesis 4 is {alone[4]} at 0.8." in note
    # all stored: no gain anywhere but H1's, so H2 (H1's gain falls to 0 at 900 epochs) is
    # reproduced at both levels; H4 (no OrthP gain at either length) is not decided either way
    frame = _frame([1.0] * 5, long_stored=True)
    decided = robustness.pairs(frame, COMMANDS)
    (h2, a2, b2), (h4, a4, b4) = [d for d in decided if d[0] in (2, 4)]
    assert (a2.verdict, b2.verdict) == (claims.REPRODUCED, claims.REPRODUCED)
    note = robustness.long_note(decided, [0.8], 0, 5)
    assert note.startswith("**Hypotheses 2 and 4 (900 epochs) across the five networks.** Hypothesis 2 at 0.8 is "
                           "reproduced across them, as with the book's network alone; Hypothesis 4 at 0.8 is "
                           f"{b4.verdict} across them")
    assert "pending" not in note


def test_the_page_costs_the_missing_900_epoch_runs_from_the_stored_ones(tmp_path):
    """The prose's estimate of the 900-epoch runs it lacks is the one ``status`` gives: none
    without a stored run of the network to time them by, else the stored rate times their epochs."""
    from dipcore.book import chapter
    from dipcore.book.spec import key
    from dipcore.book.store import RunStore

    ch = chapter.setup("robustness", store=tmp_path)
    specs = [s for _, s in grids.labelled_robustness("mlp7-linear", ch.dataset, "paper", seeds=ch.seeds, epochs=(900,))]
    keys = [key(s) for s in specs]
    assert robustness.cost_line(ch, keys, "mlp7-linear").startswith("not estimated")
    assert robustness.cost_line(ch, [], "mlp7-linear") == "none"
    # one stored run, a stack of 4 on 2 threads for 7200 s: 3600 thread-s for 900 epochs, 4 s each
    RunStore(tmp_path).write(specs[0], {"status": "ok", "final_acc": 90.0, "best_acc": 90.0, "metrics": {}},
                             {"device": "cpu: X", "wall_s": 7200.0, "stacked_with": 4, "threads": 2})
    assert robustness.cost_line(ch, keys[1:], "mlp7-linear") == \
        f"about {len(keys) - 1} hours of one CPU thread at the speed of the stored runs"


def _exact(gains, setting="90 epochs", long_stored=False):
    """Runs at ratio 0.8 whose LR gain in ``setting`` is exactly ``gains[p]`` with network p and
    whose seeds' standard error of that gain is exactly 1 (offsets -2..2 at each LR: variance 2.5)."""
    frame = _frame([0.0] * len(gains), sd=0.0, long_stored=long_stored)
    offsets = frame.seed.map(dict(enumerate([-2.0, -1.0, 0.0, 1.0, 2.0])))
    frame["final_acc"] += offsets
    for p, g in enumerate(gains):
        frame.loc[(frame.pretrained == p) & (frame.setting == setting) & (frame.lr == 0.01), "final_acc"] += g
    return frame


def test_cochrans_q_weighs_each_networks_gain_by_its_seeds_standard_error():
    """Q = sum of (gain - mean)^2 / se^2 against chi-square with networks - 1 degrees of freedom:
    with every se 1, the gains' squared deviations summed."""
    from scipy import stats
    gains = [0.0, 1.0, 2.0, 3.0, 4.0]
    q, p = robustness.heterogeneity(_exact(gains), 0.8, "90 epochs")
    assert robustness.gain(_exact(gains), 1, 0.8, "90 epochs") == pytest.approx((1.0, 1.0))
    assert q == pytest.approx(10.0)  # (-2)^2 + (-1)^2 + 0 + 1 + 4
    assert p == pytest.approx(stats.chi2.sf(10.0, 4))
    assert robustness.heterogeneity(_exact([1.0] * 5), 0.8, "90 epochs") == pytest.approx((0.0, 1.0))
    # network 4's seeds spread twice as far: its se is 2, its weight 1/4
    frame = _exact(gains)
    four = frame.pretrained == 4
    frame.loc[four, "final_acc"] += frame.loc[four, "seed"].map(dict(enumerate([-2.0, -1.0, 0.0, 1.0, 2.0])))
    assert robustness.gain(frame, 4, 0.8, "90 epochs") == pytest.approx((4.0, 2.0))
    w = np.array([1, 1, 1, 1, 0.25])
    mean = (w * gains).sum() / w.sum()
    assert robustness.heterogeneity(frame, 0.8, "90 epochs")[0] == pytest.approx((w * (np.array(gains) - mean) ** 2).sum())
    frame = _exact(gains)
    frame.loc[frame.index[0], "status"] = "missing"
    assert robustness.heterogeneity(frame, 0.8, "90 epochs") is None


def test_the_jsv_rank_test_is_exact_for_five_networks():
    """Five networks have 120 pairings: a perfect ordering has two-sided p = 2/120 (the t
    approximation would say 0), one swap (rho 0.9) 10/120."""
    frame = _exact([0.0, 1.0, 2.0, 3.0, 4.0])
    frame["jsv_0"] = frame.pretrained.astype(float)
    assert robustness.jsv_gain_rank(frame, 0.8) == pytest.approx((1.0, 2 / 120))
    frame["jsv_0"] = -frame.pretrained.map({0: 1, 1: 0, 2: 2, 3: 3, 4: 4}).astype(float)
    assert robustness.jsv_gain_rank(frame, 0.8) == pytest.approx((-0.9, 10 / 120))


def test_the_notes_say_what_the_runs_show_and_wait_for_missing_ones():
    """Each note's heading follows the test it reports: a spread across networks far beyond the
    seeds' is called the larger source of variance, equal gains are not; the two levels'
    disagreement is named with the book's network's rank; the JSV note does not call a rank
    correlation of five networks a ranking unless its p is under 0.05."""
    pre = {p: {"final_acc": 90.0 + 0.01 * p} for p in range(5)}
    apart, alike = _exact([0.0, 2.0, 4.0, 6.0, 8.0]), _exact([1.0] * 5)  # sd across networks 3.2, seeds' se 1
    assert robustness.variance_note(apart, [0.8]).startswith("**The pretrained network is the larger source of variance.**")
    assert robustness.variance_note(_exact([0.0, 4.0, 8.0, 12.0, 16.0]), [0.8]).startswith(
        "**The pretrained network is the larger source of variance, by far.**")  # 6.3 against 1
    assert "p = 0.0" not in robustness.variance_note(apart, [0.8]) and "p < 0.001" in robustness.variance_note(apart, [0.8])
    assert robustness.variance_note(alike, [0.8]).startswith("**The networks' LR gains differ no more than their seeds explain.**")
    frame = _frame([0.02, 1.0, 0.9, 1.1, 1.0], long_stored=True)
    note = robustness.levels_note(frame, robustness.pairs(frame, COMMANDS), [0.8])
    assert note.startswith("**The book's network and the five disagree** where Hypothesis 1 at 0.8 is inconclusive "
                           "with the book's network, reproduced across the five")
    assert "the smallest of the five" in note
    apart["jsv_0"] = apart.pretrained.astype(float)
    alike = _exact([1.0, 1.2, 0.9, 1.1, 1.05])  # gains ranked 2, 5, 1, 4, 3 against JSVs 1-5: rho 0.1
    alike["jsv_0"] = alike.pretrained.astype(float)
    assert robustness.jsv_note(apart, pre, [0.8]).startswith("**The pruned mean JSV ranks the networks' gains at 0.8.**")
    assert "+1.00 (p = 0.017) at 0.8" in robustness.jsv_note(apart, pre, [0.8])
    assert "within 0.04 points" in robustness.jsv_note(apart, pre, [0.8])
    assert robustness.jsv_note(alike, pre, [0.8]).startswith("**The pruned mean JSV does not rank")
    assert "+0.10 (p = " in robustness.jsv_note(alike, pre, [0.8])
    alike["jsv_0"] = 1.0
    assert robustness.jsv_gain_rank(alike, 0.8) != robustness.jsv_gain_rank(alike, 0.8)  # NaN: nothing to rank by
    assert "does not rank" in robustness.jsv_note(alike, pre, [0.8]) and "undefined" in robustness.jsv_note(alike, pre, [0.8])
    # OrthP's gains: equal and small beside large gains without it
    flat = _exact([0.0, 4.0, 8.0, 12.0, 16.0])
    assert robustness.orthp_note(flat, robustness.pairs(flat, COMMANDS), [0.8]).startswith(
        "**OrthP makes the gain nearly independent of the network.**")
    assert "finds no difference between the networks" in robustness.orthp_note(flat, robustness.pairs(flat, COMMANDS), [0.8])
    # a missing run: every note waits, none quotes a partial number
    apart.loc[(apart.pretrained == 3) & (apart.seed == 0), "status"] = "missing"
    decided = robustness.pairs(apart, COMMANDS)
    for note in (robustness.variance_note(apart, [0.8]), robustness.levels_note(apart, decided, [0.8]),
                 robustness.orthp_note(apart, decided, [0.8]), robustness.jsv_note(apart, pre, [0.8])):
        assert "not stored yet" in note and not re.search(r"\d\.\d", note), note


def test_the_lasting_note_reads_the_tests_at_both_lengths():
    """The heading follows Cochran's Q after 90 and after 900 epochs: a spread at 90 epochs that
    900 epochs remove is "no longer detected" (with each LR's range of network means, which names
    the LR that differed), one that stays "lasts"; a missing run leaves the note waiting."""
    fading = _exact([0.0, 4.0, 8.0, 12.0, 16.0], long_stored=True)  # 90 epochs: far apart; 900 epochs: no gain with any network
    note = robustness.lasting_note(fading, [0.8])
    assert note.startswith("**The network's effect on the LR gain is no longer detected after 900 epochs at 0.8.**")
    assert "6.32 at 0.8 after 90 epochs" in note and "0.00 at 0.8 after 900" in note
    assert "(Cochran's Q: p < 0.001 at 0.8)" in note and "(p = 1 at 0.8)" in note
    # LR 0.001 is 80 with every network at both lengths; LR 0.01 is 80 + the network's gain after 90 epochs
    assert "with LR 0.001 span 80.00-80.00 % after 90 epochs and 80.00-80.00 % after 900" in note
    assert "with LR 0.01 80.00-96.00 % and 80.00-80.00 %" in note
    lasting = fading.copy()
    long = (lasting.setting == "900 epochs") & (lasting.lr == 0.01)
    lasting.loc[long, "final_acc"] += lasting.loc[long, "pretrained"] * 4.0
    note = robustness.lasting_note(lasting, [0.8])
    assert note.startswith("**The network's effect on the LR gain lasts 900 epochs at 0.8.**") and "span" not in note
    assert robustness.lasting_note(_exact([1.0] * 5, long_stored=True), [0.8]).startswith(
        "**The network's effect on the LR gain is detected at neither length at 0.8.**")
    fading.loc[(fading.pretrained == 2) & (fading.setting == "900 epochs"), "status"] = "missing"
    note = robustness.lasting_note(fading, [0.8])
    assert "not stored yet" in note and not re.search(r"\d\.\d", note)


def test_rank_words():
    assert [robustness.rank_words(i, 5) for i in range(5)] == [
        "the largest", "the second largest", "the middle one", "the second smallest", "the smallest"]
    assert [robustness.rank_words(i, 2) for i in range(2)] == ["the largest", "the smallest"]
