"""The book's chapters: one module per page, named after its notebook, and the registry that
lists them in the table of contents' order.

Every chapter module has the same small interface:

* ``page(ch, ...)`` reads (or, when the chapter may, computes) the page's runs, glues the values
  and figures its prose places, and returns what the notebook shows, in its order;
* ``verdicts(ch)`` decides the page's claims for the claims page, by the same code as the page;
* ``GRIDS``, the grids (``dipcore.book.grids.GRIDS``) its runs come from;
* ``REQUIRED``, those of its grids whose every run the page needs (it reads the others as they
  are, their missing runs pending), which an edition that may not compute checks first;
* ``DATASET``, the dataset its page is published on (its notebook's default ``dataset``): the
  paper's, MNIST, once its grids are complete there, Fashion-MNIST until then. A page never mixes
  datasets; the claims page decides each row on its chapter's dataset.

``ROWS`` is the introduction's table: each row names its pages, grids and verdicts. The claims
page (``verdicts_by_row``, ``glue_row_statuses``), the introduction's status column and the
README's grid list follow it (tested). A new chapter is a module here, a row in ``ROWS``, a
notebook in ``chapters/`` and a line of ``_toc.yml``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from types import ModuleType
from typing import Callable

import pandas as pd

from ...data import LABELS
from .. import claims, executor, grids
from ..chapter import Chapter, glue
from ..store import RunStore
from . import (dynamical_isometry, hypotheses, orthp, pruning_at_init, reproducibility, robustness, table7,
               value_of_pruning)


@dataclass(frozen=True)
class Row:
    """One row of the introduction's table: its name (``status_<name>`` on the claims page), its
    chapter module, its pages (notebooks in ``chapters/``; default: the row's name) and its
    verdicts (default: the module's); the grids and the dataset are the module's."""

    name: str
    module: ModuleType
    pages: tuple[str, ...] = ()
    decided_by: Callable[[Chapter], list[claims.Verdict]] | None = None
    title: str = ""  # how the introduction names it in prose (``published_sentence``: which dataset it is on)

    @property
    def verdicts(self) -> Callable[[Chapter], list[claims.Verdict]]:
        return self.decided_by or self.module.verdicts

    @property
    def grids(self) -> tuple[str, ...]:
        return self.module.GRIDS

    @property
    def dataset(self) -> str:
        return self.module.DATASET

    def __post_init__(self):
        if not self.pages:
            object.__setattr__(self, "pages", (self.name,))


ROWS = (
    Row("dynamical_isometry", dynamical_isometry, title="§3.1 (Table 1, Figure 1)"),
    Row("orthp", orthp, title="§3.2 (OrthP)"),
    Row("hypotheses", hypotheses, pages=("hypothesis1", "hypothesis2", "hypothesis3", "hypothesis4"),
        title="§3.3's four hypotheses"),
    Row("table3", hypotheses, decided_by=hypotheses.table3_verdicts, title="Table 3 (with Figure 2)"),  # its own claims
    Row("value_of_pruning", value_of_pruning, title="§3.4"),
    Row("table7", table7, title="§4 (Table 7)"),
    Row("pruning_at_init", pruning_at_init, title="pruning at initialization"),
    Row("robustness", robustness, title="the robustness chapter"),
)
COMPARISON_PAGES = ("second_dataset",)  # after the chapters: their verdicts compared, none of their own
EVIDENCE_PAGES = ("claims", "protocol", "reproducibility")  # the pages after the chapters: no verdicts of their own


def verdicts_by_row(ch: Chapter) -> dict[str, list[claims.Verdict]]:
    """Every claim the book tests, by the introduction's row that shows it (``ROWS``; ``table3``:
    the page's own claims, not the hypotheses' it repeats), each once and decided by the same code as
    in its chapter; a claim whose runs are not all stored (and may not be computed) is ``pending``."""
    return {row.name: row.verdicts(on_dataset(ch, row)) for row in ROWS}


def on_dataset(ch: Chapter, row: Row) -> Chapter:
    """``ch`` for ``row``: as it is when it names a dataset (an edition, ``-p dataset ...``), else
    on the dataset the row's chapter is published on."""
    return ch if ch.dataset is not None else dataclasses.replace(ch, dataset=row.dataset)


def missing_required(dataset: str, protocol: str, store: RunStore) -> dict[str, tuple[int, int]]:
    """Of the grids some page needs complete (its module's ``REQUIRED``), at ``dataset`` and
    ``protocol``, those ``store`` lacks runs of (their ancestors included): ``{grid: (stored,
    needed)}``, in the book's order. Empty when every page can be built from the store as it is."""
    out = {}
    for grid in dict.fromkeys(g for r in ROWS for g in r.module.REQUIRED):
        specs = executor.closure(grids.get(grid, dataset, protocol))
        done, missing, damaged = store.status(specs)
        if missing or damaged:
            out[grid] = (len(done), len(specs))
    return out


def row(name: str) -> Row:
    """The row called ``name``."""
    (found,) = [r for r in ROWS if r.name == name]
    return found


def claims_table(ch: Chapter, rows: dict[str, list[claims.Verdict]]):
    """The claims page's table: every verdict of ``rows`` (``verdicts_by_row``), one row per claim,
    with the dataset it was decided on (column ``dataset``, after ``paper``) and its verdict marked
    as every page marks one (``claims.marked``: "✅ reproduced"), so that a long table scans by eye."""
    frames = [claims.table(vs).assign(dataset=on_dataset(ch, row(name)).label) for name, vs in rows.items() if vs]
    out = pd.concat(frames, ignore_index=True)
    out["verdict"] = out.verdict.map(claims.marked)
    cols = list(out.columns)
    cols.insert(cols.index("paper") + 1, cols.pop(cols.index("dataset")))
    return out[cols]


def glue_row_statuses(rows: dict[str, list[claims.Verdict]], dataset: str | None = None) -> dict[str, str]:
    """Glue each row's verdict counts (``claims.summary``) as ``status_<row>``, for the introduction's
    table to paste from the claims page (``{glue:text}`claims.ipynb::status_table7:s```): the Table 3
    row counts the hypotheses it repeats as well, ``status_all`` every claim. Glues too the
    introduction's sentence on which dataset each chapter is on (``published``, from
    ``published_sentence(dataset)``, ``dataset`` being the claims page's). Returns the counts by row."""
    out = {r: claims.summary(vs) for r, vs in rows.items()}
    out["table3"] = claims.summary(rows["hypotheses"] + rows["table3"])
    out["all"] = claims.summary([v for vs in rows.values() for v in vs])
    for r, text in out.items():
        glue(f"status_{r}", text)
    glue("published", published_sentence(dataset))
    return out


def published_sentence(dataset: str | None = None) -> str:
    """The introduction's sentence on the datasets the chapters are published on (issue 33): in an
    edition on one ``dataset``, that one; in the book (``None``: each chapter on its module's
    ``DATASET``), "Every chapter is published on MNIST ..." once all are, else the chapters on
    MNIST and those still on Fashion-MNIST."""
    if dataset is not None:
        return f"Every chapter of this edition is on {LABELS[dataset]}."
    if all(r.dataset == "mnist" for r in ROWS):
        return "Every chapter is published on MNIST, with Tables 1, 3 and 7 cell by cell beside the paper's."
    their = "their MNIST grids are" if sum(r.dataset == "fashion-mnist" for r in ROWS) > 1 else "its MNIST grids are"
    return (f"Published on MNIST now: {published_on('mnist')}, with each of Tables 1, 3 and 7 cell by cell "
            f"beside the paper's where it is on MNIST. Still on Fashion-MNIST until {their} complete: "
            f"{published_on('fashion-mnist')}.")


def published_on(dataset: str) -> str:
    """The rows published on ``dataset``, named as the introduction names them ("§3.1 (Table 1,
    Figure 1), §3.2 (OrthP) and ..."), or "none"."""
    titles = [r.title for r in ROWS if r.dataset == dataset]
    return "none" if not titles else titles[0] if len(titles) == 1 else ", ".join(titles[:-1]) + " and " + titles[-1]


__all__ = ["COMPARISON_PAGES", "EVIDENCE_PAGES", "ROWS", "Row", "dynamical_isometry", "glue_row_statuses", "hypotheses",
           "orthp", "pruning_at_init", "reproducibility", "robustness", "table7", "value_of_pruning", "verdicts_by_row"]
