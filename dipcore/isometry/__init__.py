"""Dynamical isometry tools: recovery methods applied to a pruned network, and the orthogonal
initialisation that gives exact isometry to a linear network.

* ``orthp``: OrthP (Eq. 2, §3.2), the paper's recovery method.
* ``init``: orthogonal initialisation (Table 1).
"""
from .init import orthogonal_init
from .orthp import orthogonalize, orthp

RECOVERIES = ("none", "orthp")  # the names a run's spec may give (its recovery)

__all__ = ["RECOVERIES", "orthogonal_init", "orthogonalize", "orthp"]
