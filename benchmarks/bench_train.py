"""Benchmark: stacked training vs the conventional one-run-at-a-time loop, and JSV timings.

    python benchmarks/bench_train.py [--dataset mnist] [--runs 40] [--device cpu]

Prints, for MLP-7-Linear on the full training split (one epoch = 600 steps of 100 examples,
then test accuracy on the 10k test split):
  * the conventional loop (as the authors' code: torchvision transforms per sample in a
    DataLoader, an nn.Module and torch.optim.SGD), model-epochs/s, for 0 and 2 loader workers;
  * the stacked trainer (dipcore.train) with --runs runs at once, model-epochs/s, and the ratio;
  * peak memory of the stacked training process;
  * mean JSV of 1000 examples: dipcore.jsv (vectorised) vs a loop of one backward per class.
Not a test: it prints figures and asserts nothing.
"""
from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_engine import authors_loop  # noqa: E402
from dipcore import data, jsv, nets, schedule, train  # noqa: E402


def conventional(dataset: str, workers: int, device: str) -> float:
    """Seconds for one model-epoch (train + test accuracy) of MLP-7-Linear the conventional way."""
    return authors_loop(dataset, "mlp7-linear", None, 1.0, device, workers)


def stacked(d: data.Data, runs: int, device: str, name: str = "mlp7-linear") -> float:
    """Seconds for one epoch of ``runs`` stacked runs (train + test accuracy + JSV logging)."""
    nets = [nets.seeded_build(name, s) for s in range(runs)]
    sched = [schedule.parse("0:0.01")] * runs
    if device.startswith("cuda"):
        train.train_stacked(nets, sched, list(range(runs)), 1, d, jsv_examples=1000, device=device, progress=False)
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    train.train_stacked(nets, sched, list(range(runs)), 1, d, jsv_examples=1000, device=device, progress=False)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def per_class_loop(model, x):
    """The reference the vectorised JSV replaces: one backward pass per class."""
    x = x.clone().requires_grad_(True)
    logits = model(x)
    rows = [torch.autograd.grad(logits[:, c].sum(), x, retain_graph=True)[0].flatten(1) for c in range(logits.shape[1])]
    return torch.linalg.svdvals(torch.stack(rows, 1))


def _rss_mib() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def memory_child(dataset: str, runs: int) -> None:
    """Resident memory before and during the training of ``runs`` stacked runs (sampled every 5 ms)."""
    import threading

    d = data.load(dataset)
    sub = data.Data(d.name, d.x_train[:6000], d.y_train[:6000], d.x_test, d.y_test, d.mean, d.std)
    before, peak, done = _rss_mib(), [0.0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _rss_mib())
            time.sleep(0.005)

    t = threading.Thread(target=sample)
    t.start()
    stacked(sub, runs, "cpu")
    done.set()
    t.join()
    print(f"{before:.0f} {peak[0]:.0f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="mnist", choices=("mnist", "fashion-mnist"))
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.memory_child:
        return memory_child(a.dataset, a.runs)

    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}, device {a.device}"
          + (f" ({torch.cuda.get_device_name()})" if a.device.startswith("cuda") else ""))
    d = data.load(a.dataset, device=a.device)  # a missing dataset stops here with how to get it
    print(f"dataset: {a.dataset}, {len(d.x_train)} train / {len(d.x_test)} test, MLP-7-Linear, batch 100\n")

    conv = {w: conventional(a.dataset, w, a.device) for w in (0, 2)}
    for w, s in conv.items():
        print(f"conventional loop, {w} loader workers: {s:6.2f} s/model-epoch = {1 / s:7.3f} model-epochs/s")
    best_conv = min(conv.values())
    one = stacked(d, 1, a.device)
    many = stacked(d, a.runs, a.device)
    print(f"stacked trainer,  1 run:            {one:6.2f} s/epoch  = {1 / one:7.3f} model-epochs/s")
    print(f"stacked trainer, {a.runs} runs:           {many:6.2f} s/epoch  = {a.runs / many:7.3f} model-epochs/s")
    print(f"speed-up over the faster conventional loop: {a.runs / many * best_conv:.1f}x "
          f"(1 stacked run alone: {best_conv / one:.1f}x)")

    if a.device == "cpu":
        out = subprocess.run([sys.executable, __file__, "--memory-child", "--dataset", a.dataset, "--runs", str(a.runs)],
                             capture_output=True, text=True, check=True).stdout.split()
        base, peak = map(float, out)
        print(f"\nmemory: {base:.0f} MiB resident with the dataset loaded; training {a.runs} stacked runs "
              f"peaks at {peak:.0f} MiB ({peak - base:+.0f} MiB)")
    else:
        print(f"\nGPU memory, {a.runs} stacked runs: peak {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB")

    print("\nmean JSV of 1000 training examples:")
    x = d.x_train[:1000]
    for name in ("mlp7-relu", "lenet5-relu"):
        model = nets.seeded_build(name, 0).to(a.device)
        times = {}
        for label, fn in (("dipcore.jsv (vectorised)", lambda m=model: jsv.singular_values(m, x)),
                          ("one backward per class", lambda m=model: per_class_loop(m, x))):
            fn()
            t0 = time.perf_counter()
            fn()
            if a.device.startswith("cuda"):
                torch.cuda.synchronize()
            times[label] = time.perf_counter() - t0
        assert torch.allclose(jsv.singular_values(model, x), per_class_loop(model, x), rtol=1e-3, atol=1e-6)
        print(f"  {name:12s} " + ", ".join(f"{k}: {v * 1000:7.1f} ms" for k, v in times.items()))
    lin = nets.seeded_build("mlp7-linear", 0).to(a.device)
    t0 = time.perf_counter()
    jsv.singular_values(lin, x)
    print(f"  mlp7-linear  weight product: {(time.perf_counter() - t0) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
