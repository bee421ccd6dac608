"""CIFAR-10 and ImageNet loaders (``dipcore.images``), on tiny files the tests write in each
dataset's real on-disk format."""
import pickle

import numpy as np
import pytest
import torch

from dipcore import images
from dipcore.data import DatasetMissing


def _write_cifar(root, n=6):
    """A CIFAR-10 folder in torchvision's python format: 5 training batches and a test batch."""
    d = root / "cifar-10-batches-py"
    d.mkdir(parents=True)
    rng = np.random.default_rng(0)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels = list(rng.integers(0, 10, n))
        with open(d / name, "wb") as f:
            pickle.dump({"data": data, "labels": labels}, f)
        batches[name] = (data, labels)
    with open(d / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"class{i}" for i in range(10)]}, f)
    return batches


def test_cifar10_reads_torchvisions_format_and_normalises(tmp_path, monkeypatch):
    import torchvision.datasets.cifar as tv_cifar

    batches = _write_cifar(tmp_path)
    # torchvision checks the real files' MD5 sums; these are not the real files
    monkeypatch.setattr(tv_cifar, "check_integrity", lambda *a, **k: True)
    test = images.cifar10(train=False, root=tmp_path)
    train = images.cifar10(train=True, root=tmp_path)
    assert len(train) == 30 and len(test) == 6
    x, y = test[2]
    data, labels = batches["test_batch"]
    raw = torch.tensor(data[2].reshape(3, 32, 32), dtype=torch.float32) / 255
    mean, std = torch.tensor(images.CIFAR10_MEAN)[:, None, None], torch.tensor(images.CIFAR10_STD)[:, None, None]
    torch.testing.assert_close(x, (raw - mean) / std)  # the test split is not augmented
    assert y == labels[2]
    torch.manual_seed(0)
    xa, _ = train[0]
    assert xa.shape == (3, 32, 32)


def test_cifar10_missing_says_how_to_get_it(tmp_path):
    with pytest.raises(DatasetMissing, match="CIFAR-10 not found.*download=True.*cifar-10-python.tar.gz"):
        images.cifar10(train=True, root=tmp_path)


def test_imagenet_reads_an_image_folder(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(1)
    for split in ("train", "val"):
        for wnid in ("n01440764", "n01443537"):
            (tmp_path / split / wnid).mkdir(parents=True)
            for i in range(2):
                Image.fromarray(rng.integers(0, 256, (300, 260, 3), dtype=np.uint8)).save(tmp_path / split / wnid / f"{i}.JPEG")
    val = images.imagenet("val", tmp_path)
    assert val.classes == ["n01440764", "n01443537"] and len(val) == 4
    x, y = val[3]
    assert x.shape == (3, 224, 224) and y == 1
    x2, _ = images.imagenet("val", tmp_path)[3]
    assert torch.equal(x, x2)  # the test transform is deterministic
    xt, _ = images.imagenet("train", tmp_path)[0]
    assert xt.shape == (3, 224, 224)


def test_imagenet_missing_says_how_to_get_it(tmp_path):
    (tmp_path / "train").mkdir()
    with pytest.raises(DatasetMissing, match="needs one sub-folder per class.*image-net.org"):
        images.imagenet("train", tmp_path)
    with pytest.raises(ValueError, match="'train' or 'val'"):
        images.imagenet("test", tmp_path)
