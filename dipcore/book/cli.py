"""Command line: fill the run store with a named grid, so a machine without Jupyter (a GPU
server) can compute what the chapters need.

    python -m dipcore status                                  # every grid on both datasets; stacks in flight
    python -m dipcore status table3                           # MNIST: stored, missing, in flight; what the rest costs
    python -m dipcore compute table3 --dataset fashion-mnist --device cuda   # the second dataset's runs
    python -m dipcore compute table7 --dataset mnist --threads 1 --until 01:30  # only stacks that finish by then
    python -m dipcore export table3 --per-epoch --out table3.csv   # the stored runs as tidy data
    python -m dipcore edition --protocol smoke --out /tmp/smoke-book  # the whole book at other parameters
    python -m dipcore data mnist                               # MNIST's four files, fetched and verified
    python -m dipcore kernels                                  # dipcore's C++ kernels, built and checked
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

from . import cost, executor, export, grids, spec as specmod
from .chapter import check_device, store_for
from .store import RunStore


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["edition"]:  # the whole book at other parameters (dipcore.book.edition)
        from . import edition

        return edition.main(argv[1:])
    if argv[:1] == ["kernels"]:  # dipcore's C++ kernels, built and checked (dipcore.kernels)
        from .. import kernels

        return kernels.main(argv[1:])
    if argv[:1] == ["data"]:  # MNIST onto this machine (dipcore.fetch)
        from .. import fetch

        return fetch.main(argv[1:])
    ap = argparse.ArgumentParser(prog="python -m dipcore", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("action", choices=("status", "compute", "list", "export"))
    ap.add_argument("grid", nargs="?", choices=sorted(grids.GRIDS),
                    help="the grid (status without one: every grid on both datasets, and the stacks in flight)")
    ap.add_argument("--dataset", default=None, help="mnist (the paper's and the book's; default), fashion-mnist "
                    "(the second dataset) or synthetic")
    ap.add_argument("--protocol", default="paper")
    ap.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:1 ... (default: cuda if present)")
    ap.add_argument("--store", default=None, help="run store folder (default: data/runs at protocol paper, "
                    "else ~/.cache/dipbook/runs-<protocol>, $DIPBOOK_SCRATCH_STORE)")
    ap.add_argument("--data-root", default=None, help="dataset folder (default $DIPBOOK_DATA or ~/.cache/dipbook)")
    ap.add_argument("--download", action="store_true", help="allow downloading the dataset")
    ap.add_argument("--always", action="store_true", help="recompute runs already stored")
    ap.add_argument("--no-wait", action="store_true",
                    help="leave runs another process is training to it and stop, instead of waiting for them "
                         "(a queue of grids goes on to the next at once)")
    ap.add_argument("--until", default=None, metavar="HH:MM",
                    help="leave untrained every stack that would not finish by this time of day (local, the next "
                         "such time; or 'YYYY-MM-DD HH:MM', one moment, for a queue of commands) at the stored "
                         "runs' speed, and what starts from it: on a machine that is replaced between sessions, a "
                         "stack cut off by the end is lost")
    ap.add_argument("--max-stack", type=int, default=64, help="most runs trained at once")
    ap.add_argument("--shard", default=None, metavar="I/N",
                    help="compute only the I-th of N shares of the grid (run N processes, I = 0..N-1)")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (torch.set_num_threads)")
    ap.add_argument("--net", default=None, help="only the grid's runs of this network (and what they start from)")
    ap.add_argument("--epochs", type=int, default=None, help="only the training runs of this many epochs")
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument("--format", default="csv", choices=export.FORMATS, help="export: csv (default) or parquet")
    ap.add_argument("--per-epoch", action="store_true", help="export: one row per run and epoch")
    ap.add_argument("--out", default=None, help="export: the file to write (CSV: standard output by default)")
    a = ap.parse_args(argv)
    try:
        if a.store is not None and not a.store.strip():
            raise ValueError("--store must name a folder, got an empty path (leave it out for the protocol's default)")
        a.store = str(store_for(a.protocol, a.store))
        if Path(a.store).exists() and not Path(a.store).is_dir():
            raise ValueError(f"run store {a.store!r} is a file, not a folder: give a folder with --store")
        if a.grid is None:
            if a.action != "status":
                raise ValueError(f"{a.action} needs a grid: one of {', '.join(sorted(grids.GRIDS))}")
            from . import overview

            print("\n".join(overview.lines(RunStore(a.store), a.protocol, (a.dataset,) if a.dataset else
                                            overview.DATASETS)))
            return 0
        a.dataset = a.dataset or "mnist"
        if a.epochs is not None and a.epochs < 1:
            raise ValueError(f"--epochs must be at least 1, got {a.epochs}")
        if a.action == "export":
            export.check_out(a.out)
            df = export.frame(a.grid, a.dataset, a.protocol, a.store, per_epoch=a.per_epoch)
            export.write(df, a.format, a.out)
            damaged = df.attrs["damaged"]
            print(f"exported {df.key.nunique() if len(df) else 0} stored run(s) of grid {a.grid} ({len(df)} rows"
                  f"{', one per epoch' if a.per_epoch else ''}); {df.attrs['missing']} not stored yet"
                  f"{f', {len(damaged)} damaged' if damaged else ''}, left out", file=sys.stderr)
            for why in damaged:
                print(f"  damaged: {why}", file=sys.stderr)
            if damaged:
                print(f"{len(damaged)} damaged run file(s) left out of the export: 'python -m dipcore compute "
                      f"{a.grid} ...' with the same options sets each aside and recomputes it (or restore them "
                      "from git)", file=sys.stderr)
                return 3
            return 0
        deadline = until(a.until) if a.until is not None else None
        shard = None
        if a.shard:
            i, _, n = a.shard.partition("/")
            if not (i.isdigit() and n.isdigit() and int(i) < int(n)):
                raise ValueError(f"--shard must be I/N with 0 <= I < N, got {a.shard!r}")
            shard = (int(i), int(n))
        if a.threads is not None:
            if a.threads < 1:
                raise ValueError(f"--threads must be at least 1, got {a.threads}")
            torch.set_num_threads(a.threads)
        if a.device is not None:  # checked before any compute: "gpu", or cuda without a GPU
            a.device = check_device(a.device)
        specs = restrict(grids.get(a.grid, a.dataset, a.protocol), a.grid, a.protocol, a.net, a.epochs)
        store = RunStore(a.store)
        done, missing, damaged = store.status(specs)
        if a.max_stack < 1:
            raise ValueError(f"--max-stack must be at least 1, got {a.max_stack}")
        print(f"grid {a.grid} ({a.dataset}, {a.protocol}): {len(specs)} runs, {len(done)} stored, "
              f"{len(missing)} missing, {len(damaged)} damaged")
        own = {specmod.key(s) for s in specs}
        for s, why in executor.damaged_ancestors(missing, store):  # named now, not when compute reaches them
            damaged.append((s, f"{why} (a run this grid starts from: {specmod.describe(s)})"))
        ancestors = [s for s in executor.closure(missing, store) if specmod.key(s) not in own]
        if ancestors:
            print(f"  and {len(ancestors)} missing run(s) they start from, computed first:")
            for s in ancestors:
                print(f"  missing {specmod.key(s)}  {specmod.describe(s)}")
        flights = executor.in_flight(store, specs, a.max_stack)
        if missing and a.action != "compute":
            done_epochs = {specmod.key(s): f.epoch for f in flights for s in f.specs}
            line = cost.describe(missing + ancestors, store.read_all()[0], done_epochs, flights)
            if line:
                print(line)
        if a.action == "list":
            bad = {specmod.key(s) for s, _ in damaged}
            for s in specs:
                state = "damaged" if specmod.key(s) in bad else "stored " if s in done else "missing"
                print(f"  {state} {specmod.key(s)}  {specmod.describe(s)}")
        for _, why in damaged:
            print(f"  damaged: {why}")
        for f in flights:
            print(f"  in flight: {cost.flight(f)}")
        if a.action == "compute":
            t0, report = time.time(), {}
            if deadline is not None:
                print(f"  --until: stacks that would not finish by {time.strftime('%Y-%m-%d %H:%M', time.localtime(deadline))} "
                      f"(in {(deadline - t0) / 3600:.1f} h) are left untrained")
            executor.ensure(store, specs, "always" if a.always else "missing", device=a.device, data_root=a.data_root,
                            download=a.download, max_stack=a.max_stack, progress=not a.no_progress, shard=shard,
                            report=report, wait=not a.no_wait, deadline=deadline)
            print(f"done in {time.time() - t0:.0f} s: {report.get('trained', 0)} run(s) trained and "
                  f"{report.get('measured', 0)} measurement(s) taken by this process")
        elif damaged:
            print(f"{len(damaged)} damaged run file(s): 'python -m dipcore compute {a.grid} ...' with the same "
                  "options sets each aside and recomputes it (or restore them from git)", file=sys.stderr)
            return 3
    except (ValueError, LookupError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


def restrict(specs: list[dict], grid: str, protocol: str, net: str | None, epochs: int | None) -> list[dict]:
    """The grid's runs of ``net`` and ``epochs`` (training runs of that length; measurements are
    kept); a filter that keeps nothing is refused, naming what the grid holds."""
    if net is not None:
        nets_ = sorted({s["net"] for s in specs})
        specs = [s for s in specs if s["net"] == net]
        if not specs:
            raise ValueError(f"grid {grid} has no network {net!r}; its networks are {', '.join(nets_)}")
    if epochs is not None:
        lengths = sorted({s["epochs"] for s in specs if s["kind"] == "train"})
        specs = [s for s in specs if s["kind"] != "train" or s["epochs"] == epochs]
        if epochs not in lengths:
            held = ", ".join(map(str, lengths)) or "none (it holds measurements only)"
            raise ValueError(f"grid {grid} at protocol {protocol} has no training runs of {epochs} epochs; "
                             f"its lengths are {held}")
    return specs


def until(text: str, now: float | None = None) -> float:
    """``--until``: as seconds since the epoch, the moment ``HH:MM`` names (local; the next such time
    of day, tomorrow's where today's has passed), or ``YYYY-MM-DD HH:MM`` (or with a ``T``), which
    names one moment: a queue of commands that all pass the same deadline should give it so, since
    an ``HH:MM`` a later command reads after it has passed means tomorrow's. A moment that has passed
    is refused (nothing could finish by it), as is any other form, with the forms it takes."""
    import datetime as dt

    forms = "a time of day as HH:MM (24-hour, local, the next such time), e.g. 01:30, or a date and time as " \
            "YYYY-MM-DD HH:MM, e.g. 2026-12-08 01:30"
    start = dt.datetime.fromtimestamp(time.time() if now is None else now)
    day, _, clock = text.strip().replace("T", " ").rpartition(" ")
    hh, sep, mm = clock.partition(":")
    if not (sep and hh.isdigit() and mm.isdigit() and len(mm) == 2 and int(hh) < 24 and int(mm) < 60):
        raise ValueError(f"--until takes {forms}; got {text!r}")
    if not day:
        at = start.replace(hour=int(hh), minute=int(mm), second=0, microsecond=0)
        return (at if at > start else at + dt.timedelta(days=1)).timestamp()
    try:
        at = dt.datetime.combine(dt.date.fromisoformat(day.strip()), dt.time(int(hh), int(mm)))
    except ValueError:
        raise ValueError(f"--until takes {forms}; got {text!r}") from None
    if at <= start:
        raise ValueError(f"--until {text!r} has passed (it is {start:%Y-%m-%d %H:%M}): no stack could finish by "
                         "then, so nothing is trained; give a later time")
    return at.timestamp()


def run() -> int:
    """``main`` for the console: a closed pipe (``... | head``) ends it quietly."""
    try:
        return main()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that the final flush at exit raises nothing
        return 0


if __name__ == "__main__":
    sys.exit(run())
