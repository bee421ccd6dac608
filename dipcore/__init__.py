"""dipcore: the methods of "Dynamical Isometry: The Missing Ingredient for Neural Network Pruning"
(Wang et al., 2021) as a small library. The book's machinery (run store, grids, verdicts) lives
apart, in ``dipcore.book``; ARCHITECTURE.md maps both.
"""
from .data import load as load_data                                        # datasets as tensors
from .isometry import approximate_isometry, initialize, orthogonal_init     # Table 1, Lee et al.'s AI and inits
from .isometry import orthogonalize, orthp                                  # Eq. 2 (§3.2)
from .jsv import isometry_distance, layerwise_singular_values, mean_jsv, singular_values  # Eq. 1 (§3.1), layerwise
from .nets import NETS, build                                               # the four networks
from .pruning import prune_l1, prune_snip, pruned_widths                    # L1 structured; SNIP at init
from .schedule import parse as parse_schedule                               # Table 2's LR schedules
from .train import SGDConfig, train_stacked                                 # many runs at once

__version__ = "0.2.0"
