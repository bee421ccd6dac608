"""Benchmark: the stacked training step of pruned LeNet-5 with the batch laid out runs-innermost
(``dipcore.train.runs_innermost_layout``: vmap's grouped convolutions then see channels-last
inputs) against the default layout, on the CPU.

    python benchmarks/bench_conv_layout.py [--net lenet5-relu] [--ratio 0.9] [--runs 1,5,10] [--threads 1]

Prints milliseconds per training step (batch 100 per run: forward, backward, SGD) and seconds per
run-epoch (600 steps, evaluation not included) for each stack size and layout, best of three
repeats of 30 steps, and how far the two layouts' weights are apart after 20 identical steps.
Not a test: it asserts nothing. Run it with nothing else on the machine, or say what was running.
"""
from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from dipcore import nets, train  # noqa: E402
from dipcore.pruning import pruned_widths  # noqa: E402

STEPS_PER_EPOCH = 600  # 60 000 training images, batch 100


def stack_and_step(models, x, y, runs_innermost: bool):
    st = train.Stack([copy.deepcopy(m) for m in models], "cpu")
    st.runs_innermost = runs_innermost
    bufs = [torch.zeros_like(p) for p in st.params]
    lr = torch.full((len(models),), 0.01)

    def step() -> None:
        logits = st.forward(x)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none").view(len(models), -1).mean(1)
        grads = list(torch.autograd.grad(loss.sum(), st.params))
        with torch.no_grad():
            train.sgd_step(st.params, grads, bufs, lr, train.SGDConfig())
    return st, step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--net", default="lenet5-relu", choices=[n for n in nets.NETS if n.startswith("lenet5")])
    ap.add_argument("--ratio", type=float, default=0.9)
    ap.add_argument("--runs", default="1,5,10")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    if not 0 <= a.ratio < 1:
        ap.error(f"--ratio must be in [0, 1), got {a.ratio}")
    torch.set_num_threads(a.threads)
    widths = pruned_widths(a.net, a.ratio) if a.ratio > 0 else None
    print(f"{a.net} pruned at {a.ratio} (widths {widths}), {a.threads} thread(s), torch {torch.__version__}")
    print(f"{'runs':>4s} {'layout':>15s} {'ms/step':>8s} {'s/run-epoch':>12s}")
    for runs in map(int, a.runs.split(",")):
        models = [nets.seeded_build(a.net, s, widths) for s in range(runs)]
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(runs, 100, *train.Stack.base_input_shape, generator=gen)
        y = torch.randint(0, 10, (runs, 100), generator=gen)
        for inner in (False, True):
            _, step = stack_and_step(models, x, y, inner)
            for _ in range(3):
                step()
            best = float("inf")
            for _ in range(3):
                t0 = time.perf_counter()
                for _ in range(30):
                    step()
                best = min(best, (time.perf_counter() - t0) / 30)
            print(f"{runs:4d} {'runs innermost' if inner else 'default':>15s} {best * 1e3:8.2f} "
                  f"{best * STEPS_PER_EPOCH / runs:12.2f}", flush=True)
        (sa, fa), (sb, fb) = (stack_and_step(models, x, y, inner) for inner in (False, True))
        for _ in range(20):
            fa()
            fb()
        diff = max(float((p - q).detach().abs().max()) for p, q in zip(sa.params, sb.params))
        print(f"     weights of the two layouts after 20 steps: max |difference| {diff:.2g}")


if __name__ == "__main__":
    main()
