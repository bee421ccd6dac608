"""The recipe of a run (chapters/protocol.md): what a spec does to a network before and instead
of training: initialise -> prune -> recover, and the measurement of a network without training.

    initial_model(spec, weights)   # init (fresh or pretrained) -> prune (criterion) -> recover
    measure(spec, model, data)     # JSVs (Eq. 1) and test accuracy of a network, no training
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from .. import isometry, nets, pruning
from ..data import Data
from ..jsv import stats
from ..train import Stack, jsv_subset
from . import spec as specmod


def initial_model(spec: dict, weights: Callable[[str], dict[str, torch.Tensor]]) -> nn.Module:
    """The network a run starts from: a fresh init of the (pruned) architecture (PyTorch's default
    under the spec's seed, or orthogonal), or the stored weights of ``spec['start']`` (read with
    ``weights(key)``) pruned by the spec's criterion; then its recovery (OrthP, ...)."""
    net, ratio = spec["net"], spec["ratio"]
    if spec["start"] == "scratch":
        widths = pruning.pruned_widths(net, ratio) if ratio > 0 else None
        model = nets.seeded_build(net, spec["seed"], widths)
        if spec.get("init") == "orthogonal":
            g = torch.Generator().manual_seed(spec["seed"])
            model = isometry.orthogonal_init(model, nets.gain(net), g)
    else:
        model = nets.build(net)
        model.load_state_dict(weights(spec["start"]))
        if ratio > 0:
            model, _ = pruning.prune_l1(model, net, ratio)
    return recover(model, spec)


def recover(model: nn.Module, spec: dict) -> nn.Module:
    """The spec's recovery method applied to a pruned network (§3.2, §4)."""
    method = specmod.recovery(spec)
    if method == "orthp":
        return isometry.orthp(model, nets.gain(spec["net"]))
    if method == "ai":
        return isometry.approximate_isometry(model, nets.gain(spec["net"]), spec["ai_lr"], spec["ai_iterations"])
    return model


def measure(spec: dict, model: nn.Module, data: Data) -> dict:
    """A ``jsv`` spec's record body: JSV statistics on the protocol's examples and test accuracy
    (computed by the trainer's own code, so a measurement and epoch 0 of a training run agree)."""
    stack = Stack([model], data.x_train.device)
    sv = stack.singular_values(jsv_subset(data, spec["jsv_examples"]))[0]
    acc = stack.accuracy(data.x_test, data.y_test)[0].item()
    body = {"status": "ok", "jsv": stats(sv), "test_acc": acc}
    if spec["keep_values"]:
        values = sv.expand(spec["jsv_examples"], -1) if len(sv) == 1 else sv  # affine: one set for every example
        body["values"] = [float(f"{v:.6g}") for v in values.flatten().tolist()]
    return body
