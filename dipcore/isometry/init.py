"""Orthogonal initialisation (Saxe et al.), as Table 1 measures it (§3.1)."""
from __future__ import annotations

import torch
from torch import nn

from ..nets import weight_layers


@torch.no_grad()
def orthogonal_init(model: nn.Module, gain: float = 1.0, generator: torch.Generator | None = None) -> nn.Module:
    """Orthogonal initialisation (Saxe et al.), in place, as Table 1 measures it:
    ``torch.nn.init.orthogonal_`` on each layer's ``[out, in*k*k]`` flattening (not
    delta-orthogonal), biases zero."""
    for m in weight_layers(model):
        nn.init.orthogonal_(m.weight, gain=gain, generator=generator)
        nn.init.zeros_(m.bias)
    return model
