"""The four networks of the paper (Table 1, Table 3, Table 7), as chapters/protocol.md describes
them: ``mlp7-linear``, ``mlp7-relu``, ``lenet5-linear``, ``lenet5-relu``. Each family is a module
of this package (``mlp7``, ``lenet5``); this one names them and holds what the methods ask of any
network.

Every network is a flat ``nn.Sequential`` so that pruning, OrthP and the stacked trainer can walk
its layers in order. PyTorch's default initialisation is used.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from . import lenet5, mlp7

FAMILIES = {"mlp7": mlp7, "lenet5": lenet5}
ACTIVATIONS = {"linear": nn.Identity, "relu": nn.ReLU}
NETS = ("mlp7-linear", "mlp7-relu", "lenet5-linear", "lenet5-relu")
NUM_CLASSES = 10
INPUT_SHAPE = (1, 32, 32)


@dataclass(frozen=True)
class Arch:
    """What the methods need to know of a network beyond its modules."""

    family: str  # "mlp7" or "lenet5"
    activation: str  # "linear" or "relu"

    @property
    def prunable(self) -> int:
        """How many layers (from the input side) L1 pruning touches (chapters/protocol.md):
        MLP-7 the first 6 Linear layers, LeNet-5 the 3 conv layers; never the classifier."""
        return FAMILIES[self.family].PRUNABLE


def arch(name: str) -> Arch:
    """Parse a network name such as ``"lenet5-relu"``."""
    if name not in NETS:
        raise ValueError(f"unknown network {name!r}; choose one of {', '.join(NETS)}")
    family, activation = name.split("-")
    return Arch(family, activation)


def build(name: str, widths: tuple[int, ...] | None = None) -> nn.Sequential:
    """Build network ``name`` with PyTorch's default init.

    ``widths`` overrides the widths of the prunable layers (6 hidden widths for MLP-7, 3 channel
    counts for LeNet-5): this is how the pruned architecture is built for scratch training.
    """
    a = arch(name)
    return FAMILIES[a.family].build(ACTIVATIONS[a.activation], widths)


def weight_layers(model: nn.Module) -> list[nn.Module]:
    """The Conv/Linear layers of ``model`` in forward order."""
    return [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]


def widths_of(model: nn.Module, name: str) -> tuple[int, ...]:
    """Widths of the prunable layers (the inverse of ``build(name, widths)``)."""
    layers = weight_layers(model)[: arch(name).prunable]
    return tuple(m.out_channels if isinstance(m, nn.Conv2d) else m.out_features for m in layers)


def is_linear_map(model: nn.Module) -> bool:
    """True when ``model`` is an affine map (only Linear, Flatten, Identity): its input-output
    Jacobian is then one weight product, the same for every input (MLP-7-Linear)."""
    leaves = [m for m in model.modules() if not list(m.children())]
    return all(isinstance(m, (nn.Linear, nn.Flatten, nn.Identity)) for m in leaves)


def gain(name: str) -> float:
    """The orthogonal gain of the network's activation (1 for linear, sqrt(2) for ReLU)."""
    return nn.init.calculate_gain(arch(name).activation)


def num_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def cost(model: nn.Module, input_shape: tuple[int, ...] = INPUT_SHAPE) -> dict[str, int]:
    """Parameters and FLOPs of one forward pass of one example, counted from the network (Table
    5's reductions): the parameters of the conv and linear layers (batch norm's are not counted),
    and the FLOPs ``torch.utils.flop_counter`` counts for the convolutions and matrix products, 2
    per multiply-add (biases, activations, norms and pools are not counted). Counted this way,
    torchvision's ResNet-18/34 pruned by ``pruning.residual.prune_resnet`` give Table 5's
    reductions to the hundredth (tested)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.zeros(1, *input_shape))
    params = sum(p.numel() for m in weight_layers(model) for p in m.parameters(recurse=False))
    return {"params": params, "flops": int(counter.get_total_flops())}


def seeded_build(name: str, seed: int, widths: tuple[int, ...] | None = None) -> nn.Sequential:
    """``build`` under a fixed seed, without touching the global RNG of the caller."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build(name, widths)
