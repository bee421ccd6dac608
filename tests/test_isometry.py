import numpy as np
import pytest
import torch

from dipcore import isometry, jsv, nets, pruning


def _pretrained_like(name):
    """A dense network with non-orthogonal, trained-looking weights."""
    m = nets.build(name)
    with torch.no_grad():
        for layer in nets.weight_layers(m):
            layer.weight.mul_(1 + torch.rand_like(layer.weight))
    return m


@pytest.mark.parametrize("ratio", [0.8, 0.9])
def test_orthp_makes_every_jsv_of_pruned_mlp7_linear_one(ratio):
    small, _ = pruning.prune_l1(_pretrained_like("mlp7-linear"), "mlp7-linear", ratio)
    x = torch.randn(4, 1, 32, 32)
    before = jsv.singular_values(small, x)
    assert (before - 1).abs().max() > 0.5  # pruning broke isometry
    sv = jsv.singular_values(isometry.orthp(small), x)
    assert torch.allclose(sv, torch.ones_like(sv), atol=1e-4)
    # the same through per-example autograd Jacobians, not only the weight product
    sv_autograd = torch.linalg.svdvals(jsv.jacobians(isometry.orthp(small), x))
    assert torch.allclose(sv_autograd, torch.ones_like(sv_autograd), atol=1e-4)


@pytest.mark.parametrize("name,gain", [("mlp7-linear", 1.0), ("lenet5-relu", 2 ** 0.5)])
def test_each_weight_has_orthonormal_rows_or_columns(name, gain):
    small, _ = pruning.prune_l1(_pretrained_like(name), name, 0.8)
    ortho = isometry.orthp(small, nets.gain(name))
    assert nets.gain(name) == pytest.approx(gain)
    for layer in nets.weight_layers(ortho):
        w = layer.weight.flatten(1) / gain
        small_side = min(w.shape)
        gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
        assert torch.allclose(gram, torch.eye(small_side), atol=1e-5), layer


def test_orthp_leaves_biases_and_original_untouched():
    small, _ = pruning.prune_l1(_pretrained_like("mlp7-relu"), "mlp7-relu", 0.8)
    before = {k: v.clone() for k, v in small.state_dict().items()}
    ortho = isometry.orthp(small, nets.gain("mlp7-relu"))
    for k, v in ortho.state_dict().items():
        assert torch.equal(small.state_dict()[k], before[k])
        if k.endswith("bias"):
            assert torch.equal(v, before[k])


@pytest.mark.parametrize("shape", [(20, 1024), (20, 20), (10, 20), (84, 12), (12, 1, 5, 5), (50, 7)])
def test_eq2_against_numpy_and_sign_fix(shape):
    w = torch.randn(shape, dtype=torch.float64)
    got = isometry.orthogonalize(w).flatten(1)
    a = w.flatten(1).numpy()
    wide = a.shape[0] < a.shape[1]
    q, r = np.linalg.qr(a.T if wide else a)
    ref = q * np.sign(np.diag(r))
    ref = ref.T if wide else ref
    assert np.allclose(got.numpy(), ref, atol=1e-10)
    # sign fix: the triangular factor that maps W* back to W has a positive diagonal
    tall_star = (got.T if wide else got).numpy()
    r_star = tall_star.T @ (a.T if wide else a)
    assert np.allclose(np.tril(r_star, -1), 0, atol=1e-8)
    assert (np.diag(r_star) > 0).all()


def test_orthogonal_init_gives_exact_isometry_only_for_the_linear_mlp():
    x = torch.randn(32, 1, 32, 32)
    g = torch.Generator().manual_seed(0)
    lin = isometry.orthogonal_init(nets.build("mlp7-linear"), 1.0, g)
    sv = jsv.singular_values(lin, x)
    assert torch.allclose(sv, torch.ones_like(sv), atol=1e-5)  # Table 1, row 1
    relu = isometry.orthogonal_init(nets.build("mlp7-relu"), nets.gain("mlp7-relu"), g)
    assert jsv.stats(jsv.singular_values(relu, x))["std"] > 0.1  # Table 1: only approximate
    assert all((m.bias == 0).all() for m in nets.weight_layers(relu))
