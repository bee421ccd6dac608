"""The paper's grids of runs, as lists of specs (Tables 2, 3 and 7; chapters/protocol.md), and the
four hypotheses of §3.3 that Tables 3 and 7 are laid out by.

Each grid function takes the dataset and protocol (a ``Protocol`` or its name) and returns its own runs only: a finetuning
spec carries the pretrained run it starts from (``Spec.requires``), and the executor computes that
first when it is missing. ``GRIDS`` names them for the command line.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..data import DATASETS
from .. import isometry, nets
from ..nets import NETS
from . import protocol as protomod
from . import spec as specmod

PRETRAIN_SCHEDULE = "0:0.01,30:0.001,60:0.0001"  # 90 epochs (Table 2 caption)
# Table 2, with the paper's "0:0.001,45:0.001" typo read as 0.0001 (chapters/protocol.md).
FINETUNE = {
    (90, 0.01): "0:0.01,30:0.001,60:0.0001",
    (90, 0.001): "0:0.001,45:0.0001",
    (900, 0.01): "0:0.01,300:0.001,600:0.0001",
    (900, 0.001): "0:0.001,450:0.0001",
}


@dataclass(frozen=True)
class Hypothesis:
    """One hypothesis of §3.3: the finetuning setting it is tested in (epochs, OrthP), the
    hypothesis whose LR gain it should shrink (None for H1), our wording of it, and what
    changes from that base setting (for the verdict's sentence)."""

    number: int
    epochs: int
    orthp: bool
    base: int | None
    text: str
    change: str = ""

    @property
    def setting(self) -> str:
        return setting_name(self.epochs, self.orthp)

    @property
    def settings(self) -> list[str]:
        """The settings (rows of Table 3) it is decided on: its own, and its base's."""
        return [self.setting] + ([HYPOTHESES[self.base].setting] if self.base else [])


HYPOTHESES = {h.number: h for h in (
    Hypothesis(1, 90, False, None,
               "With a short finetuning budget (90 epochs) training does not have time to restore the mean JSV, "
               "so the larger initial LR (0.01), which restores it faster, should end clearly ahead of LR 0.001."),
    Hypothesis(2, 900, False, 1,
               "With a long budget (900 epochs) both LRs have time to restore the mean JSV, so the larger LR "
               "should keep less of its advantage.", "with 900 epochs than with 90"),
    Hypothesis(3, 90, True, 1,
               "If OrthP restores the mean JSV before finetuning starts, the larger LR has less to make up, so even "
               "with 90 epochs its advantage should shrink.", "with OrthP than without (90 epochs)"),
    Hypothesis(4, 900, True, 3,
               "With OrthP and 900 epochs together the mean JSV is restored at least as fully as by either alone, "
               "so the advantage of the larger LR should be smaller still.",
               "with OrthP and 900 epochs than with OrthP and 90"),
)}


def _common(dataset: str, proto: protomod.Protocol, net: str | None = None) -> dict:
    n_train, n_test = (proto.residual_data if net in nets.RESIDUAL and proto.residual_data else (proto.n_train, proto.n_test))
    return {"dataset": proto.dataset_for(dataset), "n_train": n_train, "n_test": n_test, "jsv_examples": proto.jsv_examples}


def pretrain_spec(net: str, dataset: str, protocol: str | protomod.Protocol, seed: int = 0) -> dict:
    """The pretrained (unpruned) network: 90 epochs; seed 0 is the one every chapter of the paper
    starts from, other seeds are the other pretrained networks of the robustness chapter."""
    p = protomod.get(protocol)
    return specmod.train_spec(net, **_common(dataset, p, net), schedule_text=p.schedule(PRETRAIN_SCHEDULE, 90),
                              epochs=p.epochs(90), seed=seed, keep_weights=True)


def finetune_spec(net: str, dataset: str, protocol: str | protomod.Protocol, ratio: float, epochs: int, lr: float,
                  orthp: bool, seed: int, recovery: str | None = None, pretrained: int = 0) -> dict:
    """Finetuning of the pretrained ``net`` (the one of seed ``pretrained``) L1-pruned at
    ``ratio`` (Table 2's settings), recovered by OrthP when ``orthp`` or by ``recovery``
    (``"ai"``: approximate isometry, Lee et al.'s settings) when given."""
    p = protomod.get(protocol)
    start = pretrain_spec(net, dataset, protocol, pretrained)
    recovery = recovery or ("orthp" if orthp else "none")
    return specmod.train_spec(net, **_common(dataset, p, net), ratio=ratio, start=start, recovery=recovery,
                              settings=p.settings(recovery),
                              schedule_text=p.schedule(FINETUNE[epochs, lr], epochs),
                              epochs=p.epochs(epochs), seed=seed)


def scratch_spec(net: str, dataset: str, protocol: str | protomod.Protocol, ratio: float, seed: int) -> dict:
    """The pruned architecture trained from a fresh init with the pretraining schedule."""
    p = protomod.get(protocol)
    return specmod.train_spec(net, **_common(dataset, p, net), ratio=ratio, schedule_text=p.schedule(PRETRAIN_SCHEDULE, 90),
                              epochs=p.epochs(90), seed=seed)


def pretrain(dataset: str, protocol: str | protomod.Protocol) -> list[dict]:
    """The four networks, unpruned (Table 3 and Table 7 headers)."""
    return [pretrain_spec(net, dataset, protocol) for net in NETS]




def setting_name(epochs: int, orthp: bool, recovery: str | None = None) -> str:
    """The row label of Tables 3 and 7 (paper epochs: 90 or 900): "90 epochs", "OrthP, 900 epochs",
    and for the book's approximate-isometry arm "AI, 90 epochs"."""
    recovery = recovery or ("orthp" if orthp else "none")
    return f"{'' if recovery == 'none' else isometry.RECOVERIES[recovery].label + ', '}{epochs} epochs"


def labelled_hypotheses(net: str, dataset: str, protocol: str | protomod.Protocol, ratios: tuple[float, ...],
                        seeds: tuple[int, ...] | None = None) -> list[tuple[dict, dict]]:
    """Table 3 / Table 7 for one network, as (labels, spec) pairs: per ratio, the 4 hypotheses x
    2 LRs x seeds (None: the protocol's), and scratch. Labels name the cell of the paper's table
    (ratio, setting, lr, hypothesis) and the seed."""
    seeds = protomod.get(protocol).seeds if seeds is None else seeds
    out = []
    for ratio in ratios:
        for h in HYPOTHESES.values():
            for lr in (0.01, 0.001):
                for s in seeds:
                    labels = {"net": net, "ratio": ratio, "setting": h.setting, "hypothesis": h.number,
                              "lr": lr, "seed": s}
                    out.append((labels, finetune_spec(net, dataset, protocol, ratio, h.epochs, lr, h.orthp, s)))
        for s in seeds:
            labels = {"net": net, "ratio": ratio, "setting": "Scratch", "hypothesis": None, "lr": None, "seed": s}
            out.append((labels, scratch_spec(net, dataset, protocol, ratio, s)))
    return out


def labelled_hypothesis(h: int, net: str, dataset: str, protocol: str | protomod.Protocol, ratios: tuple[float, ...],
                        seeds: tuple[int, ...] | None = None) -> list[tuple[dict, dict]]:
    """The (labels, spec) pairs hypothesis ``h`` is decided on: those of ``labelled_hypotheses``
    in the settings ``hypothesis_settings(h)``."""
    settings = HYPOTHESES[h].settings
    return [(l, s) for l, s in labelled_hypotheses(net, dataset, protocol, ratios, seeds) if l["setting"] in settings]


def hypotheses(net: str, dataset: str, protocol: str | protomod.Protocol, ratios: tuple[float, ...]) -> list[dict]:
    """The specs of ``labelled_hypotheses``."""
    return [s for _, s in labelled_hypotheses(net, dataset, protocol, ratios)]


TABLE3_RATIOS = (0.8, 0.9)


def table3(dataset: str, protocol: str | protomod.Protocol) -> list[dict]:
    """§3.3: MLP-7-Linear at pruning ratios 0.8 and 0.9 (90 runs at the paper protocol)."""
    return hypotheses("mlp7-linear", dataset, protocol, TABLE3_RATIOS)


TABLE7_NETS = ("mlp7-relu", "lenet5-linear", "lenet5-relu")
TABLE7_RATIOS = (0.9,)


def table7(dataset: str, protocol: str | protomod.Protocol) -> list[dict]:
    """§4: MLP-7-ReLU, LeNet-5-Linear and LeNet-5-ReLU at pruning ratio 0.9 (135 runs)."""
    return [s for net in TABLE7_NETS for s in hypotheses(net, dataset, protocol, TABLE7_RATIOS)]


def labelled_ai(net: str, dataset: str, protocol: str | protomod.Protocol, ratios: tuple[float, ...],
                seeds: tuple[int, ...] | None = None) -> list[tuple[dict, dict]]:
    """The book's second recovery method on Table 7's networks: approximate isometry (Lee et al.)
    after pruning, then Table 2's finetuning, 90 and 900 epochs x both LRs x seeds; labelled like
    ``labelled_hypotheses`` (setting "AI, 90 epochs", hypothesis None)."""
    seeds = protomod.get(protocol).seeds if seeds is None else seeds
    return [({"net": net, "ratio": ratio, "setting": setting_name(epochs, False, "ai"), "hypothesis": None,
              "lr": lr, "seed": s}, finetune_spec(net, dataset, protocol, ratio, epochs, lr, False, s, recovery="ai"))
            for ratio in ratios for epochs in (90, 900) for lr in (0.01, 0.001) for s in seeds]


def table7_ai(dataset: str, protocol: str | protomod.Protocol) -> list[dict]:
    """§4, beyond the paper: the approximate-isometry arm of Table 7 (60 runs)."""
    return [s for net in TABLE7_NETS for _, s in labelled_ai(net, dataset, protocol, TABLE7_RATIOS)]


FIGURE1_RATIOS = tuple(round(0.1 * i, 1) for i in range(10))  # 0, 0.1, ..., 0.9


def table1(dataset: str, protocol: str | protomod.Protocol, seeds: tuple[int, ...] | None = None) -> list[dict]:
    """§3.1, Table 1: JSVs of orthogonal initialisation of the four networks, one per seed
    (None: the protocol's seeds)."""
    p = protomod.get(protocol)
    return [specmod.jsv_spec(net, init="orthogonal", seed=s, **_common(dataset, p))
            for net in NETS for s in (p.seeds if seeds is None else seeds)]


def pruned_jsv_spec(net: str, dataset: str, protocol: str | protomod.Protocol, ratio: float, orthp: bool = False,
                    keep_values: bool = False, recovery: str | None = None) -> dict:
    """JSVs of the pretrained ``net`` L1-pruned at ``ratio`` (and OrthP'd, or recovered by
    ``recovery``), before finetuning."""
    p = protomod.get(protocol)
    start = pretrain_spec(net, dataset, protocol)
    recovery = recovery or ("orthp" if orthp else "none")
    return specmod.jsv_spec(net, init="pretrained", start=start, ratio=ratio, recovery=recovery,
                            settings=p.settings(recovery),
                            keep_values=keep_values, **_common(dataset, p, net))


def figure1(dataset: str, protocol: str | protomod.Protocol, ratios: tuple[float, ...] = FIGURE1_RATIOS) -> list[dict]:
    """§3.1, Figure 1: mean JSV of the pretrained networks pruned at each ratio."""
    return [pruned_jsv_spec(net, dataset, protocol, r) for net in NETS for r in ratios]


ORTHP_RATIOS = {"mlp7-linear": (0.8, 0.9), "mlp7-relu": (0.9,), "lenet5-linear": (0.9,), "lenet5-relu": (0.9,)}


def orthp(dataset: str, protocol: str | protomod.Protocol) -> list[dict]:
    """§3.2: every JSV of each pruned pretrained network before and after OrthP (at the ratios
    of Tables 3 and 7), and after approximate isometry (§4's second recovery method)."""
    return [
        pruned_jsv_spec(net, dataset, protocol, r, keep_values=True, recovery=rec)
        for net, ratios in ORTHP_RATIOS.items() for r in ratios for rec in ("none", "orthp", "ai")]


# §3.4, Tables 4 and 5: the arms of the value-of-pruning sweep, as (paper epochs, schedule). The
# four finetuning rows are Table 4's; the two decayed schedules are Table 5's (its caption's
# "Finetuned-1" is the LR 0.01 one; the book reads the caption's labels as swapped, see the
# chapter). Scratch: §3.4's "120 epochs, LR decayed to 1e-5", from the pretraining schedule.
VALUE_ARMS = {
    "Scratch": (120, "0:0.01,30:0.001,60:0.0001,90:0.00001"),
    "20 epochs, 0.001, fixed": (20, "0:0.001"),
    "90 epochs, 0.001, fixed": (90, "0:0.001"),
    "90 epochs, 0.001, decay": (90, "0:0.001,45:0.0001,60:0.00001"),
    "90 epochs, 0.01, decay": (90, "0:0.01,30:0.001,60:0.0001,75:0.00001"),
}
VALUE_NETS = ("mlp7-relu", "lenet5-relu")  # the CPU tier: the book's nonlinear networks
VALUE_RATIOS = (0.1, 0.3, 0.5, 0.7, 0.9, 0.95)  # Table 5
VALUE_SEEDS = 3  # Table 6: "randomly repeated for 3 times"
VALUE_RESIDUAL = "resnet20"  # the GPU tier: the same sweep on a residual network with batch norm


def value_ratios(protocol: str | protomod.Protocol) -> tuple[float, ...]:
    """§3.4's pruning ratios at ``protocol``: Table 5's six, or the protocol's own (smoke: two)."""
    return protomod.get(protocol).value_ratios or VALUE_RATIOS


def value_spec(net: str, dataset: str, protocol: str | protomod.Protocol, ratio: float, arm: str, seed: int) -> dict:
    """One run of the §3.4 sweep: ``net`` at ``ratio`` in ``arm`` (a key of ``VALUE_ARMS``): the
    pruned architecture from a fresh init ("Scratch"), or the pretrained network L1-pruned and
    finetuned with the arm's schedule."""
    if arm not in VALUE_ARMS:
        raise ValueError(f"unknown arm {arm!r}; choose one of {', '.join(VALUE_ARMS)}")
    p = protomod.get(protocol)
    epochs, schedule = VALUE_ARMS[arm]
    start = "scratch" if arm == "Scratch" else pretrain_spec(net, dataset, protocol)
    return specmod.train_spec(net, **_common(dataset, p, net), ratio=ratio, start=start,
                              schedule_text=p.schedule(schedule, epochs), epochs=p.epochs(epochs), seed=seed)


def labelled_value(net: str, dataset: str, protocol: str | protomod.Protocol, ratios: tuple[float, ...] | None = None,
                   seeds: tuple[int, ...] | None = None) -> list[tuple[dict, dict]]:
    """The §3.4 sweep for one network as (labels, spec) pairs: per ratio (None: the protocol's,
    ``value_ratios``), every arm x seeds (None: the protocol's first ``VALUE_SEEDS``). Labels:
    net, ratio, setting (the arm), seed."""
    ratios = ratios or value_ratios(protocol)
    seeds = protomod.get(protocol).seeds[:VALUE_SEEDS] if seeds is None else seeds
    return [({"net": net, "ratio": r, "setting": arm, "seed": s}, value_spec(net, dataset, protocol, r, arm, s))
            for r in ratios for arm in VALUE_ARMS for s in seeds]


def value(dataset: str, protocol: str | protomod.Protocol) -> list[dict]:
    """§3.4: scratch against L1-pruned finetuning on MLP-7-ReLU and LeNet-5-ReLU at six ratios,
    five arms, 3 seeds (180 runs at the paper protocol)."""
    return [s for net in VALUE_NETS for _, s in labelled_value(net, dataset, protocol)]


def value_resnet(dataset: str, protocol: str | protomod.Protocol) -> list[dict]:
    """§3.4's GPU tier: the same sweep on ResNet-20 (90 runs; its pretrained network first)."""
    return [s for _, s in labelled_value(VALUE_RESIDUAL, dataset, protocol)]


PACE_RATIOS = (0.0, 0.9)  # ResNet-20 dense, and pruned at 0.9, next to the residual tier's narrowest (0.95)


def value_resnet_pace(dataset: str, protocol: str | protomod.Protocol) -> list[dict]:
    """Not the paper's: one epoch of ResNet-20 from a fresh init, dense (its pretraining's first
    epoch) and L1-pruned at 0.9 (scratch training's first), so that ``python -m dipcore status`` and
    §3.4's page can cost the residual tier (``value_resnet``: 7,470 epochs, a GPU's work) from
    ResNet-20's own measured speed on a CPU (``cost.rates`` reads every stored training run; its
    other ratios are costed from the nearer of the two, scaled up by FLOPs where narrower, never
    above the dense rate)."""
    p = protomod.get(protocol)
    first = PRETRAIN_SCHEDULE.split(",")[0]  # the first epoch's LR of the pretraining and scratch schedules
    return [specmod.train_spec(VALUE_RESIDUAL, **_common(dataset, p, VALUE_RESIDUAL), ratio=r,
                               schedule_text=first, epochs=1, seed=0) for r in PACE_RATIOS]


# Lee et al. (ICLR 2020), chapters/pruning_at_init: connection sensitivity at initialization on the
# MLP-7s (their mlp-7-linear and mlp-7-tanh, and ReLU for the link with §4), trained with their
# defaults: batch 100, plain SGD (no momentum) at a constant LR, their L2 term 2.5e-4 * sum w^2
# (weight decay 5e-4), 10 000 iterations: 17 epochs of the 60 000 training images (10 200). Their
# LR 0.1 for MLP-7-Tanh and -ReLU; for MLP-7-Linear 0.02, the largest of 0.1, 0.05, 0.02 at which
# the dense network trains (orthogonal, LeCun and Glorot inits): at 0.1 it diverges in its first
# epoch on the book's data, which the grid keeps as evidence (the dense runs at LEE_LR).
PAI_NETS = ("mlp7-linear", "mlp7-tanh", "mlp7-relu")
PAI_INITS = ("lecun", "glorot", "he", "orthogonal")  # variance scalings against layerwise isometry
PAI_SPARSITIES = (0.5, 0.9, 0.95, 0.98, 0.99)
PAI_SEEDS = 3
PAI_EPOCHS, LEE_LR = 17, 0.1
PAI_LR = {"mlp7-linear": 0.02, "mlp7-tanh": LEE_LR, "mlp7-relu": LEE_LR}
PAI_SGD = {"batch_size": 100, "momentum": 0.0, "weight_decay": 5e-4}
PAI_JSV_EXAMPLES = 200  # input-output JSVs logged per epoch on 200 training examples (the measurements too)


def _pai_common(dataset: str, p: protomod.Protocol) -> dict:
    return _common(dataset, p) | {"jsv_examples": min(p.jsv_examples, PAI_JSV_EXAMPLES)}


def pai_spec(net: str, dataset: str, protocol: str | protomod.Protocol, init: str, sparsity: float, seed: int,
             criterion: str = "snip", recovery: str = "none", lr: float | None = None) -> dict:
    """One run of the pruning-at-initialization grid: ``net`` initialised by ``init`` with
    ``seed``, ``sparsity`` of its weights pruned by ``criterion`` (``snip``: connection sensitivity
    of the labels' loss; ``snip-ae``: of the autoencoder loss; at sparsity 0 the network is dense
    and the criterion, e.g. ``"dense"``, unused), recovered by ``recovery`` (``ai``: approximate
    isometry on the masked weights), trained with Lee et al.'s defaults at a constant ``lr`` (None: the network's ``PAI_LR``)."""
    p = protomod.get(protocol)
    masked = {"criterion": criterion} if sparsity > 0 else {}
    return specmod.train_spec(net, **_pai_common(dataset, p), **PAI_SGD, init=init, ratio=sparsity, seed=seed,
                              recovery=recovery, settings=p.settings(recovery),
                              schedule_text=p.schedule(f"0:{lr or PAI_LR[net]}", PAI_EPOCHS), epochs=p.epochs(PAI_EPOCHS),
                              **masked)


def pai_arms(net: str) -> list[dict]:
    """The arms of the pruning-at-initialization grid for one network, as labels: every init
    dense and SNIP-pruned at every sparsity; with the orthogonal init also SNIP + AI and the
    label-free SNIP (``snip-ae``); all at the network's LR (``lr``), and where that is not Lee et
    al.'s, the dense networks at theirs too."""
    lrs = dict.fromkeys((PAI_LR[net], LEE_LR))
    arms = [{"init": i, "sparsity": 0.0, "criterion": "dense", "recovery": "none", "lr": lr}
            for lr in lrs for i in PAI_INITS]
    arms += [{"init": i, "sparsity": s, "criterion": "snip", "recovery": "none", "lr": PAI_LR[net]}
             for i in PAI_INITS for s in PAI_SPARSITIES]
    arms += [{"init": "orthogonal", "sparsity": s, "criterion": c, "recovery": r, "lr": PAI_LR[net]}
             for c, r in (("snip", "ai"), ("snip-ae", "none")) for s in PAI_SPARSITIES]
    return [{"net": net, **a} for a in arms]


def labelled_pai(net: str, dataset: str, protocol: str | protomod.Protocol, seeds: tuple[int, ...] | None = None) -> list[tuple[dict, dict]]:
    """The pruning-at-initialization grid for one network as (labels, spec) pairs: every arm of
    ``pai_arms`` x seeds (None: the protocol's first ``PAI_SEEDS``)."""
    seeds = protomod.get(protocol).seeds[:PAI_SEEDS] if seeds is None else seeds
    return [(a | {"seed": s}, pai_spec(net, dataset, protocol, a["init"], a["sparsity"], s, a["criterion"],
                                        a["recovery"], a["lr"]))
            for a in pai_arms(net) for s in seeds]


def pai(dataset: str, protocol: str | protomod.Protocol) -> list[dict]:
    """Lee et al.'s pruning at initialization on three MLP-7s (318 runs of 17 epochs)."""
    return [s for net in PAI_NETS for _, s in labelled_pai(net, dataset, protocol)]


def pai_jsv_spec(net: str, dataset: str, protocol: str | protomod.Protocol, init: str, sparsity: float, criterion: str = "snip",
                 recovery: str = "none", seed: int = 0) -> dict:
    """Input-output and layerwise JSVs of ``net`` at ``init``, pruned at initialization and
    recovered as ``pai_spec`` does, before training."""
    p = protomod.get(protocol)
    masked = {"criterion": criterion} if sparsity > 0 else {}
    return specmod.jsv_spec(net, **_pai_common(dataset, p), init=init, ratio=sparsity, seed=seed, recovery=recovery,
                            settings=p.settings(recovery), **masked)


def labelled_pai_jsv(net: str, dataset: str, protocol: str | protomod.Protocol) -> list[tuple[dict, dict]]:
    """The measurements of the pruning-at-initialization chapter for one network: every arm of
    ``pai_arms`` at the network's LR (a measurement does not train), its first seed."""
    return [(a, pai_jsv_spec(net, dataset, protocol, a["init"], a["sparsity"], a["criterion"], a["recovery"]))
            for a in pai_arms(net) if a["lr"] == PAI_LR[net]]


def pai_jsv(dataset: str, protocol: str | protomod.Protocol) -> list[dict]:
    """JSVs (input-output and layerwise) before training of every arm of ``pai``, seed 0 (102)."""
    return [s for net in PAI_NETS for _, s in labelled_pai_jsv(net, dataset, protocol)]


# Beyond the paper (chapters/robustness): Table 3's settings from five pretrained networks (seeds
# 0-4; seed 0 is the one of Table 3), each with Table 3's five finetuning seeds. The published
# chapter is on MLP-7-Linear at Table 3's ratios; the Table 7 networks at Table 7's ratio are a
# parameter of the chapter (``net``), computed when compute allows.
ROBUSTNESS_PRETRAINED = (0, 1, 2, 3, 4)
ROBUSTNESS_NETS = {"mlp7-linear": TABLE3_RATIOS, **{n: TABLE7_RATIOS for n in TABLE7_NETS}}  # net -> ratios


def labelled_robustness(net: str, dataset: str, protocol: str | protomod.Protocol, ratios: tuple[float, ...] | None = None,
                        pretrained: tuple[int, ...] = ROBUSTNESS_PRETRAINED,
                        seeds: tuple[int, ...] | None = None, epochs: tuple[int, ...] = (90,)) -> list[tuple[dict, dict]]:
    """Table 3's hypotheses of ``epochs`` (90: Hypotheses 1 and 3; 900: 2 and 4) from each
    pretrained network at ``ratios`` (None: ``ROBUSTNESS_NETS[net]``), labelled like
    ``labelled_hypotheses`` plus ``pretrained`` (the pretraining seed). Scratch runs do not
    depend on a pretrained network: they are Table 3's."""
    if net not in ROBUSTNESS_NETS:
        raise ValueError(f"the robustness grid has no network {net!r}; choose one of {', '.join(ROBUSTNESS_NETS)}")
    ratios = ROBUSTNESS_NETS[net] if ratios is None else ratios
    seeds = protomod.get(protocol).seeds if seeds is None else seeds
    return [({"net": net, "pretrained": pre, "ratio": ratio, "setting": h.setting, "hypothesis": h.number, "lr": lr,
              "seed": s}, finetune_spec(net, dataset, protocol, ratio, h.epochs, lr, h.orthp, s, pretrained=pre))
            for pre in pretrained for ratio in ratios for h in HYPOTHESES.values() if h.epochs in epochs
            for lr in (0.01, 0.001) for s in seeds]


def _robustness(nets_: tuple[str, ...], dataset: str, protocol: str | protomod.Protocol, epochs: tuple[int, ...]) -> list[dict]:
    return [s for net in nets_ for s in [pretrain_spec(net, dataset, protocol, p) for p in ROBUSTNESS_PRETRAINED if p]
            + [s for _, s in labelled_robustness(net, dataset, protocol, epochs=epochs)]]


def robustness(dataset: str, protocol: str | protomod.Protocol) -> list[dict]:
    """The four pretrained MLP-7-Linear networks beside Table 3's (seeds 1-4), and Table 3's
    90-epoch settings from all five (200 runs, 40 of them Table 3's): 204 runs."""
    return _robustness(("mlp7-linear",), dataset, protocol, (90,))


def robustness_900(dataset: str, protocol: str | protomod.Protocol) -> list[dict]:
    """Table 3's 900-epoch settings (Hypotheses 2 and 4) from the five pretrained MLP-7-Linear
    networks (200 runs, 40 of them Table 3's): about 5.5 hours of one CPU thread on the C++ MLP
    step (measured on MNIST), minutes on a GPU."""
    return [s for _, s in labelled_robustness("mlp7-linear", dataset, protocol, epochs=(900,))]


def robustness_table7(dataset: str, protocol: str | protomod.Protocol) -> list[dict]:
    """The same for Table 7's three networks at ratio 0.9, 90 and 900 epochs: four more pretrained
    networks each and 600 runs (120 of them Table 7's)."""
    return _robustness(TABLE7_NETS, dataset, protocol, (90, 900))


GRIDS = {"pretrain": pretrain, "table1": table1, "figure1": figure1, "orthp": orthp,
         "table3": table3, "table7": table7, "table7_ai": table7_ai, "value": value, "value_resnet": value_resnet,
         "value_resnet_pace": value_resnet_pace,
         "pai": pai, "pai_jsv": pai_jsv, "robustness": robustness, "robustness_900": robustness_900,
         "robustness_table7": robustness_table7}


def get(name: str, dataset: str, protocol: str | protomod.Protocol) -> list[dict]:
    """The runs of grid ``name`` (its own; the executor adds what they start from)."""
    if name not in GRIDS:
        raise ValueError(f"unknown grid {name!r}; choose one of {', '.join(GRIDS)}")
    if dataset not in DATASETS:  # checked even where the protocol replaces it (smoke)
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    return GRIDS[name](dataset, protocol)
