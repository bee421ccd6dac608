"""L1-norm structured pruning (Li et al. 2017), one-shot, as the paper uses it throughout (§3.3).

Score of a neuron or filter: the mean |w| of its row (biases are not scored). Every prunable
layer is scored on the *original* weights, loses ``min(ceil(r * n), n - 1)`` units with the lowest
scores, and the network is rebuilt physically smaller: the kept rows of each pruned layer, the
kept input columns of the layer after it (for the first Linear after a conv, every column of each
kept channel's feature map), with the kept biases. The classifier is never pruned (chapters/protocol.md).
"""
from __future__ import annotations

import functools

import torch
from torch import nn

from ..nets import INPUT_SHAPE, arch, build, weight_layers
from .criterion import check_ratio, kept_units, n_pruned
from .residual import block_first_convs, prune_filters


@functools.lru_cache(maxsize=None)  # the cost of every missing run asks it (``book.cost``): a build each
def pruned_widths(name: str, ratio: float) -> tuple[int, ...]:
    """Widths of the prunable layers after pruning ``name`` at ``ratio`` (the scratch baseline
    of Tables 3 and 7 trains this architecture from a fresh init)."""
    if arch(name).residual:  # each block's first conv
        from ..nets.resnet import inner_widths

        dense = inner_widths(build(name))
    else:
        dense = [m.weight.shape[0] for m in weight_layers(build(name))][: arch(name).prunable]
    return tuple(n - n_pruned(n, ratio) for n in dense)


def _feature_map_size(model: nn.Module, upto: nn.Module) -> int:
    """Spatial size (H*W) of the input that ``upto`` sees, from a dummy forward pass."""
    seen: dict[str, int] = {}
    x = torch.zeros(1, *INPUT_SHAPE)
    for m in model:
        if m is upto:
            break
        if isinstance(m, nn.Flatten):
            continue
        x = m(x)
        seen["hw"] = x.shape[-1] * x.shape[-2] if x.dim() == 4 else 1
    return seen.get("hw", 1)


@torch.no_grad()
def prune_l1(model: nn.Sequential, name: str, ratio: float) -> tuple[nn.Sequential, dict[int, torch.Tensor]]:
    """Prune network ``model`` (built by ``dipcore.nets.build(name)``) at ``ratio``.

    Returns the physically smaller network (a new module; ``model`` is untouched) and, for each
    pruned layer (its index among the weight layers; a ResNet: among its blocks), the indices of
    the units it kept.
    """
    check_ratio(ratio)
    if arch(name).residual:  # coupled channels: through Torch-Pruning's dependency graph
        return prune_filters(model, block_first_convs(model), ratio, torch.zeros(1, *INPUT_SHAPE))
    layers = weight_layers(model)
    n_prunable = arch(name).prunable
    kept = {i: kept_units(layers[i].weight, ratio) for i in range(n_prunable)}  # one-shot scoring
    widths = tuple(len(kept[i]) for i in range(n_prunable))
    small = build(name, widths)
    small_layers = weight_layers(small)

    prev: torch.Tensor | None = None  # kept outputs of the previous layer = kept input columns
    for i, (big, new) in enumerate(zip(layers, small_layers)):
        w, b = big.weight, big.bias
        if prev is not None:
            if isinstance(big, nn.Linear) and isinstance(layers[i - 1], nn.Conv2d):
                hw = _feature_map_size(model, big)  # columns of each kept channel's feature map
                prev = (prev[:, None] * hw + torch.arange(hw)).flatten()
            w = w.index_select(1, prev)
        if i in kept:
            w, b = w.index_select(0, kept[i]), b.index_select(0, kept[i])
        new.weight.copy_(w)
        new.bias.copy_(b)
        prev = kept.get(i)
    return small, kept
