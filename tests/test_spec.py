"""Specs: every stored run keeps its key (nothing is recomputed), every field is checked, a run
has one spelling."""
import json
from pathlib import Path

import pytest

from dipcore.book import chapters, grids, spec
from dipcore.book.store import DEFAULT_ROOT

STORED = sorted(DEFAULT_ROOT.glob("*.json"))


def test_every_stored_record_keeps_its_key():
    """The committed store is the reference: each file's spec passes today's checks, hashes to the
    key it is filed under, and is a run today's grids define (so no chapter recomputes it)."""
    assert len(STORED) >= 168
    defined = {spec.key(s): s for d in ("fashion-mnist", "mnist") for g in grids.GRIDS for s in grids.get(g, d, "paper")}
    defined |= {spec.key(s): s for d in ("fashion-mnist", "mnist") for s in grids.pretrain(d, "paper")}
    for path in STORED:
        rec = json.loads(path.read_text())
        spec.validate(rec["spec"])
        assert spec.key(rec["spec"]) == rec["key"] == path.stem
        assert defined.get(rec["key"]) == rec["spec"], f"{path.name} is no longer defined by a grid"


def test_known_keys_by_value():
    """Two keys written out, so that a change of hashing or of a grid cannot pass unnoticed."""
    pre = grids.pretrain_spec("mlp7-linear", "fashion-mnist", "paper")
    assert spec.key(pre) == "cc9ba32993abe57f"
    ft = grids.finetune_spec("mlp7-linear", "fashion-mnist", "paper", 0.9, 90, 0.001, False, 4)
    assert spec.key(ft) == "b3a3498df1b21236" and ft["start"] == "cc9ba32993abe57f"
    assert ft.requires == (pre,)


def test_keys_are_stable_and_distinct():
    a = grids.finetune_spec("mlp7-linear", "mnist", "paper", 0.8, 90, 0.01, False, 0)
    assert spec.key(a) == spec.key(json.loads(json.dumps(a)))
    assert spec.key(a) != spec.key(dict(a, seed=1))
    assert len(grids.get("table3", "mnist", "paper")) == 2 * (4 * 2 * 5 + 5)  # 90 runs, without the pretraining
    assert len(grids.get("table7", "mnist", "paper")) == 3 * (4 * 2 * 5 + 5)  # 135 runs
    keys = [spec.key(s) for s in grids.get("table3", "mnist", "smoke")]
    assert len(keys) == len(set(keys)) == 2 * (4 * 2 + 1)  # no arm collapses onto another


def test_table2_schedules():
    s = grids.finetune_spec("mlp7-linear", "mnist", "paper", 0.8, 900, 0.001, True, 4)
    assert (s["schedule"], s["epochs"], s["orthp"], s["seed"]) == ("0:0.001,450:0.0001", 900, True, 4)


def test_new_fields_appear_only_away_from_their_default():
    kw = dict(schedule_text="0:0.1", epochs=2, seed=0)
    base = spec.train_spec("mlp7-relu", "mnist", **kw)
    assert not set(spec.OPTIONAL) & set(base)
    assert spec.train_spec("mlp7-relu", "mnist", recovery="none", criterion="l1", scope="layer",
                           trainer="stacked", **kw) == base
    # OrthP has one spelling, the stored one
    assert spec.train_spec("mlp7-relu", "mnist", recovery="orthp", **kw) == spec.train_spec("mlp7-relu", "mnist",
                                                                                            orthp=True, **kw)
    assert spec.recovery(spec.train_spec("mlp7-relu", "mnist", orthp=True, **kw)) == "orthp"
    assert spec.recovery(base) == "none" and spec.field(base, "criterion") == "l1"
    with pytest.raises(ValueError, match="must be left out"):
        spec.validate(dict(base, trainer="stacked"))
    with pytest.raises(ValueError, match="one recovery"):
        spec.validate(dict(base, orthp=True, recovery="ai"))


@pytest.mark.parametrize("field,value,message", [
    ("orthp", "no", "orthp must be True or False"),
    ("orthp", 1, "orthp must be True or False"),
    ("batch_size", 0, "batch_size must be an integer >= 1"),
    ("batch_size", -1, "batch_size must be an integer"),
    ("batch_size", 2.5, "batch_size must be an integer"),
    ("n_train", 0, "n_train must be an integer"),
    ("n_test", -5, "n_test must be an integer"),
    ("start", "pretrained-net", "start must be 'scratch' or the 16-hex-digit key"),
    ("seed", 2 ** 64, "seed must be an integer in [0, 9223372036854775808)"),
    ("seed", -1, "seed must be an integer"),
    ("seed", True, "seed must be an integer"),
    ("epochs", 0, "epochs must be an integer"),
    ("momentum", 1.0, "momentum must be a number in [0.0, 1.0)"),
    ("weight_decay", -1e-4, "weight_decay must be a number"),
    ("jsv_examples", 0, "jsv_examples must be an integer"),
    ("ratio", True, "pruning ratio"),
    ("ratio", 1.0, "pruning ratio"),
    ("keep_weights", "yes", "keep_weights must be True or False"),
    ("version", 0, "spec version"),
    ("net", "resnet", "unknown network"),
    ("dataset", "cifar", "unknown dataset"),
    ("recovery", "magic", "unknown recovery 'magic'"),
    ("criterion", "random", "unknown pruning criterion"),
    ("trainer", "ddp", "unknown trainer"),
    ("colour", "red", "unknown fields colour"),
])
def test_every_field_is_checked(field, value, message):
    good = grids.finetune_spec("mlp7-linear", "mnist", "paper", 0.8, 90, 0.01, False, 0)
    spec.validate(good)
    with pytest.raises(ValueError) as e:
        spec.validate(dict(good, **{field: value}))
    assert message in str(e.value)


def test_missing_fields_and_bad_measurements_are_clear_errors():
    good = grids.finetune_spec("mlp7-linear", "mnist", "paper", 0.8, 90, 0.01, False, 0)
    with pytest.raises(ValueError, match="lacks schedule"):
        spec.validate({k: v for k, v in good.items() if k != "schedule"})
    with pytest.raises(ValueError, match="unknown init"):
        spec.jsv_spec("mlp7-linear", "mnist", init="xavier")
    with pytest.raises(ValueError, match="pretrained init needs"):
        spec.jsv_spec("lenet5-relu", "synthetic", init="pretrained")
    with pytest.raises(ValueError, match="malformed LR schedule"):
        spec.train_spec("mlp7-relu", "mnist", schedule_text="0:0.1,0:1", epochs=3, seed=0)
    with pytest.raises(ValueError, match="unknown protocol"):
        grids.get("table3", "mnist", "quick")


def test_specs_copy_and_pickle_as_plain_dicts():
    import copy
    import pickle

    ft = grids.finetune_spec("mlp7-linear", "mnist", "paper", 0.8, 90, 0.01, False, 0)
    for other in (copy.deepcopy(ft), pickle.loads(pickle.dumps(ft))):
        assert other == ft and spec.key(other) == spec.key(ft)


def test_approximate_isometry_is_a_recovery_with_its_settings_in_the_spec():
    kw = dict(schedule_text="0:0.1", epochs=2, seed=0)
    ai = spec.train_spec("mlp7-relu", "mnist", recovery="ai", **kw)
    assert (ai["orthp"], ai["recovery"], ai["ai_lr"], ai["ai_iterations"]) == (False, "ai", 0.1, 10000)  # Lee et al.'s
    assert spec.recovery(ai) == "ai" and "+AI" in spec.describe(ai)
    assert spec.key(spec.train_spec("mlp7-relu", "mnist", recovery="ai", settings={"iterations": 100}, **kw)) != spec.key(ai)
    smoke = grids.finetune_spec("mlp7-relu", "mnist", "smoke", 0.9, 90, 0.01, False, 0, recovery="ai")
    assert smoke["ai_iterations"] == 100  # the smoke protocol shortens AI, the paper protocol does not
    with pytest.raises(ValueError, match="learning rate must be a positive number"):
        spec.train_spec("mlp7-relu", "mnist", recovery="ai", settings={"lr": -0.1}, **kw)
    with pytest.raises(ValueError, match="iterations must be a positive integer"):
        spec.train_spec("mlp7-relu", "mnist", recovery="ai", settings={"iterations": -5}, **kw)
    with pytest.raises(ValueError, match="unknown recovery 'magic'; choose one of none, orthp, ai"):
        spec.train_spec("mlp7-relu", "mnist", recovery="magic", **kw)
    with pytest.raises(ValueError, match="contradict"):
        spec.train_spec("mlp7-relu", "mnist", recovery="ai", orthp=True, **kw)
    with pytest.raises(ValueError, match="recovery settings 'lr' given, but the recovery is 'none', which has no settings"):
        spec.train_spec("mlp7-relu", "mnist", settings={"lr": 0.1}, **kw)
    with pytest.raises(ValueError, match="belong with recovery 'ai'"):
        spec.validate({k: v for k, v in ai.items() if k != "ai_lr"})
    with pytest.raises(ValueError, match="belong with recovery 'ai'"):
        spec.validate(dict(spec.train_spec("mlp7-relu", "mnist", **kw), ai_lr=0.1, ai_iterations=3))


def test_the_ai_arm_and_measurements():
    arm = grids.get("table7_ai", "mnist", "paper")
    assert len(arm) == 3 * 2 * 2 * 5 and all(spec.recovery(s) == "ai" for s in arm)
    labelled = grids.labelled_ai("lenet5-relu", "mnist", "paper", (0.9,))
    assert {l["setting"] for l, _ in labelled} == {"AI, 90 epochs", "AI, 900 epochs"}
    assert {spec.recovery(s) for s in grids.get("orthp", "mnist", "paper")} == {"none", "orthp", "ai"}


def test_the_robustness_grid_shares_table3s_runs_for_the_first_pretrained_network():
    table3 = {spec.key(s) for s in grids.get("table3", "mnist", "paper")}
    runs = grids.labelled_robustness("mlp7-linear", "mnist", "paper")
    assert len(runs) == 5 * 2 * 2 * 2 * 5  # pretrained networks x ratios x (90 epochs, OrthP or not) x LRs x seeds
    mine = {spec.key(s) for l, s in runs if l["pretrained"] == 0}
    assert mine <= table3 and len(mine) == 40
    starts = {l["pretrained"]: s["start"] for l, s in runs}
    assert len(set(starts.values())) == 5
    assert starts[0] == spec.key(grids.pretrain_spec("mlp7-linear", "mnist", "paper"))
    assert spec.key(grids.pretrain_spec("mlp7-linear", "mnist", "paper", 3)) == starts[3]


def test_the_robustness_grids_beyond_table3s_ninety_epochs():
    """900 epochs (a GPU's work) and the Table 7 networks share the runs of the pretrained network
    of seed 0 with Table 3 and Table 7; an unknown network is refused."""
    table3 = {spec.key(s) for s in grids.get("table3", "mnist", "paper")}
    long = grids.labelled_robustness("mlp7-linear", "mnist", "paper", epochs=(900,))
    assert {l["setting"] for l, _ in long} == {"900 epochs", "OrthP, 900 epochs"} and len(long) == 200
    assert {spec.key(s) for l, s in long if l["pretrained"] == 0} <= table3
    assert {spec.key(s) for s in grids.get("robustness_900", "mnist", "paper")} == {spec.key(s) for _, s in long}
    t7 = {spec.key(s) for s in grids.get("table7", "mnist", "paper")}
    for net in grids.TABLE7_NETS:
        runs = grids.labelled_robustness(net, "mnist", "paper", epochs=(90, 900))
        assert {l["ratio"] for l, _ in runs} == {0.9} and len(runs) == 5 * 4 * 2 * 5
        mine = {spec.key(s) for l, s in runs if l["pretrained"] == 0}
        assert mine <= t7 and len(mine) == 40
    assert len(grids.get("robustness_table7", "mnist", "paper")) == 3 * (4 + 200)
    with pytest.raises(ValueError, match="the robustness grid has no network 'resnet20'"):
        grids.labelled_robustness("resnet20", "mnist", "paper")


def test_the_smoke_protocol_sweeps_two_of_section_3_4s_ratios():
    assert grids.value_ratios("paper") == grids.VALUE_RATIOS == (0.1, 0.3, 0.5, 0.7, 0.9, 0.95)
    assert grids.value_ratios("smoke") == (0.5, 0.95)
    assert {l["ratio"] for l, _ in grids.labelled_value("mlp7-relu", "mnist", "smoke")} == {0.5, 0.95}
    assert {l["ratio"] for l, _ in grids.labelled_value("mlp7-relu", "mnist", "smoke", (0.3,))} == {0.3}


def test_every_grid_is_named_where_readers_look_for_the_command_lines():
    """Each grid ``python -m dipcore compute`` knows is described in the README's grid list and
    named in the introduction's "How to rerun", in the order of the chapters' registry; no other
    name is given there as a grid."""
    import re

    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text()
    listed = readme[readme.index("\nGrids: "):].split("A grid lists")[0]
    intro = (root / "chapters" / "intro.md").read_text()
    named = intro[intro.index("(grids: "):].split(")")[0]
    for text in (listed, named):
        assert set(re.findall(r"`(\w+)`", text)) == set(grids.GRIDS)
        # in the book's order: the chapters' registry, each grid where its first chapter is
        assert list(dict.fromkeys(re.findall(r"`(\w+)`", text))) == list(dict.fromkeys(
            g for row in chapters.ROWS for g in row.grids))
