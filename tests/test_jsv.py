import pytest
import torch

from dipcore import jsv, nets, pruning, train


def _reference_jacobians(model, x):
    """Plain autograd, one example and one backward pass per class at a time."""
    out = []
    for xi in x:
        xi = xi.clone().requires_grad_(True)
        logits = model(xi[None])[0]
        rows = [torch.autograd.grad(logits[c], xi, retain_graph=True)[0].flatten() for c in range(len(logits))]
        out.append(torch.stack(rows))
    return torch.stack(out)


@pytest.mark.parametrize("name", ["mlp7-relu", "lenet5-relu", "lenet5-linear"])
def test_batched_jsvs_equal_plain_autograd(name):
    model = nets.build(name)
    x = torch.randn(9, 1, 32, 32)
    ref = _reference_jacobians(model, x)
    got = jsv.jacobians(model, x, chunk=4)  # chunks that do not divide the batch
    assert got.shape == (9, 10, 1024)
    assert torch.allclose(got, ref, atol=1e-6, rtol=1e-4)
    assert torch.allclose(jsv.singular_values(model, x), torch.linalg.svdvals(ref), atol=1e-6, rtol=1e-4)


def test_linear_mlp_jsvs_are_the_weight_product_svs():
    model = nets.build("mlp7-linear")
    assert nets.is_linear_map(model) and not nets.is_linear_map(nets.build("lenet5-linear"))
    x = torch.randn(5, 1, 32, 32)
    prod = torch.linalg.multi_dot([m.weight for m in reversed(nets.weight_layers(model))])
    ref = torch.linalg.svdvals(prod)
    assert torch.allclose(jsv.singular_values(model, x), ref.expand(5, -1), rtol=1e-5, atol=1e-9)
    # the Jacobian path agrees: J is the same for every input
    assert torch.allclose(torch.linalg.svdvals(jsv.jacobians(model, x)), ref.expand(5, -1), rtol=1e-4, atol=1e-8)


def test_stats():
    sv = torch.tensor([[1.0, 3.0], [2.0, 2.0]])
    st = jsv.stats(sv)
    assert st == pytest.approx({"mean": 2.0, "std": (0.5) ** 0.5, "max": 3.0, "min": 1.0})
    model = nets.build("mlp7-linear")
    expected = torch.linalg.svdvals(jsv.weight_product(model)).double().mean().item()  # Eq. 1
    assert jsv.mean_jsv(model, torch.randn(2, 1, 32, 32)) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("name", ["mlp7-linear", "mlp7-relu", "lenet5-relu"])
def test_stacked_jsvs_equal_each_model_alone(name):
    models = [nets.seeded_build(name, s) for s in range(3)]
    models[1], _ = pruning.prune_l1(models[1], name, 0.0)  # a copy through the pruning path
    x = torch.randn(7, 1, 32, 32)
    stacked = train.jsv_stats(train.Stack(models, "cpu").singular_values(x, chunk=3))
    for r, net in enumerate(models):
        st = jsv.stats(jsv.singular_values(net, x))
        assert stacked[r].tolist() == pytest.approx([st["mean"], st["std"], st["max"], st["min"]], rel=1e-5)


def test_wide_matrices_keep_their_singular_values_through_qr():
    """Issue 36: ``wide_svdvals`` takes the SVD of the small factor R of ``m^T = QR``: the same
    values as a direct SVD, for full-rank and rank-deficient matrices alike."""
    g = torch.Generator().manual_seed(0)
    m = torch.randn(6, 10, 1024, generator=g)
    m[3, 7:] = 0  # rank 7: three zero singular values
    m[4] *= 1e-4
    direct = torch.linalg.svdvals(m)
    got = jsv.wide_svdvals(m)
    assert got.shape == direct.shape
    assert torch.allclose(got, direct, rtol=1e-5, atol=1e-5 * direct.amax().item())
    assert torch.equal(jsv.wide_svdvals(m[..., :15]), torch.linalg.svdvals(m[..., :15]))  # not wide: a direct SVD


@pytest.mark.parametrize("net,ratio", [("mlp7-relu", 0.0), ("mlp7-relu", 0.9), ("mlp7-tanh", 0.9)])
def test_an_mlps_jsvs_from_the_rest_of_the_network_equal_the_full_jacobians(net, ratio):
    """A stacked MLP takes each Jacobian of the network after its first layer, times that layer's
    QR factor (``jsv.stacked_singular_values``' ``head``): every singular value of every example
    equals the full Jacobian's, dense and pruned (widths 10: a 10 x 10 product), ReLU and Tanh."""
    widths = pruning.pruned_widths(net, ratio) if ratio else None
    models = [nets.seeded_build(net, s, widths) for s in range(3)]
    x = torch.randn(20, 1, 32, 32, generator=torch.Generator().manual_seed(1))
    stacked = train.Stack(models, "cpu").singular_values(x, chunk=7)
    for r, model in enumerate(models):
        full = torch.linalg.svdvals(_reference_jacobians(model, x))
        assert torch.allclose(stacked[r], full, rtol=1e-4, atol=1e-6 * full.amax().item()), r
