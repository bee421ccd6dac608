"""The executor: dependencies resolved, a killed grid resumed with nothing lost or duplicated,
shards that split a grid, stacks in flight."""

import time

import pytest
import torch

from dipcore import train
from dipcore.book import cost, executor, grids, spec
from dipcore.book.cli import main
from dipcore.book.store import RunsMissing, RunStore


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "runs")


def _files(store):
    return sorted(p.name for p in store.root.glob("*.json"))


def _spy(monkeypatch, into: list):
    """Record the runs each trained stack holds."""
    real = executor._train_chunk
    monkeypatch.setattr(executor, "_train_chunk",
                        lambda store, chunk, *a, **k: (into.append([spec.key(s) for s in chunk]),
                                                       real(store, chunk, *a, **k)))


def test_an_empty_store_computes_the_whole_chain(store, monkeypatch):
    """A finetuning grid lists only its own runs; the pretrained run they start from is computed
    first, once (the issue's `papermill ... -p store new-store` case)."""
    specs = grids.get("table3", "fashion-mnist", "smoke")
    pre = spec.key(grids.pretrain_spec("mlp7-linear", "fashion-mnist", "smoke"))
    assert pre not in {spec.key(s) for s in specs}  # grids list their own runs only
    stacks = []
    _spy(monkeypatch, stacks)
    recs = executor.ensure(store, specs, progress=False)
    assert stacks[0] == [pre]  # the ancestor first, alone
    assert sorted(k for c in stacks[1:] for k in c) == sorted(spec.key(s) for s in specs)
    assert [r["key"] for r in recs] == [spec.key(s) for s in specs]
    assert _files(store) == sorted([f"{pre}.json"] + [f"{spec.key(s)}.json" for s in specs])


def test_a_missing_ancestor_whose_spec_is_unknown_is_a_clear_error(store):
    child = dict(grids.finetune_spec("mlp7-linear", "fashion-mnist", "smoke", 0.8, 90, 0.01, False, 0))  # plain dict
    with pytest.raises(RunsMissing, match="starts from run .* not in the store"):
        executor.ensure(store, [child], progress=False)
    assert not store.root.exists() or not _files(store)


def test_a_killed_grid_resumes_with_nothing_lost_or_duplicated(store, monkeypatch):
    specs = grids.get("table3", "fashion-mnist", "smoke")
    real = executor._train_chunk
    calls = {"n": 0}

    def dies_on_third_chunk(store, chunk, *a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # the grid is killed mid-way
        return real(store, chunk, *a, **k)

    monkeypatch.setattr(executor, "_train_chunk", dies_on_third_chunk)
    with pytest.raises(KeyboardInterrupt):
        executor.ensure(store, specs, progress=False)
    done, missing, damaged = store.status(specs)
    assert 0 < len(done) < len(specs) and not damaged
    before = {p.name: p.stat().st_mtime_ns for p in store.root.glob("*")}

    monkeypatch.setattr(executor, "_train_chunk", real)
    trained = []
    _spy(monkeypatch, trained)
    recs = executor.ensure(store, specs, progress=False)
    assert sorted(k for c in trained for k in c) == sorted(spec.key(s) for s in missing)  # only the missing
    assert all(store.root.joinpath(n).stat().st_mtime_ns == t for n, t in before.items())  # untouched
    assert len(_files(store)) == len(specs) + 1  # one file per run, and the pretrained one
    assert [r["key"] for r in recs] == [spec.key(s) for s in specs]
    assert not list(store.root.glob(".*tmp"))


def test_never_lists_what_is_missing_and_how_to_compute_it(store):
    specs = grids.get("pretrain", "fashion-mnist", "smoke")
    with pytest.raises(RunsMissing, match="4 of 4 runs") as e:
        executor.ensure(store, specs, compute="never", command_hint="python -m dipcore compute pretrain")
    assert "python -m dipcore compute pretrain" in str(e.value)
    with pytest.raises(ValueError, match="compute must be one of"):
        executor.ensure(store, specs, compute="sometimes")


def test_always_recomputes_the_runs_asked_for_but_not_their_stored_ancestors(store, monkeypatch):
    ft = grids.finetune_spec("mlp7-linear", "fashion-mnist", "smoke", 0.9, 90, 0.01, False, 0)
    executor.ensure(store, [ft], progress=False)
    stacks = []
    _spy(monkeypatch, stacks)
    executor.ensure(store, [ft], compute="always", progress=False)
    assert stacks == [[spec.key(ft)]]


def test_shards_split_a_grid_without_overlap_and_balance_its_cost(store, monkeypatch):
    specs = grids.get("table7", "fashion-mnist", "smoke")
    share = executor.shares(specs, 2)
    own = [s for s in specs if s["kind"] == "train"]
    load = [sum(executor.cost([s]) for s in own if share[spec.key(s)] == i) for i in (0, 1)]
    assert min(load) > 0.3 * max(load)  # both shards get a fair part of the work
    ancestors = [s for s in executor.closure(specs) if spec.key(s) not in {spec.key(t) for t in specs}]
    assert ancestors and all(share[spec.key(s)] == 0 for s in ancestors)  # ancestors: shard 0's

    specs = grids.get("table3", "fashion-mnist", "smoke")
    trained, real = {0: [], 1: []}, executor._train_chunk
    for i in (0, 1):  # shard 0 first: shard 1 needs the pretrained run that shard 0 computes
        got = []
        _spy(monkeypatch, got)
        executor.ensure(store, specs, progress=False, shard=(i, 2))
        trained[i] = [k for c in got for k in c]
        monkeypatch.setattr(executor, "_train_chunk", real)
    assert trained[0] and trained[1] and not set(trained[0]) & set(trained[1])
    pre = spec.key(grids.pretrain_spec("mlp7-linear", "fashion-mnist", "smoke"))
    assert sorted(trained[0] + trained[1]) == sorted([pre] + [spec.key(s) for s in specs])
    assert main(["status", "table3", "--protocol", "smoke", "--store", str(store.root), "--shard", "2/2"]) == 2


def test_a_shard_trains_an_ancestor_dealt_to_another_shard_that_no_process_is_training(store, monkeypatch):
    """Shard 1 of 2 alone (shard 0 not running this grid): it trains the pretrained run its own
    runs start from, though the deal gives it to shard 0, and none of shard 0's own runs. (Before,
    it waited for shard 0 without end.)"""
    specs = grids.get("table3", "fashion-mnist", "smoke")
    pre = spec.key(grids.pretrain_spec("mlp7-linear", "fashion-mnist", "smoke"))
    share = executor.shares(specs, 2)
    assert share[pre] == 0
    got = []
    _spy(monkeypatch, got)

    def sleep(_):
        raise AssertionError("shard 1 waited for a run no process was training")

    import types

    monkeypatch.setattr(executor, "time", types.SimpleNamespace(time=time.time, sleep=sleep))
    executor.ensure(store, specs, progress=False, shard=(1, 2))
    trained = [k for c in got for k in c]
    assert got[0] == [pre] and sorted(trained[1:]) == sorted(spec.key(s) for s in specs if share[spec.key(s)] == 1)


def test_a_shard_waits_while_another_process_trains_the_ancestor_and_then_goes_on(store, monkeypatch):
    """While another process holds the ancestor's lock (shard 0 training it), shard 1 waits; once
    the lock is let go it goes on, training the ancestor only if it is still not stored."""
    import contextlib
    import types

    specs = grids.get("table3", "fashion-mnist", "smoke")
    pre = spec.key(grids.pretrain_spec("mlp7-linear", "fashion-mnist", "smoke"))
    held = contextlib.ExitStack()
    assert held.enter_context(executor.run_locks([pre])) == [pre]  # "shard 0" holds it
    waits = []

    def sleep(_):  # instead of waiting: "shard 0" gives up its lock without storing the run
        waits.append(pre)
        held.close()
        if len(waits) > 3:
            raise AssertionError("still waiting after the lock was let go")

    monkeypatch.setattr(executor, "time", types.SimpleNamespace(time=time.time, sleep=sleep))
    got = []
    _spy(monkeypatch, got)
    executor.ensure(store, specs, progress=False, shard=(1, 2))
    trained = [k for c in got for k in c]
    assert waits == [pre] and trained.count(pre) == 1  # waited once (its scratch runs trained meanwhile), then took it over
    assert [pre] in got[1:]  # not before the lock was let go


def test_without_waiting_a_process_leaves_what_another_trains_to_it(store, monkeypatch):
    """``wait=False`` (``compute --no-wait``): while another process holds the pretrained run's lock,
    this one trains what it can (the scratch runs), leaves that run and every run that starts from
    it, never sleeps, and returns their records as None; the CLI takes the flag."""
    import contextlib
    import types

    specs = grids.get("table3", "fashion-mnist", "smoke")
    pre = spec.key(grids.pretrain_spec("mlp7-linear", "fashion-mnist", "smoke"))

    def sleep(_):
        raise AssertionError("waited though told not to")

    monkeypatch.setattr(executor, "time", types.SimpleNamespace(time=time.time, sleep=sleep))
    got = []
    _spy(monkeypatch, got)
    with contextlib.ExitStack() as held:
        assert held.enter_context(executor.run_locks([pre])) == [pre]  # "another process" trains it
        report = {}
        out = executor.ensure(store, specs, progress=False, wait=False, report=report)
    trained = [k for c in got for k in c]
    finetuned = [s for s in specs if s["start"] == pre]
    assert pre not in trained and finetuned and not {spec.key(s) for s in finetuned} & set(trained)
    assert report["trained"] == len(trained) == len(specs) - len(finetuned)  # the scratch runs
    assert [r is None for r in out] == [s["start"] == pre for s in specs]
    assert not store.path(pre).exists()
    monkeypatch.setattr(executor, "ensure", lambda *a, **k: got.append(k["wait"]) or [])
    main(["compute", "table3", "--protocol", "smoke", "--store", str(store.root), "--no-wait", "--no-progress"])
    assert got[-1] is False


def test_status_shows_stacks_in_flight(store, monkeypatch):
    """A stack killed part-way is found in flight with the epoch, time and pace of its checkpoint;
    killed again in a second session, its checkpoint tells that session's pace apart from the
    overall one (``Flight.latest``), and ``status`` times it at the latest."""
    pre = grids.pretrain_spec("mlp7-relu", "fashion-mnist", "smoke")
    short = spec.Spec(pre, epochs=3, schedule="0:0.01")
    real_stats, calls = train.jsv_stats, {"n": 0, "die_at": 3}

    def dies(sv):
        calls["n"] += 1
        if calls["n"] == calls["die_at"]:
            raise KeyboardInterrupt
        return real_stats(sv)

    monkeypatch.setattr(train, "jsv_stats", dies)
    monkeypatch.setenv("DIPBOOK_CHECKPOINT_S", "0")  # a checkpoint at every epoch
    with pytest.raises(KeyboardInterrupt):  # epoch 0 and 1 logged (and 1 saved), then killed
        executor.ensure(store, [short], progress=False)
    flight, = executor.in_flight(store, [short])
    assert flight.epoch == 1 and flight.specs[0]["net"] == "mlp7-relu" and flight.wall_s > 0
    assert flight.latest == (1, flight.wall_s)  # one session: its pace is the overall one
    assert abs(flight.saved - time.time()) < 600
    flight, = executor.in_flight(store, [short], max_stack=1)  # found whatever max_stack says
    assert cost.flight(flight).startswith("1 x mlp7-relu r=0 at epoch 1/3 (saved ")
    assert "so far" in cost.flight(flight) and "latest" not in cost.flight(flight)
    # the process that saved it is gone: the checkpoint waits, and status says no one trains it
    assert flight.training is False and cost.flight(flight).endswith("; no process is training it: "
                                                                   "computing its grid resumes it from this checkpoint")
    with executor.run_locks([spec.key(short)]) as taken:  # as a process training it holds it
        assert taken == [spec.key(short)]
        flight, = executor.in_flight(store, [short])
        assert flight.training is True and cost.flight(flight).endswith("; a process is training it now")
    stale = executor.inflight_dir() / f"{spec.key(short)}.lock"
    stale.touch()  # a lock file no process holds (an old executor's): not training, and swept
    assert executor.in_flight(store, [short])[0].training is False and not stale.exists()

    first_wall = flight.wall_s
    calls.update(n=0, die_at=2)  # resumes at epoch 1, logs (and saves) epoch 2, killed logging 3
    with pytest.raises(KeyboardInterrupt):
        executor.ensure(store, [short], progress=False)
    flight, = executor.in_flight(store, [short])
    assert flight.epoch == 2 and flight.latest[0] == 1
    assert flight.latest[1] == pytest.approx(flight.wall_s - first_wall) and flight.latest[1] > 0
    assert "CPU-seconds per epoch since it last resumed (" in cost.flight(flight)  # its CPU time was kept
    assert 0 < flight.latest_cpu_s < flight.cpu_s and flight.device == "cpu" and flight.trainer == "stacked-mlp"

    monkeypatch.setattr(train, "jsv_stats", real_stats)
    rec, = executor.ensure(store, [short], progress=False)  # resumes
    assert rec["meta"]["segments"] == 3 and rec["meta"]["wall_s"] > 0 and rec["meta"]["cpu_s"] > 0
    assert not executor.in_flight(store, [short])


def test_command_line(tmp_path, capsys):
    args = ["--protocol", "smoke", "--store", str(tmp_path), "--no-progress"]
    assert main(["compute", "pretrain", *args]) == 0
    assert main(["status", "pretrain", *args]) == 0
    out = capsys.readouterr().out
    assert "grid pretrain (mnist, smoke): 4 runs, 4 stored, 0 missing" in out  # MNIST, the book's, unless --dataset says
    assert main(["list", "table3", *args]) == 0
    out = capsys.readouterr().out
    assert "18 missing" in out and "mlp7-linear r=0.8 from" in out
    assert main(["status", "table3", "--dataset", "cifar", *args]) == 2
    assert "unknown dataset" in capsys.readouterr().err
    assert main(["status", "table3", "--max-stack", "0", *args]) == 2
    assert "--max-stack must be at least 1" in capsys.readouterr().err
    assert main(["compute", "table3", "--threads", "0", *args]) == 2
    assert "--threads must be at least 1" in capsys.readouterr().err
    assert main(["compute", "table3", "--device", "gpu", *args]) == 2
    assert "device must be 'auto', 'cpu' or 'cuda[:i]', got 'gpu'" in capsys.readouterr().err
    assert len(list(tmp_path.glob("*.json"))) == 4  # nothing computed by the refused commands


def test_a_run_records_the_layout_it_was_trained_in(store):
    """A LeNet-5 pruned at 0.9 (one channel in its first convolution), trained on the CPU, says in
    its meta that its convolutions saw channels-last inputs, as does the dense LeNet-5 it starts
    from, computed first (the written-out path's layout at every width), not an MLP; each names the
    path its steps took (``train.trainer_for``), and a run on vmap says nothing of one."""
    child = grids.finetune_spec("lenet5-relu", "fashion-mnist", "smoke", 0.9, 90, 0.01, False, 0)
    mlp = grids.pretrain_spec("mlp7-linear", "fashion-mnist", "smoke")
    pruned, dense_mlp = executor.ensure(store, [child, mlp], progress=False)
    assert pruned["meta"]["conv_input"] == "channels_last"
    assert "conv_input" not in dense_mlp["meta"]
    assert dense_mlp["meta"]["trainer"] == "stacked-mlp" and pruned["meta"]["trainer"].startswith("stacked-conv")  # issue 36
    dense = store.get(grids.pretrain_spec("lenet5-relu", "fashion-mnist", "smoke"))
    assert dense["meta"]["conv_input"] == "channels_last" and dense["meta"]["trainer"].startswith("stacked-conv")


def test_the_shard_deal_costs_a_run_by_its_network_and_pruning_ratio():
    """Every grid deals out, the residual network's included (a cost for each family; an unknown
    one costs as MLP-7), and a run's cost falls with its pruning ratio, as the stored runs' speed
    does (LeNet-5-ReLU, §3.4: 9.5 thread-seconds per run-epoch at ratio 0.1, 1.6 at 0.95)."""
    def run(net, ratio):
        return [{"net": net, "ratio": ratio, "epochs": 90}]

    for name in ("value", "value_resnet"):
        specs = grids.get(name, "fashion-mnist", "paper")
        share = executor.shares(specs, 2, max_stack=9)
        load = [sum(executor.cost([s]) for s in specs if s["kind"] == "train" and share[spec.key(s)] == i)
                for i in (0, 1)]
        assert min(load) > 0.8 * max(load), (name, load)
    for net in ("mlp7-relu", "lenet5-relu", "resnet20"):
        costs = [executor.cost(run(net, r)) for r in (0.0, 0.1, 0.5, 0.9, 0.95)]
        assert costs == sorted(costs, reverse=True) and costs[-1] > 0
    assert 2 < executor.cost(run("lenet5-relu", 0.1)) / executor.cost(run("lenet5-relu", 0.95)) < 6
    assert executor.cost(run("resnet20", 0.5)) > 10 * executor.cost(run("lenet5-relu", 0.5))
    assert executor.cost(run("vgg11", 0.5)) == executor.cost(run("mlp7-relu", 0.5))
    assert executor.cost(run("lenet5-relu", 0.9) * 3) == 3 * executor.cost(run("lenet5-relu", 0.9))


def test_status_times_a_stack_in_flight_at_its_own_pace():
    """``status`` says when a stack in flight will be done at the pace its checkpoint records:
    10 runs of 900 epochs at epoch 300 after 6000 s of training: 20 s per epoch, 600 epochs left,
    so 12 000 s, 3.3 h. Before its first epoch is saved there is no pace to tell. A stack resumed in
    a later session is timed at that session's pace (the machine or its load may have changed)."""
    s = spec.Spec(grids.pretrain_spec("lenet5-relu", "fashion-mnist", "paper"), epochs=900, ratio=0.9,
                  schedule="0:0.01,300:0.001,600:0.0001")
    now = time.time()
    line = cost.flight(executor.Flight([s] * 10, 300, now, 6000.0))
    assert line.startswith("10 x lenet5-relu r=0.9 at epoch 300/900 (saved " + time.strftime("%H:%M)", time.localtime(now)))
    before = time.time() - 2 * 86400  # saved in an earlier session: its date is said too
    assert f"(saved {time.strftime('%Y-%m-%d %H:%M', time.localtime(before))})" in \
        cost.flight(executor.Flight([s] * 10, 300, before, 6000.0))
    assert line.endswith("; 20.0 s per epoch so far, so about 3.3 h of training left at that pace")
    assert "pace" not in cost.flight(executor.Flight([s], 0, time.time(), 0.0))
    assert cost.flight(executor.Flight([s], 890, time.time(), 890 * 20.0)).endswith("about 3 min of training left at that pace")
    # resumed: 100 epochs in 1500 s since it last resumed, 15 s per epoch: 600 x 15 s = 2.5 h
    line = cost.flight(executor.Flight([s] * 10, 300, time.time(), 6000.0, (100, 1500.0)))
    assert line.endswith("; 15.0 s per epoch since it last resumed (20.0 over all), "
                         "so about 2.5 h of training left at that pace")
    # a last resumption that covers every epoch, or none yet: the overall pace, said as before
    for latest in ((300, 6000.0), (0, 0.0), None):
        assert cost.flight(executor.Flight([s] * 10, 300, time.time(), 6000.0, latest)).endswith(
            "; 20.0 s per epoch so far, so about 3.3 h of training left at that pace")


def test_a_deadline_leaves_the_stacks_that_would_not_finish_by_it(store, monkeypatch, capsys):
    """``deadline`` (``compute --until``): a stack whose estimate runs past it is left untrained, and
    every run that starts from it with it; the stacks that fit are trained; a stack with no
    estimate (no stored run to time it by) is trained. The CLI parses the time and passes it on."""
    specs = grids.get("table3", "fashion-mnist", "smoke")
    pre = spec.key(grids.pretrain_spec("mlp7-linear", "fashion-mnist", "smoke"))
    seen = []
    monkeypatch.setattr(executor, "stack_seconds",
                        lambda chunk, *a: seen.append(len(chunk)) or (3600.0 if spec.key(chunk[0]) == pre else None))
    got = []
    _spy(monkeypatch, got)
    report = {}
    out = executor.ensure(store, specs, progress=False, report=report, deadline=time.time() + 60)
    trained = [k for c in got for k in c]
    finetuned = {spec.key(s) for s in specs if s["start"] == pre}
    assert pre not in trained and finetuned and not finetuned & set(trained)
    assert report["trained"] == len(trained) == len(specs) - len(finetuned)  # the scratch runs, not timed
    assert [r is None for r in out] == [spec.key(s) in finetuned for s in specs]
    assert "1 run(s) left untrained: their stacks would not finish by" in capsys.readouterr().err
    assert seen  # every stack was asked for its estimate before training
    calls = []
    monkeypatch.setattr(executor, "ensure", lambda *a, **k: calls.append(k["deadline"]) or [])
    args = ["compute", "table3", "--protocol", "smoke", "--store", str(store.root), "--no-progress"]
    assert main(args + ["--until", "23:59"]) == 0 and 0 < calls[-1] - time.time() <= 24 * 3600
    assert "stacks that would not finish by" in capsys.readouterr().out  # the moment it read, named
    assert main(args + ["--until", "24:00"]) == 2
    assert "--until takes a time of day as HH:MM" in capsys.readouterr().err
    assert main(args + ["--until", "2020-01-01 00:00"]) == 2 and not calls[1:]  # passed: nothing computed
    assert "has passed" in capsys.readouterr().err
    assert main(args) == 0 and calls[-1] is None


def test_until_names_the_next_such_time_of_day():
    import datetime as dt
    from dipcore.book.cli import until

    now = dt.datetime(2026, 12, 6, 22, 50).timestamp()
    assert until("23:30", now) - now == 40 * 60
    assert until("01:30", now) - now == (2 * 60 + 40) * 60  # tomorrow's
    assert until("22:50", now) - now == 24 * 3600  # now is not "by now"
    for bad in ("1:3", "25:00", "0130", "ab:cd", "", "2026-13-01 01:30", "tomorrow 01:30", "2026-12-07 1:3"):
        with pytest.raises(ValueError, match="HH:MM"):
            until(bad, now)


def test_until_with_a_date_names_one_moment_and_refuses_a_past_one():
    """A queue passes one deadline to each of its commands: given with its date, a command started
    after it is refused (it read "tomorrow's" as HH:MM, and trained through the next day)."""
    import datetime as dt
    from dipcore.book.cli import until

    now = dt.datetime(2026, 12, 6, 22, 50).timestamp()
    assert until("2026-12-07 01:30", now) - now == (2 * 60 + 40) * 60
    assert until("2026-12-06T23:00", now) - now == 10 * 60
    for past in ("2026-12-06 22:50", "2026-12-06 07:15"):
        with pytest.raises(ValueError, match="has passed"):
            until(past, now)


def test_a_stacks_estimate_counts_the_epochs_its_checkpoint_has_left(store, monkeypatch, tmp_path):
    """``stack_seconds``: the stack's thread-seconds at the stored runs' speed (the sum of its runs'
    shares, ``cost.estimate``) over its threads, for the epochs after its checkpoint's; at its own
    pace where its checkpoint kept its CPU time."""
    monkeypatch.setenv("DIPBOOK_STATE", str(tmp_path / "state"))
    executor.ensure(store, [grids.pretrain_spec("mlp7-linear", "fashion-mnist", "smoke")], progress=False)
    train_ = [s for s in grids.get("table3", "fashion-mnist", "smoke") if s["kind"] == "train"]
    chunk = [s for s in train_ if s["epochs"] == train_[0]["epochs"]][:3]  # one stack: one length
    epochs = chunk[0]["epochs"]
    rate = cost.rates(store.read_all()[0])["cpu", "mlp7-linear", 0.0]
    cpu = torch.device("cpu")
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    assert executor.stack_seconds(chunk, store, cpu) == pytest.approx(3 * rate * epochs)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    assert executor.stack_seconds(chunk, store, cpu) == pytest.approx(3 * rate * epochs / 2)
    path = executor.checkpoint_path(chunk)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"epoch": epochs - 1}, path)
    assert executor.stack_seconds(chunk, store, cpu) == pytest.approx(3 * rate * 1 / 2)
    # a checkpoint that kept its CPU time: the stack's own pace (10 CPU-seconds an epoch), not the store's
    torch.save({"epoch": epochs - 1, "cpu_s": 10.0 * (epochs - 1)}, path)
    assert executor.stack_seconds(chunk, store, cpu) == pytest.approx(10.0 * 1 / 2)
    assert executor.stack_seconds(chunk, RunStore(tmp_path / "empty"), cpu) == pytest.approx(5.0)
    path.unlink()

    assert executor.stack_seconds(chunk, RunStore(tmp_path / "empty"), cpu) is None  # nothing to time it by


def test_a_deadline_is_reported_also_when_a_process_leaves_runs_to_another(store, monkeypatch, capsys):
    """With ``wait=False`` the process returns as soon as only runs another process holds remain:
    what the deadline left is still said."""
    import contextlib

    specs = grids.get("table3", "fashion-mnist", "smoke")
    pre = spec.key(grids.pretrain_spec("mlp7-linear", "fashion-mnist", "smoke"))
    scratch = [s for s in specs if s["start"] == "scratch"]
    monkeypatch.setattr(executor, "stack_seconds", lambda chunk, *a: 3600.0 if spec.key(chunk[0]) == pre else None)
    with contextlib.ExitStack() as held:
        assert held.enter_context(executor.run_locks([spec.key(scratch[0])])) == [spec.key(scratch[0])]
        executor.ensure(store, specs, progress=False, wait=False, deadline=time.time() + 60)
    err = capsys.readouterr().err
    assert "(--no-wait)" in err and "1 run(s) left untrained: their stacks would not finish by" in err
