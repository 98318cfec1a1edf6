"""Conditional GAN options: the frozen dual-encoder text tower, the matching-aware D (GAN-CLS), the
dual-encoder consistency term for G."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from conftest import run_cli
from vislang.train.gan import GANConfig, gan_step, train
from vislang.train.gan_text import consistency_loss
from vislang.train.gan_generate import generate, load_generator

TINY = dict(data="scenes", n_train=48, size=32, ngf=8, ndf=8, batch_size=16, log_every=1, sample_every=0,
            ckpt_every=2, conditional=True)
DE = dict(TINY, text_encoder="dual-encoder", mismatch=0.5, consistency=1.0)


@pytest.fixture(autouse=True)
def _restore_determinism():
    yield
    torch.use_deterministic_algorithms(False)
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def shipped():
    from vislang.train.dual_encoder import load_dual_encoder

    return load_dual_encoder("scenes")


def _ckpt(run, step):
    return torch.load(run / f"ckpt-{step:08d}.pt", weights_only=False)


def test_mismatch_term_is_gan_cls(tmp_path):
    """D's fake term with --mismatch m is (1 - m) softplus(D(G(z, t), t)) + m softplus(D(x, t_rolled))."""
    from vislang.models.conditional_gan import build_conditional

    torch.manual_seed(0)
    cfg = GANConfig(**TINY, mismatch=0.25)
    g, d = build_conditional(30, size=32, ngf=8, ndf=8)
    g0, d0 = copy.deepcopy(g), copy.deepcopy(d)
    opt = [torch.optim.Adam(m.parameters(), lr=2e-4, betas=(0.5, 0.999)) for m in (g, d)]
    real = torch.rand(4, 3, 32, 32) * 2 - 1
    z = torch.randn(4, 100)
    tok = torch.randint(1, 30, (4, 5))
    err_real, err_fake, _err_g, *_ = gan_step(g, d, opt[0], opt[1], real, z, tok, cfg)
    with torch.no_grad():
        fake_logit = d0(g0(z, tok), tok)
        wrong_logit = d0(real, tok[[3, 0, 1, 2]])  # each real image with the previous image's caption
        expect = 0.75 * F.softplus(fake_logit).mean() + 0.25 * F.softplus(wrong_logit).mean()
        assert float(err_real) == pytest.approx(float(F.softplus(-d0(real, tok)).mean()), rel=1e-5)
    assert float(err_fake) == pytest.approx(float(expect), rel=1e-5)


def test_consistency_loss_is_one_minus_the_dual_encoder_cosine(shipped):
    model, vocab, _ = shipped
    g = torch.Generator().manual_seed(0)
    u8 = torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8, generator=g)
    caps = ["a red circle", "a big blue square above a small green star", "a yellow triangle"]
    tok = vocab.encode_batch(caps, model.config.max_len)
    with torch.no_grad():
        cos = (model.encode_image(u8) * model.encode_text(tok)).sum(1)
        got = consistency_loss(model.image, u8.float() / 127.5 - 1, model.text(tok) * 3.0)  # scale-free in t
    assert float(got) == pytest.approx(float((1 - cos).mean()), abs=1e-5)


def test_dual_encoder_run_keeps_the_tower_frozen_and_resumes_exactly(tmp_path, shipped):
    model, vocab, meta = shipped
    train(GANConfig(**DE, steps=4, ema=0.9), tmp_path / "straight", threads=1)
    train(GANConfig(**DE, steps=2, ema=0.9), tmp_path / "split", threads=1)
    train(GANConfig(**DE, steps=4, ema=0.9), tmp_path / "split", resume=True, threads=1)
    a, b = _ckpt(tmp_path / "straight", 4), _ckpt(tmp_path / "split", 4)
    for k in ("G", "D"):
        assert all(torch.equal(a["modules"][k][n], b["modules"][k][n]) for n in a["modules"][k])
    text = model.text.state_dict()
    for k in ("G", "D"):  # the frozen tower's weights are the shipped model's, untouched by training
        tower = {n[len("text.tower."):]: v for n, v in a["modules"][k].items() if n.startswith("text.tower.")}
        assert tower.keys() == text.keys() and all(torch.equal(tower[n], text[n]) for n in text)
    assert a["extra"]["text_model"]["sha256"] == meta["sha256"] and a["extra"]["vocab"] == vocab.state_dict()
    assert a["config"]["max_len"] == model.config.max_len
    # generation rebuilds the tower from the checkpoint alone and encodes captions with the tower's vocabulary
    caps = ["a red circle above a blue square", "a green triangle"]
    images, _ = generate(tmp_path / "straight", captions=caps, seed=3, ema=True)
    gen, _cfg, _v, step = load_generator(tmp_path / "straight", ema=True)
    z = torch.randn(2, 100, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expect = ((gen(z, vocab.encode_batch(caps, model.config.max_len)) + 1) * 127.5).round().clamp(0, 255)
    assert step == 4 and torch.equal(images, expect.to(torch.uint8))


def test_option_errors(tmp_path):
    args = ["train", "gan", "--data", "scenes", "--n-train", "48", "--size", "32", "--steps", "1", "--quiet"]
    assert run_cli(*args, "--out", tmp_path / "a", "--mismatch", "0.5") == 2  # needs --conditional
    assert run_cli(*args, "--out", tmp_path / "b", "--conditional", "--consistency", "1") == 2  # needs dual-encoder
    assert run_cli(*args, "--out", tmp_path / "c", "--conditional", "--mismatch", "1.0") == 2
    assert not any((tmp_path / n).exists() for n in "abc")


def test_mode_seeking_loss_by_hand():
    from vislang.train.gan_text import mode_seeking_loss

    a, b = torch.zeros(1, 1, 2, 2), torch.tensor([[[[1.0, -1.0], [0.5, 0.5]]]])  # mean |a - b| = 0.75
    z1, z2 = torch.zeros(1, 3), torch.tensor([[1.0, 2.0, 3.0]])  # mean |z1 - z2| = 2
    assert float(mode_seeking_loss(a, b, z1, z2)) == pytest.approx(1 / (0.375 + 1e-5))


def test_mode_seeking_changes_training_only_when_on(tmp_path):
    train(GANConfig(**TINY, steps=2), tmp_path / "base", threads=1)
    train(GANConfig(**TINY, steps=2, mode_seeking=1.0), tmp_path / "ms", threads=1)
    a, b = _ckpt(tmp_path / "base", 2)["modules"]["G"], _ckpt(tmp_path / "ms", 2)["modules"]["G"]
    assert not all(torch.equal(a[k], b[k]) for k in a)
    # the G loss of the first step includes w / (ratio + eps) > 0 on top of the BCE term
    import json

    log = [json.loads(x) for x in (tmp_path / "ms" / "log.jsonl").read_text().splitlines()]
    base = [json.loads(x) for x in (tmp_path / "base" / "log.jsonl").read_text().splitlines()]
    assert log[0]["loss_d"] == base[0]["loss_d"]  # D's first step does not see the option
    assert log[0]["loss_g"] > base[0]["loss_g"]
