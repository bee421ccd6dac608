"""The recipe of a run (chapters/protocol.md): what a spec does to a network before and instead
of training: initialise -> prune -> recover, and the measurement of a network without training.

    start(spec, weights, data)     # init (fresh or pretrained) -> prune (criterion) -> recover: (network, masks)
    measure(spec, model, data)     # JSVs (Eq. 1), layerwise JSVs and test accuracy of a network, no training
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from .. import isometry, nets, pruning
from ..data import Data
from ..jsv import layerwise_singular_values, stats
from ..train import Stack, jsv_subset
from . import spec as specmod


Masks = dict[str, torch.Tensor]


def start(spec: dict, weights: Callable[[str], dict[str, torch.Tensor]],
          data: Data | None = None) -> tuple[nn.Module, Masks | None]:
    """The network a run starts from, and its masks (``None`` unless pruned by connection
    sensitivity): a fresh init of the (pruned) architecture (PyTorch's default under the spec's
    seed, orthogonal, or a variance scaling), or the stored weights of ``spec['start']`` (read
    with ``weights(key)``), pruned by the spec's criterion (L1: a smaller network; SNIP: masks from
    the training split of ``data``); then its recovery (OrthP, AI, ...)."""
    net, ratio, criterion = spec["net"], spec["ratio"], specmod.field(spec, "criterion")
    masks = None
    if spec["start"] == "scratch":
        masked = criterion in pruning.MASKED
        widths = pruning.pruned_widths(net, ratio) if ratio > 0 and not masked else None
        model = nets.seeded_build(net, spec["seed"], widths)
        init = specmod.field(spec, "init")
        if init != "default":
            model = isometry.initialize(model, init, nets.gain(net), torch.Generator().manual_seed(spec["seed"]))
        if masked:
            if data is None:
                raise ValueError(f"{specmod.describe(spec)}: connection sensitivity needs the training data")
            model, masks = pruning.prune_snip(model.to(data.x_train.device), data.x_train, data.y_train, ratio,
                                              pruning.MASKED[criterion], torch.Generator().manual_seed(spec["seed"]))
    else:
        model = nets.build(net)
        model.load_state_dict(weights(spec["start"]))
        if ratio > 0:
            model, _ = pruning.prune_l1(model, net, ratio)
    return recover(model, spec, masks), masks


def initial_model(spec: dict, weights: Callable[[str], dict[str, torch.Tensor]], data: Data | None = None) -> nn.Module:
    """The network of ``start`` alone (its masks, if any, are applied to it)."""
    return start(spec, weights, data)[0]


def recover(model: nn.Module, spec: dict, masks: Masks | None = None) -> nn.Module:
    """The spec's recovery method (``isometry.RECOVERIES``) applied to a pruned network (§3.2, §4),
    with the settings its spec stores; masks (pruning at initialization) are passed by weight layer."""
    method = isometry.RECOVERIES[specmod.recovery(spec)]
    by_index = None if masks is None else \
        {i: masks[n] for i, n in enumerate(pruning.snip.weight_names(model)) if n in masks}
    settings = {setting: spec[f] for f, setting in method.fields().items()}
    return method.apply(model, nets.gain(spec["net"]), by_index, **settings)


def measure(spec: dict, model: nn.Module, data: Data) -> dict:
    """A ``jsv`` spec's record body: JSV statistics on the protocol's examples and test accuracy
    (computed by the trainer's own code, so a measurement and epoch 0 of a training run agree);
    for an MLP-7 also each layer's own JSV statistics (Lee et al.'s layerwise dynamical isometry)."""
    stack = Stack([model], data.x_train.device)
    x = jsv_subset(data, spec["jsv_examples"])
    sv = stack.singular_values(x)[0]
    acc = stack.accuracy(data.x_test, data.y_test)[0].item()
    body = {"status": "ok", "jsv": stats(sv), "test_acc": acc}
    if nets.arch(spec["net"]).family == "mlp7":
        body["layerwise"] = [stats(v) for v in layerwise_singular_values(model.eval(), x)]
    if spec["keep_values"]:
        values = sv.expand(spec["jsv_examples"], -1) if len(sv) == 1 else sv  # affine: one set for every example
        body["values"] = [float(f"{v:.6g}") for v in values.flatten().tolist()]
    return body
