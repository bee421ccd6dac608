"""The store keeps every good record and never uses a bad one."""
import json

import pytest

from dipcore.book import executor, grids, spec
from dipcore.book.store import DamagedRun, RunStore


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "runs")


def test_records_hold_metrics_and_metadata(store):
    s = grids.pretrain_spec("mlp7-relu", "fashion-mnist", "smoke")
    rec = executor.ensure(store, [s], progress=False)[0]
    assert rec["status"] == "ok" and rec["spec"] == s
    assert len(rec["metrics"]["test_acc"]) == s["epochs"] + 1
    assert rec["final_acc"] == rec["metrics"]["test_acc"][-1]
    assert rec["metrics"]["test_acc"][rec["best_epoch"]] == rec["best_acc"]
    for k in ("device", "torch", "python", "dipcore", "wall_s", "stacked_with", "finished"):
        assert k in rec["meta"]
    assert json.loads(store.path(spec.key(s)).read_text()) == rec  # what is returned is what is on disk


def test_truncated_json_is_reported_not_used(store):
    s = grids.pretrain_spec("mlp7-linear", "fashion-mnist", "smoke")
    executor.ensure(store, [s], progress=False)
    path = store.path(spec.key(s))
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    with pytest.raises(DamagedRun, match="does not parse"):
        store.get(s)
    with pytest.raises(DamagedRun):
        executor.ensure(store, [s], compute="never")
    with pytest.warns(UserWarning, match="recomputed"):
        rec = executor.ensure(store, [s], compute="missing", progress=False)[0]
    assert rec["status"] == "ok"
    assert len(list(store.root.glob("*.json.damaged-*"))) == 1  # the damaged file was kept aside
    assert len(list(store.root.glob("*.pt.damaged-*"))) == 1  # and the weights it named, unverifiable without it


def test_edited_record_fails_its_checksum(store):
    s = grids.pretrain_spec("mlp7-linear", "fashion-mnist", "smoke")
    executor.ensure(store, [s], progress=False)
    path = store.path(spec.key(s))
    rec = json.loads(path.read_text())
    rec["final_acc"] = 99.9
    path.write_text(json.dumps(rec))
    with pytest.raises(DamagedRun, match="checksum"):
        store.get(s)
    other = grids.pretrain_spec("mlp7-relu", "fashion-mnist", "smoke")
    assert store.todo([s, other]) == [other, s]  # what a computation would write: the missing, then the damaged


def test_a_damaged_weights_file_is_reported(store):
    pre = grids.pretrain_spec("mlp7-linear", "fashion-mnist", "smoke")
    executor.ensure(store, [pre], progress=False)
    store.weights_path(spec.key(pre)).write_bytes(b"not a tensor")
    with pytest.raises(DamagedRun, match="weights"):
        store.get(pre)


def test_swapped_pretrained_weights_are_never_trained_from(store):
    """Issue 37, defect 1: two pretrained networks' ``.pt`` files swapped, a finetuning run
    recomputed: it trained from the wrong weights and was stored with a valid checksum. Now the
    weights are verified against their record wherever they are read, and nothing is stored."""
    pre = [grids.pretrain_spec("mlp7-linear", "fashion-mnist", "smoke", seed) for seed in (0, 1)]
    executor.ensure(store, pre, progress=False)
    a, b = (store.weights_path(spec.key(p)) for p in pre)
    good = store.weights(spec.key(pre[0]))
    buf_a, buf_b = a.read_bytes(), b.read_bytes()
    a.write_bytes(buf_b)
    b.write_bytes(buf_a)
    child = grids.finetune_spec("mlp7-linear", "fashion-mnist", "smoke", 0.8, 90, 0.01, False, 0)
    with pytest.raises(DamagedRun, match=f"weights .*{spec.key(pre[0])}.* damaged"):
        store.weights(spec.key(pre[0]))
    with pytest.raises(DamagedRun):
        executor.ensure(store, [child], compute="never")
    b.write_bytes(buf_b)
    a.write_bytes(buf_a[: len(buf_a) // 2])  # truncated: a message, not a traceback
    with pytest.raises(DamagedRun, match="damaged"):
        store.weights(spec.key(pre[0]))
    # computing repairs it: the damaged pretrained run is set aside (both files kept), recomputed
    # (bit for bit the same weights), and only then is the finetuning run trained from it
    with pytest.warns(UserWarning, match="will be recomputed"):
        (rec,) = executor.ensure(store, [child], progress=False)
    assert rec["status"] == "ok"
    assert all(good[k].equal(v) for k, v in store.weights(spec.key(pre[0])).items())
    assert len(list(store.root.glob(f"{spec.key(pre[0])}.pt.damaged-*"))) == 1
    assert len(list(store.root.glob(f"{spec.key(pre[0])}.json.damaged-*"))) == 1
