"""LeNet-5 (Table 1, Table 7): ``Conv(1,6,5) act MaxPool(2) -> Conv(6,16,5) act MaxPool(2) ->
Conv(16,120,5) act -> Linear(120,84) act -> Linear(84,10)``, no padding, on 32x32 inputs. The
max-pools stay in the "linear" variant, which is why its JSVs are not all 1 (Table 1)."""
from __future__ import annotations

from torch import nn

DENSE_WIDTHS = (6, 16, 120)
PRUNABLE = 3  # L1 pruning touches the 3 conv layers, never the Linear layers


def build(activation: nn.Module, widths: tuple[int, ...] | None = None, classes: int = 10) -> nn.Sequential:
    widths = tuple(widths) if widths is not None else DENSE_WIDTHS
    if len(widths) != len(DENSE_WIDTHS):
        raise ValueError(f"LeNet-5 takes {len(DENSE_WIDTHS)} channel counts, got {widths}")
    c1, c2, c3 = widths
    return nn.Sequential(
        nn.Conv2d(1, c1, 5), activation(), nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 5), activation(), nn.MaxPool2d(2),
        nn.Conv2d(c2, c3, 5), activation(),
        nn.Flatten(),
        nn.Linear(c3, 84), activation(),
        nn.Linear(84, classes),
    )
