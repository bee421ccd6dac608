"""dipcore's C++ kernels (issue 36) against PyTorch's own layers and autograd: LeNet-5's first
convolution and max-pool for a stack of runs, and a whole training step of a stack of plain MLPs;
and the fallback where they are not built."""
import shutil

import pytest
import torch
import torch.nn.functional as F

from dipcore import kernels, nets, pruning, schedule, train

needs_compiler = pytest.mark.skipif(shutil.which("c++") is None and shutil.which("g++") is None,
                                    reason="no C++ compiler: the kernel cannot be built here")


def _reference(x, w, b):
    """PyTorch's layers on the stack: [R, B, H, W] images, [R, C, 5, 5] weights -> [B, R*C, H', W']."""
    R, C = w.shape[:2]
    return F.max_pool2d(F.conv2d(x.transpose(0, 1), w.reshape(R * C, 1, 5, 5), b.flatten(), groups=R), 2,
                        return_indices=True)


@needs_compiler
@pytest.mark.parametrize("R,B,C", [(3, 7, 1), (2, 5, 3), (1, 4, 6)])
def test_the_kernel_computes_pytorchs_convolution_max_pool_and_weight_gradient(R, B, C):
    """The pooled output (to float32 rounding), the window maximum it took (the same one as
    max_pool2d) and the weight gradient (against float64 autograd, to 1e-5 relative)."""
    ext = kernels.first_conv()
    assert ext is not None, "a C++ compiler is here, so the kernel must build (python -m dipcore kernels says why not)"
    g = torch.Generator().manual_seed(R * 100 + C)
    x, w, b = torch.randn(R, B, 32, 32, generator=g), torch.randn(R, C, 5, 5, generator=g), torch.randn(R, C, generator=g)
    out, arg = ext.forward(x, w, b)
    ref, idx = _reference(x, w, b)
    assert out.shape == (B, R * C, 14, 14) and torch.allclose(out, ref, atol=1e-5)
    row, col = idx // 28, idx % 28  # max_pool2d's flat index in the 28x28 output -> the window position
    assert torch.equal(arg.long(), (row % 2) * 2 + col % 2)
    grad_out = torch.randn(out.shape, generator=g)
    w64 = w.double().requires_grad_(True)
    ref64, _ = _reference(x.double(), w64, b.double())
    (want,) = torch.autograd.grad((ref64 * grad_out.double()).sum(), w64)
    got = ext.weight_grad(x, grad_out, arg)
    assert got.dtype == torch.float32 and torch.allclose(got.double(), want, rtol=1e-5, atol=1e-5 * want.abs().max())


@needs_compiler
def test_ties_in_a_window_go_to_its_first_maximum_as_in_pytorch():
    """A constant image gives every window four equal values: the kernel takes the top left one, as
    max_pool2d does, so its gradient goes where PyTorch's goes."""
    x, w, b = torch.ones(1, 2, 32, 32), torch.full((1, 1, 5, 5), 0.5), torch.zeros(1, 1)
    out, arg = kernels.first_conv().forward(x, w, b)
    assert torch.equal(out, torch.full_like(out, 12.5)) and int(arg.max()) == 0


@needs_compiler
def test_the_kernel_refuses_shapes_it_does_not_compute():
    ext = kernels.first_conv()
    with pytest.raises(RuntimeError, match="at least 16 wide"):
        ext.forward(torch.randn(1, 2, 12, 12), torch.randn(1, 1, 5, 5), torch.randn(1, 1))
    with pytest.raises(RuntimeError, match="float32"):
        ext.forward(torch.randn(1, 2, 32, 32).double(), torch.randn(1, 1, 5, 5), torch.randn(1, 1))


@needs_compiler
@pytest.mark.parametrize("name", ["lenet5-relu", "lenet5-linear"])
@pytest.mark.parametrize("path,ratios", [("stacked-conv-kernel", (0.9, 0.5)), ("stacked-conv2-kernel", (0.9, 0.7))])
def test_a_stack_on_the_kernel_trains_as_on_the_pure_pytorch_path(name, path, ratios, synthetic):
    """Pruned LeNet-5s (0.9; and at 0.5, three channels in the first layer; at 0.7, four channels
    out of the second, which has one in) trained two epochs on each path: the same losses,
    accuracy, mean JSV and weights to float32 rounding; really two paths. ``stacked-conv2-kernel``:
    the second convolution and max-pool in the kernel too (``stacked_layers.inner_conv_pool``)."""
    for ratio in ratios:
        models = [nets.seeded_build(name, s, pruning.pruned_widths(name, ratio)) for s in range(3)]
        scheds = [schedule.parse(s) for s in ("0:0.05,1:0.01", "0:0.02", "0:0.001,1:0.1")]
        kw = dict(jsv_examples=20, progress=False, keep_weights=True)
        a, b = (train.train_stacked(models, scheds, [0, 1, 2], 2, synthetic, trainer=t, **kw)
                for t in ("stacked-conv", path))
        assert b[0].trainer == path and b[0].conv_input == "channels_last"
        for x, y in zip(a, b):
            assert x.metrics["train_loss"][1:] == pytest.approx(y.metrics["train_loss"][1:], rel=1e-5)
            assert x.metrics["jsv_mean"] == pytest.approx(y.metrics["jsv_mean"], rel=1e-4)
            assert x.metrics["test_acc"] == pytest.approx(y.metrics["test_acc"], abs=1.0)
            for k, v in x.state_dict.items():  # LeNet-5-Linear's near-ties (see test_train): a wider atol
                assert torch.allclose(y.state_dict[k], v, rtol=1e-4, atol=1e-4 if "linear" in name else 1e-6), k
        assert any(not torch.equal(x.state_dict[k], y.state_dict[k]) for x, y in zip(a, b) for k in x.state_dict)


@pytest.mark.parametrize("name,path,twin,kernel", [("lenet5-relu", "stacked-conv-kernel", "stacked-conv", "first_conv"),
                                                    ("mlp7-relu", "stacked-mlp-kernel", "stacked-mlp", "mlp_step")])
def test_without_a_kernel_stacks_train_on_the_pure_pytorch_path(name, path, twin, kernel, monkeypatch, tmp_path):
    """Where a kernel is not built (no compiler; DIPBOOK_KERNELS=0), the engine picks its
    pure-PyTorch twin; asking for the kernel's path then is a clear error; a checkpoint written on
    it resumes on the twin, with a warning."""
    net = nets.seeded_build(name, 0, pruning.pruned_widths(name, 0.9))
    monkeypatch.setenv("DIPBOOK_KERNELS", "0")
    kernels.clear()
    try:
        assert kernels.build(kernel) is None
        assert train.trainer_for(net, "cpu") == twin
        with pytest.raises(ValueError, match=f"needs dipcore's C\\+\\+ kernel {kernel}, which is not built here"):
            train.Stack([net], "cpu", trainer=path)
        st = train.Stack([net], "cpu")
        st.trainer = path  # as a checkpoint written where it was built
        bufs, orders = [torch.zeros_like(p) for p in st.params], [torch.Generator().manual_seed(0)]
        results, alive = [train.RunResult()], torch.ones(1, dtype=torch.bool)
        train._save(tmp_path / "ck.pt", "job", 2, st, bufs, orders, results, alive)
        again = train.Stack([net], "cpu")
        with pytest.warns(UserWarning, match=f"kernel {kernel}, which is not built here: it goes on on the pure-PyTorch"):
            assert train._restore(tmp_path / "ck.pt", "job", again, bufs, orders, results, alive)[0] == 2
        assert again.trainer == twin and again.kernel is None and again.step_kernel is None
    finally:
        kernels.clear()


@needs_compiler
def test_the_engine_takes_the_kernel_where_it_fits():
    lenet = nets.build("lenet5-relu")
    assert train.trainers(lenet) == ["vmap", "stacked-conv", "stacked-conv-kernel"]
    assert train.trainer_for(lenet, "cpu") == "stacked-conv-kernel" and train.trainer_for(lenet, "cuda") == "vmap"
    for ratio, inner in ((0.95, True), (0.9, True), (0.7, True), (0.5, False)):  # one channel into the second layer?
        pruned = nets.build("lenet5-relu", pruning.pruned_widths("lenet5-relu", ratio))
        assert (train.trainer_for(pruned, "cpu") == "stacked-conv2-kernel") == inner, ratio
        assert "stacked-conv-kernel" in train.trainers(pruned)
    assert train.trainers(nets.build("mlp7-relu")) == ["vmap", "stacked-mlp", "stacked-mlp-kernel"]
    assert train.trainers(nets.build("resnet20")) == ["vmap"]
    narrow = nets.build("mlp7-relu", pruning.pruned_widths("mlp7-relu", 0.9))  # 10 units a layer
    assert train.trainer_for(narrow, "cpu") == "stacked-mlp-kernel"
    # dense (100 units): the written-out layers, which the CPU's BLAS runs faster than the C++ step
    assert train.trainer_for(nets.build("mlp7-relu"), "cpu") == "stacked-mlp"


@needs_compiler
@pytest.mark.parametrize("name,ratio,path", [("lenet5-relu", 0.9, "stacked-conv-kernel"),
                                             ("lenet5-linear", 0.9, "stacked-conv-kernel"),
                                             ("lenet5-relu", 0.5, "stacked-conv-kernel"),
                                             ("lenet5-relu", 0.7, "stacked-conv2-kernel"),
                                             ("lenet5-linear", 0.9, "stacked-conv2-kernel")])
def test_jsvs_through_the_kernels_transpose_are_the_jacobians_singular_values(name, ratio, path):
    """Eq. 1's JSVs of a stack on the kernel's path (its ``input_grad``: the Jacobian's rows through
    the first layer) equal those of each network's own per-example Jacobian (``jsv.singular_values``,
    jacrev through its nn.Module), to float32 rounding."""
    from dipcore import jsv, stacked_layers

    models = [nets.seeded_build(name, s, pruning.pruned_widths(name, ratio)) for s in range(3)]
    x = torch.randn(7, 1, 32, 32, generator=torch.Generator().manual_seed(1))
    st = train.Stack(models, "cpu", trainer=path)
    got = st.singular_values(x, chunk=3)
    want = torch.stack([jsv.singular_values(m, x) for m in models])
    assert got.shape == want.shape == (3, 7, 10)
    assert torch.allclose(got, want, rtol=1e-4, atol=1e-6)
    g = torch.Generator().manual_seed(2)  # and the transpose alone, against autograd's
    xs, w, b = torch.randn(2, 3, 32, 32, generator=g), torch.randn(2, 2, 5, 5, generator=g), torch.randn(2, 2, generator=g)
    ext = kernels.first_conv()
    z, arg = ext.forward(xs, w, b)
    rows = torch.randn(3 * 4, *z.shape[1:], generator=g)  # 4 rows per example
    got = ext.input_grad(rows, arg, w, 4, 32, 32)
    xg = xs.repeat_interleave(4, 1).requires_grad_(True)  # [R, 12, H, W]
    ref, _ = _reference(xg, w, b)
    (want,) = torch.autograd.grad((ref * rows).sum(), xg)
    assert torch.allclose(got, want, atol=1e-5)
    assert stacked_layers.kernel_fits(st.steps, nets.INPUT_SHAPE)
    gram = ext.input_gram(rows, arg, w, 4, 32, 32)  # each example's Gram matrix of those rows, in float64
    rows64 = ext.input_grad(rows, arg, w, 4, 32, 32).double().view(2, 3, 4, -1)
    assert gram.dtype == torch.float64 and gram.shape == (2, 3, 4, 4)
    assert torch.allclose(gram, rows64 @ rows64.mT, rtol=1e-12, atol=1e-12 * float(gram.abs().max()))


@needs_compiler
@pytest.mark.parametrize("C,H,W", [(1, 14, 14), (4, 14, 14), (2, 10, 24)])
def test_an_inner_convolution_and_max_pool_in_the_kernel_are_pytorchs(C, H, W):
    """``inner_conv_pool`` (LeNet-5's second convolution, one channel in per run, its maps padded to
    the kernel's narrowest input and the padding's pooled columns dropped; or, 24 wide, none):
    the output as PyTorch's grouped convolution and max-pool (to float32 rounding), and the
    gradients of the maps, weights and biases as float64 autograd's; the padding gets none."""
    from dipcore import stacked_layers

    R, B = 3, 5
    g = torch.Generator().manual_seed(C * 100 + W)
    h, w, b = torch.randn(B, R, H, W, generator=g), torch.randn(R, C, 1, 5, 5, generator=g), torch.randn(R, C, generator=g)
    leaves = [t.clone().requires_grad_(True) for t in (h, w, b)]
    out = stacked_layers.inner_conv_pool(*leaves, kernels.first_conv())
    ref64 = [t.double().requires_grad_(True) for t in (h, w, b)]
    want = F.max_pool2d(F.conv2d(ref64[0], ref64[1].flatten(0, 1), ref64[2].flatten(), groups=R), 2)
    assert out.shape == want.shape == (B, R * C, (H - 4) // 2, (W - 4) // 2)
    assert torch.allclose(out.double(), want, atol=1e-5)
    grad_out = torch.randn(out.shape, generator=g)
    got = torch.autograd.grad((out * grad_out).sum(), leaves)
    exp = torch.autograd.grad((want * grad_out.double()).sum(), ref64)
    for name, a, e in zip(("maps", "weights", "biases"), got, exp):
        assert a.shape == e.shape and torch.allclose(a.double(), e, rtol=1e-5, atol=1e-5 * e.abs().max()), name


def _mlp_reference(x, idx, y, weights, biases, acts):
    """Each run's mean cross-entropy on its rows of ``x`` and the gradients, by autograd in float64."""
    w64 = [w.double().requires_grad_(True) for w in weights]
    b64 = [b.double().requires_grad_(True) for b in biases]
    h = x.double()[idx]  # [R, B, D]
    for l, (w, b) in enumerate(zip(w64, b64)):
        h = torch.baddbmm(b.unsqueeze(1), h, w.mT)
        h = {0: h, 1: torch.relu(h), 2: torch.tanh(h)}[acts[l]]
    loss = F.cross_entropy(h.flatten(0, 1), y[idx].flatten(), reduction="none").view(len(idx), -1).mean(1)
    return [loss] + list(torch.autograd.grad(loss.sum(), w64 + b64))


@needs_compiler
@pytest.mark.parametrize("act", [0, 1, 2])
@pytest.mark.parametrize("widths,D,B", [((10, 10, 10), 1024, 100), ((13, 7), 45, 9), ((25,), 40, 1)])
def test_the_mlp_step_is_autograds_loss_and_gradients(act, widths, D, B):
    """Every run's mean loss and every gradient equal float64 autograd's (to float32 rounding) for
    identity, ReLU and Tanh, at widths that fill the first layer's blocks unevenly (7, 13 and 25
    units), inputs that end in a partial vector (D = 45, 40) and odd batches (a single last row)."""
    ext = kernels.mlp_step()
    assert ext is not None, "a C++ compiler is here, so the kernel must build (python -m dipcore kernels says why not)"
    g = torch.Generator().manual_seed(sum(widths) + D + act)
    R, C, N = 3, 4, 50
    x, y = torch.randn(N, D, generator=g), torch.randint(0, C, (N,), generator=g)
    dims = (D,) + widths + (C,)
    weights = [torch.randn(R, o, i, generator=g) / i ** 0.5 for i, o in zip(dims, dims[1:])]
    biases = [torch.randn(R, o, generator=g) * 0.1 for o in dims[1:]]
    acts = [act] * len(widths) + [0]
    idx = torch.randint(0, N, (R, B), generator=g)
    got = ext.step(x, idx, y, weights, biases, acts, True)
    want = _mlp_reference(x, idx, y, weights, biases, acts)
    assert len(got) == 1 + 2 * len(weights)
    for a, b in zip(got, want):
        assert a.dtype == torch.float32 and a.shape == b.shape
        assert torch.allclose(a.double(), b, rtol=1e-4, atol=1e-5 * float(b.detach().abs().max())), (a - b).abs().max()
    loss_only = ext.step(x, idx, y, weights, biases, acts, False)
    assert len(loss_only) == 1 and torch.equal(loss_only[0], got[0])


@needs_compiler
def test_the_mlp_step_refuses_what_it_cannot_compute():
    ext = kernels.mlp_step()
    x, y = torch.randn(5, 8), torch.zeros(5, dtype=torch.long)
    w, b = [torch.randn(2, 3, 8)], [torch.randn(2, 3)]
    with pytest.raises(RuntimeError, match="an index outside the dataset"):
        ext.step(x, torch.tensor([[0, 5], [1, 2]]), y, w, b, [0], True)
    with pytest.raises(RuntimeError, match="following the layer before"):
        ext.step(x, torch.zeros(2, 2, dtype=torch.long), y, [torch.randn(2, 3, 7)], b, [0], True)
    with pytest.raises(RuntimeError, match="a label outside the network's classes"):
        ext.step(x, torch.zeros(2, 2, dtype=torch.long), torch.full((5,), 3), w, b, [0], True)


@needs_compiler
@pytest.mark.parametrize("name", ["mlp7-linear", "mlp7-relu"])
def test_an_mlp_stack_on_the_kernel_trains_as_on_the_pure_pytorch_path(name, synthetic):
    """Pruned MLP-7s (0.9) trained two epochs on each path, three LR schedules: the same losses,
    accuracy, mean JSV and weights to float32 rounding; really two paths."""
    models = [nets.seeded_build(name, s, pruning.pruned_widths(name, 0.9)) for s in range(3)]
    scheds = [schedule.parse(s) for s in ("0:0.05,1:0.01", "0:0.02", "0:0.001,1:0.1")]
    kw = dict(jsv_examples=20, progress=False, keep_weights=True)
    a, b = (train.train_stacked(models, scheds, [0, 1, 2], 2, synthetic, trainer=t, **kw)
            for t in ("stacked-mlp", "stacked-mlp-kernel"))
    assert (a[0].trainer, b[0].trainer) == ("stacked-mlp", "stacked-mlp-kernel")
    for x, y in zip(a, b):
        assert x.metrics["train_loss"][1:] == pytest.approx(y.metrics["train_loss"][1:], rel=1e-5)
        assert x.metrics["jsv_mean"] == pytest.approx(y.metrics["jsv_mean"], rel=1e-4)
        assert x.metrics["test_acc"] == pytest.approx(y.metrics["test_acc"], abs=1.0)
        for k, v in x.state_dict.items():
            assert torch.allclose(y.state_dict[k], v, rtol=1e-4, atol=1e-6), k
    assert any(not torch.equal(x.state_dict[k], y.state_dict[k]) for x, y in zip(a, b) for k in x.state_dict)
