"""Which units L1 pruning removes (§3.3): each unit's score (the mean |w| of its row), how many a
layer loses at a pruning ratio, and the units it keeps. Shared by ``l1.py`` (plain networks) and
``residual.py`` (coupled channels, through Torch-Pruning), so both choose the very same units.
"""
from __future__ import annotations

import math

import torch


def n_pruned(n: int, ratio: float) -> int:
    """How many of ``n`` units a layer loses at pruning ratio ``ratio``.

    ``min(ceil(ratio * n), n - 1)``: at least one unit survives. ``ratio * n`` is rounded to 9
    decimals first, so that float error cannot prune one unit too many (``0.3 * 100`` is
    ``30.000000000000004`` in floating point; we prune 30, the intended count).
    """
    check_ratio(ratio)
    return min(math.ceil(round(ratio * n, 9)), n - 1)


def check_ratio(ratio: float) -> None:
    if not isinstance(ratio, (int, float)) or not 0 <= ratio < 1:
        raise ValueError(f"pruning ratio must be a number in [0, 1), got {ratio!r}")


def l1_scores(weight: torch.Tensor) -> torch.Tensor:
    """Mean absolute weight of each output unit (row of the ``[out, in*k*k]`` flattening)."""
    return weight.detach().abs().flatten(1).mean(1)


def kept_units(weight: torch.Tensor, ratio: float) -> torch.Tensor:
    """Indices (ascending) of the units a layer keeps: the lowest L1 scores go.
    Ties are broken by index (a stable sort), so the result is deterministic."""
    n = weight.shape[0]
    order = torch.argsort(l1_scores(weight), stable=True)
    return order[n_pruned(n, ratio):].sort().values
