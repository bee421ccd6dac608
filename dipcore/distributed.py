"""One run on many GPUs, for §3.4 at ImageNet scale (Tables 4 and 5): PyTorch's own
``DistributedDataParallel``, launched by PyTorch's own ``torchrun``; no home-made launcher.

    torchrun --nproc_per_node 8 -m dipcore.distributed --net resnet34 --pretrained \\
        --data imagenet --data-root /data/imagenet --ratio 0.5 --epochs 90 --batch-size 256 \\
        --schedule 0:0.01,30:0.001,60:0.0001,75:0.00001 --workers 8 --out runs/resnet34-0.5

Each process holds a replica. A ``DistributedSampler`` deals every global batch of
``--batch-size`` examples out to the processes in equal shares and DDP averages their gradients,
so the run is the one-process run on the same global batches (tested: two CPU processes on the
gloo backend end with identical weights, equal to one process's up to float rounding). Process 0
writes ``model.pt`` and ``history.json`` (test accuracy per epoch) to ``--out``.

Networks: torchvision's ``resnet18``/``resnet34`` (``--pretrained``: its ImageNet weights), the CIFAR
``resnet20``/``resnet56`` (``dipcore.nets.resnet``), or any of the book's four networks. ``--ratio``
L1-prunes the starting network (``dipcore.pruning``), ``--scratch`` builds the pruned
architecture afresh instead: Table 5's "Scratch".
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from . import nets, pruning
from .schedule import parse

RESNETS = {"resnet18": "imagenet", "resnet34": "imagenet", "resnet20": "cifar", "resnet56": "cifar"}


def init() -> tuple[int, int, torch.device]:
    """Join the process group torchrun describes (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``...):
    NCCL on GPUs, gloo on CPUs. Returns (rank, world size, this process's device)."""
    cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if cuda else "gloo")
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if cuda else "cpu")
    if cuda:
        torch.cuda.set_device(device)
    return dist.get_rank(), dist.get_world_size(), device


def loader(dataset, batch_size: int, seed: int, workers: int = 0):
    """This process's share of each global batch of ``batch_size`` examples (shuffled by ``seed``
    and the epoch: call ``.sampler.set_epoch``)."""
    from torch.utils.data import DataLoader, DistributedSampler

    world, rank = dist.get_world_size(), dist.get_rank()
    if batch_size % world:
        raise ValueError(f"the global batch ({batch_size}) must split evenly over {world} processes")
    sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=seed, drop_last=True)
    return DataLoader(dataset, batch_size=batch_size // world, sampler=sampler, num_workers=workers, drop_last=True,
                      pin_memory=torch.cuda.is_available())


@torch.no_grad()
def accuracy(model: nn.Module, dataset, device: torch.device, batch_size: int = 500, workers: int = 0) -> float:
    """Test accuracy (%) over the whole of ``dataset``, each process counting every world-th example."""
    from torch.utils.data import DataLoader, Subset

    world, rank = dist.get_world_size(), dist.get_rank()
    part = Subset(dataset, range(rank, len(dataset), world))
    model.eval()
    counts = torch.zeros(2, dtype=torch.float64, device=device)
    for x, y in DataLoader(part, batch_size=batch_size, num_workers=workers):
        x, y = x.to(device), y.to(device)
        counts += torch.tensor([(model(x).argmax(1) == y).sum().item(), len(y)], dtype=torch.float64, device=device)
    dist.all_reduce(counts)
    return float(100 * counts[0] / counts[1])


def train(model: nn.Module, train_set, test_set, *, epochs: int, schedule: str, batch_size: int,
          device: torch.device, momentum: float = 0.9, weight_decay: float = 1e-4, seed: int = 0,
          workers: int = 0, log=print) -> tuple[nn.Module, list[float]]:
    """SGD with the step ``schedule`` (the paper's notation, set at the start of each epoch), on
    the global batches of ``batch_size``, the gradients averaged over processes by DDP. Returns
    the trained network (unwrapped) and the test accuracy after each epoch."""
    from torch.nn.parallel import DistributedDataParallel as DDP

    sched = parse(schedule)
    sched.check_epochs(epochs)
    model = model.to(device)
    ddp = DDP(model, device_ids=[device] if device.type == "cuda" else None)
    opt = torch.optim.SGD(ddp.parameters(), lr=sched.lr(0), momentum=momentum, weight_decay=weight_decay)
    data = loader(train_set, batch_size, seed, workers)
    loss_fn, history = nn.CrossEntropyLoss(), []
    for epoch in range(epochs):
        for group in opt.param_groups:
            group["lr"] = sched.lr(epoch)
        data.sampler.set_epoch(epoch)
        ddp.train()
        for x, y in data:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            opt.zero_grad(set_to_none=True)
            loss_fn(ddp(x), y).backward()
            opt.step()
        history.append(accuracy(model, test_set, device, workers=workers))
        if dist.get_rank() == 0:
            log(f"epoch {epoch + 1}/{epochs}: lr {sched.lr(epoch):g}, test accuracy {history[-1]:.2f}%")
    return model, history


def build(net: str, ratio: float, scratch: bool, pretrained: bool, in_channels: int, seed: int,
          start: str | None = None) -> nn.Module:
    """The starting network: ``net`` (pretrained if asked, or the state_dict file ``start``),
    L1-pruned at ``ratio``; or, with ``scratch``, the pruned architecture from a fresh init under
    ``seed``."""
    from .nets import resnet
    from .pruning import residual

    torch.manual_seed(seed)
    if net in nets.NETS:
        model, example = nets.build(net), None
    elif net not in RESNETS:
        raise ValueError(f"unknown network {net!r}; choose one of {', '.join([*RESNETS, *nets.NETS])}")
    elif RESNETS[net] == "imagenet":
        model, example = resnet.imagenet_resnet(net, pretrained and not scratch and not start), torch.zeros(1, 3, 224, 224)
    else:
        if pretrained:
            raise ValueError(f"{net} has no published weights: pretrain it first (--ratio 0) and pass --start")
        model, example = resnet.cifar_resnet(int(net[6:]), in_channels), torch.zeros(1, in_channels, 32, 32)
    if start:
        model.load_state_dict(torch.load(start, map_location="cpu", weights_only=True))  # no code from the file
    if not ratio:
        return model
    if net in nets.NETS:
        return nets.build(net, pruning.pruned_widths(net, ratio)) if scratch else pruning.prune_l1(model, net, ratio)[0]
    small = residual.prune_resnet(model, ratio, example)
    if not scratch:
        return small
    if RESNETS[net] == "cifar":  # the pruned architecture, freshly initialised
        return resnet.cifar_resnet(int(net[6:]), in_channels, widths=resnet.inner_widths(small))
    return resnet.torchvision_init(small)  # torchvision's blocks take no widths: re-initialise instead


def datasets(name: str, root: str | None, download: bool, n_train: int | None = None, n_test: int | None = None):
    """(train, test) datasets of ``name``: ``cifar10``, ``imagenet`` (``dipcore.images``) or one of
    ``dipcore.data``'s (held as tensors); ``n_train``/``n_test`` keep the first examples only."""
    from torch.utils.data import Subset, TensorDataset

    from . import data, images

    if name in ("cifar10", "imagenet"):
        if name == "imagenet" and root is None:
            raise ValueError("--data imagenet needs --data-root (the folder with train/ and val/)")
        train, test = ((images.cifar10(True, root, download), images.cifar10(False, root, download)) if name == "cifar10"
                       else (images.imagenet("train", root), images.imagenet("val", root)))
        return (Subset(train, range(min(n_train, len(train)))) if n_train else train,
                Subset(test, range(min(n_test, len(test)))) if n_test else test)
    d = data.load(name, root=root, download=download, n_train=n_train, n_test=n_test)
    return TensorDataset(d.x_train, d.y_train), TensorDataset(d.x_test, d.y_test)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="torchrun --nproc_per_node N -m dipcore.distributed",
                                 description="One training run over every process torchrun starts (DDP).")
    ap.add_argument("--net", required=True)
    ap.add_argument("--data", required=True, help="imagenet, cifar10, mnist, fashion-mnist or synthetic")
    ap.add_argument("--data-root")
    ap.add_argument("--download", action="store_true")
    ap.add_argument("--n-train", type=int, help="keep the first N training examples (a quick run)")
    ap.add_argument("--n-test", type=int, help="keep the first N test examples")
    ap.add_argument("--ratio", type=float, default=0.0, help="L1 pruning ratio of the starting network")
    ap.add_argument("--scratch", action="store_true", help="train the pruned architecture from a fresh init")
    ap.add_argument("--pretrained", action="store_true", help="start from torchvision's ImageNet weights")
    ap.add_argument("--start", help="a state_dict (.pt) to start from, loaded before pruning")
    ap.add_argument("--epochs", type=int, required=True)
    ap.add_argument("--schedule", required=True, help="LR schedule, e.g. 0:0.01,30:0.001,60:0.0001,75:0.00001")
    ap.add_argument("--batch-size", type=int, default=256, help="the global batch, over all processes")
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--weight-decay", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--out", required=True, help="folder for model.pt and history.json")
    ap.add_argument("--save-every-rank", action="store_true", help="also write rank<i>.pt from every process")
    args = ap.parse_args(argv)
    pruning.check_ratio(args.ratio)
    train_set, test_set = datasets(args.data, args.data_root, args.download, args.n_train, args.n_test)
    rank, world, device = init()
    try:
        model = build(args.net, args.ratio, args.scratch, args.pretrained, train_set[0][0].shape[0], args.seed,
                      args.start)
        model, history = train(model, train_set, test_set, epochs=args.epochs, schedule=args.schedule,
                               batch_size=args.batch_size, device=device, momentum=args.momentum,
                               weight_decay=args.weight_decay, seed=args.seed, workers=args.workers)
        out = Path(args.out)
        state = {k: v.cpu() for k, v in model.state_dict().items()}
        if args.save_every_rank:
            out.mkdir(parents=True, exist_ok=True)
            torch.save(state, out / f"rank{rank}.pt")
        if rank == 0:
            out.mkdir(parents=True, exist_ok=True)
            torch.save(state, out / "model.pt")
            (out / "history.json").write_text(json.dumps({"args": vars(args), "world_size": world,
                                                          "test_acc": history}, indent=1))
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
