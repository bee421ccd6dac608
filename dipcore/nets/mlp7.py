"""MLP-7 (Table 1, Table 3, Table 7): ``1024 -> 100 x 6 -> 10``, seven ``Linear`` layers with bias,
an activation after each of the first six (identity for "linear", ReLU for "relu")."""
from __future__ import annotations

from torch import nn

DENSE_WIDTHS = (100,) * 6
PRUNABLE = 6  # L1 pruning touches the 6 hidden layers, never the classifier


def build(activation: nn.Module, widths: tuple[int, ...] | None = None, in_features: int = 1024,
          classes: int = 10) -> nn.Sequential:
    widths = tuple(widths) if widths is not None else DENSE_WIDTHS
    if len(widths) != len(DENSE_WIDTHS):
        raise ValueError(f"MLP-7 takes {len(DENSE_WIDTHS)} hidden widths, got {widths}")
    dims = (in_features, *widths)
    layers: list[nn.Module] = [nn.Flatten()]
    for d_in, d_out in zip(dims[:-1], dims[1:]):
        layers += [nn.Linear(d_in, d_out), activation()]
    layers.append(nn.Linear(dims[-1], classes))
    return nn.Sequential(*layers)
