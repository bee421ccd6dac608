import pytest
import torch

from dipcore import data


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def synthetic():
    return data.load("synthetic", n_train=250, n_test=120)
