"""The four networks of the paper (Table 1, Table 3, Table 7), as chapters/protocol.md describes
them: ``mlp7-linear``, ``mlp7-relu``, ``lenet5-linear``, ``lenet5-relu``; and §3.4's residual
tier, ``resnet20`` (the CIFAR-style ResNet-20 with batch norm, on the book's 1-channel 32x32
images); and ``mlp7-tanh``, Lee et al.'s MLP-7 with tanh, for pruning at initialization. Each family is a module of this package (``mlp7``, ``lenet5``, ``resnet``); this one
names them and holds what the methods ask of any network.

The four are flat ``nn.Sequential`` so that pruning and OrthP can walk their layers in order; a
residual network is pruned through a dependency graph instead (``dipcore.pruning.residual``). The
stacked trainer takes either. PyTorch's default initialisation is used.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from . import lenet5, mlp7, resnet

FAMILIES = {"mlp7": mlp7, "lenet5": lenet5}
ACTIVATIONS = {"linear": nn.Identity, "relu": nn.ReLU, "tanh": nn.Tanh}
NETS = ("mlp7-linear", "mlp7-relu", "lenet5-linear", "lenet5-relu")  # the paper's four
LEE = ("mlp7-tanh",)  # Lee et al.'s MLP-7 with tanh (pruning at initialization), beside the paper's MLP-7s
RESIDUAL = ("resnet20",)  # §3.4's residual tier (a GPU's work at the paper protocol)
NUM_CLASSES = 10
INPUT_SHAPE = (1, 32, 32)


@dataclass(frozen=True)
class Entry:
    """How the book names, draws and schedules one network: the paper's name for it, its colour in
    every figure (Okabe-Ito, colour-blind safe), and its relative cost of one run-epoch for dealing
    stacks to shards (``dipcore.book.executor.cost``): the cost unpruned, relative to MLP-7
    (measured on the 2-core CPU, stacked, at Table 7's ratios), and the share of it that pruning
    does not remove (read off the stored runs' speed across §3.4's ratios). ResNet-20's is its
    FLOPs' ratio to LeNet-5's (about 100), as no CPU run of it is stored."""

    label: str
    color: str
    cost: tuple[float, float]


# Every network a run may name, with its entry: a new network is a module of this package (its
# ``build``), its name in ``NETS``/``LEE``/``RESIDUAL`` and a line here.
ENTRIES = {
    "mlp7-linear": Entry("MLP-7-Linear", "#0072B2", (1.0, 0.5)),
    "mlp7-relu": Entry("MLP-7-ReLU", "#D55E00", (1.0, 0.5)),
    "lenet5-linear": Entry("LeNet-5-Linear", "#009E73", (4.0, 0.2)),
    "lenet5-relu": Entry("LeNet-5-ReLU", "#CC79A7", (4.0, 0.2)),
    "mlp7-tanh": Entry("MLP-7-Tanh", "#E69F00", (1.0, 0.5)),
    "resnet20": Entry("ResNet-20", "#56B4E9", (400.0, 0.1)),
}


@dataclass(frozen=True)
class Arch:
    """What the methods need to know of a network beyond its modules."""

    family: str  # "mlp7", "lenet5" or "resnet"
    activation: str  # "linear", "relu" or "tanh"
    depth: int = 0  # residual networks: 20, ...

    @property
    def residual(self) -> bool:
        return self.family == "resnet"

    @property
    def prunable(self) -> int:
        """How many layers L1 pruning touches (chapters/protocol.md): MLP-7 the first 6 Linear
        layers, LeNet-5 the 3 conv layers (from the input side), a ResNet the first conv of each
        of its blocks; never the classifier."""
        return (self.depth - 2) // 2 if self.residual else FAMILIES[self.family].PRUNABLE


def arch(name: str) -> Arch:
    """Parse a network name such as ``"lenet5-relu"`` or ``"resnet20"``."""
    if name in RESIDUAL:
        return Arch("resnet", "relu", int(name[6:]))
    if name not in NETS + LEE:
        raise ValueError(f"unknown network {name!r}; choose one of {', '.join(NETS + LEE + RESIDUAL)}")
    family, activation = name.split("-")
    return Arch(family, activation)


def build(name: str, widths: tuple[int, ...] | None = None) -> nn.Sequential:
    """Build network ``name`` with PyTorch's default init.

    ``widths`` overrides the widths of the prunable layers (6 hidden widths for MLP-7, 3 channel
    counts for LeNet-5): this is how the pruned architecture is built for scratch training.
    """
    a = arch(name)
    if a.residual:  # widths: each block's inner width
        return resnet.cifar_resnet(a.depth, INPUT_SHAPE[0], NUM_CLASSES, list(widths) if widths is not None else None)
    return FAMILIES[a.family].build(ACTIVATIONS[a.activation], widths)


def weight_layers(model: nn.Module) -> list[nn.Module]:
    """The Conv/Linear layers of ``model`` in forward order."""
    return [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]


def widths_of(model: nn.Module, name: str) -> tuple[int, ...]:
    """Widths of the prunable layers (the inverse of ``build(name, widths)``)."""
    if arch(name).residual:
        return tuple(resnet.inner_widths(model))
    layers = weight_layers(model)[: arch(name).prunable]
    return tuple(m.out_channels if isinstance(m, nn.Conv2d) else m.out_features for m in layers)


def is_linear_map(model: nn.Module) -> bool:
    """True when ``model`` is an affine map (only Linear, Flatten, Identity): its input-output
    Jacobian is then one weight product, the same for every input (MLP-7-Linear)."""
    leaves = [m for m in model.modules() if not list(m.children())]
    return all(isinstance(m, (nn.Linear, nn.Flatten, nn.Identity)) for m in leaves)


def gain(name: str) -> float:
    """The orthogonal gain of the network's activation: 1 for linear, sqrt(2) for ReLU, and 1 for
    tanh (tanh'(0) = 1, so with zero biases a gain-1 orthogonal tanh layer is isometric near the
    origin: Lee et al.'s orthogonal init; PyTorch's ``calculate_gain`` says 5/3, Saxe's gain for
    keeping the forward variance, which puts tanh units in saturation)."""
    activation = arch(name).activation
    return 1.0 if activation == "tanh" else nn.init.calculate_gain(activation)


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
