"""Run specifications and their content-addressed keys (DESIGN.md, "Data flow").

A spec is a plain JSON-able dict holding everything that determines a run's numbers; its key
is the first 16 hex digits of the SHA-256 of its canonical JSON. A finetuning run names the
pretrained run it starts from by that run's key, so a chain of runs is addressed by content.
"""
from __future__ import annotations

import hashlib
import json

from . import data, models, prune, schedule

SPEC_VERSION = 1  # bump when a change of code changes the numbers a spec produces


def canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def key(spec: dict) -> str:
    return hashlib.sha256(canonical(spec).encode()).hexdigest()[:16]


def train_spec(net: str, dataset: str, *, schedule_text: str, epochs: int, seed: int,
               ratio: float = 0.0, start: str = "scratch", orthp: bool = False,
               jsv_examples: int = 1000, n_train: int | None = None, n_test: int | None = None,
               batch_size: int = 100, momentum: float = 0.9, weight_decay: float = 1e-4,
               keep_weights: bool = False) -> dict:
    """A training run: ``net`` pruned at ``ratio`` (0: dense) starting from ``start``
    (``"scratch"``: PyTorch default init with ``seed``; else the key of a stored run whose
    weights are L1-pruned, then OrthP'd if ``orthp``), trained with SGD for ``epochs`` epochs
    with LR schedule ``schedule_text``, data order seeded by ``seed``.

    ``keep_weights`` stores the final weights for later runs to start from (pretraining)."""
    spec = {
        "kind": "train", "version": SPEC_VERSION, "net": net, "dataset": dataset,
        "n_train": n_train, "n_test": n_test, "ratio": ratio, "start": start, "orthp": orthp,
        "schedule": schedule_text, "epochs": epochs, "seed": seed, "jsv_examples": jsv_examples,
        "batch_size": batch_size, "momentum": momentum, "weight_decay": weight_decay,
        "keep_weights": keep_weights,
    }
    validate(spec)
    return spec


def jsv_spec(net: str, dataset: str, *, init: str, seed: int = 0, ratio: float = 0.0,
             start: str = "scratch", orthp: bool = False, jsv_examples: int = 1000,
             n_train: int | None = None, n_test: int | None = None, keep_values: bool = False) -> dict:
    """A measurement, no training: the JSVs (Eq. 1) and test accuracy of ``net`` initialised by
    ``init`` (``"default"`` or ``"orthogonal"`` with ``seed``; ``"pretrained"`` from the stored
    run ``start``), pruned at ``ratio``, then OrthP'd if ``orthp`` (Table 1, Figure 1, §3.2).
    ``keep_values`` stores every singular value (for histograms), not only their statistics."""
    if init not in ("default", "orthogonal", "pretrained"):
        raise ValueError(f"init must be default, orthogonal or pretrained, got {init!r}")
    if (init == "pretrained") == (start == "scratch"):
        raise ValueError("a pretrained init needs the key of a stored run as start (and only it)")
    spec = {
        "kind": "jsv", "version": SPEC_VERSION, "net": net, "dataset": dataset, "n_train": n_train,
        "n_test": n_test, "init": init, "seed": seed, "ratio": ratio, "start": start, "orthp": orthp,
        "jsv_examples": jsv_examples, "keep_values": keep_values,
    }
    validate(spec)
    return spec


def validate(spec: dict) -> None:
    """Raise ``ValueError`` naming the field of a spec that cannot run."""
    if spec.get("kind") not in ("train", "jsv"):
        raise ValueError(f"unknown kind of run {spec.get('kind')!r}")
    models.arch(spec["net"])
    if spec["dataset"] not in data.DATASETS:
        raise ValueError(f"unknown dataset {spec['dataset']!r}; choose one of {', '.join(data.DATASETS)}")
    prune.check_ratio(spec["ratio"])
    if not isinstance(spec["seed"], int) or spec["seed"] < 0:
        raise ValueError(f"seed must be a non-negative integer, got {spec['seed']!r}")
    if spec["jsv_examples"] < 1:
        raise ValueError(f"jsv_examples must be >= 1, got {spec['jsv_examples']!r}")
    if spec["kind"] == "jsv":
        return
    if not isinstance(spec["epochs"], int) or spec["epochs"] < 1:
        raise ValueError(f"epochs must be a positive integer, got {spec['epochs']!r}")
    schedule.parse(spec["schedule"]).check_epochs(spec["epochs"])


def stack_group(spec: dict) -> tuple:
    """Runs with equal groups can be trained stacked: one architecture, one data set, one
    length (their seeds, schedules, starting weights and OrthP may differ)."""
    widths = prune.pruned_widths(spec["net"], spec["ratio"])
    return (spec["net"], widths, spec["dataset"], spec["n_train"], spec["n_test"], spec["epochs"],
            spec["jsv_examples"], spec["batch_size"], spec["momentum"], spec["weight_decay"])


def describe(spec: dict) -> str:
    """One line for progress bars and error messages."""
    start = "scratch" if spec["start"] == "scratch" else f"from {spec['start'][:8]}"
    if spec["kind"] == "jsv":
        init = spec["init"] if spec["start"] == "scratch" else f"pretrained {spec['start'][:8]}"
        return (f"JSVs of {spec['net']} ({init}) r={spec['ratio']:g}{' +OrthP' if spec['orthp'] else ''} "
                f"on {spec['jsv_examples']} {spec['dataset']} examples")
    return (f"{spec['net']} r={spec['ratio']:g} {start}{' +OrthP' if spec['orthp'] else ''} "
            f"{spec['epochs']}ep [{spec['schedule']}] seed {spec['seed']} on {spec['dataset']}")
