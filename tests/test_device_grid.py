"""scripts/device_grid.sh, the GPU path, run on the CPU at the smoke protocol: its checks come
before any compute, a dry run computes nothing, and a real run packs exactly the new run files,
also when its time budget (BUDGET_S) interrupts it."""
import os
import subprocess
import tarfile
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "device_grid.sh"


def _run(tmp_path, *grids, **env):
    full = {**os.environ, "DEVICE": "cpu", "PROTOCOL": "smoke", "STORE": str(tmp_path / "store"),
            "OUT": str(tmp_path), **env}
    return subprocess.run(["bash", str(SCRIPT), *grids], env=full, capture_output=True, text=True, timeout=600)


def test_dry_run_checks_and_computes_nothing(tmp_path):
    r = _run(tmp_path, "pretrain", DRY_RUN="1")
    assert r.returncode == 0, r.stderr
    assert "dataset synthetic found" in r.stdout and "would run: python -m dipcore compute pretrain" in r.stdout
    assert not (tmp_path / "store").exists() or not any((tmp_path / "store").iterdir())
    assert not (tmp_path / "runs.tar").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without a GPU")
def test_cuda_without_a_gpu_is_refused_before_anything_runs(tmp_path):
    r = _run(tmp_path, "pretrain", DEVICE="cuda")
    assert r.returncode != 0 and "torch sees no GPU" in r.stderr and "DEVICE=cpu" in r.stderr


def test_unknown_grid_is_refused_before_any_compute(tmp_path):
    r = _run(tmp_path, "pretrain", "tabel3")
    assert r.returncode != 0 and "tabel3" in r.stderr
    assert not (tmp_path / "store").exists() or not any((tmp_path / "store").iterdir())


def test_a_real_run_packs_exactly_the_new_run_files(tmp_path):
    r = _run(tmp_path, "pretrain")
    assert r.returncode == 0, r.stderr
    stored = sorted(p.name for p in (tmp_path / "store").iterdir())
    assert len([s for s in stored if s.endswith(".json")]) == 4  # one pretrained network per architecture
    with tarfile.open(tmp_path / "runs.tar") as tar:
        assert sorted(Path(n).name for n in tar.getnames()) == stored
    again = _run(tmp_path, "pretrain")  # nothing new: an empty archive, and nothing recomputed
    assert again.returncode == 0 and "packed 0 new files" in again.stdout


def test_a_time_budget_interrupts_compute_and_packs_what_landed(tmp_path):
    """BUDGET_S (a device call has a time limit): compute is interrupted when it is spent, the grids
    after it are not started, and every run file that landed comes back; nothing is lost."""
    r = _run(tmp_path, "pretrain", "table3", BUDGET_S="2")  # the smoke pretrain alone takes longer
    assert r.returncode == 0, r.stderr
    assert "BUDGET_S=2 reached during pretrain" in r.stdout or "BUDGET_S=2 spent; table3 not started" in r.stdout
    assert r.stdout.count("grid table3 (") == 1  # its status before any compute, and no compute of it
    stored = sorted(p.name for p in (tmp_path / "store").iterdir()) if (tmp_path / "store").exists() else []
    with tarfile.open(tmp_path / "runs.tar") as tar:
        assert sorted(Path(n).name for n in tar.getnames()) == stored
    assert len([s for s in stored if s.endswith(".json")]) < 4  # it stopped before the grid was done
    done = _run(tmp_path, "pretrain", BUDGET_S="600")  # a budget that suffices: the rest, packed
    assert done.returncode == 0 and "reached" not in done.stdout
    with tarfile.open(tmp_path / "runs.tar") as tar:
        new = sorted(Path(n).name for n in tar.getnames())
    assert len([s for s in new if s.endswith(".json")]) == 4 - len([s for s in stored if s.endswith(".json")])
