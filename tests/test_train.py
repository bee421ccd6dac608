import copy

import pytest
import torch
import torch.nn.functional as F
import torch.nn.utils.prune  # noqa: F401  (the reference for masked training)

from dipcore import data, jsv, nets, pruning, schedule, train

SCHEDULES = ["0:0.05,1:0.01", "0:0.02", "0:0.001,1:0.1"]


def _reference(model, sched, seed, epochs, d, sgd=train.SGDConfig()):
    """One run the conventional way: an nn.Module, torch.optim.SGD, the same data order."""
    model = copy.deepcopy(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.0, momentum=sgd.momentum, weight_decay=sgd.weight_decay)
    order = torch.Generator().manual_seed(seed)
    jsv_x = train.jsv_subset(d, 50)
    log = {"train_loss": [None], "test_acc": [], "jsv_mean": []}

    def evaluate():
        model.eval()  # batch norm, if any: its running statistics
        with torch.no_grad():
            log["test_acc"].append(100 * (model(d.x_test).argmax(1) == d.y_test).float().mean().item())
        log["jsv_mean"].append(jsv.stats(jsv.singular_values(model, jsv_x))["mean"])
        model.train()

    evaluate()
    n = len(d.x_train)
    for epoch in range(epochs):
        for g in opt.param_groups:
            g["lr"] = sched.lr(epoch)
        perm, total = torch.randperm(n, generator=order), 0.0
        for i in range(0, n, sgd.batch_size):
            idx = perm[i:i + sgd.batch_size]
            loss = F.cross_entropy(model(d.x_train[idx]), d.y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        log["train_loss"].append(total / n)
        evaluate()
    return log, model.state_dict()


@pytest.mark.parametrize("name,trainer", [(n, None) for n in nets.NETS] + [(n, "vmap") for n in nets.NETS if "lenet" in n])
def test_stacked_runs_equal_runs_trained_one_by_one(name, trainer, synthetic):
    """Each path (the CPU's choice: written-out layers; vmap, the GPU's, on LeNet-5 too) is held to
    the conventional loop."""
    models = [nets.seeded_build(name, s) for s in range(3)]
    models[2], _ = pruning.prune_l1(nets.seeded_build(name, 9), name, 0.0)
    scheds = [schedule.parse(s) for s in SCHEDULES]
    seeds = [3, 4, 3]  # two runs share a data order but not a schedule
    res = train.train_stacked(models, scheds, seeds, 2, synthetic, jsv_examples=50, progress=False, keep_weights=True,
                              trainer=trainer)
    assert res[0].trainer == (trainer or train.trainer_for(models[0], "cpu"))
    for r in range(3):
        log, state = _reference(models[r], scheds[r], seeds[r], 2, synthetic)
        m = res[r].metrics
        assert m["train_loss"][0] is None and m["train_loss"][1:] == pytest.approx(log["train_loss"][1:], rel=1e-4)
        assert m["test_acc"] == pytest.approx(log["test_acc"], abs=0.5)  # one example of 120 may flip
        assert m["jsv_mean"] == pytest.approx(log["jsv_mean"], rel=1e-3)
        assert m["lr"] == [None] + [scheds[r].lr(e) for e in range(2)]
        # LeNet-5-Linear's max-pools see near-ties with no ReLU to zero them: a rounding difference
        # between grouped and plain convolutions can send a window's gradient to its other input,
        # a discrete jump (measured up to 5e-5 on weights of about 0.1 after 2 epochs)
        atol = 1e-4 if name == "lenet5-linear" else 1e-5
        for k, v in state.items():
            assert torch.allclose(res[r].state_dict[k], v, rtol=1e-3, atol=atol), k
    assert res[0].metrics != res[1].metrics


def test_order_of_runs_in_the_stack_does_not_matter(synthetic):
    models = [nets.seeded_build("mlp7-relu", s) for s in range(3)]
    scheds = [schedule.parse(s) for s in SCHEDULES]
    a = train.train_stacked(models, scheds, [0, 1, 2], 2, synthetic, jsv_examples=20, progress=False)
    b = train.train_stacked(models[::-1], scheds[::-1], [2, 1, 0], 2, synthetic, jsv_examples=20, progress=False)
    for r in range(3):
        assert a[r].metrics["train_loss"] == pytest.approx(b[2 - r].metrics["train_loss"], rel=1e-5)


def test_a_diverging_run_is_marked_and_the_others_go_on(synthetic):
    models = [nets.seeded_build("mlp7-relu", s) for s in range(2)]
    res = train.train_stacked(models, [schedule.parse("0:0.01"), schedule.parse("0:1e9")], [0, 1], 3,
                              synthetic, jsv_examples=10, progress=False)
    assert res[0].diverged_at is None and len(res[0].metrics["test_acc"]) == 4
    assert res[1].diverged_at == 1 and len(res[1].metrics["test_acc"]) == 1  # only epoch 0 logged
    alone = train.train_stacked(models[:1], [schedule.parse("0:0.01")], [0], 3, synthetic, jsv_examples=10, progress=False)
    assert res[0].metrics["train_loss"] == pytest.approx(alone[0].metrics["train_loss"], rel=1e-5)


def test_training_learns():
    d = data.load("synthetic", n_train=1000, n_test=200)
    res = train.train_stacked([nets.seeded_build("lenet5-relu", 0)], [schedule.parse("0:0.05")], [0], 6,
                              d, jsv_examples=10, progress=False)
    m = res[0].metrics
    assert m["train_loss"][-1] < m["train_loss"][1] and m["test_acc"][-1] > 70  # chance: 10
    assert res[0].best_acc >= res[0].final_acc


def test_mismatched_architectures_and_schedules_are_refused(synthetic):
    with pytest.raises(ValueError, match="one architecture"):
        train.train_stacked([nets.build("mlp7-relu"), nets.build("mlp7-relu", (50,) * 6)],
                            [schedule.parse("0:0.1")] * 2, [0, 1], 1, synthetic, progress=False)
    with pytest.raises(ValueError, match="only 2 epochs"):
        train.train_stacked([nets.build("mlp7-relu")], [schedule.parse("0:0.1,5:0.01")], [0], 2,
                            synthetic, progress=False)


@pytest.mark.parametrize("batch_norm", [False, True])
def test_an_interrupted_job_resumes_from_its_checkpoint_exactly(batch_norm, synthetic, tmp_path, monkeypatch):
    models = [_bn_net(s) if batch_norm else nets.seeded_build("mlp7-relu", s) for s in range(2)]
    scheds = [schedule.parse("0:0.05,2:0.01"), schedule.parse("0:0.02")]
    args = (models, scheds, [0, 1], 4, synthetic)
    kw = dict(jsv_examples=10, progress=False, keep_weights=True)
    whole = train.train_stacked(*args, **kw)

    ckpt = tmp_path / "job.pt"
    real_log_calls = {"n": 0}
    real_stats = train.jsv_stats

    def dies_in_epoch_3(sv):
        real_log_calls["n"] += 1
        if real_log_calls["n"] == 4:  # logs: epoch 0, 1, 2, then dies logging epoch 3
            raise KeyboardInterrupt
        return real_stats(sv)

    monkeypatch.setattr(train, "jsv_stats", dies_in_epoch_3)
    with pytest.raises(KeyboardInterrupt):
        train.train_stacked(*args, **kw, checkpoint=ckpt, checkpoint_every_s=0)
    assert ckpt.exists()
    saved = torch.load(ckpt, weights_only=True)
    assert saved["epoch"] == 2 and saved["segments"] == 1 and saved["wall_s"] > 0
    assert saved["session_from"] == [0, 0.0, 0.0]  # this session began at epoch 0, with no wall or CPU time spent
    assert saved["device"] == "cpu"
    monkeypatch.setattr(train, "jsv_stats", real_stats)
    resumed = train.train_stacked(*args, **kw, checkpoint=ckpt)
    assert not ckpt.exists()
    for a, b in zip(whole, resumed):
        assert a.metrics == b.metrics
        assert all(torch.equal(a.state_dict[k], b.state_dict[k]) for k in a.state_dict)
        # the wall time counts the first session up to its checkpoint, and the second
        assert (a.segments, b.segments) == (1, 2) and b.wall_s > saved["wall_s"]
        assert b.cpu_s > saved["cpu_s"] > 0 and a.cpu_s > 0  # CPU time too, summed the same way
    # a checkpoint of another job is not used
    train._save(ckpt, "another job", 2, train.Stack(models, "cpu"), [], [], [], torch.ones(2, dtype=torch.bool))
    with pytest.warns(UserWarning, match="another training job"):
        again = train.train_stacked(*args, **kw, checkpoint=ckpt)
    assert again[0].metrics == whole[0].metrics


def _random_masks(model, density, seed):
    """Unstructured 0/1 masks on every weight (biases unmasked), about ``density`` kept."""
    g = torch.Generator().manual_seed(seed)
    return {k: (torch.rand(v.shape, generator=g) < density).float()
            for k, v in model.named_parameters() if k.endswith("weight")}


def _reference_masked(model, masks, sched, seed, epochs, d, sgd=train.SGDConfig()):
    """One masked run with PyTorch's own pruning (``weight = weight_orig * mask``) and
    ``torch.optim.SGD``: the independent reference for the stacked trainer's masks."""
    model = copy.deepcopy(model)
    for name, mask in masks.items():
        module_name, param = name.rsplit(".", 1)
        torch.nn.utils.prune.custom_from_mask(model.get_submodule(module_name), param, mask)
    opt = torch.optim.SGD(model.parameters(), lr=sched.lr(0), momentum=sgd.momentum, weight_decay=sgd.weight_decay)
    order, n = torch.Generator().manual_seed(seed), len(d.x_train)
    for epoch in range(epochs):
        for group in opt.param_groups:
            group["lr"] = sched.lr(epoch)
        perm = torch.randperm(n, generator=order)
        for i in range(0, n, sgd.batch_size):
            idx = perm[i:i + sgd.batch_size]
            opt.zero_grad()
            F.cross_entropy(model(d.x_train[idx]), d.y_train[idx]).backward()
            opt.step()
    for name in masks:  # make weight = weight_orig * mask the plain parameter again
        module_name, param = name.rsplit(".", 1)
        torch.nn.utils.prune.remove(model.get_submodule(module_name), param)
    return model.state_dict()


@pytest.mark.parametrize("name", ["mlp7-relu", "lenet5-relu"])
def test_masked_stacked_runs_equal_pytorch_pruned_runs_and_keep_pruned_weights_exactly_zero(name, synthetic):
    models = [nets.seeded_build(name, s) for s in range(2)]
    masks = [_random_masks(m, density, s) for s, (m, density) in enumerate(zip(models, (0.3, 0.1)))]
    scheds = [schedule.parse("0:0.05,1:0.01"), schedule.parse("0:0.02")]
    res = train.train_stacked(models, scheds, [3, 4], 2, synthetic, jsv_examples=20, progress=False,
                              keep_weights=True, masks=masks)
    for r in range(2):
        ref = _reference_masked(models[r], masks[r], scheds[r], [3, 4][r], 2, synthetic)
        for k, v in ref.items():
            assert torch.allclose(res[r].state_dict[k], v, rtol=1e-3, atol=1e-5), k
        for k, m in masks[r].items():
            w = res[r].state_dict[k]
            assert torch.equal(w[m == 0], torch.zeros_like(w[m == 0]))  # exactly zero, not small
            assert (w[m == 1] != 0).all()  # and the kept weights did train
            assert not torch.equal(w[m == 1], dict(models[r].named_parameters())[k].detach()[m == 1])


def test_bad_masks_are_refused_before_training(synthetic):
    model = nets.seeded_build("mlp7-relu", 0)
    run = lambda masks: train.train_stacked([model], [schedule.parse("0:0.01")], [0], 1, synthetic,  # noqa: E731
                                            progress=False, masks=masks)
    with pytest.raises(ValueError, match="one dict per run"):
        run([{}, {}])
    with pytest.raises(ValueError, match="does not have.*'7.weight'"):
        run([{"7.weigth": torch.ones(10, 100)}])
    with pytest.raises(ValueError, match=r"shape \(1024, 100\)"):
        run([{"1.weight": torch.ones(1024, 100)}])
    with pytest.raises(ValueError, match="only 0 and 1"):
        run([{"1.weight": torch.full((100, 1024), 0.5)}])


def _bn_net(seed):
    """A small convolutional network with batch norm (the residual networks of §3.4 have it)."""
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Conv2d(1, 4, 5, stride=2), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                               torch.nn.Flatten(), torch.nn.Linear(4 * 14 * 14, 16), torch.nn.BatchNorm1d(16),
                               torch.nn.ReLU(), torch.nn.Linear(16, 10))


def _assert_stacked_equals_reference(models, scheds, seeds, epochs, d, rel, jsv_rel, rtol, atol):
    """Train ``models`` stacked, then each the conventional way: losses, accuracies, mean JSVs and
    every weight and running statistic agree; returns the stacked results."""
    res = train.train_stacked(models, scheds, seeds, epochs, d, jsv_examples=50, progress=False, keep_weights=True)
    for r in range(len(models)):
        log, state = _reference(models[r], scheds[r], seeds[r], epochs, d)
        m = res[r].metrics
        assert m["train_loss"][1:] == pytest.approx(log["train_loss"][1:], rel=rel)
        assert m["test_acc"] == pytest.approx(log["test_acc"], abs=0.5)
        assert m["jsv_mean"] == pytest.approx(log["jsv_mean"], rel=jsv_rel)
        assert set(res[r].state_dict) == set(state)  # running statistics included
        for k, v in state.items():
            assert torch.allclose(res[r].state_dict[k].to(v.dtype), v, rtol=rtol, atol=atol), k
    return res


def test_batch_norm_stacked_runs_equal_runs_trained_one_by_one(synthetic):
    models = [_bn_net(s) for s in range(2)]
    scheds = [schedule.parse("0:0.05,1:0.01"), schedule.parse("0:0.02")]
    res = _assert_stacked_equals_reference(models, scheds, [3, 4], 2, synthetic, rel=1e-4, jsv_rel=1e-3,
                                           rtol=1e-3, atol=1e-5)
    for r in range(2):
        steps = 2 * -(-len(synthetic.x_train) // 100)  # 2 epochs of ceil(N / 100) batches
        assert res[r].state_dict["1.num_batches_tracked"].item() == steps  # evaluation updated nothing
    assert not torch.equal(res[0].state_dict["1.running_mean"], models[0].state_dict()["1.running_mean"])


def test_resnet20_stacked_runs_equal_runs_trained_one_by_one(synthetic):
    """§3.4's residual tier: pruned ResNet-20s (batch norm, skip connections, pruned through the
    dependency graph) trained stacked equal the conventional loop run by run, over one SGD step
    (weights, running statistics, loss, accuracy, mean JSV). Not over more: this setting is so
    ill-conditioned that the conventional loop itself, with weights moved by 1e-8, ends its
    second step 1e-3 away (measured), so a rounding difference is no test of the trainer. After
    one step, stacked (grouped convolutions) against plain: weights within 1e-5 (alone: 1.2e-7)
    on two threads, within 6.7e-5 on one (measured: the single-threaded convolution kernels round
    differently, and this setting amplifies it), hence ``atol=2e-4``; a wrong LR, schedule or
    statistic would be ~1e-2 off."""
    one_batch = data.Data("synthetic", synthetic.x_train[:100], synthetic.y_train[:100], synthetic.x_test,
                          synthetic.y_test, synthetic.mean, synthetic.std)
    models = [pruning.prune_l1(nets.seeded_build("resnet20", s), "resnet20", 0.5)[0] for s in range(2)]
    assert nets.widths_of(models[0], "resnet20") == pruning.pruned_widths("resnet20", 0.5)
    scheds = [schedule.parse("0:0.05"), schedule.parse("0:0.02")]
    _assert_stacked_equals_reference(models, scheds, [3, 4], 1, one_batch, rel=1e-5, jsv_rel=1e-4, rtol=1e-4, atol=2e-4)


def test_conv_stacks_on_a_cpu_lay_runs_innermost_with_the_default_layouts_result():
    """LeNet-5 stacks whose first convolution keeps one channel hand vmap, on a CPU, a batch stored
    [B, H, W, R, C] (a faster grouped convolution; ``train.runs_innermost_layout``): the same values,
    so the same logits and gradients up to rounding. Wider LeNet-5s, MLPs, batch-norm networks and
    GPUs keep the default layout."""
    lenet = [nets.seeded_build("lenet5-relu", s, pruning.pruned_widths("lenet5-relu", 0.9)) for s in range(3)]
    assert train.runs_innermost_layout(lenet[0], "cpu")
    assert not train.runs_innermost_layout(lenet[0], "cuda")
    assert not train.runs_innermost_layout(nets.seeded_build("lenet5-relu", 0, pruning.pruned_widths("lenet5-relu", 0.5)),
                                           "cpu")  # 3 channels in the first convolution: slower that way
    assert not train.runs_innermost_layout(nets.seeded_build("mlp7-relu", 0), "cpu")
    assert not train.runs_innermost_layout(nets.seeded_build("resnet20", 0), "cpu")
    x = torch.randn(3, 8, *train.Stack.base_input_shape, generator=torch.Generator().manual_seed(0))
    out = {}
    for inner in (False, True):
        st = train.Stack(lenet, "cpu", trainer="vmap")
        assert st.runs_innermost
        st.runs_innermost = inner
        logits = st.forward(x)
        out[inner] = (logits.detach(), torch.autograd.grad(logits.square().sum(), st.params))
    assert torch.allclose(out[True][0], out[False][0], rtol=1e-5, atol=1e-6)
    for g_inner, g_default in zip(out[True][1], out[False][1]):
        assert torch.allclose(g_inner, g_default, rtol=1e-4, atol=1e-6)
    assert not torch.equal(out[True][0][0], out[True][0][1])  # three different networks


def test_a_run_says_its_layout_and_a_resumed_stack_keeps_the_one_it_started_with(synthetic, tmp_path):
    """``RunResult.conv_input`` names the layout a stack trained in; a checkpoint carries it, so a
    stack resumed by code whose rule would choose the other layout goes on in the one it started with."""
    sched = [schedule.parse("0:0.01")]
    for ratio, trainer, expected in ((0.9, "vmap", "channels_last"), (0.5, "vmap", None), (0.5, None, "channels_last")):
        model = nets.seeded_build("lenet5-relu", 0, pruning.pruned_widths("lenet5-relu", ratio))
        res = train.train_stacked([model], sched, [0], 1, synthetic, jsv_examples=10, progress=False, trainer=trainer)
        assert res[0].conv_input == expected  # the written-out path (the CPU's choice): channels-last at every width
    wide = [nets.seeded_build("lenet5-relu", 0, pruning.pruned_widths("lenet5-relu", 0.5))]
    st = train.Stack(wide, "cpu", trainer="vmap")
    assert not st.runs_innermost
    st.runs_innermost = True  # as trained by a rule that chose it
    bufs, orders = [torch.zeros_like(p) for p in st.params], [torch.Generator().manual_seed(0)]
    results, alive = [train.RunResult()], torch.ones(1, dtype=torch.bool)
    train._save(tmp_path / "ck.pt", "job", 3, st, bufs, orders, results, alive)
    again = train.Stack(wide, "cpu", trainer="vmap")
    restored = train._restore(tmp_path / "ck.pt", "job", again, bufs, orders, results, alive)
    assert restored[0] == 3 and again.runs_innermost
    assert restored[3] is None  # saved without its CPU time: the resumed run records none (not a part of it)


def test_the_engine_picks_its_path_by_network_and_device_and_refuses_one_that_cannot_train_it(synthetic):
    """Issue 36: plain networks on a CPU take ``stacked_layers``' steps (MLPs ``stacked-mlp``,
    LeNet-5 ``stacked-conv``), everything else (a GPU, ResNets) vmap's; a path asked for by name
    must be able to train the network."""
    mlp, lenet = nets.seeded_build("mlp7-relu", 0), nets.seeded_build("lenet5-relu", 0)
    assert train.trainer_for(mlp, "cpu") == "stacked-mlp" and train.trainer_for(nets.build("mlp7-linear"), "cpu") == "stacked-mlp"
    assert train.trainer_for(lenet, "cpu").startswith("stacked-conv")  # with the C++ kernel where it is built
    assert train.trainer_for(nets.build("lenet5-linear"), "cpu").startswith("stacked-conv")
    assert train.trainer_for(mlp, "cuda") == "vmap" and train.trainer_for(lenet, "cuda") == "vmap"
    assert train.trainer_for(nets.seeded_build("resnet20", 0), "cpu") == "vmap"
    with pytest.raises(ValueError, match="trainer 'stacked-mlp' cannot train this network; choose one of vmap, stacked-conv"):
        train.Stack([lenet], "cpu", trainer="stacked-mlp")
    with pytest.raises(ValueError, match="trainer 'stacked-conv' cannot train this network; choose one of vmap \\(or None"):
        train.Stack([nets.seeded_build("resnet20", 0)], "cpu", trainer="stacked-conv")
    with pytest.raises(ValueError, match="trainer 'fast'"):
        train.Stack([mlp], "cpu", trainer="fast")
    res = train.train_stacked([mlp], [schedule.parse("0:0.01")], [0], 1, synthetic, jsv_examples=5, progress=False,
                              trainer="vmap")
    assert res[0].trainer == "vmap"


@pytest.mark.parametrize("name,path", [("mlp7-relu", "stacked-mlp"), ("lenet5-relu", "stacked-conv")])
def test_the_two_paths_give_the_same_steps_up_to_rounding(name, path, synthetic):
    """The same stack (pruned at 0.9, what Tables 3 and 7 finetune) trained by each path: train
    loss, test accuracy, mean JSV and weights agree to float32 rounding, and the paths are really
    two (not bitwise equal)."""
    models = [nets.seeded_build(name, s, pruning.pruned_widths(name, 0.9)) for s in range(3)]
    scheds = [schedule.parse(s) for s in SCHEDULES]
    kw = dict(jsv_examples=20, progress=False, keep_weights=True)
    a, b = (train.train_stacked(models, scheds, [0, 1, 2], 2, synthetic, trainer=t, **kw) for t in ("vmap", path))
    for x, y in zip(a, b):
        assert x.metrics["train_loss"][1:] == pytest.approx(y.metrics["train_loss"][1:], rel=1e-5)
        assert x.metrics["jsv_mean"] == pytest.approx(y.metrics["jsv_mean"], rel=1e-4)
        assert x.metrics["test_acc"] == pytest.approx(y.metrics["test_acc"], abs=1.0)  # one example of 120 may flip
        for k, v in x.state_dict.items():
            assert torch.allclose(y.state_dict[k], v, rtol=1e-4, atol=1e-6), k
    assert any(not torch.equal(x.state_dict[k], y.state_dict[k]) for x, y in zip(a, b) for k in x.state_dict)


def test_a_stack_checkpointed_on_one_path_resumes_on_it(synthetic, tmp_path, monkeypatch):
    """A checkpoint names its path (older ones, without a name, were written by vmap): a stack
    begun on vmap and resumed by code that would choose ``stacked-mlp`` goes on on vmap, bitwise
    equal to an uninterrupted vmap run, and says so."""
    models = [nets.seeded_build("mlp7-relu", s) for s in range(2)]
    args = (models, [schedule.parse("0:0.05,2:0.01"), schedule.parse("0:0.02")], [0, 1], 3, synthetic)
    kw = dict(jsv_examples=10, progress=False, keep_weights=True)
    whole = train.train_stacked(*args, **kw, trainer="vmap")
    ckpt, calls, real = tmp_path / "job.pt", {"n": 0}, train.jsv_stats

    def dies_in_epoch_2(sv):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(sv)

    monkeypatch.setattr(train, "jsv_stats", dies_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        train.train_stacked(*args, **kw, checkpoint=ckpt, checkpoint_every_s=0, trainer="vmap")
    monkeypatch.setattr(train, "jsv_stats", real)
    state = torch.load(ckpt, weights_only=True)
    assert state["trainer"] == "vmap"
    del state["trainer"]  # as a checkpoint written before the second path existed
    torch.save(state, ckpt)
    resumed = train.train_stacked(*args, **kw, checkpoint=ckpt)
    for a, b in zip(whole, resumed):
        assert b.trainer == "vmap" and a.metrics == b.metrics
        assert all(torch.equal(a.state_dict[k], b.state_dict[k]) for k in a.state_dict)
