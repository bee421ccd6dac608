"""Beyond the paper: does each verdict hold on a second dataset? (``chapters/second_dataset``)

Every claim the book tests is decided twice, on MNIST (the paper's dataset) and on Fashion-MNIST
(the book's first dataset), from the runs each has in the store, by the same code as in its
chapter (``chapters.verdicts_by_row``); nothing is computed here. A claim's two verdicts then
*agree* (the same decided state), *flip* (reproduced on one, not reproduced on the other),
*differ* (decided on one, inconclusive or its premise not met on the other), or wait for runs on one dataset or both.
"""
from __future__ import annotations

import dataclasses

import pandas as pd

from .. import claims
from ..chapter import Chapter, glue
from . import ROWS, verdicts_by_row

DATASETS = ("mnist", "fashion-mnist")
OUTCOMES = ("agree", "flip", "differ", "decided on one only", "pending on both")  # in the table's order


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
    whole group) counts as pending there; such group verdicts are not counted again."""
    first, second = DATASETS
    out = []
    for row in ROWS:
        sides = {d: {v.claim: v for v in rows[d][row.name]} for d in DATASETS}
        for claim in dict.fromkeys([*sides[first], *sides[second]]):
            v = {d: sides[d].get(claim) for d in DATASETS}
            if any(x is None for x in v.values()) and all(x is None or x.verdict == claims.PENDING for x in v.values()):
                continue  # a group's pending stand-in on one side: its claims are counted one by one
            states = {d: claims.PENDING if x is None else x.verdict for d, x in v.items()}
            out.append({"chapter": row.name, "claim": claim, first: states[first], second: states[second],
                        "outcome": outcome(states[first], states[second])})
    return pd.DataFrame(out, columns=["chapter", "claim", *DATASETS, "outcome"])


def summary(table: pd.DataFrame) -> str:
    """The page's one line: how many claims agree, flip, differ or wait."""
    counts = table.outcome.value_counts()
    parts = [f"{int(counts.get(o, 0))} {o}" for o in OUTCOMES if counts.get(o, 0)]
    return f"{len(table)} claims: " + ", ".join(parts)


def page(ch: Chapter) -> pd.DataFrame:
    """Decides every claim on both datasets (``ch``'s protocol, store and seeds; nothing computed)
    and glues ``sd_summary`` (``summary``), ``sd_<outcome>`` (each outcome's count, spaces as
    underscores) and ``sd_decided`` (claims decided on both). Returns ``compare``'s table."""
    never = dataclasses.replace(ch, compute="never")
    table = compare({d: verdicts_by_row(dataclasses.replace(never, dataset=d)) for d in DATASETS})
    glue("sd_summary", summary(table))
    for o in OUTCOMES:
        glue(f"sd_{o.replace(' ', '_')}", int((table.outcome == o).sum()))
    glue("sd_decided", int(table.outcome.isin(["agree", "flip", "differ"]).sum()))
    return table
