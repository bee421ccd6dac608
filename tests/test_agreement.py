"""Our cell beside the paper's: Welch's test from summary statistics (issue 33)."""

import numpy as np
import pytest
from scipy import stats

from dipcore.book import agreement


def test_a_cell_is_welchs_test_on_the_two_summaries():
    """The same p as Welch's test on two samples: ours, and five values with the paper's mean and
    its printed (population) std."""
    ours = [87.70, 87.78, 87.72, 87.81, 87.74]
    z = np.array([-2, -1, 0, 1, 2]) / np.std([-2, -1, 0, 1, 2])  # mean 0, population std 1
    paper = 87.81 + 0.03 * z
    c = agreement.cell(ours, 87.81, 0.03)
    assert c["p"] == pytest.approx(stats.ttest_ind(ours, paper, equal_var=False).pvalue, rel=1e-9)
    assert c["n"] == 5 and c["difference"] == pytest.approx(np.mean(ours) - 87.81)
    assert c["agree"] == (c["p"] >= 0.05)


def test_a_clear_difference_disagrees_and_noise_agrees():
    rng = np.random.default_rng(0)
    assert agreement.cell(90.0 + 0.05 * rng.standard_normal(5), 92.0, 0.05)["agree"] is False
    assert agreement.cell(92.0 + 0.05 * rng.standard_normal(5), 92.0, 0.05)["agree"] is True
    # the assumption on the paper's std matters: a sample std is taken as printed
    pop, samp = (agreement.cell([92.1, 92.0, 92.2, 92.1, 92.0], 92.0, 0.05, paper_ddof=d)["p"] for d in (0, 1))
    assert pop != samp


def test_too_little_to_test_is_said_not_guessed():
    assert agreement.cell([92.0], 92.0, 0.1)["agree"] is None
    assert agreement.cell([92.0, 92.1], 92.0, None)["agree"] is None
    c = agreement.cell([92.0, 92.1, 91.9], 92.0, 0.0)  # a printed 0.00: the paper's mean taken as exact
    assert c["p"] == pytest.approx(stats.ttest_1samp([92.0, 92.1, 91.9], 92.0).pvalue)


def test_the_summary_counts_and_names_the_cells_that_differ():
    cells = {"a": agreement.cell([1.0, 1.1, 0.9], 1.0, 0.1), "b": agreement.cell([3.0, 3.1, 2.9], 1.0, 0.1),
             "c": agreement.cell([1.0], 1.0, 0.1)}
    line = agreement.summary(cells)
    assert line.startswith("1 of 2 cells agree with the paper's within noise")
    assert "1 not tested" in line and "differ: b (+2.00 points" in line


def test_a_single_draw_is_tested_against_the_spread_of_our_seeds():
    """Table 1's paper value is one network's: it agrees when it could be one more of our seeds
    (prediction interval, t with n - 1 df), which is wider than the interval of our mean."""
    from scipy import stats

    ours = [1.30, 1.45, 1.25, 1.40, 1.36]
    m, s, n = np.mean(ours), np.std(ours, ddof=1), len(ours)
    for paper in (1.2268, 1.0, 1.6):
        c = agreement.draw(ours, paper)
        t = (paper - m) / (s * np.sqrt(1 + 1 / n))
        assert c["p"] == pytest.approx(2 * stats.t.sf(abs(t), n - 1)) and c["agree"] == (c["p"] >= 0.05)
    assert agreement.draw(ours, 1.2268)["agree"] and not agreement.draw(ours, 1.0)["agree"]
    # wider than a test of the mean: a value the one-sample t-test rejects can still be one more seed
    assert stats.ttest_1samp(ours, 1.24).pvalue < 0.05 and agreement.draw(ours, 1.24)["agree"]
    assert agreement.draw([1.0] * 5, 1.0)["agree"] and not agreement.draw([1.0] * 5, 1.001)["agree"]
    assert agreement.draw([1.0], 1.0)["agree"] is None


def test_a_printed_value_stands_for_every_value_it_rounds_from():
    """Four printed decimals: a difference within half a unit of the last is no difference (our
    float32 MLP-7-Linear sits 1e-7 from 1, with a spread of 1e-8), and beyond it the test uses
    the nearest value the printed one stands for."""
    ours = [1 + 1e-7, 1 + 1.2e-7, 1 + 0.9e-7, 1 + 1.1e-7, 1 + 1e-7]
    assert not agreement.draw(ours, 1.0)["agree"] and agreement.draw(ours, 1.0, resolution=5e-5)["agree"]
    spread = [1.30, 1.45, 1.25, 1.40, 1.36]
    assert agreement.draw(spread, 1.2268, resolution=0.01)["p"] > agreement.draw(spread, 1.2268)["p"]
    assert agreement.draw(spread, 1.2268, resolution=0.01)["p"] == pytest.approx(agreement.draw(spread, 1.2368)["p"])
