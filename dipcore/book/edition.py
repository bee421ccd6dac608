"""The whole book at other parameters, in one command (the second dataset's book, a GPU rerun):

    python -m dipcore edition --dataset fashion-mnist --compute never --out _build/fashion-mnist  # the stored runs
    python -m dipcore edition --compute always --device cuda --out _build/gpu      # MNIST, every run redone
    python -m dipcore edition --protocol smoke --compute missing --out /tmp/smoke-book   # minutes, CPU

Jupyter Book 1 has no parameterised books (its issue #424), so this does what projects that need
one do by hand: it copies the book's sources into ``<out>/source``, executes every published
notebook there with papermill at the given parameters (in the table of contents' order, each
chapter computing what it is missing and the later ones finding it stored; one progress bar for
the whole book; each page's figures also saved as PNG files, and the CSV of its runs, in
``<out>/figures/<page>``), writes near each page's title the parameters it was built with (and,
under each "What we noticed", that those observations were written from the published book's
runs), and
builds the site from the executed notebooks with execution off into ``<out>/_build/html``. The committed
chapters and the default site are not touched. Every parameter is checked before anything runs.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import os
import tempfile
import shutil
import sys
from pathlib import Path

from .. import data
from . import executor, protocol as protomod
from .chapter import check_device, published, store_for
from .store import DEFAULT_ROOT, RunStore

ROOT = DEFAULT_ROOT.parents[1]
SOURCES = ("_config.yml", "_toc.yml", "references.bib", "favicon.png", "_ext", "chapters")
MARKER = ".dipbook-edition"  # in an edition's folder: the only kind of folder an edition replaces files in


def check(dataset: str, protocol: str, device: str, compute: str, store: str | None, out: str | Path) -> dict:
    """The edition's parameters, checked before any compute (the chapters' own rules); returns
    them as the papermill parameters every chapter takes."""
    if dataset not in data.DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {', '.join(data.DATASETS)}")
    protomod.get(protocol)
    if compute not in executor.POLICIES:
        raise ValueError(f"compute must be one of {', '.join(executor.POLICIES)}, got {compute!r}")
    device = check_device(device)
    out = check_out(out)
    if store is not None and compute != "never":
        executor.check_targets(RunStore(store))
    if compute == "never":  # issue 37, defect 8: say so now, not in the first chapter's traceback
        from .chapters import missing_required  # the chapter modules (pyplot, pandas): only when needed

        root = store_for(protocol, store)
        if lacking := missing_required(dataset, protocol, RunStore(root)):
            grids_ = "; ".join(f"{g} ({have} of {need} runs stored)" for g, (have, need) in lacking.items())
            commands = " && ".join(f"python -m dipcore compute {g} --dataset {dataset} --protocol {protocol}"
                                   + (f" --store {store}" if store is not None else "") for g in lacking)
            raise ValueError(f"--compute never, but the run store {root} lacks runs the chapters need: {grids_}. "
                             f"Compute them first ({commands}), or give --compute missing")
    return {"dataset": dataset, "protocol": protocol, "device": device, "compute": compute,
            "store": None if store is None else str(Path(store).resolve())}


def check_out(out: str | Path) -> Path:
    """The edition's folder, refused unless it is the edition's own: a folder that does not exist
    yet, an empty one, or one an earlier edition marked (``MARKER``), outside the repository but
    for its ``_build``; and writable. Nothing is created here (``build`` creates it)."""
    out = Path(out).resolve()
    if out in (ROOT, *ROOT.parents) or (out.is_relative_to(ROOT) and not out.is_relative_to(ROOT / "_build")):
        raise ValueError(f"--out {out} would overwrite the book's own sources; give a folder of its own "
                         "(e.g. _build/mnist, or one outside the repository)")
    if out.exists() and not out.is_dir():
        raise ValueError(f"edition folder {str(out)!r} is a file, not a folder: give another --out")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise ValueError(f"edition folder {out} holds files that no edition wrote (it has no {MARKER}): an edition "
                         "replaces its folder's source/ and _build/, so give a new or empty folder with --out")
    parent = next(p for p in (out, *out.parents) if p.exists())
    try:  # proven by making (and removing) a folder there: permissions alone do not tell for root
        os.rmdir(tempfile.mkdtemp(prefix=".probe-", dir=parent))
    except OSError as e:
        raise ValueError(f"edition folder {str(out)!r} cannot be written ({parent}: {e.strerror or e}): "
                         "give another --out") from None
    return out


def banner(params: dict, when: str) -> str:
    """The note every page of an edition carries under its title."""
    store = params["store"] or ("the repository's data/runs" if params["protocol"] == "paper"
                                else f"~/.cache/dipbook/runs-{params['protocol']}")
    return (f"```{{note}}\n**Edition** built {when} with dataset `{params['dataset']}`, protocol "
            f"`{params['protocol']}`, device `{params['device']}`, compute `{params['compute']}`, run store "
            f"`{store}`. Its tables, figures and verdicts are computed from those runs, and so are the "
            "numbers its prose quotes from runs. The prose itself was written from the published book's runs "
            "(protocol paper, each chapter on the dataset the introduction names): its observations (which way a comparison falls, what it "
            "suggests) are the published book's and may not hold here.\n```\n")


NOTICED = "## What we noticed"
NOTICED_NOTE = ("```{note}\nWritten from the published book's runs (protocol paper, the page's published "
                "dataset). The "
                "numbers quoted here are this edition's, but the observations around them are the published "
                "book's: read them against this page's tables, figures and verdicts.\n```\n")


def _with_noticed_note(nb):
    """In an edition, a note under each "What we noticed" heading: those observations were written
    from the published book's runs (the numbers they quote are the edition's, through myst-nb's glue:
    ``tests/test_edition.py`` checks that no run's number is typed into the prose)."""
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.lstrip().startswith(NOTICED):
            head, _, rest = cell.source.lstrip().partition("\n")
            cell.source = f"{head}\n\n{NOTICED_NOTE}{rest}"
    return nb


def _with_banner_ipynb(nb, text: str):
    """The banner right under the page's title (its first cell, a Markdown "# " heading), or
    as a first cell of its own."""
    import nbformat

    first = nb.cells[0] if nb.cells else None
    if first is not None and first.cell_type == "markdown" and first.source.lstrip().startswith("# "):
        title, _, rest = first.source.lstrip().partition("\n")
        first.source = f"{title}\n\n{text}\n{rest}"
    else:
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(text))
    return nb


def _with_banner_md(text_md: str, text: str) -> str:
    lines = text_md.split("\n")
    at = next((i + 1 for i, ln in enumerate(lines) if ln.startswith("# ")), 0)
    return "\n".join(lines[:at] + ["", text] + lines[at:])


def chapter_parameters(notebook: Path, params: dict) -> dict:
    """The edition's parameters that this notebook's ``parameters`` cell declares (a chapter
    refuses one it does not have)."""
    import papermill

    declared = papermill.inspect_notebook(str(notebook))
    return {k: v for k, v in params.items() if k in declared}


def build(params: dict, out: str | Path, progress: bool = True, execute: bool = True) -> Path:
    """Copy the sources to ``<out>/source``, execute every published notebook there at ``params``,
    stamp every page, build the site; return the folder of its HTML."""
    import nbformat
    import papermill

    out = check_out(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("a dipbook edition: python -m dipcore edition may replace this folder's source/ and _build/\n")
    src = out / "source"
    if src.exists():
        shutil.rmtree(src)  # an earlier edition's copy (the folder carries the marker)
    src.mkdir(parents=True)
    for name in SOURCES:
        p = ROOT / name
        if p.is_dir():
            shutil.copytree(p, src / name, ignore=shutil.ignore_patterns("*.ipynb_checkpoints", "__pycache__"))
        elif p.exists():
            shutil.copy2(p, src / name)
    config = (src / "_config.yml").read_text()
    (src / "_config.yml").write_text(config.replace("execute_notebooks: force", "execute_notebooks: "
                                                    "\"off\"  # an edition: executed by papermill first"))
    when = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = banner(params, when)
    pages = published(src)
    notebooks = [p for p in pages if (src / f"{p}.ipynb").exists()]
    from tqdm import tqdm

    # the chapters' kernels import this checkout's dipcore, whatever another checkout installed
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    bar = tqdm(notebooks, desc="edition", unit="chapter", disable=not progress)
    for page in bar:
        path = src / f"{page}.ipynb"
        bar.set_postfix_str(Path(page).name)
        if execute:
            figures = out / "figures" / Path(page).name  # the page's figures as PNG files, its runs as CSV
            figures.mkdir(parents=True, exist_ok=True)
            papermill.execute_notebook(str(path), str(path), parameters=chapter_parameters(path, params | {
                "figures": str(figures)}), kernel_name="python3", cwd=str(path.parent), progress_bar=False)
        nbformat.write(_with_noticed_note(_with_banner_ipynb(nbformat.read(path, 4), text)), path)
    for page in pages:
        if (src / f"{page}.md").exists():
            md = src / f"{page}.md"
            md.write_text(_with_banner_md(md.read_text(), text))
    import subprocess

    jb = shutil.which("jupyter-book") or str(Path(sys.executable).with_name("jupyter-book"))
    proc = subprocess.run([jb, "build", str(src), "--path-output", str(out), "-W", "-n", "--keep-going"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError("jupyter-book could not build the edition:\n" + proc.stdout[-4000:] + proc.stderr[-2000:])
    return out / "_build" / "html"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dipcore edition", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="mnist", help="mnist (the paper's, as the published book; default) or "
                    "fashion-mnist (the second dataset's whole book)")
    ap.add_argument("--protocol", default="paper")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--compute", default="missing", help="never | missing | always (default: missing)")
    ap.add_argument("--store", default=None, help="run store (default: data/runs at protocol paper, else "
                    "~/.cache/dipbook/runs-<protocol>)")
    ap.add_argument("--out", required=True, help="the edition's folder (its site: <out>/_build/html)")
    ap.add_argument("--no-progress", action="store_true")
    a = ap.parse_args(argv)
    try:
        params = check(a.dataset, a.protocol, a.device, a.compute, a.store, a.out)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    html = build(params, a.out, progress=not a.no_progress)
    print(f"edition built: {html / 'index.html'}")
    return 0
