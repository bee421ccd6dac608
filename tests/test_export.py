"""The run store as tidy data: ``python -m dipcore export`` and ``export.frame``."""
import io
import subprocess
import sys

import pandas as pd
import pytest

from dipcore.book import executor, export, grids, spec
from dipcore.book.store import RunStore


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    st = RunStore(tmp_path_factory.mktemp("runs"))
    specs = grids.get("orthp", "mnist", "smoke")[:2] + grids.get("table3", "mnist", "smoke")[:3]
    executor.ensure(st, specs, "missing", device="cpu", progress=False)
    return st


def test_one_row_per_stored_run_that_gives_back_its_spec(store):
    df = export.frame("table3", "mnist", "smoke", store)
    stored = store.status(grids.get("table3", "mnist", "smoke"))[0]
    assert sorted(df.key) == sorted(spec.key(s) for s in stored) and len(df) == 3
    assert df.attrs["missing"] == len(grids.get("table3", "mnist", "smoke")) - 3
    for row in df.to_dict("records"):
        assert spec.key(export.spec_of(row)) == row["key"]  # every field of the spec is a column, nothing lost
        rec = store.get(export.spec_of(row))
        assert row["final_acc"] == rec["final_acc"] and row["jsv_mean_start"] == rec["metrics"]["jsv_mean"][0]
    assert {"criterion", "recovery", "init", "device", "wall_s"} <= set(df.columns)


def test_per_epoch_rows_and_measurements(store):
    df = export.frame("table3", "mnist", "smoke", store, per_epoch=True)
    recs = [store.get(s) for s in store.status(grids.get("table3", "mnist", "smoke"))[0]]
    assert len(df) == sum(len(r["metrics"]["test_acc"]) for r in recs)
    first = df[df.epoch == 0]
    assert first.train_loss.isna().all() and len(first) == 3
    meas = export.frame("orthp", "mnist", "smoke", store)
    assert len(meas) == 2 and meas.kind.eq("jsv").all() and meas.jsv_mean.notna().all()
    for row in meas.to_dict("records"):
        assert spec.key(export.spec_of(row)) == row["key"]


def test_the_command_writes_csv_to_stdout_and_refuses_what_it_cannot_write(store, tmp_path):
    cmd = [sys.executable, "-m", "dipcore", "export", "table3", "--dataset", "mnist", "--protocol", "smoke",
           "--store", str(store.root)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert len(pd.read_csv(io.StringIO(out.stdout))) == 3 and "3 stored run(s)" in out.stderr
    subprocess.run(cmd + ["--per-epoch", "--out", str(tmp_path / "e.csv")], check=True, capture_output=True)
    assert "epoch" in pd.read_csv(tmp_path / "e.csv").columns
    bad = subprocess.run(cmd + ["--format", "parquet"], capture_output=True, text=True)
    assert bad.returncode == 2 and "give a file with --out" in bad.stderr
    with pytest.raises(ValueError, match="unknown format"):
        export.write(pd.DataFrame(), "xlsx")


def test_a_page_links_the_csv_of_every_run_it_read(store, tmp_path, monkeypatch):
    """``Chapter.download_runs``: the link embeds, as CSV, exactly the stored runs the page read
    (``records`` and ``ensure``; a missing run is not a row), the rows ``export`` writes."""
    import base64
    import re

    import IPython.display

    from dipcore.book import chapter

    ch = chapter.setup("table3", dataset="mnist", protocol="smoke", store=str(store.root), figures=str(tmp_path))
    specs = grids.get("table3", "mnist", "smoke")[:5]  # 3 stored, 2 not
    recs = ch.records(specs, "table3", compute=False)
    assert sum(r is None for r in recs) == 2
    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False: shown.append(obj))
    assert ch.download_runs("table3") is None
    df = export.frame_of(ch.shown.values())
    (obj,) = shown
    href = re.search(r'href="data:text/csv;base64,([^"]+)"', obj["text/html"]).group(1)
    linked = pd.read_csv(io.StringIO(base64.b64decode(href).decode()))
    assert sorted(linked.key) == sorted(r["key"] for r in recs if r) == sorted(df.key)
    assert linked.final_acc.tolist() == pytest.approx(df.final_acc.tolist())
    assert "3 stored runs" in obj["text/plain"] and 'download="table3_runs_synthetic_smoke.csv"' in obj["text/html"]
    assert pd.read_csv(tmp_path / "table3_runs_synthetic_smoke.csv").key.tolist() == linked.key.tolist()


@pytest.mark.parametrize("where,message", [
    ("missing-folder/runs.csv", "does not exist; create it first"),
    ("", "is a folder: give a file name"),
    ("/proc/version", "cannot be written|could not be written"),
])
def test_an_out_that_cannot_be_a_file_is_refused_with_a_message(store, tmp_path, capsys, where, message):
    """Issue 37, defect 7: ``export --out`` into a missing folder, onto a folder or onto a file that
    cannot be written gave tracebacks. Now a message and rc 2, and nothing written."""
    from dipcore.book.cli import main

    out = where if where.startswith("/") else str(tmp_path / where)
    before = sorted(tmp_path.rglob("*"))
    rc = main(["export", "table3", "--dataset", "mnist", "--protocol", "smoke", "--store", str(store.root), "--out", out])
    import re

    assert rc == 2

    assert re.search(message, capsys.readouterr().err)
    assert sorted(tmp_path.rglob("*")) == before


def test_damaged_runs_are_named_and_the_export_says_so(tmp_path, capsys):
    """Issue 37, defect 10: a damaged run file was counted as "not stored yet", named nowhere, rc 0.
    Now it is named, counted apart, and the command exits 3 (as ``status``); the sound runs are
    still exported."""
    from dipcore.book.cli import main

    st = RunStore(tmp_path / "runs")
    specs = grids.get("table3", "mnist", "smoke")[:2]
    executor.ensure(st, specs, "missing", device="cpu", progress=False)
    bad = st.path(spec.key(specs[1]))
    bad.write_text(bad.read_text()[:100])
    rc = main(["export", "table3", "--dataset", "mnist", "--protocol", "smoke", "--store", str(st.root),
               "--out", str(tmp_path / "t.csv")])
    err = capsys.readouterr().err
    assert rc == 3 and "1 damaged, left out" in err and f"damaged: run file {bad}" in err
    assert len(pd.read_csv(tmp_path / "t.csv")) == 1
    df = export.frame("table3", "mnist", "smoke", st)
    assert len(df.attrs["damaged"]) == 1 and df.attrs["missing"] == len(grids.get("table3", "mnist", "smoke")) - 2
