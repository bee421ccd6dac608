import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from dipcore.book import plotting  # noqa: E402


def test_final_accuracy_dots_put_every_run_at_its_setting_and_lr():
    rows = [{"ratio": 0.8, "setting": s, "lr": lr, "seed": k, "final_acc": 80 + 2 * i + (lr == 0.01) + 0.1 * k}
            for i, s in enumerate(["90 epochs", "OrthP, 90 epochs"]) for lr in (0.001, 0.01) for k in range(3)]
    rows += [{"ratio": 0.8, "setting": "Scratch", "lr": None, "seed": k, "final_acc": 85.0 + k} for k in range(2)]
    rows += [{"ratio": 0.9, "setting": "90 epochs", "lr": 0.01, "seed": 0, "final_acc": 10.0}]  # another ratio
    frame = pd.DataFrame(rows)
    fig, ax = plt.subplots()
    plotting.final_accuracy_dots(ax, frame, 0.8)
    points = np.concatenate([c.get_offsets() for c in ax.collections if len(c.get_offsets())
                             and c.get_offsets().shape[1] == 2 and type(c).__name__ == "PathCollection"])
    assert len(points) == 14  # 2 settings x 2 LRs x 3 seeds + 2 scratch runs; not the other ratio's run
    expected = frame[frame.ratio == 0.8]
    assert sorted(points[:, 1]) == sorted(expected.final_acc)
    for x, y in points:  # each dot left (LR 0.001) or right (LR 0.01) of its setting's tick
        row = expected[np.isclose(expected.final_acc, y)].iloc[0]
        tick = ["90 epochs", "OrthP, 90 epochs", "Scratch"].index(row.setting)
        if row.setting == "Scratch":  # on the tick, give or take the jitter
            assert abs(x - tick) <= 0.05 + 1e-9
        else:
            assert 0.1 < (x - tick) * (1 if row.lr == 0.01 else -1) < 0.25
    assert [t.get_text() for t in ax.get_xticklabels()] == ["90", "OrthP\n90", "Scratch"]
    plt.close(fig)


def test_settings_still_being_computed_keep_their_place_and_say_so():
    rows = [{"ratio": 0.9, "setting": s, "lr": lr, "seed": 0, "final_acc": 80.0 + i, "status": "ok", "key": f"k{i}{lr}"}
            for i, s in enumerate(["90 epochs", "900 epochs"]) for lr in (0.001, 0.01)]
    rows[2]["status"] = rows[3]["status"] = "missing"  # the 900-epoch runs are not stored yet
    rows[2]["final_acc"] = rows[3]["final_acc"] = float("nan")
    frame = pd.DataFrame(rows)
    fig, ax = plt.subplots()
    plotting.final_accuracy_dots(ax, frame, 0.9)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["90", "900"]
    assert [t.get_text() for t in ax.texts] == ["pending"] and ax.texts[0].get_position()[0] == 1
    points = np.concatenate([c.get_offsets() for c in ax.collections if type(c).__name__ == "PathCollection"])
    assert sorted(points[:, 1]) == [80.0, 80.0]  # the two stored runs only
    fig, (a1, a2) = plt.subplots(2)
    plotting.finetuning_curves(a1, a2, frame, {}, 0.9, "900 epochs")
    assert not a1.lines and "pending" in a1.texts[0].get_text()
    plt.close("all")
