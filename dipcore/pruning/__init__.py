"""Pruning criteria: L1-norm structured pruning (``l1``, Li et al. 2017), the paper's criterion
throughout (§3.3, §4), which removes whole units layer by layer; and connection sensitivity
(``snip``, Lee et al.), which masks single weights by one global ranking at initialization, from
the labels' loss (``snip``) or from a label-free autoencoder loss (``snip-ae``)."""
from .criterion import check_ratio, kept_units, l1_scores, n_pruned
from .l1 import prune_l1, pruned_widths
from .snip import apply_masks, connection_sensitivity, global_masks, prune_snip, sparsity_of

CRITERIA = ("l1", "snip", "snip-ae")  # the names a run's spec may give (its "criterion" field)
MASKED = {"snip": "supervised", "snip-ae": "autoencoder"}  # criteria with masks, and their loss

__all__ = ["CRITERIA", "MASKED", "apply_masks", "check_ratio", "connection_sensitivity", "global_masks",
           "prune_snip", "sparsity_of", "kept_units", "l1_scores", "n_pruned", "prune_l1", "pruned_widths"]
