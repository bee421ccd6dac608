"""From stored records to the tables and verdicts of the book, so that a chapter and the claims
page compute each verdict by the same code."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import claims, paper

LINEAR_TOL = 1e-4  # |JSV - 1| below this counts as exact isometry in float32


def pretrained_frame(records: list[dict], label: str):
    """The unpruned networks: our final test accuracy beside the paper's (Tables 3 and 7)."""
    import pandas as pd

    rows = []
    for rec in records:
        net = rec["spec"]["net"]
        table = 3 if net == "mlp7-linear" else 7
        rows.append({"network": paper.NET_LABELS[net], f"ours, {label} (%)": rec["final_acc"],
                     "best epoch (%)": rec["best_acc"], "paper, MNIST (%)": paper.value(table, net=net, setting="Unpruned")[0],
                     "paper source": f"Table {table}", "wall time (min)": rec["meta"]["wall_s"] / 60})
    return pd.DataFrame(rows).set_index("network")


def jsv_frame(records: list[dict]):
    """One row per measurement record: its spec's net, ratio, OrthP, recovery, seed and the JSV stats."""
    import pandas as pd

    from .spec import recovery

    return pd.DataFrame([{"net": r["spec"]["net"], "ratio": r["spec"]["ratio"], "orthp": r["spec"]["orthp"],
                          "recovery": recovery(r["spec"]),
                          "seed": r["spec"]["seed"], **{f"jsv_{k}": v for k, v in r["jsv"].items()},
                          "test_acc": r["test_acc"]} for r in records])


def table1(records: list[dict], label: str, seed: int = 0):
    """Table 1 in the paper's layout, ours (one seed) beside the paper's."""
    import pandas as pd

    df = jsv_frame(records)
    df = df[df.seed == seed]
    rows = []
    for _, r in df.iterrows():
        p = {m: paper.value(1, net=r.net, metric=m) for m in ("jsv_mean", "jsv_max", "jsv_min")}
        rows.append({"network": paper.NET_LABELS[r.net],
                     "JSV mean (std), ours": f"{r.jsv_mean:.4f} ({r.jsv_std:.4f})",
                     "max, ours": f"{r.jsv_max:.4f}", "min, ours": f"{r.jsv_min:.4f}",
                     "JSV mean (std), paper": f"{p['jsv_mean'][0]:.4f} ({p['jsv_mean'][1]:.4f})",
                     "max, paper": f"{p['jsv_max'][0]:.4f}", "min, paper": f"{p['jsv_min'][0]:.4f}"})
    out = pd.DataFrame(rows).set_index("network")
    out.columns = pd.MultiIndex.from_tuples([(f"ours ({label})", c.split(",")[0]) if "ours" in c
                                             else ("paper (MNIST)", c.split(",")[0]) for c in out.columns])
    return out


def table1_verdict(records: list[dict]) -> claims.Verdict:
    """Only the linear MLP reaches exact isometry under orthogonal initialisation (Table 1)."""
    df = jsv_frame(records)
    dev = (df[["jsv_max", "jsv_min"]] - 1).abs().max(axis=1)
    exact = df.assign(dev=dev).groupby("net").dev.max()
    linear_exact = exact["mlp7-linear"] < LINEAR_TOL
    others = exact.drop("mlp7-linear")
    ok = linear_exact and (others > 100 * LINEAR_TOL).all()
    ev = (f"largest |JSV - 1| over {df.seed.nunique()} seed(s): MLP-7-Linear {exact['mlp7-linear']:.1e}; "
          + ", ".join(f"{paper.NET_LABELS[n]} {v:.2f}" for n, v in others.items()))
    return claims.Verdict("Orthogonal initialisation gives exact dynamical isometry (all JSVs 1) only for "
                          "the linear MLP", "§3.1, Table 1", claims.REPRODUCED if ok else claims.NOT_REPRODUCED, ev)


def figure1_verdicts(records: list[dict]) -> list[claims.Verdict]:
    """Per network: mean JSV falls as the pruning ratio grows (Figure 1)."""
    df = jsv_frame(records).sort_values("ratio", kind="stable")
    out = []
    for net, g in df.groupby("net", sort=False):
        v = claims.decreasing(g.ratio, g.jsv_mean, f"{paper.NET_LABELS[net]}: a larger pruning ratio lowers "
                              "mean JSV more", "§3.1, Figure 1")
        below = (g[g.ratio > 0].jsv_mean < g[g.ratio == 0].jsv_mean.iloc[0]).mean() if (g.ratio == 0).any() else np.nan
        out.append(claims.Verdict(v.claim, v.source, v.verdict,
                                  f"{v.evidence}; mean JSV below the unpruned network's at {below:.0%} of the ratios"))
    return out


def orthp_verdict(records: list[dict]) -> claims.Verdict:
    """OrthP makes every JSV of pruned MLP-7-Linear exactly 1 (§3.2)."""
    df = jsv_frame(records)
    lin = df[(df.net == "mlp7-linear") & df.orthp]
    dev = float(np.maximum((lin.jsv_max - 1).abs(), (lin.jsv_min - 1).abs()).max())
    ok = len(lin) > 0 and dev < LINEAR_TOL
    return claims.Verdict("OrthP recovers exact dynamical isometry (all JSVs 1) in pruned MLP-7-Linear",
                          "§3.2, §3.3", claims.REPRODUCED if ok else claims.NOT_REPRODUCED,
                          f"largest |JSV - 1| after OrthP at ratios {', '.join(f'{r:g}' for r in sorted(lin.ratio.unique()))}: {dev:.1e}")


def store_summary(records: list[dict]):
    """Where and how long the stored runs were computed, by kind of run, dataset and device."""
    import pandas as pd

    df = pd.DataFrame([{
        "kind": "measurement" if r["spec"]["kind"] == "jsv" else
                ("pretraining" if r["spec"].get("keep_weights") else "finetuning / scratch"),
        "dataset": r["spec"]["dataset"], "device": r["meta"]["device"], "torch": r["meta"]["torch"],
        "epochs": r["spec"].get("epochs", 0), "wall_s": r["meta"]["wall_s"] / r["meta"].get("stacked_with", 1),
    } for r in records])
    if df.empty:
        return df
    out = df.groupby(["kind", "dataset", "device", "torch"]).agg(
        runs=("epochs", "size"), epochs=("epochs", "sum"), hours=("wall_s", lambda s: s.sum() / 3600))
    return out.round({"hours": 3})


DRIFT_CSV = "data/drift/stack_composition.csv"  # written by benchmarks/stack_drift.py


def stack_drift(path=None) -> tuple[object, str]:
    """The measured drift of stored runs retrained in another stack composition (a table by
    epochs and composition, None before any measurement) and the guarantee it supports, in one
    sentence. ``path`` defaults to the repository's ``DRIFT_CSV``."""
    import pandas as pd

    from .store import DEFAULT_ROOT

    path = DEFAULT_ROOT.parents[1] / DRIFT_CSV if path is None else path
    df = pd.read_csv(path) if path.exists() and path.stat().st_size else pd.DataFrame()
    if df.empty:
        return None, ("Not measured yet: `benchmarks/stack_drift.py` retrains stored runs in another stack "
                    "composition and writes its figures here.")
    df = df.drop_duplicates(["key", "epochs", "new_stack"], keep="last")  # a re-measurement replaces the older row
    df["final_gap"] = (df["new_final_acc"] - df["stored_final_acc"]).abs()
    differing = df.get("differing_metrics", pd.Series("", index=df.index)).fillna("").astype(str)
    df["differing"] = differing.where(~df["bitwise_equal"].astype(bool), "")
    table = df.groupby(["epochs", "stored_stack", "new_stack"]).agg(
        runs=("key", "size"), bitwise_equal=("bitwise_equal", "sum"), max_final_acc_gap=("final_gap", "max"),
        mean_final_acc_gap=("final_gap", "mean"), max_acc_gap_any_epoch=("max_abs_acc_gap", "max"),
        max_rel_jsv_gap=("max_rel_jsv_gap", "max"),
        not_bitwise_equal=("differing", lambda v: ", ".join(sorted({m for x in v for m in x.split() if m})) or "-"),
    ).round(3)
    parts = [f"{int(e)} epochs: final test accuracy within {g['final_gap'].max():.2f} points "
             f"({len(g)} run{'s' if len(g) != 1 else ''}, {int(g['bitwise_equal'].astype(bool).sum())} bitwise equal), "
             f"mean JSV within {g['max_rel_jsv_gap'].max():.1e} relative"
             for e, g in df.groupby("epochs")]
    return table, ("Same stack composition, same machine: bitwise equal (tested). Another composition: "
                   + "; ".join(parts) + ", measured.")


@dataclass
class GridPage:
    """What a page built on a grid of runs shows: one row per run (``frame``; runs not stored yet
    have status ``missing``), its tables (by network label) and its verdicts."""

    frame: object
    tables: dict
    verdicts: list[claims.Verdict]

    @property
    def have(self) -> int:
        return int((self.frame.status != "missing").sum())

    @property
    def need(self) -> int:
        return len(self.frame)


# -- §3.3 and §4: the four hypotheses -------------------------------------------------------------
def runs_frame(labelled: list[tuple[dict, dict]], records: list[dict | None]):
    """One row per finetuning or scratch run: its labels (ratio, setting, lr, hypothesis, seed), its
    epochs, final and best test accuracy, the test accuracy right after pruning/OrthP (``acc_0``) and after
    the first finetuning epoch (``acc_1``), and the mean JSV right after pruning/OrthP and at the end.
    A run not stored yet (record None) is a row with status ``missing`` and no numbers."""
    import pandas as pd

    from .spec import key

    rows = []
    for (labels, spec), rec in zip(labelled, records):
        labels = {**labels, "epochs": spec.get("epochs")}
        if rec is None:
            rows.append({**labels, "status": "missing", "key": key(spec)})
            continue
        m = rec["metrics"]
        rows.append({**labels, "final_acc": rec["final_acc"], "best_acc": rec["best_acc"], "status": rec["status"],
                     "acc_0": m["test_acc"][0], "acc_1": m["test_acc"][1] if len(m["test_acc"]) > 1 else None,
                     "jsv_0": m["jsv_mean"][0], "jsv_end": m["jsv_mean"][-1],
                     "key": rec["key"]})
    cols = ["final_acc", "best_acc", "acc_0", "acc_1", "jsv_0", "jsv_end"]
    return pd.DataFrame(rows).reindex(columns=list(dict.fromkeys([*rows[0], *cols]))) if rows else pd.DataFrame()


def compute_table(frame, by_key: dict, by=("net", "epochs")):
    """What the runs of a page cost, one row per group of ``frame`` (``runs_frame``; ``by_key``: the
    stored records by key): runs stored of those the page needs, the devices they ran on, how many
    were trained at once, and the training time per run and in all, in thread-hours (a stack's wall
    time divided among its runs, times its CPU threads; on a GPU, wall time). Measured times, as
    stored in each run's ``meta``; a group with no stored run shows only its count."""
    import pandas as pd

    from .cost import thread_seconds

    rows = []
    for group, g in frame.groupby(list(by), sort=False):
        metas = [by_key[k]["meta"] for k in g.key if k in by_key]
        row = {c: paper.NET_LABELS.get(v, v) if c == "net" else v
               for c, v in zip(by, group if isinstance(group, tuple) else (group,))}
        row["runs"] = f"{len(metas)} of {len(g)}"
        hours = [thread_seconds(m) / 3600 for m in metas if m.get("wall_s")]
        row["device"] = ", ".join(sorted({m.get("device", "?") for m in metas})) or "–"
        row["runs at once"] = ", ".join(str(n) for n in sorted({m.get("stacked_with", 1) for m in metas})) or "–"
        lo, hi = (f"{min(hours):.2f}", f"{max(hours):.2f}") if hours else ("–", "–")
        row["hours per run"] = lo if lo == hi else f"{lo}-{hi}"
        row["hours in all"] = f"{sum(hours):.1f}" if hours else "–"
        rows.append(row)
    return pd.DataFrame(rows).set_index(list(by)) if rows else pd.DataFrame()


def listed(items, empty: str = "none") -> str:
    """Items as prose lists them: "a, b and c" (``empty`` when there are none)."""
    items = list(items)
    return empty if not items else items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def signed(value: float, places: int = 1) -> str:
    """A difference as the prose prints it: its sign always, a true minus sign ("−2.4", "+0.38")."""
    return f"{value:+.{places}f}".replace("-", "−")


def stored(frame):
    """The rows of runs that are in the store."""
    return frame[frame.status != "missing"]


def _fmt(x) -> str:
    return f"{x.mean():.2f} ({x.std(ddof=0):.2f})" if len(x) else "–"


def complete(g) -> bool:
    """Whether the rows ``g`` are there and all stored (a verdict or a mean waits for all of them)."""
    return len(g) > 0 and bool((g.status != "missing").all())


def cell(g, column: str = "final_acc") -> str:
    """A table cell of the rows ``g``: mean (std) of ``column``, or "pending (have/need)" while any
    is missing (never a partial mean); runs marked ``diverged`` (counted at their ``column`` value)
    are named."""
    have = int((g.status != "missing").sum())
    if have < len(g):
        return f"pending ({have}/{len(g)})"
    diverged = int(g.diverged.sum()) if "diverged" in g else 0
    return _fmt(g[column].astype(float)) + (f", {diverged} diverged" if diverged else "")


def _paper(table: int, **where) -> tuple[float, float | None] | None:
    """A reported number and its std, None for a row of ours the paper does not have (AI)."""
    try:
        return paper.value(table, **where)
    except KeyError:
        return None


def _fmt_paper(p) -> str:
    return "–" if p is None else f"{p[0]:.2f}" if p[1] is None else f"{p[0]:.2f} ({p[1]:.2f})"


def results_table(frame, paper_table: int, net: str, column: str = "final_acc"):
    """Tables 3 / 7 in the paper's layout: per ratio and setting, mean (std) over seeds for LR
    0.001 and LR 0.01 and the "Acc. gain" of 0.01 over 0.001, ours beside the paper's."""
    import pandas as pd

    rows = []
    for (ratio, setting), g in frame.groupby(["ratio", "setting"], sort=False):
        row = {"pruning ratio": ratio, "setting": setting}
        have = int((g.status != "missing").sum())
        if have < len(g):  # shown once all its runs are in: never a partial mean
            pending = f"pending ({have}/{len(g)} runs)"
            row.update({"LR 0.001": pending, "LR 0.01": "" if setting == "Scratch" else pending, "Acc. gain": ""})
        elif setting == "Scratch":
            row.update({"LR 0.001": _fmt(g[column]), "LR 0.01": "", "Acc. gain": ""})
        else:
            lo, hi = g[g.lr == 0.001][column], g[g.lr == 0.01][column]
            row.update({"LR 0.001": _fmt(lo), "LR 0.01": _fmt(hi), "Acc. gain": f"{lr_gain(frame, ratio, setting, column):+.2f}"})
        if setting == "Scratch":
            row.update({"paper LR 0.001": _fmt_paper(_paper(paper_table, net=net, ratio=ratio, setting="Scratch")),
                        "paper LR 0.01": "", "paper Acc. gain": ""})
        else:
            p_lo, p_hi = (_paper(paper_table, net=net, ratio=ratio, setting=setting, lr=lr) for lr in (0.001, 0.01))
            gain = "–" if None in (p_lo, p_hi) else f"{p_hi[0] - p_lo[0]:+.2f}"
            row.update({"paper LR 0.001": _fmt_paper(p_lo), "paper LR 0.01": _fmt_paper(p_hi), "paper Acc. gain": gain})
        rows.append(row)
    out = pd.DataFrame(rows).set_index(["pruning ratio", "setting"])
    out.columns = pd.MultiIndex.from_tuples([("paper (MNIST)", c[6:]) if c.startswith("paper") else ("ours", c)
                                             for c in out.columns])
    return out


def _acc(frame, ratio, setting, lr, column="final_acc"):
    g = frame[(frame.ratio == ratio) & (frame.setting == setting) & (frame.lr == lr)]
    return g[column].tolist()


def lr_gain(frame, ratio: float, setting: str, column: str = "final_acc") -> float:
    """Table 3's "Acc. gain": mean accuracy at LR 0.01 minus at LR 0.001 in one setting."""
    import numpy as np

    return float(np.mean(_acc(frame, ratio, setting, 0.01, column)) - np.mean(_acc(frame, ratio, setting, 0.001, column)))


def _pending(frame, ratio: float, settings: list[str], claim: str, source: str, command: str | dict | None,
             state: str = "are not stored yet"):
    """A pending verdict when some runs of ``settings`` at ``ratio`` are not stored yet, else None.
    ``command`` computes them: one command, or one per grid (``{grid: command}``, the frame's
    ``grid`` column saying which grid each run belongs to), of which the verdict names those its
    missing runs belong to."""
    g = frame[(frame.ratio == ratio) & frame.setting.isin(settings)]
    have = int((g.status != "missing").sum())
    if have == len(g) and len(g):
        return None
    if isinstance(command, dict):
        todo = set(g[g.status == "missing"].grid)
        command = " && ".join(c for grid, c in command.items() if grid in todo)
    return claims.pending(claim, source, have, len(g), command or "python -m dipcore compute ...", state)


def hypothesis_claim(net_label: str, ratio: float, h: int) -> str:
    """The claim of hypothesis ``h`` at one pruning ratio, in the words every page uses."""
    from .grids import HYPOTHESES

    hyp = HYPOTHESES[h]
    pre = f"{net_label}, ratio {ratio}: "
    if hyp.base is None:
        return pre + f"after {hyp.epochs} epochs of finetuning, LR 0.01 beats LR 0.001"
    return pre + f"the gain of LR 0.01 over 0.001 is smaller {hyp.change}"


def hypothesis_verdicts(frame, h: int, source: str = "§3.3, Table 3", command: str | dict | None = None,
                        across: bool = False, state: str = "are not stored yet") -> list[claims.Verdict]:
    """The verdict of hypothesis ``h`` (``grids.HYPOTHESES``) at each pruning ratio (rules in
    ``dipcore.book.claims``): H1, LR 0.01 beats 0.001 in its setting; H2-H4, the gain of LR 0.01
    over 0.001 is smaller in its setting than in its base hypothesis's. Pending while runs are
    missing (the rest ``state``; ``command`` computes them). ``across``: the frame holds runs from several pretrained
    networks (its ``pretrained`` column), and the claim is decided across them, finetuning seeds
    nested in each (``claims.greater_across`` / ``claims.smaller_gain_across``; the claim text
    ends "(across pretrained networks)")."""
    from .grids import HYPOTHESES

    hyp = HYPOTHESES[h]
    out = []
    net = paper.NET_LABELS[frame.net.iloc[0]]
    nets_ = sorted(frame.pretrained.unique()) if across else None
    greater, smaller_gain = (claims.greater_across, claims.smaller_gain_across) if across else (claims.greater,
                                                                                                   claims.smaller_gain)
    for ratio in sorted(frame.ratio.unique()):
        def acc(setting, lr, ratio=ratio):
            if not across:
                return _acc(frame, ratio, setting, lr)
            return [_acc(frame[frame.pretrained == p], ratio, setting, lr) for p in nets_]

        claim = hypothesis_claim(net, ratio, h) + (" (across pretrained networks)" if across else "")
        if (v := _pending(frame, ratio, hyp.settings, claim, source, command, state)) is not None:
            out.append(v)
        elif hyp.base is None:
            out.append(greater(acc(hyp.setting, 0.01), acc(hyp.setting, 0.001), claim, source, unit=" points"))
        else:
            base = HYPOTHESES[hyp.base].setting
            out.append(smaller_gain(acc(base, 0.01), acc(base, 0.001), acc(hyp.setting, 0.01),
                                    acc(hyp.setting, 0.001), claim, source, unit=" points"))
    return out


def _best_lr(frame, ratio: float, setting: str, column: str = "final_acc") -> tuple[list, float]:
    """The runs of ``setting`` at its better LR (by mean), and that LR."""
    means = {lr: np.mean(_acc(frame, ratio, setting, lr, column) or [np.nan]) for lr in (0.01, 0.001)}
    lr = max(means, key=lambda k: means[k])
    return _acc(frame, ratio, setting, lr, column), lr


def _better_lr_verdict(frame, ratio: float, a: str, b: str, claim: str, source: str, names: tuple[str, str],
                       reverse: bool = False) -> claims.Verdict:
    """``claims.greater`` of setting ``a`` over ``b`` (``b`` over ``a`` when ``reverse``), each at its
    better LR, the LRs named in the evidence."""
    (xa, la), (xb, lb) = _best_lr(frame, ratio, a), _best_lr(frame, ratio, b)
    v = claims.greater(xb, xa, claim, source, unit=" points") if reverse else \
        claims.greater(xa, xb, claim, source, unit=" points")
    return claims.Verdict(v.claim, v.source, v.verdict, f"{v.evidence}; {names[0]} at LR {la}, {names[1]} at LR {lb}")


def table7_verdicts(frame, command: str | dict | None = None, source: str = "§4, Table 7") -> list[claims.Verdict]:
    """§4's three observations on one network of Table 7 (``frame``: its runs, with the AI arm when
    present), and the book's question about approximate isometry:

    1. more epochs help, whatever the LR: 900 epochs beat 90 at each LR (no recovery);
    2. OrthP helps only on LeNet-5-ReLU: with OrthP beats without (each at its better LR) there,
       and without OrthP is at least as good on the other networks (90 and 900 epochs);
    3. the advantage of LR 0.01 shrinks with 900 epochs: hypotheses 2 and 4 of §3.3;
    4. (beyond the paper) approximate isometry beats OrthP, each at its better LR (90 and 900 epochs).
    Each pending while its runs are missing; ``command`` computes them (one command, or one per grid
    as ``pages.table7_runs`` gives them: a pending verdict then names the grids its own runs miss)."""
    from .grids import setting_name

    key = frame.net.iloc[0]
    net = paper.NET_LABELS[key]
    out = []
    for ratio in sorted(frame.ratio.unique()):
        pre = f"{net}, ratio {ratio}: "
        for lr in (0.01, 0.001):
            claim = pre + f"900 epochs of finetuning beat 90 epochs (LR {lr})"
            settings = [setting_name(900, False), setting_name(90, False)]
            out.append(_pending(frame, ratio, settings, claim, source, command) or claims.greater(
                _acc(frame, ratio, settings[0], lr), _acc(frame, ratio, settings[1], lr), claim, source, unit=" points"))
        for epochs in (90, 900):
            plain, orthp = setting_name(epochs, False), setting_name(epochs, True)
            helps = key == "lenet5-relu"
            claim = pre + (f"OrthP helps ({epochs} epochs, each at its better LR)" if helps else
                           f"OrthP does not help: without it is at least as good ({epochs} epochs, each at its better LR)")
            out.append(_pending(frame, ratio, [plain, orthp], claim, source, command) or _better_lr_verdict(
                frame, ratio, orthp, plain, claim, source, ("OrthP", "without"), reverse=not helps))
        for h in (2, 4):
            out += hypothesis_verdicts(frame[frame.ratio == ratio], h, source, command)
        if (frame.setting.str.startswith("AI")).any():
            for epochs in (90, 900):
                ai, orthp = setting_name(epochs, False, "ai"), setting_name(epochs, True)
                claim = pre + f"approximate isometry beats OrthP ({epochs} epochs, each at its better LR)"
                source_ai = "beyond the paper, §4"
                out.append(_pending(frame, ratio, [ai, orthp], claim, source_ai, command) or _better_lr_verdict(
                    frame, ratio, ai, orthp, claim, source_ai, ("AI", "OrthP")))
    return out


def table7_notes(frame) -> dict[str, str]:
    """The numbers the §4 page's prose quotes for one network of Table 7 (``frame``: its runs), as
    text, each "–" while a run it needs is missing: ``scratch``, the pruned architecture trained
    from scratch (mean final accuracy); ``best``, the best finetuning setting and LR by mean final
    accuracy, with that mean (every setting whose runs are all stored, AI included), and
    ``scratch_vs``, whether scratch is "above" or "below" it; ``peak_900`` and
    ``final_900``, the 900-epoch runs without recovery at LR 0.01, the mean of each run's best epoch
    and of its final one; ``jsv_0``, the mean JSV right after pruning, after OrthP and after AI;
    ``jsv_end_90`` and ``jsv_end_900``, the range of the per-setting means at the end of 90 and
    900 epochs (no recovery, OrthP and AI, those whose runs are all stored)."""
    from .grids import setting_name

    done = frame[frame.status != "missing"]
    complete = [s for s, g in frame.groupby("setting") if (g.status != "missing").all()]
    out = dict.fromkeys(["scratch", "scratch_vs", "best", "peak_900", "final_900", "jsv_0", "jsv_end_90", "jsv_end_900"], "–")
    scratch = done[done.setting == "Scratch"].final_acc.mean() if "Scratch" in complete else None
    if scratch is not None:
        out["scratch"] = f"{scratch:.2f}"
    tuned = done[done.setting.isin(complete) & (done.setting != "Scratch")]
    if len(tuned):
        (setting, lr), acc = max(tuned.groupby(["setting", "lr"]).final_acc.mean().items(), key=lambda kv: kv[1])
        out["best"] = f"{acc:.2f} % ({setting}, LR {lr})"
        if scratch is not None:
            out["scratch_vs"] = "above" if scratch > acc else "below"
    plain900 = setting_name(900, False)
    if plain900 in complete:
        g = done[(done.setting == plain900) & (done.lr == 0.01)]
        out["peak_900"], out["final_900"] = f"{g.best_acc.mean():.2f}", f"{g.final_acc.mean():.2f}"
    starts = [done[done.setting == setting_name(90, False, r)].jsv_0 for r in ("none", "orthp", "ai")]
    if all(len(x) for x in starts):
        out["jsv_0"] = ", ".join(f"{x.iloc[0]:.3g}" for x in starts)
    for epochs in (90, 900):
        names = [n for n in (setting_name(epochs, False, r) for r in ("none", "orthp", "ai")) if n in complete]
        if names:
            ends = done[done.setting.isin(names)].groupby(["setting", "lr"]).jsv_end.mean()
            out[f"jsv_end_{epochs}"] = f"{ends.min():.2f}-{ends.max():.2f}"
    return out


def table7_progress(have: int, need: int) -> str:
    """What the §4 page says of its runs' progress (Markdown): all in, or how many and how the rest
    come in, the verdicts that need them pending."""
    if have >= need:
        return f"All {need} runs are in the store, and every verdict is decided on all of its runs."
    return (f"{have} of the {need} runs are in the store; the others land as they are computed in the "
            "background, or on a GPU (`scripts/device_grid.sh table7 table7_ai`; not yet run on one). Verdicts "
            "that need them stay *pending* until then; none is decided on part of its runs.")


def table3_notes(frame, unpruned: dict | None) -> dict[str, str]:
    """The numbers Table 3's page quotes in its prose, as text, each "–" while a run it needs is
    missing: ``unpruned``, the final test accuracy of our unpruned network (``unpruned``: its
    record), beside ``paper_unpruned``, the paper's (Table 3's caption); ``orthp_900_vs_90``, how
    far OrthP with 900 epochs ends from OrthP with 90 epochs, mean against mean at every ratio and
    LR ("0.6 to 0.7 points below")."""
    from .grids import setting_name

    net = frame.net.iloc[0]
    out = {"unpruned": f"{unpruned['final_acc']:.1f}" if unpruned else "–",
           "paper_unpruned": f"{paper.value(3, net=net, setting='Unpruned')[0]:.1f}"}
    long, short = (frame[frame.setting == setting_name(e, True)] for e in (900, 90))
    if not (complete(long) and complete(short)):
        return {**out, "orthp_900_vs_90": "–"}
    d = long.groupby(["ratio", "lr"]).final_acc.mean() - short.groupby(["ratio", "lr"]).final_acc.mean()
    lo, hi = sorted((abs(d.min()), abs(d.max())))
    out["orthp_900_vs_90"] = (f"{lo:.1f} to {hi:.1f} points below" if d.max() < 0 else
                              f"{lo:.1f} to {hi:.1f} points above" if d.min() > 0 else
                              f"between {d.min():+.1f} and {d.max():+.1f} points from")
    return out


def table3_extra_verdicts(frame, source: str = "§3.3") -> list[claims.Verdict]:
    """Further claims of §3.3: OrthP with 90 epochs beats 900 epochs without it (each at its
    better LR), and "the initial test accuracy is much higher when OrthP is used", read two ways:
    after the first finetuning epoch (where Figure 2's curves start; one verdict per LR, 90-epoch
    settings) and right after OrthP, before any finetuning step."""
    from .grids import setting_name

    out = []
    net = paper.NET_LABELS[frame.net.iloc[0]]
    for ratio in sorted(frame.ratio.unique()):
        (a, la), (b, lb) = _best_lr(frame, ratio, setting_name(90, True)), _best_lr(frame, ratio, setting_name(900, False))
        out.append(claims.greater(a, b, f"{net}, ratio {ratio}: OrthP with 90 epochs (LR {la}) beats 900 epochs "
                                  f"without OrthP (LR {lb})", source, unit=" points"))
        for lr in (0.001, 0.01):
            a, b = (_acc(frame, ratio, setting_name(90, o), lr, "acc_1") for o in (True, False))
            out.append(claims.greater(a, b, f"{net}, ratio {ratio}: after the first finetuning epoch (LR {lr}), test "
                                      "accuracy is higher with OrthP than without", source, unit=" points"))
        g = frame[(frame.ratio == ratio) & (frame.setting != "Scratch")]
        orthp = g.setting.str.startswith("OrthP")
        claim = (f"{net}, ratio {ratio}: right after OrthP, before any finetuning step, test accuracy is higher "
                 "than right after pruning")
        if orthp.any() and (~orthp).any():  # every run of a kind starts from one network: one number each
            a0, b0 = g[orthp].acc_0.iloc[0], g[~orthp].acc_0.iloc[0]
            out.append(claims.Verdict(claim, source, claims.REPRODUCED if a0 > b0 else claims.NOT_REPRODUCED,
                                      f"{a0:.2f}% after OrthP vs {b0:.2f}% after pruning alone (exact, before any step)"))
    return out


# -- §3.2 and §4: what each recovery method does to the inherited weights --------------------------
def nearest_isometry(weight, gain: float = 1.0):
    """The matrix with orthonormal rows or columns (times ``gain``) nearest to ``weight`` in the
    Frobenius norm: ``U V^T`` of its SVD (the polar factor), on the ``[out, in*k*k]`` flattening."""
    import torch

    u, _, vh = torch.linalg.svd(weight.detach().flatten(1), full_matrices=False)
    return (gain * u @ vh).reshape(weight.shape)


def recovery_moves(weights, net: str, dataset: str, protocol: str, ratio: float):
    """Per weight layer of the pretrained ``net`` pruned at ``ratio``: how far OrthP and
    approximate isometry (AI) move the inherited weights ``W`` (``|W' - W| / |W|``, Frobenius), how
    far apart their results are, and how far ``W`` is from the nearest matrix with orthonormal rows
    or columns (its polar factor, scaled by the gain): the least any exact recovery must move it.
    The isometry error ``|W W^T - g^2 I|`` before and after each. ``weights(key)`` reads stored
    weights (``RunStore.weights``). Recomputes AI (seconds), on one CPU thread as the store's runs
    are computed: a float32 reduction's rounding depends on the thread count, and AI's 10 000 steps
    carry it into the page's numbers (the 8th digit), which nbval compares."""
    import pandas as pd
    import torch

    from .. import isometry, nets
    from . import grids, recipe

    g = nets.gain(net)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        models = {rec: recipe.initial_model(grids.pruned_jsv_spec(net, dataset, protocol, ratio, recovery=rec), weights)
                  for rec in ("none", "orthp", "ai")}
    finally:
        torch.set_num_threads(threads)
    rows = []
    layers = zip(*(nets.weight_layers(models[r]) for r in ("none", "orthp", "ai")))
    for i, (w, o, a) in enumerate(layers):
        w, o, a = w.weight.detach(), o.weight.detach(), a.weight.detach()
        size, nearest = float(w.norm()), nearest_isometry(w, g)
        rows.append({"network": paper.NET_LABELS[net], "layer": i + 1,
                     "shape": "x".join(map(str, w.flatten(1).shape)),
                     "error, pruned": float(isometry.isometry_error(w, g)),
                     "error, OrthP": float(isometry.isometry_error(o, g)),
                     "error, AI": float(isometry.isometry_error(a, g)),
                     "moved by OrthP": float((o - w).norm()) / size, "moved by AI": float((a - w).norm()) / size,
                     "OrthP to AI": float((o - a).norm()) / size,
                     "nearest isometry": float((nearest - w).norm()) / size,
                     "AI to nearest": float((nearest - a).norm()) / size})
    return pd.DataFrame(rows).set_index(["network", "layer", "shape"])

