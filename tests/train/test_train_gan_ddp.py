"""DDP through torchrun (2 CPU processes, gloo): trains, ranks hold identical parameters."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import torch

from conftest import REPO


def test_torchrun_two_processes(tmp_path):
    run = tmp_path / "ddp"
    env = dict(os.environ, PYTHONPATH=str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "vislang", "train", "gan", "--data", "scenes", "--n-train", "32", "--size", "32", "--ngf", "4",
           "--ndf", "4", "--batch-size", "8", "--steps", "3", "--log-every", "1", "--threads", "1",
           "--device", "cpu", "--quiet", "--out", str(run)]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "loss_d" in r] == [1, 2, 3]  # rank 0 alone writes
    check = [r for r in log if r.get("event") == "ddp_check"]
    assert check == [{"step": 3, "event": "ddp_check", "ranks_agree": True, "world_size": 2}]
    state = torch.load(run / "ckpt-00000003.pt", weights_only=False)
    assert state["extra"]["world_size"] == 2 and state["step"] == 3
    assert state["optimizers"]["G"]["state"][0]["step"].item() == 3
