"""SGD training of many runs of one architecture at once (chapters/protocol.md, "Training").

The runs are *stacked*: each parameter of the R networks is one tensor with a leading run axis,
the forward pass is ``torch.func.vmap`` of the network over that axis (batched matrix products,
grouped convolutions), and one backward pass gives every run its own gradient (the runs share no
parameter, so the gradient of the summed loss is each run's own). Each run keeps its own data
order (its own seeded generator), LR schedule and momentum buffers. SGD is PyTorch's
(momentum 0.9, dampening 0, weight decay 1e-4 added to the gradient), written out so that the LR
can differ per run; a test proves the result equal to ``torch.optim.SGD`` run one model at a time.

Per epoch every run logs its mean train loss, test accuracy (and best so far) and the mean JSV
stats on a fixed set of training examples; the same is logged once before the first step (epoch 0:
right after pruning/OrthP). A run whose loss becomes NaN/inf is marked diverged at that epoch and
frozen; the other runs go on.

Batch norm: each run keeps its own running statistics (stacked buffers, updated in place under
vmap); training steps normalise by the batch, test accuracy and JSVs use the running statistics,
as ``model.train()`` / ``model.eval()`` do for one model (tested).

Unstructured pruning (Lee et al.'s connection sensitivity, pruning at initialization) trains with
*masks*: the masked weights are zeroed before the first step and their gradients are zeroed before
every SGD step, so that (weight decay and momentum acting on zeros) they stay exactly zero; the
other weights follow the same SGD as an ``nn.utils.prune`` model does (tested).
"""
from __future__ import annotations

import copy
import hashlib
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from .data import Data
from .jsv import STATS, stacked_singular_values
from .jsv import batch_stats as jsv_stats  # per run: mean JSV, std, max, min
from . import kernels, stacked_layers
from .nets import INPUT_SHAPE, is_linear_map
from .schedule import Schedule

METRICS = ("train_loss", "test_acc", "jsv_mean", "jsv_std", "jsv_max", "jsv_min", "lr")


@dataclass
class SGDConfig:
    batch_size: int = 100
    momentum: float = 0.9
    weight_decay: float = 1e-4


@dataclass
class RunResult:
    """Per-epoch metrics of one run; index 0 is before training (train_loss, lr are None)."""

    metrics: dict[str, list] = field(default_factory=lambda: {k: [] for k in METRICS})
    diverged_at: int | None = None  # first epoch whose train loss was not finite
    state_dict: dict[str, torch.Tensor] | None = None  # final weights (CPU)
    wall_s: float = 0.0  # wall time of its stack's training, summed over the sessions it ran in
    cpu_s: float | None = None  # CPU time of that training (the process's threads, summed over its sessions; a pause
    #                             or a wait for a busy core does not count); None: a session before it was measured
    segments: int = 1  # how many sessions that was (more than 1: resumed from a checkpoint)
    eval_s: float = 0.0  # of this session's wall time, the share spent logging (test accuracy, JSVs)
    conv_input: str | None = None  # "channels_last": trained with the runs-innermost layout (runs_innermost_layout)
    trainer: str = "vmap"  # how its stack's steps ran: one of TRAINERS (``dipcore.stacked_layers``, ``dipcore.kernels``)

    @property
    def final_acc(self) -> float:
        return self.metrics["test_acc"][-1]

    @property
    def best_acc(self) -> float:
        return max(a for a in self.metrics["test_acc"] if a is not None)


def runs_innermost_layout(model: nn.Module, device: str | torch.device) -> bool:
    """Whether ``Stack`` lays a training batch out with the run axis innermost (stored ``[B, H, W,
    R, C]``): on a CPU, for networks whose first convolution has one output channel (LeNet-5 pruned
    at ratio 0.7 and above), without batch norm. vmap turns each convolution of R runs into one
    grouped convolution over R*C channels; with the runs innermost its input is channels-last,
    and oneDNN's grouped convolution with one channel per group is then much faster. Measured
    (``benchmarks/bench_conv_layout.py``, one thread, training steps): LeNet-5-ReLU 1.2-1.6x faster
    at ratios 0.7-0.95 (first convolution: one channel), LeNet-5-Linear 1.9x at 0.9; but 1.0-1.2x
    *slower* for LeNet-5-ReLU at ratios 0.1-0.6 (2 to 5 channels), so those keep the default
    layout. The same arithmetic in another order: numbers differ from the default layout by
    rounding (1.5e-8 on the weights after 20 steps); a run records it (``meta.conv_input``), and a
    stack resumed from a checkpoint keeps the layout it started with. Not with batch norm:
    ResNet-20 gained 7 %, and after one step its weights moved from 1.0e-5 to 6.0e-5 away from the
    conventional loop's (an ill-conditioned setting, see tests/test_train.py), past that test's
    tolerance."""
    mods = list(model.modules())
    convs = [m for m in mods if isinstance(m, nn.Conv2d)]
    return (torch.device(device).type == "cpu" and bool(convs) and convs[0].out_channels == 1
            and not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in mods))


TRAINERS = ("vmap", "stacked-mlp", "stacked-mlp-kernel", "stacked-conv", "stacked-conv-kernel",
            "stacked-conv2-kernel")  # how a stack's steps can run
KERNEL_OF = {"stacked-conv-kernel": ("first_conv", "stacked-conv"), "stacked-conv2-kernel": ("first_conv", "stacked-conv"),
             "stacked-mlp-kernel": ("mlp_step", "stacked-mlp")}
# a path's C++ kernel (dipcore.kernels) and its pure-PyTorch twin


def trainers(model: nn.Module) -> list[str]:
    """The paths that can train this network: ``"vmap"`` always; a plain network's written-out
    layers (``dipcore.stacked_layers``): ``"stacked-mlp"`` for an MLP, ``"stacked-conv"`` for a
    convolutional network (LeNet-5); and dipcore's C++ kernels (``dipcore.kernels``; whether one is
    built is ``trainer_for``'s concern): ``"stacked-mlp-kernel"`` for an MLP's whole step,
    ``"stacked-conv-kernel"`` where a network's first convolution fits the kernel,
    ``"stacked-conv2-kernel"`` where its second does too (one channel in: LeNet-5 pruned at 0.7 and
    more; a step of ten LeNet-5s at 0.9 9.0 -> 7.9 ms)."""
    steps = stacked_layers.plan(model)
    if steps is None:
        return ["vmap"]
    if not stacked_layers.has_conv(steps):
        return ["vmap", "stacked-mlp"] + (["stacked-mlp-kernel"] if stacked_layers.mlp_kernel_fits(steps) else [])
    return ["vmap", "stacked-conv"] + (["stacked-conv-kernel"] if stacked_layers.kernel_fits(steps, INPUT_SHAPE) else []) \
        + (["stacked-conv2-kernel"] if stacked_layers.inner_kernel_fits(steps, INPUT_SHAPE) else [])


MLP_KERNEL_MAX_WIDTH = 32
# the C++ MLP step is faster than the written-out layers up to this many units a layer: a step of ten MLP-7s
# (one thread) 2.1-2.3x at 10 units (ratio 0.9), 1.4x at 20-30 (0.8, 0.7); no faster at 50 (0.5) and 1.6x slower
# dense (100), where the CPU's BLAS runs its products well (issue 36)


def trainer_for(model: nn.Module, device: str | torch.device) -> str:
    """How ``Stack`` runs a training step of this architecture: on a CPU, the fastest path that can
    train it (``trainers``: written-out layers, MLP-7 2.5x faster than vmap; LeNet-5 with the C++
    kernel where it is built, else without; issue 36, ``benchmarks/bench_engine.py``), else
    ``"vmap"`` (a GPU). MLP-7's C++ step only up to ``MLP_KERNEL_MAX_WIDTH`` units a layer (pruned).
    Test accuracy uses the same layers; JSVs too with LeNet-5's C++ kernel, else ``vmap``."""
    if torch.device(device).type != "cpu":
        return "vmap"
    paths = cpu_paths(model)
    while paths[-1] in KERNEL_OF and kernels.build(KERNEL_OF[paths[-1]][0]) is None:
        paths.pop()
    return paths[-1]


def cpu_paths(model: nn.Module) -> list[str]:
    """The paths ``trainer_for`` chooses among on a CPU, slowest first, the last its choice where
    dipcore's kernels are built (``trainers``, without MLP-7's C++ step above
    ``MLP_KERNEL_MAX_WIDTH`` units a layer): what a run not trained yet will take, for its cost."""
    paths = trainers(model)
    if paths[-1] == "stacked-mlp-kernel" and max(m.out_features for m in model.modules()
                                                 if isinstance(m, nn.Linear)) > MLP_KERNEL_MAX_WIDTH:
        paths.pop()
    return paths


class Stack:
    """R networks of one architecture as stacked parameters, with a vmapped forward pass (or, for a
    plain network on a CPU, ``stacked_layers``', with LeNet-5's C++ kernel where it is built:
    ``trainer``)."""

    base_input_shape = INPUT_SHAPE

    def __init__(self, models: list[nn.Module], device: str | torch.device,
                 masks: list[dict[str, torch.Tensor]] | None = None, trainer: str | None = None):
        shapes = {tuple((k, tuple(v.shape)) for k, v in m.state_dict().items()) for m in models}
        if len(shapes) != 1:
            raise ValueError("all stacked runs must share one architecture (same parameter shapes)")
        params, buffers = stack_module_state([m.to(device) for m in models])
        self.names = list(params)
        self.buffer_names = list(buffers)  # batch norm's running statistics, one set per run
        self.base = copy.deepcopy(models[0]).to("meta")
        self.linear = is_linear_map(models[0])
        self.n = len(models)
        self.steps = stacked_layers.plan(models[0])
        self.trainer = trainer or trainer_for(models[0], device)
        self._set_trainer(models[0])
        # channels-last convolutions: always on the written-out path (faster at every LeNet-5 width,
        # benchmarks/bench_engine.py), by runs_innermost_layout's rule on vmap's
        self.runs_innermost = self.trainer.startswith("stacked-conv") or runs_innermost_layout(models[0], device)
        self.params = [params[k].detach().clone().requires_grad_(True) for k in self.names]
        self.buffers = [buffers[k].detach().clone() for k in self.buffer_names]
        self._match_gradient_layout(device)
        self.masks = self._stack_masks(masks, device)
        with torch.no_grad():
            for p, m in zip(self.params, self.masks):
                if m is not None:
                    p.mul_(m)

    def _set_trainer(self, model: nn.Module) -> None:
        """Check that ``self.trainer`` can train ``model`` here; fetch the C++ kernel it uses, if any."""
        if self.trainer not in trainers(model):
            raise ValueError(f"trainer {self.trainer!r} cannot train this network; choose one of "
                             f"{', '.join(trainers(model))} (or None: the fastest it can)")
        name, twin = KERNEL_OF.get(self.trainer, (None, None))
        ext = kernels.build(name) if name else None
        if name and ext is None:
            raise ValueError(f"trainer {self.trainer!r} needs dipcore's C++ kernel {name}, which is not built here "
                             f"(python -m dipcore kernels says why); choose {twin!r}, its pure-PyTorch twin")
        self.kernel = ext if self.trainer.startswith("stacked-conv") else None  # the first convolution's, for forward
        self.inner = self.trainer == "stacked-conv2-kernel"  # and the second's
        self.step_kernel = ext if self.trainer == "stacked-mlp-kernel" else None  # an MLP's whole step
        self.mlp_layers = stacked_layers.mlp_layers(self.steps) if self.step_kernel is not None else None

    def _stack_masks(self, masks, device) -> list[torch.Tensor | None]:
        """One stacked 0/1 mask per parameter (None: unmasked), in the parameters' layout."""
        if masks is None:
            return [None] * len(self.params)
        if len(masks) != self.n:
            raise ValueError(f"masks: one dict per run expected, got {len(masks)} for {self.n} runs")
        named = set().union(*masks)
        unknown = named - set(self.names)
        if unknown:
            raise ValueError(f"masks name parameters the network does not have: {sorted(unknown)}; "
                             f"its parameters are {self.names}")
        out = []
        for k, p in zip(self.names, self.params):
            if k not in named:
                out.append(None)
                continue
            ms = [m.get(k, torch.ones(p.shape[1:])) for m in masks]
            for m in ms:
                if tuple(m.shape) != tuple(p.shape[1:]):
                    raise ValueError(f"mask of {k!r} has shape {tuple(m.shape)}, the parameter {tuple(p.shape[1:])}")
                if not bool(((m == 0) | (m == 1)).all()):
                    raise ValueError(f"mask of {k!r} must hold only 0 and 1")
            out.append(torch.empty_strided(p.shape, p.stride(), device=device).copy_(torch.stack(ms).float()))
        return out

    def _match_gradient_layout(self, device) -> None:
        """Store each parameter in the memory layout its gradient comes in (the batched
        matmul's backward gives weight gradients transposed): the SGD update, which is
        memory-bound, then streams through contiguous memory (4x faster for MLP-7 on a CPU)."""
        x = torch.zeros(self.n, 2, *self.base_input_shape, device=device)
        grads = torch.autograd.grad(self.forward(x, training=False).sum(), self.params)  # no running-stat update
        self.params = [torch.empty_strided(p.shape, g.stride(), device=device).copy_(p.detach()).requires_grad_(True)
                       for p, g in zip(self.params, grads)]

    def _one(self, tensors: tuple[torch.Tensor, ...], x: torch.Tensor) -> torch.Tensor:
        """One network's logits; ``tensors`` are its parameters, then its buffers."""
        n = len(self.names)
        return functional_call(self.base, (dict(zip(self.names, tensors[:n])),
                                           dict(zip(self.buffer_names, tensors[n:]))), (x,))

    def forward(self, x: torch.Tensor, shared: bool = False, training: bool = True) -> torch.Tensor:
        """Logits ``[R, B, C]``; ``x`` is ``[R, B, ...]`` (one batch per run) or, when
        ``shared``, one ``[B, ...]`` batch seen by every run. ``training``: batch norm normalises
        by the batch and updates each run's running statistics (else it uses them)."""
        if self.trainer != "vmap":
            return stacked_layers.forward(self.steps, dict(zip(self.names, self.params)), x, self.runs_innermost,
                                          self.kernel, self.inner)
        self.base.train(training)
        if self.runs_innermost and not shared:
            x = x.permute(1, 3, 4, 0, 2).contiguous().permute(3, 0, 4, 1, 2)  # [R, B, C, H, W], stored [B, H, W, R, C]
        return vmap(self._one, in_dims=(0, None if shared else 0))(tuple(self.params) + tuple(self.buffers), x)

    def loss_and_grads(self, x: torch.Tensor, idx: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Each run's mean training loss ``[R]`` on its batch (rows ``idx [R, B]`` of the training
        images ``x`` and labels ``y``) and the gradient of their sum for every parameter (each run's
        own: the runs share none); batch norm, if any, normalises by the batch and updates its
        running statistics."""
        if self.step_kernel is not None:  # an MLP's whole step in C++, reading each run's rows where they lie
            loss, grads = stacked_layers.kernel_step(self.mlp_layers, dict(zip(self.names, self.params)), x.flatten(1),
                                                     idx, y, self.step_kernel)
            return loss, [grads[k] for k in self.names]
        xb = x.flatten(1).index_select(0, idx.flatten()).view(self.n, idx.shape[1], *x.shape[1:])  # the fastest gather
        logits = self.forward(xb)  # [R, b, C]
        loss = F.cross_entropy(logits.flatten(0, 1), y[idx].flatten(), reduction="none").view(self.n, -1).mean(1)
        return loss.detach(), list(torch.autograd.grad(loss.sum(), self.params))

    def state_dict(self, r: int) -> dict[str, torch.Tensor]:
        out = {k: p[r].detach().cpu().clone() for k, p in zip(self.names, self.params)}
        return out | {k: b[r].cpu().clone() for k, b in zip(self.buffer_names, self.buffers)}

    def weights(self) -> list[torch.Tensor]:
        """The stacked weight matrices ``[R, out, in*k*k]`` of the Conv/Linear layers in forward order."""
        return [p.detach().flatten(2) for k, p in zip(self.names, self.params) if k.endswith("weight") and p.dim() > 2]

    def singular_values(self, x: torch.Tensor, chunk: int = 250) -> torch.Tensor:
        """JSVs of every run on the examples ``x``: ``[R, N, C]`` (affine nets: ``[R, 1, C]``),
        ``chunk`` examples at a time (batch norm, if any, in evaluation mode: one example's
        Jacobian does not depend on the others)."""
        self.base.train(False)
        params = tuple(p.detach() for p in self.params)
        if self.kernel is not None:  # LeNet-5: through the C++ kernel's transpose (stacked_layers)
            return stacked_layers.kernel_singular_values(self.steps, dict(zip(self.names, params)), x, self.kernel,
                                                         self.runs_innermost, inner=self.inner)
        if self.steps and not self.linear and [s[0] for s in self.steps[:2]] == ["flatten", "linear"]:  # an MLP:
            _, i, w, b = self.steps[1]  # J = J_rest W1 (jsv's head)
            cut = i + 1  # the rest of the network: the modules after the first Linear
            rest = self.base[cut:]  # a slice keeps the modules' names, so the parameters keep theirs
            by_name = dict(zip(self.names, params))
            names = [k for k, _ in rest.named_parameters()]

            def rest_one(tensors, z):
                return functional_call(rest, dict(zip(names, tensors)), (z,))

            return stacked_singular_values(rest_one, tuple(by_name[k] for k in names), self.weights(), False, x, chunk,
                                           head=(by_name[w], by_name[b]))
        return stacked_singular_values(self._one, params + tuple(self.buffers), self.weights(), self.linear, x, chunk)

    @torch.no_grad()
    def accuracy(self, x: torch.Tensor, y: torch.Tensor, chunk: int = 500) -> torch.Tensor:
        """Test accuracy (%) of every run, ``[R]``."""
        correct = torch.zeros(self.n, device=x.device)
        for i in range(0, len(x), chunk):
            pred = self.forward(x[i:i + chunk], shared=True, training=False).argmax(-1)
            correct += (pred == y[i:i + chunk]).sum(1)
        return 100 * correct / len(x)


def jsv_subset(data: Data, n: int, seed: int = 0) -> torch.Tensor:
    """The fixed training examples on which mean JSV is logged: ``n`` drawn once with ``seed``."""
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(data.x_train), generator=g)[:n]
    return data.x_train[idx.to(data.x_train.device)]


@torch.no_grad()
def sgd_step(params: list[torch.Tensor], grads: list[torch.Tensor], bufs: list[torch.Tensor],
             lr: torch.Tensor, sgd: SGDConfig) -> None:
    """One step of ``torch.optim.SGD`` (momentum, no dampening, weight decay) on stacked
    parameters, with LR ``lr[r]`` for run r; in place, with no temporaries (it is memory-bound)."""
    torch._foreach_add_(grads, params, alpha=sgd.weight_decay)  # g + wd * p
    torch._foreach_mul_(bufs, sgd.momentum)
    torch._foreach_add_(bufs, grads)  # buf = momentum * buf + g (buf starts at 0)
    for p, buf in zip(params, bufs):
        p.addcmul_(lr.view(-1, *([1] * (p.dim() - 1))), buf, value=-1)


def train_stacked(models: list[nn.Module], schedules: list[Schedule], seeds: list[int], epochs: int,
                  data: Data, jsv_examples: int = 1000, sgd: SGDConfig = SGDConfig(),
                  device: str | torch.device | None = None, progress: bool = True,
                  desc: str = "training", keep_weights: bool = False,
                  checkpoint: str | Path | None = None, checkpoint_every_s: float = 300.0,
                  masks: list[dict[str, torch.Tensor]] | None = None, trainer: str | None = None) -> list[RunResult]:
    """Train ``models`` (one architecture) at once, run r with ``schedules[r]`` and data order
    seeded by ``seeds[r]``; return one ``RunResult`` per run.

    ``masks`` (one dict per run, parameter name -> 0/1 tensor of its shape) keeps the masked
    weights exactly zero from the first step to the last (pruning at initialization). ``trainer``
    (``TRAINERS``; None: ``trainer_for``'s choice) says how the steps run; a run records it.

    With ``checkpoint`` (a file path), the whole state (weights, momentum, data-order RNGs,
    metrics) is saved there every ``checkpoint_every_s`` seconds and at the end of an epoch;
    a later call with the same runs resumes from it and gives the same result as an
    uninterrupted run, and the same ``wall_s`` bookkeeping: time up to the last checkpoint of an
    interrupted session counts, the redone rest does not. The file is removed when training
    completes."""
    t0, c0 = time.time(), time.process_time()
    if not (len(models) == len(schedules) == len(seeds)):
        raise ValueError("models, schedules and seeds must have one entry per run")
    for s in schedules:
        s.check_epochs(epochs)
    device = torch.device(device or data.x_train.device)
    data = data.to(device)
    stack = Stack(models, device, masks, trainer)
    R, N, B = stack.n, len(data.x_train), sgd.batch_size
    orders = [torch.Generator().manual_seed(int(s)) for s in seeds]
    bufs = [torch.zeros_like(p) for p in stack.params]
    jsv_x = jsv_subset(data, jsv_examples)
    results = [RunResult() for _ in range(R)]
    alive = torch.ones(R, dtype=torch.bool, device=device)
    ident = _identity(models, schedules, seeds, epochs, len(data.x_train), jsv_examples, sgd, stack.masks)

    eval_s = 0.0

    def log(epoch: int, loss: torch.Tensor | None, lrs: list[float] | None) -> None:
        nonlocal eval_s
        if device.type == "cuda":
            torch.cuda.synchronize(device)  # so that the steps queued before are not counted here
        t_eval = time.time()
        acc = stack.accuracy(data.x_test, data.y_test).cpu()
        st = jsv_stats(stack.singular_values(jsv_x)).cpu()
        eval_s += time.time() - t_eval
        for r, res in enumerate(results):
            if res.diverged_at is not None:
                continue
            m = res.metrics
            m["train_loss"].append(None if loss is None else loss[r].item())
            m["test_acc"].append(acc[r].item())
            for j, k in enumerate(STATS):
                m[f"jsv_{k}"].append(st[r, j].item())
            m["lr"].append(None if lrs is None else lrs[r])

    start, prior_s, segments, prior_cpu = _restore(checkpoint, ident, stack, bufs, orders, results, alive) \
        if checkpoint else (0, 0.0, 1, 0.0)

    def cpu_s() -> float | None:
        return None if prior_cpu is None else prior_cpu + time.process_time() - c0

    if start == 0:
        log(0, None, None)
    saved_at = time.time()
    bar = _progress_bar(range(start, epochs), progress, desc=desc, unit="epoch", leave=False,
                        initial=start, total=epochs)
    for epoch in bar:
        lrs = [s.lr(epoch) for s in schedules]
        lr = torch.tensor(lrs, device=device) * alive
        perm = torch.stack([torch.randperm(N, generator=g) for g in orders]).to(device)  # [R, N]
        loss_sum = torch.zeros(R, device=device, dtype=torch.float64)
        for i in range(0, N, B):
            idx = perm[:, i:i + B]
            loss, grads = stack.loss_and_grads(data.x_train, idx, data.y_train)
            with torch.no_grad():
                loss_sum += loss * idx.shape[1]
                for g, m in zip(grads, stack.masks):
                    if m is not None:
                        g.mul_(m)  # a masked weight (zero) gets no gradient, so no momentum: it stays zero
                sgd_step(stack.params, grads, bufs, lr, sgd)
        epoch_loss = (loss_sum / N).cpu()
        for r in (~torch.isfinite(epoch_loss)).nonzero().flatten().tolist():
            if results[r].diverged_at is None:  # freeze it: its slot trains no more
                results[r].diverged_at = epoch + 1
                alive[r] = False
                with torch.no_grad():
                    for p, buf in zip(stack.params, bufs):
                        p[r].zero_()
                        buf[r].zero_()
        log(epoch + 1, epoch_loss, lrs)
        accs = [res.metrics["test_acc"][-1] for res in results if res.diverged_at is None]
        if accs:
            bar.set_postfix(acc=f"{sum(accs) / len(accs):.2f}", alive=f"{len(accs)}/{R}")
        if checkpoint and epoch + 1 < epochs and time.time() - saved_at >= checkpoint_every_s:
            _save(checkpoint, ident, epoch + 1, stack, bufs, orders, results, alive,
                  wall_s=prior_s + time.time() - t0, segments=segments, since=(start, prior_s, prior_cpu), cpu_s=cpu_s())
            saved_at = time.time()
    wall_s, cpu = prior_s + time.time() - t0, cpu_s()
    for r, res in enumerate(results):
        res.wall_s, res.cpu_s, res.segments, res.eval_s = wall_s, cpu, segments, eval_s
        res.conv_input = "channels_last" if stack.runs_innermost else None
        res.trainer = stack.trainer
        if keep_weights:
            res.state_dict = stack.state_dict(r)
    if checkpoint:
        Path(checkpoint).unlink(missing_ok=True)
    return results


class _Silent(list):
    """A progress bar that shows nothing (so that a machine without tqdm, such as a bare GPU
    server, can train with ``progress=False``)."""

    def set_postfix(self, **_) -> None:
        pass


def _progress_bar(it, progress: bool, **kwargs):
    if not progress:
        return _Silent(it)
    from tqdm import tqdm

    return tqdm(it, **kwargs)


def _identity(models, schedules, seeds, epochs, n_train, jsv_examples, sgd, masks=()) -> str:
    """A fingerprint of a training job, so that a checkpoint is resumed only by the same job."""
    h = hashlib.sha256(repr((epochs, n_train, jsv_examples, sgd, [s.text for s in schedules],
                             [int(s) for s in seeds])).encode())
    for m in models:
        for v in m.state_dict().values():
            h.update(v.detach().cpu().contiguous().numpy().tobytes())
    for m in masks:
        if m is not None:
            h.update(m.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _save(path, ident, epoch, stack, bufs, orders, results, alive, wall_s=0.0, segments=1,
          since=(0, 0.0, None), cpu_s=None) -> None:
    """Write a checkpoint: the whole state at ``epoch``, the wall and CPU time spent up to it, the number of
    the session writing it and where that session began (``since``: its first epoch and the wall
    and CPU time spent before it), so that ``status`` can tell this session's pace from the overall one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"ident": ident, "epoch": epoch, "alive": alive.cpu(), "wall_s": wall_s, "cpu_s": cpu_s,
             "segments": segments,
             "session_from": [int(since[0]), float(since[1])] + ([] if since[2] is None else [float(since[2])]),
             "runs_innermost": stack.runs_innermost, "trainer": stack.trainer, "device": str(stack.params[0].device),
             "params": [p.detach().cpu() for p in stack.params], "bufs": [b.cpu() for b in bufs],
             "buffers": [b.cpu() for b in stack.buffers],
             "orders": [g.get_state() for g in orders],
             "results": [{"metrics": r.metrics, "diverged_at": r.diverged_at} for r in results]}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # per process: two never share one
    torch.save(state, tmp)
    os.replace(tmp, path)


def _restore(path, ident, stack, bufs, orders, results, alive) -> tuple[int, float, int, float | None]:
    """Load a checkpoint of this job into the live state; return the epoch to go on from (0: none),
    the wall time the job had spent up to it, the number of this session (1: a fresh start) and the
    CPU time spent up to it (None: a checkpoint written before CPU time was kept)."""
    path = Path(path)
    fresh = (0, 0.0, 1, 0.0)
    if not path.exists():
        return fresh
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a damaged checkpoint costs only the time it saved
        warnings.warn(f"ignoring unreadable checkpoint {path}: {e}")
        return fresh
    if state.get("ident") != ident:
        warnings.warn(f"ignoring checkpoint {path}: it belongs to another training job")
        return fresh
    trainer = state.get("trainer", "vmap")  # the path it started with (no name: written when vmap was the only one)
    if trainer in KERNEL_OF and kernels.build(KERNEL_OF[trainer][0]) is None:
        warnings.warn(f"checkpoint {path} was trained with dipcore's C++ kernel {KERNEL_OF[trainer][0]}, which is not "
                      "built here: it goes on on the pure-PyTorch path (the same arithmetic, rounded differently)")
        trainer = KERNEL_OF[trainer][1]
    if trainer != stack.trainer:  # the parameters' layout follows the path's gradients (_match_gradient_layout)
        stack.trainer = trainer
        stack._set_trainer(stack.base)
        stack._match_gradient_layout(stack.params[0].device)
    with torch.no_grad():
        for p, q in zip(stack.params, state["params"]):
            p.copy_(q)
        for b, q in zip(bufs, state["bufs"]):
            b.copy_(q)
        for b, q in zip(stack.buffers, state.get("buffers", [])):
            b.copy_(q)
    for g, st in zip(orders, state["orders"]):
        g.set_state(st)
    for r, saved in zip(results, state["results"]):
        r.metrics, r.diverged_at = saved["metrics"], saved["diverged_at"]
    alive.copy_(state["alive"])
    stack.runs_innermost = bool(state.get("runs_innermost", stack.runs_innermost))  # the layout it started with
    cpu = state.get("cpu_s")
    return (state["epoch"], float(state.get("wall_s", 0.0)), int(state.get("segments", 1)) + 1,
            None if cpu is None else float(cpu))
