"""The whole book at other parameters (``python -m dipcore edition``): what is checked before
anything runs, and how each page is stamped. The smoke edition itself is built by test_book."""
import nbformat
import pytest

from dipcore.book import edition
from dipcore.book.chapter import published


@pytest.mark.parametrize("kw,message", [
    ({"dataset": "cifar"}, "unknown dataset 'cifar'"),
    ({"protocol": "quick"}, "unknown protocol 'quick'"),
    ({"compute": "sometimes"}, "compute must be one of"),
    ({"device": "gpu"}, "device must be"),
    ({"out": str(edition.ROOT / "chapters")}, "would overwrite the book's own sources"),
    ({"out": str(edition.ROOT)}, "would overwrite the book's own sources"),
    ({"out": "/proc/no/such/place"}, "edition folder"),
])
def test_bad_parameters_are_refused_before_anything_runs(kw, message, tmp_path):
    args = {"dataset": "mnist", "protocol": "smoke", "device": "cpu", "compute": "missing", "store": None,
            "out": str(tmp_path / "ed")} | kw
    with pytest.raises(ValueError) as e:
        edition.check(**args)
    assert message in str(e.value)


@pytest.mark.parametrize("where", ["data/runs", "dipcore", "_ext", "dipcore/new-folder", "~"])
def test_an_edition_never_writes_into_the_repository_or_the_home_folder(where, tmp_path):
    """Issue 37, defect 2: ``--out`` inside the repository (but for ``_build``) or the home folder
    itself was accepted."""
    out = (edition.ROOT / where) if where != "~" else edition.Path.home()
    with pytest.raises(ValueError, match="would overwrite the book's own sources|holds files that no edition wrote"):
        edition.check("mnist", "smoke", "cpu", "missing", str(tmp_path / "runs"), out)
    assert not (edition.ROOT / "dipcore" / "new-folder").exists()


def test_an_edition_never_deletes_a_folder_it_did_not_write(tmp_path):
    """Issue 37, defect 2: ``edition --out P`` deleted an existing ``P/source`` (a user's thesis)
    without a word. A folder with files and no edition marker is refused before anything runs,
    by ``check`` and by ``build``; nothing in it is touched."""
    out = tmp_path / "mine"
    (out / "source").mkdir(parents=True)
    (out / "source" / "thesis.tex").write_text("years of work")
    with pytest.raises(ValueError, match="holds files that no edition wrote"):
        edition.check("mnist", "smoke", "cpu", "missing", str(tmp_path / "runs"), out)
    with pytest.raises(ValueError, match="holds files that no edition wrote"):
        edition.build({"dataset": "mnist", "protocol": "smoke", "device": "cpu", "compute": "missing", "store": None},
                      out, progress=False, execute=False)
    assert (out / "source" / "thesis.tex").read_text() == "years of work"
    assert sorted(p.name for p in out.rglob("*")) == ["source", "thesis.tex"]
    # a new folder, an empty one, and one an edition marked are the edition's own
    for own in (tmp_path / "new", tmp_path / "empty"):
        own.mkdir(exist_ok=own.name == "new") if own.name == "empty" else None
        assert edition.check_out(own) == own.resolve()
    (out / edition.MARKER).write_text("")
    assert edition.check_out(out) == out.resolve()


def test_an_edition_that_may_not_compute_checks_the_store_before_anything_runs(tmp_path):
    """Issue 37, defect 8: ``edition --compute never`` on an incomplete store copied the sources,
    then died in the first chapter with a papermill traceback. It is refused up front, naming each
    grid a page needs complete, how much of it is stored and the commands that compute the rest;
    nothing is written."""
    store, out = tmp_path / "runs", tmp_path / "ed"
    with pytest.raises(ValueError) as e:
        edition.check("mnist", "smoke", "cpu", "never", str(store), out)
    message = str(e.value)
    for grid in ("pretrain", "table1", "figure1", "orthp", "table3"):
        assert f"{grid} (0 of " in message and f"python -m dipcore compute {grid} --dataset mnist" in message
    assert "--store " + str(store) in message and "--compute missing" in message
    assert not out.exists() and not store.exists()
    assert edition.check("mnist", "smoke", "cpu", "missing", str(store), out)["compute"] == "missing"


def test_good_parameters_are_the_chapters_parameters(tmp_path):
    p = edition.check("mnist", "smoke", "auto", "missing", str(tmp_path / "runs"), tmp_path / "ed")
    import torch

    assert p == {"dataset": "mnist", "protocol": "smoke", "device": "cuda" if torch.cuda.is_available() else "cpu",
                 "compute": "missing", "store": str((tmp_path / "runs").resolve())}


def test_each_chapter_gets_only_the_parameters_it_declares():
    params = {"dataset": "mnist", "protocol": "smoke", "device": "cpu", "compute": "missing", "store": "/s"}
    for page in published(edition.ROOT):
        path = edition.ROOT / f"{page}.ipynb"
        if path.exists():
            mine = edition.chapter_parameters(path, params)
            assert "store" in mine and set(mine) <= set(params)
    assert set(edition.chapter_parameters(edition.ROOT / "chapters/table7.ipynb", params)) == set(params)


def test_every_page_is_stamped_under_its_title():
    text = edition.banner({"dataset": "mnist", "protocol": "smoke", "device": "cuda", "compute": "missing",
                           "store": None}, "2026-01-01 00:00 UTC")
    assert "`mnist`" in text and "`smoke`" in text and "`cuda`" in text and "2026-01-01" in text
    nb = nbformat.read(edition.ROOT / "chapters/table3.ipynb", 4)
    title = nb.cells[0].source.splitlines()[0]
    stamped = edition._with_banner_ipynb(nb, text)
    assert stamped.cells[0].source.startswith(title + "\n\n" + text)
    untitled = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    assert edition._with_banner_ipynb(untitled, text).cells[0].source == text
    md = edition._with_banner_md("# Intro\n\nSome text.\n", text)
    assert md.startswith("# Intro\n\n" + text) and md.endswith("Some text.\n")


def test_an_editions_observations_say_whose_runs_they_were_written_from():
    """The hand-written "What we noticed" of every chapter that has one gets the note, right under
    its heading; other cells are untouched."""
    pages = [p for p in (edition.ROOT / "chapters").glob("*.ipynb")]
    noticed = 0
    for path in pages:
        nb = nbformat.read(path, 4)
        before = [c.source for c in nb.cells]
        after = [c.source for c in edition._with_noticed_note(nb).cells]
        for b, a in zip(before, after):
            if b.startswith(edition.NOTICED):
                noticed += 1
                assert a == edition.NOTICED + "\n\n" + edition.NOTICED_NOTE + b[len(edition.NOTICED) + 1:]
            else:
                assert a == b
    assert noticed >= 10  # every results chapter has one today


def test_no_number_from_the_runs_is_typed_into_the_prose():
    """An edition recomputes every number its prose quotes from the runs: those go through myst-nb's
    glue. So a decimal number typed into a chapter's Markdown must be one of the protocol's
    constants (pruning ratios, learning rates and schedules, sparsities, the tests' level), a
    section number, or a figure named here with its reason; anything else is a run's number that an
    edition would quote wrongly. So is a whole percentage, unless it is one of the grids' sparsities, an
    interval's level or chance. (Other whole numbers are not checked: epochs, seeds and counts of the
    grids' constants are too many to tell from a run's count.)"""
    import re

    from dipcore.book import grids

    constants = {f"{x:g}" for x in (*grids.TABLE3_RATIOS, *grids.TABLE7_RATIOS, *grids.VALUE_RATIOS,
                                    *grids.PAI_LR.values(), grids.LEE_LR, 0.05)}
    constants |= {lr for text in grids.FINETUNE.values() for lr in re.findall(r":([\d.]+)", text)}
    named = {("reproducibility", "1.2"): "a benchmark's speed-up (channels-last convolutions), not a run's number"}
    # a whole percentage is a run's number too, unless it is a sparsity of Lee et al.'s grid, the level of
    # an interval the verdicts use (90 %: the equivalence test's; 95 %: the bootstrap's) or chance on 10 classes
    percents = {round(100 * s) for s in grids.PAI_SPARSITIES} | {90, 95, 10}
    typed = []
    for path in sorted((edition.ROOT / "chapters").glob("*.ipynb")):
        for cell in nbformat.read(path, 4).cells:
            if cell.cell_type != "markdown":
                continue
            text = re.sub(r"\{glue:\w+\}`[^`]+`|`[^`]+`|§\d+(\.\d+)*", " ", cell.source)  # glued, code, sections
            typed += [(path.stem, n) for n in re.findall(r"(?<![\w.])\d+\.\d+(?![\w.])", text)
                      if n not in constants and (path.stem, n) not in named]
            typed += [(path.stem, f"{n} %") for n in re.findall(r"(?<![\w.])(?<!top-)(\d+)\s*%", text)  # not "top-1 %"
                      if int(n) not in percents]
    assert constants >= {"0.8", "0.9", "0.01", "0.001", "0.0001", "0.1"}
    assert typed == []


def test_every_glue_from_another_page_names_a_key_that_page_glues():
    """The introduction's status column pastes each row's verdict counts from the claims page
    (``{glue:text}`claims.ipynb::status_table7:s```), and its dataset paragraph the chapters on each
    dataset (``published``), so that it is right in every edition and
    needs no hand edit when runs land. Each such reference names a published notebook and a key
    its committed outputs glue (myst-nb would otherwise drop it with a warning), and its format
    spec is given (without one, myst-nb reads the key's own name as the format)."""
    import re

    from dipcore.book import chapters

    listed = set(published(edition.ROOT))
    sources = [(p, p.read_text()) for p in sorted((edition.ROOT / "chapters").glob("*.md"))]
    sources += [(p, c.source) for p in sorted((edition.ROOT / "chapters").glob("*.ipynb"))
                for c in nbformat.read(p, 4).cells if c.cell_type == "markdown"]
    refs = [(path, doc, key) for path, text in sources
            for doc, key in re.findall(r"\{glue:\w*\}`([^`]*?)::([^`]*)`", text)]
    assert {doc for _, doc, _ in refs} == {"claims.ipynb"}

    def glued(doc):
        nb = nbformat.read(edition.ROOT / "chapters" / doc, 4)
        return {o["metadata"]["scrapbook"]["name"] for c in nb.cells for o in c.get("outputs", [])
                if "scrapbook" in o.get("metadata", {})}

    for path, doc, key_fmt in refs:
        assert f"chapters/{doc.removesuffix('.ipynb')}" in listed, (path.name, doc)
        key, _, fmt = key_fmt.rpartition(":")
        assert key and fmt == "s", (path.name, key_fmt)
        assert key in glued(doc), (path.name, doc, key)
    assert {key.rpartition(":")[0] for _, _, key in refs} == \
        {f"status_{r}" for r in (*(r.name for r in chapters.ROWS), "all")} | {"published"}
