"""Approximate isometry (AI), the data-free recovery of Lee et al. (ICLR 2020, §4 of this book):
gradient descent on the weights of a pruned network to make every layer orthogonal,

    minimise  sum over layers  || W W^T - g^2 I ||_F      (unsquared Frobenius norm)

with ``W`` a layer's weight flattened to ``[out, in*k*k]`` and taken on its smaller side (``W W^T``
for a wide layer, ``W^T W`` for a tall one: the orientation rule of OrthP, so that the target is
reachable), ``g`` the same gain as OrthP (1 linear, sqrt(2) ReLU). Biases are untouched; with masks
(pruning at initialization) the pruned entries stay exactly zero.

Lee et al.'s code (``spp/model.py``, ``compute_isometry``) uses plain SGD with learning rate 0.1 for
10 000 iterations, the norm of ``W^T W - I`` in TensorFlow's ``[in, out]`` layout (``W W^T`` in
PyTorch's, whatever the layer's shape) and no gain. We keep their optimiser, learning rate,
iteration count and unsquared norm, and take the smaller side and OrthP's gain (the book compares
the two recovery methods on equal terms).
"""
from __future__ import annotations

import copy
import math

import torch
from torch import nn

from ..nets import weight_layers

DEFAULT_LR = 0.1
DEFAULT_ITERATIONS = 10_000


def isometry_error(weight: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
    """``|| W W^T - g^2 I ||_F`` of one layer on its smaller side (differentiable)."""
    w = weight.flatten(1)
    if w.shape[0] > w.shape[1]:  # tall: the columns can be orthonormal, not the rows
        w = w.T
    gram = w @ w.T
    return torch.linalg.matrix_norm(gram - gain ** 2 * torch.eye(len(gram), dtype=w.dtype, device=w.device))


def check_settings(lr: float, iterations: int) -> None:
    """A clear error before any compute for settings AI cannot run with."""
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"approximate isometry: the learning rate must be a positive number, got {lr!r}")
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"approximate isometry: iterations must be a positive integer, got {iterations!r}")


def approximate_isometry(model: nn.Module, gain: float = 1.0, lr: float = DEFAULT_LR,
                         iterations: int = DEFAULT_ITERATIONS,
                         masks: dict[int, torch.Tensor] | None = None) -> nn.Module:
    """AI: a copy of the (pruned) ``model`` whose Conv/Linear weights have been moved by
    ``iterations`` steps of gradient descent (learning rate ``lr``) on the summed isometry error of
    every layer, the classifier included (as OrthP). ``masks`` (by index among the weight layers,
    the weight's shape, 1 = kept) keep pruned entries at zero. Biases are not touched."""
    check_settings(lr, iterations)
    out = copy.deepcopy(model)
    layers = weight_layers(out)
    if not layers:
        raise ValueError("approximate isometry needs a network with Conv or Linear layers; this one has none")
    weights = [m.weight.detach().clone() for m in layers]
    keep = [None if masks is None or i not in masks else masks[i].to(w.dtype) for i, w in enumerate(weights)]
    for w, k in zip(weights, keep):
        if k is not None:
            if k.shape != w.shape:
                raise ValueError(f"mask of shape {tuple(k.shape)} for a weight of shape {tuple(w.shape)}")
            w.mul_(k)
        w.requires_grad_(True)
    for _ in range(iterations):
        loss = sum(isometry_error(w, gain) for w in weights)
        grads = torch.autograd.grad(loss, weights)
        with torch.no_grad():
            for w, g, k in zip(weights, grads, keep):
                w.sub_(lr * (g if k is None else g * k))
    with torch.no_grad():
        for m, w in zip(layers, weights):
            m.weight.copy_(w)
    return out
