"""The chapters' registry (``dipcore.book.chapters``): one module per page, named after its
notebook, each with the same interface, listed in the table of contents' order; the claims page,
the introduction's status column and the README's grid list follow it."""
import re
from pathlib import Path

from dipcore.book import chapter, chapters, grids

ROOT = Path(__file__).resolve().parent.parent
MODULES = sorted(p.stem for p in (ROOT / "dipcore" / "book" / "chapters").glob("*.py") if p.stem != "__init__")


def test_the_registry_lists_the_published_pages_in_the_table_of_contents_order():
    pages = [p.removeprefix("chapters/") for p in chapter.published(ROOT) if p != "chapters/intro"]
    assert [p for row in chapters.ROWS for p in row.pages] + list(chapters.EVIDENCE_PAGES) == pages


def test_each_chapter_module_is_named_after_its_page_and_has_the_same_interface():
    """A module per page (the four hypothesis pages and Table 3 share ``hypotheses``), so a reader
    finds a page's code under its notebook's name; each has ``page``, ``verdicts`` and ``GRIDS``."""
    pages = {p.removeprefix("chapters/") for p in chapter.published(ROOT)}
    for name in MODULES:
        assert name in pages or name == "hypotheses", f"{name}.py is not named after a page"
    for row in chapters.ROWS:
        module = row.verdicts.__module__.rsplit(".", 1)[1]
        assert module in MODULES and set(row.pages) <= pages
    for name in {row.verdicts.__module__ for row in chapters.ROWS}:
        mod = __import__(name, fromlist=["page"])
        assert callable(getattr(mod, "page", None) or getattr(mod, "hypothesis", None))
        assert callable(mod.verdicts) and set(mod.GRIDS) <= set(grids.GRIDS)


def test_every_grid_belongs_to_a_chapter():
    assert {g for row in chapters.ROWS for g in row.grids} == set(grids.GRIDS)


def test_the_introduction_pastes_one_status_per_row_in_the_registry_order():
    intro = (ROOT / "chapters" / "intro.md").read_text()
    pasted = re.findall(r"claims\.ipynb::status_(\w+):s", intro)
    assert pasted == [row.name for row in chapters.ROWS] + ["all"]


def test_every_network_has_one_entry_that_names_draws_and_costs_it():
    """A network's label, colour and shard cost live on its ``nets.ENTRIES`` line, which the
    book's names, figures and shard deal read (a new network is one line there)."""
    from dipcore import nets
    from dipcore.book import executor, paper, plotting

    assert set(nets.ENTRIES) == set(nets.NETS + nets.LEE + nets.RESIDUAL)
    for name, entry in nets.ENTRIES.items():
        assert paper.NET_LABELS[name] == entry.label and plotting.NET_COLORS[name] == entry.color
        stack = [{"net": name, "epochs": 10, "ratio": 0.0, "kind": "train"}] * 2
        assert executor.cost(stack) == 10 * 2 * entry.cost[0]
    assert len({e.color for e in nets.ENTRIES.values()}) == len(nets.ENTRIES)  # told apart in every figure


def test_each_page_defaults_to_the_dataset_it_is_published_on():
    """A notebook's ``dataset`` parameter is its module's ``DATASET`` (the claims page's None: each
    row on its chapter's), so the page, its row on the claims page and the introduction agree."""
    import ast
    import json

    for row in chapters.ROWS:
        for page in row.pages:
            nb = json.loads((ROOT / "chapters" / f"{page}.ipynb").read_text())
            params = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
            tree = ast.parse("".join(params["source"]))
            (default,) = [ast.literal_eval(n.value) for n in tree.body
                          if isinstance(n, ast.Assign) and n.targets[0].id == "dataset"]
            assert default == row.dataset, page
    nb = json.loads((ROOT / "chapters" / "claims.ipynb").read_text())
    assert 'dataset = None' in "".join(next(c for c in nb["cells"] if c["cell_type"] == "code")["source"])
    assert {r.dataset for r in chapters.ROWS} <= {"mnist", "fashion-mnist"}
