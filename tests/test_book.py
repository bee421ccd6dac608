"""The book: the whole book built as an edition at the smoke protocol from an empty store (every
chapter run end to end by papermill), the published book and that edition both built with
warnings as errors, and a real browser loading every page of each.

nbval (run by scripts/test.sh on chapters/) separately checks that the committed chapters'
text outputs are what re-execution from the run store gives.
"""
import functools
import re
import http.server
import shutil
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import pytest

from dipcore.book.chapter import published

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
TEXT_ONLY = {"claims", "reproducibility"}  # chapters that show tables and verdicts but no figure
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def smoke_edition(tmp_path_factory):
    """The whole book as an edition at the smoke protocol from an empty store (issue 15):
    ``python -m dipcore edition --protocol smoke --device cpu --store <empty> --out <folder>``."""
    pytest.importorskip("papermill")
    from dipcore.book import edition

    out = tmp_path_factory.mktemp("smoke-edition")
    params = edition.check("fashion-mnist", "smoke", "cpu", "missing", str(out / "runs"), out / "edition")
    edition.build(params, out / "edition", progress=False)
    return out / "edition"


NOTEBOOKS = [p for p in published(ROOT) if (ROOT / f"{p}.ipynb").exists()]


@pytest.mark.parametrize("page", NOTEBOOKS, ids=lambda p: Path(p).name)
def test_no_committed_page_shows_a_cut_table(page):
    """Every table a published page shows is whole: pandas cuts a frame of more than 60 rows to its
    first and last five and adds a "N rows × M columns" footer (the claims page showed 10 of its
    90 verdicts that way); ``chapter.setup`` asks it for whole tables."""
    import nbformat

    nb = nbformat.read(ROOT / f"{page}.ipynb", 4)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            html = "".join(out.get("data", {}).get("text/html", ""))
            text = "".join(out.get("data", {}).get("text/plain", ""))
            assert not re.search(r"<p>\d+ rows × \d+ columns</p>", html), f"{page}: a cut table in {cell.source[:80]!r}"
            assert not re.search(r"\[\d+ rows x \d+ columns\]", text), f"{page}: a cut table in {cell.source[:80]!r}"


@pytest.mark.parametrize("page", NOTEBOOKS, ids=lambda p: Path(p).name)
def test_every_chapter_runs_at_smoke_protocol_in_the_edition(page, smoke_edition):
    """Each published chapter, executed by the edition (papermill: a cell that raises stops the
    build), drew its figures, saved each one as a PNG file and its runs as CSV, and carries the
    edition's parameters under its title."""
    import nbformat

    name = Path(page).name
    nb = nbformat.read(smoke_edition / "source" / f"{page}.ipynb", 4)
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    shown = sum(any(k.endswith("image/png") for k in o.get("data", {})) for c in nb.cells for o in c.get("outputs", []))
    figures = smoke_edition / "figures" / name
    assert len(list(figures.glob("*.png"))) == shown  # every figure also saved as a file
    assert shown >= (0 if name in TEXT_ONLY else 1)  # a chapter with figures drew them
    assert "protocol `smoke`" in nb.cells[0].source and nb.cells[0].source.startswith("# ")
    if any("download_runs" in c.source for c in nb.cells):  # the page's runs, as the CSV it links
        import pandas as pd

        (csv,) = figures.glob("*_runs_synthetic_smoke.csv")
        runs = pd.read_csv(csv)
        assert len(runs) > 0 and runs.key.is_unique and (runs.status != "missing").all()
        assert {"key", "kind", "device", "wall_s", "cpu_s"} <= set(runs.columns)
        assert {"final_acc", "jsv_mean_end"} <= set(runs.columns) or {"test_acc", "jsv_mean"} <= set(runs.columns)


@pytest.mark.parametrize("bad,message", [
    ({"dataset": "cifar"}, "unknown dataset 'cifar'"),
    ({"protocol": "quick"}, "unknown protocol 'quick'"),
    ({"compute": "sometimes"}, "compute must be one of"),
    ({"device": "cuda:7"}, "cuda"),
    ({"ratios": [0.5, 1.0]}, "pruning ratios must be numbers in [0, 1)"),
    ({"seeds": [0, 0]}, "seeds must be a non-empty list of distinct integers in [0, 2**63)"),
    ({"seeds": [2 ** 64]}, "seeds must be a non-empty list of distinct integers in [0, 2**63)"),
    ({"seeds": "[0, 1]"}, "papermill's -p passes text: give the list with -y"),
    ({"figures": "/proc/no/such/place"}, "figures folder"),
    ({"compte": "missing"}, "papermill parameter 'compte' is not a parameter of this chapter (did you mean 'compute'?)"),
    ({"net": "lenet5-relu"}, "papermill parameter 'net' is not a parameter of this chapter"),  # the robustness chapter's
    ({"store": ""}, "store must be a folder (a non-empty path) or None"),
    ({"store": "/dev/null"}, "run store '/dev/null' is a file, not a folder"),
])
def test_bad_parameters_fail_before_any_compute(bad, message, tmp_path):
    papermill = pytest.importorskip("papermill")
    empty = tmp_path / "runs"
    params = {"protocol": "smoke", "compute": "missing", "store": str(empty), **bad}
    with pytest.raises(papermill.PapermillExecutionError) as e:
        papermill.execute_notebook(str(ROOT / "chapters" / "dynamical_isometry.ipynb"), str(tmp_path / "o.ipynb"),
                                   parameters=params, kernel_name="python3", progress_bar=False)
    assert message in str(e.value)
    assert not empty.exists() or not list(empty.glob("*.json"))  # nothing was computed


@pytest.fixture(scope="session")
def book(tmp_path_factory):
    """The published book, built with warnings as errors from the committed notebooks' outputs
    (execution off): nbval, in the same test run, re-executes every published chapter and checks
    that those outputs are what the run store gives, so the chapters are executed once per run.
    ``scripts/book.sh`` builds the site itself with execution forced."""
    out = tmp_path_factory.mktemp("book")
    config = out / "_config.yml"
    text = (ROOT / "_config.yml").read_text()
    assert "execute_notebooks: force" in text and "offline_site: _ext" in text
    config.write_text(text.replace("execute_notebooks: force", 'execute_notebooks: "off"')  # local extensions
                      .replace("offline_site: _ext", f"offline_site: {ROOT / '_ext'}"))  # are found from the config's folder
    jb = shutil.which("jupyter-book") or str(Path(sys.executable).with_name("jupyter-book"))
    proc = subprocess.run([jb, "build", str(ROOT), "--config", str(config), "--path-output", str(out),
                           "-W", "-n", "--keep-going"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-3000:]
    return out / "_build" / "html"


@pytest.fixture(scope="session", params=["book", "smoke edition"])
def site(request):
    """The published book, and the smoke edition: each is checked in the browser."""
    return request.getfixturevalue("book") if request.param == "book" else request.getfixturevalue("smoke_edition") / "_build" / "html"


def test_book_builds_with_warnings_as_errors(site, request):
    pages = {p.relative_to(site).as_posix() for p in site.rglob("*.html")}
    listed = published(ROOT)
    assert listed[0] == "chapters/intro"
    edition = "edition" in request.node.callspec.id
    for page in listed:
        assert (ROOT / f"{page}.ipynb").exists() or (ROOT / f"{page}.md").exists(), page
        assert f"{page}.html" in pages
        html = (site / f"{page}.html").read_text()
        stamp = re.search(r"Edition</strong> built .{0,800}?protocol\s*<code[^>]*><span[^>]*>smoke<", html, re.S)
        assert bool(stamp) == edition, page  # every page of an edition names its parameters, no page of the book


def test_command_lines_in_the_book_keep_their_double_dashes(book):
    """The book prints commands to copy into a shell (a pending verdict's "python -m dipcore compute
    value_resnet --dataset fashion-mnist --device cuda"): Sphinx's smart quotes must not turn their
    "--" into an en dash where they appear in plain text (``smartquotes_action`` in _config.yml)."""
    commands, bad = [], []
    for p in sorted(book.rglob("*.html")):
        for m in re.finditer(r"python -m dipcore [^<>()]*", p.read_text()):
            commands.append(m.group())
            if "\u2013" in m.group() or "\u2014" in m.group():
                bad.append(f"{p.relative_to(book)}: {m.group()}")
    assert not bad, "\n".join(bad[:10])
    assert any(" --dataset " in c for c in commands)  # the book does print such commands


@pytest.fixture(scope="session")
def server(site):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def test_every_page_loads_in_a_real_browser(site, server):
    """Headless Chromium opens every page: each image loaded, no console errors, internal links
    resolve, and each chapter page that shows a table has one."""
    if not CHROMIUM:
        warnings.warn("NO BROWSER CHECK: Debian's chromium is not installed (apt-get install chromium)")
        pytest.skip("chromium not installed: the browser check did not run")
    sync_api = pytest.importorskip("playwright.sync_api")
    pages, redirects = [], []
    for p in sorted(site.rglob("*.html")):
        if "_static" in p.parts:
            continue
        (redirects if 'http-equiv="Refresh"' in p.read_text() else pages).append(p.relative_to(site).as_posix())
    for rel in redirects:  # e.g. index.html -> chapters/intro.html
        target = re.search(r'url=([^"]+)"', (site / rel).read_text()).group(1)
        assert (site / rel).parent.joinpath(target).exists(), f"{rel} redirects to missing {target}"
    problems, checked_links = [], set()
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        for rel in pages:
            errors.clear()
            # every request settled (MathJax fetches its fonts after "load"): a font still loading when
            # the next page opens is cut off, and its console error counted against that page
            resp = page.goto(f"{server}/{rel}", wait_until="networkidle")
            if not resp or resp.status != 200:
                problems.append(f"{rel}: HTTP {resp and resp.status}")
                continue
            broken = page.evaluate("Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0))"
                                   ".map(i => i.src)")
            problems += [f"{rel}: image did not load: {src}" for src in broken]
            problems += [f"{rel}: console error: {e}" for e in errors]
            links = page.evaluate("Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")
            for url in links:
                base = url.split("#")[0]
                if not base.startswith(server) or base in checked_links:
                    continue
                checked_links.add(base)
                if page.request.get(base).status != 200:
                    problems.append(f"{rel}: broken link {url}")
            if (ROOT / rel).with_suffix(".ipynb").exists():  # every notebook chapter shows a table
                n_tables = page.evaluate("document.querySelectorAll('table').length")
                if n_tables == 0:
                    problems.append(f"{rel}: no table")
        browser.close()
    assert not problems, "\n".join(problems)
    assert len(pages) >= len(published(ROOT)) and checked_links
