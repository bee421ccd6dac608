"""What the runs a grid lacks will cost, estimated from the runs already stored, so that
``python -m dipcore status`` can say how long a grid has left before anyone starts it.

The rate of a stored training run is its share of its stack's CPU time (``meta.cpu_s /
meta.stacked_with``, on a CPU where it was measured), else of its wall time (``meta.wall_s``)
times the CPU threads it had (``meta.threads``; 1 on a GPU), per epoch: thread-seconds per
run-epoch. CPU time does not count a pause (``kill -STOP``) or a wait for a core another process
holds, which made wall times of stacks trained beside other work read up to four times slow. A missing run is costed at the median rate of the stored runs of its
network on the same kind of device at the nearest pruning ratio (the ratio sets a pruned
network's width, and so its cost; on a CPU, those of the newest training path where there are some, see
``rates``); on a CPU, the nearest ratio among those stored by the path the missing run will take
(``path_generation``) where there is one: a path three to ten times faster than the one that
stored its own ratio's runs sets its cost better than an older path at its own ratio; where its path
has no stored run at any ratio, the older path's rate is used and the estimate says how many runs it
costed so (``older_paths``: likely high by their share). On a CPU a rate taken from a narrower
network (a larger ratio) is scaled up by the two networks' FLOPs (``width_scale``), so that the
estimate errs long rather than short, though never above the rate of a stored wider network. An
estimate from measured times, always labelled as one; a network with no stored run on that kind of
device is not estimated. A run part-way through training
(its stack's checkpoint, ``executor.in_flight``) is costed for the epochs it has left; a stack in
flight is also timed at its own pace so far, in CPU time where its checkpoint kept it (``flight``),
the best guess of when it lands.
"""
from __future__ import annotations

import functools
import statistics
import time
from collections import defaultdict

from .paper import NET_LABELS
from .spec import field, key, pruning_ratio


class Rate(float):
    """Thread-seconds per run-epoch (a float), with the ``generation`` of the path whose runs set it."""

    generation: int

    def __new__(cls, value: float, generation: int = 0):
        out = super().__new__(cls, value)
        out.generation = generation
        return out


def device_kind(meta: dict) -> str:
    """"gpu" for a run computed on a CUDA device, else "cpu"."""
    return "gpu" if str(meta.get("device", "")).startswith("cuda") else "cpu"


def thread_seconds(meta: dict) -> float:
    """What training a stored run cost, in thread-seconds: its share of its stack's CPU time
    (``cpu_s / stacked_with``: every thread's time already) on a CPU where that was measured, else
    of its wall time times the CPU threads it had (``threads``; 1 on a GPU)."""
    cpu = device_kind(meta) == "cpu"
    if cpu and meta.get("cpu_s"):
        return meta["cpu_s"] / meta.get("stacked_with", 1)
    return meta["wall_s"] / meta.get("stacked_with", 1) * (meta.get("threads", 1) if cpu else 1)


def rates(records) -> dict[tuple[str, str, float], Rate]:
    """Median thread-seconds per run-epoch of the stored training runs, by (device kind, network,
    pruning ratio). Where some of a network's CPU runs at a ratio were trained by today's faster
    paths, the channels-last layout (``meta.conv_input``; ``train.runs_innermost_layout`` picks it
    by network and ratio) or an MLP's written-out steps (``meta.trainer``, ``train.trainer_for``),
    only those set the rate: runs stored before them ran up to three times as slow, and a missing
    run will be trained by them. Among those, runs whose CPU time was measured (``meta.cpu_s``) set
    it where there are some: the wall time of a stack paused or trained beside other work read up
    to four times its cost. Each rate carries the generation of that path (``Rate.generation``)."""
    by = defaultdict(list)
    for r in records:
        s, m = r.get("spec", {}), r.get("meta", {})
        if s.get("kind") != "train" or not m.get("wall_s") or not s.get("epochs"):
            continue
        measured = device_kind(m) == "cpu" and bool(m.get("cpu_s"))
        by[device_kind(m), s["net"], pruning_ratio(s)].append(((generation(m), measured), thread_seconds(m) / s["epochs"]))
    newest = {k: max(g for g, _ in runs) for k, runs in by.items()}
    return {k: Rate(statistics.median([v for g, v in runs if g == newest[k]]), newest[k][0]) for k, runs in by.items()}


def generation(meta: dict) -> int:
    """How recent the path that trained a run is, so that ``rates`` reads the newest: 4 for LeNet-5's
    two convolutions in the C++ kernel (``meta.trainer``: ``stacked-conv2-kernel``), 3 for dipcore's
    other C++ kernels (``stacked-conv-kernel``, ``stacked-mlp-kernel``), 2 for the written-out layers
    (``stacked-mlp``, ``stacked-conv``), 1 for vmap with channels-last convolutions
    (``meta.conv_input``), 0 before any."""
    trainer = meta.get("trainer", "vmap")
    return 4 if trainer == "stacked-conv2-kernel" else 3 if trainer.endswith("-kernel") else 2 if trainer != "vmap" \
        else 1 if meta.get("conv_input") == "channels_last" else 0


def path_generation(spec: dict) -> int | None:
    """The ``generation`` of the path a training run will take on a CPU where dipcore's kernels are
    built (``train.cpu_paths`` of its architecture: pruned at its ratio, dense for a masked
    criterion); None where the spec does not say enough to build it."""
    from .. import pruning

    try:
        ratio = 0.0 if field(spec, "criterion") in pruning.MASKED else pruning_ratio(spec)
        return _path_generation(spec["net"], pruning.pruned_widths(spec["net"], ratio))
    except (KeyError, ValueError, TypeError):
        return None


@functools.lru_cache(maxsize=None)
def _path_generation(net: str, widths) -> int:
    from .. import nets, train

    return generation({"trainer": train.cpu_paths(nets.build(net, widths))[-1]})


def estimate(specs, rate: dict, kind: str = "cpu", done: dict[str, int] | None = None) -> tuple[float, int, int]:
    """(thread-hours, runs costed, training runs in ``specs``) of the training runs among ``specs``
    on a device of ``kind``, each at the rate of its network's nearest stored ratio (on a CPU,
    among the rates set by the path it will take where there are some: ``path_generation``), for
    the epochs it has left (``done``: epochs already trained, by run key, from in-flight checkpoints)."""
    train = [s for s in specs if s.get("kind") == "train"]
    done = done or {}
    hours, costed = 0.0, 0
    for s in train:
        known = _rate_for(s, rate, kind)
        if known is not None:
            hours += known * _left(s, done) / 3600
            costed += 1
    return hours, costed, len(train)


def _rate_for(s: dict, rate: dict, kind: str) -> Rate | None:
    """The rate ``estimate`` costs the training run ``s`` at (None: none of its network is stored):
    its network's nearest stored ratio's (on a CPU, among those of the path it will take where there
    are some), on a CPU scaled up by ``width_scale`` where that ratio's network is narrower than the run's,
    but never above the rate of the nearest stored network wider than the run's."""
    known = [(abs(r - pruning_ratio(s)), r, v) for (k, net, r), v in rate.items() if k == kind and net == s["net"]]
    if kind == "cpu":
        path = path_generation(s)
        known = [x for x in known if getattr(x[2], "generation", None) == path] or known
    if not known:
        return None
    _, ref, v = min(known, key=lambda x: x[:2])
    scale = width_scale(s, ref) if kind == "cpu" else 1.0  # a GPU's small networks: launches, not FLOPs
    if scale == 1:
        return v
    # never above the rate of the nearest stored wider network (of the same path), itself an upper
    # bound: a step's fixed part kept ResNet-20 at 0.9 at 61 % of its dense time, against 9 % of its FLOPs
    wider = [(r, w) for _, r, w in known if r < pruning_ratio(s)]
    cap = max(wider)[1] if wider else float("inf")
    return Rate(min(v * scale, cap), getattr(v, "generation", 0))


def width_scale(s: dict, ref: float) -> float:
    """How much more a run of ``s`` costs than one of its network L1-pruned at ratio ``ref``, at most:
    the ratio of their FLOPs per example (``nets.cost``) where ``s``'s network is the wider, else 1.
    A step costs a fixed part plus a part that grows with the FLOPs, so scaling a narrower network's
    rate by the FLOPs overestimates (LeNet-5-ReLU at 0.1 from 0.9: 13.4x the FLOPs, 8.9x the time
    measured), and a wider one's rate, unscaled, overestimates a narrower run: the estimate errs
    long, which ``compute --until`` needs (a stack cut off by a session's end is lost). 1 for a
    masked criterion (its network is dense at any sparsity) and where the network cannot be built."""
    from .. import pruning

    try:
        if field(s, "criterion") in pruning.MASKED or ref == pruning_ratio(s):
            return 1.0
        return max(1.0, _flops(s["net"], pruning_ratio(s)) / _flops(s["net"], ref))
    except (KeyError, ValueError, TypeError, ZeroDivisionError):
        return 1.0


@functools.lru_cache(maxsize=None)
def _flops(net: str, ratio: float) -> int:
    from .. import nets, pruning

    return nets.cost(nets.build(net, pruning.pruned_widths(net, ratio)))["flops"]



def older_paths(specs, rate: dict) -> int:
    """How many of the training runs ``estimate`` costs on a CPU are costed at the rate of an older
    path than the one they will take (``path_generation``): where no stored run of their network
    took that path yet. Those paths were slower until now (LeNet-5-ReLU at 0.1: 12.5 thread-seconds
    per run-epoch stored on channels-last vmap, 3.9 on the first layer's kernel it takes now), so the
    estimate is likely high by their share."""
    n = 0
    for s in specs:
        if s.get("kind") == "train" and (known := _rate_for(s, rate, "cpu")) is not None:
            path = path_generation(s)
            n += path is not None and getattr(known, "generation", path) < path
    return n


def older_words(n: int, total: int) -> str:
    """``older_paths``' count as a clause for the estimate's sentence ("" when none)."""
    if not n:
        return ""
    return (f"{'all' if n == total else n} of them at the speed of an older, slower training path than the one "
            "they will take, so likely fewer")


def flight_records(flights) -> list[dict]:
    """Stacks in flight (``executor.Flight``) as records ``rates`` can read, one per run, where their
    checkpoint says they train on a CPU and kept their CPU time: the epochs trained so far at
    their cost so far. A stack on a path no stored run took yet (a new trainer) is then costed at its
    own pace before its first run lands."""
    return [{"spec": s | {"epochs": f.epoch},
             "meta": {"wall_s": f.wall_s, "cpu_s": f.cpu_s, "stacked_with": len(f.specs), "device": f.device,
                      "trainer": f.trainer or "vmap"}}
            for f in flights if f.cpu_s and f.epoch > 0 and f.device == "cpu" for s in f.specs]


def describe(specs, records, done: dict[str, int] | None = None, flights=()) -> str | None:
    """One line for ``status``: what the training runs among ``specs`` would cost on a CPU (and on
    a GPU, once GPU runs are stored), at the rates of the stored runs and of the stacks in flight
    (``flights``, ``flight_records``), the epochs in-flight runs have trained (``done``) deducted;
    where none could be estimated, which networks have no stored run to time them by (None when
    ``specs`` holds no training run)."""
    flying = flight_records(flights)
    rate = rates(list(records) + flying)
    parts = []
    for kind, unit in (("cpu", "thread-hours on a CPU"), ("gpu", "hours on a GPU")):
        hours, costed, total = estimate(specs, rate, kind, done)
        if costed:
            older = older_words(older_paths(specs, rate), costed) if kind == "cpu" else ""
            notes = ([f"{costed} of {total} runs costed"] if costed < total else []) + ([older] if older else [])
            parts.append(f"about {hours:.1f} {unit}" + (f" ({'; '.join(notes)})" if notes else ""))
    if not parts:
        nets = untimed(specs)
        return (f"  missing runs: not costed, no stored run of {nets} to time them by ({epochs(specs, done):,} "
                f"epochs of training in all; benchmarks/bench_engine.py --nets {nets.replace(' or ', ',')} times "
                "an epoch on this machine)") if nets else None
    return "  missing runs: " + "; ".join(parts) + ", estimated from the stored runs' speed" + \
        (" and those in flight" if flying else "")


def epochs(specs, done: dict[str, int] | None = None) -> int:
    """How many epochs of training the training runs among ``specs`` have left (``done``: epochs
    already trained, by run key): the size of the work where no stored run can time it."""
    return sum(_left(s, done or {}) for s in specs if s.get("kind") == "train")


def _left(s: dict, done: dict[str, int]) -> int:
    """The epochs the training run ``s`` has left, ``done`` (by run key) already trained."""
    return max(s["epochs"] - done.get(key(s), 0), 0)


def untimed(specs, name=str) -> str:
    """The networks of the training runs among ``specs``, each ``name``d ("resnet20 or ..."), for a
    cost that no stored run can estimate; "" when ``specs`` holds no training run."""
    return " or ".join(sorted({name(s["net"]) for s in specs if s.get("kind") == "train"}))


def sentence(todo, records) -> str:
    """What the missing training runs ``todo`` would cost, as the end of a page's sentence ("would
    take about ..." or "are not costed: ..."), at the rates of the stored ``records`` on one CPU
    thread (``estimate``, as ``python -m dipcore status`` makes it), and on a GPU where GPU runs are
    stored."""
    rate = rates(records)
    hours, costed, total = estimate(todo, rate, "cpu")
    if not costed:
        nets = untimed(todo, lambda net: NET_LABELS.get(net, net))
        return f"are not costed: no stored run of {nets} to time them by ({epochs(todo):,} epochs of training in all)"
    older = older_words(older_paths(todo, rate), costed)
    gpu, on_gpu, _ = estimate(todo, rate, "gpu")
    cpu = f"about {hours:.0f} hours" if hours >= 1 else "under an hour"
    return (f"would take {cpu} of one CPU thread at the speed of the stored runs (an estimate, "
            "as `python -m dipcore status` makes it" + (f"; {older}" if older else "") + ")"
            + (f", {costed} of {total} costed" if costed < total else "")
            + (f"; about {gpu:.1f} hours on a GPU" + (f" ({on_gpu} of {total} costed)" if on_gpu < total else "")
               if on_gpu else ""))


def flight(f) -> str:
    """One line for ``status`` on a stack in flight (``executor.Flight``): its runs, the epoch its
    checkpoint reached and when, and its pace and when it will be done at that pace (on the machine
    and load it has had: an estimate, said as one). The pace is CPU time per epoch where the
    checkpoint kept it (a pause, or a wait for a core another process holds, is not counted: with one
    thread, about the wall time it will take on a core of its own), else wall time. A stack resumed
    from its checkpoint is timed at its pace since it last resumed (the process that saved the
    checkpoint), its pace over all its epochs beside it: an earlier process's machine or load need
    not be today's. Where ``f.training`` is known, the line ends with whether a process is training
    the stack now or its checkpoint waits for ``compute`` to resume it."""
    s0 = f.specs[0]
    line = (f"{len(f.specs)} x {s0['net']} r={pruning_ratio(s0):g} at epoch {f.epoch}/{s0['epochs']} "
            f"(saved {moment(f.saved)})")
    return line + _pace(f, s0) + ("" if f.training is None else "; a process is training it now" if f.training
                                  else "; no process is training it: computing its grid resumes it from this checkpoint")


def _pace(f, s0: dict) -> str:
    """``flight``'s pace clause ("" before a first epoch is saved)."""
    cpu = bool(f.cpu_s)
    spent = f.cpu_s if cpu else f.wall_s
    if f.epoch <= 0 or not spent or spent <= 0:
        return ""
    pace = overall = spent / f.epoch
    epochs = f.latest[0] if f.latest else f.epoch
    since = f.latest_cpu_s if cpu else f.latest[1] if f.latest else None
    resumed = 0 < epochs < f.epoch and since is not None and since > 0
    if resumed:
        pace = since / epochs
    unit, left = ("CPU-seconds", "of CPU time") if cpu else ("s", "of training")
    left = f"about {_duration(pace * max(s0['epochs'] - f.epoch, 0))} {left} left at that pace"
    return (f"; {pace:.1f} {unit} per epoch since it last resumed ({overall:.1f} over all), so {left}"
            if resumed else f"; {pace:.1f} {unit} per epoch so far, so {left}")


def moment(t: float) -> str:
    """A moment (``time.time()``) as a reader of a status line wants it: "HH:MM" today, else with
    its date (a checkpoint saved in an earlier session, a deadline tomorrow)."""
    today = time.localtime(t)[:3] == time.localtime()[:3]
    return time.strftime("%H:%M" if today else "%Y-%m-%d %H:%M", time.localtime(t))


def _duration(seconds: float) -> str:
    """``seconds`` in the unit a reader wants: s under a minute, min under an hour, else h."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 3600 else f"{seconds / 3600:.1f} h"
