"""The layout ARCHITECTURE.md promises: the methods stand alone, the public API is small."""
import subprocess
import sys

import dipcore


def test_the_methods_do_not_import_the_books_machinery():
    code = ("import sys, dipcore, dipcore.nets, dipcore.pruning, dipcore.isometry, dipcore.jsv, dipcore.train, "
            "dipcore.data, dipcore.schedule; print(sorted(m for m in sys.modules if m.startswith('dipcore.book')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_public_api():
    import pkgutil

    submodules = {m.name for m in pkgutil.iter_modules(dipcore.__path__)}  # set as attributes once imported
    public = sorted(n for n in vars(dipcore) if not n.startswith("_") and n not in submodules)
    assert public == ["NETS", "SGDConfig", "approximate_isometry", "build", "initialize", "isometry_distance",
                      "layerwise_singular_values",
                      "load_data", "mean_jsv", "orthogonal_init", "orthogonalize", "orthp", "parse_schedule",
                      "prune_l1", "prune_snip", "pruned_widths", "singular_values", "train_stacked"]


def test_committed_notebooks_carry_no_execution_metadata():
    """A chapter's diff shows only what changed on the page (issue 35): no cell keeps papermill's or
    the kernel's timestamps and durations, and the notebook keeps no run times."""
    from pathlib import Path

    import nbformat

    from dipcore.book import clean

    chapters = sorted((Path(__file__).resolve().parent.parent / "chapters").glob("*.ipynb"))
    assert chapters
    for path in chapters:
        nb = nbformat.read(path, 4)
        assert not clean.strip(nb), f"{path.name} carries execution metadata: python -m dipcore.book.clean {path}"


def test_clean_strips_timestamps_and_keeps_the_page():
    import nbformat

    from dipcore.book import clean

    cell = nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["hide-input"], "execution": {"iopub.status.idle": "t"},
                                                          "papermill": {"duration": 4.6}})
    cell.outputs = [nbformat.v4.new_output("stream", text="1\n")]
    nb = nbformat.v4.new_notebook(cells=[cell], metadata={"papermill": {"duration": 9.0, "parameters": {"a": 1}}})
    assert clean.strip(nb) and not clean.strip(nb)
    assert nb.cells[0].metadata == {"tags": ["hide-input"]} and nb.cells[0].outputs[0].text == "1\n"
    assert nb.metadata.papermill == {"parameters": {"a": 1}}


def test_no_page_says_runs_are_being_computed():
    """Issue 38: a page said missing runs "are being computed" when no process was computing them.
    A page states what is stored and what is missing, with the command (and, where known, the
    cost) that computes the rest; whether something is running is not the page's to say."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    pages = sorted((root / "chapters").glob("*.ipynb")) + sorted((root / "chapters").glob("*.md"))
    said = [p.name for p in pages if "being computed" in p.read_text()]
    assert not said, f"pages that say runs are being computed: {said}"
