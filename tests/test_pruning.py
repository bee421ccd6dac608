import copy
import math

import pytest
import torch

from dipcore import nets, pruning


def test_pruned_counts_follow_the_protocol_rule():
    assert 100 - pruning.n_pruned(100, 0.8) == 20
    assert 100 - pruning.n_pruned(100, 0.9) == 10
    assert pruning.n_pruned(100, 0.3) == 30  # not 31, despite 0.3 * 100 = 30.000000000000004
    assert pruning.n_pruned(6, 0.9) == 5 and pruning.n_pruned(16, 0.9) == 15  # n - 1 cap: 1 kept
    assert pruning.n_pruned(120, 0.9) == 108
    assert pruning.n_pruned(100, 0.0) == 0
    assert pruning.n_pruned(3, 0.99) == 2  # ceil would prune all three: one survives
    assert pruning.n_pruned(7, 0.5) == math.ceil(3.5)


@pytest.mark.parametrize("ratio", [-0.1, 1.0, 1.5, "0.5", None])
def test_bad_ratio_is_a_clear_error(ratio):
    with pytest.raises(ValueError, match="pruning ratio"):
        pruning.prune_l1(nets.build("mlp7-linear"), "mlp7-linear", ratio)


@pytest.mark.parametrize("ratio,kept", [(0.8, 20), (0.9, 10)])
def test_mlp7_widths(ratio, kept):
    small, idx = pruning.prune_l1(nets.build("mlp7-relu"), "mlp7-relu", ratio)
    layers = nets.weight_layers(small)
    assert [m.weight.shape for m in layers] == [(kept, 1024)] + [(kept, kept)] * 5 + [(10, kept)]
    assert sorted(idx) == list(range(6))  # the classifier is never pruned
    assert pruning.pruned_widths("mlp7-relu", ratio) == (kept,) * 6


def test_lenet5_widths_at_0_9():
    small, _ = pruning.prune_l1(nets.build("lenet5-relu"), "lenet5-relu", 0.9)
    conv1, conv2, conv3, fc1, fc2 = nets.weight_layers(small)
    assert conv1.weight.shape == (1, 1, 5, 5)
    assert conv2.weight.shape == (1, 1, 5, 5)
    assert conv3.weight.shape == (12, 1, 5, 5)
    assert fc1.weight.shape == (84, 12) and fc2.weight.shape == (10, 84)
    assert pruning.pruned_widths("lenet5-relu", 0.9) == (1, 1, 12)


def test_kept_units_have_the_largest_l1_scores():
    model = nets.build("lenet5-relu")
    _, kept = pruning.prune_l1(model, "lenet5-relu", 0.5)
    for i, layer in enumerate(nets.weight_layers(model)[:3]):
        scores = layer.weight.abs().flatten(1).mean(1)
        mask = torch.zeros(len(scores), dtype=torch.bool)
        mask[kept[i]] = True
        assert scores[mask].min() >= scores[~mask].max()


def _zeroed_dense(model, kept):
    """The dense network with the pruned units' rows and biases set to zero."""
    dense = copy.deepcopy(model)
    with torch.no_grad():
        for i, layer in enumerate(nets.weight_layers(dense)):
            if i in kept:
                drop = torch.ones(layer.weight.shape[0], dtype=torch.bool)
                drop[kept[i]] = False
                layer.weight[drop] = 0
                layer.bias[drop] = 0
    return dense


@pytest.mark.parametrize("name", nets.NETS)
@pytest.mark.parametrize("ratio", [0.3, 0.8, 0.9])
def test_pruned_network_equals_dense_with_pruned_units_zeroed(name, ratio):
    model = nets.build(name)
    with torch.no_grad():  # non-zero biases everywhere, so a wrongly kept bias would show
        for m in nets.weight_layers(model):
            m.bias.uniform_(-0.5, 0.5)
    small, kept = pruning.prune_l1(model, name, ratio)
    x = torch.randn(16, 1, 32, 32)
    ref = _zeroed_dense(model, kept)(x)
    assert torch.allclose(small(x), ref, atol=1e-5, rtol=1e-5)
    assert nets.num_params(small) < nets.num_params(model)


def test_pruning_does_not_touch_the_original():
    model = nets.build("mlp7-linear")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    pruning.prune_l1(model, "mlp7-linear", 0.9)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_widths_of_inverts_build():
    small, _ = pruning.prune_l1(nets.build("mlp7-relu"), "mlp7-relu", 0.5)
    assert nets.widths_of(small, "mlp7-relu") == (50,) * 6
