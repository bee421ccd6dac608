"""What every chapter shares: its validated parameters, the run store, captions, glue.

A chapter's first cell (tagged ``parameters`` for papermill) sets plain values; the next cell
calls ``setup(...)``, which checks them all before any compute and fails with a message naming
the bad parameter and what is allowed.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from .. import data
from . import executor, protocol as protomod
from .store import DEFAULT_ROOT, RunStore


@dataclass
class Chapter:
    dataset: str  # the dataset asked for
    protocol: protomod.Protocol
    device: str
    compute: str
    store: RunStore
    name: str  # for the command hint: the grid(s) the chapter needs
    seeds: tuple[int, ...]  # of the finetuning / initialisation runs
    figures: Path | None = None  # where figures are also saved as PNG files

    @property
    def data_name(self) -> str:
        """The dataset the runs actually use (the smoke protocol uses synthetic data)."""
        return self.protocol.dataset_for(self.dataset)

    @property
    def label(self) -> str:
        return {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "synthetic": "synthetic data"}[self.data_name]

    def ensure(self, specs: list[dict], grid: str | None = None) -> list[dict]:
        """The records of ``specs``, computed if ``compute`` allows (see ``RunStore.ensure``)."""
        hint = (f"python -m dipcore compute {grid or self.name} --dataset {self.dataset} "
                f"--protocol {self.protocol.name}")
        return executor.ensure(self.store, specs, self.compute, device=self.device, command_hint=hint)

    def save(self, fig, name: str) -> None:
        """Save ``fig`` as ``<figures>/<name>.png`` when the chapter was given a figures folder."""
        if self.figures is not None:
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

    def caption(self, text: str, seeds: int | None = None) -> str:
        """A caption that names the dataset, protocol and number of seeds."""
        s = f" {seeds} seed{'s' if seeds != 1 else ''}." if seeds is not None else ""
        return f"{text} Dataset: {self.label}. Protocol: {self.protocol.name}.{s}"


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


def check_ratios(ratios) -> tuple[float, ...]:
    out = []
    for r in ratios:
        if isinstance(r, bool) or not isinstance(r, (int, float)) or not 0 <= r < 1:
            raise ValueError(f"pruning ratios must be numbers in [0, 1), got {r!r} in {list(ratios)!r}")
        out.append(float(r))
    return tuple(out)


def check_seeds(seeds) -> tuple[int, ...]:
    if (isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__") or not list(seeds)
            or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds)
            or len(set(seeds)) != len(list(seeds))):
        raise ValueError(f"seeds must be a non-empty list of distinct non-negative integers, got {seeds!r}")
    return tuple(seeds)


def setup(name: str, dataset: str = "fashion-mnist", protocol: str = "paper", device: str = "auto",
          compute: str = "never", store: str | Path | None = None, seeds=None,
          figures: str | Path | None = None) -> Chapter:
    """Validate a chapter's parameters and open the run store. ``seeds`` None means the
    protocol's; ``figures`` is a folder where each figure is also saved as a PNG file."""
    if dataset not in data.DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {', '.join(data.DATASETS)}")
    proto = protomod.get(protocol)
    if compute not in executor.POLICIES:
        raise ValueError(f"compute must be one of {', '.join(executor.POLICIES)}, got {compute!r}")
    seeds = proto.seeds if seeds is None else check_seeds(seeds)
    if figures is not None:
        figures = Path(figures)
        try:
            figures.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ValueError(f"figures folder {str(figures)!r} cannot be created: {e}") from None
    return Chapter(dataset, proto, check_device(device), compute,
                   RunStore(store if store is not None else DEFAULT_ROOT), name, seeds, figures)


def published(root: str | Path | None = None) -> list[str]:
    """The pages the book publishes, as listed in ``_toc.yml`` (e.g. ``chapters/orthp``)."""
    import re

    root = Path(root) if root is not None else DEFAULT_ROOT.parents[1]
    toc = (root / "_toc.yml").read_text()
    return re.findall(r"(?:root|file):\s*(\S+)", toc)


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
