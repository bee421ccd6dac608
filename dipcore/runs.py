"""The run store (DESIGN.md): every number derived from training, one JSON file per run.

``data/runs/<key>.json`` holds the spec, per-epoch metrics, the final and best test accuracy and
where/how the run was computed; ``<key>.pt`` beside it holds final weights when the spec asks for
them (pretrained networks that later runs start from). Files are written atomically (temporary
file + rename, weights before the JSON that points at them), so a killed grid loses at most the
runs in flight and resumes where it stopped. Each record carries a checksum: a damaged or edited
file is reported, never used.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import time
import warnings
from collections import defaultdict
from pathlib import Path

import torch

from . import __version__, data as datamod, isometry, jsv, models, prune, spec as specmod, train
from .schedule import parse

POLICIES = ("never", "missing", "always")
DEFAULT_ROOT = Path(__file__).resolve().parent.parent / "data" / "runs"


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


def environment(device: torch.device) -> dict:
    """Where and with what a run was computed."""
    dev = torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_name()
    return {"device": f"{device.type}: {dev}", "torch": torch.__version__, "python": platform.python_version(),
            "dipcore": __version__, "threads": torch.get_num_threads()}


def inflight_dir() -> Path:
    """Where stacks in training save their state (``$DIPBOOK_STATE``, default
    ``~/.cache/dipbook/inflight``): outside the repository, so it survives a fresh checkout on
    the same machine and is never committed."""
    return Path(os.environ.get("DIPBOOK_STATE", Path.home() / ".cache" / "dipbook" / "inflight"))


def _checkpoint_path(chunk: list[dict]) -> Path:
    return inflight_dir() / f"{specmod.key({'chunk': [specmod.key(s) for s in chunk]})}.pt"


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} cores)"
    except OSError:
        pass
    return platform.processor() or platform.machine()


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

    def _read(self, path: Path, spec: dict | None = None) -> dict:
        """Read and check one record: it parses, its checksum holds, it is filed under the key
        of its spec (and that spec is ``spec`` when given), and its weights are intact."""
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
        if rec["spec"].get("keep_weights") and not self._weights_ok(rec):
            raise DamagedRun(f"weights {self.weights_path(key)} of run {key} are missing or damaged; "
                             "recompute the run (compute='missing') or restore the file from git.")
        return rec

    def _weights_ok(self, rec: dict) -> bool:
        w = self.weights_path(rec["key"])
        return w.exists() and rec.get("weights_sha256") == _sha256(w.read_bytes())

    def weights(self, key: str) -> dict[str, torch.Tensor]:
        """Final weights of stored run ``key`` (loaded with ``weights_only=True``)."""
        w = self.weights_path(key)
        if not w.exists():
            raise RunsMissing(f"no stored weights for run {key} ({w}); compute its grid first")
        return torch.load(w, map_location="cpu", weights_only=True)

    def records(self) -> list[dict]:
        """Every record in the store (each checked: a damaged one raises ``DamagedRun``)."""
        return [self._read(path) for path in sorted(self.root.glob("*.json"))]

    def status(self, specs: list[dict]) -> tuple[list[dict], list[dict], list[tuple[dict, str]]]:
        """(done, missing, damaged with the reason) among ``specs``."""
        done, missing, damaged, _ = self._scan(specs)
        return done, missing, damaged

    def _scan(self, specs: list[dict]):
        """``status`` and the records read on the way (by key)."""
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
    def put(self, spec: dict, result: train.RunResult, meta: dict) -> dict:
        """Store a finished training run."""
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
        """Rename a damaged run file out of the way (nothing is deleted)."""
        path = self.path(specmod.key(spec))
        stamp = _dt.datetime.now().strftime("%Y%m%dT%H%M%S")
        aside = path.with_name(f"{path.name}.damaged-{stamp}")
        path.replace(aside)
        return aside

    # -- computing -----------------------------------------------------------------------
    def ensure(self, specs: list[dict], compute: str = "missing", device: str | None = None,
               data_root: str | Path | None = None, download: bool = False, max_stack: int = 64,
               progress: bool = True, command_hint: str | None = None,
               shard: tuple[int, int] | None = None) -> list[dict | None]:
        """The records of ``specs``, computing what ``compute`` allows:
        ``never`` (raise ``RunsMissing`` listing what is absent), ``missing`` (train only what
        is absent), ``always`` (retrain everything).

        ``shard=(i, n)`` computes only every n-th stack of runs, starting at the i-th (longest
        first), so that n processes can share a grid; the records of runs left to other shards
        are None until they are stored."""
        if compute not in POLICIES:
            raise ValueError(f"compute must be one of {', '.join(POLICIES)}, got {compute!r}")
        done, missing, damaged, found = self._scan(specs)
        if compute == "never":
            if damaged:
                raise DamagedRun("; ".join(why for _, why in damaged))
            if missing:
                lines = "\n".join(f"  {specmod.key(s)}  {specmod.describe(s)}" for s in missing[:20])
                more = f"\n  ... and {len(missing) - 20} more" if len(missing) > 20 else ""
                hint = f"\nCompute them with:\n  {command_hint}" if command_hint else ""
                raise RunsMissing(f"{len(missing)} of {len(specs)} runs are not in the store "
                                  f"{self.root}:\n{lines}{more}{hint}\n(or rerun with compute='missing')")
        else:
            for s, why in damaged:
                aside = self.set_aside(s)
                warnings.warn(f"{why} It was moved to {aside.name} and will be recomputed.")
            todo = specs if compute == "always" else missing + [s for s, _ in damaged]
            if shard is not None:
                mine = _shares(specs, shard[1])
                todo = [t for t in todo if mine[specmod.key(t)] == shard[0]]
            self._compute(todo, device, data_root, download, max_stack, progress)
            if compute == "always":
                found = {}  # everything was recomputed: read it anew
        return [found.get(specmod.key(s)) or self.get(s) for s in specs]

    def _compute(self, todo: list[dict], device, data_root, download, max_stack, progress) -> None:
        pending = {specmod.key(s): s for s in todo}
        datasets: dict[tuple, datamod.Data] = {}
        dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        while pending:
            ready = [s for s in pending.values() if s["start"] == "scratch" or s["start"] not in pending]
            if not ready:
                raise ValueError("runs start from each other in a cycle: " + ", ".join(pending))
            for s in [s for s in ready if s["kind"] == "jsv"]:
                self._measure(s, self._data(datasets, s, data_root, download, dev), dev)
                pending.pop(specmod.key(s))
            for chunk in _chunks([s for s in ready if s["kind"] == "train"], max_stack):
                for s in chunk:
                    pending.pop(specmod.key(s))
                # another process may have stored some of them meanwhile: train only the rest
                chunk = [s for s in chunk if not self.path(specmod.key(s)).exists()]
                if chunk:
                    self._train_chunk(chunk, self._data(datasets, chunk[0], data_root, download, dev), dev, progress)

    @staticmethod
    def _data(cache: dict, spec: dict, root, download, device) -> datamod.Data:
        dkey = (spec["dataset"], spec["n_train"], spec["n_test"])
        if dkey not in cache:
            cache[dkey] = datamod.load(spec["dataset"], root=root, download=download, device=device,
                                       n_train=spec["n_train"], n_test=spec["n_test"])
        return cache[dkey]

    def _measure(self, spec: dict, data: datamod.Data, device: torch.device) -> dict:
        """A ``jsv`` spec: JSV statistics and test accuracy of a network, no training."""
        t0 = time.time()
        model = self.initial_model(spec).to(device)
        sv = jsv.singular_values(model, train.jsv_subset(data, spec["jsv_examples"]))
        with torch.no_grad():
            acc = 100 * (model(data.x_test).argmax(1) == data.y_test).double().mean().item()
        body = {"status": "ok", "jsv": jsv.stats(sv), "test_acc": acc}
        if spec["keep_values"]:
            body["values"] = [float(f"{v:.6g}") for v in sv.flatten().tolist()]
        return self.write(spec, body, environment(device) | {"wall_s": round(time.time() - t0, 2)})

    def initial_model(self, spec: dict) -> torch.nn.Module:
        """The network a run starts from (chapters/protocol.md): a fresh default init of the (pruned)
        architecture, or the stored weights of ``spec['start']``, L1-pruned, then OrthP'd."""
        net, ratio = spec["net"], spec["ratio"]
        if spec["start"] == "scratch":
            widths = prune.pruned_widths(net, ratio) if ratio > 0 else None
            model = models.seeded_build(net, spec["seed"], widths)
            if spec.get("init") == "orthogonal":
                g = torch.Generator().manual_seed(spec["seed"])
                model = isometry.orthogonal_init(model, models.gain(net), g)
        else:
            model = models.build(net)
            model.load_state_dict(self.weights(spec["start"]))
            if ratio > 0:
                model, _ = prune.prune_l1(model, net, ratio)
        if spec["orthp"]:
            model = isometry.orthp(model, models.gain(net))
        return model

    def in_flight(self, specs: list[dict], max_stack: int = 64) -> list[tuple[list[dict], int, float]]:
        """Stacks of ``specs`` that are part-way through training: (their specs, the epoch their
        checkpoint reached, when it was saved), from the checkpoints in ``inflight_dir()``."""
        missing = [s for s in specs if s["kind"] == "train" and not self.path(specmod.key(s)).exists()]
        out = []
        for chunk in _chunks(missing, max_stack):
            path = _checkpoint_path(chunk)
            if path.exists():
                try:
                    epoch = torch.load(path, map_location="cpu", weights_only=True)["epoch"]
                except Exception:  # an unreadable checkpoint is ignored by training too
                    continue
                out.append((chunk, epoch, path.stat().st_mtime))
        return out

    def _train_chunk(self, chunk: list[dict], data: datamod.Data, device: torch.device, progress: bool) -> None:
        s0 = chunk[0]
        results = train.train_stacked(
            [self.initial_model(s) for s in chunk], [parse(s["schedule"]) for s in chunk],
            [s["seed"] for s in chunk], s0["epochs"], data, jsv_examples=s0["jsv_examples"],
            sgd=train.SGDConfig(s0["batch_size"], s0["momentum"], s0["weight_decay"]), device=device,
            progress=progress, desc=f"{len(chunk)} x {s0['net']} r={s0['ratio']:g} {s0['epochs']}ep",
            keep_weights=any(s["keep_weights"] for s in chunk),
            checkpoint=_checkpoint_path(chunk))
        meta = environment(device) | {
            "wall_s": round(results[0].wall_s, 2), "segments": results[0].segments, "stacked_with": len(chunk),
            "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
        for s, res in zip(chunk, results):
            self.put(s, res, meta)


def _chunks(specs: list[dict], max_stack: int = 10 ** 9) -> list[list[dict]]:
    """Runs grouped into stacks (one architecture and length each), the longest first."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for s in specs:
        groups[specmod.stack_group(s)].append(s)
    chunks = [g[i:i + max_stack] for g in groups.values() for i in range(0, len(g), max_stack)]
    return sorted(chunks, key=lambda c: -c[0]["epochs"])


def _shares(specs: list[dict], n: int) -> dict[str, int]:
    """Which of ``n`` shards computes each run: whole stacks, dealt out longest first. It depends
    on the grid alone (not on what is stored yet), so every shard process agrees."""
    trains = [s for s in specs if s["kind"] == "train"]
    shares = {specmod.key(s): j % n for j, chunk in enumerate(_chunks(trains)) for s in chunk}
    return shares | {specmod.key(s): 0 for s in specs if s["kind"] != "train"}  # measurements: cheap


def _finite(v):
    """JSON has no NaN/inf: a non-finite metric is stored as null."""
    return v if v is None or (isinstance(v, float) and v == v and abs(v) != float("inf")) else None


def _state_bytes(state: dict[str, torch.Tensor]) -> bytes:
    import io

    buf = io.BytesIO()
    torch.save({k: v.contiguous() for k, v in state.items()}, buf)
    return buf.getvalue()
