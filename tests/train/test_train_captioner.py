"""Captioner training: exact resume, best checkpoint / early stopping, CLI, user data, bad inputs, DDP."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import run_cli

from vislang.train.captioner import CaptionTrainConfig, load_captioner, lr_at, train

TINY = dict(data="scenes", n_train=48, n_val=12, size=32, d_model=32, layers=1, heads=2, lstm_hidden=32,
            cnn_width=8, batch_size=16, captions_per_step=2, max_len=16, warmup=2, log_every=1, threads=1)


def _params(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=False)["modules"]["model"]


@pytest.mark.parametrize("decoder", ["transformer", "lstm"])
def test_resume_is_bitwise_exact(tmp_path, decoder):
    # straight run: 6 steps, a checkpoint every 3 (dropout on, so the RNG state matters too)
    straight = tmp_path / "straight"
    train(CaptionTrainConfig(out=str(straight), steps=6, val_every=3, dropout=0.2, decoder=decoder, **TINY))
    # "killed" after the checkpoint at step 3: drop the later checkpoint, resume
    cut = tmp_path / "cut"
    shutil.copytree(straight, cut)
    (cut / "ckpt-00000006.pt").unlink()
    result = train(CaptionTrainConfig(out=str(cut), steps=6), resume=True)
    assert result["step"] == 6
    a, b = _params(straight / "ckpt-00000006.pt"), _params(cut / "ckpt-00000006.pt")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # the log holds each step once, equal to the straight run's
    log_a = [r for r in map(json.loads, (straight / "log.jsonl").read_text().splitlines()) if "loss" in r]
    log_b = [r for r in map(json.loads, (cut / "log.jsonl").read_text().splitlines()) if "loss" in r]
    assert [r["step"] for r in log_b] == list(range(1, 7))
    assert [r["loss"] for r in log_a] == [r["loss"] for r in log_b]


def test_best_checkpoint_early_stop_and_refuse_overwrite(tmp_path, monkeypatch):
    import vislang.train.captioner as tc

    seq = iter([0.5, 0.9, 0.7, 0.6, 0.95])       # validation CIDEr-D sequence: best at the 2nd, then 2 worse
    monkeypatch.setattr(tc, "validate", lambda *a, **k: {"CIDEr-D": next(seq), "BLEU-4": 0.1})
    out = tmp_path / "run"
    r = train(CaptionTrainConfig(out=str(out), steps=10, val_every=1, patience=2, **TINY))
    assert r["stopped_early"] and r["step"] == 4 and r["best_step"] == 2 and r["best_CIDEr-D"] == 0.9
    best = torch.load(out / "best.pt", weights_only=False)
    assert best["step"] == 2 and best["metrics"]["CIDEr-D"] == 0.9
    model, vocab, info = load_captioner(out)
    assert info["step"] == 2 and len(vocab) == model.config.vocab_size
    with pytest.raises(Exception, match="already holds checkpoints"):
        train(CaptionTrainConfig(out=str(out), steps=2, **TINY))


def test_lr_schedule_warmup_then_cosine():
    cfg = CaptionTrainConfig(lr=1.0, warmup=4, min_lr_ratio=0.1)
    assert [lr_at(s, 14, cfg) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert lr_at(9, 14, cfg) == pytest.approx(0.1 + 0.9 * 0.5)      # half way through the cosine
    assert lr_at(14, 14, cfg) == pytest.approx(0.1)


def test_cli_train_caption_eval_roundtrip(tmp_path):
    from PIL import Image

    from vislang.data.captions import load_candidates
    from vislang.data.scenes import generate

    run = tmp_path / "run"
    assert run_cli("train", "captioner", "--data", "scenes", "--out", run, "--steps", "4", "--n-train", "48",
                   "--n-val", "8", "--size", "32", "--d-model", "32", "--layers", "1", "--batch-size", "16",
                   "--threads", "1", "--quiet") == 0
    # resume may extend the steps; it may not change the model
    assert run_cli("train", "captioner", "--resume", run, "--steps", "6", "--quiet") == 0
    assert json.loads((run / "log.jsonl").read_text().splitlines()[-1])["step"] == 6
    assert run_cli("train", "captioner", "--resume", run, "--d-model", "64", "--quiet") == 2
    # caption a folder of PNGs named by id
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    s = generate(3, size=32, seed=0, split="test")
    for i, im in zip(s.ids, s.images):
        Image.fromarray(im.permute(1, 2, 0).numpy()).save(imgs / f"{i}.png")
    res = tmp_path / "results.json"
    assert run_cli("caption", "--run", run, "--images", imgs, "--beam", "3", "--out", res, "--quiet") == 0
    records = json.loads(res.read_text())
    assert [r["image_id"] for r in records] == s.ids
    assert load_candidates(res) == {r["image_id"]: r["caption"] for r in records}
    refs = tmp_path / "refs.jsonl"
    refs.write_text("".join(json.dumps({"image_id": i, "captions": s.captions[i]}) + "\n" for i in s.ids))
    assert run_cli("eval", "captions", "--refs", refs, "--preds", res, "--metrics", "bleu,cider_d", "--quiet") == 0
    many = tmp_path / "many.json"
    assert run_cli("caption", "--run", run, "--images", imgs, "--n-per-image", "2", "--temperature", "1",
                   "--top-p", "0.9", "--out", many, "--quiet") == 0
    assert len(json.loads(many.read_text())) == 6


def test_bad_inputs_exit_2_with_one_line(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    (imgs / "1.png").write_bytes(b"not a png")
    assert run_cli("caption", "--run", empty, "--images", imgs, "--out", tmp_path / "r.json") == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no captioner model" in err
    run = tmp_path / "run"
    assert run_cli("train", "captioner", "--out", run, "--steps", "1", "--n-train", "16", "--n-val", "4",
                   "--size", "32", "--d-model", "16", "--layers", "1", "--batch-size", "16", "--quiet") == 0
    capsys.readouterr()
    assert run_cli("caption", "--run", run, "--images", imgs, "--out", tmp_path / "r.json") == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "1.png" in err
    assert not (tmp_path / "r.json").exists()
    assert run_cli("train", "captioner", "--data", str(imgs), "--out", tmp_path / "x") == 2    # no --captions


def test_train_on_image_folder_with_caption_file(tmp_path):
    from PIL import Image

    from vislang.data.scenes import generate

    s = generate(20, size=32, seed=1, split="train")
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    for i, im in zip(s.ids, s.images):
        Image.fromarray(im.permute(1, 2, 0).numpy()).save(imgs / f"{i:06d}.png")
    caps = tmp_path / "caps.jsonl"
    caps.write_text("".join(json.dumps({"image_id": i, "captions": s.captions[i]}) + "\n" for i in s.ids))
    cfg = CaptionTrainConfig(out=str(tmp_path / "run"), steps=2, **{**TINY, "data": str(imgs), "n_train": 0})
    cfg.captions, cfg.val_fraction = str(caps), 0.2
    r = train(cfg)
    assert r["step"] == 2
    from vislang.train.caption_data import image_id_for
    assert image_id_for("a/000012.png") == 12 and image_id_for("COCO_val2014_000000391895.jpg") == 391895
    assert image_id_for("x/1000268201_693b08cb0e.jpg") == "1000268201_693b08cb0e.jpg"


def test_ddp_two_processes_gloo(tmp_path):
    """torchrun, 2 gloo processes, each on its half of the global batch: replicas stay identical."""
    out = tmp_path / "ddp"
    args = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "vislang", "train",
            "captioner", "--data", "scenes", "--steps", "3", "--val-every", "3", "--n-train", "32", "--n-val", "4",
            "--size", "32", "--d-model", "16", "--layers", "1", "--batch-size", "16", "--threads", "1",
            "--device", "cpu", "--quiet", "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    sums = [r["ddp_param_sums"] for r in records if "ddp_param_sums" in r]
    assert len(sums) == 1 and len(sums[0]) == 2 and sums[0][0] == sums[0][1]
    state = torch.load(out / "ckpt-00000003.pt", weights_only=False)
    assert state["step"] == 3
    total = sum(float(v.double().sum()) for v in state["modules"]["model"].values() if v.dtype.is_floating_point)
    params = sum(float(v.double().sum()) for k, v in state["modules"]["model"].items()
                 if not any(b in k for b in ("running_", "num_batches")))
    assert params == pytest.approx(sums[0][0], rel=1e-9) and total != 0
