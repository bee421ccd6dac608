"""Pruning at initialization (Lee et al.): connection sensitivity, global masks, the inits it is
compared under, layerwise JSVs, and the specs and recipe of chapters/pruning_at_init."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from dipcore import isometry, jsv, nets, pruning
from dipcore.book import grids, paper, recipe, spec
from dipcore.pruning import snip


def _gate_sensitivity(model, x, y):
    """The definition: |dL/dc| of a gate c = 1 on every weight, L the mean cross-entropy."""
    names = snip.weight_names(model)
    params = dict(model.named_parameters())
    gates = {n: torch.ones_like(params[n], requires_grad=True) for n in names}
    gated = {k: (v * gates[k] if k in gates else v) for k, v in params.items()}
    loss = F.cross_entropy(functional_call(model, gated, (x,)), y)
    return {n: g.abs() for n, g in zip(names, torch.autograd.grad(loss, [gates[n] for n in names]))}


@pytest.mark.parametrize("name", ["mlp7-tanh", "lenet5-relu"])
def test_connection_sensitivity_is_the_gradient_of_the_loss_by_a_gate_on_each_weight(name, synthetic):
    model = nets.build(name)
    x, y = synthetic.x_train[:230], synthetic.y_train[:230]
    ours = snip.connection_sensitivity(model, x, y, chunk=100)  # three chunks: summed as one loss
    ref = _gate_sensitivity(model, x, y)
    assert list(ours) == list(ref) == snip.weight_names(model)
    for n in ref:
        torch.testing.assert_close(ours[n], ref[n], rtol=1e-4, atol=1e-9)


def test_global_masks_keep_the_top_scores_across_all_layers():
    g = torch.Generator().manual_seed(0)
    scores = {"a": torch.rand(30, 40, generator=g) * 10, "b": torch.rand(5, 30, generator=g)}  # a's scores are larger
    masks = snip.global_masks(scores, 0.9)
    n = 30 * 40 + 5 * 30
    assert sum(int(m.sum()) for m in masks.values()) == round(n * 0.1)
    threshold = torch.cat([s.flatten() for s in scores.values()]).sort(descending=True).values[round(n * 0.1) - 1]
    for k in scores:
        assert torch.equal(masks[k].bool(), scores[k] >= threshold)
    assert masks["b"].sum() < 0.1 * masks["b"].numel()  # global, not per layer: b keeps fewer than 10 %
    assert snip.sparsity_of(masks) == pytest.approx(1 - round(n * 0.1) / n)


def test_prune_snip_masks_the_copy_and_leaves_the_model_and_biases_alone(synthetic):
    model = nets.build("mlp7-relu")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    pruned, masks = pruning.prune_snip(model, synthetic.x_train, synthetic.y_train, 0.95)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    for k, v in pruned.state_dict().items():
        if k in masks:
            assert torch.equal(v, before[k] * masks[k])
        else:  # biases are neither scored nor masked
            assert k.endswith("bias") and torch.equal(v, before[k])
    assert snip.sparsity_of(masks) == pytest.approx(0.95, abs=1e-5)


def test_the_autoencoder_loss_needs_no_labels_and_ranks_differently(synthetic):
    model = nets.build("mlp7-tanh")
    dec = snip.decoder(1024, 10, torch.Generator().manual_seed(0))
    torch.testing.assert_close(dec.T @ dec, torch.eye(10), atol=1e-5, rtol=0)
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    ae = snip.connection_sensitivity(model, synthetic.x_train, None, "autoencoder", generator=g())
    # the definition: d/dc of the mean squared reconstruction error through the fixed decoder
    names = snip.weight_names(model)
    params = dict(model.named_parameters())
    gates = {n: torch.ones_like(params[n], requires_grad=True) for n in names}
    out = functional_call(model, {k: v * gates[k] if k in gates else v for k, v in params.items()}, (synthetic.x_train,))
    d = snip.decoder(1024, 10, g())
    loss = ((out @ d.T - synthetic.x_train.flatten(1)) ** 2).mean()
    for n, ref in zip(names, torch.autograd.grad(loss, [gates[n] for n in names])):
        torch.testing.assert_close(ae[n], ref.abs(), rtol=1e-4, atol=1e-10)
    sup = snip.global_masks(snip.connection_sensitivity(model, synthetic.x_train, synthetic.y_train), 0.9)
    uns = snip.global_masks(ae, 0.9)
    assert any(not torch.equal(sup[n], uns[n]) for n in names)


@pytest.mark.parametrize("call,message", [
    (lambda m, d: snip.global_masks({"w": torch.rand(3, 3)}, 1.0), "sparsity must be a number in [0, 1)"),
    (lambda m, d: snip.global_masks({"w": torch.rand(3, 3)}, -0.1), "sparsity must be a number in [0, 1)"),
    (lambda m, d: snip.connection_sensitivity(m, d.x_train, d.y_train, "hinge"), "unknown loss 'hinge'"),
    (lambda m, d: snip.connection_sensitivity(m, d.x_train, None), "needs one label per example"),
    (lambda m, d: snip.apply_masks(m, {"1.weight": torch.ones(3, 3)}), "has shape (3, 3), the weight (100, 1024)"),
    (lambda m, d: snip.apply_masks(m, {"conv.weight": torch.ones(3)}), "names 'conv.weight'"),
    (lambda m, d: isometry.initialize(m, "xavier"), "unknown init 'xavier'"),
])
def test_bad_input_is_a_clear_error(call, message, synthetic):
    with pytest.raises(ValueError) as e:
        call(nets.build("mlp7-linear"), synthetic)
    assert message in str(e.value)


@pytest.mark.parametrize("init,variance", [("lecun", lambda i, o: 1 / i), ("glorot", lambda i, o: 2 / (i + o)),
                                           ("he", lambda i, o: 2 / i)])
def test_variance_scaling_inits_have_their_variance_and_zero_biases(init, variance):
    model = isometry.initialize(nets.build("mlp7-tanh"), init, generator=torch.Generator().manual_seed(0))
    for m in nets.weight_layers(model)[:2]:
        o, i = m.weight.shape
        assert m.weight.var().item() == pytest.approx(variance(i, o), rel=0.03)
        assert m.weight.mean().abs().item() < 0.01 * math.sqrt(variance(i, o))
        assert not m.bias.any()


def test_orthogonal_through_initialize_is_table1s_orthogonal_init():
    a = isometry.initialize(nets.build("mlp7-relu"), "orthogonal", math.sqrt(2), torch.Generator().manual_seed(4))
    b = isometry.orthogonal_init(nets.build("mlp7-relu"), math.sqrt(2), torch.Generator().manual_seed(4))
    assert all(torch.equal(a.state_dict()[k], v) for k, v in b.state_dict().items())


def test_tanh_network_and_its_gain():
    assert nets.gain("mlp7-tanh") == 1.0 and nets.gain("mlp7-relu") == pytest.approx(math.sqrt(2))
    model = nets.build("mlp7-tanh")
    assert sum(isinstance(m, torch.nn.Tanh) for m in model) == 6 and len(nets.weight_layers(model)) == 7


def test_layerwise_jsvs_are_the_singular_values_of_each_layers_own_jacobian(synthetic):
    model = isometry.initialize(nets.build("mlp7-tanh"), "glorot", generator=torch.Generator().manual_seed(1))
    x = synthetic.x_train[:20]
    sv = jsv.layerwise_singular_values(model, x, chunk=8)
    assert [tuple(s.shape) for s in sv] == [(20, 100)] * 6 + [(20, 10)]
    h = x.flatten(1)
    for l, m in enumerate(nets.weight_layers(model)):
        pre = h @ m.weight.T + m.bias
        if l < 6:  # D_l W_l, D_l = tanh'(pre-activation)
            ref = torch.linalg.svdvals((1 - torch.tanh(pre) ** 2)[:, :, None] * m.weight)
            h = torch.tanh(pre)
        else:
            ref = torch.linalg.svdvals(m.weight).expand(20, -1)
        torch.testing.assert_close(sv[l], ref, rtol=1e-4, atol=1e-6)
    linear = jsv.layerwise_singular_values(isometry.initialize(nets.build("mlp7-linear"), "orthogonal"), x)
    assert all(s.shape[0] == 1 and torch.allclose(s, torch.ones_like(s), atol=1e-5) for s in linear)


def test_pruning_at_init_specs_and_their_errors():
    kw = dict(schedule_text="0:0.1", epochs=2, seed=0)
    s = spec.train_spec("mlp7-tanh", "mnist", ratio=0.9, criterion="snip", init="he", **kw)
    assert (s["criterion"], s["scope"], s["init"]) == ("snip", "global", "he")
    assert spec.stack_group(s)[1] == nets.widths_of(nets.build("mlp7-tanh"), "mlp7-tanh")  # dense shapes
    assert "init" not in spec.train_spec("mlp7-tanh", "mnist", **kw)
    for bad, message in [
        (dict(criterion="snip", ratio=0.0), "prunes nothing"),
        (dict(criterion="snip", ratio=0.9, orthp=True), "would undo the masks"),
        (dict(criterion="snip", ratio=0.9, start="0123456789abcdef"), "needs start 'scratch'"),
        (dict(criterion="snip", ratio=0.9, scope="layer"), "scope 'global', not 'layer'"),
        (dict(init="orthogonal", start="0123456789abcdef"), "is for a scratch start"),
        (dict(init="pretrained"), "init 'pretrained'"),
        (dict(init="xavier"), "unknown init 'xavier'"),
        (dict(ratio=1.0, criterion="snip"), "pruning ratio must be a number in [0, 1)"),
    ]:
        with pytest.raises(ValueError) as e:
            spec.train_spec("mlp7-tanh", "mnist", **(kw | bad))
        assert message in str(e.value), (bad, str(e.value))


def test_the_recipe_prunes_at_init_and_ai_keeps_the_masks(synthetic):
    kw = dict(ratio=0.9, criterion="snip", init="orthogonal", schedule_text="0:0.1", epochs=1, seed=2, n_train=250,
              n_test=120)
    s = spec.train_spec("mlp7-tanh", "synthetic", recovery="ai", settings={"iterations": 50}, **kw)
    model, masks = recipe.start(s, None, synthetic)
    plain, plain_masks = recipe.start(spec.train_spec("mlp7-tanh", "synthetic", **kw), None, synthetic)
    assert all(torch.equal(masks[k], plain_masks[k]) for k in masks)  # AI comes after pruning: the same masks
    params = dict(model.named_parameters())
    assert all(not params[k][m == 0].any() for k, m in masks.items())
    moved = [k for k in masks if not torch.equal(params[k], dict(plain.named_parameters())[k])]
    assert moved  # AI changed the kept weights
    with pytest.raises(ValueError, match="needs the training data"):
        recipe.start(s, None, None)


def test_the_grid_has_its_arms_once_each():
    runs = grids.labelled_pai("mlp7-relu", "mnist", "paper")
    assert len(runs) == len({spec.key(s) for _, s in runs}) == 3 * (4 + 4 * 5 + 2 * 5)
    assert {l["criterion"] for l, _ in runs} == {"dense", "snip", "snip-ae"}
    dense = [s for l, s in runs if l["criterion"] == "dense"]
    assert all(s["ratio"] == 0 and "criterion" not in s for s in dense)
    s = next(s for l, s in runs if l["recovery"] == "ai")
    assert (s["momentum"], s["weight_decay"], s["schedule"], s["epochs"], s["ai_iterations"]) == \
        (0.0, 5e-4, "0:0.1", 17, 10_000)
    assert len(grids.get("pai_jsv", "mnist", "smoke")) == 3 * 34
    linear = grids.labelled_pai("mlp7-linear", "mnist", "paper")  # and its dense networks at Lee et al.'s LR
    assert len(linear) == len(runs) + 4 * 3
    assert {s["schedule"] for l, s in linear if l["lr"] == grids.LEE_LR} == {"0:0.1"}
    assert {s["schedule"] for l, s in linear if l["lr"] != grids.LEE_LR} == {"0:0.02"}


def test_a_masked_run_through_the_executor_ends_with_its_pruned_weights_exactly_zero(tmp_path):
    from dipcore.book import executor
    from dipcore.book.store import RunStore

    store = RunStore(tmp_path / "runs")
    kw = dict(ratio=0.95, criterion="snip", init="orthogonal", schedule_text="0:0.05", epochs=2, n_train=300,
              n_test=100, jsv_examples=20, momentum=0.9, keep_weights=True)
    specs = [spec.train_spec("mlp7-tanh", "synthetic", seed=s, **kw) for s in (0, 1)]
    specs.append(spec.train_spec("mlp7-tanh", "synthetic", seed=0, recovery="ai", settings={"iterations": 20}, **kw))
    recs = executor.ensure(store, specs, "missing", device="cpu", progress=False)
    from dipcore import data

    d = data.load("synthetic", n_train=300, n_test=100)
    for s, rec in zip(specs, recs):
        _, masks = recipe.start(s, None, d)  # the masks are a function of the spec: recomputed equal
        final = store.weights(rec["key"])
        for name, m in masks.items():
            assert not final[name][m == 0].any()  # pruned: exactly zero after two epochs with momentum
            assert final[name][m == 1].ne(0).all()  # kept: trained
        assert rec["metrics"]["jsv_mean"][0] > 0


def test_two_criteria_at_chance_do_not_count_as_matching():
    import pandas as pd

    from dipcore.book import claims
    from dipcore.book.chapters import pruning_at_init as pai

    chance = pd.Series([10.0, 10.0, 10.0])
    assert pai._matches(chance, chance, "c").verdict == claims.INCONCLUSIVE
    assert pai._matches(pd.Series([80.0, 80.1, 79.9]), pd.Series([80.05, 80.0, 79.95]), "c").verdict == claims.REPRODUCED


def _pai_frames():
    """A made-up grid and its measurements, labelled as the chapter's: the orthogonal init ends at
    80 - 50 s % at sparsity s, AI 10 s points above it, the label-free criterion 10, 20 and 30 s
    below it (per network), LeCun, Glorot and He 1 below, 1 and 2 above it (Glorot 5 above at 99 %
    on MLP-7-ReLU); seeds at -0.1, 0 and +0.1; the best epoch 0.5 above the final one (3 on
    MLP-7-Tanh, Glorot, 99 %). Input-output JSV 0.5 after pruning, 0.9 after AI (3.0 on MLP-7-ReLU
    at 50 %); layerwise JSV 1 - s / 2."""
    import pandas as pd

    k_ae = dict(zip(grids.PAI_NETS, (10, 20, 30)))
    rows = []
    for net in grids.PAI_NETS:
        for labels, _ in grids.labelled_pai(net, "mnist", "paper"):
            n, s, init = labels["net"], labels["sparsity"], labels["init"]
            acc = 80 - 50 * s
            if labels["recovery"] == "ai":
                acc += 10 * s
            elif labels["criterion"] == "snip-ae":
                acc -= k_ae[n] * s
            elif init != "orthogonal":
                acc += {"lecun": -1, "glorot": 5 if (n, s) == ("mlp7-relu", 0.99) else 1, "he": 2}[init]
            acc += 0.1 * (labels["seed"] - 1)
            gap = 3.0 if (n, init, s, labels["criterion"]) == ("mlp7-tanh", "glorot", 0.99, "snip") else 0.5
            ai = labels["recovery"] == "ai"
            rows.append({**labels, "final_acc": acc, "best_acc": acc + gap, "status": "ok",
                         "jsv_0": (3.0 if (n, s) == ("mlp7-relu", 0.5) else 0.9) if ai else 0.5})
    meas = [{**labels, "status": "ok", "layer_jsv": 1 - labels["sparsity"] / 2, "io_jsv": 10.0 ** (-10 * labels["sparsity"])}
            for net in grids.PAI_NETS for labels, _ in grids.labelled_pai_jsv(net, "mnist", "paper")]
    return pd.DataFrame(rows), pd.DataFrame(meas)


def test_the_pai_notes_quote_the_runs_and_wait_for_missing_ones():
    """The numbers the page's "What we noticed" quotes, from made-up runs whose every number is
    known; a number one of whose runs is missing is "–", the others stay."""
    from dipcore.book.chapters import pruning_at_init as pai

    frame, meas = _pai_frames()
    notes = pai.notes(frame, meas)
    assert [notes[f"rho_{n}"] for n in grids.PAI_NETS] == ["+1.00"] * 3
    assert notes["layer_jsv_dense"] == "1.00" and notes["layer_jsv"] == "0.75, 0.55, 0.53, 0.51 and 0.51"
    assert notes["io_jsv_99"] == "1.3e-10"
    assert notes["ai_closer_mlp7-linear"] == "every sparsity"
    assert notes["ai_closer_mlp7-relu"] == "4 of 5 sparsities (not at 50 %)"
    assert notes["ai_gain"] == "+9, +9.5, +9.8 and +9.9"
    assert (notes["orth_99_mlp7-tanh"], notes["ai_99_mlp7-tanh"], notes["ae_98_mlp7-relu"]) == ("30.5", "40.4", "1.6")
    assert notes["vs_98_mlp7-linear"] == "He init, 33.0 %" and notes["vs_99_mlp7-relu"] == "Glorot init, 35.5 %"
    assert [notes[f"ae_gap_95_{n}"] for n in grids.PAI_NETS] == ["−9.5", "−19.0", "−28.5"]
    assert notes["ae_loss_98"] == "10 to 29"
    assert (notes["best_gap_low"], notes["best_gap_high"]) == ("0.5", "3.0")
    assert notes["best_gap_where"] == "MLP-7-Tanh, Glorot (VS), 99 %"

    frame.loc[(frame.net == "mlp7-tanh") & (frame.criterion == "snip-ae") & (frame.sparsity == 0.98)
              & (frame.seed == 0), "status"] = "missing"
    meas.loc[(meas.net == "mlp7-linear") & (meas.sparsity == 0.5) & (meas.init == "orthogonal"), "status"] = "missing"
    partial = pai.notes(frame, meas)
    gone = {"ae_98_mlp7-tanh", "ae_loss_98", "best_gap_low", "best_gap_high", "best_gap_where", "layer_jsv_dense",
            "layer_jsv", "io_jsv_99", "rho_mlp7-linear"}
    assert {k for k, v in partial.items() if v == "–"} == gone
    assert all(partial[k] == notes[k] for k in notes if k not in gone)


def test_the_prose_names_each_networks_verdict_of_a_claim():
    """Issue 38: "What we noticed" stated claim 1 as not reproduced on MLP-7-Tanh after its
    verdict had changed; the sentence now pastes the verdicts' states."""
    from dipcore.book import claims
    from dipcore.book.chapters import pruning_at_init as pai

    def v(net, state):
        return claims.Verdict(f"{net}: with the orthogonal init, x", "s", state, "")

    same = [v(n, claims.INCONCLUSIVE) for n in ("MLP-7-Linear", "MLP-7-Tanh", "MLP-7-ReLU")]
    assert pai.states(same, "with the orthogonal init") == "inconclusive on all three networks"
    mixed = [v("MLP-7-Linear", claims.INCONCLUSIVE), v("MLP-7-Tanh", claims.NOT_REPRODUCED),
             v("MLP-7-ReLU", claims.INCONCLUSIVE)]
    assert pai.states(mixed, "with the orthogonal init") == \
        "inconclusive on MLP-7-Linear and MLP-7-ReLU, not reproduced on MLP-7-Tanh"


def test_each_claim_the_prose_quotes_is_found_once_per_network():
    """The page glues each claim's state per network (``CLAIM_WORDS``, through ``states``): every
    phrase must find exactly one of ``decide``'s claims on each network, or the prose would quote
    nothing (or two claims' states) after a claim is reworded."""
    from dipcore.book.chapters import pruning_at_init as pai

    frame, meas = _pai_frames()
    frame["loss_1"] = [(1.0 if r == "ai" else 2.0) + 0.01 * seed for r, seed in zip(frame.recovery, frame.seed)]
    found = [v for net in grids.PAI_NETS for v in pai.decide(frame, meas, net, "python -m dipcore compute pai")]
    for words in pai.CLAIM_WORDS.values():
        hits = [v.claim.split(":", 1)[0] for v in found if words in v.claim]
        assert sorted(hits) == sorted(paper.NET_LABELS[n] for n in grids.PAI_NETS), words
        assert pai.states(found, words) and "pending" not in pai.states(found, words)  # every run is made up
