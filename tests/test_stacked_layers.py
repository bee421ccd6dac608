"""The written-out stacked layers (``dipcore.stacked_layers``, issue 36): their plan of a network
and their forward pass against each network's own ``nn.Module``."""
import pytest
import torch
from torch import nn

from dipcore import nets, pruning, stacked_layers


def test_the_plan_takes_a_max_pool_before_the_monotone_activation_it_follows():
    steps = stacked_layers.plan(nets.build("lenet5-relu"))
    kinds = [s[0] for s in steps]
    assert kinds == ["conv", "pool", "act", "conv", "pool", "act", "conv", "act", "flatten", "linear", "act", "linear"]
    assert [s[1] for s in steps if s[0] in ("conv", "linear")] == [0, 3, 6, 9, 11]  # each layer's index in the model
    assert [s[0] for s in stacked_layers.plan(nets.build("mlp7-linear"))][:2] == ["flatten", "linear"]


@pytest.mark.parametrize("model", [
    nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(2, 2)),  # batch norm
    nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2, return_indices=True), nn.Flatten(), nn.Linear(2, 2)),
    nn.Sequential(nn.Conv2d(2, 2, 3, groups=2), nn.Flatten(), nn.Linear(2, 2)),  # already grouped
    nn.Sequential(nn.Conv2d(1, 2, 3, bias=False), nn.Flatten(), nn.Linear(2, 2)),
    nn.Sequential(nn.Linear(4, 2)),  # no Flatten first
    nn.Sequential(nn.Flatten(), nn.Linear(4, 2), nn.Sigmoid()),
])
def test_a_network_the_written_out_layers_do_not_cover_has_no_plan(model):
    assert stacked_layers.plan(model) is None


@pytest.mark.parametrize("name,ratio", [("lenet5-relu", 0.9), ("lenet5-linear", 0.5), ("lenet5-relu", 0.0),
                                        ("mlp7-relu", 0.9), ("lenet5-linear", 0.7)])
@pytest.mark.parametrize("runs_innermost,kernel,inner", [(False, False, False), (True, False, False),
                                                         (True, True, False), (True, True, True)])
def test_the_stacked_forward_is_each_networks_own(name, ratio, runs_innermost, kernel, inner):
    """Logits of R stacked networks, on a batch per run and on one batch shared by all, equal each
    network's own forward pass (the flatten keeps each run's channel order; the shared batch's first
    convolution is one ordinary convolution with every run's filters), in either layout, and with
    LeNet-5's first layer in the C++ kernel (``dipcore.kernels``; skipped where it is not built), and
    its second (``inner``) where that has one channel in (0.7, 0.9; elsewhere the grouped convolution)."""
    widths = pruning.pruned_widths(name, ratio) if ratio else None
    models = [nets.seeded_build(name, s, widths) for s in range(3)]
    steps = stacked_layers.plan(models[0])
    ext = None
    if kernel:
        from dipcore import kernels

        ext = kernels.first_conv()
        if ext is None or not stacked_layers.kernel_fits(steps, nets.INPUT_SHAPE):
            pytest.skip("the kernel is not built here, or does not compute this network's first layer")
    params = {k: torch.stack([dict(m.named_parameters())[k].detach() for m in models]) for k, _ in
              models[0].named_parameters()}
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, *nets.INPUT_SHAPE, generator=g)
    own = torch.stack([m(x[r]) for r, m in enumerate(models)]).detach()
    assert torch.allclose(stacked_layers.forward(steps, params, x, runs_innermost, ext, inner), own, atol=1e-5)
    shared = torch.stack([m(x[0]) for m in models]).detach()
    assert torch.allclose(stacked_layers.forward(steps, params, x[0], runs_innermost, ext, inner), shared, atol=1e-5)
    assert not torch.allclose(own[0], own[1], atol=1e-3)  # three different networks
