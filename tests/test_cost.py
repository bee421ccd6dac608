"""What a grid's missing runs will cost (``dipcore.book.cost``), from the stored runs' speed."""
import pytest

from dipcore.book import cost
from dipcore.book.spec import key


def _rec(net, ratio, epochs, wall_s, stacked_with=1, threads=1, device="cpu: AMD EPYC (2 cores)", kind="train",
         conv_input=None, trainer=None, cpu_s=None):
    meta = {"wall_s": wall_s, "stacked_with": stacked_with, "threads": threads, "device": device} | \
        ({"cpu_s": cpu_s} if cpu_s is not None else {})
    return {"spec": {"kind": kind, "net": net, "ratio": ratio, "epochs": epochs},
            "meta": meta | ({"conv_input": conv_input} if conv_input else {}) | ({"trainer": trainer} if trainer else {})}


def _spec(net, ratio, epochs, kind="train"):
    return {"kind": kind, "net": net, "ratio": ratio, "epochs": epochs}


def test_a_missing_run_costs_its_epochs_at_its_networks_nearest_stored_ratio():
    records = [
        _rec("lenet5-relu", 0.9, 10, 100.0, stacked_with=5),  # 2 s per run-epoch
        _rec("lenet5-relu", 0.9, 10, 140.0, stacked_with=5),  # 2.8: the median of the two is 2.4
        _rec("lenet5-relu", 0.0, 10, 50.0, threads=2),  # 10 thread-seconds per run-epoch
        _rec("lenet5-relu", 0.9, 10, 1.0, device="cuda: NVIDIA H100"),  # a GPU's speed is not a CPU's
        _rec("lenet5-relu", 0.9, 10, 1.0, kind="jsv"),  # a measurement is not a training run
    ]
    rate = cost.rates(records)
    assert rate["cpu", "lenet5-relu", 0.9] == pytest.approx(2.4)
    assert rate["cpu", "lenet5-relu", 0.0] == pytest.approx(10.0)
    assert rate["gpu", "lenet5-relu", 0.9] == pytest.approx(0.1)
    missing = [_spec("lenet5-relu", 0.7, 100), _spec("lenet5-relu", 0.1, 10), _spec("mlp7-relu", 0.9, 90),
               _spec("lenet5-relu", 0.9, 1, kind="jsv")]
    hours, costed, total = cost.estimate(missing, rate)
    assert (costed, total) == (2, 3)  # no MLP-7-ReLU run is stored; a measurement is not costed
    wider = cost.width_scale(missing[0], 0.9)  # 0.7's network is wider than 0.9's: scaled up by the FLOPs
    assert wider == pytest.approx(74 / 48, rel=0.02)  # LeNet-5: 0.074 against 0.048 MFLOP an example
    assert cost.width_scale(missing[1], 0.0) == 1.0  # from a wider network: unscaled
    assert hours == pytest.approx((2.4 * wider * 100 + 10.0 * 10) / 3600)
    assert cost.estimate(missing, rate, "gpu")[:2] == (pytest.approx(0.1 * 110 / 3600), 2)  # a GPU's: unscaled
    line = cost.describe(missing, records)
    assert "about 0.1 thread-hours on a CPU (2 of 3 runs costed; " in line and "hours on a GPU" in line
    assert cost.describe([_spec("resnet20", 0.5, 90)], records) == \
        "  missing runs: not costed, no stored run of resnet20 to time them by (90 epochs of training in all; " \
        "benchmarks/bench_engine.py --nets resnet20 times an epoch on this machine)"  # said, with the work's size
    assert "(50 epochs of training in all;" in cost.describe([_spec("resnet20", 0.5, 90)], records,
                                                             done={key(_spec("resnet20", 0.5, 90)): 40})
    assert cost.describe([_spec("lenet5-relu", 0.9, 1, kind="jsv")], records) is None  # no training run: nothing to say


def test_a_rate_scaled_up_from_a_narrower_network_stops_at_a_stored_wider_networks():
    """ResNet-20 timed dense and at 0.9 (``value_resnet_pace``): its 0.5 and 0.7 lie nearer 0.9, whose
    rate scaled by the FLOPs (5.5x at 0.5) would pass the dense network's; the dense rate caps them.
    Where no wider network is stored, the FLOPs alone scale it."""
    rate = cost.rates([_rec("resnet20", 0.0, 1, 444.0, cpu_s=444.0), _rec("resnet20", 0.9, 1, 269.0, cpu_s=269.0)])
    at = {r: cost._rate_for(_spec("resnet20", r, 1), rate, "cpu") for r in (0.1, 0.5, 0.7, 0.9, 0.95)}
    assert at[0.1] == pytest.approx(444.0) and at[0.9] == at[0.95] == pytest.approx(269.0)
    assert cost.width_scale(_spec("resnet20", 0.5, 1), 0.9) > 444 / 269  # uncapped, 0.5 would cost more than dense
    assert at[0.5] == pytest.approx(444.0)
    scale7 = cost.width_scale(_spec("resnet20", 0.7, 1), 0.9)
    assert at[0.7] == pytest.approx(min(269.0 * scale7, 444.0))
    narrow = cost.rates([_rec("resnet20", 0.9, 1, 269.0, cpu_s=269.0)])
    assert cost._rate_for(_spec("resnet20", 0.5, 1), narrow, "cpu") == pytest.approx(
        269.0 * cost.width_scale(_spec("resnet20", 0.5, 1), 0.9))


def test_a_pages_sentence_costs_what_it_can_and_names_what_it_cannot():
    """``cost.sentence``, the end of a page's sentence on missing runs: hours of one CPU thread (and
    of a GPU where GPU runs are stored) at the stored runs' speed, or, where no run of their network
    is stored, that they are not costed and which networks no run times."""
    records = [_rec("lenet5-relu", 0.9, 10, 100.0, stacked_with=5),  # 2 thread-seconds per run-epoch
               _rec("lenet5-relu", 0.9, 10, 10.0, stacked_with=5, device="cuda: H100")]  # 0.2 on a GPU
    missing = [_spec("lenet5-relu", 0.9, 3600) for _ in range(3)] + [_spec("resnet20", 0.5, 90)]
    line = cost.sentence(missing, records)
    assert line.startswith("would take about 6 hours of one CPU thread at the speed of the stored runs")
    assert line.endswith(", 3 of 4 costed; about 0.6 hours on a GPU (3 of 4 costed)")
    assert cost.sentence(missing[3:], records) == ("are not costed: no stored run of ResNet-20 to time them by "
                                                   "(90 epochs of training in all)")
    assert "(1,090 epochs of training in all)" in cost.sentence(missing[3:] + [_spec("resnet20", 0.9, 1000)], records)
    assert cost.sentence(missing[:1], records[:1]).startswith("would take about 2 hours of one CPU thread")
    assert cost.sentence([_spec("lenet5-relu", 0.9, 100)], records[:1]).startswith(  # 200 s: not "about 0 hours"
        "would take under an hour of one CPU thread")


def test_where_runs_were_trained_channels_last_only_those_set_the_rate():
    """LeNet-5-Linear at ratio 0.9: two stacks stored from before the channels-last layout (3.8
    thread-seconds per run-epoch) and one trained in it (2.0): today's engine trains a missing run
    in that layout, so it costs 2.0, not the median of all three (3.8). A ratio with no
    channels-last run keeps the median of all its runs."""
    old = [_rec("lenet5-linear", 0.9, 90, 3.8 * 90 * 5, stacked_with=5) for _ in range(2)]
    new = _rec("lenet5-linear", 0.9, 900, 2.0 * 900 * 10, stacked_with=10, conv_input="channels_last")
    rate = cost.rates(old + [new, _rec("lenet5-linear", 0.0, 10, 200.0), _rec("lenet5-linear", 0.0, 10, 100.0)])
    assert rate["cpu", "lenet5-linear", 0.9] == pytest.approx(2.0)
    assert rate["cpu", "lenet5-linear", 0.0] == pytest.approx(15.0)
    assert cost.rates(old)["cpu", "lenet5-linear", 0.9] == pytest.approx(3.8)  # before any channels-last run
    hours, _, _ = cost.estimate([_spec("lenet5-linear", 0.9, 900)] * 20, rate)
    assert hours == pytest.approx(2.0 * 900 * 20 / 3600)  # 10 thread-hours, not 19


def test_where_mlp_runs_took_the_written_out_steps_only_those_set_the_rate():
    """Issue 36: MLP-7-ReLU at 0.9, two stacks stored by the vmap path (0.9 thread-seconds per
    run-epoch) and one by ``stacked_layers`` (0.35): a missing run costs 0.35."""
    old = [_rec("mlp7-relu", 0.9, 90, 0.9 * 90 * 10, stacked_with=10) for _ in range(2)]
    new = _rec("mlp7-relu", 0.9, 90, 0.35 * 90 * 5, stacked_with=5, trainer="stacked-mlp")
    assert cost.rates(old + [new])["cpu", "mlp7-relu", 0.9] == pytest.approx(0.35)
    assert cost.rates(old)["cpu", "mlp7-relu", 0.9] == pytest.approx(0.9)
    step = _rec("mlp7-relu", 0.9, 90, 0.12 * 90 * 10, stacked_with=10, trainer="stacked-mlp-kernel")  # C++ step
    assert cost.rates(old + [new, step])["cpu", "mlp7-relu", 0.9] == pytest.approx(0.12)


def test_the_newest_path_sets_the_rate_written_out_layers_over_channels_last_over_older():
    """Issue 36: LeNet-5-ReLU at 0.9 stored by vmap (2.4 thread-seconds per run-epoch), by vmap with
    channels-last convolutions (1.7), by the written-out layers (1.0) and with the C++ kernel (0.6):
    each newer path, once stored, alone sets the rate."""
    old = _rec("lenet5-relu", 0.9, 90, 2.4 * 90)
    last = _rec("lenet5-relu", 0.9, 90, 1.7 * 90, conv_input="channels_last")
    new = _rec("lenet5-relu", 0.9, 90, 1.0 * 90, conv_input="channels_last", trainer="stacked-conv")
    kernel = _rec("lenet5-relu", 0.9, 90, 0.6 * 90, conv_input="channels_last", trainer="stacked-conv-kernel")
    assert cost.rates([old])["cpu", "lenet5-relu", 0.9] == pytest.approx(2.4)
    assert cost.rates([old, last])["cpu", "lenet5-relu", 0.9] == pytest.approx(1.7)
    assert cost.rates([old, last, new])["cpu", "lenet5-relu", 0.9] == pytest.approx(1.0)
    assert cost.rates([kernel, old, last, new])["cpu", "lenet5-relu", 0.9] == pytest.approx(0.6)
    both = _rec("lenet5-relu", 0.9, 90, 0.5 * 90, conv_input="channels_last", trainer="stacked-conv2-kernel")
    assert cost.rates([kernel, both, old])["cpu", "lenet5-relu", 0.9] == pytest.approx(0.5)


def test_a_run_part_way_through_training_costs_only_the_epochs_it_has_left():
    """``status`` deducts what in-flight checkpoints have trained: 9 runs 3 epochs from their end
    cost 3 epochs each, not their whole schedule."""
    from dipcore.book import spec

    records = [_rec("lenet5-relu", 0.5, 10, 70.0)]  # 7 thread-seconds per run-epoch
    flying = [_spec("lenet5-relu", 0.5, 90) | {"seed": i} for i in range(9)]
    waiting = _spec("lenet5-relu", 0.5, 20)
    done = {spec.key(s): 87 for s in flying}
    hours, costed, total = cost.estimate(flying + [waiting], cost.rates(records), done=done)
    assert (costed, total) == (10, 10)
    assert hours == pytest.approx(7.0 * (9 * 3 + 20) / 3600)
    assert cost.estimate(flying, cost.rates(records))[0] == pytest.approx(7.0 * 9 * 90 / 3600)  # nothing deducted
    assert cost.estimate(flying[:1], cost.rates(records), done={spec.key(flying[0]): 95})[0] == 0.0  # never negative
    assert "about 0.1 thread-hours" in cost.describe(flying + [waiting], records, done)


def test_a_runs_cpu_time_sets_its_rate_where_it_was_measured():
    """A stack trained beside other work, or paused, took longer than it cost: its CPU time (every
    thread's, so not multiplied by the threads) is the rate; without one, wall time times threads."""
    paused = _rec("mlp7-linear", 0.9, 10, 400.0, stacked_with=4, threads=2, cpu_s=100.0)
    assert cost.thread_seconds(paused["meta"]) == pytest.approx(25.0)
    assert cost.thread_seconds(_rec("mlp7-linear", 0.9, 10, 400.0, stacked_with=4, threads=2)["meta"]) == 200.0
    gpu = _rec("mlp7-linear", 0.9, 10, 40.0, stacked_with=4, threads=16, device="cuda: H100", cpu_s=500.0)
    assert cost.thread_seconds(gpu["meta"]) == 10.0  # a GPU's cost is its wall time, not its host's CPU time
    assert cost.rates([paused])["cpu", "mlp7-linear", 0.9] == pytest.approx(2.5)


def test_among_runs_of_the_newest_path_those_with_cpu_time_set_the_rate():
    """Two MLP-7-ReLU stacks on the C++ step: one stored before CPU time was kept, paused for a
    while (its wall time reads 0.3 thread-seconds per run-epoch), one with its CPU time (0.1): the
    measured one sets the rate; alone, the unmeasured one still does."""
    paused = _rec("mlp7-relu", 0.9, 90, 0.3 * 90 * 10, stacked_with=10, trainer="stacked-mlp-kernel")
    measured = _rec("mlp7-relu", 0.9, 90, 0.5 * 90 * 10, stacked_with=10, trainer="stacked-mlp-kernel",
                    cpu_s=0.1 * 90 * 10)
    assert cost.rates([paused, measured])["cpu", "mlp7-relu", 0.9] == pytest.approx(0.1)
    assert cost.rates([paused])["cpu", "mlp7-relu", 0.9] == pytest.approx(0.3)
    older = _rec("mlp7-relu", 0.9, 90, 1.0 * 90, cpu_s=0.9 * 90)  # measured, but on vmap: a newer path wins
    assert cost.rates([older, paused])["cpu", "mlp7-relu", 0.9] == pytest.approx(0.3)


def _flight(specs, epoch, wall_s, cpu_s=None, latest=None, latest_cpu_s=None, trainer="stacked-mlp-kernel",
            device="cpu"):
    from dipcore.book.executor import Flight

    return Flight(specs, epoch, 0.0, wall_s, latest, cpu_s, latest_cpu_s, trainer, device)


def test_a_stack_in_flight_is_timed_by_its_cpu_time_where_its_checkpoint_kept_it():
    """20 runs 100 epochs into 900, paused half the time: 10 s of wall time but 2 CPU-seconds an
    epoch; the line says CPU time (800 epochs x 2 s = 27 min), and, resumed, the pace since then."""
    specs = [_spec("mlp7-linear", 0.8, 900) | {"seed": i} for i in range(20)]
    line = cost.flight(_flight(specs, 100, 1000.0, cpu_s=200.0))
    assert "2.0 CPU-seconds per epoch so far, so about 27 min of CPU time left" in line
    assert "10.0 s per epoch so far, so about 2.2 h of training left" in cost.flight(_flight(specs, 100, 1000.0))
    resumed = _flight(specs, 100, 1000.0, cpu_s=200.0, latest=(40, 900.0), latest_cpu_s=60.0)
    assert "1.5 CPU-seconds per epoch since it last resumed (2.0 over all), so about 20 min" in cost.flight(resumed)
    older = _flight(specs, 100, 1000.0, cpu_s=200.0, latest=(40, 900.0))  # CPU time, not where its session began
    assert "2.0 CPU-seconds per epoch so far" in cost.flight(older)


def test_a_stack_in_flight_on_a_cpu_sets_the_rate_of_its_path_before_its_first_run_lands():
    """MLP-7-Linear at 0.8: only written-out-layer runs stored (0.8 thread-seconds per run-epoch,
    wall time); a stack of 20 in flight on the C++ step, 50 epochs at 3 CPU-seconds each (0.15 per
    run-epoch): a missing run costs 0.15. Not a GPU's flight, nor one without CPU time."""
    stored = [_rec("mlp7-linear", 0.8, 90, 0.8 * 90 * 10, stacked_with=10, trainer="stacked-mlp")]
    specs = [_spec("mlp7-linear", 0.8, 900) | {"seed": i} for i in range(20)]
    flying = _flight(specs, 50, 500.0, cpu_s=150.0)
    missing = [_spec("mlp7-linear", 0.8, 900) | {"seed": 99}]
    assert cost.rates(stored + cost.flight_records([flying]))["cpu", "mlp7-linear", 0.8] == pytest.approx(0.15)
    assert cost.estimate(missing, cost.rates(stored + cost.flight_records([flying])))[0] == pytest.approx(0.15 * 900 / 3600)
    assert cost.describe(missing, stored, flights=[flying]).endswith("the stored runs' speed and those in flight")
    assert cost.describe(missing, stored).endswith("the stored runs' speed")
    for other in (_flight(specs, 50, 500.0, cpu_s=150.0, device="cuda:0"), _flight(specs, 50, 500.0)):
        assert cost.flight_records([other]) == []
        assert cost.rates(stored + cost.flight_records([other]))["cpu", "mlp7-linear", 0.8] == pytest.approx(0.8)


def test_a_missing_run_costs_at_the_rate_of_the_path_it_will_take():
    """MLP-7-Linear (robustness_900 on MNIST): its ratio-0.9 runs were all stored by the written-out
    layers (0.71 thread-seconds per run-epoch), while the C++ step it now takes at 0.9 (10 units a
    layer) has stored runs at 0.8 only (0.135): a missing run at 0.9 costs 0.135, not 0.71. A
    run whose path has no stored rate (LeNet-5 at 0.1, on the first layer's kernel) keeps its own
    ratio's rate; one whose spec cannot be built is costed as before."""
    old = _rec("mlp7-linear", 0.9, 900, 0.71 * 900 * 20, stacked_with=20, trainer="stacked-mlp")
    new = _rec("mlp7-linear", 0.8, 900, 9e9, stacked_with=20, trainer="stacked-mlp-kernel", cpu_s=0.135 * 900 * 20)
    rate = cost.rates([old, new])
    assert (rate["cpu", "mlp7-linear", 0.9].generation, rate["cpu", "mlp7-linear", 0.8].generation) == (2, 3)
    assert cost.path_generation(_spec("mlp7-linear", 0.9, 900)) == 3
    assert cost.path_generation(_spec("mlp7-linear", 0.0, 90)) == 2  # dense: 100 units, the written-out layers
    assert cost.path_generation(_spec("lenet5-relu", 0.1, 90)) == 3 and cost.path_generation(_spec("lenet5-relu", 0.9, 90)) == 4
    hours, costed, _ = cost.estimate([_spec("mlp7-linear", 0.9, 900)] * 20, rate)
    assert costed == 20 and hours == pytest.approx(0.135 * 900 * 20 / 3600)
    assert cost.estimate([_spec("mlp7-linear", 0.9, 900)], rate, "gpu")[1] == 0  # no GPU rate: not costed
    lenet = cost.rates([_rec("lenet5-relu", 0.1, 10, 100.0), _rec("lenet5-relu", 0.9, 10, 5.0, cpu_s=5.0,
                                                                  trainer="stacked-conv2-kernel")])
    assert cost.estimate([_spec("lenet5-relu", 0.1, 10)], lenet)[0] == pytest.approx(100.0 / 3600)
    assert cost.path_generation({"kind": "train", "net": "no-such-net", "epochs": 1}) is None


def test_runs_costed_at_an_older_paths_rate_are_counted_and_said():
    """LeNet-5-ReLU at 0.1 will train on the first layer's kernel (generation 3) while its only stored
    rate is from vmap (generation 0): it is counted, and status says the estimate is likely high.
    A run whose path set its rate is not counted, nor one whose network has no stored run."""
    records = [_rec("lenet5-relu", 0.1, 10, 125.0),  # 12.5 s per run-epoch, vmap
               _rec("mlp7-linear", 0.8, 10, 9e9, cpu_s=1.35, trainer="stacked-mlp-kernel")]  # its own path's
    rate = cost.rates(records)
    missing = [_spec("lenet5-relu", 0.1, 10), _spec("lenet5-relu", 0.3, 10), _spec("mlp7-linear", 0.9, 10),
               _spec("mlp7-relu", 0.9, 10), _spec("lenet5-relu", 0.1, 1, kind="jsv")]
    assert cost.older_paths(missing, rate) == 2
    assert "(3 of 4 runs costed; 2 of them at the speed of an older, slower training path than the one they will " \
        "take, so likely fewer)" in cost.describe(missing, records)
    assert cost.older_paths(missing[2:], rate) == 0 and "older" not in cost.describe(missing[2:4], records)
    assert cost.older_words(2, 2).startswith("all of them")
