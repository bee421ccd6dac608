"""``python -m dipcore status`` with no grid (``dipcore.book.overview``): every grid's stored runs on
each dataset, and every checkpoint in the state folder named by its grid, with whether a process
trains it now."""
import json

import pytest

from dipcore import train
from dipcore.book import executor, grids, spec
from dipcore.book.cli import main
from dipcore.book.store import RunStore


def test_status_without_a_grid_shows_every_grid_and_every_stack_in_flight(tmp_path, monkeypatch, capsys):
    store = RunStore(tmp_path / "runs")
    args = ["--protocol", "smoke", "--store", str(store.root)]
    run = next(s for s in grids.get("table3", "mnist", "smoke") if s["kind"] == "train" and s["epochs"] >= 2)
    executor.ensure(store, grids.pretrain("mnist", "smoke"), progress=False)
    real_stats, calls = train.jsv_stats, {"n": 0}

    def dies(sv):  # killed while logging its second epoch, after the first was saved
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_stats(sv)

    monkeypatch.setattr(train, "jsv_stats", dies)
    monkeypatch.setenv("DIPBOOK_CHECKPOINT_S", "0")
    with pytest.raises(KeyboardInterrupt):
        executor.ensure(store, [run], progress=False)
    monkeypatch.setattr(train, "jsv_stats", real_stats)
    stray = executor.inflight_dir() / "0123456789abcdef"  # a checkpoint of runs no grid holds
    stray.with_suffix(".json").write_text(json.dumps({"keys": ["ffffffffffffffff"]}))
    stray.with_suffix(".pt").write_bytes(b"")
    capsys.readouterr()

    assert main(["status", *args]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"run store {store.root}: 4 sound records (protocol smoke); each grid's own runs stored, of all:"
    assert out[1].split() == ["grid", "mnist", "fashion-mnist"]
    rows = {line.split()[0]: line.split()[1:] for line in out[2:2 + len(grids.GRIDS)]}
    assert sorted(rows) == sorted(grids.GRIDS)
    n3 = len(grids.get("table3", "mnist", "smoke"))
    assert rows["pretrain"] == ["complete", "complete"] and rows["table3"] == [f"0/{n3}", f"0/{n3}"]
    assert out[2 + len(grids.GRIDS)] == f"stacks part-way through training (checkpoints in {executor.inflight_dir()}): 2"
    flying = [line for line in out if line.startswith("  robustness, table3 on mnist, fashion-mnist: 1 x mlp7-linear")]
    assert len(flying) == 1 and "at epoch 1/" in flying[0]
    assert flying[0].endswith("no process is training it: computing its grid resumes it from this checkpoint")
    assert "  0123456789abcdef.pt: 1 run(s) that no grid of protocol smoke holds" in "\n".join(out)

    with executor.run_locks([spec.key(run)]):  # as the process training it holds it
        assert main(["status", "--dataset", "fashion-mnist", *args]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1].split() == ["grid", "fashion-mnist"]  # the table: the dataset asked for
    assert "  robustness, table3 on fashion-mnist, mnist: 1 x mlp7-linear" in out  # both grids holding it, named
    assert "a process is training it now" in out

    for action in ("compute", "list", "export"):
        assert main([action, *args]) == 2
        assert f"{action} needs a grid: one of figure1," in capsys.readouterr().err
