"""Pruning criteria. Today one: L1-norm structured pruning (``l1``, Li et al. 2017), the paper's
criterion throughout (§3.3, §4). A criterion with masks (connection sensitivity, Lee et al.) will
sit beside it as its own module."""
from .l1 import check_ratio, kept_units, l1_scores, n_pruned, prune_l1, pruned_widths

CRITERIA = ("l1",)  # the names a run's spec may give (its "criterion" field)

__all__ = ["CRITERIA", "check_ratio", "kept_units", "l1_scores", "n_pruned", "prune_l1", "pruned_widths"]
