"""OrthP (Eq. 2, §3.2): each weight matrix of a pruned network replaced by a matrix with
orthonormal rows or columns (the orthonormal factor Q of its QR decomposition, signs fixed)."""
from __future__ import annotations

import copy

import torch
from torch import nn

from ..nets import weight_layers


def orthogonalize(weight: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
    """Eq. 2 on one layer: ``Q, R = qr(W); W* = Q * sign(diag(R))``, times ``gain``.

    ``W`` is flattened to ``[out, in*k*k]`` and, if wide (out < in*k*k), transposed so that the
    reduced QR has ``Q`` of the same shape as ``W``; the result is transposed back. Wide layers
    so get orthonormal rows and tall layers orthonormal columns. A zero on the diagonal of R
    (a degenerate W) counts as sign +1, so no column of Q is ever zeroed.
    """
    w = weight.detach().flatten(1)
    wide = w.shape[0] < w.shape[1]
    a = w.T if wide else w
    q, r = torch.linalg.qr(a, mode="reduced")
    q = q * torch.where(torch.diagonal(r) < 0, -1.0, 1.0).to(q.dtype)
    return (gain * (q.T if wide else q)).reshape(weight.shape)


def nearest_isometry(weight: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
    """The matrix with orthonormal rows or columns (times ``gain``) nearest to ``weight`` in the
    Frobenius norm: ``U V^T`` of its SVD (the polar factor), on the ``[out, in*k*k]`` flattening.
    The least any exact recovery must move a layer; OrthP's ``Q`` is one such matrix, not in
    general the nearest (§3.2)."""
    u, _, vh = torch.linalg.svd(weight.detach().flatten(1), full_matrices=False)
    return (gain * u @ vh).reshape(weight.shape)


@torch.no_grad()
def orthp(model: nn.Module, gain: float = 1.0) -> nn.Module:
    """OrthP: a copy of the (pruned) ``model`` with Eq. 2 applied to every Conv/Linear weight,
    the classifier included; biases keep their inherited values (chapters/protocol.md)."""
    out = copy.deepcopy(model)
    for m in weight_layers(out):
        m.weight.copy_(orthogonalize(m.weight, gain))
    return out
