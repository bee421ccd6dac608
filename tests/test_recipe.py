"""The recipe: what a run starts from (init -> prune -> recover) and what a measurement records."""
import pytest
import torch

from dipcore import isometry, nets, pruning
from dipcore.book import executor, grids, recipe, spec
from dipcore.book.store import RunStore


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "runs")


def test_finetuning_starts_from_the_stored_pretrained_weights(store):
    pre = grids.pretrain_spec("mlp7-linear", "fashion-mnist", "smoke")
    executor.ensure(store, [pre], progress=False)
    dense = nets.build("mlp7-linear")
    dense.load_state_dict(torch.load(store.weights_path(spec.key(pre)), weights_only=True))
    ft = grids.finetune_spec("mlp7-linear", "fashion-mnist", "smoke", 0.8, 90, 0.01, True, 0)
    expected = isometry.orthp(pruning.prune_l1(dense, "mlp7-linear", 0.8)[0])
    got = recipe.initial_model(ft, store.weights)
    assert list(got.state_dict()) == list(expected.state_dict())
    for (k, v), w in zip(got.state_dict().items(), expected.state_dict().values()):
        assert torch.equal(v, w), k
    plain = recipe.initial_model(grids.finetune_spec("mlp7-linear", "fashion-mnist", "smoke", 0.8, 90, 0.01, False, 0),
                                 store.weights)
    assert not torch.equal(plain[1].weight, got[1].weight)  # OrthP changed the weights it was asked to


def test_scratch_starts_from_a_fresh_init_of_the_pruned_architecture(store):
    s = grids.scratch_spec("lenet5-relu", "fashion-mnist", "smoke", 0.9, 0)
    model = recipe.initial_model(s, store.weights)
    assert nets.widths_of(model, "lenet5-relu") == (1, 1, 12)
    torch.manual_seed(123)
    again = recipe.initial_model(s, store.weights)  # the spec's seed, not the global RNG
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))


def test_measurements_table1_and_pruned_jsvs(store, synthetic):
    ortho = spec.jsv_spec("mlp7-linear", "synthetic", init="orthogonal", jsv_examples=20, n_train=200, n_test=50)
    rec = executor.ensure(store, [ortho], progress=False)[0]
    assert rec["jsv"] == pytest.approx({"mean": 1, "std": 0, "max": 1, "min": 1}, abs=1e-5)  # Table 1, row 1
    pre = grids.pretrain_spec("lenet5-relu", "fashion-mnist", "smoke")
    pruned = spec.jsv_spec("lenet5-relu", "synthetic", init="pretrained", start=pre, ratio=0.5,
                           jsv_examples=30, n_train=2000, n_test=500, keep_values=True)
    rec = executor.ensure(store, [pruned], progress=False)[0]  # the pretrained run is trained first
    model = recipe.initial_model(pruned, store.weights)
    assert nets.widths_of(model, "lenet5-relu") == (3, 8, 60)
    assert len(rec["values"]) == 30 * 10
    assert sum(rec["values"]) / 300 == pytest.approx(rec["jsv"]["mean"], rel=1e-5)
    from dipcore import data
    d = data.load("synthetic", n_train=2000, n_test=500)
    expected = 100 * (model(d.x_test).argmax(1) == d.y_test).double().mean().item()
    assert rec["test_acc"] == pytest.approx(expected, abs=1e-4)  # the test accuracy of that very network


def test_an_affine_measurement_keeps_a_value_per_example(store):
    pre = grids.pretrain_spec("mlp7-linear", "fashion-mnist", "smoke")
    m = spec.jsv_spec("mlp7-linear", "synthetic", init="pretrained", start=pre, ratio=0.8, orthp=True,
                      jsv_examples=7, n_train=2000, n_test=500, keep_values=True)
    rec = executor.ensure(store, [m], progress=False)[0]
    assert len(rec["values"]) == 7 * 10
    assert rec["values"] == pytest.approx([1.0] * 70, abs=1e-5)  # OrthP: exact isometry (§3.2)


def test_an_ai_run_starts_from_the_pruned_network_after_approximate_isometry(store):
    pre = grids.pretrain_spec("mlp7-relu", "fashion-mnist", "smoke")
    executor.ensure(store, [pre], progress=False)
    ai = grids.finetune_spec("mlp7-relu", "fashion-mnist", "smoke", 0.9, 90, 0.01, False, 0, recovery="ai")
    dense = nets.build("mlp7-relu")
    dense.load_state_dict(store.weights(spec.key(pre)))
    expected = isometry.approximate_isometry(pruning.prune_l1(dense, "mlp7-relu", 0.9)[0], 2 ** 0.5, 0.1, 100)
    got = recipe.initial_model(ai, store.weights)
    for (k, v), w in zip(got.state_dict().items(), expected.state_dict().values()):
        assert torch.equal(v, w), k
