"""Dynamical isometry tools: recovery methods applied to a pruned network, and the orthogonal
initialisation that gives exact isometry to a linear network.

* ``orthp``: OrthP (Eq. 2, §3.2), the paper's recovery method, and the nearest isometry to a
  layer (its polar factor), the least any exact recovery moves it.
* ``ai``: approximate isometry (Lee et al., ICLR 2020), data-free gradient descent towards
  orthogonal layers: the second recovery method of §4.
* ``recovery``: the recovery methods as registered objects (``RECOVERIES``: none, OrthP, AI);
  a new one is a module here and a line there.
* ``init``: orthogonal initialisation (Table 1) and the variance-scaling inits Lee et al. compare
  it with (``initialize``).
"""
from .ai import approximate_isometry, isometry_error
from .init import INITS, initialize, orthogonal_init
from .orthp import nearest_isometry, orthogonalize, orthp
from .recovery import RECOVERIES, Recovery  # the recovery methods a run's spec may name, by name


__all__ = ["INITS", "RECOVERIES", "Recovery", "approximate_isometry", "initialize", "isometry_error", "nearest_isometry", "orthogonal_init", "orthogonalize", "orthp"]
