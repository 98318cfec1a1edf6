"""Exact resume after SIGKILL: a killed-and-resumed run equals the straight run bitwise (CPU, 1 thread)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from conftest import REPO, run_cli
from vislang.train.gan import GANConfig, train

ARGS = ["--data", "scenes", "--n-train", "48", "--size", "32", "--ngf", "8", "--ndf", "8", "--batch-size", "16",
        "--ckpt-every", "2", "--sample-every", "2", "--log-every", "1", "--threads", "1", "--quiet",
        "--ema", "0.9", "--diffaugment", "color,translation,cutout", "--r1", "0.1"]


@pytest.fixture(autouse=True)
def _restore_determinism():
    yield
    torch.use_deterministic_algorithms(False)
    torch.set_num_threads(1)


def test_sigkill_then_resume_equals_straight_run(tmp_path):
    killed = tmp_path / "killed"
    env = dict(os.environ, PYTHONPATH=str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "vislang", "train", "gan", *ARGS, "--steps", "100000",
                             "--out", str(killed)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not (killed / "ckpt-00000004.pt").exists():  # two checkpoints written: certainly mid-run
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no checkpoint within 60 s"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    last = max(int(p.stem.split("-")[1]) for p in killed.glob("ckpt-*.pt"))
    target = last + 4
    assert run_cli("train", "gan", "--resume", killed, "--steps", target, "--threads", 1, "--quiet") == 0

    straight = tmp_path / "straight"
    assert run_cli("train", "gan", *ARGS, "--steps", target, "--out", straight) == 0

    a = torch.load(straight / f"ckpt-{target:08d}.pt", weights_only=False)
    b = torch.load(killed / f"ckpt-{target:08d}.pt", weights_only=False)
    for part in ("G", "D"):
        sa, sb = a["modules"][part], b["modules"][part]
        assert all(torch.equal(sa[k], sb[k]) for k in sa), part
    ea, eb = a["extra"]["ema"]["module"], b["extra"]["ema"]["module"]
    assert all(torch.equal(ea[k], eb[k]) for k in ea)
    for part in ("G", "D"):
        oa, ob = a["optimizers"][part]["state"], b["optimizers"][part]["state"]
        assert all(torch.equal(oa[i]["exp_avg_sq"], ob[i]["exp_avg_sq"]) for i in oa)
    # the log holds every step once, with the same losses
    la = [r for r in map(eval_json, (straight / "log.jsonl").read_text().splitlines()) if "loss_d" in r]
    lb = [r for r in map(eval_json, (killed / "log.jsonl").read_text().splitlines()) if "loss_d" in r]
    assert [r["step"] for r in lb] == list(range(1, target + 1))
    assert [(r["loss_d"], r["loss_g"]) for r in la] == [(r["loss_d"], r["loss_g"]) for r in lb]

    for ema in ([], ["--ema"]):
        assert run_cli("generate", "--run", straight, "--n", 20, "--seed", 3, "--out", tmp_path / "a.npz", *ema) == 0
        assert run_cli("generate", "--run", killed, "--n", 20, "--seed", 3, "--out", tmp_path / "b.npz", *ema) == 0
        ia, ib = np.load(tmp_path / "a.npz")["images"], np.load(tmp_path / "b.npz")["images"]
        assert ia.shape == (20, 32, 32, 3) and np.array_equal(ia, ib)
    assert (straight / "samples" / f"step-{target:08d}.png").read_bytes() == \
        (killed / "samples" / f"step-{target:08d}.png").read_bytes()


def eval_json(line):
    import json

    return json.loads(line)


def test_resume_in_process_matches(tmp_path):
    """N steps, stop, resume to 2N == 2N straight (in-process, the library API)."""
    cfg = dict(data="scenes", n_train=48, size=32, ngf=8, ndf=8, batch_size=16, ckpt_every=3, sample_every=0)
    train(GANConfig(**cfg, steps=6), tmp_path / "a", threads=1)
    train(GANConfig(**cfg, steps=3), tmp_path / "b", threads=1)
    train(GANConfig(**cfg, steps=6), tmp_path / "b", resume=True, threads=1)
    a = torch.load(tmp_path / "a" / "ckpt-00000006.pt", weights_only=False)["modules"]
    b = torch.load(tmp_path / "b" / "ckpt-00000006.pt", weights_only=False)["modules"]
    assert all(torch.equal(a["G"][k], b["G"][k]) for k in a["G"])
    assert all(torch.equal(a["D"][k], b["D"][k]) for k in a["D"])
