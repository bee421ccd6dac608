"""Residual networks for §3.4's tier beyond this CPU (Tables 4-6): the CIFAR-style ResNet-20/56 of
He et al. (2016), with batch norm, for 1- or 3-channel 32x32 images, and torchvision's
ResNet-18/34 for ImageNet users.

Unlike the four networks of ``dipcore.nets`` these are not flat ``nn.Sequential``: a skip
connection ties the channels of every block's output to its input, so pruning them goes through
Torch-Pruning's dependency graph (``dipcore.pruning.residual``). ``widths`` gives each block's
inner width (the output channels of its first conv, the only layer that L1-norm pruning of a
residual network touches, as in Li et al. and the authors' code), so that the pruned architecture
can be built afresh for scratch training.
"""
from __future__ import annotations

import torch
from torch import nn

CIFAR_DEPTHS = (20, 32, 44, 56, 110)
STAGE_WIDTHS = (16, 32, 64)


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN, plus the shortcut (identity, or 1x1 conv + BN where the shape
    changes), then ReLU. ``mid`` is the inner width (the first conv's filters)."""

    def __init__(self, cin: int, mid: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, mid, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class CifarResNet(nn.Module):
    """ResNet-(6n+2) for 32x32 inputs: a 3x3 stem of 16 channels, three stages of n blocks (16, 32,
    64 channels, strides 1, 2, 2), global average pooling and the classifier ``fc``."""

    def __init__(self, depth: int = 20, in_channels: int = 3, classes: int = 10, widths: list[int] | None = None):
        super().__init__()
        if depth not in CIFAR_DEPTHS:
            raise ValueError(f"CIFAR ResNet depth must be one of {CIFAR_DEPTHS}, got {depth!r}")
        n = (depth - 2) // 6
        dense = [w for w in STAGE_WIDTHS for _ in range(n)]
        widths = list(dense if widths is None else widths)
        if len(widths) != len(dense) or any(not isinstance(w, int) or w < 1 for w in widths):
            raise ValueError(f"ResNet-{depth} has {len(dense)} blocks: give one inner width >= 1 per block, got {widths}")
        self.stem = nn.Sequential(nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        blocks, cin = [], 16
        for i, (cout, mid) in enumerate(zip(dense, widths)):
            stride = 2 if i % n == 0 and cout != 16 else 1
            blocks.append(BasicBlock(cin, mid, cout, stride))
            cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.blocks(self.stem(x))).flatten(1))


def cifar_resnet(depth: int = 20, in_channels: int = 3, classes: int = 10,
                 widths: list[int] | None = None) -> CifarResNet:
    """A CIFAR-style ResNet-``depth`` (20, 32, 44, 56 or 110) with PyTorch's default init;
    ``widths``: each block's inner width (None: dense)."""
    return CifarResNet(depth, in_channels, classes, widths)


def inner_widths(model: nn.Module) -> list[int]:
    """Each block's inner width (the inverse of ``widths=`` above; torchvision ResNets too)."""
    return [m.conv1.out_channels for m in model.modules() if hasattr(m, "conv1") and hasattr(m, "conv2")]


def imagenet_resnet(name: str = "resnet18", pretrained: bool = False) -> nn.Module:
    """torchvision's ResNet-18 or ResNet-34 (Tables 4 and 5 start from its ImageNet weights:
    ``pretrained=True`` downloads them once into torchvision's cache)."""
    import torchvision

    if name not in ("resnet18", "resnet34"):
        raise ValueError(f"Tables 4 and 5 use resnet18 or resnet34, got {name!r}")
    weights = "IMAGENET1K_V1" if pretrained else None
    return getattr(torchvision.models, name)(weights=weights)


@torch.no_grad()
def torchvision_init(model: nn.Module) -> nn.Module:
    """Re-initialise a (pruned) torchvision ResNet in place as torchvision's ``ResNet.__init__``
    does: convs Kaiming-normal (fan out, ReLU), batch norms weight 1 and bias 0, the classifier
    PyTorch's default. Table 5's "Scratch" is the pruned architecture so initialised."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
            if isinstance(m, nn.BatchNorm2d):
                m.reset_running_stats()
        elif isinstance(m, nn.Linear):
            m.reset_parameters()
    return model
