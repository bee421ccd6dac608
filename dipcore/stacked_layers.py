"""A stack of R plain networks (MLP-7 and LeNet-5, Tables 1, 3 and 7) trained layer by layer,
without ``vmap`` (issue 36).

``vmap`` runs each layer of R networks as one batched operation, but in shapes a CPU computes
slowly, and it moves the run axis in and out of every convolution (copies). Here a stack's
activations keep one layout from layer to layer:

* **Linear layers** (``StackedLinear``): ``[R, B, D]``. vmap's backward pass computes the weight
  gradient as ``x^T g`` (``[R, D, B] @ [R, B, H]``), which the CPU's batched GEMM runs 7x slower
  than the same numbers as ``g^T x`` (measured, one thread: 3.1 ms against 0.42 ms for ten runs
  of MLP-7's first layer pruned at 0.9, a batch of 100); ``StackedLinear`` is that layer with its
  backward pass written out in the fast orientation.
* **Convolutions**: ``[B, R*C, H, W]``, run r's channels in block r, so that each convolution of
  the stack is one grouped convolution (``groups=R``), each max-pool and activation one call,
  with no copy between layers; stored channels-last (``[B, H, W, R*C]``) when
  ``runs_innermost`` (oneDNN's grouped convolution is much faster that way when each run has
  one channel, ``train.runs_innermost_layout``). A batch shared by every run (test accuracy)
  goes through the first convolution as one ordinary convolution with the R runs' filters.
* **The first convolution and max-pool** of a LeNet-5 (one channel in, 5x5; 2x2), on a batch per
  run, can take dipcore's C++ kernel (``dipcore.kernels``, trainer ``stacked-conv-kernel``): in
  oneDNN the convolution's weight gradient is the largest cost of a pruned LeNet-5's step (9 of 18
  ms, ten runs at ratio 0.9), 1.3 ms in the kernel, and the fused max-pool never writes the 28x28
  output. It reads each run's images where the gather put them (``[R, B, H, W]``) and writes
  ``[B, R*C, H, W]``, channels-first; the next convolution gets the layout it wants. Where the
  second convolution has one channel in (LeNet-5 pruned at 0.7 and more), it and its max-pool take
  the same kernel (``inner_conv_pool``, trainer ``stacked-conv2-kernel``: each run's 14x14 maps
  padded to the kernel's narrowest input, 20 columns, with the maps' gradient by the kernel's
  transpose): oneDNN's backward pass of that grouped convolution was 1.8 ms of a 9.0 ms step (ten
  runs at 0.9); the step is 7.9 ms with it.
* **A whole step of a plain MLP** (MLP-7) can take dipcore's C++ kernel ``mlp_step``
  (``dipcore.kernels``, trainer ``stacked-mlp-kernel``, ``kernel_step``): each run's loss on its own
  rows of the dataset and every gradient in one call, with no gathered copy of the batch; pruned at
  0.9, a step of ten runs takes about a third of this module's time (most of which is dispatch and
  the first layer's skinny products).
* A convolution whose filter is as large as its input (LeNet-5's third, 5x5 on 5x5) is a ``Linear``
  layer on each run's flattened input: ``StackedLinear``, 0.45 ms of a 9.9 ms step less than
  oneDNN's grouped convolution and its backward pass (ten runs at 0.9).
* A max-pool right after a monotone activation (ReLU, Tanh, identity) is taken first:
  ``pool(act(z)) = act(pool(z))`` in value, on a quarter of the elements (LeNet-5). The gradient
  is the same too: the pool's maximum is the same element either way (up to exact ties, whose
  gradient through ReLU is zero anyway).

Same arithmetic as ``torch.nn`` layers, summed in another order: results differ from the ``vmap``
path by float32 rounding (tests/test_train.py).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {nn.ReLU: torch.relu, nn.Tanh: torch.tanh, nn.Identity: None}  # all monotone


class StackedLinear(torch.autograd.Function):
    """``z[r] = x[r] @ W[r]^T + b[r]`` for stacked ``x [R, B, D]``, ``W [R, H, D]``, ``b [R, H]``
    (``x`` may also be one ``[B, D]`` batch shared by every run)."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        if x.dim() == 2:  # one batch for every run: one product with the R runs' units side by side (test accuracy)
            R, H = weight.shape[:2]
            return torch.addmm(bias.flatten(), x, weight.flatten(0, 1).mT).view(len(x), R, H).transpose(0, 1)
        return torch.baddbmm(bias.unsqueeze(1), x, weight.mT)

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        gx = torch.bmm(g, weight) if ctx.needs_input_grad[0] else None
        if gx is not None and x.dim() == 2:
            gx = gx.sum(0)
        gw = torch.bmm(g.mT, x.expand(len(weight), *x.shape[-2:])) if ctx.needs_input_grad[1] else None
        gb = g.sum(1) if ctx.needs_input_grad[2] else None
        return gx, gw, gb


def plan(model: nn.Module) -> list[tuple] | None:
    """The layers of ``model`` as steps for ``forward``, in the order they run: ``("conv", index,
    weight name, bias name, module)``, ``("pool", module)``, ``("act", function)``, ``("flatten",)``,
    ``("linear", index, weight name, bias name)`` (``index``: the layer's position in ``model``).
    None when the model is not a plain network: an ``nn.Sequential`` of biased ``Conv2d`` layers
    (ungrouped), ``MaxPool2d``, ReLU, Tanh and Identity, one ``Flatten``, then biased ``Linear``
    layers and those activations."""
    if not isinstance(model, nn.Sequential):
        return None
    out, flat = [], False
    for i, m in enumerate(model):
        if isinstance(m, nn.Flatten) and not flat:
            out.append(("flatten",))
            flat = True
        elif isinstance(m, nn.Linear) and m.bias is not None and flat:
            out.append(("linear", i, f"{i}.weight", f"{i}.bias"))
        elif isinstance(m, nn.Conv2d) and m.bias is not None and m.groups == 1 and m.padding_mode == "zeros" \
                and not flat:
            out.append(("conv", i, f"{i}.weight", f"{i}.bias", m))
        elif isinstance(m, nn.MaxPool2d) and not m.return_indices and not flat:
            if out and out[-1][0] == "act":  # a monotone activation commutes with the max
                out.insert(len(out) - 1, ("pool", m))
            else:
                out.append(("pool", m))
        elif type(m) in ACTIVATIONS:
            if ACTIVATIONS[type(m)] is not None:
                out.append(("act", ACTIVATIONS[type(m)]))
        else:
            return None
    return out if flat else None


def has_conv(steps: list[tuple]) -> bool:
    return any(s[0] == "conv" for s in steps)


def kernel_fits(steps: list[tuple], input_shape: tuple[int, ...], min_width: int = 16) -> bool:
    """Whether the network begins as ``dipcore.kernels``' kernel computes it: a convolution with one
    input channel, 5x5, stride 1, no padding or dilation, then a 2x2 max-pool of stride 2 (LeNet-5),
    on ``input_shape`` (``[C, H, W]``) giving an even output at least ``min_width`` columns wide
    (16 for the first layer; an inner layer's input is padded to that, ``inner_conv_pool``)."""
    if len(steps) < 2 or steps[0][0] != "conv" or steps[1][0] != "pool":
        return False
    m, p = steps[0][4], steps[1][1]
    size = [n - 4 for n in input_shape[1:]]
    return (m.in_channels == 1 and m.kernel_size == (5, 5) and m.stride == (1, 1) and m.padding == (0, 0)
            and m.dilation == (1, 1) and input_shape[0] == 1 and size[1] >= min_width and all(n % 2 == 0 for n in size)
            and min(size) > 0 and p.kernel_size in (2, (2, 2)) and p.stride in (2, (2, 2)) and p.padding in (0, (0, 0))
            and p.dilation in (1, (1, 1)) and not p.ceil_mode)


def inner_kernel_fits(steps: list[tuple], input_shape: tuple[int, ...] = (1, 32, 32)) -> bool:
    """Whether, after a first layer the kernel computes, the next convolution and max-pool fit it
    too (``inner_conv_pool``): one input channel, 5x5 and 2x2 as ``kernel_fits`` says, on an even
    output of any width (LeNet-5's second convolution pruned at 0.7 and more: 1 channel in)."""
    if not kernel_fits(steps, input_shape):
        return False
    rest = [s for s in steps[2:] if s[0] != "act"]
    size = (1, *[(n - 4) // 2 for n in input_shape[1:]])
    return kernel_fits(rest, size, min_width=2)


ACT_CODES = {torch.relu: 1, torch.tanh: 2}  # mlp_step's activations (0: none)


def mlp_kernel_fits(steps: list[tuple]) -> bool:
    """Whether ``dipcore.kernels``' ``mlp_step`` computes this network: a flatten, then ``Linear``
    layers, each but the last followed by at most one ReLU or Tanh (MLP-7)."""
    kinds = [s[0] for s in steps]
    return (kinds[:2] == ["flatten", "linear"] and kinds[-1] == "linear" and "flatten" not in kinds[1:]
            and all(s[0] == "linear" or (s[1] in ACT_CODES and prev[0] == "linear") for prev, s in zip(steps[1:], steps[2:])))


def mlp_layers(steps: list[tuple]) -> tuple[list[str], list[str], list[int]]:
    """A network ``mlp_kernel_fits`` as ``mlp_step`` takes it: its layers' weight and bias names and
    the activation code after each (``ACT_CODES``; 0: none)."""
    layers = [i for i, s in enumerate(steps) if s[0] == "linear"]
    acts = [ACT_CODES[steps[i + 1][1]] if i + 1 < len(steps) and steps[i + 1][0] == "act" else 0 for i in layers]
    return [steps[i][2] for i in layers], [steps[i][3] for i in layers], acts


def kernel_step(layers: tuple[list[str], list[str], list[int]], params: dict[str, torch.Tensor], x: torch.Tensor,
                idx: torch.Tensor, y: torch.Tensor, kernel) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Each run's mean cross-entropy on its batch (rows ``idx [R, B]`` of the flattened images ``x [N,
    D]``, labels ``y [N]``) and the gradient of that loss for every parameter, by name, from one call
    of the C++ kernel ``kernel`` (``dipcore.kernels.mlp_step()``; ``layers``: ``mlp_layers`` of a
    network ``mlp_kernel_fits``): the same numbers as ``forward`` and autograd, summed in another order."""
    weights, biases, acts = layers
    out = kernel.step(x, idx.contiguous(), y, [params[w].detach().contiguous() for w in weights],
                      [params[b].detach().contiguous() for b in biases], acts, True)
    return out[0], dict(zip(weights + biases, out[1:]))


class FirstConv(torch.autograd.Function):
    """A convolution and max-pool of R runs on their own one-channel images ``x [R, B, H, W]`` (or
    one batch ``[1, B, H, W]`` for all, without gradient), by the C++ kernel ``ext``
    (``dipcore.kernels.first_conv()``): ``[B, R*C, (H-4)/2, (W-4)/2]``. The images' gradient where
    they have one (an inner layer, ``inner_conv_pool``; the first layer's images are data)."""

    @staticmethod
    def forward(ctx, x, weight, bias, ext):
        out, arg = ext.forward(x, weight.flatten(1, 2), bias)  # weight [R, C, 1, 5, 5]
        ctx.save_for_backward(x, arg, weight)
        ctx.ext = ext
        ctx.mark_non_differentiable(arg)
        return out

    @staticmethod
    def backward(ctx, g):
        x, arg, weight = ctx.saved_tensors
        g = g.contiguous()
        gx = ctx.ext.input_grad(g, arg, weight.flatten(1, 2).contiguous(), 1, x.shape[-2], x.shape[-1]) \
            if ctx.needs_input_grad[0] else None
        gw = ctx.ext.weight_grad(x, g, arg).view(weight.shape) if ctx.needs_input_grad[1] else None
        gb = g.sum((0, 2, 3)).view(len(weight), -1) if ctx.needs_input_grad[2] else None
        return gx, gw, gb, None


KERNEL_MIN_WIDTH = 20  # the kernel's narrowest input: an output 16 columns wide, one block of its vectors


def inner_conv_pool(h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, ext) -> torch.Tensor:
    """A convolution with one input channel per run and the max-pool after it, inside the network
    (LeNet-5's second, pruned at 0.7 or more), by the first convolution's kernel: ``h [B, R, H, W]``
    -> ``[B, R*C, (H-4)/2, (W-4)/2]``. Each run's maps are padded with zeros on the right up to the
    kernel's narrowest input (``KERNEL_MIN_WIDTH``) and the pooled columns that padding adds are
    dropped: they see no gradient, so the weights' and the maps' gradients are those of the
    unpadded layer (issue 36)."""
    W = h.shape[-1]
    x = F.pad(h.transpose(0, 1), (0, max(KERNEL_MIN_WIDTH - W, 0))).contiguous()  # [R, B, H, W']
    return FirstConv.apply(x, weight, bias, ext)[..., :(W - 4) // 2]


@torch.no_grad()
def kernel_singular_values(steps: list[tuple], params: dict[str, torch.Tensor], x: torch.Tensor, kernel,
                           runs_innermost: bool = True, chunk: int = 25, inner: bool = False) -> torch.Tensor:
    """The JSVs of R networks whose first convolution and max-pool ``kernel`` computes
    (``kernel_fits``), on the examples ``x`` ``[N, 1, H, W]``: ``[R, N, classes]`` (§3.1, Eq. 1).

    Each example's Jacobian ``J = J_rest(z) J_first(x)``: ``J_rest``, the logits' Jacobian with
    respect to the first layer's pooled output ``z``, by one backward pass through the rest of the
    network per class (the examples repeated, one copy per class); ``J_first`` applied to its rows
    by the kernel's ``input_grad`` (each row spread back to the window maxima and correlated with the
    filters). The same numbers as ``jsv.batch_jacobians`` through vmap, 4.6x faster (ten runs at
    ratio 0.9, issue 36); then ``jsv.wide_svdvals``, or, with ``inner`` (trainer ``stacked-conv2-kernel``),
    ``jsv.gram_svdvals`` of the Gram matrices the kernel sums from the rows (``input_gram``: 0.62 -> 0.26 s
    per stack of ten at 0.9, 1000 examples). ``chunk`` examples at a time: their Jacobians
    (``R * chunk * classes`` rows of 1024) stay in the cache at 25 (10 MB for ten runs); 1000
    examples of ten runs at 0.9 took 0.96 s in chunks of 100, 0.64 in chunks of 25, the same numbers."""
    from .jsv import gram_svdvals, wide_svdvals

    _, _, w, b, _ = steps[0]
    weight, bias = params[w].flatten(1, 2), params[b]  # [R, C, 5, 5]
    R, out = len(weight), []
    k = params[[s for s in steps if s[0] == "linear"][-1][2]].shape[1]  # classes
    for i in range(0, len(x), chunk):
        xb = x[i:i + chunk].flatten(1, 2)  # [n, H, W]
        z, arg = kernel.forward(xb.unsqueeze(0).contiguous(), weight, bias)  # every run on the same images: [n, R*C, h, w]
        with torch.enable_grad():
            zk = z.repeat_interleave(k, 0).requires_grad_(True)  # example n's copy c at row n*k + c
            rows = apply_steps(steps[2:], params, zk, R, False, runs_innermost, kernel if inner else None)  # [R, n*k, k]
            (g,) = torch.autograd.grad(rows.view(R, len(xb), k, k).diagonal(dim1=2, dim2=3).sum(), zk)
        if inner:  # each example's Gram matrix J J^T in float64, its rows never written out: [R, n, k, k]
            out.append(kernel.input_gram(g.contiguous(), arg, weight, k, xb.shape[-2], xb.shape[-1]))
        else:
            jac = kernel.input_grad(g.contiguous(), arg, weight, k, xb.shape[-2], xb.shape[-1])  # [R, n*k, H, W]
            out.append(wide_svdvals(jac.view(R, len(xb), k, -1)))
    return gram_svdvals(torch.cat(out, 1)) if inner else torch.cat(out, 1)


def forward(steps: list[tuple], params: dict[str, torch.Tensor], x: torch.Tensor,
            runs_innermost: bool = False, kernel=None, inner: bool = False) -> torch.Tensor:
    """Logits ``[R, B, C]`` of the stacked network (``params``: by name, stacked ``[R, ...]``) on
    images ``x``: ``[R, B, C, H, W]`` (a batch per run) or ``[B, C, H, W]`` (one batch for every
    run). ``runs_innermost``: convolutions see channels-last activations. ``kernel``: the C++
    first-convolution module (``dipcore.kernels.first_conv()``), for a batch per run where
    ``kernel_fits``; with ``inner``, also for the inner convolutions and max-pools it fits
    (``inner_kernel_fits``)."""
    R = len(next(iter(params.values())))
    shared = x.dim() == 4
    h = x
    if kernel is not None:  # the first convolution and max-pool (a shared batch: for the test accuracy)
        _, _, w, b, _ = steps[0]
        h = FirstConv.apply(x.transpose(0, 1) if shared else x.flatten(1, 2), params[w], params[b], kernel)
        steps, shared = steps[2:], False  # h: [B, R*C, H', W']
        return apply_steps(steps, params, h, R, shared, runs_innermost, kernel if inner else None)
    elif not shared and has_conv(steps):  # [R, B, C, H, W] -> [B, R*C, H, W], run r's channels in block r
        if runs_innermost:
            h = x.permute(1, 3, 4, 0, 2).contiguous().flatten(3).permute(0, 3, 1, 2)  # stored [B, H, W, R*C]
        else:
            h = x.transpose(0, 1).flatten(1, 2)
    return apply_steps(steps, params, h, R, shared, runs_innermost)


def apply_steps(steps: list[tuple], params: dict[str, torch.Tensor], h: torch.Tensor, R: int,
                shared: bool = False, runs_innermost: bool = False, kernel=None) -> torch.Tensor:
    """``steps`` on the stack's activations ``h``: ``[B, R*C, H, W]`` before the flatten, ``[R, B, D]``
    after it (``shared``: one batch of images for every run, before the first convolution);
    ``kernel``: the C++ module for the convolutions and max-pools it fits (``inner_conv_pool``)."""
    steps = list(steps)
    while steps:
        step = steps.pop(0)
        kind = step[0]
        if kind == "conv" and kernel is not None and not shared and h.dim() == 4 and h.shape[1] == R \
                and kernel_fits([step] + steps[:1], (1, *h.shape[2:]), min_width=2):
            h = inner_conv_pool(h, params[step[2]], params[step[3]], kernel)
            steps.pop(0)  # its max-pool, done
        elif kind == "conv":
            _, _, w, b, m = step
            weight, bias = params[w].flatten(0, 1), params[b].flatten()
            if shared:  # the R runs' filters on the one batch: an ordinary convolution
                if runs_innermost:
                    h = h.contiguous(memory_format=torch.channels_last)
                h = F.conv2d(h, weight, bias, m.stride, m.padding, m.dilation)
                shared = False
            elif h.dim() == 4 and tuple(h.shape[-2:]) == m.kernel_size and m.padding == (0, 0) and m.dilation == (1, 1):
                # a filter as large as its input (LeNet-5's third convolution, 5x5 on 5x5): a Linear layer
                # on each run's flattened input, [B, R*C, k, k] -> [R, B, out]
                h = StackedLinear.apply(h.reshape(len(h), R, -1).transpose(0, 1), params[w].flatten(2), params[b])
            else:
                if runs_innermost:  # a no-op unless the layer before was the kernel's
                    h = h.contiguous(memory_format=torch.channels_last)
                h = F.conv2d(h, weight, bias, m.stride, m.padding, m.dilation, groups=R)
        elif kind == "pool":
            m = step[1]
            h = F.max_pool2d(h, m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode)
        elif kind == "act":
            h = step[1](h)
        elif kind == "flatten":
            if h.dim() == 3 and not shared:  # [R, B, D] already (a convolution computed as a Linear layer)
                pass
            elif h.dim() == 4 and not shared:  # [B, R*C, H, W] -> [R, B, C*H*W]
                h = h.reshape(h.shape[0], R, -1).transpose(0, 1)
            else:  # images, per run [R, B, C, H, W] or shared [B, C, H, W]
                h = h.flatten(-3)
        else:
            h = StackedLinear.apply(h, params[step[2]], params[step[3]])
    return h
