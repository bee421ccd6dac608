"""``python -m dipcore status`` with no grid: where the whole store stands, for the start of a
session. Every grid's own runs stored on each dataset, from one read of the store, and every stack
part-way through training (each checkpoint in ``executor.inflight_dir()``) with the grid and dataset
it belongs to, its pace, and whether a process is training it now or its checkpoint waits for
``compute`` to resume it (``cost.flight``). What a grid's missing runs cost is ``status GRID``'s.
"""
from __future__ import annotations

from . import cost, executor, grids, spec as specmod
from .store import RunStore

DATASETS = ("mnist", "fashion-mnist")  # the book's and the second one


def lines(store: RunStore, protocol: str, datasets: tuple[str, ...] = DATASETS) -> list[str]:
    """The overview, one line each: the store, a table of grids by dataset (``datasets``;
    "stored/runs", or "complete"), then the stacks in flight on any dataset (or that none is),
    then what ``status GRID`` adds."""
    records, damaged = store.read_all()
    sound = {r["key"] for r in records}
    every = tuple(datasets) + tuple(d for d in DATASETS if d not in datasets)  # a checkpoint of either is named
    own = {(name, d): grids.get(name, d, protocol) for name in sorted(grids.GRIDS) for d in every}
    owner = _holders(own, executor.closure) | _holders(own, list)  # the grids whose own run it is, where any
    rows = []
    for name in sorted(grids.GRIDS):
        have = [(sum(specmod.key(s) in sound for s in own[name, d]), len(own[name, d])) for d in datasets]
        rows.append((name, ["complete" if h == n else f"{h}/{n}" for h, n in have]))
    width = max(len(n) for n, _ in rows)
    out = [f"run store {store.root}: {len(records)} sound records" + (f", {len(damaged)} damaged" if damaged else "")
           + f" (protocol {protocol}); each grid's own runs stored, of all:",
           "  " + "grid".ljust(width) + "".join(f"  {d:>14}" for d in datasets)]
    out += ["  " + n.ljust(width) + "".join(f"  {c:>14}" for c in cells) for n, cells in rows]
    found = executor.checkpoints()
    out.append(f"stacks part-way through training (checkpoints in {executor.inflight_dir()}): "
               + (f"{len(found)}" if found else "none"))
    for path, keys in found:
        if not keys or any(k not in owner for k in keys):
            out.append(f"  {path.name}: {len(keys)} run(s) that no grid of protocol {protocol} holds "
                       "(another protocol's, or a grid changed since)")
            continue
        names, sets, _ = owner[keys[0]]
        where = f"{', '.join(names)} on {', '.join(sets)}"
        f = executor.flight(path, [owner[k][2] for k in keys])
        if f is None:
            out.append(f"  {where}: {path.name} cannot be read (training would start that stack afresh)")
        elif all(k in sound for k in keys):
            out.append(f"  {where}: {path.name}, whose runs are all stored: the next compute removes it")
        else:
            out.append(f"  {where}: {cost.flight(f)}")
    if damaged:
        out.append(f"{len(damaged)} damaged run file(s): 'python -m dipcore status GRID' names those of a grid")
    out.append("'python -m dipcore status GRID --dataset D' adds what the missing runs would cost, and names each")
    return out


def _holders(own: dict[tuple[str, str], list[dict]], runs) -> dict[str, tuple[list[str], list[str], dict]]:
    """Run key -> (the grids, the datasets, its spec) for every run of ``runs(specs)`` over the grids
    ``own`` ((grid, dataset) -> its own runs): ``list``, a grid's own runs; ``executor.closure``, with
    the runs they start from."""
    found: dict[str, tuple[list[str], list[str], dict]] = {}
    for (name, d), specs in own.items():
        for s in runs(specs):
            names, sets, _ = found.setdefault(specmod.key(s), ([], [], s))
            if name not in names:
                names.append(name)
            if d not in sets:
                sets.append(d)
    return found
