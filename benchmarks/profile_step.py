"""Profile: where a stacked training epoch's time goes (issue 36: "profile first").

    python benchmarks/profile_step.py [--net mlp7-relu] [--ratio 0.9] [--runs 10] [--fraction 0.05]
                                      [--threads 1] [--dataset synthetic] [--rows 15]

Trains ``--runs`` copies of ``--net`` L1-pruned at ``--ratio`` (what Tables 3 and 7 finetune) for
one epoch on ``--fraction`` of the training split, under ``torch.profiler`` on the CPU, and prints
the operators that took the most self time, then the share of the epoch spent in the trainer's
evaluations (test accuracy on the test split and mean JSV on 1000 examples, at epochs 0 and 1) and
the seconds per run-epoch scaled to the full split. Not a test: it prints figures and asserts
nothing. Run it with nothing else on the machine, or say what was running.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from dipcore import data, nets, schedule, train  # noqa: E402
from dipcore.pruning import pruned_widths  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--net", default="mlp7-relu")
    ap.add_argument("--ratio", type=float, default=0.9)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--fraction", type=float, default=0.05)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--dataset", default="synthetic")
    ap.add_argument("--rows", type=int, default=15)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    full = data.load(a.dataset, n_train=60000, n_test=10000)
    n = int(len(full.x_train) * a.fraction) // 100 * 100
    d = data.Data(full.name, full.x_train[:n], full.y_train[:n], full.x_test, full.y_test, full.mean, full.std)
    widths = pruned_widths(a.net, a.ratio)
    models = [nets.seeded_build(a.net, s, widths) for s in range(a.runs)]
    sched = [schedule.parse("0:0.01")] * a.runs
    train.train_stacked(models, sched, list(range(a.runs)), 1, d, progress=False)  # warm-up
    t0 = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        res = train.train_stacked(models, sched, list(range(a.runs)), 1, d, progress=False)
    wall = time.perf_counter() - t0
    print(f"{a.net} pruned at {a.ratio}, {a.runs} runs stacked, one epoch on {n} of {len(full.x_train)} "
          f"images, {a.threads} thread(s); {wall:.2f} s under the profiler")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=a.rows))
    ev = res[0].eval_s
    step = wall - ev
    per_epoch = step * len(full.x_train) / n + ev / 2  # full split, one evaluation per epoch
    print(f"evaluations (2 of them: epochs 0 and 1): {ev:.2f} s; steps: {step:.2f} s")
    print(f"scaled to the full split with one evaluation: {per_epoch:.1f} s per epoch, "
          f"{per_epoch / a.runs:.3f} s per run-epoch; evaluation {ev / 2 / per_epoch:.0%} of it "
          "(profiler overhead included)")


if __name__ == "__main__":
    main()
