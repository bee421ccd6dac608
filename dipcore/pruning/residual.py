"""L1-norm filter pruning of networks whose channels are coupled (residual networks, §3.4,
Tables 4-6), through Torch-Pruning's dependency graph.

Which filters go is decided here exactly as in ``l1.py`` (mean |w| of each filter, on the
original weights, one-shot, ``min(ceil(r*n), n-1)`` per layer, ties by index); Torch-Pruning's
``DependencyGraph`` then removes them together with everything coupled to them (the batch norm
after the conv, the next conv's input channels, ...), so no coupling is written by hand. On a
plain network this gives the very network ``l1.prune_l1`` gives (tested).

Residual networks: ``prune_resnet`` prunes only the first conv of each block (its inner width),
as Li et al.'s ResNet-34-A/B and the authors' code do; the stem, each block's last conv, the
shortcuts and the classifier keep all their channels, so the skip connections never need a joint
choice.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from .criterion import check_ratio, kept_units


def prune_filters(model: nn.Module, layers: list[nn.Conv2d | nn.Linear], ratio: float,
                  example_inputs: torch.Tensor) -> tuple[nn.Module, dict[int, torch.Tensor]]:
    """Prune ``ratio`` of the output channels of each of ``layers`` (modules of ``model``) by their
    L1 norm, scored on the original weights, with Torch-Pruning's dependency graph removing what
    depends on them. Returns a pruned copy (``model`` is untouched) and, per index into ``layers``,
    the kept channels."""
    import torch_pruning as tp

    check_ratio(ratio)
    names = {id(m): n for n, m in model.named_modules()}
    if any(id(m) not in names for m in layers):
        raise ValueError("every layer to prune must be a module of the model")
    kept = {i: kept_units(m.weight, ratio) for i, m in enumerate(layers)}  # one-shot: all scored first
    model = copy.deepcopy(model)
    with torch.enable_grad():  # the graph is traced through autograd (callers may be under no_grad)
        dg = tp.DependencyGraph().build_dependency(model, example_inputs=example_inputs, verbose=False)
    for i, old in enumerate(layers):
        layer = model.get_submodule(names[id(old)])
        drop = sorted(set(range(layer.weight.shape[0])) - set(kept[i].tolist()))
        if not drop:
            continue
        fn = tp.prune_conv_out_channels if isinstance(layer, nn.Conv2d) else tp.prune_linear_out_channels
        dg.get_pruning_group(layer, fn, idxs=drop).prune()
    return model, kept


def block_first_convs(model: nn.Module) -> list[nn.Conv2d]:
    """The first conv of every residual block (CIFAR ResNets and torchvision's BasicBlock and
    Bottleneck alike: the module's ``conv1``)."""
    return [m.conv1 for m in model.modules() if hasattr(m, "conv1") and hasattr(m, "conv2")]


def prune_resnet(model: nn.Module, ratio: float, example_inputs: torch.Tensor) -> nn.Module:
    """L1-norm pruning of a residual network at ``ratio`` (Tables 4-6): the first conv of each
    block loses ``min(ceil(ratio*n), n-1)`` filters, and with them the batch norm after it and the
    matching input channels of the block's second conv. Returns a pruned copy."""
    return prune_filters(model, block_first_convs(model), ratio, example_inputs)[0]
