"""Natural-image datasets for §3.4's residual networks (Tables 4-6): CIFAR-10 through torchvision
and ImageNet as an ``ImageFolder``, with the standard augmentation of the papers they come from
(CIFAR: 4-pixel padded random crop and horizontal flip; ImageNet: random resized crop to 224 and
flip, tested on the 224 centre crop of the image resized to 256). Unlike ``dipcore.data`` these
are read image by image through a ``DataLoader``: they are augmented per example, and ImageNet
does not fit in memory.

Neither can be fetched on the machines that build this book; both fail with a message saying how
to get them.
"""
from __future__ import annotations

from pathlib import Path

from .data import DatasetMissing, default_root

CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def transform(name: str, train: bool):
    """The per-example transform of ``cifar10`` or ``imagenet`` for the training or test split."""
    from torchvision import transforms as T

    if name == "cifar10":
        aug = [T.RandomCrop(32, padding=4), T.RandomHorizontalFlip()] if train else []
        return T.Compose([*aug, T.ToTensor(), T.Normalize(CIFAR10_MEAN, CIFAR10_STD)])
    if name == "imagenet":
        crop = [T.RandomResizedCrop(224), T.RandomHorizontalFlip()] if train else [T.Resize(256), T.CenterCrop(224)]
        return T.Compose([*crop, T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    raise ValueError(f"unknown image dataset {name!r}; choose cifar10 or imagenet")


def cifar10(train: bool, root: str | Path | None = None, download: bool = False):
    """CIFAR-10's training or test split (torchvision), augmented when ``train``; files in
    ``root`` (default ``$DIPBOOK_DATA`` or ``~/.cache/dipbook``), downloaded only if allowed."""
    import torchvision

    root = Path(root) if root is not None else default_root()
    try:
        return torchvision.datasets.CIFAR10(str(root), train=train, download=download, transform=transform("cifar10", train))
    except RuntimeError as e:  # "Dataset not found or corrupted"
        raise DatasetMissing(
            f"CIFAR-10 not found in {root / 'cifar-10-batches-py'} ({e}). To get it: allow a download "
            "(download=True, needs internet; 163 MB), or unpack cifar-10-python.tar.gz from "
            f"https://www.cs.toronto.edu/~kriz/cifar.html into {root}. Set $DIPBOOK_DATA to use another folder.") from e


def imagenet(split: str, root: str | Path):
    """ImageNet's ``train`` or ``val`` split as an ``ImageFolder``: ``root/<split>/<wnid>/*.JPEG``
    (the layout of PyTorch's ImageNet example; the validation images sorted into class folders)."""
    from torchvision.datasets import ImageFolder

    if split not in ("train", "val"):
        raise ValueError(f"ImageNet split must be 'train' or 'val', got {split!r}")
    folder = Path(root) / split
    if not folder.is_dir() or not any(p.is_dir() for p in folder.iterdir()):
        raise DatasetMissing(
            f"ImageNet's {split!r} split not found in {folder}: it needs one sub-folder per class. To get it: "
            "download ILSVRC2012 (image-net.org, after registering), extract the training archive into "
            f"{Path(root) / 'train'} (one folder per class) and sort the validation images into class folders "
            f"under {Path(root) / 'val'} (e.g. with the valprep.sh script of PyTorch's ImageNet example).")
    return ImageFolder(str(folder), transform=transform("imagenet", split == "train"))
