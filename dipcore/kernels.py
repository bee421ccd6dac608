"""dipcore's two C++ kernels (issue 36), built on first use by PyTorch's ``torch.utils.cpp_extension``
(a C++ compiler and ninja; about 40 s each, once per machine and source, cached in PyTorch's
extensions folder):

* ``first_conv()`` (``csrc/first_conv.cpp``): LeNet-5's first convolution and max-pool for a stack
  of runs (trainer ``stacked-conv-kernel``), and its second where that has one channel in
  (``stacked-conv2-kernel``);
* ``mlp_step()`` (``csrc/mlp_step.cpp``): a whole training step of a stack of plain MLPs (MLP-7:
  each run's loss on its own batch and every layer's gradient; trainer ``stacked-mlp-kernel``).

``python -m dipcore kernels`` builds them and says whether they work; the test command runs that
first. Where one cannot be built (no compiler) or they are switched off (``DIPBOOK_KERNELS=0``),
training takes the pure-PyTorch path, the reference each is tested against; a run records which
(``meta.trainer``).
"""
from __future__ import annotations

import os
import sys
import warnings
from functools import cache
from pathlib import Path

CSRC = Path(__file__).with_name("csrc")
SOURCES = {"first_conv": CSRC / "first_conv.cpp", "mlp_step": CSRC / "mlp_step.cpp"}
FALLBACK = {"first_conv": "LeNet-5 stacks train on the pure-PyTorch path, about 1.5x slower",
            "mlp_step": "MLP-7 stacks train on the pure-PyTorch path, about 3x slower"}
FLAGS = ["-O3", "-march=native"]  # built on the machine that runs it: its own vector width


@cache
def build(name: str):
    """The built kernel module ``name`` (a key of ``SOURCES``), or None where kernels are switched
    off or it cannot be built (then a warning says why, once)."""
    if os.environ.get("DIPBOOK_KERNELS", "1") == "0":
        return None
    try:
        from torch.utils.cpp_extension import load

        return load(f"dipcore_{name}", [str(SOURCES[name])], extra_cflags=FLAGS, verbose=False)
    except Exception as e:  # no compiler, no ninja, a failed build: the pure-PyTorch path still trains
        warnings.warn(f"dipcore's C++ kernel {name} could not be built ({type(e).__name__}: {str(e).strip()[:300]}); "
                      f"{FALLBACK[name]}. Install a C++ compiler and ninja (apt-get install g++; pip install ninja), "
                      "or set DIPBOOK_KERNELS=0 to silence this")
        return None


def first_conv():
    """LeNet-5's first convolution and max-pool (``forward``: pooled output and argmax;
    ``weight_grad``; ``input_grad``, for the JSVs), or None (``build``)."""
    return build("first_conv")


def mlp_step():
    """A training step of a stack of plain MLPs (``step``: each run's mean loss and every layer's
    gradients), or None (``build``)."""
    return build("mlp_step")


def clear() -> None:
    """Forget the built modules (so that a changed ``DIPBOOK_KERNELS`` takes effect: tests)."""
    build.cache_clear()


def _check_first_conv(ext) -> float:
    import torch
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(0)
    x, w, b = torch.randn(2, 3, 32, 32, generator=g), torch.randn(2, 1, 5, 5, generator=g), torch.randn(2, 1, generator=g)
    ref = F.max_pool2d(F.conv2d(x.transpose(0, 1), w, b.flatten(), groups=2), 2)
    return (ext.forward(x, w, b)[0] - ref).abs().max().item()


def _check_mlp_step(ext) -> float:
    import torch
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(20, 40, generator=g), torch.randint(0, 3, (20,), generator=g)
    w = [torch.randn(2, 7, 40, generator=g, requires_grad=True), torch.randn(2, 3, 7, generator=g, requires_grad=True)]
    b = [torch.randn(2, 7, generator=g, requires_grad=True), torch.randn(2, 3, generator=g, requires_grad=True)]
    idx = torch.randint(0, 20, (2, 5), generator=g)
    h = torch.relu(torch.baddbmm(b[0].unsqueeze(1), x[idx], w[0].mT))
    loss = F.cross_entropy(torch.baddbmm(b[1].unsqueeze(1), h, w[1].mT).flatten(0, 1), y[idx].flatten(),
                           reduction="none").view(2, -1).mean(1)
    ref = [loss] + list(torch.autograd.grad(loss.sum(), w + b))
    out = ext.step(x, idx, y, [t.detach() for t in w], [t.detach() for t in b], [1, 0], True)
    return max((o - r).abs().max().item() for o, r in zip(out, ref))


def main(argv: list[str] | None = None) -> int:
    """``python -m dipcore kernels``: build the kernels now and check each against PyTorch."""
    ok = True
    for name, check, against in (("first_conv", _check_first_conv, "PyTorch's convolution and max-pool"),
                                 ("mlp_step", _check_mlp_step, "autograd's loss and gradients")):
        ext = build(name)
        if ext is None:
            print(f"dipcore's C++ kernel {name}: not available (see the warning above); {FALLBACK[name]}")
            ok = False
            continue
        err = check(ext)
        print(f"dipcore's C++ kernel {name}: built ({SOURCES[name].name}, {' '.join(FLAGS)}); largest difference "
              f"from {against} {err:.1e}: {'ok' if err < 1e-4 else 'WRONG'}")
        ok = ok and err < 1e-4
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
