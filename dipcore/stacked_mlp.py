"""A stack of R plain MLPs (MLP-7, Tables 1, 3 and 7) trained without ``vmap`` (issue 36).

``vmap`` turns each ``Linear`` layer of R runs into a batched product whose backward pass computes
the weight gradient as ``x^T g`` (``[R, D, B] @ [R, B, H]``), a shape the CPU's batched GEMM runs
7x slower than the same numbers as ``g^T x`` (measured, one thread: 3.1 ms against 0.42 ms for
ten runs of MLP-7's first layer pruned at 0.9, a batch of 100). ``StackedLinear`` is that layer
with its backward pass written out in the fast orientation; ``forward`` runs a plan of such layers
and their activations. Same arithmetic as ``torch.nn.functional.linear``, summed in another order:
results differ from the ``vmap`` path by float32 rounding (tests/test_train.py).
"""
from __future__ import annotations

import torch
from torch import nn

ACTIVATIONS = {nn.ReLU: torch.relu, nn.Tanh: torch.tanh, nn.Identity: None}


class StackedLinear(torch.autograd.Function):
    """``z[r] = x[r] @ W[r]^T + b[r]`` for stacked ``x [R, B, D]``, ``W [R, H, D]``, ``b [R, H]``
    (``x`` may also be one ``[B, D]`` batch shared by every run)."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        return torch.baddbmm(bias.unsqueeze(1), x.expand(len(weight), *x.shape[-2:]), weight.mT)

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        gx = torch.bmm(g, weight) if ctx.needs_input_grad[0] else None
        if gx is not None and x.dim() == 2:
            gx = gx.sum(0)
        gw = torch.bmm(g.mT, x.expand(len(weight), *x.shape[-2:])) if ctx.needs_input_grad[1] else None
        gb = g.sum(1) if ctx.needs_input_grad[2] else None
        return gx, gw, gb


def plan(model: nn.Module) -> list[tuple] | None:
    """The layers of ``model`` as steps for ``forward``: ``("linear", weight name, bias name)`` or
    ``("act", function)``; None when the model is not a plain MLP (an ``nn.Sequential`` of a first
    ``Flatten``, then biased ``Linear`` layers, ReLU, Tanh and Identity only)."""
    if not isinstance(model, nn.Sequential):
        return None
    out = []
    for i, m in enumerate(model):
        if isinstance(m, nn.Flatten) and i == 0:
            continue
        if isinstance(m, nn.Linear) and m.bias is not None:
            out.append(("linear", f"{i}.weight", f"{i}.bias"))
        elif type(m) in ACTIVATIONS:
            if ACTIVATIONS[type(m)] is not None:
                out.append(("act", ACTIVATIONS[type(m)]))
        else:
            return None
    return out if isinstance(model[0], nn.Flatten) else None


def forward(steps: list[tuple], params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Logits ``[R, B, C]`` of the stacked MLP (``params``: by name, stacked ``[R, ...]``) on images
    ``x``: ``[R, B, C, H, W]`` (a batch per run) or ``[B, C, H, W]`` (one batch for every run)."""
    h = x.flatten(-3)
    for step in steps:
        h = StackedLinear.apply(h, params[step[1]], params[step[2]]) if step[0] == "linear" else step[1](h)
    return h
