"""Measure how far a stored run's numbers move when it is trained in another stack composition.

    python benchmarks/stack_drift.py --epochs 90 --stack 1     # each chosen run alone
    python benchmarks/stack_drift.py --epochs 900 --stack 2    # the chosen runs as one stack of 2
    python benchmarks/stack_drift.py --epochs 90 --stack 5 --dataset fashion-mnist --net mlp7-relu --trainer vmap

The store promises one spec -> one result. Stacked runs share batched matrix products, whose
rounding can depend on how many runs are in the stack, so a run's metrics may differ (a little)
with its stack mates, and with the path the steps take (``--trainer``: ``train.TRAINERS``, issue 36).
This retrains stored Table 3 runs (``--net``: MLP-7-Linear, or a network of Table 7; pruned at 0.9,
5 specs: both LRs without OrthP, both with OrthP, scratch; seed 0) in the composition asked for, on
the same machine type, writes nothing to the run store, and appends one row per run to
``data/drift/stack_composition.csv``: the stored and the retrained final accuracy, the largest
per-epoch gap in test accuracy, in mean JSV and in train loss, and which logged metrics are not
bitwise equal.
The reproducibility page states the guarantee from that file.
"""
from __future__ import annotations

import argparse
import csv
import datetime as _dt
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from dipcore import data, train  # noqa: E402
from dipcore.book import executor, grids, recipe, spec as specmod  # noqa: E402
from dipcore.book.store import DEFAULT_ROOT, RunStore  # noqa: E402
from dipcore.schedule import parse  # noqa: E402

OUT = ROOT / "data" / "drift" / "stack_composition.csv"
FIELDS = ("key", "setting", "epochs", "stored_stack", "stored_segments", "new_stack", "stored_final_acc",
          "new_final_acc", "max_abs_acc_gap", "max_rel_jsv_gap", "bitwise_equal", "device", "torch", "date",
          "max_rel_loss_gap", "differing_metrics", "stored_trainer", "new_trainer")


def _open_rows() -> list[dict]:
    """Rows already measured (an older file with fewer columns is carried over)."""
    if not OUT.exists() or not OUT.stat().st_size:
        return []
    with open(OUT, newline="") as f:
        return list(csv.DictReader(f))


def chosen(epochs: int, dataset: str = "mnist", net: str = "mlp7-linear") -> list[dict]:
    """Five stored Table 3 (or Table 7) runs of ``net`` of ``epochs`` epochs at ratio 0.9, seed 0:
    both LRs with and without OrthP (900 epochs: without), and the scratch run (90 epochs)."""
    out = []
    for s in grids.get("table3" if net == "mlp7-linear" else "table7", dataset, "paper"):
        if s["net"] == net and s["epochs"] == epochs and s["ratio"] == 0.9 and s["seed"] == 0:
            out.append(s)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, choices=(90, 900), required=True)
    ap.add_argument("--stack", type=int, default=1, help="runs per stack: 1 = each alone (default)")
    ap.add_argument("--limit", type=int, default=None, help="only the first N chosen runs")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--dataset", default="mnist")
    ap.add_argument("--net", default="mlp7-linear", help="mlp7-linear (Table 3) or a network of Table 7")
    ap.add_argument("--trainer", choices=train.TRAINERS, default=None, help="default: the engine's own choice")
    a = ap.parse_args()
    if a.stack < 1:
        ap.error(f"--stack must be at least 1, got {a.stack}")
    torch.set_num_threads(a.threads)
    store = RunStore(DEFAULT_ROOT)
    specs = chosen(a.epochs, a.dataset, a.net)[: a.limit]
    stored = [store.get(s) for s in specs]
    if any(r is None for r in stored):
        sys.exit("some chosen runs are not in the store: compute table3 (or table7) first")
    d = data.load(a.dataset)
    dev = torch.device("cpu")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    before = _open_rows()
    with open(OUT, "w", newline="") as f:
        w = csv.DictWriter(f, FIELDS, restval="")
        w.writeheader()
        w.writerows(before)
        f.flush()
        for i in range(0, len(specs), a.stack):
            chunk, recs = specs[i:i + a.stack], stored[i:i + a.stack]
            s0 = chunk[0]
            results = train.train_stacked(
                [recipe.initial_model(s, store.weights) for s in chunk], [parse(s["schedule"]) for s in chunk],
                [s["seed"] for s in chunk], s0["epochs"], d, jsv_examples=s0["jsv_examples"],
                sgd=train.SGDConfig(s0["batch_size"], s0["momentum"], s0["weight_decay"]), device=dev,
                desc=f"{len(chunk)} x {s0['epochs']}ep", checkpoint=executor.inflight_dir() / f"drift-{a.stack}-"
                f"{specmod.key({'chunk': [specmod.key(s) for s in chunk], 'trainer': a.trainer})}.pt", trainer=a.trainer)
            for s, rec, res in zip(chunk, recs, results):
                old, new = rec["metrics"], res.metrics
                acc_gap = max(abs(x - y) for x, y in zip(old["test_acc"], new["test_acc"]))
                jsv_gap = max(abs(x - y) / abs(x) for x, y in zip(old["jsv_mean"], new["jsv_mean"]))
                loss_gap = max(abs(x - y) / abs(x) for x, y in zip(old["train_loss"][1:], new["train_loss"][1:]))
                differ = [k for k in old if old[k] != [None if v is None else float(v) for v in new[k]]]
                same = not differ
                row = {"key": specmod.key(s), "setting": specmod.describe(s), "epochs": s["epochs"],
                       "stored_stack": rec["meta"].get("stacked_with"), "stored_segments": rec["meta"].get("segments", 1),
                       "new_stack": len(chunk), "stored_final_acc": rec["final_acc"], "new_final_acc": res.final_acc,
                       "max_abs_acc_gap": round(acc_gap, 4), "max_rel_jsv_gap": f"{jsv_gap:.2e}", "bitwise_equal": same,
                       "device": executor.environment(dev)["device"], "torch": torch.__version__,
                       "date": _dt.date.today().isoformat(), "max_rel_loss_gap": f"{loss_gap:.2e}",
                       "differing_metrics": " ".join(differ),
                       "stored_trainer": rec["meta"].get("trainer", "vmap"), "new_trainer": res.trainer}
                w.writerow(row)
                f.flush()
                print(f"{row['setting']} ({res.trainer}): final acc {rec['final_acc']:.2f} (stored, stack of {row['stored_stack']}) "
                      f"vs {res.final_acc:.2f} (stack of {len(chunk)}); largest gap: acc {acc_gap:.2f} points, "
                      f"mean JSV {jsv_gap:.1e} relative, train loss {loss_gap:.1e} relative; "
                      f"bitwise equal: {same}{'' if same else ' (' + ', '.join(differ) + ' differ)'}", flush=True)


if __name__ == "__main__":
    main()
