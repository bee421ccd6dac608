"""Protocols: the scale at which a chapter's grid runs (ARCHITECTURE.md).

* ``paper``: exactly the paper: the full dataset, 90/900 epochs, 5 seeds, mean JSV on 1000
  training examples. The only protocol whose numbers the book sets beside the paper's.
* ``smoke``: the synthetic dataset (2000/500 examples), 1 to 3 epochs, 1 seed, JSV on 20
  examples, 100 iterations of approximate isometry, two of §3.4's six pruning ratios (0.5 and
  0.95), and ResNet-20 (a CPU's slowest network) on 200/100 examples: proves every code path in
  seconds to minutes (CI). The JSV examples and ResNet-20's data are the smallest that still
  exercise every path (a JSV sample of several examples, more than one batch of ResNet-20): they
  were 100 and 500/250, which made the layerwise JSVs of pruning at initialization (one SVD per
  layer and example) and ResNet-20 two thirds of the test command's time.

A protocol maps the paper's epoch counts and LR schedules to its own (``epochs``, ``schedule``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .. import schedule as sched


@dataclass(frozen=True)
class Protocol:
    name: str
    seeds: tuple[int, ...]
    jsv_examples: int
    dataset: str | None = None  # forces a dataset (smoke: synthetic); None: the chapter's choice
    n_train: int | None = None
    n_test: int | None = None
    epochs_map: dict[int, int] = field(default_factory=dict)  # paper epochs -> ours
    ai_iterations: int | None = None  # approximate isometry's iterations; None: Lee et al.'s 10 000
    value_ratios: tuple[float, ...] | None = None  # §3.4's pruning ratios; None: Table 5's six
    residual_data: tuple[int, int] | None = None  # (n_train, n_test) of the residual networks; None: as the rest

    def settings(self, recovery: str | None) -> dict | None:
        """The settings of recovery method ``recovery`` at this protocol (None: its defaults; the
        smoke protocol shortens approximate isometry)."""
        if recovery == "ai" and self.ai_iterations is not None:
            return {"iterations": self.ai_iterations}
        return None

    def epochs(self, paper_epochs: int) -> int:
        return self.epochs_map.get(paper_epochs, paper_epochs)

    def schedule(self, paper_schedule: str, paper_epochs: int) -> str:
        ours = self.epochs(paper_epochs)
        return paper_schedule if ours == paper_epochs else sched.rescale(paper_schedule, paper_epochs, ours)

    def dataset_for(self, dataset: str) -> str:
        return self.dataset or dataset


PROTOCOLS = {
    "paper": Protocol("paper", seeds=(0, 1, 2, 3, 4), jsv_examples=1000),
    "smoke": Protocol("smoke", seeds=(0,), jsv_examples=20, dataset="synthetic", n_train=2000,
                      n_test=500, epochs_map={17: 1, 20: 1, 90: 2, 120: 2, 900: 3}, ai_iterations=100,
                      value_ratios=(0.5, 0.95), residual_data=(200, 100)),
}


def get(name: "str | Protocol") -> Protocol:
    """The protocol called ``name``; a ``Protocol`` is its own (so chapters pass theirs along)."""
    if isinstance(name, Protocol):
        return name
    if name not in PROTOCOLS:
        raise ValueError(f"unknown protocol {name!r}; choose one of {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name]
