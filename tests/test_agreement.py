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
