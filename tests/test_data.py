import gzip
import struct

import numpy as np
import pytest
import torch

from dipcore import data


def _write_idx(folder, n_train=12, n_test=7, gz=False, seed=0):
    """The four MNIST IDX files (big-endian header, then uint8 data), as the real ones."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        imgs = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        arrays[split] = (imgs, labels)
        for kind, arr, magic in (("images-idx3", imgs, 0x803), ("labels-idx1", labels, 0x801)):
            payload = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in arr.shape) + arr.tobytes()
            name = f"{split}-{kind}-ubyte"
            if gz:
                with gzip.open(folder / f"{name}.gz", "wb") as f:
                    f.write(payload)
            else:
                (folder / name).write_bytes(payload)
    return arrays


def test_mnist_reads_idx_files_through_torchvision(tmp_path):
    arrays = _write_idx(tmp_path / "MNIST" / "raw")
    d = data.load("mnist", root=tmp_path, system_dir=None, verify=False)
    assert d.x_train.shape == (12, 1, 32, 32) and d.x_test.shape == (7, 1, 32, 32)
    assert d.y_train.tolist() == arrays["train"][1].tolist()
    assert (d.mean, d.std) == (0.1307, 0.3081)
    # the preprocessing is the authors' per-sample transform, bit for bit
    import torchvision.transforms as T
    from PIL import Image

    tf = T.Compose([T.Resize(32), T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])
    ref = torch.stack([tf(Image.fromarray(a, mode="L")) for a in arrays["t10k"][0]])
    assert torch.allclose(d.x_test, ref, atol=1e-6, rtol=0)


def test_debian_gzipped_copy_is_found(tmp_path):
    arrays = _write_idx(tmp_path / "system", gz=True)
    d = data.load("fashion-mnist", root=tmp_path / "cache", system_dir=tmp_path / "system", n_train=5)
    assert len(d.x_train) == 5 and len(d.x_test) == 7
    assert d.y_test.tolist() == arrays["t10k"][1].tolist()
    assert (d.mean, d.std) == data.NORMALIZATION["fashion-mnist"]


def test_an_idx_copy_named_by_the_environment_is_found(tmp_path, monkeypatch):
    arrays = _write_idx(tmp_path / "carried" / "mnist", gz=True)
    monkeypatch.setenv("DIPBOOK_IDX_DIR", str(tmp_path / "carried"))
    d = data.load("mnist", root=tmp_path / "cache", verify=False)
    assert d.y_train.tolist() == arrays["train"][1].tolist()


def test_missing_dataset_says_how_to_get_it(tmp_path):
    with pytest.raises(data.DatasetMissing, match="apt-get install dataset-fashion-mnist"):
        data.load("fashion-mnist", root=tmp_path, system_dir=tmp_path / "nothing")
    with pytest.raises(data.DatasetMissing, match="download=True"):
        data.load("mnist", root=tmp_path, system_dir=None)


def test_unknown_dataset():
    with pytest.raises(ValueError, match="unknown dataset 'cifar'"):
        data.load("cifar")


def test_synthetic_is_deterministic_and_mnist_shaped():
    a, b = data.load("synthetic", n_train=100, n_test=50), data.load("synthetic", n_train=100, n_test=50)
    assert a.x_train.shape == (100, 1, 32, 32) and a.y_test.shape == (50,)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_train, b.y_train)
    assert not torch.equal(a.x_train[:50], a.x_test)  # train and test are different draws
    assert abs(a.x_train.mean().item()) < 0.1 and abs(a.x_train.std().item() - 1) < 0.1


def test_synthetic_is_learnable():
    d = data.load("synthetic", n_train=1000, n_test=500)
    x, xt = d.x_train.flatten(1), d.x_test.flatten(1)
    w = torch.zeros(1024, 10, requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.01)
    for _ in range(100):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(x @ w, d.y_train).backward()
        opt.step()
    acc = ((xt @ w).argmax(1) == d.y_test).float().mean().item()
    assert acc > 0.8  # a linear classifier learns it: chance is 0.1


@pytest.mark.skipif(not (data.Path(data.SYSTEM_DIRS["fashion-mnist"]) / "train-images-idx3-ubyte.gz").exists(),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_mnist_normalization_constants(tmp_path):
    import torchvision

    d = data.load("fashion-mnist", root=tmp_path)
    assert d.x_train.shape == (60000, 1, 32, 32) and d.x_test.shape == (10000, 1, 32, 32)
    raw = torchvision.datasets.FashionMNIST(str(tmp_path), train=True).data.float() / 255
    assert raw.mean().item() == pytest.approx(data.NORMALIZATION["fashion-mnist"][0], abs=5e-5)
    assert raw.std().item() == pytest.approx(data.NORMALIZATION["fashion-mnist"][1], abs=5e-5)
