"""One run over several processes (``dipcore.distributed``, DDP launched by torchrun): two CPU
processes on the gloo backend end with identical weights, equal to one process's run on the same
global batches."""
import socket
import subprocess
import sys

import pytest
import torch


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(nproc: int, out, extra=()):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc), "--master_addr", "127.0.0.1",
           "--master_port", str(_free_port()), "-m", "dipcore.distributed", "--net", "lenet5-relu", "--data", "synthetic",
           "--ratio", "0.5", "--n-train", "400", "--n-test", "200", "--epochs", "2", "--schedule", "0:0.05,1:0.01", "--batch-size", "40", "--workers", "0",
           "--seed", "3", "--out", str(out), "--save-every-rank", *extra]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                         env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return res


def test_two_processes_train_the_one_process_run(tmp_path):
    _torchrun(2, tmp_path / "two")
    _torchrun(1, tmp_path / "one")
    r0, r1 = (torch.load(tmp_path / "two" / f"rank{i}.pt") for i in (0, 1))
    one = torch.load(tmp_path / "one" / "rank0.pt")
    assert r0.keys() == r1.keys() == one.keys()
    assert all(torch.equal(r0[k], r1[k]) for k in r0)  # DDP keeps the replicas bit-identical
    start = torch.load(tmp_path / "two" / "model.pt")
    for k in r0:  # the same run as one process on the same global batches, up to float rounding
        torch.testing.assert_close(r0[k], one[k], atol=1e-6, rtol=1e-5)  # measured: 1.5e-8
    import json

    h2, h1 = (json.loads((tmp_path / d / "history.json").read_text()) for d in ("two", "one"))
    assert h2["world_size"] == 2 and h1["world_size"] == 1 and len(h2["test_acc"]) == 2
    assert abs(h2["test_acc"][-1] - h1["test_acc"][-1]) <= 0.5  # at most one of 200 test examples flips
    assert start.keys() == r0.keys()


def test_the_global_batch_must_split_evenly(tmp_path):
    with pytest.raises(AssertionError, match="must split evenly over 2 processes"):
        _torchrun(2, tmp_path / "odd", ["--batch-size", "41"])
