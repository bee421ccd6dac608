"""Initialisations: orthogonal (Saxe et al.), as Table 1 measures it (§3.1), and the variance-scaling
inits that Lee et al. compare it with for pruning at initialization (their Table 1).

Every init here draws each Conv/Linear weight from ``generator`` in forward order and zeroes the
biases (Lee et al.'s ``init_b = zeros``); PyTorch's default init (uniform, nonzero biases) is the
``default`` of the run specs and is not here.
"""
from __future__ import annotations

from typing import Callable

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


# variance scaling, untruncated normal (Lee et al.'s normal_lecun / normal_glorot / normal_he)
VARIANCE_SCALING: dict[str, Callable[[torch.Tensor, torch.Generator | None], torch.Tensor]] = {
    "lecun": lambda w, g: nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="linear", generator=g),  # 1/fan_in
    "glorot": lambda w, g: nn.init.xavier_normal_(w, generator=g),  # 2/(fan_in + fan_out)
    "he": lambda w, g: nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="relu", generator=g),  # 2/fan_in
}
INITS = ("orthogonal", *VARIANCE_SCALING)  # what ``initialize`` takes


@torch.no_grad()
def initialize(model: nn.Module, init: str, gain: float = 1.0, generator: torch.Generator | None = None) -> nn.Module:
    """``model`` re-initialised in place by ``init``: ``"orthogonal"`` (with ``gain``) or one of
    the variance-scaling normals ``"lecun"`` (variance 1/fan_in), ``"glorot"`` (2/(fan_in +
    fan_out)), ``"he"`` (2/fan_in), which take no gain; biases zero."""
    if init == "orthogonal":
        return orthogonal_init(model, gain, generator)
    if init not in VARIANCE_SCALING:
        raise ValueError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
    for m in weight_layers(model):
        VARIANCE_SCALING[init](m.weight, generator)
        nn.init.zeros_(m.bias)
    return model
