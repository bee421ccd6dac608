"""Run specifications and their content-addressed keys (ARCHITECTURE.md, "The run store").

A spec is a plain JSON-able dict holding everything that determines a run's numbers; its key is
the first 16 hex digits of the SHA-256 of its canonical JSON. A run that starts from another
(finetuning starts from a pretrained network) names it by that run's key in ``start``, so a chain
of runs is addressed by content.

**Keys never change.** Fields added after runs were stored (``recovery`` beyond OrthP, the
pruning ``criterion`` and ``scope``, the ``trainer``) appear in a spec only when they differ from
their default, so a spec built today for a stored run has that run's key (tested against every
file of ``data/runs``). Each run has exactly one spelling: OrthP is ``orthp: true`` (as stored),
never ``recovery: "orthp"``.

Specs built here are ``Spec`` objects: dicts that also remember the specs they start from
(``requires``), so that the executor can compute a missing pretrained run before the runs that
need it. A spec read back from a file is a plain dict; it needs nothing more, its parents being
stored already.
"""
from __future__ import annotations

import hashlib
import json
import re

from .. import data, isometry, nets, pruning, schedule

SPEC_VERSION = 1  # bump when a change of code changes the numbers a spec produces
SEED_LIMIT = 2 ** 63  # torch.Generator.manual_seed and torch.manual_seed accept [0, 2**63)
KEY = re.compile(r"[0-9a-f]{16}")

# fields that stored specs do not have: present only when not at their default
OPTIONAL = {"recovery": "none", "criterion": "l1", "scope": "layer", "trainer": "stacked", "init": "default"}
SCOPES = {"l1": "layer", "snip": "global", "snip-ae": "global"}  # L1 ranks units within each layer, SNIP all weights at once
TRAINERS = ("stacked",)
COMMON = ("kind", "version", "net", "dataset", "n_train", "n_test", "ratio", "start", "orthp", "seed",
          "jsv_examples")
FIELDS = {
    "train": COMMON + ("schedule", "epochs", "batch_size", "momentum", "weight_decay", "keep_weights"),
    "jsv": COMMON + ("init", "keep_values"),
}
INITS = ("default", *isometry.INITS, "pretrained")  # default: PyTorch's; then orthogonal and Lee et al.'s variance scalings


class Spec(dict):
    """A spec (a dict, compared and hashed by content) that remembers the specs it starts from."""

    requires: tuple["Spec", ...] = ()

    def __reduce__(self):  # pickles (and copies) as the plain dict it is
        return (dict, (dict(self),))


def canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def key(spec: dict) -> str:
    return hashlib.sha256(canonical(spec).encode()).hexdigest()[:16]


def recovery_fields() -> dict[str, str]:
    """The spec fields of every recovery method's settings (``isometry.RECOVERIES``), each with its
    method's name (``{"ai_lr": "ai", "ai_iterations": "ai"}``): present exactly when it is the run's
    recovery."""
    return {f: name for name, r in isometry.RECOVERIES.items() for f in r.fields()}


def _start(start) -> tuple[str, tuple]:
    """``start`` given as "scratch", a stored run's key, or the spec of the run itself."""
    if isinstance(start, dict):
        return key(start), (start,)
    return start, ()


def _optional(spec: dict, recovery: str, criterion: str, scope: str | None, trainer: str, settings: dict | None,
              init: str = "default") -> None:
    """Add the fields that stored specs lack, only where they differ from the default (a criterion's
    scope, when not given, is the one it has), and the recovery method's ``settings`` (its
    defaults where not given)."""
    _check_choice("recovery", recovery, tuple(isometry.RECOVERIES))
    if recovery == "orthp":  # one spelling per run: OrthP is the stored ``orthp: true``
        spec["orthp"] = True
    method = isometry.RECOVERIES[recovery]
    settings = dict(settings or {})
    if unknown := [s for s in settings if s not in method.settings]:
        what = f"has the settings {', '.join(method.settings)}" if method.settings else "has no settings"
        raise ValueError(f"recovery settings {', '.join(map(repr, unknown))} given, but the recovery is {recovery!r}, "
                         f"which {what}")
    for f, setting in method.fields().items():
        spec[f] = settings.get(setting, method.settings[setting])
    scope = SCOPES.get(criterion, "layer") if scope is None else scope
    pairs = [("recovery", recovery if recovery != "orthp" else "none"), ("criterion", criterion),
             ("scope", scope), ("trainer", trainer)]
    if spec["kind"] == "train":  # a measurement always names its init
        pairs.append(("init", init))
    for field, value in pairs:
        if value != OPTIONAL[field]:
            spec[field] = value


def train_spec(net: str, dataset: str, *, schedule_text: str, epochs: int, seed: int,
               ratio: float = 0.0, start="scratch", recovery: str = "none", orthp: bool | None = None,
               jsv_examples: int = 1000, n_train: int | None = None, n_test: int | None = None,
               batch_size: int = 100, momentum: float = 0.9, weight_decay: float = 1e-4,
               keep_weights: bool = False, criterion: str = "l1", scope: str | None = None,
               trainer: str = "stacked", settings: dict | None = None, init: str = "default") -> Spec:
    """A training run: ``net`` pruned at ``ratio`` (0: dense) starting from ``start``
    (``"scratch"``: a fresh ``init`` with ``seed``, PyTorch's by default; else a stored run, given
    by its spec or its key), pruned by ``criterion`` (``l1``: ``ratio`` of the units of each layer;
    ``snip``/``snip-ae``: the fraction ``ratio`` of all weights, masked, from a scratch start),
    then recovered by ``recovery``, trained
    with SGD for ``epochs`` epochs with LR schedule ``schedule_text``, data order seeded by
    ``seed``. ``orthp=True`` is the same as ``recovery="orthp"``; a recovery with settings
    takes them from ``settings`` (AI: ``{"lr": ..., "iterations": ...}``; Lee et al.'s by default).

    ``keep_weights`` stores the final weights for later runs to start from (pretraining)."""
    start, requires = _start(start)
    if orthp is not None:
        _check_bool("orthp", orthp)
        if orthp and recovery not in ("none", "orthp"):
            raise ValueError(f"orthp=True and recovery={recovery!r} contradict each other")
        recovery = "orthp" if orthp else recovery
    spec = Spec({
        "kind": "train", "version": SPEC_VERSION, "net": net, "dataset": dataset,
        "n_train": n_train, "n_test": n_test, "ratio": ratio, "start": start, "orthp": False,
        "schedule": schedule_text, "epochs": epochs, "seed": seed, "jsv_examples": jsv_examples,
        "batch_size": batch_size, "momentum": momentum, "weight_decay": weight_decay,
        "keep_weights": keep_weights,
    })
    _optional(spec, recovery, criterion, scope, trainer, settings, init)
    spec.requires = requires
    validate(spec)
    return spec


def jsv_spec(net: str, dataset: str, *, init: str, seed: int = 0, ratio: float = 0.0,
             start="scratch", recovery: str = "none", orthp: bool | None = None, jsv_examples: int = 1000,
             n_train: int | None = None, n_test: int | None = None, keep_values: bool = False,
             criterion: str = "l1", scope: str | None = None, settings: dict | None = None) -> Spec:
    """A measurement, no training: the JSVs (Eq. 1), layerwise JSVs and test accuracy of ``net``
    initialised by ``init`` (``"default"``, ``"orthogonal"``, ``"lecun"``, ``"glorot"`` or ``"he"``
    with ``seed``; ``"pretrained"`` from the stored
    run ``start``, given by its spec or key), pruned at ``ratio``, then recovered (Table 1,
    Figure 1, §3.2). ``keep_values`` stores every singular value (for histograms)."""
    start, requires = _start(start)
    if orthp is not None:
        _check_bool("orthp", orthp)
        recovery = "orthp" if orthp else recovery
    spec = Spec({
        "kind": "jsv", "version": SPEC_VERSION, "net": net, "dataset": dataset, "n_train": n_train,
        "n_test": n_test, "init": init, "seed": seed, "ratio": ratio, "start": start, "orthp": False,
        "jsv_examples": jsv_examples, "keep_values": keep_values,
    })
    _optional(spec, recovery, criterion, scope, "stacked", settings)
    spec.requires = requires
    validate(spec)
    return spec


def field(spec: dict, name: str):
    """A field of ``spec``, with the default of a field that stored specs lack."""
    return spec.get(name, OPTIONAL.get(name))


def pruning_ratio(spec: dict) -> float:
    """The pruning ratio of a run, 0.0 for one that prunes nothing (pretraining has none)."""
    return float(spec.get("ratio") or 0.0)


def recovery(spec: dict) -> str:
    """The recovery method a run applies after pruning: ``none``, ``orthp``, ..."""
    return "orthp" if spec["orthp"] else field(spec, "recovery")


# -- validation ------------------------------------------------------------------------------------
def _check_bool(name: str, v) -> None:
    if not isinstance(v, bool):
        raise ValueError(f"{name} must be True or False, got {v!r}")


def _check_int(name: str, v, low: int, high: int | None = None, none_ok: bool = False) -> None:
    if none_ok and v is None:
        return
    if isinstance(v, bool) or not isinstance(v, int) or v < low or (high is not None and v >= high):
        bound = f"in [{low}, {high})" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be an integer {bound}{' or None' if none_ok else ''}, got {v!r}")


def _check_number(name: str, v, low: float, high: float | None = None) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not v == v or v < low \
            or (high is not None and v >= high):
        bound = f"in [{low}, {high})" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be a number {bound}, got {v!r}")


def _check_choice(name: str, v, choices) -> None:
    if v not in choices:
        raise ValueError(f"unknown {name} {v!r}; choose one of {', '.join(map(str, choices))}")


def validate(spec: dict) -> None:
    """Raise ``ValueError`` naming the field of a spec that cannot run (checked before any
    compute): unknown or missing fields, a value of the wrong type or out of range, a ``start``
    that is no run key, a second spelling of OrthP."""
    kind = spec.get("kind")
    _check_choice("kind of run", kind, tuple(FIELDS))
    missing = [f for f in FIELDS[kind] if f not in spec]
    unknown = [f for f in spec if f not in FIELDS[kind] and f not in OPTIONAL and f not in recovery_fields()]
    if missing or unknown:
        raise ValueError(f"a {kind} spec {'lacks ' + ', '.join(missing) if missing else ''}"
                         f"{'; ' if missing and unknown else ''}{'has unknown fields ' + ', '.join(unknown) if unknown else ''}")
    for f, default in OPTIONAL.items():
        if f in spec and f not in FIELDS[kind] and spec[f] == default:
            raise ValueError(f"field {f!r} at its default {default!r} must be left out (it would change the run's key)")
    if spec["version"] != SPEC_VERSION:
        raise ValueError(f"spec version {spec['version']!r} is not this code's ({SPEC_VERSION}): its numbers "
                         "came from other code")
    nets.arch(spec["net"])
    _check_choice("dataset", spec["dataset"], data.DATASETS)
    _check_int("n_train", spec["n_train"], 1, none_ok=True)
    _check_int("n_test", spec["n_test"], 1, none_ok=True)
    pruning.check_ratio(spec["ratio"])
    if isinstance(spec["ratio"], bool):
        raise ValueError(f"pruning ratio must be a number in [0, 1), got {spec['ratio']!r}")
    if not (spec["start"] == "scratch" or (isinstance(spec["start"], str) and KEY.fullmatch(spec["start"]))):
        raise ValueError(f"start must be 'scratch' or the 16-hex-digit key of a stored run, got {spec['start']!r}")
    _check_bool("orthp", spec["orthp"])
    _check_int("seed", spec["seed"], 0, SEED_LIMIT)
    _check_int("jsv_examples", spec["jsv_examples"], 1)
    if spec["orthp"] and "recovery" in spec:
        raise ValueError("a run has one recovery: orthp=True and a recovery field together")
    _check_choice("recovery", field(spec, "recovery"), tuple(r for r in isometry.RECOVERIES if r != "orthp"))
    method = isometry.RECOVERIES[recovery(spec)]
    if nets.arch(spec["net"]).residual and recovery(spec) != "none":
        raise ValueError(f"{spec['net']}: recovery {recovery(spec)!r} is defined for the four plain networks "
                         "(a layer's weight matrix), not for a residual network; use recovery 'none'")
    for other, owner in recovery_fields().items():  # a method's settings belong with it, all of them
        if (other in spec) != (owner == method.name):
            fields = ", ".join(isometry.RECOVERIES[owner].fields())
            raise ValueError(f"the fields {fields} belong with recovery {owner!r} (and it needs all of them)")
    if method.check is not None:
        method.check(**{setting: spec[f] for f, setting in method.fields().items()})
    criterion = field(spec, "criterion")
    _check_choice("pruning criterion", criterion, pruning.CRITERIA)
    if field(spec, "scope") != SCOPES[criterion]:
        raise ValueError(f"criterion {criterion!r} ranks its weights with scope {SCOPES[criterion]!r}, "
                         f"not {field(spec, 'scope')!r}")
    if criterion in pruning.MASKED:
        if spec["start"] != "scratch":
            raise ValueError(f"criterion {criterion!r} prunes at initialization: it needs start 'scratch', "
                             "not a stored run")
        if spec["ratio"] == 0:
            raise ValueError(f"criterion {criterion!r} at sparsity 0 prunes nothing: leave the criterion out "
                             "for a dense run")
        if not method.keeps_masks:
            keeping = ", ".join(repr(n) for n, r in isometry.RECOVERIES.items() if r.keeps_masks and r.settings)
            raise ValueError(f"{method.label} replaces whole weight matrices and would undo the masks of "
                             f"{criterion!r}; use recovery {keeping} (it keeps masked weights at zero)")
    init = field(spec, "init")
    _check_choice("init", init, INITS)
    if kind == "train" and init != "default" and spec["start"] != "scratch":
        raise ValueError(f"init {init!r} is for a scratch start; a run from a stored network starts "
                         "from its weights")
    if kind == "train" and init == "pretrained":
        raise ValueError("a training run from a stored network names it in start; init 'pretrained' "
                         "is for measurements")
    if kind == "jsv":
        if (spec["init"] == "pretrained") == (spec["start"] == "scratch"):
            raise ValueError("a pretrained init needs the key of a stored run as start (and only it)")
        _check_bool("keep_values", spec["keep_values"])
        return
    _check_choice("trainer", field(spec, "trainer"), TRAINERS)
    _check_int("epochs", spec["epochs"], 1)
    schedule.parse(spec["schedule"]).check_epochs(spec["epochs"])
    _check_int("batch_size", spec["batch_size"], 1)
    _check_number("momentum", spec["momentum"], 0.0, 1.0)
    _check_number("weight_decay", spec["weight_decay"], 0.0)
    _check_bool("keep_weights", spec["keep_weights"])


def stack_group(spec: dict) -> tuple:
    """Runs with equal groups can be trained stacked: one architecture, one data set, one
    length, one trainer (their seeds, schedules, starting weights, masks and recovery may
    differ). Masked runs keep the dense architecture."""
    masked = field(spec, "criterion") in pruning.MASKED
    widths = pruning.pruned_widths(spec["net"], 0.0 if masked else spec["ratio"])
    return (spec["net"], widths, spec["dataset"], spec["n_train"], spec["n_test"], spec["epochs"],
            spec["jsv_examples"], spec["batch_size"], spec["momentum"], spec["weight_decay"])


def describe(spec: dict) -> str:
    """One line for progress bars and error messages."""
    start = "scratch" if spec["start"] == "scratch" else f"from {spec['start'][:8]}"
    rec = "" if recovery(spec) == "none" else f" +{isometry.RECOVERIES[recovery(spec)].label}"
    crit = field(spec, "criterion")
    if crit in pruning.MASKED:
        rec = f" {crit} (sparsity)" + rec
    if spec["kind"] == "jsv":
        init = spec["init"] if spec["start"] == "scratch" else f"pretrained {spec['start'][:8]}"
        return (f"JSVs of {spec['net']} ({init}) r={spec['ratio']:g}{rec} "
                f"on {spec['jsv_examples']} {spec['dataset']} examples")
    if field(spec, "init") != "default":
        start = f"scratch ({field(spec, 'init')} init)"
    return (f"{spec['net']} r={spec['ratio']:g} {start}{rec} "
            f"{spec['epochs']}ep [{spec['schedule']}] seed {spec['seed']} on {spec['dataset']}")
