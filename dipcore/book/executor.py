"""The executor (ARCHITECTURE.md): given the specs a chapter or grid needs, it reads what the
store has and computes what is missing, in dependency order.

* **Dependencies.** A run that starts from another (finetuning from a pretrained network) needs
  that run first. Specs built by ``spec.train_spec`` / ``jsv_spec`` carry the specs they start
  from (``Spec.requires``), so a grid lists only its own runs and the executor adds every missing
  ancestor: ``compute="missing"`` on an empty store computes the whole chain.
* **Stacks.** Training runs of one architecture and length are trained together
  (``dipcore.train.train_stacked``), at most ``max_stack`` at a time; a stack saves its state
  every 5 minutes under ``inflight_dir()``, so a killed grid resumes where it stopped.
* **Locks.** A process trains a run only while it holds that run's lock (``<key>.lock`` under
  ``inflight_dir()``, an ``flock`` the system drops when the process dies, even by kill -9):
  two processes computing one grid into one store share its runs instead of training each twice,
  and a process whose partner dies takes over the runs it left. The holder removes the lock file
  before it lets go, so none is left behind; a process that locked a file just removed sees that
  the path no longer names it and opens the path again (``_lock``).
* **Shards.** ``shard=(i, n)``: n processes share a grid. Stacks are dealt out by their cost
  (epochs x runs x the network's cost per run-epoch at its pruning ratio), largest first, each to the least loaded
  shard; every ancestor that is not one of the grid's own runs goes to shard 0, and a shard that
  needs one waits for it to appear in the store. The deal depends on the grid alone (not on
  what is stored yet), so every shard process agrees.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import json
import os
import platform
import sys
import time
import warnings
from collections import defaultdict
from pathlib import Path
from typing import NamedTuple

import torch

from .. import __version__, data as datamod, nets, train
from ..schedule import parse
from . import cost as costmod, recipe, spec as specmod
from .store import DamagedRun, RunsMissing, RunStore, check_writable_folder

POLICIES = ("never", "missing", "always")
LOCK_WAIT_S = 10.0  # how often a process looks again at runs that another process is training


def environment(device: torch.device) -> dict:
    """Where and with what a run was computed."""
    dev = torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_name()
    return {"device": f"{device.type}: {dev}", "torch": torch.__version__, "python": platform.python_version(),
            "dipcore": __version__, "threads": torch.get_num_threads()}


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} cores)"
    except OSError:
        pass
    return platform.processor() or platform.machine()


def inflight_dir() -> Path:
    """Where stacks in training save their state (``$DIPBOOK_STATE``, default
    ``~/.cache/dipbook/inflight``): outside the repository, so it survives a fresh checkout on
    the same machine and is never committed."""
    return Path(os.environ.get("DIPBOOK_STATE", Path.home() / ".cache" / "dipbook" / "inflight"))


def checkpoint_every_s() -> float:
    """How often a stack in training saves its state: ``$DIPBOOK_CHECKPOINT_S`` seconds (default 300)."""
    raw = os.environ.get("DIPBOOK_CHECKPOINT_S", "300")
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise ValueError(f"DIPBOOK_CHECKPOINT_S must be a number of seconds >= 0, got {raw!r}")
    return value


def checkpoint_path(chunk: list[dict]) -> Path:
    return inflight_dir() / f"{specmod.key({'chunk': [specmod.key(s) for s in chunk]})}.pt"


def check_targets(store: RunStore) -> None:
    """Every folder a compute writes to, checked before its first step (``ValueError`` naming it)."""
    checkpoint_every_s()
    store.check_writable()
    check_writable_folder(inflight_dir(), "checkpoint folder ($DIPBOOK_STATE)",
                          "set DIPBOOK_STATE to a writable folder")


def _lock(path: Path):
    """``path`` opened and locked (``flock``, exclusive), or None while another process holds it.
    A holder removes the file before it lets go (``run_locks``), so a lock taken on a file that the
    path no longer names is no lock: then the path is opened again."""
    while True:
        f = open(path, "a")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            return None
        try:
            mine, now = os.fstat(f.fileno()), os.stat(path)
            if (mine.st_dev, mine.st_ino) == (now.st_dev, now.st_ino):
                return f
        except FileNotFoundError:
            pass
        fcntl.flock(f, fcntl.LOCK_UN)
        f.close()


def _release(path: Path, f) -> None:
    """Let go of a lock ``_lock`` took: its file removed first, while still held."""
    path.unlink(missing_ok=True)
    fcntl.flock(f, fcntl.LOCK_UN)
    f.close()


@contextlib.contextmanager
def run_locks(keys: list[str]):
    """Take the lock of each run in ``keys`` that no other process holds; yield the keys taken.
    On leaving, each lock file is removed while still locked, then let go."""
    inflight_dir().mkdir(parents=True, exist_ok=True)
    held = []
    try:
        for k in keys:
            f = _lock(inflight_dir() / f"{k}.lock")
            if f is not None:
                held.append((k, f))
        yield [k for k, _ in held]
    finally:
        for k, f in held:
            _release(inflight_dir() / f"{k}.lock", f)


def held(keys) -> bool:
    """Whether a process holds the lock of one of the runs ``keys`` now, i.e. is training it (a
    stack's checkpoint outlives the process that saved it). A lock file no process holds is
    removed on the way, by ``run_locks``' own take, remove, let go (as ``sweep_locks`` does)."""
    for k in keys:
        path = inflight_dir() / f"{k}.lock"
        if not path.exists():
            continue
        f = _lock(path)
        if f is None:
            return True
        _release(path, f)
    return False


def sweep_locks() -> int:
    """Remove the lock files under ``inflight_dir()`` that no process holds (the executor once left
    every run's behind; ``ensure`` sweeps before it computes), by ``run_locks``' own take, remove,
    let go: safe beside a running compute. Returns how many it removed."""
    removed = 0
    for path in sorted(inflight_dir().glob("*.lock")):
        f = _lock(path)
        if f is not None:
            _release(path, f)
            removed += 1
    return removed


# -- what to compute ---------------------------------------------------------------------------------
def closure(specs: list[dict], store: RunStore | None = None) -> list[dict]:
    """``specs`` and the runs they start from, ancestors first, each once. With a ``store``, the
    ancestors it holds are not followed further (a stored run needs nothing more); a missing
    ancestor whose spec is unknown (a spec read from a file, say) raises ``RunsMissing``."""
    out: dict[str, dict] = {}

    def visit(s: dict, path: tuple[str, ...]) -> None:
        k = specmod.key(s)
        if k in out:
            return
        if k in path:
            raise ValueError("runs start from each other in a cycle: " + " -> ".join(path + (k,)))
        start = s["start"]
        if start != "scratch" and not (store is not None and store.path(start).exists()):
            parents = {specmod.key(p): p for p in getattr(s, "requires", ())}
            if start in parents:
                visit(parents[start], path + (k,))
            elif store is not None:
                raise RunsMissing(f"run {k} ({specmod.describe(s)}) starts from run {start}, which is not in the "
                                  f"store {store.root} and whose spec is not known here: compute the grid that "
                                  "defines it (e.g. python -m dipcore compute pretrain ...) or restore it from git")
        out[k] = s

    for s in specs:
        visit(s, ())
    return list(out.values())


def _groups(specs: list[dict], max_stack: int) -> list[list[dict]]:
    """Training runs grouped into stacks (one architecture and length each, at most
    ``max_stack``), in the order of ``specs``."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for s in specs:
        groups[specmod.stack_group(s)].append(s)
    return [g[i:i + max_stack] for g in groups.values() for i in range(0, len(g), max_stack)]


def cost(chunk: list[dict]) -> float:
    """A stack's relative cost for the shard deal: epochs x runs x the cost of one run-epoch of its
    network at its pruning ratio (its ``nets.ENTRIES`` cost; the kept share of a layer's filters sets
    the pruned network's width, so a run at ratio 0.95 costs a fraction of one at 0.1)."""
    s = chunk[0]
    base, floor = nets.ENTRIES.get(s["net"], nets.ENTRIES["mlp7-relu"]).cost  # a network without one: as MLP-7
    kept = 1.0 - specmod.pruning_ratio(s)
    return s["epochs"] * len(chunk) * base * (floor + (1.0 - floor) * kept)


def shares(specs: list[dict], n: int, max_stack: int = 64) -> dict[str, int]:
    """Which of ``n`` shards computes each run of ``specs`` and of their ancestors (see the module
    docstring): the grid's own training stacks by cost, largest first, to the least loaded shard;
    ancestors and measurements (seconds each) to shard 0."""
    own = {specmod.key(s) for s in specs}
    everything = closure(specs)
    out = {specmod.key(s): 0 for s in everything}
    load = [0.0] * n
    chunks = _groups([s for s in everything if s["kind"] == "train" and specmod.key(s) in own], max_stack)
    for chunk in sorted(chunks, key=cost, reverse=True):  # stable: ties keep the grid's order
        j = min(range(n), key=lambda i: load[i])
        load[j] += cost(chunk)
        for s in chunk:
            out[specmod.key(s)] = j
    return out


def stacks(todo: list[dict], grid: list[dict], max_stack: int) -> list[list[dict]]:
    """The stacks in which the training runs ``todo`` (of ``grid``) are trained, longest first:
    first each stack a killed process left part-way through (a checkpoint whose ``.json`` sidecar
    names runs all still to do, whatever grid, order or ``--max-stack`` made it: issue 37, defect
    12), resumed as it was; then the grid's stacks (``_groups`` of the grid at ``max_stack``)
    restricted to the rest. The same runs always make the same stack."""
    by_key = {specmod.key(s): s for s in todo}
    out = []
    for _, keys in _interrupted():
        if keys and all(k in by_key for k in keys) and checkpoint_path([by_key[k] for k in keys]).exists():
            out.append([by_key.pop(k) for k in keys])
    out += [[s for s in c if specmod.key(s) in by_key] for c in _groups([s for s in grid if s["kind"] == "train"], max_stack)]
    return sorted([c for c in out if c], key=lambda c: -c[0]["epochs"])


def _interrupted() -> list[tuple[Path, list[str]]]:
    """Each sidecar in ``inflight_dir()`` (oldest first) with the runs (keys) of its stack."""
    folder = inflight_dir()
    out = []
    for side in sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime) if folder.is_dir() else []:
        try:
            out.append((side, [str(k) for k in json.loads(side.read_text())["keys"]]))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a sidecar being written, or damaged: the grid's own grouping then
    return out


def sweep_finished(store: RunStore) -> int:
    """Remove the checkpoints and sidecars in ``inflight_dir()`` of stacks whose runs are all in
    ``store`` (left behind when a stack was killed after another process finished its runs, say:
    issue 37, defect 12), unless a process holds one of their locks. Returns how many stacks."""
    n = 0
    for side, keys in _interrupted():
        if not keys or not all(store.path(k).exists() for k in keys):
            continue
        try:
            with run_locks(keys) as held:
                if set(held) == set(keys):
                    side.with_suffix(".pt").unlink(missing_ok=True)
                    side.unlink(missing_ok=True)
                    n += 1
        except OSError:
            continue
    return n


class Flight(NamedTuple):
    """A stack part-way through training, read from its checkpoint (``in_flight``)."""

    specs: list[dict]  # its runs
    epoch: int  # the epoch its checkpoint reached
    saved: float  # when that was (seconds since the epoch, as ``time.time()``)
    wall_s: float  # the stack's training wall time up to it, over every session it ran in
    latest: tuple[int, float] | None = None  # epochs and wall time of the session that saved it
    cpu_s: float | None = None  # its CPU time up to it, where the checkpoint kept one
    latest_cpu_s: float | None = None  # the CPU time of the session that saved it, where kept
    trainer: str | None = None  # the path its steps take (``train.trainer_for``), where kept
    device: str | None = None  # where it trains ("cpu", "cuda:0"), where kept
    training: bool | None = None  # whether a process is training it now (``held``); None: not asked


def checkpoint_state(path: Path) -> dict | None:
    """A stack's checkpoint as saved (epoch, CPU and wall time, ...), None where there is none or it
    cannot be read (training ignores an unreadable checkpoint too)."""
    if not path.exists():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        return None


def in_flight(store: RunStore, specs: list[dict], max_stack: int = 64) -> list[Flight]:
    """Stacks of ``specs`` (and their missing ancestors) part-way through training, from the
    checkpoints in ``inflight_dir()``: those of the stacks ``stacks`` would train, which include
    any stack a ``<checkpoint>.json`` sidecar names (so a grid computed with another
    ``--max-stack`` is found too), each saying whether a process is training it now (``held``)
    or its checkpoint waits for one to resume it."""
    grid = closure(specs, store)
    missing = [s for s in grid if s["kind"] == "train" and not store.path(specmod.key(s)).exists()]
    chunks = {checkpoint_path(c): c for c in stacks(missing, grid, max_stack)}
    return [f for path, chunk in chunks.items() if (f := flight(path, chunk)) is not None]


def flight(path: Path, chunk: list[dict]) -> Flight | None:
    """The stack ``chunk`` as its checkpoint at ``path`` left it (None where there is none, or it
    cannot be read), saying whether a process is training it now (``held``)."""
    if (state := checkpoint_state(path)) is None:
        return None
    wall_s = float(state.get("wall_s", 0.0))
    since = state.get("session_from")  # absent from checkpoints written before it was kept
    latest = (state["epoch"] - int(since[0]), wall_s - float(since[1])) if since else None
    cpu = state.get("cpu_s")
    latest_cpu = cpu - float(since[2]) if cpu is not None and since and len(since) > 2 else None
    return Flight(chunk, state["epoch"], path.stat().st_mtime, wall_s, latest, cpu, latest_cpu,
                  state.get("trainer"), state.get("device"), held(map(specmod.key, chunk)))


def checkpoints() -> list[tuple[Path, list[str]]]:
    """Every stack's checkpoint in ``inflight_dir()`` (oldest first), with the runs (keys) its
    sidecar names: what ``python -m dipcore status`` lists with no grid."""
    return [(side.with_suffix(".pt"), keys) for side, keys in _interrupted() if side.with_suffix(".pt").exists()]


def damaged_ancestors(specs: list[dict], store: RunStore) -> list[tuple[dict, str]]:
    """The stored runs that ``specs`` start from (directly or further up) whose record or weights
    are damaged, each with what is wrong: a run is never trained from them (``RunStore.weights``
    refuses them), so they are named up front (``status``) and recomputed first (``ensure``)."""
    out: dict[str, tuple[dict, str]] = {}
    seen: set[str] = set()
    todo = [p for s in specs for p in getattr(s, "requires", ())]
    while todo:
        p = todo.pop()
        k = specmod.key(p)
        if k in seen:
            continue
        seen.add(k)
        if store.path(k).exists():
            try:
                store.get(p)
            except DamagedRun as e:
                out[k] = (p, str(e))
        todo += list(getattr(p, "requires", ()))
    return list(out.values())


# -- computing ---------------------------------------------------------------------------------------
def ensure(store: RunStore, specs: list[dict], compute: str = "missing", device: str | None = None,
           data_root: str | Path | None = None, download: bool = False, max_stack: int = 64,
           progress: bool = True, command_hint: str | None = None,
           shard: tuple[int, int] | None = None, report: dict | None = None, wait: bool = True,
           deadline: float | None = None) -> list[dict | None]:
    """The records of ``specs``, computing what ``compute`` allows: ``never`` (raise
    ``RunsMissing`` listing what is absent), ``missing`` (compute what is absent, with every
    missing run it starts from), ``always`` (recompute ``specs``; their ancestors only if missing).

    ``shard=(i, n)`` computes only the i-th of n shares (see ``shares``); the records of runs left
    to other shards are None until they are stored. ``report``, a dict, receives ``trained``: the
    number of runs this call trained (others may have been trained meanwhile by another process).
    ``wait=False`` leaves the runs another process is training (it holds their locks) to that
    process, and what starts from them, instead of waiting for them: their records are None, as a
    queue of grids (``python -m dipcore compute --no-wait``) goes on to its next grid at once.
    ``deadline`` (seconds since the epoch, ``compute --until``) leaves untrained every stack that
    would not finish by then at the stored runs' speed (``stack_seconds``), and what starts from
    it: on a machine replaced between sessions, a stack cut off by the session's end is lost with
    its checkpoint, so the time goes to stacks that land instead.

    Before anything is computed, every folder it will write to is checked (``check_targets``)."""
    if compute not in POLICIES:
        raise ValueError(f"compute must be one of {', '.join(POLICIES)}, got {compute!r}")
    done, missing, damaged, found = store.scan(specs)
    if missing or compute == "always":  # what they would start from must be sound
        damaged += damaged_ancestors(specs if compute == "always" else missing, store)
    if compute == "never":
        if damaged:
            raise DamagedRun("; ".join(why for _, why in damaged))
        if missing:
            lines = "\n".join(f"  {specmod.key(s)}  {specmod.describe(s)}" for s in missing[:20])
            more = f"\n  ... and {len(missing) - 20} more" if len(missing) > 20 else ""
            hint = f"\nCompute them with:\n  {command_hint}" if command_hint else ""
            raise RunsMissing(f"{len(missing)} of {len(specs)} runs are not in the store "
                              f"{store.root}:\n{lines}{more}{hint}\n(or rerun with compute='missing')")
        return [found[specmod.key(s)] for s in specs]
    if missing or damaged or compute == "always":
        check_targets(store)
        sweep_locks()
    for s, why in damaged:
        aside = store.set_aside(s)
        warnings.warn(f"{why} It was moved to {aside.name} and will be recomputed.")
    grid = closure(specs, store)  # raises before any compute if an ancestor cannot be had
    always = {specmod.key(s) for s in specs} if compute == "always" else set()
    todo = [s for s in grid if specmod.key(s) in always or not store.path(specmod.key(s)).exists()]
    mine = None
    if shard is not None:
        share = shares(specs, shard[1], max_stack)
        mine = {k for k, j in share.items() if j == shard[0]}
    done = _compute(store, todo, grid, mine, always, device, data_root, download, max_stack, progress, wait,
                    deadline)
    sweep_finished(store)
    if report is not None:
        report.update(done)
    if compute == "always":
        found = {}  # everything was recomputed: read it anew
    return [found.get(specmod.key(s)) or store.get(s) for s in specs]


def _compute(store: RunStore, todo: list[dict], grid: list[dict], mine: set[str] | None, always: set[str],
             device, data_root, download, max_stack, progress, wait: bool = True,
             deadline: float | None = None) -> dict[str, int]:
    """Compute ``todo`` level by level (a run once the run it starts from is stored); with shards,
    only the runs in ``mine`` and the ancestors they start from: an ancestor dealt to another shard
    is trained here when no process holds its lock (that shard may not be running this grid), and
    waited for while one does. A run stored meanwhile by another process is skipped, unless it is
    to be recomputed (``always``); a run another process is training (it holds its lock) is waited
    for, or with ``wait`` False left to it, with every run still pending (what may start from it).
    A stack that would not finish by ``deadline`` (``stack_seconds``) is left, with what starts
    from it. Return how many runs were trained and how many measurements taken here (``trained``,
    ``measured``)."""
    pending = {specmod.key(s): s for s in todo}
    needed = set()  # the pending runs that this shard's runs start from, at any depth
    if mine is not None:
        for k in [k for k in pending if k in mine]:
            while (k := pending[k]["start"]) in pending and k not in needed:
                needed.add(k)
    trained = measured = 0
    datasets: dict[tuple, datamod.Data] = {}
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    late: dict[str, float] = {}  # runs left for want of time: their stack's estimated seconds
    rates: dict = {}  # the stored runs' speed, read once per stack trained (``stack_seconds``)
    while pending:
        _drop_descendants(pending, late)
        if not pending:
            break
        ready = [s for s in pending.values() if s["start"] == "scratch" or s["start"] not in pending]
        if not ready:
            raise ValueError("runs start from each other in a cycle: " + ", ".join(pending))
        if mine is not None:  # another shard's runs: left to it, but for the ancestors of ours
            for s in [s for s in ready if specmod.key(s) not in mine and specmod.key(s) not in needed]:
                pending.pop(specmod.key(s))
            ready = [s for s in ready if specmod.key(s) in mine or specmod.key(s) in needed]
        for s in [s for s in ready if s["kind"] == "jsv"]:
            data = _data(datasets, s, data_root, download, dev)
            t0 = time.time()
            body = recipe.measure(s, recipe.initial_model(s, store.weights, data).to(dev), data)
            store.write(s, body, environment(dev) | {"wall_s": round(time.time() - t0, 2)})
            pending.pop(specmod.key(s))
            measured += 1
        chunks = stacks([s for s in ready if s["kind"] == "train"], grid, max_stack)
        for chunk in chunks:
            for s in chunk:
                pending.pop(specmod.key(s))
        while chunks:
            elsewhere = []  # runs another process holds the lock of
            for chunk in chunks:
                # another process may have stored some of them meanwhile: train only the rest
                chunk = [s for s in chunk if specmod.key(s) in always or not store.path(specmod.key(s)).exists()]
                with run_locks([specmod.key(s) for s in chunk]) as held:
                    mine_now = [s for s in chunk if specmod.key(s) in held
                                and (specmod.key(s) in always or not store.path(specmod.key(s)).exists())]
                    elsewhere += [s for s in chunk if specmod.key(s) not in held]
                    if mine_now and deadline is not None:
                        rates = rates or costmod.rates(store.read_all()[0])
                        need = stack_seconds(mine_now, store, dev, rates)
                        if need is not None and time.time() + need > deadline:
                            late.update({specmod.key(s): need for s in mine_now})
                            mine_now = []
                    if mine_now:
                        _train_chunk(store, mine_now, _data(datasets, mine_now[0], data_root, download, dev), dev,
                                     progress)
                        trained += len(mine_now)
                        rates = {}  # its runs time the next stacks too
            if elsewhere and not wait:
                print(f"{len(elsewhere)} run(s) are being trained by another process: left to it, with "
                      f"{len(pending)} run(s) not started yet (--no-wait)", file=sys.stderr, flush=True)
                _say_late(late, deadline)
                return {"trained": trained, "measured": measured}
            if elsewhere:
                print(f"{len(elsewhere)} run(s) are being trained by another process; waiting for them "
                      "(or for their locks, to take over)", file=sys.stderr, flush=True)
                time.sleep(LOCK_WAIT_S)
                always -= {specmod.key(s) for s in elsewhere if store.path(specmod.key(s)).exists()}
            chunks = stacks(elsewhere, grid, max_stack)
    _say_late(late, deadline)
    return {"trained": trained, "measured": measured}


def _say_late(late: dict[str, float], deadline: float | None) -> None:
    """Tell what a deadline left untrained (``late``: run key -> its stack's estimated seconds)."""
    if late:
        print(f"{len(late)} run(s) left untrained: their stacks would not finish by {costmod.moment(deadline)} at the "
              f"stored runs' speed (the shortest about {min(late.values()) / 3600:.1f} h); what starts from them waits too",
              file=sys.stderr, flush=True)


def _drop_descendants(pending: dict[str, dict], left) -> None:
    """Remove from ``pending`` every run that starts, directly or further up, from a run in ``left``."""
    gone = set(left)
    while drop := [k for k, s in pending.items() if s["start"] in gone]:
        for k in drop:
            gone.add(k)
            pending.pop(k)


def stack_seconds(chunk: list[dict], store: RunStore, device: torch.device, rates: dict | None = None) -> float | None:
    """How long training ``chunk`` as one stack would take here, in seconds: its runs' thread-seconds
    at the stored runs' speed on this kind of device (``cost.estimate``: each run's share of its
    stack's CPU time, so their sum is the stack's), for the epochs they have left after the stack's
    checkpoint, over the CPU threads it trains with (one on a GPU). A stack resumed from a
    checkpoint that kept its CPU time is timed at its own pace so far instead (CPU-seconds per
    epoch), as ``status`` times a stack in flight: its path may be one no stored run took. An
    estimate, for a process with its cores to itself; None where nothing times it. ``rates``: the
    store's ``cost.rates``, where the caller has them already."""
    kind = "gpu" if device.type == "cuda" else "cpu"
    threads = torch.get_num_threads() if kind == "cpu" else 1
    state = checkpoint_state(checkpoint_path(chunk)) or {}
    done = int(state.get("epoch", 0))
    if kind == "cpu" and state.get("cpu_s") and done > 0:
        return state["cpu_s"] / done * max(chunk[0]["epochs"] - done, 0) / threads
    hours, costed, _ = costmod.estimate(chunk, rates or costmod.rates(store.read_all()[0]), kind,
                                        {specmod.key(s): done for s in chunk})
    if not costed:
        return None
    return hours * 3600 / threads


def _data(cache: dict, spec: dict, root, download, device) -> datamod.Data:
    dkey = (spec["dataset"], spec["n_train"], spec["n_test"])
    if dkey not in cache:
        cache[dkey] = datamod.load(spec["dataset"], root=root, download=download, device=device,
                                   n_train=spec["n_train"], n_test=spec["n_test"])
    return cache[dkey]


def _train_chunk(store: RunStore, chunk: list[dict], data: datamod.Data, device: torch.device, progress: bool) -> None:
    """Train one stack with the trainer its specs name (today: the stacked SGD trainer). Beside its
    checkpoint, a small JSON names its runs while it trains (for ``in_flight``)."""
    s0 = chunk[0]
    side = checkpoint_path(chunk).with_suffix(".json")
    side.parent.mkdir(parents=True, exist_ok=True)
    side.write_text(json.dumps({"keys": [specmod.key(s) for s in chunk]}))
    models, masks = zip(*(recipe.start(s, store.weights, data) for s in chunk))
    results = train.train_stacked(
        list(models), [parse(s["schedule"]) for s in chunk],
        [s["seed"] for s in chunk], s0["epochs"], data, jsv_examples=s0["jsv_examples"],
        sgd=train.SGDConfig(s0["batch_size"], s0["momentum"], s0["weight_decay"]), device=device,
        progress=progress, desc=f"{len(chunk)} x {s0['net']} r={s0['ratio']:g} {s0['epochs']}ep",
        keep_weights=any(s["keep_weights"] for s in chunk),
        checkpoint=checkpoint_path(chunk), checkpoint_every_s=checkpoint_every_s(),
        masks=[m or {} for m in masks] if any(m is not None for m in masks) else None)
    meta = environment(device) | {
        "wall_s": round(results[0].wall_s, 2), "segments": results[0].segments, "stacked_with": len(chunk),
        **({"cpu_s": round(results[0].cpu_s, 2)} if results[0].cpu_s is not None else {}),
        **({"conv_input": results[0].conv_input} if results[0].conv_input else {}),
        **({"trainer": results[0].trainer} if results[0].trainer != "vmap" else {}),
        "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    for s, res in zip(chunk, results):
        store.put(s, res, meta)
    side.unlink(missing_ok=True)
