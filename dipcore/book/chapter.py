"""What every chapter shares: its validated parameters, the run store, captions, glue.

A chapter's first cell (tagged ``parameters`` for papermill) sets plain values; the next cell
calls ``setup(...)``, which checks them all before any compute and fails with a message naming
the bad parameter and what is allowed.
"""
from __future__ import annotations

import ast
import difflib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .. import data
from . import executor, protocol as protomod
from .evidence import runs_frame
from .spec import SEED_LIMIT, key as spec_key
from .store import DEFAULT_ROOT, RunStore, check_writable_folder

# Every parameter a chapter's ``parameters`` cell may hold (papermill -p/-y sets them).
PARAMETERS = ("dataset", "protocol", "device", "compute", "store", "seeds", "figures", "ratios", "net")


@dataclass
class Chapter:
    dataset: str | None  # the dataset asked for; None (the claims page): each row on its chapter's
    protocol: protomod.Protocol
    device: str
    compute: str
    store: RunStore
    name: str  # for the command hint: the grid(s) the chapter needs
    seeds: tuple[int, ...]  # of the finetuning / initialisation runs
    figures: Path | None = None  # where figures are also saved as PNG files
    shown: dict = field(default_factory=dict)  # every stored record the page has read, by key

    @property
    def data_name(self) -> str:
        """The dataset the runs actually use (the smoke protocol uses synthetic data)."""
        return self.protocol.dataset_for(self.dataset)

    @property
    def label(self) -> str:
        if self.data_name is None:
            return "each row's own (column *dataset*)"
        return data.LABELS[self.data_name]

    def ensure(self, specs: list[dict], grid: str | None = None) -> list[dict]:
        """The records of ``specs``, computed if ``compute`` allows (see ``RunStore.ensure``)."""
        at = "" if self.store.root.resolve() == default_store(self.protocol.name).resolve() else f" --store {self.store.root}"
        hint = (f"python -m dipcore compute {grid or self.name} --dataset {self.dataset} "
                f"--protocol {self.protocol.name}{at}")
        recs = executor.ensure(self.store, specs, self.compute, device=self.device, command_hint=hint)
        self.shown.update((r["key"], r) for r in recs if r)
        return recs

    def records(self, specs: list[dict], grid: str, compute: bool = True) -> list[dict | None]:
        """The records of ``specs``, None where a run is not stored yet (a page that shows what is
        done and says what is pending), computed first when ``compute`` and ``self.compute`` allow."""
        if compute and self.compute != "never":
            return self.ensure(specs, grid)
        recs = [self.store.get(s) for s in specs]
        self.shown.update((r["key"], r) for r in recs if r)
        return recs

    def frame(self, labelled: list[tuple[dict, dict]], grid: str, compute: bool = True, complete: bool = False):
        """The runs ``labelled`` (``(labels, spec)`` pairs, as ``grids.labelled_*`` give them) as one
        frame, one row per run with its labels (``evidence.runs_frame``), and their records by key.
        ``complete``: every run must be there (``ensure``: computed when ``compute`` allows, else
        an error naming the command that computes ``grid``); otherwise a run not stored yet is a row
        with status ``missing`` (``records``)."""
        specs = [s for _, s in labelled]
        recs = self.ensure(specs, grid) if complete else self.records(specs, grid, compute)
        return runs_frame(labelled, recs), {r["key"]: r for r in recs if r}

    def download_runs(self, page: str):
        """A link that downloads, as CSV, every run the page ``page`` has read (one row per run, the
        columns of ``python -m dipcore export``; issue 15), embedded in the page so that it works
        offline and in every edition; also saved as ``<figures>/<page>_runs_<dataset>_<protocol>.csv`` when
        the chapter has a figures folder. (The frame itself: ``export.frame_of(ch.shown.values())``.)"""
        import base64
        import html

        from IPython.display import display

        from .export import frame_of

        df = frame_of(self.shown.values())
        text = df.to_csv(index=False)
        name = f"{page}_runs_{self.data_name}_{self.protocol.name}.csv"
        if self.figures is not None:
            self.figures.mkdir(parents=True, exist_ok=True)
            (self.figures / name).write_text(text)
        href = "data:text/csv;base64," + base64.b64encode(text.encode()).decode()
        what = f"{len(df)} stored run{'s' if len(df) != 1 else ''} ({self.label}, protocol {self.protocol.name}), {len(text) // 1024 + 1} kB"
        display({"text/html": f'<p><a download="{html.escape(name)}" href="{href}">&#x2B07; {html.escape(name)}</a>: {what}</p>',
                 "text/plain": f"{name}: {what}"}, raw=True)

    def save(self, fig, name: str) -> None:
        """Save ``fig`` as ``<figures>/<name>.png`` when the chapter was given a figures folder."""
        if self.figures is not None:
            self.figures.mkdir(parents=True, exist_ok=True)
            fig.savefig(self.figures / f"{name}.png")

    def figure(self, fig, name: str, caption: str, seeds: int | None = None) -> None:
        """Glue ``fig`` as ``name`` and its caption (``caption``, with the dataset, protocol and seeds
        added) as ``name_caption``, for the page's ``{glue:figure}`` directive with a ``:name:``
        that ``{numref}`` refers to; save it as a PNG when the chapter has a figures folder."""
        import matplotlib.pyplot as plt

        self.save(fig, name)
        glue(name, fig)
        glue_markdown(f"{name}_caption", self.caption(caption, seeds=seeds))
        plt.close(fig)

    def table(self, df, caption: str, seeds: int | None = None):
        """Show ``caption`` (with the dataset, protocol and seeds: ``caption``) above the table
        ``df``, which it returns for the cell to display: every table of our runs names its
        dataset (issue 38; tested over the committed pages)."""
        from IPython.display import Markdown, display

        display(Markdown(self.caption(caption, seeds=seeds)))
        return df

    def caption(self, text: str, seeds: int | None = None) -> str:
        """A caption that names the dataset, protocol and number of seeds."""
        s = f" {seeds} seed{'s' if seeds != 1 else ''}." if seeds is not None else ""
        return f"{text} Dataset: {self.label}. Protocol: {self.protocol.name}.{s}"


def gpu_tier_computes(ch: Chapter) -> bool:
    """Whether a chapter trains the missing runs of its GPU tier (§3.4's residual network, the
    robustness grid's 900-epoch settings): when it may compute and either runs on a GPU or at a
    protocol other than the paper's (a smoke run proves the code on a CPU)."""
    if ch.compute == "never":
        return False
    if ch.protocol.name != "paper":
        return True
    return ch.device.startswith("cuda") or (ch.device == "auto" and torch.cuda.is_available())


def check_device(device: str) -> str:
    """``auto`` (a GPU when present), ``cpu`` or an available ``cuda[:i]``."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return device
    if isinstance(device, str) and device.startswith("cuda"):
        index = device.partition(":")[2]
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} asked for, but this machine has no CUDA GPU; use 'cpu' or 'auto'")
        if index and (not index.isdigit() or int(index) >= torch.cuda.device_count()):
            raise ValueError(f"device {device!r}: this machine has {torch.cuda.device_count()} GPU(s)")
        return device
    raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:i]', got {device!r}")


def _papermill_hint(name: str, value) -> str:
    """What to say when a list parameter arrives as text (papermill's ``-p`` passes text): the
    ``-y`` option that passes it as a YAML list (``0,1`` -> ``-y "seeds: [0, 1]"``)."""
    if not isinstance(value, str):
        return ""
    items = [v for v in value.strip().strip("[]").replace(",", " ").split() if v]
    return (f"{name} is the text {value!r}; papermill's -p passes text: give the list with "
            f"-y \"{name}: [{', '.join(items)}]\"")


def check_ratios(ratios) -> tuple[float, ...]:
    if isinstance(ratios, str):
        raise ValueError(_papermill_hint("ratios", ratios))
    out = []
    for r in ratios:
        if isinstance(r, bool) or not isinstance(r, (int, float)) or not 0 <= r < 1:
            raise ValueError(f"pruning ratios must be numbers in [0, 1), got {r!r} in {list(ratios)!r}")
        out.append(float(r))
    return tuple(out)


def check_seeds(seeds) -> tuple[int, ...]:
    if isinstance(seeds, str):
        raise ValueError(_papermill_hint("seeds", seeds))
    if (isinstance(seeds, bytes) or not hasattr(seeds, "__iter__") or not list(seeds)
            or any(isinstance(s, bool) or not isinstance(s, int) or not 0 <= s < SEED_LIMIT for s in seeds)
            or len(set(seeds)) != len(list(seeds))):
        raise ValueError(f"seeds must be a non-empty list of distinct integers in [0, 2**63), got {seeds!r}")
    return tuple(seeds)


def default_store(protocol: str) -> Path:
    """The store a chapter reads when given none: the repository's ``data/runs`` for the paper's
    protocol (the book's numbers); for any other protocol (smoke runs) a folder outside the
    repository, ``$DIPBOOK_SCRATCH_STORE`` or ``~/.cache/dipbook/runs-<protocol>``, so that they never
    land among the committed runs."""
    if protocol == "paper":
        return DEFAULT_ROOT
    return Path(os.environ.get("DIPBOOK_SCRATCH_STORE", Path.home() / ".cache" / "dipbook" / f"runs-{protocol}"))


def store_for(protocol: str, store: str | Path | None) -> Path:
    """The store a command or chapter uses: ``store``, or the protocol's default; a run of another
    protocol than the paper's is refused in the committed ``data/runs``."""
    path = default_store(protocol) if store is None else Path(store)
    if protocol != "paper" and path.resolve() == DEFAULT_ROOT.resolve():
        raise ValueError(f"runs at protocol {protocol!r} never go into the committed store {DEFAULT_ROOT}: "
                         f"leave --store out (they go to {default_store(protocol)}) or name another folder")
    return path


def _assigned(src: str) -> list[str]:
    try:
        tree = ast.parse(src)
    except SyntaxError:
        return []
    return [t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)]


def injected_parameters(namespace: dict) -> list[str]:
    """The names papermill set in a running notebook: the assignments of its injected cell, which
    papermill opens with the line ``# Parameters``, found in IPython's input history ``In``."""
    return [n for src in namespace.get("In") or [] if isinstance(src, str) and src.startswith("# Parameters\n")
            for n in _assigned(src)]


def declared_parameters(namespace: dict) -> tuple[str, ...]:
    """The parameters this notebook declares: the names its ``parameters`` cell assigns (the cell
    papermill runs just before the one it injects), or every chapter's ``PARAMETERS`` when that
    cell cannot be told."""
    history = [src for src in namespace.get("In") or [] if isinstance(src, str)]
    for i, src in enumerate(history):
        if src.startswith("# Parameters\n") and i > 0 and (names := _assigned(history[i - 1])):
            return tuple(n for n in names if n in PARAMETERS)
    return PARAMETERS


def check_injected(namespace: dict, known=None) -> None:
    """A misspelt papermill parameter (``-p compte missing``), or one this chapter does not have,
    would leave the chapter at its default silently: refuse it, naming the parameters it has."""
    known = declared_parameters(namespace) if known is None else known
    for name in injected_parameters(namespace):
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"papermill parameter {name!r} is not a parameter of this chapter{hint}; "
                             f"its parameters are {', '.join(known)}")


def setup(name: str, dataset: str | None = "mnist", protocol: str = "paper", device: str = "auto",
          compute: str = "never", store: str | Path | None = None, seeds=None,
          figures: str | Path | None = None, default_seeds: int | None = None, per_row: bool = False) -> Chapter:
    """Validate a chapter's parameters and open the run store (printing which, and what it holds).
    ``seeds`` None means the protocol's (its first ``default_seeds`` when given: §3.4 uses 3); ``store`` None means ``default_store(protocol)``;
    ``figures`` is a folder where each figure is also saved as a PNG file. ``per_row`` (the claims
    page): ``dataset`` None decides each row on the dataset its chapter is published on. In a
    notebook that papermill ran, a parameter it set that the chapter does not have is refused."""
    check_injected(sys._getframe(1).f_globals)
    if dataset not in data.DATASETS and not (per_row and dataset is None):
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {', '.join(data.DATASETS)}"
                         + (" (or None: each row on its chapter's)" if per_row else ""))
    proto = protomod.get(protocol)
    if compute not in executor.POLICIES:
        raise ValueError(f"compute must be one of {', '.join(executor.POLICIES)}, got {compute!r}")
    seeds = proto.seeds[:default_seeds] if seeds is None else check_seeds(seeds)
    if figures is not None:
        if not isinstance(figures, (str, Path)) or not str(figures):
            raise ValueError(f"figures must be a folder (a non-empty path) or None, got {figures!r}")
        figures = Path(figures)
        check_writable_folder(figures, "figures folder", "give another folder with figures=..., or None")
    if store is not None and (not isinstance(store, (str, Path)) or not str(store)):
        raise ValueError(f"store must be a folder (a non-empty path) or None (the default store), got {store!r}")
    st = RunStore(store_for(proto.name, store))
    if compute != "never":
        executor.check_targets(st)
    print(st.describe())
    warn_foreign_code()
    show_whole_tables()
    return Chapter(dataset, proto, check_device(device), compute, st, name, seeds, figures)


def foreign_code(cwd: Path | None = None) -> Path | None:
    """The checkout whose ``dipcore`` this kernel imported, when the chapter being run belongs to
    another checkout (issue 37, defect 5: an editable install of one checkout made every other
    checkout's chapters run its code); None when it is the chapter's own (or the chapter is not in
    a checkout, e.g. an edition's copy). A chapter runs in its folder, ``<checkout>/chapters``."""
    checkout = (cwd or Path.cwd()).resolve().parent
    mine = Path(__file__).resolve().parents[2]
    if (checkout / "dipcore" / "__init__.py").exists() and checkout != mine:
        return mine
    return None


def warn_foreign_code() -> None:
    other = foreign_code()
    if other is not None:
        print(f"WARNING: this chapter runs the dipcore of {other}, not the one of its own checkout "
              f"{Path.cwd().resolve().parent}: run it with PYTHONPATH={Path.cwd().resolve().parent} "
              "(scripts/refresh.sh and editions do), or pip install -e that checkout")


def show_whole_tables() -> None:
    """A page shows every row and column of the tables it displays: pandas would otherwise cut a
    frame of more than 60 rows to its first and last five (the claims page lists about 90 verdicts)."""
    import pandas as pd

    pd.set_option("display.max_rows", None)
    pd.set_option("display.max_columns", None)


def published(root: str | Path | None = None) -> list[str]:
    """The pages the book publishes, as listed in ``_toc.yml`` (e.g. ``chapters/orthp``)."""
    import re

    root = Path(root) if root is not None else DEFAULT_ROOT.parents[1]
    toc = (root / "_toc.yml").read_text()
    return re.findall(r"(?:root|file):\s*(\S+)", toc)


def mnist_progress(ch: Chapter, grid_names: tuple[str, ...]) -> str:
    """For a page still published on Fashion-MNIST (issue 33): where its MNIST grids ``grid_names``
    stand in ``ch``'s store (their ancestors included) and what the missing runs would cost on one
    CPU thread at the stored runs' speed (``cost.estimate``, as ``python -m dipcore status``
    estimates it), in a sentence; "" on MNIST itself. It says nothing of a computation in
    progress: the store does not know of one."""
    from . import cost, grids

    if ch.dataset == "mnist":
        return ""
    specs = [s for g in grid_names for s in executor.closure(grids.get(g, "mnist", ch.protocol.name))]
    specs = list({spec_key(s): s for s in specs}.values())
    todo = ch.store.todo(specs)
    names = " and ".join(f"`{g}`" for g in grid_names)
    if not todo:
        return f"**On MNIST**, the paper's dataset, this page's grids ({names}) are complete in the store."
    return (f"**On MNIST**, the paper's dataset, this page's grids ({names}) hold {len(specs) - len(todo)} of their {len(specs)} "
            f"runs; the {len(todo)} missing {cost.sentence(todo, ch.store.read_all()[0])}. The page moves to MNIST "
            "when they are complete.")


def glue(name: str, value, display: bool = False):
    """myst-nb's glue when available (in the book), a no-op elsewhere."""
    try:
        from myst_nb import glue as _glue
    except ImportError:
        return value
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()  # numpy scalars: myst-nb formats plain Python numbers
    _glue(name, value, display=display)
    return value


def glue_markdown(name: str, text: str):
    """Glue ``text`` as Markdown, for ``{glue:md}`` (a figure's caption, say)."""
    from IPython.display import Markdown

    return glue(name, Markdown(text))
