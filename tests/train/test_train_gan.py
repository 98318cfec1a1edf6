"""GAN training in-process: outputs of a run, EMA wiring, options, conditional resume, CLI errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import run_cli
from vislang.seeding import seed_everything
from vislang.train.gan import GANConfig, build_models, train

TINY = dict(data="scenes", n_train=48, size=32, ngf=8, ndf=8, batch_size=16, log_every=1, sample_every=2,
            ckpt_every=2)


@pytest.fixture(autouse=True)
def _restore_determinism():
    yield
    torch.use_deterministic_algorithms(False)
    torch.set_num_threads(1)


def _ckpt(run, step):
    return torch.load(run / f"ckpt-{step:08d}.pt", weights_only=False)


def _same_state(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_run_folder_contents(tmp_path):
    run = tmp_path / "run"
    record = train(GANConfig(**TINY, steps=4, keep=1), run, threads=1)
    assert [p.name for p in sorted(run.glob("ckpt-*.pt"))] == ["ckpt-00000004.pt"]  # keep=1 pruned step 2
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3, 4]
    for r in log:
        assert {"loss_d", "loss_g", "d_x", "d_g_z1", "d_g_z2", "img_per_s"} <= r.keys()
        assert 0 < r["d_x"] < 1 and 0 < r["d_g_z2"] < 1
        # -log D(x) - log(1 - D(G(z))) >= 0 with equality only at a perfect D
        assert r["loss_d"] > 0
    assert record["step"] == 4
    grid = np.asarray(Image.open(run / "samples" / "step-00000002.png"))
    assert grid.shape == (8 * (32 + 2) + 2, 8 * (32 + 2) + 2, 3)  # an 8 x 8 grid with 2-px gaps
    assert grid[0].max() == 0 and grid[2:34, 2:34].std() > 0  # padding is black, an image is not flat
    svg = (run / "loss.svg").read_text()
    assert svg.startswith("<svg") and svg.count("<polyline") == 2
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["lr"] == 2e-4 and cfg["beta1"] == 0.5 and cfg["beta2"] == 0.999 and cfg["nz"] == 100
    state = _ckpt(run, 4)
    assert state["optimizers"]["G"]["param_groups"][0]["betas"] == (0.5, 0.999)
    assert {"python", "numpy", "torch"} <= state["rng"].keys()


def test_cpu_budget_stops_with_a_checkpoint_equal_to_a_shorter_run(tmp_path):
    # a zero CPU-time budget is spent by the first step: the run stops there, saves, and its state is
    # that of a run asked for exactly one step
    cfg = dict(TINY, sample_every=0, ckpt_every=100)
    record = train(GANConfig(**cfg, steps=50), tmp_path / "budget", threads=1, cpu_seconds=0.0)
    train(GANConfig(**cfg, steps=1), tmp_path / "one", threads=1)
    assert record["stopped_at"] == 1 and record["cpu_seconds"] >= 0
    assert [p.name for p in (tmp_path / "budget").glob("ckpt-*.pt")] == ["ckpt-00000001.pt"]
    assert (tmp_path / "budget" / "samples" / "step-00000001.png").exists()
    a, b = _ckpt(tmp_path / "budget", 1), _ckpt(tmp_path / "one", 1)
    assert all(_same_state(a["modules"][k], b["modules"][k]) for k in ("G", "D"))


def test_ema_follows_its_recurrence(tmp_path):
    cfg = GANConfig(**{**TINY, "ckpt_every": 1, "sample_every": 0}, steps=2, ema=0.5)
    train(cfg, tmp_path / "run", threads=1)
    seed_everything(cfg.seed)
    g0 = build_models(cfg)[0].state_dict()
    g1, g2 = _ckpt(tmp_path / "run", 1)["modules"]["G"], _ckpt(tmp_path / "run", 2)["modules"]["G"]
    ema = _ckpt(tmp_path / "run", 2)["extra"]["ema"]["module"]
    for k, v in g0.items():
        if k.endswith(("running_mean", "running_var", "num_batches_tracked")):
            assert torch.equal(ema[k], g2[k])  # buffers are copied
        else:
            expect = 0.5 * (0.5 * v + 0.5 * g1[k]) + 0.5 * g2[k]
            assert torch.allclose(ema[k], expect, atol=1e-7), k


@pytest.mark.parametrize("option", [{"loss": "hinge"}, {"spectral_norm": True}, {"diffaugment": "color,cutout"},
                                    {"r1": 1.0}])
def test_each_option_changes_training(tmp_path, option):
    base = GANConfig(**TINY, steps=2)
    train(base, tmp_path / "base", threads=1)
    train(GANConfig(**{**TINY, **option}, steps=2), tmp_path / "opt", threads=1)
    a, b = _ckpt(tmp_path / "base", 2)["modules"]["G"], _ckpt(tmp_path / "opt", 2)["modules"]["G"]
    assert not _same_state(a, b)
    log = [json.loads(line) for line in (tmp_path / "opt" / "log.jsonl").read_text().splitlines()]
    assert all(np.isfinite(r["loss_d"]) and np.isfinite(r["loss_g"]) for r in log)
    if "loss" in option:  # hinge G loss is -E[D(G(z))], it can be negative; bce's cannot
        assert json.loads((tmp_path / "opt" / "config.json").read_text())["loss"] == "hinge"


def test_conditional_resume_is_exact(tmp_path):
    opts = dict(TINY, conditional=True, loss="hinge", spectral_norm=True, text_encoder="gru")
    train(GANConfig(**opts, steps=4), tmp_path / "straight", threads=1)
    train(GANConfig(**opts, steps=2), tmp_path / "split", threads=1)
    train(GANConfig(**opts, steps=4), tmp_path / "split", resume=True, threads=1)
    a, b = _ckpt(tmp_path / "straight", 4), _ckpt(tmp_path / "split", 4)
    assert _same_state(a["modules"]["G"], b["modules"]["G"]) and _same_state(a["modules"]["D"], b["modules"]["D"])
    assert a["extra"]["vocab"] == b["extra"]["vocab"]
    assert (tmp_path / "straight" / "samples" / "step-00000004.png").read_bytes() == \
        (tmp_path / "split" / "samples" / "step-00000004.png").read_bytes()
    caps = (tmp_path / "straight" / "samples" / "captions.txt").read_text().splitlines()
    assert len(caps) == 8 and all(caps)


def test_conditional_generate_one_image_per_caption(tmp_path):
    run = tmp_path / "run"
    train(GANConfig(**TINY, conditional=True, steps=2), run, threads=1)
    caps = tmp_path / "caps.txt"
    caps.write_text("a red circle above a blue square\n\na green triangle\n", encoding="utf-8")
    assert run_cli("generate", "--run", run, "--captions", caps, "--out", tmp_path / "g.npz", "--quiet") == 0
    data = np.load(tmp_path / "g.npz")
    assert data["images"].shape == (2, 32, 32, 3)
    assert list(data["captions"]) == ["a red circle above a blue square", "a green triangle"]
    assert run_cli("generate", "--run", run, "--captions", caps, "--out", tmp_path / "gdir", "--quiet") == 0
    got = np.asarray(Image.open(tmp_path / "gdir" / "00001.png"))
    assert np.array_equal(got, data["images"][1])  # folder and npz hold the same pixels
    assert json.loads((tmp_path / "gdir" / "captions.json").read_text())["00000.png"].startswith("a red circle")


def test_cli_errors(tmp_path, capsys):
    run = tmp_path / "run"
    args = ["train", "gan", "--data", "scenes", "--n-train", "48", "--size", "32", "--ngf", "8", "--ndf", "8",
            "--batch-size", "16", "--steps", "1", "--threads", "1", "--quiet"]
    assert run_cli(*args, "--out", run) == 0
    assert run_cli(*args, "--out", run) == 2  # refuses to overwrite a run
    assert "--resume" in capsys.readouterr().err
    assert run_cli("train", "gan", "--resume", run, "--size", "64", "--quiet") == 2  # model options are fixed
    assert run_cli("train", "gan", "--resume", tmp_path / "nothing", "--quiet") == 2
    assert run_cli(*args, "--out", tmp_path / "r2", "--ema", "1.5") == 2
    assert run_cli("generate", "--run", run, "--out", tmp_path / "x.npz", "--ema", "--quiet") == 2  # no EMA kept
    assert run_cli("generate", "--run", run, "--out", tmp_path / "x.npz", "--n", "3", "--quiet") == 0
    assert np.load(tmp_path / "x.npz")["images"].shape == (3, 32, 32, 3)


def test_eval_hook_degrades_with_a_named_reason(tmp_path):
    run = tmp_path / "run"
    train(GANConfig(**TINY, steps=1, eval_every=1, eval_extractor="no-such-extractor"), run, threads=1)
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    skipped = [r for r in log if r.get("event") == "eval_skipped"]
    assert len(skipped) == 1 and skipped[0]["extractor"] == "no-such-extractor"
    assert "no-such-extractor" in skipped[0]["reason"]
    assert not any(r.get("event") == "eval" for r in log)


def test_trains_on_an_image_file_source(tmp_path):
    from vislang.data.images import write_npz

    g = torch.Generator().manual_seed(0)
    write_npz(torch.randint(0, 256, (20, 3, 40, 48), dtype=torch.uint8, generator=g), tmp_path / "src.npz")
    run = tmp_path / "run"
    assert run_cli("train", "gan", "--data", tmp_path / "src.npz", "--size", "32", "--ngf", "4", "--ndf", "4",
                   "--batch-size", "8", "--steps", "2", "--threads", "1", "--quiet", "--out", run) == 0
    state = _ckpt(run, 2)
    assert state["extra"]["n_train"] == 20 and state["config"]["data"] == str(tmp_path / "src.npz")
    assert run_cli("train", "gan", "--data", tmp_path / "src.npz", "--conditional", "--out", tmp_path / "c",
                   "--quiet") == 2  # no captions in an image file


def test_periodic_fid_matches_an_independent_computation(tmp_path):
    """The logged fid_mobilenet-v2 / kid equal the metrics recomputed here from the images the hook should use:
    the seeded real subset and the generator's eval-mode output on the seeded evaluation noise."""
    from vislang import features
    from vislang.metrics.image.fid import fid_from_features
    from vislang.metrics.image.kid import kid_from_features
    from vislang.data.scenes import generate
    from vislang.train.gan import _mix
    from vislang.train.gan_generate import load_generator

    cfg = GANConfig(**{**TINY, "ngf": 4, "ndf": 4, "n_train": 32}, steps=2, eval_every=2, eval_n=16,
                    eval_extractor="mobilenet-v2")
    train(cfg, tmp_path / "run", threads=1)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    (rec,) = [r for r in log if r.get("event") == "eval"]
    images = generate(32, size=32, seed=0, split="train").images
    real = images[torch.randperm(32, generator=torch.Generator().manual_seed(_mix(0, 2)))[:16]]
    g = load_generator(tmp_path / "run")[0]
    z = torch.randn(16, 100, generator=torch.Generator().manual_seed(_mix(0, 5)))
    with torch.no_grad():
        fake = ((g(z) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
    ext = features.create("mobilenet-v2")
    a, b = ext(real).double().numpy(), ext(fake).double().numpy()
    assert rec["fid_mobilenet-v2"] == pytest.approx(fid_from_features(a, b), rel=1e-6)
    assert rec["kid_mobilenet-v2"] == pytest.approx(kid_from_features(a, b)["kid_mean"], rel=1e-6)
