"""The book's chapters: one module per page, named after its notebook, and the registry that
lists them in the table of contents' order.

Every chapter module has the same small interface:

* ``page(ch, ...)`` reads (or, when the chapter may, computes) the page's runs, glues the values
  and figures its prose places, and returns what the notebook shows, in its order;
* ``verdicts(ch)`` decides the page's claims for the claims page, by the same code as the page;
* ``GRIDS``, the grids (``dipcore.book.grids.GRIDS``) its runs come from.

``ROWS`` is the introduction's table: each row names its pages, grids and verdicts. The claims
page (``verdicts_by_row``, ``glue_row_statuses``), the introduction's status column and the
README's grid list follow it (tested). A new chapter is a module here, a row in ``ROWS``, a
notebook in ``chapters/`` and a line of ``_toc.yml``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .. import claims
from ..chapter import Chapter, glue
from . import (dynamical_isometry, hypotheses, orthp, pruning_at_init, reproducibility, robustness, table7,
               value_of_pruning)


@dataclass(frozen=True)
class Row:
    """One row of the introduction's table: its name (``status_<name>`` on the claims page), its
    pages (notebooks in ``chapters/``), the grids their runs come from, and its verdicts."""

    name: str
    pages: tuple[str, ...]
    grids: tuple[str, ...]
    verdicts: Callable[[Chapter], list[claims.Verdict]]


ROWS = (
    Row("dynamical_isometry", ("dynamical_isometry",), dynamical_isometry.GRIDS, dynamical_isometry.verdicts),
    Row("orthp", ("orthp",), orthp.GRIDS, orthp.verdicts),
    Row("hypotheses", ("hypothesis1", "hypothesis2", "hypothesis3", "hypothesis4"), hypotheses.GRIDS,
        hypotheses.verdicts),
    Row("table3", ("table3",), hypotheses.GRIDS, hypotheses.table3_verdicts),  # its own claims, not the hypotheses'
    Row("value_of_pruning", ("value_of_pruning",), value_of_pruning.GRIDS, value_of_pruning.verdicts),
    Row("table7", ("table7",), table7.GRIDS, table7.verdicts),
    Row("pruning_at_init", ("pruning_at_init",), pruning_at_init.GRIDS, pruning_at_init.verdicts),
    Row("robustness", ("robustness",), robustness.GRIDS, robustness.verdicts),
)
EVIDENCE_PAGES = ("claims", "protocol", "reproducibility")  # the pages after the chapters: no verdicts of their own


def verdicts_by_row(ch: Chapter) -> dict[str, list[claims.Verdict]]:
    """Every claim the book tests, by the introduction's row that shows it (``ROWS``; ``table3``:
    the page's own claims, not the hypotheses' it repeats), each once and decided by the same code as
    in its chapter; a claim whose runs are not all stored (and may not be computed) is ``pending``."""
    return {row.name: row.verdicts(ch) for row in ROWS}


def all_verdicts(ch: Chapter) -> list[claims.Verdict]:
    """Every claim the book tests, in the book's order, each once (``verdicts_by_row``, flattened)."""
    return [v for row in verdicts_by_row(ch).values() for v in row]


def glue_row_statuses(rows: dict[str, list[claims.Verdict]]) -> dict[str, str]:
    """Glue each row's verdict counts (``claims.summary``) as ``status_<row>``, for the introduction's
    table to paste from the claims page (``{glue:text}`claims.ipynb::status_table7:s```): the Table 3
    row counts the hypotheses it repeats as well, ``status_all`` every claim. Returns them by row."""
    out = {r: claims.summary(vs) for r, vs in rows.items()}
    out["table3"] = claims.summary(rows["hypotheses"] + rows["table3"])
    out["all"] = claims.summary([v for vs in rows.values() for v in vs])
    for r, text in out.items():
        glue(f"status_{r}", text)
    return out


__all__ = ["EVIDENCE_PAGES", "ROWS", "Row", "all_verdicts", "dynamical_isometry", "glue_row_statuses", "hypotheses",
           "orthp", "pruning_at_init", "reproducibility", "robustness", "table7", "value_of_pruning", "verdicts_by_row"]
