"""Beyond the paper: does each verdict hold on a second dataset? (``chapters/second_dataset``)

Every claim the book tests is decided twice, on MNIST (the paper's dataset) and on Fashion-MNIST
(the book's first dataset), from the runs each has in the store, by the same code as in its
chapter (``chapters.verdicts_by_row``); nothing is computed here. A claim's two verdicts then
*agree* (the same decided state), *flip* (reproduced on one, not reproduced on the other),
*differ* (decided on one, inconclusive or its premise not met on the other), or wait for runs on one dataset or both.
"""
from __future__ import annotations

import dataclasses

import matplotlib.pyplot as plt
import pandas as pd

from ...data import LABELS
from .. import claims, cost, executor, grids, plotting
from ..chapter import Chapter, glue, glue_markdown
from ..spec import key
from . import ROWS, verdicts_by_row

DATASETS = ("mnist", "fashion-mnist")
OUTCOMES = ("agree", "flip", "differ", "decided on one only", "pending on both")  # in the table's order
OUTCOME_COLORS = {"agree": "#009E73", "flip": "#D55E00", "differ": "#E69F00", "decided on one only": "0.7",
                  "pending on both": "0.88"}  # Okabe-Ito; waiting in greys


def outcome(a: str, b: str) -> str:
    """What two verdicts of one claim (their states) say together."""
    if claims.PENDING in (a, b):
        return "pending on both" if a == b else "decided on one only"
    if a == b:
        return "agree"
    if {a, b} == {claims.REPRODUCED, claims.NOT_REPRODUCED}:
        return "flip"
    return "differ"


def compare(rows: dict[str, dict[str, list[claims.Verdict]]]) -> pd.DataFrame:
    """One row per claim: its chapter row, the claim, its verdict on each dataset of ``rows``
    (``{dataset: verdicts_by_row}``) and the ``outcome``. A claim decided on one dataset and absent
    from the other (whose runs are not all stored, so it is one pending verdict there, named for the
    whole group) counts as pending there; such group verdicts are not counted again. A claim absent
    from a dataset with no pending verdict in its row cannot be paired: a ``ValueError`` says which."""
    first, second = DATASETS
    out = []
    for row in ROWS:
        sides = {d: {v.claim: v for v in rows[d][row.name]} for d in DATASETS}
        alone = {d: set(sides[d]) - set(sides[other]) for d, other in (DATASETS, DATASETS[::-1])}
        unpaired = [f"on {d} {sorted(alone[d])}" for d, other in (DATASETS, DATASETS[::-1])
                    if alone[d] and not any(v.verdict == claims.PENDING for v in sides[other].values())]
        if unpaired:
            raise ValueError(f"{row.name}: claims with no counterpart on the other dataset, whose runs are all stored: "
                             f"{'; '.join(unpaired)}. A claim's words must not depend on the runs (name a choice the "
                             "runs make, such as the better LR, in the evidence)")
        for claim in dict.fromkeys([*sides[first], *sides[second]]):
            v = {d: sides[d].get(claim) for d in DATASETS}
            if any(x is None for x in v.values()) and all(x is None or x.verdict == claims.PENDING for x in v.values()):
                continue  # a group's pending stand-in on one side: its claims are counted one by one
            states = {d: claims.PENDING if x is None else x.verdict for d, x in v.items()}
            out.append({"chapter": row.name, "claim": claim, first: states[first], second: states[second],
                        "outcome": outcome(states[first], states[second])})
    return pd.DataFrame(out, columns=["chapter", "claim", *DATASETS, "outcome"])


def shown(table: pd.DataFrame) -> pd.DataFrame:
    """``compare``'s table as the page shows it: claims decided on both datasets first (``OUTCOMES``'
    order), indexed by chapter and claim, each verdict with its mark (``claims.marked``)."""
    order = {o: i for i, o in enumerate(OUTCOMES)}
    out = table.sort_values("outcome", key=lambda s: s.map(order), kind="stable").set_index(["chapter", "claim"])
    return out.assign(**{d: out[d].map(claims.marked) for d in DATASETS})


def summary(table: pd.DataFrame) -> str:
    """The page's one line: how many claims agree, flip, differ or wait."""
    counts = table.outcome.value_counts()
    parts = [f"{int(counts.get(o, 0))} {o}" for o in OUTCOMES if counts.get(o, 0)]
    return f"{len(table)} claims: " + ", ".join(parts)


def waiting(table: pd.DataFrame) -> str:
    """Which dataset's runs the claims not decided on both wait for, counted from ``table``
    (``compare``'s), so the page never says a dataset is behind when it is not."""
    pend = {d: table[d] == claims.PENDING for d in DATASETS}
    first, second = DATASETS
    counts = {"MNIST": int((pend[first] & ~pend[second]).sum()),
              "Fashion-MNIST": int((pend[second] & ~pend[first]).sum()),
              "both datasets": int((pend[first] & pend[second]).sum())}
    parts = [f"{n} on {where}" for where, n in counts.items() if n]
    return ("The rest wait for runs: " + ", ".join(parts)) if parts else "No claim waits for runs"


def missing_runs(ch: Chapter) -> str:
    """The grids of the book (every row's, their ancestors included) with runs missing in ``ch``'s
    store on each dataset, at ``ch``'s protocol: what each holds and what the rest would cost
    (``cost.sentence``), as a sentence; the claims that wait for runs wait for these."""
    records = ch.store.read_all()[0]  # each record read and checked once, for every grid on both datasets
    sound = {r["key"] for r in records}  # a run missing or damaged is not among them: what compute would write
    parts = []
    for d in DATASETS:
        found = []
        for g in dict.fromkeys(g for r in ROWS for g in r.grids):
            specs = executor.closure(grids.get(g, d, ch.protocol.name))
            todo = [s for s in specs if key(s) not in sound]
            if todo:
                found.append(f"`{g}` ({len(specs) - len(todo)} of its {len(specs)} runs stored; the "
                             f"{len(todo)} missing {cost.sentence(todo, records)})")
        if found:
            parts.append(f"on {LABELS[d]}, " + "; ".join(found))
    if not parts:
        return "Every grid of the book is complete on both datasets."
    return ("Runs still missing: " + "; and ".join(parts) + ". `python -m dipcore status GRID --dataset ...` lists "
            "them and `python -m dipcore compute GRID --dataset ...` computes them.")


def plot(ax, table: pd.DataFrame) -> None:
    """One bar per chapter row: how many of its claims fall in each outcome."""
    counts = table.groupby(["chapter", "outcome"]).size().unstack(fill_value=0).reindex(
        index=[r.name for r in ROWS if r.name in set(table.chapter)], columns=list(OUTCOMES), fill_value=0)
    left = pd.Series(0, index=counts.index)
    for outcome in OUTCOMES:
        ax.barh(counts.index, counts[outcome], left=left, color=OUTCOME_COLORS[outcome], label=outcome)
        left += counts[outcome]
    ax.invert_yaxis()
    ax.set(xlabel="claims", ylabel="")
    ax.grid(axis="y", visible=False)
    ax.legend(loc="lower right", fontsize=8)


def page(ch: Chapter) -> pd.DataFrame:
    """Decides every claim on both datasets (``ch``'s protocol, store and seeds; nothing computed)
    and glues ``sd_summary`` (``summary``), ``sd_<outcome>`` (each outcome's count, spaces as
    underscores), ``sd_decided`` (claims decided on both), ``sd_waiting`` (``waiting``), ``sd_missing``
    (``missing_runs``) and the figure ``second_dataset``. Returns ``compare``'s table."""
    never = dataclasses.replace(ch, compute="never")
    table = compare({d: verdicts_by_row(dataclasses.replace(never, dataset=d)) for d in DATASETS})
    glue("sd_summary", summary(table))
    glue("sd_waiting", waiting(table))
    glue_markdown("sd_missing", missing_runs(never))
    for o in OUTCOMES:
        glue(f"sd_{o.replace(' ', '_')}", int((table.outcome == o).sum()))
    glue("sd_decided", int(table.outcome.isin(["agree", "flip", "differ"]).sum()))
    plotting.use_style()
    fig, ax = plt.subplots(figsize=(8, 3.6))
    plot(ax, table)
    ch.figure(fig, "second_dataset", "**Each chapter's claims on MNIST and on Fashion-MNIST**: how many of their two "
              "verdicts agree, flip or differ, and how many wait for runs on one dataset or both.")
    return table
