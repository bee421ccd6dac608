"""Step learning-rate schedules in the paper's notation (Table 2).

``"0:0.01,30:0.001,60:0.0001"``: at epoch e (0-indexed) the LR is the value of the largest key
<= e, set at the start of each epoch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Schedule:
    text: str
    steps: tuple[tuple[int, float], ...]  # (first epoch, LR), keys strictly increasing from 0

    def lr(self, epoch: int) -> float:
        """The LR of (0-indexed) ``epoch``."""
        return [lr for start, lr in self.steps if start <= epoch][-1]

    def check_epochs(self, epochs: int) -> None:
        """A key at or past the last epoch would never take effect: a malformed run."""
        last = self.steps[-1][0]
        if last >= epochs:
            raise ValueError(
                f"LR schedule {self.text!r} changes the LR at epoch {last}, "
                f"but the run has only {epochs} epochs (0..{epochs - 1})")

    def __str__(self) -> str:
        return self.text


def parse(text: str) -> Schedule:
    """Parse ``"key:lr,key:lr,..."``; a malformed string raises ``ValueError`` naming it."""
    def bad(why: str) -> ValueError:
        return ValueError(f"malformed LR schedule {text!r}: {why} "
                          "(expected e.g. '0:0.01,30:0.001,60:0.0001')")

    if not isinstance(text, str) or not text.strip():
        raise bad("empty")
    steps = []
    for part in text.split(","):
        key, sep, value = part.strip().partition(":")
        if not sep:
            raise bad(f"{part!r} is not 'epoch:lr'")
        try:
            epoch = int(key)
            lr = float(value)
        except ValueError:
            raise bad(f"{part!r} is not 'epoch:lr' with an integer epoch and a number LR") from None
        if epoch < 0:
            raise bad(f"negative epoch {epoch}")
        if not math.isfinite(lr) or lr <= 0:
            raise bad(f"LR {value.strip()!r} is not a positive number")
        steps.append((epoch, lr))
    keys = [k for k, _ in steps]
    if keys[0] != 0:
        raise bad("the first key must be epoch 0")
    if any(b <= a for a, b in zip(keys, keys[1:])):
        raise bad(f"epochs {keys} are not strictly increasing")
    return Schedule(text, tuple(steps))


def rescale(text: str, epochs_from: int, epochs_to: int) -> str:
    """The same schedule shape over ``epochs_to`` epochs instead of ``epochs_from`` (for the
    shortened protocols): keys scale proportionally, rounded to the nearest epoch; where two
    steps land on one epoch the earlier LR is kept (so the initial LR always survives), and steps
    that land past the last epoch are dropped."""
    steps: dict[int, float] = {}
    for key, lr in parse(text).steps:
        new = round(key * epochs_to / epochs_from)
        if new < epochs_to:
            steps.setdefault(new, lr)
    return ",".join(f"{k}:{v:g}" for k, v in steps.items())
