"""The chapters' registry (``dipcore.book.chapters``): one module per page, named after its
notebook, each with the same interface, listed in the table of contents' order; the claims page,
the introduction's status column and the README's grid list follow it."""
import json
import re
from pathlib import Path

import pytest

from dipcore.book import chapter, chapters, executor, grids, spec

ROOT = Path(__file__).resolve().parent.parent
MODULES = sorted(p.stem for p in (ROOT / "dipcore" / "book" / "chapters").glob("*.py") if p.stem != "__init__")


def test_the_registry_lists_the_published_pages_in_the_table_of_contents_order():
    pages = [p.removeprefix("chapters/") for p in chapter.published(ROOT) if p != "chapters/intro"]
    assert ([p for row in chapters.ROWS for p in row.pages] + list(chapters.COMPARISON_PAGES)
            + list(chapters.EVIDENCE_PAGES)) == pages


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


def test_the_introduction_says_which_chapters_are_on_which_dataset_from_the_registry(monkeypatch):
    """Issue 33: the introduction's dataset sentence is pasted from the claims page, which reads each
    row's chapter's ``DATASET``: a chapter switched to MNIST moves from one list to the other, and
    the last one turns the sentence into "Every chapter ... on MNIST", with no sentence typed by
    hand; an edition on one dataset says that one."""
    import dataclasses

    intro = (ROOT / "chapters" / "intro.md").read_text()
    assert "claims.ipynb::published:s" in intro
    assert all(row.title for row in chapters.ROWS)
    on = {d: chapters.published_on(d) for d in ("mnist", "fashion-mnist")}
    for row in chapters.ROWS:
        assert (row.title in on[row.dataset]) and (row.title not in on["fashion-mnist" if row.dataset == "mnist" else "mnist"])
    assert chapters.published_on("synthetic") == "none"
    assert chapters.published_sentence("fashion-mnist") == "Every chapter of this edition is on Fashion-MNIST."

    def on_dataset(*names):  # the registry with the rows ``names`` on Fashion-MNIST, the rest on MNIST
        rows = [dataclasses.replace(r, module=type("M", (), {"DATASET": "fashion-mnist" if r.name in names else "mnist"}))
                for r in chapters.ROWS]
        monkeypatch.setattr(chapters, "ROWS", rows)
        return rows

    rows = on_dataset("table7")
    sentence = chapters.published_sentence()
    moved = next(r for r in rows if r.name == "table7")
    assert sentence.endswith(f"Still on Fashion-MNIST until its MNIST grids are complete: {moved.title}.")
    assert all(r.title in sentence.split("Still on")[0] for r in rows if r is not moved)
    on_dataset("table7", "value_of_pruning")
    assert "until their MNIST grids are complete" in chapters.published_sentence()
    on_dataset()
    assert chapters.published_sentence().startswith("Every chapter is published on MNIST")


def test_every_network_has_one_entry_that_names_draws_and_costs_it():
    """A network's label, colour and shard cost live on its ``nets.ENTRIES`` line, which the
    book's names, figures and shard deal read (a new network is one line there)."""
    from dipcore import nets
    from dipcore.book import paper, plotting

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


def test_a_claims_two_verdicts_are_compared_and_group_stand_ins_not_counted_twice():
    """``second_dataset.compare``: the same decided state agrees; reproduced against not reproduced
    flips; decided against inconclusive differs; a claim absent from one dataset (its group is one
    pending verdict there) waits on that dataset, and the pending stand-in itself is not a row."""
    from dipcore.book import claims
    from dipcore.book.chapters import second_dataset as sd

    def v(claim, state):
        return claims.Verdict(claim, "§3.3", state, "")

    R, N, I, P = claims.REPRODUCED, claims.NOT_REPRODUCED, claims.INCONCLUSIVE, claims.PENDING
    rows = {d: {r.name: [] for r in chapters.ROWS} for d in sd.DATASETS}
    rows["mnist"]["hypotheses"] = [v("a", R), v("b", R), v("c", I), v("Hypothesis 2 on MLP-7-Linear", P), v("e", P)]
    rows["fashion-mnist"]["hypotheses"] = [v("a", R), v("b", N), v("c", R), v("d1", R), v("d2", I), v("e", P)]
    table = sd.compare(rows).set_index("claim")
    assert table.outcome.to_dict() == {"a": "agree", "b": "flip", "c": "differ", "e": "pending on both",
                                       "d1": "decided on one only", "d2": "decided on one only"}
    assert table.loc["d1", "mnist"] == P and sd.summary(table.reset_index()) == (
        "6 claims: 1 agree, 1 flip, 1 differ, 2 decided on one only, 1 pending on both")
    assert sd.waiting(table) == "The rest wait for runs: 2 on MNIST, 1 on both datasets"
    shown = sd.shown(sd.compare(rows))  # as the page shows it: decided first, each verdict marked
    assert shown.outcome.tolist()[:3] == ["agree", "flip", "differ"]
    assert shown.loc[("hypotheses", "b"), "fashion-mnist"] == "❌ not reproduced"
    assert shown.loc[("hypotheses", "d1"), "mnist"] == "⏳ pending"
    rows["mnist"]["hypotheses"] = [v("a", R), v("b", R), v("c", I), v("e", R)]
    rows["fashion-mnist"]["hypotheses"] = [v("a", R), v("b", N), v("c", R), v("e", P)]
    decided = sd.compare(rows)
    assert sd.waiting(decided) == "The rest wait for runs: 1 on Fashion-MNIST"
    assert sd.waiting(decided[decided.claim != "e"]) == "No claim waits for runs"
    rows["fashion-mnist"]["hypotheses"][-1] = v("e, at LR 0.01", R)  # words that hang on the runs: unpaired
    with pytest.raises(ValueError, match=r"hypotheses: .* on mnist \['e'\]; on fashion-mnist \['e, at LR 0.01'\]"):
        sd.compare(rows)


def test_every_table_of_our_runs_names_its_dataset():
    """Issue 38: five result tables had no caption naming the dataset. Over the committed pages:
    every table a cell shows comes with a caption in that cell that says "Dataset:" (``ch.table``,
    ``ch.caption``), but for the paper's own tables (``paper.printed``, whose datasets the text
    names) and the reproducibility page (the store's runs of every dataset, a dataset column)."""
    import json

    missing = []
    for page in chapter.published(ROOT):
        path = ROOT / f"{page}.ipynb"
        if not path.exists() or page.endswith("reproducibility"):
            continue
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] != "code" or "paper.printed(" in "".join(cell["source"]):
                continue
            outs = [o.get("data", {}) for o in cell.get("outputs", []) if not o.get("metadata", {}).get("scrapbook")]
            tables = [d for d in outs if "<table" in "".join(d.get("text/html", ""))]
            captioned = any("Dataset:" in "".join(d.get("text/markdown", "")) for d in outs)
            if tables and not captioned:
                missing.append(f"{page}: {''.join(cell['source'])[:60]!r}")
    assert not missing, missing


def test_chapters_pass_their_protocol_and_grids_take_it_or_its_name():
    """Issue 35: the protocol travelled as its name and was looked up again at every step; a grid
    now takes the ``Protocol`` itself (the same runs, the same keys) or its name."""
    from dipcore.book import protocol

    for name in ("paper", "smoke"):
        p = protocol.get(name)
        assert protocol.get(p) is p
        for grid in grids.GRIDS:
            by_name = [spec.key(s) for s in grids.GRIDS[grid]("mnist", name)]
            assert [spec.key(s) for s in grids.GRIDS[grid]("mnist", p)] == by_name


def test_the_second_dataset_page_says_which_grids_miss_runs_on_each_dataset(tmp_path, monkeypatch):
    """``second_dataset.missing_runs``: each dataset's grids with runs missing (the book's chapters
    publish on MNIST only, so Fashion-MNIST's missing runs are said here), what each holds and what
    the rest would cost; nothing once both datasets' grids are complete."""
    from dipcore.book import chapter
    from dipcore.book.chapters import second_dataset as sd

    (tmp_path / "runs").mkdir()
    ch = chapter.setup("second_dataset", dataset="mnist", protocol="paper", store=str(tmp_path / "runs"))  # each dataset read
    row = chapters.row("orthp")
    monkeypatch.setattr(sd, "ROWS", [row])
    text = sd.missing_runs(ch)
    assert text.startswith("Runs still missing: on MNIST, `") and "; and on Fashion-MNIST, `" in text
    assert all(text.count(f"`{g}` (0 of its") == 2 for g in row.grids) and "not costed" in text
    closure = {d: [spec.key(s) for g in row.grids for s in executor.closure(grids.get(g, d, "paper"))]
               for d in ("mnist", "fashion-mnist")}
    ch.store.read_all = lambda: ([{"key": k} for k in closure["mnist"]], [])  # the sound records, read once
    only = sd.missing_runs(ch)
    assert only.startswith("Runs still missing: on Fashion-MNIST, `") and "MNIST, `" not in only.replace("Fashion-MNIST, `", "")
    ch.store.read_all = lambda: ([{"key": k} for k in closure["mnist"] + closure["fashion-mnist"][1:]], [])
    assert sd.missing_runs(ch).count("runs stored; the 1 missing") == 1  # one run short, in one grid
    ch.store.read_all = lambda: ([{"key": k} for d in closure for k in closure[d]], [])
    assert sd.missing_runs(ch) == "Every grid of the book is complete on both datasets."


def test_the_claims_pages_table_marks_every_verdict():
    """Over the committed claims page: the table of every claim shows each verdict with its mark, as
    the rest of the book does ("✅ reproduced"), so that 100-odd rows scan by eye; no bare state."""
    from dipcore.book import claims

    nb = json.loads((ROOT / "chapters" / "claims.ipynb").read_text())
    html = "".join("".join(o.get("data", {}).get("text/html", "")) for c in nb["cells"] if c["cell_type"] == "code"
                   for o in c.get("outputs", []))
    cells = re.findall(r"<td>([^<]*)</td>", html)
    marked = [c for c in cells if c in {claims.marked(v) for v in claims.MARKS}]
    bare = [c for c in cells if c in claims.MARKS]
    assert len(marked) >= 100 and not bare, (len(marked), bare[:3])
