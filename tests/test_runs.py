import functools
import json

import pytest
import torch

from dipcore import grids, isometry, models, prune, runs, spec, train
from dipcore.__main__ import main


@pytest.fixture
def store(tmp_path):
    return runs.RunStore(tmp_path / "runs")


def _files(store):
    return sorted(p.name for p in store.root.glob("*.json"))


def test_keys_are_stable_and_distinct():
    a = grids.finetune_spec("mlp7-linear", "mnist", "paper", 0.8, 90, 0.01, False, 0)
    assert spec.key(a) == spec.key(json.loads(json.dumps(a)))
    b = dict(a, seed=1)
    assert spec.key(a) != spec.key(b)
    assert a["start"] == spec.key(grids.pretrain_spec("mlp7-linear", "mnist", "paper"))
    assert len(grids.get("table3", "mnist", "paper")) == 1 + 2 * (4 * 2 * 5 + 5)  # 90 runs + pretraining
    assert len(grids.get("table3", "mnist", "smoke")) == 1 + 2 * (4 * 2 + 1)  # no arm collapses onto another


def test_table2_schedules():
    s = grids.finetune_spec("mlp7-linear", "mnist", "paper", 0.8, 900, 0.001, True, 4)
    assert (s["schedule"], s["epochs"], s["orthp"], s["seed"]) == ("0:0.001,450:0.0001", 900, True, 4)


def test_a_killed_grid_resumes_with_nothing_lost_or_duplicated(store, monkeypatch):
    specs = grids.get("table3", "fashion-mnist", "smoke")
    real = runs.RunStore._train_chunk
    calls = {"n": 0}

    def dies_on_third_chunk(self, chunk, *a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # the grid is killed mid-way
        return real(self, chunk, *a, **k)

    monkeypatch.setattr(runs.RunStore, "_train_chunk", dies_on_third_chunk)
    with pytest.raises(KeyboardInterrupt):
        store.ensure(specs, progress=False)
    done, missing, damaged = store.status(specs)
    assert 0 < len(done) < len(specs) and not damaged
    before = {p.name: p.stat().st_mtime_ns for p in store.root.glob("*")}

    trained = []
    monkeypatch.setattr(runs.RunStore, "_train_chunk",
                        lambda self, chunk, *a, **k: (trained.extend(chunk), real(self, chunk, *a, **k)))
    recs = store.ensure(specs, progress=False)
    assert sorted(spec.key(s) for s in trained) == sorted(spec.key(s) for s in missing)  # only the missing
    assert all(store.root.joinpath(n).stat().st_mtime_ns == t for n, t in before.items())  # untouched
    assert _files(store) == sorted(f"{spec.key(s)}.json" for s in specs)  # one file per run
    assert [r["key"] for r in recs] == [spec.key(s) for s in specs]
    assert not list(store.root.glob(".*tmp"))


def test_records_hold_metrics_and_metadata(store):
    s = grids.pretrain_spec("mlp7-relu", "fashion-mnist", "smoke")
    rec = store.ensure([s], progress=False)[0]
    assert rec["status"] == "ok" and rec["spec"] == s
    assert len(rec["metrics"]["test_acc"]) == s["epochs"] + 1
    assert rec["final_acc"] == rec["metrics"]["test_acc"][-1]
    assert rec["metrics"]["test_acc"][rec["best_epoch"]] == rec["best_acc"]
    for k in ("device", "torch", "python", "dipcore", "wall_s", "stacked_with", "finished"):
        assert k in rec["meta"]


def test_truncated_json_is_reported_not_used(store):
    s = grids.pretrain_spec("mlp7-linear", "fashion-mnist", "smoke")
    store.ensure([s], progress=False)
    path = store.path(spec.key(s))
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    with pytest.raises(runs.DamagedRun, match="does not parse"):
        store.get(s)
    with pytest.raises(runs.DamagedRun):
        store.ensure([s], compute="never")
    with pytest.warns(UserWarning, match="recomputed"):
        rec = store.ensure([s], compute="missing", progress=False)[0]
    assert rec["status"] == "ok"
    assert len(list(store.root.glob("*.damaged-*"))) == 1  # the damaged file was kept aside


def test_edited_record_fails_its_checksum(store):
    s = grids.pretrain_spec("mlp7-linear", "fashion-mnist", "smoke")
    store.ensure([s], progress=False)
    path = store.path(spec.key(s))
    rec = json.loads(path.read_text())
    rec["final_acc"] = 99.9
    path.write_text(json.dumps(rec))
    with pytest.raises(runs.DamagedRun, match="checksum"):
        store.get(s)


def test_never_lists_what_is_missing_and_how_to_compute_it(store):
    specs = grids.get("pretrain", "fashion-mnist", "smoke")
    with pytest.raises(runs.RunsMissing, match="4 of 4 runs") as e:
        store.ensure(specs, compute="never", command_hint="python -m dipcore compute pretrain")
    assert "python -m dipcore compute pretrain" in str(e.value)
    with pytest.raises(ValueError, match="compute must be one of"):
        store.ensure(specs, compute="sometimes")


def test_finetuning_starts_from_the_stored_pretrained_weights(store):
    pre = grids.pretrain_spec("mlp7-linear", "fashion-mnist", "smoke")
    store.ensure([pre], progress=False)
    state = torch.load(store.weights_path(spec.key(pre)), weights_only=True)
    dense = models.build("mlp7-linear")
    dense.load_state_dict(state)
    ft = grids.finetune_spec("mlp7-linear", "fashion-mnist", "smoke", 0.8, 90, 0.01, True, 0)
    expected = isometry.orthp(prune.prune_l1(dense, "mlp7-linear", 0.8)[0])
    got = store.initial_model(ft)
    for (k, v), w in zip(got.state_dict().items(), expected.state_dict().values()):
        assert torch.equal(v, w), k
    # a damaged weights file is reported
    store.weights_path(spec.key(pre)).write_bytes(b"not a tensor")
    with pytest.raises(runs.DamagedRun, match="weights"):
        store.get(pre)


def test_scratch_starts_from_a_fresh_init_of_the_pruned_architecture(store):
    s = grids.scratch_spec("lenet5-relu", "fashion-mnist", "smoke", 0.9, 0)
    model = store.initial_model(s)
    assert models.widths_of(model, "lenet5-relu") == (1, 1, 12)


def test_bad_specs_are_clear_errors():
    with pytest.raises(ValueError, match="unknown network"):
        spec.train_spec("resnet", "mnist", schedule_text="0:0.1", epochs=1, seed=0)
    with pytest.raises(ValueError, match="pruning ratio"):
        spec.train_spec("mlp7-relu", "mnist", schedule_text="0:0.1", epochs=1, seed=0, ratio=1.2)
    with pytest.raises(ValueError, match="malformed LR schedule"):
        spec.train_spec("mlp7-relu", "mnist", schedule_text="0:0.1,0:1", epochs=3, seed=0)
    with pytest.raises(ValueError, match="unknown protocol"):
        grids.get("table3", "mnist", "quick")


def test_command_line(tmp_path, capsys):
    args = ["--protocol", "smoke", "--store", str(tmp_path), "--no-progress"]
    assert main(["compute", "pretrain", *args]) == 0
    assert main(["status", "pretrain", *args]) == 0
    assert "4 stored, 0 missing" in capsys.readouterr().out
    assert main(["list", "table3", *args]) == 0
    assert "missing" in capsys.readouterr().out
    assert main(["status", "table3", "--dataset", "cifar", *args]) == 2
    assert "unknown dataset" in capsys.readouterr().err


def test_shards_split_a_grid_without_overlap(store, monkeypatch):
    specs = grids.get("table3", "fashion-mnist", "smoke")
    store.ensure(specs[:1], progress=False)  # the pretrained network first
    trained = {0: [], 1: []}
    real = runs.RunStore._train_chunk
    for i in (0, 1):
        monkeypatch.setattr(runs.RunStore, "_train_chunk",
                            lambda self, chunk, *a, _i=i, **k: (trained[_i].extend(spec.key(s) for s in chunk),
                                                                real(self, chunk, *a, **k)))
        store.ensure(specs, progress=False, shard=(i, 2))
    assert trained[0] and trained[1] and not set(trained[0]) & set(trained[1])
    assert sorted(trained[0] + trained[1]) == sorted(spec.key(s) for s in specs[1:])
    assert main(["status", "table3", "--protocol", "smoke", "--store", str(store.root), "--shard", "2/2"]) == 2


def test_measurements_table1_and_pruned_jsvs(store):
    ortho = spec.jsv_spec("mlp7-linear", "synthetic", init="orthogonal", jsv_examples=20, n_train=200, n_test=50)
    rec = store.ensure([ortho], progress=False)[0]
    assert rec["jsv"] == pytest.approx({"mean": 1, "std": 0, "max": 1, "min": 1}, abs=1e-5)  # Table 1, row 1
    pre = grids.pretrain_spec("lenet5-relu", "fashion-mnist", "smoke")
    pruned = spec.jsv_spec("lenet5-relu", "synthetic", init="pretrained", start=spec.key(pre), ratio=0.5,
                           jsv_examples=30, n_train=2000, n_test=500, keep_values=True)
    rec = store.ensure([pre, pruned], progress=False)[1]  # the pretrained run is trained first
    model = store.initial_model(pruned)
    assert models.widths_of(model, "lenet5-relu") == (3, 8, 60)
    assert len(rec["values"]) == 30 * 10
    assert sum(rec["values"]) / 300 == pytest.approx(rec["jsv"]["mean"], rel=1e-5)
    assert 0 <= rec["test_acc"] <= 100
    with pytest.raises(ValueError, match="pretrained init needs"):
        spec.jsv_spec("lenet5-relu", "synthetic", init="pretrained")


def test_status_shows_stacks_in_flight(store, monkeypatch):
    pre = grids.pretrain_spec("mlp7-relu", "fashion-mnist", "smoke")
    real_stats, calls = train.jsv_stats, {"n": 0}

    def dies_after_epoch_1(sv):
        calls["n"] += 1
        if calls["n"] == 3:  # epoch 0 and 1 logged (and saved), then killed
            raise KeyboardInterrupt
        return real_stats(sv)

    monkeypatch.setattr(train, "jsv_stats", dies_after_epoch_1)
    monkeypatch.setattr(train, "train_stacked", functools.partial(train.train_stacked, checkpoint_every_s=0))
    with pytest.raises(KeyboardInterrupt):
        store.ensure([dict(pre, epochs=3, schedule="0:0.01")], progress=False)
    (chunk, epoch, _), = store.in_flight([dict(pre, epochs=3, schedule="0:0.01")])
    assert epoch == 1 and chunk[0]["net"] == "mlp7-relu"
    monkeypatch.setattr(train, "jsv_stats", real_stats)
    rec, = store.ensure([dict(pre, epochs=3, schedule="0:0.01")], progress=False)  # resumes
    assert rec["meta"]["segments"] == 2 and rec["meta"]["wall_s"] > 0
    assert not store.in_flight([dict(pre, epochs=3, schedule="0:0.01")])
