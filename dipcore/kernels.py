"""dipcore's one C++ kernel: the first convolution and max-pool of a stack of LeNet-5s
(``csrc/first_conv.cpp``, issue 36), built on first use by PyTorch's ``torch.utils.cpp_extension`` (a C++ compiler and
ninja; about 25 s, once per machine and source, cached in PyTorch's extensions folder).

``python -m dipcore kernels`` builds it and says whether it works; the test command runs that
first. Where it cannot be built (no compiler) or is switched off (``DIPBOOK_KERNELS=0``), training
takes the pure-PyTorch path, the reference it is tested against; a run records which
(``meta.trainer``).
"""
from __future__ import annotations

import os
import sys
import warnings
from functools import cache
from pathlib import Path

SOURCE = Path(__file__).with_name("csrc") / "first_conv.cpp"
FLAGS = ["-O3", "-march=native"]  # built on the machine that runs it: its own vector width


@cache
def first_conv():
    """The built kernel module (``forward``: pooled output and argmax; ``weight_grad``;
    ``input_grad``, for the JSVs), or None where it is switched off or
    cannot be built (then a warning says why, once)."""
    if os.environ.get("DIPBOOK_KERNELS", "1") == "0":
        return None
    try:
        from torch.utils.cpp_extension import load

        return load("dipcore_first_conv", [str(SOURCE)], extra_cflags=FLAGS, verbose=False)
    except Exception as e:  # no compiler, no ninja, a failed build: the pure-PyTorch path still trains
        warnings.warn(f"dipcore's C++ kernel could not be built ({type(e).__name__}: {str(e).strip()[:300]}); "
                      "LeNet-5 stacks train on the pure-PyTorch path, about 1.5x slower. Install a C++ compiler "
                      "and ninja (apt-get install g++; pip install ninja), or set DIPBOOK_KERNELS=0 to silence this")
        return None


def main(argv: list[str] | None = None) -> int:
    """``python -m dipcore kernels``: build the kernel now and check it against PyTorch's convolution."""
    import torch
    import torch.nn.functional as F

    ext = first_conv()
    if ext is None:
        print("dipcore's C++ kernel: not available (see the warning above); training uses the pure-PyTorch path")
        return 1
    g = torch.Generator().manual_seed(0)
    x, w, b = torch.randn(2, 3, 32, 32, generator=g), torch.randn(2, 1, 5, 5, generator=g), torch.randn(2, 1, generator=g)
    ref = F.max_pool2d(F.conv2d(x.transpose(0, 1), w, b.flatten(), groups=2), 2)
    err = (ext.forward(x, w, b)[0] - ref).abs().max().item()
    ok = err < 1e-4
    print(f"dipcore's C++ kernel: built ({SOURCE.name}, {' '.join(FLAGS)}); largest difference from PyTorch's "
          f"convolution and max-pool {err:.1e}: {'ok' if ok else 'WRONG'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
