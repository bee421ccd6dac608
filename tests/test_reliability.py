"""Never lose a computed run, never show a wrong one (issue 9): bad input refused before any
training with a message naming the value, from the library and the command line (the papermill
entry point: tests/test_book.py); two processes on one grid share its runs; a damaged or foreign
file in the store is named, ignored or repaired, never used."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dipcore import train
from dipcore.book import chapter, executor, grids, recipe, spec
from dipcore.book.cli import main
from dipcore.book.store import RunStore

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def no_training(monkeypatch):
    """Any training or measurement fails the test: the error must come before them."""
    def refuse(*a, **k):
        raise AssertionError("computed before the bad input was refused")

    monkeypatch.setattr(train, "train_stacked", refuse)
    monkeypatch.setattr(recipe, "measure", refuse)


def _smoke(name="pretrain"):
    return grids.get(name, "fashion-mnist", "smoke")


# -- the library --------------------------------------------------------------------------------------
@pytest.mark.parametrize("make,message", [
    (lambda: spec.train_spec("mlp7-relu", "synthetic", schedule_text="0:0.1", epochs=1, seed=2 ** 64), "seed"),
    (lambda: spec.train_spec("mlp7-relu", "synthetic", schedule_text="0:0.1", epochs=1, seed=-1), "seed"),
    (lambda: spec.train_spec("mlp7-relu", "synthetic", schedule_text="0:0.1", epochs=1, seed=0, batch_size=-1),
     "batch_size"),
    (lambda: spec.train_spec("mlp7-relu", "synthetic", schedule_text="0:0.1", epochs=1, seed=0, n_train=0), "n_train"),
    (lambda: spec.train_spec("mlp7-relu", "synthetic", schedule_text="0:0.1", epochs=0, seed=0), "epochs"),
    (lambda: spec.train_spec("mlp7-relu", "synthetic", schedule_text="0:0.1,0:0.2", epochs=1, seed=0), "schedule"),
    (lambda: spec.train_spec("mlp9", "synthetic", schedule_text="0:0.1", epochs=1, seed=0), "mlp9"),
    (lambda: spec.train_spec("mlp7-relu", "synthetic", schedule_text="0:0.1", epochs=1, seed=0, ratio=1.0), "ratio"),
])
def test_bad_specs_are_refused_when_made(make, message, no_training):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("kwargs,message", [
    ({"store": ""}, "store must be a folder"),
    ({"store": 3}, "store must be a folder"),
    ({"seeds": "[0, 1]"}, "give the list with -y"),
    ({"seeds": [2 ** 63]}, r"in \[0, 2\*\*63\)"),
    ({"seeds": [True]}, "seeds must be"),
    ({"figures": ""}, "figures must be a folder"),
    ({"device": "gpu"}, "'gpu'"),
    ({"compute": "yes"}, "'yes'"),
])
def test_bad_chapter_parameters_are_refused(kwargs, message, tmp_path, no_training):
    with pytest.raises(ValueError, match=message):
        chapter.setup("table3", protocol="smoke", **{"store": str(tmp_path / "runs"), **kwargs})


def test_unwritable_targets_are_refused_before_any_compute(tmp_path, monkeypatch, no_training):
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    with pytest.raises(ValueError, match=f"run store '{a_file}' is a file, not a folder"):
        executor.ensure(RunStore(a_file), _smoke(), progress=False)
    with pytest.raises(ValueError, match="run store .*under-a-file' is not writable"):
        executor.ensure(RunStore(a_file / "under-a-file"), _smoke(), progress=False)
    with pytest.raises(ValueError, match="figures folder .* is not writable"):
        chapter.setup("table3", protocol="smoke", store=str(tmp_path / "runs"), figures=str(a_file / "figs"))
    monkeypatch.setenv("DIPBOOK_STATE", str(a_file / "state"))
    with pytest.raises(ValueError, match=r"checkpoint folder \(\$DIPBOOK_STATE\) .* set DIPBOOK_STATE"):
        executor.ensure(RunStore(tmp_path / "runs"), _smoke(), progress=False)
    with pytest.raises(ValueError, match=r"\$DIPBOOK_STATE"):  # a chapter that may compute checks it first
        chapter.setup("table3", protocol="smoke", compute="missing", store=str(tmp_path / "runs"))
    assert not list((tmp_path / "runs").glob("*.json")) if (tmp_path / "runs").exists() else True


def test_a_misspelt_papermill_parameter_is_named(monkeypatch):
    ns = {"In": ["", "# Parameters: papermill can set any of these\ncompute = 'never'\n",
                 "# Parameters\ncompte = \"missing\"\nseeds = [0]\n"]}
    assert chapter.injected_parameters(ns) == ["compte", "seeds"]
    with pytest.raises(ValueError, match=r"'compte' is not a parameter of this chapter \(did you mean 'compute'\?\)"):
        chapter.check_injected(ns)
    chapter.check_injected({"In": ["# Parameters\nseeds = [0]\nratios = [0.5]\n"]})  # known names pass
    # a parameter of another chapter is not one of this chapter's (its parameters cell runs just before)
    ns = {"In": ["", "# Parameters: papermill can set any of these\ncompute = 'never'\nseeds = None\n",
                 "# Parameters\nnet = \"lenet5-relu\"\n"]}
    assert chapter.declared_parameters(ns) == ("compute", "seeds")
    with pytest.raises(ValueError, match=r"'net' is not a parameter of this chapter; its parameters are compute, seeds"):
        chapter.check_injected(ns)


def test_smoke_runs_never_land_in_the_committed_store(monkeypatch, tmp_path):
    monkeypatch.setenv("DIPBOOK_SCRATCH_STORE", str(tmp_path / "scratch"))
    assert chapter.setup("table3", protocol="smoke").store.root == tmp_path / "scratch"
    assert chapter.setup("table3").store.root == ROOT / "data" / "runs"


def test_smoke_runs_from_the_command_line_never_land_in_the_committed_store(monkeypatch, tmp_path, capsys,
                                                                            no_training):
    """Issue 37, defect 4: ``compute GRID --protocol smoke`` without ``--store`` wrote into
    ``data/runs``; now it goes to the scratch store, and naming ``data/runs`` is refused."""
    monkeypatch.setenv("DIPBOOK_SCRATCH_STORE", str(tmp_path / "scratch"))
    before = sorted(p.name for p in (ROOT / "data" / "runs").iterdir())
    assert main(["list", "pretrain", "--protocol", "smoke"]) == 0
    assert "4 runs, 0 stored" in capsys.readouterr().out  # the scratch store, not data/runs' smoke runs
    for store in ("data/runs", str(ROOT / "data" / "runs")):
        monkeypatch.chdir(ROOT)
        assert main(["compute", "pretrain", "--protocol", "smoke", "--store", store, "--no-progress"]) == 2
        assert "never go into the committed store" in capsys.readouterr().err
    with pytest.raises(ValueError, match="never go into the committed store"):
        chapter.setup("table3", protocol="smoke", store=ROOT / "data" / "runs")
    assert sorted(p.name for p in (ROOT / "data" / "runs").iterdir()) == before


def test_a_missing_runs_hint_names_the_store_it_was_read_from(tmp_path):
    """Issue 37, defect 4: the command a chapter prints for missing runs names its store, so
    following it fills the store the chapter reads."""
    ch = chapter.setup("table3", protocol="smoke", store=str(tmp_path / "runs"))
    with pytest.raises(LookupError) as e:
        ch.ensure(_smoke()[:1])
    assert f"--protocol smoke --store {tmp_path / 'runs'}" in str(e.value)


def test_distributed_loads_a_start_file_without_running_its_code(tmp_path, monkeypatch):
    """Issue 37, defect 3: ``--start`` is loaded with ``weights_only=True``: a pickle that would
    run code is refused, not executed."""
    import pickle

    from dipcore import distributed

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    bad = tmp_path / "start.pt"
    bad.write_bytes(pickle.dumps(Evil()))
    asked, load = [], torch.load  # asked for explicitly: torch before 2.6 defaults to running the pickle
    monkeypatch.setattr(torch, "load", lambda *a, **k: asked.append(k.get("weights_only")) or load(*a, **k))
    with pytest.raises(pickle.UnpicklingError):
        distributed.build("resnet20", 0.0, False, False, 1, 0, start=str(bad))
    assert not (tmp_path / "pwned").exists() and asked == [True]


def test_a_chapter_says_which_store_it_reads(tmp_path, capsys):
    chapter.setup("table3", protocol="smoke", store=str(tmp_path / "runs"))
    assert f"run store {tmp_path / 'runs'}: does not exist yet" in capsys.readouterr().out
    chapter.setup("table3")
    assert "run store data/runs (in the repository):" in capsys.readouterr().out


# -- the command line ---------------------------------------------------------------------------------
@pytest.mark.parametrize("argv,message", [
    (["compute", "pretrain", "--threads", "0"], "--threads must be at least 1"),
    (["compute", "pretrain", "--max-stack", "-1"], "--max-stack must be at least 1"),
    (["compute", "pretrain", "--device", "gpu"], "'gpu'"),
    (["compute", "pretrain", "--shard", "2/2"], "--shard must be I/N with 0 <= I < N, got '2/2'"),
    (["compute", "pretrain", "--dataset", "cifar"], "unknown dataset 'cifar'"),
    (["compute", "pretrain", "--protocol", "quick"], "unknown protocol 'quick'"),
    (["compute", "pretrain", "--store", "/dev/null"], "run store '/dev/null' is a file"),
    # issue 37, defect 6: each of these printed "0 runs ... done" (or ignored the filter) with rc 0
    (["compute", "table3", "--net", "nosuch"], "grid table3 has no network 'nosuch'; its networks are mlp7-linear"),
    (["compute", "table3", "--epochs", "-5"], "--epochs must be at least 1, got -5"),
    (["compute", "table3", "--epochs", "0"], "--epochs must be at least 1, got 0"),
    (["compute", "table3", "--epochs", "90"], "no training runs of 90 epochs; its lengths are 2, 3"),
    (["compute", "pretrain", "--store", ""], "--store must name a folder, got an empty path"),
    (["status", "pretrain", "--store", "/etc/hostname"], "run store '/etc/hostname' is a file"),
    (["list", "pretrain", "--store", "/etc/hostname"], "run store '/etc/hostname' is a file"),
    (["export", "pretrain", "--store", "/etc/hostname"], "run store '/etc/hostname' is a file"),
])
def test_bad_command_lines_are_refused_before_any_compute(argv, message, capsys, no_training, tmp_path):
    if "--store" not in argv:
        argv = argv + ["--store", str(tmp_path / "runs")]
    cwd = sorted(Path.cwd().iterdir())
    assert main(argv + ["--protocol", "smoke"] * ("--protocol" not in argv) + ["--no-progress"]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "runs").exists() and sorted(Path.cwd().iterdir()) == cwd  # nothing written


def test_status_fails_and_names_the_repair_when_a_run_is_damaged(tmp_path, capsys):
    tmp_path = tmp_path / "runs"
    args = ["--protocol", "smoke", "--store", str(tmp_path), "--no-progress"]
    assert main(["compute", "pretrain", *args]) == 0
    victim = sorted(tmp_path.glob("*.json"))[0]
    victim.write_text(victim.read_text()[:100])  # truncated
    capsys.readouterr()
    assert main(["status", "pretrain", *args]) == 3
    err = capsys.readouterr().err
    assert "1 damaged run file(s)" in err and "python -m dipcore compute pretrain" in err
    assert main(["list", "pretrain", *args]) == 3
    assert f"damaged {victim.stem}" in capsys.readouterr().out  # not called "missing"
    with pytest.warns(UserWarning, match=rf"{victim.stem}\.json is damaged .* moved to {victim.stem}\.json\.damaged-"):
        assert main(["compute", "pretrain", *args]) == 0  # the repair: set aside (said so), recomputed
    assert main(["status", "pretrain", *args]) == 0
    assert len(list(tmp_path.glob(f"{victim.stem}.json.damaged-*"))) == 1 and victim.exists()


def test_list_into_a_closed_pipe_ends_quietly(tmp_path):
    cmd = (f"{sys.executable} -m dipcore list table3 --protocol smoke --store {tmp_path} | head -1")
    r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0 and "grid table3" in r.stdout and "Traceback" not in r.stderr, r.stderr


# -- the store ----------------------------------------------------------------------------------------
def test_damaged_and_foreign_files_are_named_and_never_used(tmp_path):
    tmp_path = tmp_path / "runs"  # (the checkpoint folder of the tests is the parent's "inflight")
    st = RunStore(tmp_path)
    assert main(["compute", "pretrain", "--protocol", "smoke", "--store", str(tmp_path), "--no-progress"]) == 0
    paths = sorted(tmp_path.glob("*.json"))
    truncated, edited = paths[0], paths[1]
    truncated.write_text(truncated.read_text()[:50])
    rec = json.loads(edited.read_text())
    rec["final_acc"] = 99.9
    edited.write_text(json.dumps(rec))
    weights = sorted(tmp_path.glob("*.pt"))[-1]
    weights.unlink()  # a record whose weights are gone
    (tmp_path / "notes.txt").write_text("a stray file")
    (tmp_path / "results.json").write_text("{}")  # a stray JSON: not a record's name
    assert {p.name for p in st.foreign()} == {"notes.txt", "results.json"}
    damaged = st.damaged()
    assert len(damaged) == 3 and any("does not parse" in d for d in damaged)
    assert any("checksum" in d for d in damaged) and any("weights" in d for d in damaged)
    good = st.records(skip_damaged=True)
    assert len(good) == 1 and all(r["final_acc"] != 99.9 for r in good)
    assert "2 foreign file(s) ignored" in st.describe()


def test_the_reproducibility_page_renders_whatever_the_store_holds(tmp_path):
    papermill = pytest.importorskip("papermill")
    out = tmp_path / "out.ipynb"
    tmp_path = tmp_path / "runs"
    assert main(["compute", "pretrain", "--protocol", "smoke", "--store", str(tmp_path), "--no-progress"]) == 0
    first = sorted(tmp_path.glob("*.json"))[0]
    first.write_text("{")
    (tmp_path / "stray.json").write_text("[]")
    papermill.execute_notebook(str(ROOT / "chapters" / "reproducibility.ipynb"), str(out),
                               parameters={"store": str(tmp_path)}, kernel_name="python3", progress_bar=False,
                               cwd=str(ROOT / "chapters"))
    text = out.read_text()
    assert "left out:" in text and first.name in text and "ignored: stray.json" in text


# -- two processes, one grid --------------------------------------------------------------------------
def test_two_processes_on_one_grid_train_every_run_once(tmp_path):
    env = {**os.environ, "DIPBOOK_STATE": str(tmp_path / "state"), "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "dipcore", "compute", "orthp", "--protocol", "smoke", "--store",
           str(tmp_path / "runs"), "--max-stack", "1", "--no-progress", "--threads", "1"]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
             for _ in range(2)]
    outs = [p.communicate(timeout=900) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    trained = [int(o[0].split("done in")[1].split(": ")[1].split()[0]) for o in outs]
    runs = [s for s in executor.closure(grids.get("orthp", "fashion-mnist", "smoke")) if s["kind"] == "train"]
    assert sum(trained) == len(runs), (trained, len(runs))  # each run trained once, by one of them
    assert min(trained) > 0  # and the work was shared
    assert not list((tmp_path / "state").glob("*.tmp"))
    assert not list((tmp_path / "state").glob("*.lock"))  # every lock file removed by its holder


def test_a_checkpoint_temporary_file_is_per_process(tmp_path):
    stack = train.Stack([torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(1024, 10))], "cpu")
    bufs = [torch.zeros_like(p) for p in stack.params]
    seen = []
    real_save = torch.save
    torch.save = lambda obj, f, *a, **k: (seen.append(Path(f).name), real_save(obj, f, *a, **k))
    try:
        train._save(tmp_path / "ck.pt", "id", 1, stack, bufs, [torch.Generator()], [train.RunResult()],
                    torch.ones(1, dtype=torch.bool))
    finally:
        torch.save = real_save
    assert seen == [f".ck.pt.{os.getpid()}.tmp"] and (tmp_path / "ck.pt").exists()


def test_a_run_lock_excludes_others_and_leaves_no_file():
    with executor.run_locks(["a", "b"]) as got:
        assert got == ["a", "b"] and (executor.inflight_dir() / "a.lock").exists()
        with executor.run_locks(["a", "c"]) as again:  # another open file: as another process would
            assert again == ["c"]
        assert (executor.inflight_dir() / "a.lock").exists()  # leaving "c" removed only its own file
    assert not list(executor.inflight_dir().glob("*.lock"))
    with executor.run_locks(["a"]) as got:
        assert got == ["a"]


def test_lock_files_nobody_holds_are_swept_and_held_ones_kept():
    folder = executor.inflight_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for k in ("old1", "old2", "busy"):
        (folder / f"{k}.lock").touch()  # as the executor once left them
    with executor.run_locks(["busy"]) as got:
        assert got == ["busy"]
        assert executor.sweep_locks() == 2
        assert sorted(p.name for p in folder.glob("*.lock")) == ["busy.lock"]
    assert not list(folder.glob("*.lock")) and executor.sweep_locks() == 0


def test_a_lock_taken_on_a_removed_lock_file_is_no_lock(tmp_path, monkeypatch):
    import builtins
    import fcntl

    path = tmp_path / "r.lock"
    path.touch()
    stale = open(path, "a")  # opened just before its holder removed it and let go
    path.unlink()
    holder = executor._lock(path)  # a third process: a new file at the path, locked
    assert holder is not None
    handles = [stale]
    monkeypatch.setattr(executor, "open", lambda p, mode: handles.pop() if handles else builtins.open(p, mode),
                        raising=False)
    assert executor._lock(path) is None  # the stale file locks, but the path names the held one
    assert stale.closed
    # the holder removes its file and lets go; a process that had opened it before then gets a new one
    stale2 = open(path, "a")
    path.unlink()
    fcntl.flock(holder, fcntl.LOCK_UN)
    holder.close()
    handles = [stale2]
    monkeypatch.setattr(executor, "open", lambda p, mode: handles.pop() if handles else builtins.open(p, mode),
                        raising=False)
    got = executor._lock(path)
    assert got is not None and got is not stale2 and stale2.closed
    assert os.fstat(got.fileno()).st_ino == os.stat(path).st_ino
    got.close()


def test_a_run_whose_lock_holder_dies_is_taken_over(tmp_path, monkeypatch, capsys):
    import threading

    monkeypatch.setattr(executor, "LOCK_WAIT_S", 0.2)
    specs = _smoke()
    held, release = threading.Event(), threading.Event()

    def other_process():  # holds one run's lock, then goes away without storing it
        with executor.run_locks([spec.key(specs[0])]) as got:
            assert got == [spec.key(specs[0])]
            held.set()
            release.wait(timeout=60)

    t = threading.Thread(target=other_process)
    t.start()
    held.wait(timeout=60)
    threading.Timer(3.0, release.set).start()
    report = {}
    recs = executor.ensure(RunStore(tmp_path / "runs"), specs, progress=False, report=report)
    t.join()
    assert report["trained"] == len(specs) and all(r is not None for r in recs)
    assert "being trained by another process" in capsys.readouterr().err


def _compute_until(store_dir, env, stop_when=None):
    """``python -m dipcore compute pretrain`` (smoke) in a subprocess, killed with SIGKILL as soon as
    ``stop_when()`` holds (None: run to the end)."""
    import signal
    import time

    cmd = [sys.executable, "-m", "dipcore", "compute", "pretrain", "--protocol", "smoke", "--store", str(store_dir),
           "--no-progress", "--threads", "1"]
    p = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if stop_when is None:
        assert p.wait(timeout=600) == 0, p.stderr.read()
        return False
    while p.poll() is None:
        if stop_when():
            p.send_signal(signal.SIGKILL)
            p.wait()
            return True
        time.sleep(0.01)
    return False  # finished before the moment came


def test_kill_9_at_two_moments_loses_nothing_and_resumes_exactly(tmp_path):
    base = {**os.environ, "PYTHONPATH": str(ROOT), "DIPBOOK_CHECKPOINT_S": "0"}  # a checkpoint every epoch
    ref_dir, dir_ = tmp_path / "reference", tmp_path / "runs"
    _compute_until(ref_dir, {**base, "DIPBOOK_STATE": str(tmp_path / "state-ref")})
    env = {**base, "DIPBOOK_STATE": str(tmp_path / "state")}
    state = tmp_path / "state"
    # moment 1: a stack has saved a checkpoint, no run is stored yet
    assert _compute_until(dir_, env, lambda: state.is_dir() and any(state.glob("*.pt")))
    assert not list(dir_.glob("*.json")) and list(state.glob("*.pt"))
    # moment 2: some runs are stored, another stack is part-way
    assert _compute_until(dir_, env, lambda: len(list(dir_.glob("*.json"))) >= 2)
    kept = {p.name: p.read_bytes() for p in dir_.glob("*.json")}
    _compute_until(dir_, env)
    assert {p.name for p in dir_.glob("*.json")} == {p.name for p in ref_dir.glob("*.json")}
    for name, before in kept.items():
        assert (dir_ / name).read_bytes() == before  # nothing stored was redone
    for p in ref_dir.glob("*.json"):
        ours, ref = json.loads((dir_ / p.name).read_text()), json.loads(p.read_text())
        assert ours["metrics"] == ref["metrics"]  # interrupted twice, the same numbers as uninterrupted
    assert not list(state.glob("*.pt")) and not list(dir_.glob(".*tmp"))
    assert any(json.loads(p.read_text())["meta"]["segments"] > 1 for p in dir_.glob("*.json"))


def test_a_bad_checkpoint_interval_is_refused_before_any_compute(tmp_path, monkeypatch, no_training):
    monkeypatch.setenv("DIPBOOK_CHECKPOINT_S", "soon")
    with pytest.raises(ValueError, match="DIPBOOK_CHECKPOINT_S must be a number of seconds >= 0, got 'soon'"):
        executor.ensure(RunStore(tmp_path / "runs"), _smoke(), progress=False)


def test_a_measurement_grid_says_what_it_measured(tmp_path, capsys):
    """Issue 37, defect 14: ``compute table1`` wrote its measurements and printed '0 run(s) trained'."""
    assert main(["compute", "table1", "--protocol", "smoke", "--store", str(tmp_path / "runs"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    n = len(grids.get("table1", "fashion-mnist", "smoke"))
    assert f"0 run(s) trained and {n} measurement(s) taken by this process" in out
    assert len(list((tmp_path / "runs").glob("*.json"))) == n


@pytest.mark.parametrize("text", ["0,1", "0, 1", "[0, 1]", "0 1"])
def test_the_hint_for_a_list_given_as_text_is_a_command_that_works(text):
    """Issue 37, defect 11: ``-p seeds 0,1`` suggested ``-y "seeds: 0,1"``, which fails the same
    way. The suggested YAML now reads back as the list, which the chapter accepts."""
    import re

    import yaml

    with pytest.raises(ValueError) as e:
        chapter.check_seeds(text)
    (option,) = re.findall(r'-y "([^"]+)"', str(e.value))
    assert chapter.check_seeds(yaml.safe_load(option)["seeds"]) == (0, 1)


def test_status_names_a_damaged_run_the_grid_starts_from_and_compute_repairs_it(tmp_path, capsys):
    """Issue 37, defect 9: ``status GRID`` never looked at the pretrained runs its grid starts from;
    ``compute`` then stopped with "compute its grid first", naming neither that grid nor the store.
    Now status names the damaged ancestor (rc 3) and compute sets it aside and recomputes it first."""
    store = str(tmp_path / "runs")
    pre = grids.pretrain_spec("mlp7-linear", "fashion-mnist", "smoke")
    executor.ensure(RunStore(store), [pre], progress=False)
    RunStore(store).weights_path(spec.key(pre)).unlink()
    assert main(["status", "table3", "--protocol", "smoke", "--store", store]) == 3
    err_out = capsys.readouterr()
    assert f"a run this grid starts from: {spec.describe(pre)}" in err_out.out
    assert "damaged run file(s)" in err_out.err
    specs = [s for s in _smoke("table3") if s["start"] == spec.key(pre)][:1]
    with pytest.warns(UserWarning, match="will be recomputed"):
        (rec,) = executor.ensure(RunStore(store), specs, progress=False)
    assert rec["status"] == "ok" and RunStore(store).weights(spec.key(pre))


def test_a_chapter_of_another_checkout_says_whose_code_it_runs(tmp_path, capsys, monkeypatch):
    """Issue 37, defect 5: a chapter run from checkout B silently ran checkout A's installed
    dipcore. It now says so in its first output (editions and refresh.sh put their own checkout
    first on the kernels' path); run from its own checkout it says nothing more."""
    other = tmp_path / "other-checkout"
    (other / "dipcore").mkdir(parents=True)
    (other / "dipcore" / "__init__.py").write_text("")
    (other / "chapters").mkdir()
    assert chapter.foreign_code(other / "chapters") == ROOT
    assert chapter.foreign_code(ROOT / "chapters") is None
    assert chapter.foreign_code(tmp_path / "edition" / "source" / "chapters") is None  # not a checkout
    monkeypatch.chdir(other / "chapters")
    chapter.setup("table3", protocol="smoke", store=str(tmp_path / "runs"))
    assert f"WARNING: this chapter runs the dipcore of {ROOT}, not the one of its own checkout {other}" in \
        capsys.readouterr().out


def _one_stack():
    """The largest group of Table 3's runs at the smoke protocol that train as one stack (one
    architecture, width and length)."""
    from collections import defaultdict

    groups = defaultdict(list)
    for s in grids.get("table3", "fashion-mnist", "smoke"):
        groups[spec.stack_group(s)].append(s)
    return max(groups.values(), key=len)


def test_a_killed_stack_resumes_whatever_grouping_the_rerun_makes(tmp_path, monkeypatch):
    """Issue 37, defect 12: a stack killed part-way was resumed only if the rerun grouped its runs
    the same way; another ``--max-stack`` (or runs of the grid stored meanwhile) made other stacks
    and the checkpoint was never used. A stack whose sidecar names runs all still to do is resumed
    as it was; a sidecar without its checkpoint, or naming a run stored since, is not."""
    monkeypatch.setenv("DIPBOOK_STATE", str(tmp_path / "state"))
    runs = _one_stack()
    assert len(runs) >= 3
    killed = runs[:3]  # the stack a process with --max-stack 3 was training when it was killed
    side = executor.checkpoint_path(killed).with_suffix(".json")
    side.parent.mkdir(parents=True)
    side.write_text(json.dumps({"keys": [spec.key(s) for s in killed]}))
    executor.checkpoint_path(killed).write_bytes(b"a checkpoint")
    grouped = executor.stacks(runs, runs, max_stack=2)
    assert [spec.key(s) for s in killed] in [[spec.key(s) for s in c] for c in grouped]
    assert sorted(spec.key(s) for c in grouped for s in c) == sorted(spec.key(s) for s in runs)  # each once
    assert all(len(c) <= 2 for c in grouped if [spec.key(s) for s in c] != [spec.key(s) for s in killed])
    # one of its runs stored since (it is no longer to do): the grid's own grouping
    assert all(len(c) <= 2 for c in executor.stacks(runs[1:], runs, max_stack=2))
    executor.checkpoint_path(killed).unlink()  # no checkpoint: nothing to resume
    assert all(len(c) <= 2 for c in executor.stacks(runs, runs, max_stack=2))


def test_checkpoints_of_finished_stacks_are_swept(tmp_path, monkeypatch):
    """Issue 37, defect 12: checkpoints and sidecars stayed in ``$DIPBOOK_STATE`` after their runs
    were stored. Those whose runs are all stored go (unless a process holds a lock of theirs); the
    others stay."""
    monkeypatch.setenv("DIPBOOK_STATE", str(tmp_path / "state"))
    store = RunStore(tmp_path / "runs")
    runs = _one_stack()
    done, todo = runs[:2], runs[2:4]
    for s in done:
        store.root.mkdir(exist_ok=True)
        store.path(spec.key(s)).write_text("{}")  # stored (its content is not read here)
    for chunk in (done, todo):
        path = executor.checkpoint_path(chunk)
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"x")
        path.with_suffix(".json").write_text(json.dumps({"keys": [spec.key(s) for s in chunk]}))
    with executor.run_locks([spec.key(done[0])]):  # a live process still holds one: kept
        assert executor.sweep_finished(store) == 0 and executor.checkpoint_path(done).exists()
    assert executor.sweep_finished(store) == 1
    assert not executor.checkpoint_path(done).exists() and not executor.checkpoint_path(done).with_suffix(".json").exists()
    assert executor.checkpoint_path(todo).exists() and executor.checkpoint_path(todo).with_suffix(".json").exists()
    assert not list((tmp_path / "state").glob("*.lock"))


def test_a_failed_compute_leaves_no_empty_folder(tmp_path, monkeypatch, no_training):
    """Issue 37, defect 12: the folders a compute will write to were created when checked, so a
    compute that then failed left an empty store (and checkpoint folder) behind."""
    monkeypatch.setenv("DIPBOOK_STATE", str(tmp_path / "state"))
    with pytest.raises(AssertionError, match="computed before"):
        executor.ensure(RunStore(tmp_path / "new" / "runs"), _smoke(), progress=False)
    assert not (tmp_path / "new").exists()
    with pytest.raises(AssertionError, match="computed before"):  # a chapter's figures folder likewise
        chapter.setup("table3", protocol="smoke", compute="missing", store=str(tmp_path / "runs2"),
                      figures=str(tmp_path / "figs"))
        executor.ensure(RunStore(tmp_path / "runs2"), _smoke(), progress=False)
    assert not (tmp_path / "figs").exists() and not (tmp_path / "runs2").exists()
