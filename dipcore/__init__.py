"""dipcore: the methods of "Dynamical Isometry: The Missing Ingredient for Neural Network Pruning"
(Wang et al., 2021) as a small library. The book's machinery (run store, grids, verdicts) lives
apart, in ``dipcore.book``; ARCHITECTURE.md maps both.
"""
from .data import load as load_data                                        # datasets as tensors
from .isometry import orthogonal_init, orthogonalize, orthp                 # Eq. 2 (§3.2), Table 1
from .jsv import mean_jsv, singular_values                                  # Eq. 1 (§3.1)
from .nets import NETS, build                                               # the four networks
from .pruning import prune_l1, pruned_widths                                # L1 structured pruning
from .schedule import parse as parse_schedule                               # Table 2's LR schedules
from .train import SGDConfig, train_stacked                                 # many runs at once

__version__ = "0.2.0"
