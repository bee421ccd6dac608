"""Recovery methods as registered objects: what a pruned network may be given before finetuning
(§3.2's OrthP, §4's comparison with approximate isometry), each named by a run's ``recovery``.

A recovery method is a name, a label, a function that applies it, and its settings with their
defaults (stored in a run's spec as ``<prefix>_<setting>``, present exactly when the method is the
run's, so adding a method changes no stored key). A new method is a module of this package with its
function, and one ``Recovery`` in ``RECOVERIES``: the spec's checks, the recipe, the tables' row
labels and the progress lines all read it from here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from .ai import DEFAULT_ITERATIONS, DEFAULT_LR, approximate_isometry, check_settings
from .orthp import orthp


@dataclass(frozen=True)
class Recovery:
    """One recovery method.

    ``apply(model, gain, masks, **settings)`` returns the recovered copy of a pruned ``model``
    (``gain``: the activation's orthogonal gain; ``masks``: the weight masks of a network pruned at
    initialization, by index among its weight layers, or None); ``settings`` are its settings with
    their defaults, stored in a run's spec under ``prefix``; ``check(**settings)`` raises a
    ``ValueError`` naming a bad one; ``keeps_masks``: masked weights stay zero (it may follow a
    criterion that masks)."""

    name: str
    label: str
    apply: Callable[..., nn.Module]
    settings: dict = field(default_factory=dict)
    prefix: str = ""
    check: Callable[..., None] | None = None
    keeps_masks: bool = True

    def fields(self) -> dict[str, str]:
        """The spec field of each setting: ``{"ai_lr": "lr", ...}``."""
        return {f"{self.prefix}_{s}": s for s in self.settings}


def _none(model: nn.Module, gain: float, masks: dict[int, torch.Tensor] | None) -> nn.Module:
    return model


def _orthp(model: nn.Module, gain: float, masks: dict[int, torch.Tensor] | None) -> nn.Module:
    return orthp(model, gain)


def _ai(model: nn.Module, gain: float, masks: dict[int, torch.Tensor] | None, lr: float,
        iterations: int) -> nn.Module:
    return approximate_isometry(model, gain, lr, iterations, masks)


RECOVERIES = {r.name: r for r in (
    Recovery("none", "none", _none),
    Recovery("orthp", "OrthP", _orthp, keeps_masks=False),  # Eq. 2 replaces whole weight matrices
    Recovery("ai", "AI", _ai, {"lr": DEFAULT_LR, "iterations": DEFAULT_ITERATIONS}, "ai", check_settings),
)}
