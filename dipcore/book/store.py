"""The run store, storage only (ARCHITECTURE.md): every number derived from training, one JSON
file per run; what to compute and how is the executor's (``executor``), what a run does is the
recipe's (``recipe``).

``data/runs/<key>.json`` holds the spec, per-epoch metrics, the final and best test accuracy and
where/how the run was computed; ``<key>.pt`` beside it holds final weights when the spec asks for
them (pretrained networks that later runs start from). Files are written atomically (temporary
file + rename, weights before the JSON that points at them), so a killed grid loses at most the
runs in flight. Each record carries a checksum: a damaged or edited file is reported, never used.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import os
import re
import tempfile
from pathlib import Path

import torch

from . import spec as specmod

DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "data" / "runs"
RECORD_NAME = re.compile(r"[0-9a-f]{16}\.json")  # what the store writes; any other file is foreign


class RunsMissing(LookupError):
    """Runs a chapter needs are not in the store and computing them was not allowed."""


class DamagedRun(ValueError):
    """A file of the store does not parse or does not match its checksum."""


def _sha256(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _atomic_write(path: Path, payload: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(payload)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class RunStore:
    def __init__(self, root: str | Path = DEFAULT_ROOT):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / f"{key}.json"

    def weights_path(self, key: str) -> Path:
        return self.root / f"{key}.pt"

    # -- reading -------------------------------------------------------------------------
    def get(self, spec: dict) -> dict | None:
        """The stored record of ``spec``, None if absent; ``DamagedRun`` if the file is bad."""
        path = self.path(specmod.key(spec))
        return self._read(path, spec) if path.exists() else None

    def by_key(self, key: str) -> dict | None:
        """The stored record filed under ``key``, checked as ``get`` checks it; None if absent."""
        path = self.path(key)
        return self._read(path) if path.exists() else None

    def _read(self, path: Path, spec: dict | None = None, weights: bool = True) -> dict:
        """Read and check one record: it parses, its checksum holds, it is filed under the key
        of its spec (and that spec is ``spec`` when given), and (``weights``) its weights are intact."""
        try:
            rec = json.loads(path.read_text())
            body = {k: v for k, v in rec.items() if k != "checksum"}
            ok = rec.get("checksum") == _sha256(specmod.canonical(body).encode())
            key = specmod.key(rec["spec"])
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError, ValueError, KeyError, TypeError) as e:
            raise DamagedRun(f"run file {path} is damaged (does not parse: {e}). Move it away and "
                             "recompute it (compute='missing'), or restore it from git.") from None
        if not ok or rec.get("key") != key or path.stem != key or (spec is not None and rec["spec"] != spec):
            raise DamagedRun(f"run file {path} is damaged (its checksum or spec does not match). "
                             "Move it away and recompute it (compute='missing'), or restore it from git.")
        if weights and rec["spec"].get("keep_weights") and not self._weights_ok(rec):
            raise DamagedRun(f"weights {self.weights_path(key)} of run {key} are missing or damaged; "
                             "recompute the run (compute='missing') or restore the file from git.")
        return rec

    def _weights_ok(self, rec: dict) -> bool:
        w = self.weights_path(rec["key"])
        return w.exists() and rec.get("weights_sha256") == _sha256(w.read_bytes())

    def weights(self, key: str) -> dict[str, torch.Tensor]:
        """Final weights of stored run ``key``, verified: the bytes loaded (with
        ``weights_only=True``) are the ones whose SHA-256 its sound record holds, so swapped,
        replaced or truncated weights are refused (``DamagedRun``), never trained from."""
        w, path = self.weights_path(key), self.path(key)
        if not path.exists() or not w.exists():
            raise RunsMissing(f"no stored weights for run {key} ({w}) in the store {self.root}; compute the grid "
                              f"that holds it first (e.g. python -m dipcore compute pretrain --store {self.root})")
        rec = self._read(path, weights=False)  # the record itself is sound; its weights are checked here, read once
        buf = w.read_bytes()
        if rec.get("weights_sha256") != _sha256(buf):
            raise DamagedRun(f"weights {w} of run {key} do not match the SHA-256 its record holds (swapped, replaced "
                             "or damaged): restore the file from git, or move both files away and recompute the run.")
        try:
            return torch.load(io.BytesIO(buf), map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - a file that matches its checksum but does not load
            raise DamagedRun(f"weights {w} of run {key} do not load ({type(e).__name__}); recompute the run.") from None

    def record_paths(self) -> list[Path]:
        """The files named as records (``<key>.json``); anything else in the folder is foreign."""
        return sorted(p for p in self.root.glob("*.json") if RECORD_NAME.fullmatch(p.name))

    def foreign(self) -> list[Path]:
        """Files the store did not write (and ignores): not a record, not the weights of one, not a
        damaged record set aside; temporary files of a write in progress are not listed."""
        own = {p.name for p in self.record_paths()} | {p.with_suffix(".pt").name for p in self.record_paths()}
        return sorted(p for p in self.root.iterdir() if p.name not in own and not p.name.startswith(".")
                      and ".json.damaged-" not in p.name and ".pt.damaged-" not in p.name) if self.root.is_dir() else []

    def read_all(self) -> tuple[list[dict], list[str]]:
        """Every sound record of the store, and why each damaged one is damaged, in one pass over
        its files (foreign files are ignored)."""
        good, bad = [], []
        for path in self.record_paths():
            try:
                good.append(self._read(path))
            except DamagedRun as e:
                bad.append(str(e))
        return good, bad

    def records(self, skip_damaged: bool = False) -> list[dict]:
        """Every record in the store, each checked: a damaged one raises ``DamagedRun`` (or, with
        ``skip_damaged``, is left out: see ``read_all``). Foreign files are ignored."""
        if skip_damaged:
            return self.read_all()[0]
        return [self._read(path) for path in self.record_paths()]

    def damaged(self) -> list[str]:
        """Why each damaged record of the store is damaged (empty when all are sound)."""
        return self.read_all()[1]

    def describe(self) -> str:
        """One line for a chapter's first output: which store (its path from the repository's root
        when it is inside the repository, else absolute), and what it holds."""
        where = self.root.resolve()
        repo = DEFAULT_ROOT.parents[1]
        if where.is_relative_to(repo):
            where = f"{where.relative_to(repo).as_posix()} (in the repository)"
        if not self.root.is_dir():
            return f"run store {where}: does not exist yet (0 records)"
        n, foreign = len(self.record_paths()), self.foreign()
        extra = f", {len(foreign)} foreign file(s) ignored" if foreign else ""
        return f"run store {where}: {n} records{extra}"

    def check_writable(self) -> None:
        """Raise ``ValueError`` now, before any compute, if runs could not be written here later."""
        check_writable_folder(self.root, "run store", "give another folder with store=... / --store")

    def status(self, specs: list[dict]) -> tuple[list[dict], list[dict], list[tuple[dict, str]]]:
        """(done, missing, damaged with the reason) among ``specs``."""
        done, missing, damaged, _ = self.scan(specs)
        return done, missing, damaged

    def todo(self, specs: list[dict]) -> list[dict]:
        """Of ``specs``, those a computation would write: the missing, then the damaged."""
        _, missing, damaged = self.status(specs)
        return missing + [s for s, _ in damaged]

    def scan(self, specs: list[dict]):
        """What ``status`` returns (the specs done, missing and damaged: ``(spec, why)``), and the
        records read on the way, by key: a caller that needs both reads each file once."""
        done, missing, damaged, found = [], [], [], {}
        for s in specs:
            try:
                rec = self.get(s)
            except DamagedRun as e:
                damaged.append((s, str(e)))
                continue
            if rec is None:
                missing.append(s)
            else:
                done.append(s)
                found[rec["key"]] = rec
        return done, missing, damaged, found

    # -- writing -------------------------------------------------------------------------
    def put(self, spec: dict, result, meta: dict) -> dict:
        """Store a finished training run (a ``dipcore.train.RunResult``)."""
        acc = result.metrics["test_acc"]
        best, best_epoch = max((a, e) for e, a in enumerate(acc) if a is not None)
        body = {
            "status": "diverged" if result.diverged_at is not None else "ok",
            "diverged_at": result.diverged_at,
            "final_acc": acc[-1] if result.diverged_at is None else None,
            "best_acc": best, "best_epoch": best_epoch,
            "metrics": {k: [_finite(v) for v in vs] for k, vs in result.metrics.items()},
        }
        return self.write(spec, body, meta, result.state_dict if spec.get("keep_weights") else None)

    def write(self, spec: dict, body: dict, meta: dict, weights: dict | None = None) -> dict:
        """Write a record (and its weights) atomically: weights first, then the JSON naming them."""
        key = specmod.key(spec)
        self.root.mkdir(parents=True, exist_ok=True)
        rec = {"key": key, "spec": spec, **body, "meta": meta}
        if weights is not None:
            buf = _state_bytes(weights)
            _atomic_write(self.weights_path(key), buf)
            rec["weights_sha256"] = _sha256(buf)
        rec["checksum"] = _sha256(specmod.canonical(rec).encode())
        _atomic_write(self.path(key), json.dumps(rec, indent=1, sort_keys=True, allow_nan=False).encode())
        return rec

    def set_aside(self, spec: dict) -> Path:
        """Rename a damaged run file out of the way, and its weights file when there is one, so
        that recomputing the run overwrites nothing (nothing is deleted)."""
        path = self.path(specmod.key(spec))
        stamp = _dt.datetime.now().strftime("%Y%m%dT%H%M%S")
        aside = path.with_name(f"{path.name}.damaged-{stamp}")
        path.replace(aside)
        w = self.weights_path(specmod.key(spec))
        if w.exists():
            w.replace(w.with_name(f"{w.name}.damaged-{stamp}"))
        return aside

def check_writable_folder(path: Path, what: str, fix: str) -> None:
    """Prove that ``path`` can be written, without creating it (issue 37, defect 12: a compute that
    then failed left an empty folder behind): a folder is made and removed in it, or in its nearest
    existing parent when it does not exist yet (whoever writes there later creates it); else a
    ``ValueError`` naming the folder, what it is for, what is wrong and ``fix``."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{what} {str(path)!r} is a file, not a folder: {fix}")
    parent = next(p for p in (path, *path.parents) if p.exists())
    if not parent.is_dir():
        raise ValueError(f"{what} {str(path)!r} is not writable (it lies inside the file {str(parent)!r}): {fix}")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".probe-", dir=parent))
    except OSError as e:
        raise ValueError(f"{what} {str(path)!r} is not writable ({e.strerror or e}): {fix}") from None


def _finite(v):
    """JSON has no NaN/inf: a non-finite metric is stored as null."""
    return v if v is None or (isinstance(v, float) and v == v and abs(v) != float("inf")) else None


def _state_bytes(state: dict[str, torch.Tensor]) -> bytes:
    buf = io.BytesIO()
    torch.save({k: v.contiguous() for k, v in state.items()}, buf)
    return buf.getvalue()
