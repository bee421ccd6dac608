"""The paper's reported numbers, kept once as data (``data/paper/numbers.csv``): each row cites
its table and row label. Chapters set them beside ours; nothing is retyped in a notebook.

Tables 1, 3 and 7 are on MNIST; Tables 4 and 5 on ImageNet (ResNet-18/34, top-1) and Table 6 on
CIFAR-10 (WRN-40-2), as the paper reports them (``DATASETS``). In Table 5 the ``setting`` column
holds the book's reading of "Pruned-Finetuned-1/2" (the row keeps the paper's label): Finetuned-2
is the LR 0.01 schedule, although the caption says the opposite (chapters/value_of_pruning).
"""
from __future__ import annotations

from pathlib import Path

from ..nets import ENTRIES

NUMBERS = Path(__file__).resolve().parents[2] / "data" / "paper" / "numbers.csv"
DATASETS = {1: "MNIST", 3: "MNIST", 4: "ImageNet", 5: "ImageNet", 6: "CIFAR-10", 7: "MNIST"}
NET_LABELS = {name: entry.label for name, entry in ENTRIES.items()}  # the paper's names


def numbers(table: int | None = None):
    """The paper's numbers as a pandas DataFrame (columns: table, row, net, ratio, setting, lr,
    metric, value, std), optionally of one table."""
    import pandas as pd

    df = pd.read_csv(NUMBERS, dtype={"table": int})
    return df if table is None else df[df.table == table].reset_index(drop=True)


def value(table: int, **where) -> tuple[float, float | None]:
    """One reported number and its std (None when the paper gives none), selected by columns,
    e.g. ``value(3, ratio=0.8, setting="90 epochs", lr=0.01)``."""
    import math

    df = numbers(table)
    for k, v in where.items():
        df = df[df[k] == v]
    if len(df) != 1:
        raise KeyError(f"Table {table} has {len(df)} numbers for {where}")
    std = df["std"].iloc[0]
    return float(df["value"].iloc[0]), None if math.isnan(std) else float(std)


def printed(table, decimals: int = 2):
    """A table of the paper's numbers as the page shows it: ``decimals`` places, and a dash where
    the paper prints no number (a reduction of the unpruned row, a schedule an implementation was
    not run with), never pandas' "NaN". Index and columns are kept; the cells become text."""
    import pandas as pd

    return table.map(lambda v: "–" if pd.isna(v) else f"{v:.{decimals}f}")
