import pytest
import torch

from dipcore import data


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _inflight(tmp_path, monkeypatch):
    """Checkpoints of the store's training jobs go to a temporary folder in tests."""
    monkeypatch.setenv("DIPBOOK_STATE", str(tmp_path / "inflight"))


@pytest.fixture(scope="session")
def synthetic():
    return data.load("synthetic", n_train=250, n_test=120)
