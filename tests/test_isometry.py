import copy

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


# -- approximate isometry (Lee et al.; §4 of the book) ------------------------------------------
def test_isometry_error_is_zero_exactly_for_orthonormal_rows_or_columns():
    q = torch.linalg.qr(torch.randn(40, 10, dtype=torch.float64))[0]  # orthonormal columns
    for w, g in ((q, 1.0), (q.T, 1.0), (2 ** 0.5 * q, 2 ** 0.5)):  # tall, wide, with a gain
        assert isometry.isometry_error(w, g).item() < 1e-12
    w = torch.randn(10, 40, dtype=torch.float64)
    expected = torch.linalg.matrix_norm(w @ w.T - torch.eye(10, dtype=torch.float64))  # smaller side: 10 x 10
    assert isometry.isometry_error(w).item() == pytest.approx(expected.item())
    assert isometry.isometry_error(w.T).item() == pytest.approx(expected.item())  # same rule when tall


@pytest.mark.parametrize("name", ["mlp7-relu", "lenet5-relu"])
def test_ai_drives_every_pruned_layer_towards_isometry_and_keeps_shapes_and_biases(name):
    small, _ = pruning.prune_l1(_pretrained_like(name), name, 0.9)
    g = nets.gain(name)
    out = isometry.approximate_isometry(small, g, lr=0.1, iterations=2000)
    errors = []
    for a, b in zip(nets.weight_layers(small), nets.weight_layers(out)):
        assert a.weight.shape == b.weight.shape and torch.equal(a.bias, b.bias)
        errors.append((isometry.isometry_error(a.weight, g).item(), isometry.isometry_error(b.weight, g).item()))
    # every layer ends within AI's error floor (a 1-channel layer's is the widest: |w|^2 hovers around g^2)
    assert all(after < min(before, 1.0) for before, after in errors), errors
    worst = max(range(len(errors)), key=lambda i: errors[i][0])
    assert errors[worst][1] < errors[worst][0] / 20, errors  # the most damaged layer: over an order of magnitude
    assert sum(a for _, a in errors) < sum(b for b, _ in errors) / 10
    assert isometry.approximate_isometry(small, g, 0.1, 1) is not small  # a copy: the input is untouched


def test_ai_error_floor_shrinks_with_its_learning_rate():
    """The unsquared norm has a corner at its minimum: plain gradient descent with a constant step
    hovers at a distance proportional to the step. This is why Lee et al.'s AI (lr 0.1) is
    *approximate*: measured on one layer, ten times smaller lr, about ten times smaller error. Each
    lr runs for the same span of "time" (lr x iterations = 20: 200, 2000, 20 000 iterations), enough
    for each to reach its floor."""
    torch.manual_seed(0)
    layer = torch.nn.Sequential(torch.nn.Linear(40, 10))
    err = {lr: isometry.isometry_error(isometry.approximate_isometry(layer, 1.0, lr, round(20 / lr))[0].weight).item()
           for lr in (0.1, 0.01, 0.001)}
    assert err[0.001] < err[0.01] < err[0.1] < 0.5
    assert err[0.001] < 0.01 and err[0.1] / err[0.001] > 5


def test_ai_brings_the_jsvs_of_pruned_mlp7_linear_close_to_one():
    small, _ = pruning.prune_l1(_pretrained_like("mlp7-linear"), "mlp7-linear", 0.9)
    before = torch.linalg.svdvals(jsv.weight_product(small))
    after = torch.linalg.svdvals(jsv.weight_product(isometry.approximate_isometry(small, 1.0, 0.005, 4000)))
    assert (before - 1).abs().max() > 0.5
    assert (after - 1).abs().max() < 0.05  # within the error floor of lr 0.005 (0.012 measured; see above), not exact


def test_ai_keeps_masked_entries_at_zero():
    layer = torch.nn.Sequential(torch.nn.Linear(30, 20), torch.nn.ReLU(), torch.nn.Linear(20, 10))
    masks = {0: (torch.rand(20, 30) > 0.5).float()}
    out = isometry.approximate_isometry(layer, 1.0, 0.1, 200, masks=masks)
    assert torch.all(out[0].weight[masks[0] == 0] == 0)
    assert not torch.equal(out[0].weight, layer[0].weight * masks[0])  # the kept entries moved
    with pytest.raises(ValueError, match="mask of shape"):
        isometry.approximate_isometry(layer, masks={0: torch.ones(3, 3)})


@pytest.mark.parametrize("kw,message", [({"lr": -0.1}, "learning rate must be a positive number"),
                                        ({"lr": float("nan")}, "learning rate"),
                                        ({"iterations": 0}, "iterations must be a positive integer"),
                                        ({"iterations": 2.5}, "iterations must be a positive integer")])
def test_ai_bad_settings_are_clear_errors(kw, message):
    with pytest.raises(ValueError, match=message):
        isometry.approximate_isometry(nets.build("mlp7-linear"), **kw)


def test_ai_on_a_network_without_weight_layers_is_a_clear_error():
    with pytest.raises(ValueError, match="needs a network with Conv or Linear layers"):
        isometry.approximate_isometry(torch.nn.Sequential(torch.nn.ReLU()))


@pytest.mark.parametrize("shape", [(6, 10), (10, 6), (4, 3, 3, 3)])
def test_the_nearest_isometry_is_an_isometry_and_no_farther_than_orthp(shape):
    """The polar factor has orthonormal rows or columns (times the gain), and is at least as near
    to the layer as any other such matrix: OrthP's Q, and random ones (the least an exact
    recovery must move a layer, as the OrthP chapter reports)."""
    from dipcore.isometry import isometry_error, nearest_isometry, orthogonalize

    torch.manual_seed(0)
    w, g = torch.randn(shape, dtype=torch.float64), 2 ** 0.5
    near = nearest_isometry(w, g)
    assert near.shape == w.shape and float(isometry_error(near, g)) < 1e-10
    dist = float((near - w).norm())
    assert dist <= float((orthogonalize(w, g) - w).norm()) + 1e-12
    for _ in range(20):
        assert dist <= float((orthogonalize(torch.randn(shape, dtype=torch.float64), g) - w).norm())


def test_a_new_recovery_method_is_one_registered_object(monkeypatch):
    """A third recovery method needs only its ``Recovery`` in ``isometry.RECOVERIES``: a run's spec
    then stores its settings (defaults filled, present only with it, checked), the recipe applies
    it with them, and the tables' row labels and progress lines name it; keys of the other methods'
    runs are untouched."""
    from dipcore.book import grids, recipe, spec

    before = spec.key(spec.train_spec("mlp7-relu", "mnist", recovery="ai", schedule_text="0:0.1", epochs=2, seed=0))

    def scale(model, gain, masks, factor):
        out = copy.deepcopy(model)
        with torch.no_grad():
            for m in nets.weight_layers(out):
                m.weight.mul_(factor)
        return out

    def check(factor):
        if factor <= 0:
            raise ValueError(f"scale: factor must be positive, got {factor!r}")

    monkeypatch.setitem(isometry.RECOVERIES, "scale", isometry.Recovery("scale", "Scale", scale, {"factor": 2.0},
                                                                        "scale", check))
    kw = dict(schedule_text="0:0.1", epochs=2, seed=0)
    s = spec.train_spec("mlp7-relu", "mnist", recovery="scale", **kw)
    assert (s["recovery"], s["scale_factor"]) == ("scale", 2.0) and "+Scale" in spec.describe(s)
    assert spec.train_spec("mlp7-relu", "mnist", recovery="scale", settings={"factor": 3.0}, **kw)["scale_factor"] == 3.0
    assert "scale_factor" not in spec.train_spec("mlp7-relu", "mnist", recovery="ai", **kw)
    assert spec.key(spec.train_spec("mlp7-relu", "mnist", recovery="ai", **kw)) == before
    with pytest.raises(ValueError, match="factor must be positive"):
        spec.train_spec("mlp7-relu", "mnist", recovery="scale", settings={"factor": -1.0}, **kw)
    with pytest.raises(ValueError, match="belong with recovery 'scale'"):
        spec.validate(dict(spec.train_spec("mlp7-relu", "mnist", **kw), scale_factor=2.0))
    model = nets.seeded_build("mlp7-relu", 0)
    out = recipe.recover(model, s)
    for a, b in zip(nets.weight_layers(model), nets.weight_layers(out)):
        torch.testing.assert_close(b.weight, 2.0 * a.weight)
    assert grids.setting_name(90, False, "scale") == "Scale, 90 epochs"
