"""The shared toolkit of the book's pages: stored records as frames (one row per run), table cells
that never show a partial mean, the paper's Tables 3 / 7 layout, and the small comparisons every
chapter's verdicts are built from. Each chapter's own tables, notes and verdicts live in its module
of ``dipcore.book.chapters``."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import claims, paper
from .grids import HYPOTHESES
from .cost import thread_seconds
from .spec import key, recovery

LINEAR_TOL = 1e-4  # |JSV - 1| below this counts as exact isometry in float32

def pretrained_frame(records: list[dict], label: str):
    """The unpruned networks: our final test accuracy beside the paper's (Tables 3 and 7)."""
    rows = []
    for rec in records:
        net = rec["spec"]["net"]
        table = 3 if net == "mlp7-linear" else 7
        rows.append({"network": paper.NET_LABELS[net], f"ours, {label} (%)": rec["final_acc"],
                     "best epoch (%)": rec["best_acc"], "paper, MNIST (%)": paper.value(table, net=net, setting="Unpruned")[0],
                     "paper source": f"Table {table}", "wall time (min)": rec["meta"]["wall_s"] / 60})
    return pd.DataFrame(rows).set_index("network")

def jsv_frame(records: list[dict]):
    """One row per measurement record: its spec's net, ratio, OrthP, recovery, seed and the JSV stats."""
    return pd.DataFrame([{"net": r["spec"]["net"], "ratio": r["spec"]["ratio"], "orthp": r["spec"]["orthp"],
                          "recovery": recovery(r["spec"]),
                          "seed": r["spec"]["seed"], **{f"jsv_{k}": v for k, v in r["jsv"].items()},
                          "test_acc": r["test_acc"]} for r in records])

@dataclass
class GridPage:
    """What a page built on a grid of runs shows: one row per run (``frame``; runs not stored yet
    have status ``missing``), its tables (by network label) and its verdicts."""

    frame: object
    tables: dict
    verdicts: list[claims.Verdict]

    @property
    def have(self) -> int:
        return int((self.frame.status != "missing").sum())

    @property
    def need(self) -> int:
        return len(self.frame)

def runs_frame(labelled: list[tuple[dict, dict]], records: list[dict | None]):
    """One row per finetuning or scratch run: its labels (ratio, setting, lr, hypothesis, seed), its
    epochs, final and best test accuracy, the test accuracy right after pruning/OrthP (``acc_0``) and after
    the first finetuning epoch (``acc_1``), the mean JSV right after pruning/OrthP and at the end, and
    its per-epoch curves of mean JSV and test accuracy (``jsv_curve``, ``acc_curve``: lists, epoch 0
    first; what ``mechanism`` reads). A run not stored yet (record None) is a row with status ``missing`` and no numbers."""
    rows = []
    for (labels, spec), rec in zip(labelled, records):
        labels = {**labels, "epochs": spec.get("epochs")}
        if rec is None:
            rows.append({**labels, "status": "missing", "key": key(spec)})
            continue
        m = rec["metrics"]
        rows.append({**labels, "final_acc": rec["final_acc"], "best_acc": rec["best_acc"], "status": rec["status"],
                     "acc_0": m["test_acc"][0], "acc_1": m["test_acc"][1] if len(m["test_acc"]) > 1 else None,
                     "jsv_0": m["jsv_mean"][0], "jsv_end": m["jsv_mean"][-1],
                     "jsv_curve": m["jsv_mean"], "acc_curve": m["test_acc"], "key": rec["key"]})
    cols = ["final_acc", "best_acc", "acc_0", "acc_1", "jsv_0", "jsv_end", "jsv_curve", "acc_curve"]
    return pd.DataFrame(rows).reindex(columns=list(dict.fromkeys([*rows[0], *cols]))) if rows else pd.DataFrame()

def compute_table(frame, by_key: dict, by=("net", "epochs")):
    """What the runs of a page cost, one row per group of ``frame`` (``runs_frame``; ``by_key``: the
    stored records by key): runs stored of those the page needs, the devices they ran on, how many
    were trained at once, and the training time per run and in all, in thread-hours (a stack's wall
    time divided among its runs, times its CPU threads; on a GPU, wall time). Measured times, as
    stored in each run's ``meta``; a group with no stored run shows only its count."""
    rows = []
    for group, g in frame.groupby(list(by), sort=False):
        metas = [by_key[k]["meta"] for k in g.key if k in by_key]
        row = {c: paper.NET_LABELS.get(v, v) if c == "net" else v
               for c, v in zip(by, group if isinstance(group, tuple) else (group,))}
        row["runs"] = f"{len(metas)} of {len(g)}"
        hours = [thread_seconds(m) / 3600 for m in metas if m.get("wall_s")]
        row["device"] = ", ".join(sorted({m.get("device", "?") for m in metas})) or "–"
        row["runs at once"] = ", ".join(str(n) for n in sorted({m.get("stacked_with", 1) for m in metas})) or "–"
        lo, hi = (_hours(min(hours), 2), _hours(max(hours), 2)) if hours else ("–", "–")
        row["hours per run"] = lo if lo == hi else f"{lo}-{hi}"
        row["hours in all"] = _hours(sum(hours), 1) if hours else "–"
        rows.append(row)
    return pd.DataFrame(rows).set_index(list(by)) if rows else pd.DataFrame()


def _hours(h: float, digits: int) -> str:
    """``h`` hours to ``digits`` decimals, or to one significant digit where those would show 0."""
    return f"{h:.{digits}f}" if h == 0 or h >= 10 ** -digits else f"{h:.1g}"


def listed(items, empty: str = "none") -> str:
    """Items as prose lists them: "a, b and c" (``empty`` when there are none)."""
    items = list(items)
    return empty if not items else items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]

def signed(value: float, places: int = 1) -> str:
    """A difference as the prose prints it: its sign always, a true minus sign ("−2.4", "+0.38")."""
    return f"{value:+.{places}f}".replace("-", "−")

def stored(frame):
    """The rows of runs that are in the store."""
    return frame[frame.status != "missing"]

def _fmt(x) -> str:
    return f"{x.mean():.2f} ({x.std(ddof=0):.2f})" if len(x) else "–"

def complete(g) -> bool:
    """Whether the rows ``g`` are there and all stored (a verdict or a mean waits for all of them)."""
    return len(g) > 0 and bool((g.status != "missing").all())

def cell(g, column: str = "final_acc") -> str:
    """A table cell of the rows ``g``: mean (std) of ``column``, or "pending (have/need)" while any
    is missing (never a partial mean); runs marked ``diverged`` (counted at their ``column`` value)
    are named."""
    have = int((g.status != "missing").sum())
    if have < len(g):
        return f"pending ({have}/{len(g)})"
    diverged = int(g.diverged.sum()) if "diverged" in g else 0
    return _fmt(g[column].astype(float)) + (f", {diverged} diverged" if diverged else "")

def _paper(table: int, **where) -> tuple[float, float | None] | None:
    """A reported number and its std, None for a row of ours the paper does not have (AI)."""
    try:
        return paper.value(table, **where)
    except KeyError:
        return None

def _fmt_paper(p) -> str:
    return "–" if p is None else f"{p[0]:.2f}" if p[1] is None else f"{p[0]:.2f} ({p[1]:.2f})"

def results_table(frame, paper_table: int, net: str, column: str = "final_acc"):
    """Tables 3 / 7 in the paper's layout: per ratio and setting, mean (std) over seeds for LR
    0.001 and LR 0.01 and the "Acc. gain" of 0.01 over 0.001, ours beside the paper's."""
    rows = []
    for (ratio, setting), g in frame.groupby(["ratio", "setting"], sort=False):
        row = {"pruning ratio": ratio, "setting": setting}
        have = int((g.status != "missing").sum())
        if have < len(g):  # shown once all its runs are in: never a partial mean
            pending = f"pending ({have}/{len(g)} runs)"
            row.update({"LR 0.001": pending, "LR 0.01": "" if setting == "Scratch" else pending, "Acc. gain": ""})
        elif setting == "Scratch":
            row.update({"LR 0.001": _fmt(g[column]), "LR 0.01": "", "Acc. gain": ""})
        else:
            lo, hi = g[g.lr == 0.001][column], g[g.lr == 0.01][column]
            row.update({"LR 0.001": _fmt(lo), "LR 0.01": _fmt(hi), "Acc. gain": f"{lr_gain(frame, ratio, setting, column):+.2f}"})
        if setting == "Scratch":
            row.update({"paper LR 0.001": _fmt_paper(_paper(paper_table, net=net, ratio=ratio, setting="Scratch")),
                        "paper LR 0.01": "", "paper Acc. gain": ""})
        else:
            p_lo, p_hi = (_paper(paper_table, net=net, ratio=ratio, setting=setting, lr=lr) for lr in (0.001, 0.01))
            gain = "–" if None in (p_lo, p_hi) else f"{p_hi[0] - p_lo[0]:+.2f}"
            row.update({"paper LR 0.001": _fmt_paper(p_lo), "paper LR 0.01": _fmt_paper(p_hi), "paper Acc. gain": gain})
        rows.append(row)
    out = pd.DataFrame(rows).set_index(["pruning ratio", "setting"])
    out.columns = pd.MultiIndex.from_tuples([("paper (MNIST)", c[6:]) if c.startswith("paper") else ("ours", c)
                                             for c in out.columns])
    return out

def cell_agreement(frame, paper_table: int, net: str, column: str = "final_acc", network_sd: dict | None = None):
    """Tables 3 / 7 cell by cell (issue 33): each cell whose runs are all stored (ratio, setting,
    LR; scratch has one) beside the paper's same cell, with ``agreement.cell`` (Welch's test from
    the paper's printed mean (std) over its 5 runs); and the table's one-line summary
    (``agreement.summary``), which also counts the cells still pending. ``network_sd`` (by
    (ratio, setting, LR): (sd, networks, their means), ``robustness.network_spread``) adds how far
    each cell's mean moves with the pretrained network, and its mean from each, where measured.
    Returns (frame, line)."""
    from . import agreement

    rows, cells, waiting = [], {}, 0
    for (ratio, setting, lr), g in frame.groupby(["ratio", "setting", "lr"], sort=False, dropna=False):
        lr = None if setting == "Scratch" else lr
        p = _paper(paper_table, net=net, ratio=ratio, setting=setting, **({} if lr is None else {"lr": lr}))
        if p is None:  # a row of ours the paper does not have (AI)
            continue
        if (g.status == "missing").any():
            waiting += 1
            continue
        name = f"{ratio} {setting}" + ("" if lr is None else f" LR {lr}")
        c = cells[name] = agreement.cell(g[column].tolist(), p[0], p[1])
        rows.append({"pruning ratio": ratio, "setting": setting, "LR": "–" if lr is None else lr,
                     "ours": f"{c['mean']:.2f} ({c['std']:.2f})", "paper (MNIST)": _fmt_paper(p),
                     "difference": round(c["difference"], 2), "p": "–" if c["p"] is None else claims.p_value(c["p"]),
                     "agrees": "–" if c["agree"] is None else "yes" if c["agree"] else "no"}
                    | ({} if network_sd is None else _spread(network_sd, ratio, setting, lr)))
    line = agreement.summary(cells) if cells else "No cell has all its runs stored yet."
    if waiting:
        line = line[:-1] + f"; {waiting} cell{'s' if waiting != 1 else ''} pending (runs not stored yet)."
    table = pd.DataFrame(rows).set_index(["pruning ratio", "setting", "LR"]) if rows else pd.DataFrame()
    return table, line

def _spread(network_sd: dict, ratio, setting, lr) -> dict[str, str]:
    """``cell_agreement``'s two columns on the pretrained networks for one cell."""
    got = network_sd.get((float(ratio), setting, None if lr is None else float(lr)))
    if got is None:
        return {NETWORK_SD: NOT_MEASURED, NETWORK_MEANS: NOT_MEASURED}
    return {NETWORK_SD: f"{got[0]:.2f}", NETWORK_MEANS: ", ".join(f"{m:.1f}" for m in got[2])}


NETWORK_SD, NOT_MEASURED = "sd across pretrained networks", "not measured"  # cell_agreement's column, its blank
NETWORK_MEANS = "mean per pretrained network"  # its other column: the book's network first


def measured_cells(table):
    """The rows of ``cell_agreement``'s table whose sd across pretrained networks is measured
    (none without that column)."""
    return table[table[NETWORK_SD] != NOT_MEASURED] if NETWORK_SD in table else table.iloc[:0]


def network_note(table) -> str:
    """For ``cell_agreement``'s table with its column of sd across pretrained networks: of the cells
    that differ from the paper's, how many differ by less than twice that sd (as a cell from another
    pretrained network might), and which by more; "" without the column."""
    col = NETWORK_SD
    if table.empty or col not in table:
        return ""
    measured = measured_cells(table)
    if measured.empty:
        return "How far a cell moves with the pretrained network is not measured yet for these cells."
    sds = measured[col].astype(float)
    differ = measured[measured.agrees == "no"]
    within = differ[differ.difference.abs() < 2 * differ[col].astype(float)]
    beyond = differ.drop(within.index)
    name = lambda i: f"{i[0]} {i[1]}" + ("" if i[2] == "–" else f" LR {i[2]}")  # noqa: E731
    line = (f"Across five pretrained networks (the robustness grid) a cell's mean moves by an sd of "
            f"{sds.min():.2f}-{sds.max():.2f} points ({len(measured)} of {len(table)} cells measured)")
    widest = _widest(measured, name)
    if differ.empty:
        return line + "." + widest
    listed = ", ".join(f"{name(i)} ({r.difference:+.2f}, sd {float(r[col]):.2f})" for i, r in beyond.iterrows())
    could = "(as another pretrained network could)"
    if len(differ) == 1:
        by = f"less than twice its sd {could}." if len(within) else f"more than twice its sd: {listed}."
        return line + "; the one measured cell that differs from the paper's differs by " + by + widest
    line += (f"; of the {len(differ)} measured cells that differ from the paper's, {len(within)} differ by less "
             f"than twice their cell's sd {could}")
    return line + (f" and {len(beyond)} by more: {listed}" if len(beyond) else "") + "." + widest


def _widest(measured, name) -> str:
    """``network_note``'s last sentence: the cell whose mean moves most with the pretrained network, and
    its mean from each (an sd can be one network's runs apart from the rest), where the table has them."""
    if NETWORK_MEANS not in measured:
        return ""
    i = measured[NETWORK_SD].astype(float).idxmax()
    return (f" The widest, {name(i)}, has these means from the pretrained networks (the book's first): "
            f"{measured.loc[i, NETWORK_MEANS]}.")


def acc(frame, ratio, setting, lr, column="final_acc") -> list[float]:
    """The ``column`` values of the runs of one setting at one ratio and LR (``runs_frame``'s rows)."""
    g = frame[(frame.ratio == ratio) & (frame.setting == setting) & (frame.lr == lr)]
    return g[column].tolist()

def lr_gain(frame, ratio: float, setting: str, column: str = "final_acc") -> float:
    """Table 3's "Acc. gain": mean accuracy at LR 0.01 minus at LR 0.001 in one setting."""
    return float(np.mean(acc(frame, ratio, setting, 0.01, column)) - np.mean(acc(frame, ratio, setting, 0.001, column)))

def pending(frame, ratio: float, settings: list[str], claim: str, source: str, command: str | dict | None,
             state: str = "are not stored yet"):
    """A pending verdict when some runs of ``settings`` at ``ratio`` are not stored yet, else None.
    ``command`` computes them: one command, or one per grid (``{grid: command}``, the frame's
    ``grid`` column saying which grid each run belongs to), of which the verdict names those its
    missing runs belong to."""
    g = frame[(frame.ratio == ratio) & frame.setting.isin(settings)]
    have = int((g.status != "missing").sum())
    if have == len(g) and len(g):
        return None
    if isinstance(command, dict):
        todo = set(g[g.status == "missing"].grid)
        command = " && ".join(c for grid, c in command.items() if grid in todo)
    return claims.pending(claim, source, have, len(g), command or "python -m dipcore compute ...", state)


def best_lr(frame, ratio: float, setting: str, column: str = "final_acc") -> tuple[list, float]:
    """The runs of ``setting`` at its better LR (by mean), and that LR."""
    means = {lr: np.mean(acc(frame, ratio, setting, lr, column) or [np.nan]) for lr in (0.01, 0.001)}
    lr = max(means, key=lambda k: means[k])
    return acc(frame, ratio, setting, lr, column), lr


def at_better_lrs(frame, ratio: float, a: str, b: str, names: tuple[str, str], rule) -> claims.Verdict:
    """``rule(runs of a, runs of b)`` with each setting at its better LR (``best_lr``), the LRs named
    in the evidence, never in the claim: a claim's words must not hang on the runs, or the same claim
    would read differently on two datasets (``chapters.second_dataset`` pairs claims by their words).
    ``rule`` is e.g. ``claims.greater`` ("helps", "beats") or ``claims.not_above`` ("does not help")."""
    (xa, la), (xb, lb) = best_lr(frame, ratio, a), best_lr(frame, ratio, b)
    return rule(xa, xb).with_evidence(after=f"{names[0]} at LR {la}, {names[1]} at LR {lb}")


# -- §3.3's four hypotheses, decided on any frame of their runs (Table 3, Table 7, robustness) --
def hypothesis_claim(net_label: str, ratio: float, h: int) -> str:
    """The claim of hypothesis ``h`` at one pruning ratio, in the words every page uses."""
    hyp = HYPOTHESES[h]
    pre = f"{net_label}, ratio {ratio}: "
    if hyp.base is None:
        return pre + f"after {hyp.epochs} epochs of finetuning, LR 0.01 beats LR 0.001"
    return pre + f"the gain of LR 0.01 over 0.001 is smaller {hyp.change}"


def hypothesis_verdicts(frame, h: int, source: str = "§3.3, Table 3", command: str | dict | None = None,
                        across: bool = False, state: str = "are not stored yet") -> list[claims.Verdict]:
    """The verdict of hypothesis ``h`` (``grids.HYPOTHESES``) at each pruning ratio (rules in
    ``dipcore.book.claims``): H1, LR 0.01 beats 0.001 in its setting; H2-H4, the gain of LR 0.01
    over 0.001 is smaller in its setting than in its base hypothesis's, decided only where LR 0.01
    beats 0.001 in the base setting (its premise, ``claims.premised``). Pending while runs are
    missing (the rest ``state``; ``command`` computes them). ``across``: the frame holds runs from several pretrained
    networks (its ``pretrained`` column), and the claim is decided across them, finetuning seeds
    nested in each (``claims.greater_across`` / ``claims.smaller_gain_across``; the claim text
    ends "(across pretrained networks)")."""
    hyp = HYPOTHESES[h]
    out = []
    net = paper.NET_LABELS[frame.net.iloc[0]]
    nets_ = sorted(frame.pretrained.unique()) if across else None
    greater, smaller_gain = (claims.greater_across, claims.smaller_gain_across) if across else (claims.greater,
                                                                                                   claims.smaller_gain)
    for ratio in sorted(frame.ratio.unique()):
        def runs_at(setting, lr, ratio=ratio):
            if not across:
                return acc(frame, ratio, setting, lr)
            return [acc(frame[frame.pretrained == p], ratio, setting, lr) for p in nets_]

        claim = hypothesis_claim(net, ratio, h) + (" (across pretrained networks)" if across else "")
        if (v := pending(frame, ratio, hyp.settings, claim, source, command, state)) is not None:
            out.append(v)
        elif hyp.base is None:
            out.append(greater(runs_at(hyp.setting, 0.01), runs_at(hyp.setting, 0.001), claim, source, unit=" points"))
        else:
            base = HYPOTHESES[hyp.base].setting
            premise = greater(runs_at(base, 0.01), runs_at(base, 0.001),
                              f"LR 0.01 beats LR 0.001 ({base})", source, unit=" points")
            out.append(claims.premised(premise, smaller_gain(runs_at(base, 0.01), runs_at(base, 0.001),
                                                             runs_at(hyp.setting, 0.01), runs_at(hyp.setting, 0.001),
                                                             claim, source, unit=" points")))
    return out
