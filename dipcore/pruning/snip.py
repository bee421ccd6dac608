"""Connection sensitivity (SNIP; Lee et al., ICLR 2019 and 2020): unstructured pruning at
initialization, one global ranking of every weight, kept as masks (chapters/pruning_at_init).

Each connection ``j`` gets a gate ``c_j`` (1 at the start); its sensitivity is the size of the
loss's derivative with respect to that gate, which is the weight times its gradient:

    s_j = | dL/dc_j | = | w_j * dL/dw_j |,    L the mean loss over the pruning examples

Lee et al.'s code sums the batch gradients over the whole training split before the absolute
value (so it is the gradient of the split's loss) and normalises the scores to sum 1, which does
not change the ranking. One **global** top-k then keeps ``round(N * (1 - sparsity))`` of all ``N``
weights. Their code scores the biases too; here only the Conv/Linear weights are scored and
masked, and biases stay dense and trainable (they start at zero in every init Lee et al. compare,
so their sensitivity is zero and a global ranking would prune them first).

Two losses: ``supervised`` (cross-entropy against the labels, as SNIP) and ``autoencoder``, the
book's label-free surrogate (Lee et al.'s public code has no unsupervised option): the network is
the encoder, a fixed random decoder with orthonormal columns maps its outputs back to the input
space, and ``L`` is the mean squared reconstruction error of the flattened input.
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from ..nets import weight_layers

LOSSES = ("supervised", "autoencoder")


def check_sparsity(sparsity: float) -> None:
    if isinstance(sparsity, bool) or not isinstance(sparsity, (int, float)) or not 0 <= sparsity < 1:
        raise ValueError(f"sparsity must be a number in [0, 1) (the fraction of weights pruned), got {sparsity!r}")


def weight_names(model: nn.Module) -> list[str]:
    """The parameter names of the Conv/Linear weights, in forward order (the masked parameters)."""
    layers = {id(m) for m in weight_layers(model)}
    return [f"{name}.weight" if name else "weight" for name, m in model.named_modules() if id(m) in layers]


def decoder(in_features: int, outputs: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """The autoencoder loss's fixed decoder: ``[in_features, outputs]`` with orthonormal columns."""
    q, r = torch.linalg.qr(torch.randn(in_features, outputs, generator=generator))
    return q * torch.sign(torch.diagonal(r))  # Lee et al.'s sign fix: a uniformly drawn orthonormal frame


def connection_sensitivity(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None,
                           loss: str = "supervised", chunk: int = 1000,
                           generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """``|w * dL/dw|`` for every Conv/Linear weight of ``model`` (by parameter name), ``L`` the mean
    ``loss`` over the examples ``x`` (labels ``y`` for the supervised loss), taken ``chunk``
    examples at a time; the model is not changed."""
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r} for connection sensitivity; choose one of {', '.join(LOSSES)}")
    if loss == "supervised" and (y is None or len(y) != len(x)):
        raise ValueError("the supervised connection sensitivity needs one label per example")
    names = weight_names(model)
    params = dict(model.named_parameters())
    weights = [params[n] for n in names]
    grads = [torch.zeros_like(w) for w in weights]
    dec = None
    was_training = model.training
    model.eval()
    for i in range(0, len(x), chunk):
        xb = x[i:i + chunk]
        out = model(xb)
        if loss == "supervised":
            total = F.cross_entropy(out, y[i:i + chunk], reduction="sum")
        else:
            if dec is None:
                dec = decoder(xb[0].numel(), out.shape[1], generator).to(out)
            total = F.mse_loss(out @ dec.T, xb.flatten(1), reduction="none").mean(1).sum()
        for g, d in zip(grads, torch.autograd.grad(total, weights)):
            g += d
    model.train(was_training)
    return {n: (w.detach() * g / len(x)).abs() for n, w, g in zip(names, weights, grads)}


def global_masks(scores: dict[str, torch.Tensor], sparsity: float) -> dict[str, torch.Tensor]:
    """0/1 masks keeping the ``round(N * (1 - sparsity))`` highest scores of all ``N`` (one
    global ranking across layers; ties broken by position)."""
    check_sparsity(sparsity)
    flat = torch.cat([s.flatten() for s in scores.values()])
    keep = flat.new_zeros(len(flat))
    keep[torch.topk(flat, round(len(flat) * (1 - sparsity)), sorted=False).indices] = 1
    out, i = {}, 0
    for name, s in scores.items():
        out[name] = keep[i:i + s.numel()].view_as(s)
        i += s.numel()
    return out


def apply_masks(model: nn.Module, masks: dict[str, torch.Tensor]) -> nn.Module:
    """A copy of ``model`` with every masked weight set to zero (masks checked against the shapes)."""
    out = copy.deepcopy(model)
    params = dict(out.named_parameters())
    for name, m in masks.items():
        if name not in params:
            raise ValueError(f"a mask names {name!r}, which the network does not have; its weights are "
                             f"{', '.join(weight_names(out))}")
        if tuple(m.shape) != tuple(params[name].shape):
            raise ValueError(f"the mask of {name!r} has shape {tuple(m.shape)}, the weight {tuple(params[name].shape)}")
        with torch.no_grad():
            params[name].mul_(m.to(params[name]))
    return out


def prune_snip(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None, sparsity: float,
               loss: str = "supervised", generator: torch.Generator | None = None
               ) -> tuple[nn.Module, dict[str, torch.Tensor]]:
    """Prune ``model`` at initialization by connection sensitivity: the masked copy and its masks."""
    check_sparsity(sparsity)
    masks = global_masks(connection_sensitivity(model, x, y, loss, generator=generator), sparsity)
    return apply_masks(model, masks), masks


def sparsity_of(masks: dict[str, torch.Tensor]) -> float:
    """The fraction of masked weights that are pruned."""
    total = sum(m.numel() for m in masks.values())
    return 1 - sum(float(m.sum()) for m in masks.values()) / total
