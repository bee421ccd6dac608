"""§3.4's residual networks: L1-norm filter pruning through Torch-Pruning's dependency graph
(``dipcore.pruning.residual``), the CIFAR ResNets and the reductions of Table 5."""
import pytest
import torch
from torch import nn

from dipcore import nets, pruning
from dipcore.book import paper
from dipcore.nets import resnet
from dipcore.pruning import residual

tp = pytest.importorskip("torch_pruning")


@pytest.mark.parametrize("name,ratio", [("lenet5-relu", 0.5), ("lenet5-linear", 0.9), ("mlp7-relu", 0.9),
                                        ("mlp7-linear", 0.3)])
def test_on_a_plain_network_it_is_exactly_dipcores_l1_pruning(name, ratio):
    """The dependency graph removes what the hand-written ``prune_l1`` removes: same kept filters,
    same weights, bit for bit (incl. the conv -> Linear flattening of LeNet-5)."""
    model = nets.seeded_build(name, 3)
    ours, kept = pruning.prune_l1(model, name, ratio)
    prunable = nets.weight_layers(model)[: nets.arch(name).prunable]
    theirs, kept_tp = residual.prune_filters(model, prunable, ratio, torch.zeros(1, *nets.INPUT_SHAPE))
    assert all(torch.equal(kept[i], kept_tp[i]) for i in kept)
    a, b = ours.state_dict(), theirs.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert nets.weight_layers(model)[0].weight.shape[0] == nets.weight_layers(nets.build(name))[0].weight.shape[0]  # untouched


def test_l1_ranking_equals_torch_prunings_per_filter_l1_importance():
    """Li et al.'s per-filter L1 is Torch-Pruning's MagnitudeImportance(p=1, normalizer=None,
    group_reduction="first") (chapters/protocol.md): the same filters rank lowest."""
    model = nets.seeded_build("lenet5-relu", 1)
    conv = nets.weight_layers(model)[1]
    dg = tp.DependencyGraph().build_dependency(model, example_inputs=torch.zeros(1, *nets.INPUT_SHAPE), verbose=False)
    group = dg.get_pruning_group(conv, tp.prune_conv_out_channels, idxs=list(range(conv.out_channels)))
    imp = tp.importance.MagnitudeImportance(p=1, normalizer=None, group_reduction="first")(group)
    assert torch.equal(torch.argsort(imp, stable=True), torch.argsort(pruning.l1_scores(conv.weight), stable=True))


@pytest.mark.parametrize("depth,ratio", [(20, 0.5), (20, 0.95), (56, 0.3)])
def test_pruned_cifar_resnet_has_the_widths_and_parameters_the_ratio_implies(depth, ratio):
    model = resnet.cifar_resnet(depth, in_channels=1)
    small = residual.prune_resnet(model, ratio, torch.zeros(1, 1, 32, 32))
    dense = resnet.inner_widths(model)
    want = [n - pruning.n_pruned(n, ratio) for n in dense]
    assert resnet.inner_widths(small) == want
    built = resnet.cifar_resnet(depth, in_channels=1, widths=want)  # scratch's architecture
    assert nets.num_params(small) == nets.num_params(built)
    assert [p.shape for p in small.parameters()] == [p.shape for p in built.parameters()]
    small.eval()
    assert small(torch.randn(3, 1, 32, 32)).shape == (3, 10)
    for b, d in zip(small.blocks, model.blocks):  # the skip connections keep every channel
        assert (b.conv1.in_channels, b.conv2.out_channels, b.bn2.num_features) == \
            (d.conv1.in_channels, d.conv2.out_channels, d.bn2.num_features)
        assert b.conv2.in_channels == b.bn1.num_features == b.conv1.out_channels


def test_pruned_resnet_equals_dense_with_pruned_filters_zeroed():
    """Pruning the first conv's filters is the same function as zeroing them (and their batch-norm
    shift): eval-mode outputs agree."""
    torch.manual_seed(0)
    model = resnet.cifar_resnet(20, in_channels=3)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):  # non-trivial statistics
            m.running_mean.uniform_(-1, 1), m.running_var.uniform_(0.5, 2), m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
    model.eval()
    x = torch.randn(4, 3, 32, 32)
    small = residual.prune_resnet(model, 0.5, torch.zeros(1, 3, 32, 32)).eval()
    zeroed = resnet.cifar_resnet(20, in_channels=3)
    zeroed.load_state_dict(model.state_dict())
    zeroed.eval()
    with torch.no_grad():
        for block in zeroed.blocks:
            drop = torch.ones(block.conv1.out_channels, dtype=torch.bool)
            drop[pruning.kept_units(block.conv1.weight, 0.5)] = False
            block.conv1.weight[drop] = 0
            block.bn1.weight[drop] = 0
            block.bn1.bias[drop] = 0
        torch.testing.assert_close(small(x), zeroed(x), atol=1e-5, rtol=1e-5)


def test_bad_depth_and_widths_are_clear_errors():
    with pytest.raises(ValueError, match="depth must be one of"):
        resnet.cifar_resnet(18)
    with pytest.raises(ValueError, match="one inner width >= 1 per block"):
        resnet.cifar_resnet(20, widths=[16] * 8)


@pytest.mark.parametrize("ratio", [0.1, 0.5, 0.95])
def test_torchvision_resnet18_reductions_are_table5s(ratio):
    """Pruning the first conv of every block of torchvision's ResNet-18 and counting parameters and
    FLOPs of the conv and linear layers gives Table 5's reductions to the hundredth."""
    model = resnet.imagenet_resnet("resnet18")
    small = residual.prune_resnet(model, ratio, torch.zeros(1, 3, 224, 224))
    dense, c = nets.cost(model, (3, 224, 224)), nets.cost(small, (3, 224, 224))
    rows = paper.numbers(5)
    rows = rows[(rows.net == "resnet18") & (rows.ratio == ratio)]
    for metric, ours in (("params_reduction", 1 - c["params"] / dense["params"]),
                         ("flops_reduction", 1 - c["flops"] / dense["flops"])):
        assert round(100 * ours, 2) == rows[rows.metric == metric].value.item()


def test_cost_counts_the_layers():
    """FLOPs are 2 per multiply-add of each conv and linear layer, counted independently here."""
    model = nets.build("lenet5-relu")
    # conv1: 6x28x28 outputs of 1x5x5; conv2: 16x10x10 of 6x5x5; conv3: 120 of 16x5x5; fc: 120x84, 84x10
    macs = 6 * 28 * 28 * 25 + 16 * 10 * 10 * 150 + 120 * 400 + 120 * 84 + 84 * 10
    assert nets.cost(model) == {"params": nets.num_params(model), "flops": 2 * macs}
