"""Jacobian singular values (JSVs) and the mean JSV of Eq. 1 (§3.1).

J is the Jacobian of the logits (no softmax) with respect to the normalised input image, one
``10 x 1024`` matrix per example. Eq. 1: mean JSV = the mean of its ``min(C, D_in) = 10``
singular values; over a set of examples we pool every example's 10 values, and also report their
std, max and min (Table 1).

Per-example Jacobians come from ``torch.func.jacrev`` on a batch (all classes and all examples
in one vectorised backward pass, not a loop of one backward pass per class). For a network with no
nonlinearity J is the same for every input: the product of its weight matrices.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call, jacrev, vmap

from .nets import is_linear_map, weight_layers


def chain(weights: list[torch.Tensor]) -> torch.Tensor:
    """``W_L ... W_2 W_1`` of weight matrices in forward order; stacked ``[R, out, in]`` weights
    give one product per run."""
    out = weights[0]
    for w in weights[1:]:
        out = w @ out
    return out


def weight_product(model: nn.Module) -> torch.Tensor:
    """The Jacobian of an affine network (MLP-7-Linear), shape [C, D_in]."""
    return chain([m.weight for m in weight_layers(model)])


def batch_jacobians(f, x: torch.Tensor) -> torch.Tensor:
    """Per-example Jacobians of a batched function ``f: [N, ...] -> [..., N, C]`` whose examples
    do not interact (no batch norm in training mode): ``[..., N, C, D]``.

    Row c of every example's Jacobian is the gradient of ``sum_n f(x)[n, c]`` with respect to
    ``x``, so ``jacrev`` of that sum (C vectorised backward passes through one batched forward
    pass) yields all of them at once."""
    jac = jacrev(lambda xb: f(xb).sum(-2))(x)  # [..., C, N, *x.shape[1:]]
    return jac.flatten(-x.dim() + 1).transpose(-3, -2)


def jacobians(model: nn.Module, x: torch.Tensor, chunk: int = 500) -> torch.Tensor:
    """Per-example input-output Jacobians of ``model`` on ``x``: ``[N, C, D]`` (D = 1024)."""
    params = {k: v.detach() for k, v in model.named_parameters()}
    f = lambda xb: functional_call(model, params, (xb,))  # noqa: E731
    return torch.cat([batch_jacobians(f, x[i:i + chunk]) for i in range(0, len(x), chunk)])


def wide_svdvals(m: torch.Tensor) -> torch.Tensor:
    """The singular values of wide matrices ``[..., C, D]`` (D much larger than C) through the QR
    factorisation of their transposes: ``m^T = QR`` gives ``m = R^T Q^T``, and Q's orthonormal
    columns leave the singular values those of the small ``C x C`` factor R. Both steps are
    backward stable, like a direct SVD, and 3x faster for the book's ``10 x 1024`` Jacobians
    (issue 36)."""
    if m.shape[-1] <= 2 * m.shape[-2]:
        return torch.linalg.svdvals(m)
    return torch.linalg.svdvals(torch.linalg.qr(m.mT, mode="r").R)


def gram_svdvals(gram: torch.Tensor) -> torch.Tensor:
    """The singular values of matrices ``J`` from their Gram matrices ``J J^T`` ``[..., C, C]``
    (float64), largest first, in float32: the square roots of the Gram matrices' eigenvalues. From
    float32 ``J`` summed in float64, as accurate as ``wide_svdvals`` on ``J`` (a singular value's
    error about 1e-16 of the largest squared over twice itself) without ``J`` stored (issue 36)."""
    return torch.linalg.eigvalsh(gram).clamp_min(0).sqrt().flip(-1).float()


@torch.no_grad()
def stacked_singular_values(forward_one, params: tuple[torch.Tensor, ...], weights: list[torch.Tensor],
                            linear: bool, x: torch.Tensor, chunk: int = 250,
                            head: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """The JSVs of R networks of one architecture on the examples ``x``, ``[R, N, C]``: the one
    place that chooses between the ways of computing them.

    ``forward_one(p, xb)`` is one network's logits with parameters ``p`` (one slice of the
    stacked ``params``); ``weights`` are the stacked weight matrices ``[R, out, in*k*k]`` in
    forward order. An affine network (``linear``) has one Jacobian for every input, the product
    of its weights: ``[R, 1, C]`` then (statistics pooled over examples are the same). Otherwise
    each example's Jacobian, by ``wide_svdvals``. For a network whose first operation is a linear
    layer on the flattened input (an MLP), ``head`` is that layer's stacked weight ``W1 [R, H, D]``
    and bias, and ``forward_one``/``params`` the rest of the network: ``J = J_rest(z1) W1`` at
    ``z1 = W1 x + b1``, and with ``W1^T = Q R1`` (orthonormal Q) J has the singular values of the
    ``C x H`` matrix ``J_rest R1^T``: the rest's Jacobians are H wide, not D (issue 36)."""
    if linear:
        return torch.linalg.svdvals(chain(weights)).unsqueeze(1)

    def run_jacobians(p, xb):  # one network's per-example Jacobians on the batch xb
        return batch_jacobians(lambda v: forward_one(p, v), xb)

    if head is not None:
        w1, b1 = head
        r1t = torch.linalg.qr(w1.mT, mode="r").R.mT.unsqueeze(1)  # [R, 1, H, H]
    out = []
    for i in range(0, len(x), chunk):
        xb = x[i:i + chunk]
        with torch.enable_grad():
            if head is None:
                jac = vmap(run_jacobians, in_dims=(0, None))(params, xb)  # [R, n, C, D]
            else:
                z1 = torch.baddbmm(b1.unsqueeze(1), xb.flatten(1).expand(len(w1), -1, -1), w1.mT)  # [R, n, H]
                jac = vmap(run_jacobians)(params, z1) @ r1t  # [R, n, C, H]
        out.append(wide_svdvals(jac))
    return torch.cat(out, 1)


@torch.no_grad()
def singular_values(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The JSVs of each example, shape ``[N, min(C, D_in)]`` (for an affine network the JSVs of
    its one weight product, repeated for every example)."""
    names = [k for k, _ in model.named_parameters()]
    params = tuple(p.detach().unsqueeze(0) for _, p in model.named_parameters())
    one = lambda p, xb: functional_call(model, dict(zip(names, p)), (xb,))  # noqa: E731
    weights = [m.weight.detach().flatten(1).unsqueeze(0) for m in weight_layers(model)]
    return stacked_singular_values(one, params, weights, is_linear_map(model), x)[0].expand(len(x), -1)


STATS = ("mean", "std", "max", "min")


def batch_stats(sv: torch.Tensor) -> torch.Tensor:
    """For each of R sets of JSVs ``[R, ...]``: the mean JSV (Eq. 1, pooled over examples), and
    the std (population), max and min of Table 1, as ``[R, 4]``."""
    sv = sv.detach().flatten(1).double()
    return torch.stack([sv.mean(1), sv.std(1, correction=0), sv.amax(1), sv.amin(1)], 1)


def stats(sv: torch.Tensor) -> dict[str, float]:
    """``batch_stats`` of one set of JSVs, by name."""
    return dict(zip(STATS, batch_stats(sv.reshape(1, -1))[0].tolist()))


def mean_jsv(model: nn.Module, x: torch.Tensor) -> float:
    """Eq. 1 over the examples ``x``."""
    return stats(singular_values(model, x))["mean"]


def isometry_distance(mean):
    """How far a mean JSV (Eq. 1) is from isometry, in orders of magnitude: ``|log10 mean JSV|``
    (0 at isometry; 1 for a mean JSV of 10 and for one of 0.1 alike), elementwise on a number or
    an array (issue 38). Unlike the mean JSV itself, it does not reward shrinking: pruning a
    network whose mean JSV is 5 down to 0.5 brings it no nearer. It reads the statistic every run
    logs per epoch, so it sees the mean, not the spread of the singular values around it."""
    import numpy as np

    return np.abs(np.log10(np.asarray(mean, dtype=float)))


def layer_blocks(model: nn.Sequential) -> list[nn.Sequential]:
    """A plain network cut into its layers: each Conv/Linear layer with the elementwise modules
    after it (its activation, a pool), up to the next one; what comes before the first weight
    layer (a ``Flatten``) goes with it."""
    if not isinstance(model, nn.Sequential):
        raise ValueError("layerwise JSVs are defined for a plain nn.Sequential network (no skip connections)")
    blocks: list[list[nn.Module]] = [[]]
    for m in model:
        if isinstance(m, (nn.Linear, nn.Conv2d)) and any(isinstance(b, (nn.Linear, nn.Conv2d)) for b in blocks[-1]):
            blocks.append([])
        blocks[-1].append(m)
    return [nn.Sequential(*b) for b in blocks]


@torch.no_grad()
def layerwise_singular_values(model: nn.Sequential, x: torch.Tensor, chunk: int = 250) -> list[torch.Tensor]:
    """Lee et al.'s *layerwise* JSVs: for each layer l, the singular values of its own Jacobian
    ``J_l = d x_l / d x_(l-1)`` (``D_l W_l`` for ``x_l = phi(W_l x_(l-1) + b_l)``, D_l the diagonal of
    ``phi'``) at each example's input to that layer: one ``[N, min(out, in)]`` tensor per layer (an
    affine network: ``[1, k]``, the singular values of each weight matrix). Layerwise dynamical
    isometry is every one of them near 1."""
    blocks = layer_blocks(model)
    if is_linear_map(model):
        return [torch.linalg.svdvals(weight_layers(b)[0].weight.detach().flatten(1)).unsqueeze(0) for b in blocks]
    out, h = [], x
    for block in blocks:
        with torch.enable_grad():
            sv = torch.cat([torch.linalg.svdvals(jacobians(block, h[i:i + chunk], chunk))
                            for i in range(0, len(h), chunk)])
        out.append(sv)
        h = block(h)
    return out
