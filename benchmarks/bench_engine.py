"""Benchmark: the training engine on the four networks, and what each grid of the book costs.

    python benchmarks/bench_engine.py [--dataset mnist] [--runs 20] [--fraction 0.1]
                                      [--nets mlp7-linear,...] [--device cpu]

For each network (MLP-7-Linear, MLP-7-ReLU, LeNet-5-Linear, LeNet-5-ReLU), dense and L1-pruned at
0.9 (``--ratio``; the pruned architecture: what Tables 3 and 7 finetune), it prints run-epochs per second of

  * the authors'-style loop: one ``nn.Module``, ``torch.optim.SGD``, a ``DataLoader`` applying
    torchvision's transforms per sample (no loader workers), test accuracy every epoch (the JSV
    logging of their code is left out: this favours them);
  * the stacked trainer (``dipcore.train.train_stacked``) with 1 run and with ``--runs`` runs,
    test accuracy and mean JSV (1000 examples) logged every epoch as in the book's runs;

the share of an epoch the logging takes (test accuracy and mean JSV), the same stack on the
``vmap`` path (or ``--baseline``'s) where the engine picks another (``train.trainer_for``: plain
networks on a CPU, issue 36), the speed-up over the authors'-style loop, the arithmetic rate reached (FLOPs counted from the
network, 3x the forward pass for a training step) as a fraction of this machine's measured sgemm
peak, and the hours of this machine that each grid of the book costs at those rates (all of it, and
what is missing from the run store). ``--nets resnet20`` times §3.4's residual tier (``value_resnet``,
whose cost the book cannot estimate before a ResNet-20 run is stored), dense and at ``--ratio``.

One epoch is trained on ``--fraction`` of the training split (best of two, after a warm-up); the
trainer reports the time of its evaluations (test accuracy and mean JSV, at epochs 0 and 1); the
rest is scaled to the full split (60 000 images) and one evaluation added.
Not a test: it prints figures and asserts nothing. Run it with nothing else on the machine, or say
what was running.
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from dipcore import data, nets, schedule, train  # noqa: E402
from dipcore.pruning import pruned_widths  # noqa: E402

FULL_TRAIN = 60_000
PRUNE_RATIO = 0.9


def sgemm_peak(seconds: float = 1.0, n: int = 1024) -> float:
    """GFLOP/s of float32 matrix products on this machine with the current thread count."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b
        reps += 1
    return 2 * n ** 3 * reps / (time.perf_counter() - t0) / 1e9


def forward_macs(model: nn.Module) -> int:
    """Multiply-accumulates of one example's forward pass, counted from the layers' shapes."""
    macs = []

    def hook(m, inp, out):
        k = m.weight[0].numel()  # in_features, or in_channels * kh * kw
        macs.append(out[0].numel() * k if isinstance(m, nn.Conv2d) else m.out_features * k)

    handles = [m.register_forward_hook(hook) for m in nets.weight_layers(model)]
    with torch.no_grad():
        model(torch.zeros(1, *nets.INPUT_SHAPE))
    for h in handles:
        h.remove()
    return sum(macs)


def train_gflop_per_epoch(model: nn.Module) -> float:
    """FLOPs of one training epoch: forward + backward ~ 3 forward passes, 2 FLOPs per MAC."""
    return 3 * 2 * forward_macs(model) * FULL_TRAIN / 1e9


def authors_loop(dataset: str, net: str, widths, fraction: float, device: str, workers: int = 0) -> float:
    """Seconds of one model-epoch the authors' way (scaled from ``fraction`` of the split), with
    ``workers`` DataLoader workers."""
    import torchvision
    import torchvision.transforms as T

    cls = getattr(torchvision.datasets, data.TORCHVISION_CLASS[dataset])
    mean, std = data.NORMALIZATION[dataset]
    tf = T.Compose([T.Resize(32), T.ToTensor(), T.Normalize((mean,), (std,))])
    root = str(data.default_root())
    train_set = cls(root, train=True, transform=tf)
    n = int(FULL_TRAIN * fraction)
    sub = torch.utils.data.Subset(train_set, range(n))
    train_dl = torch.utils.data.DataLoader(sub, batch_size=100, shuffle=True, num_workers=workers)
    test_dl = torch.utils.data.DataLoader(cls(root, train=False, transform=tf), batch_size=100, num_workers=workers)
    model = nets.build(net, widths).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    t0 = time.perf_counter()
    for x, y in train_dl:
        x, y = x.to(device), y.to(device)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    t_train = time.perf_counter() - t0
    t0 = time.perf_counter()
    with torch.no_grad():
        for x, y in test_dl:
            (model(x.to(device)).argmax(1) == y.to(device)).sum().item()
    return t_train / fraction + time.perf_counter() - t0


def stacked_epoch(d: data.Data, net: str, widths, runs: int, fraction: float, device: str,
                  trainer: str | None = None) -> tuple[float, float]:
    """(seconds of one epoch of ``runs`` stacked runs on the full split, of which evaluation).
    One epoch is trained on ``fraction`` of the split; the trainer reports how much of its wall
    time went to the evaluations (epochs 0 and 1); the rest, the steps and the set-up, is scaled
    to the full split (the set-up, small, is scaled with it: an upper bound)."""
    models = [nets.seeded_build(net, s, widths) for s in range(runs)]
    sched = [schedule.parse("0:0.01")] * runs
    n = int(FULL_TRAIN * fraction)
    sub = data.Data(d.name, d.x_train[:n], d.y_train[:n], d.x_test, d.y_test, d.mean, d.std)

    def timed() -> tuple[float, float]:
        res = train.train_stacked(models, sched, list(range(runs)), 1, sub, device=device, progress=False, trainer=trainer)
        return res[0].wall_s, res[0].eval_s  # the trainer synchronises a GPU for these

    timed()  # warm-up (allocator, first-call costs)
    wall, evaluation = min(timed() for _ in range(2))
    return (wall - evaluation) / fraction + evaluation / 2, evaluation / 2


def grid_hours(per_run_epoch: dict, dataset: str) -> list[tuple[str, int, float, int, float]]:
    """(grid, training runs, hours, missing runs, hours of the missing) at ``per_run_epoch`` rates,
    keyed by (net, pruned?)."""
    from dipcore.book import executor, grids, store

    st = store.RunStore(Path(__file__).resolve().parent.parent / "data" / "runs")
    rows = []
    for name in ("pretrain", "table3", "table7", "table7_ai", "value", "value_resnet"):
        specs = [s for s in executor.closure(grids.get(name, dataset, "paper")) if s["kind"] == "train"]
        cost = lambda s: s["epochs"] * per_run_epoch.get((s["net"], s["ratio"] > 0), float("nan")) / 3600  # noqa: E731
        missing = st.status(specs)[1]
        rows.append((name, len(specs), sum(map(cost, specs)), len(missing), sum(map(cost, missing))))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="mnist", choices=("mnist", "fashion-mnist"))
    ap.add_argument("--runs", type=int, default=20, help="runs in the large stack (default 20)")
    ap.add_argument("--fraction", type=float, default=0.05,
                    help="epochs are timed on this share of the training split (default 0.05)")
    ap.add_argument("--nets", default=",".join(nets.NETS))
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--no-authors", action="store_true", help="skip the authors'-style loop")
    ap.add_argument("--arch", default="both", choices=("both", "dense", "pruned"), help="which architectures (default both)")
    ap.add_argument("--baseline", default="vmap", choices=train.TRAINERS,
                    help="the path the engine's is compared with, on the same stack (default vmap)")
    ap.add_argument("--ratio", type=float, default=PRUNE_RATIO,
                    help=f"the pruned architecture's pruning ratio (default {PRUNE_RATIO}; issue 36 also asks for 0.8)")
    a = ap.parse_args()
    if not 0 < a.fraction <= 0.5:
        ap.error(f"--fraction must be in (0, 0.5], got {a.fraction}")
    if a.runs < 2:
        ap.error(f"--runs must be at least 2, got {a.runs}")
    net_list = a.nets.split(",")
    for n in net_list:
        nets.arch(n)  # an unknown name stops here, with the choices

    peak = sgemm_peak()
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} thread(s), "
          f"torch {torch.__version__}, device {a.device}"
          + (f" ({torch.cuda.get_device_name()})" if a.device.startswith("cuda") else ""))
    print(f"sgemm peak (1024x1024, {torch.get_num_threads()} thread(s)): {peak:.0f} GFLOP/s")
    d = data.load(a.dataset, device=a.device)  # a missing dataset stops here with how to get it
    print(f"dataset: {a.dataset}; epochs timed on {a.fraction:.0%} of the split, scaled to {FULL_TRAIN}\n")
    bw = max(13, len(a.baseline) + 9)  # the baseline column's width
    head = (f"{'network':15s} {'arch':7s} {'GFLOP/ep':>8s} {'authors s/ep':>12s} {'R=1 s/ep':>9s} "
            f"{'R=' + str(a.runs) + ' s/run-ep':>14s} {'(eval)':>7s} {'eval %':>6s} {a.baseline + ' s/run-ep':>{bw}s} "
            f"{'x authors':>9s} {'% peak':>7s}")
    print(head)
    print("-" * len(head))
    rates = {}
    for net in net_list:
        for pruned in {"both": (False, True), "dense": (False,), "pruned": (True,)}[a.arch]:
            widths = pruned_widths(net, a.ratio) if pruned else None
            gflop = train_gflop_per_epoch(nets.build(net, widths))
            authors = float("nan") if a.no_authors else authors_loop(a.dataset, net, widths, a.fraction, a.device)
            one, _ = stacked_epoch(d, net, widths, 1, a.fraction, a.device)
            many, ev = stacked_epoch(d, net, widths, a.runs, a.fraction, a.device)
            model = nets.build(net, widths)
            other = train.trainer_for(model, a.device) != a.baseline and a.baseline in train.trainers(model)
            old = stacked_epoch(d, net, widths, a.runs, a.fraction, a.device, a.baseline)[0] / a.runs if other \
                else float("nan")
            best = min(one, many / a.runs)
            rates[(net, pruned)] = best
            print(f"{net:15s} {'pruned' if pruned else 'dense':7s} {gflop:8.2f} {authors:12.2f} {one:9.2f} "
                  f"{many / a.runs:14.3f} {ev / a.runs:7.3f} {100 * ev / many:5.0f}% {old:{bw}.3f} {authors / best:9.1f} "
                  f"{100 * gflop / best / peak:6.1f}%", flush=True)
    print("\ns/ep: seconds per run-epoch (training + test accuracy + mean JSV); (eval), eval %: the evaluation "
          f"per run in the R={a.runs} stack and its share of the epoch; {a.baseline}: the same stack on that path "
          f"(where the engine picks another and it can train the network); x authors and % peak use the faster of R=1 and R={a.runs}.")

    print(f"\nhours of this machine (one process at the rates above) per grid with the runs it starts from, paper "
          f"protocol, {a.dataset} (nan: a network not timed above; --nets resnet20 for value_resnet):")
    for name, n, h, m, hm in grid_hours(rates, a.dataset):
        print(f"  {name:10s} {n:4d} training runs: {h:7.1f} h in all; {m:4d} missing from the store: {hm:7.1f} h")


if __name__ == "__main__":
    main()
