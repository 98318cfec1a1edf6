"""DCGAN architecture (recipe parameter counts and layers), initialisation, losses, R1, spectral norm."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from vislang.errors import ConfigError
from vislang.models import dcgan, gan_losses


def _conv_params(cin, cout, k=4):
    return cin * cout * k * k


def test_recipe_parameter_counts_64px():
    g, d = dcgan.build(64)
    # published by the issue (the pytorch/examples recipe with nz=100, ngf=ndf=64, nc=3)
    assert dcgan.count_parameters(g) == 3_576_704
    assert dcgan.count_parameters(d) == 2_765_568


@pytest.mark.parametrize("size,top", [(32, 4), (128, 16)])
def test_family_parameter_counts_by_hand(size, top):
    """32 px drops a block (widest ngf*4), 128 px adds one (ngf*16); counts from the layer list by hand."""
    nz, w = 100, 64
    chans = [top * w // 2 ** i for i in range(int(math.log2(top)) + 1)]  # e.g. 256, 128, 64
    g_expect = _conv_params(nz, chans[0]) + sum(_conv_params(a, b) for a, b in zip(chans, chans[1:]))
    g_expect += _conv_params(w, 3) + 2 * sum(chans)  # BatchNorm weight + bias on every layer but the last
    d_chans = chans[::-1]  # 64, 128, 256
    d_expect = _conv_params(3, w) + sum(_conv_params(a, b) for a, b in zip(d_chans, d_chans[1:]))
    d_expect += _conv_params(d_chans[-1], 1) + 2 * sum(d_chans[1:])
    g, d = dcgan.build(size)
    assert dcgan.count_parameters(g) == g_expect
    assert dcgan.count_parameters(d) == d_expect
    z = torch.randn(2, 100)
    assert g(z).shape == (2, 3, size, size)
    assert d(g(z)).shape == (2,)


def test_recipe_layers_64px():
    g, d = dcgan.build(64)
    convs = [m for m in g.main if isinstance(m, nn.ConvTranspose2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.stride, c.padding) for c in convs] == [
        (100, 512, (4, 4), (1, 1), (0, 0)), (512, 256, (4, 4), (2, 2), (1, 1)), (256, 128, (4, 4), (2, 2), (1, 1)),
        (128, 64, (4, 4), (2, 2), (1, 1)), (64, 3, (4, 4), (2, 2), (1, 1))]
    assert all(c.bias is None for c in convs)
    assert isinstance(g.main[-1], nn.Tanh)
    assert sum(isinstance(m, nn.ReLU) for m in g.main) == 4
    dconvs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.stride, c.padding) for c in dconvs] == [
        (3, 64, (2, 2), (1, 1)), (64, 128, (2, 2), (1, 1)), (128, 256, (2, 2), (1, 1)), (256, 512, (2, 2), (1, 1)),
        (512, 1, (1, 1), (0, 0))]
    assert all(c.bias is None for c in dconvs)
    lrelu = [m for m in d.modules() if isinstance(m, nn.LeakyReLU)]
    assert len(lrelu) == 4 and all(m.negative_slope == 0.2 for m in lrelu)
    assert isinstance(d.features[1], nn.LeakyReLU)  # no BatchNorm after the first conv
    assert sum(isinstance(m, nn.BatchNorm2d) for m in d.modules()) == 3
    x = torch.zeros(2, 3, 64, 64)
    assert torch.allclose(d.prob(x), torch.sigmoid(d(x)))


def test_weights_init_statistics():
    torch.manual_seed(0)
    g, d = dcgan.build(64)
    w = torch.cat([m.weight.reshape(-1) for m in g.modules() if isinstance(m, nn.ConvTranspose2d)])
    assert abs(w.mean().item()) < 1e-3 and abs(w.std().item() - 0.02) < 5e-4
    bn_w = torch.cat([m.weight for m in d.modules() if isinstance(m, nn.BatchNorm2d)])
    bn_b = torch.cat([m.bias for m in d.modules() if isinstance(m, nn.BatchNorm2d)])
    assert abs(bn_w.mean().item() - 1.0) < 5e-3 and abs(bn_w.std().item() - 0.02) < 3e-3
    assert torch.count_nonzero(bn_b) == 0


def test_unsupported_size():
    with pytest.raises(ConfigError):
        dcgan.build(48)


def _logit(p):
    return torch.tensor([math.log(q / (1 - q)) for q in p], dtype=torch.float64)


def test_bce_losses_equal_formulas_on_hand_made_outputs():
    d_real, d_fake = [0.9, 0.6, 0.75], [0.2, 0.5, 0.1]
    expect_d = -sum(math.log(p) for p in d_real) / 3 - sum(math.log(1 - p) for p in d_fake) / 3
    expect_g = -sum(math.log(p) for p in d_fake) / 3
    got_d = gan_losses.d_loss(_logit(d_real), _logit(d_fake))
    got_g = gan_losses.g_loss(_logit(d_fake))
    assert got_d.item() == pytest.approx(expect_d, rel=1e-12)
    assert got_g.item() == pytest.approx(expect_g, rel=1e-12)
    # the recipe's form: BCELoss on Sigmoid outputs with labels 1 (real) and 0 (fake), summed
    bce = nn.BCELoss()
    pr, pf = torch.tensor(d_real, dtype=torch.float64), torch.tensor(d_fake, dtype=torch.float64)
    recipe_d = bce(pr, torch.ones(3, dtype=torch.float64)) + bce(pf, torch.zeros(3, dtype=torch.float64))
    assert got_d.item() == pytest.approx(recipe_d.item(), rel=1e-12)
    assert got_g.item() == pytest.approx(bce(pf, torch.ones(3, dtype=torch.float64)).item(), rel=1e-12)
    parts = gan_losses.d_real_term(_logit(d_real)) + gan_losses.d_fake_term(_logit(d_fake))
    assert parts.item() == pytest.approx(expect_d, rel=1e-12)


def test_bce_losses_stable_for_extreme_logits():
    big = torch.tensor([200.0, -200.0])
    assert torch.isfinite(gan_losses.d_loss(big, big)).item()
    # -log(sigmoid(-200)) = 200 exactly to float precision; -log(1 - sigmoid(200)) = 200
    assert gan_losses.g_loss(torch.tensor([-200.0])).item() == pytest.approx(200.0)
    assert gan_losses.d_fake_term(torch.tensor([200.0])).item() == pytest.approx(200.0)


def test_hinge_losses():
    real, fake = torch.tensor([2.0, 0.5, -1.0]), torch.tensor([-3.0, 0.0, 0.4])
    # relu(1 - r): 0, 0.5, 2 -> mean 2.5/3; relu(1 + f): 0, 1, 1.4 -> mean 2.4/3
    assert gan_losses.d_loss(real, fake, "hinge").item() == pytest.approx(2.5 / 3 + 2.4 / 3)
    assert gan_losses.g_loss(fake, "hinge").item() == pytest.approx(2.6 / 3)
    with pytest.raises(ConfigError):
        gan_losses.g_loss(fake, "wasserstein")


def test_r1_penalty_on_hand_computable_discriminator():
    """D(x) = <w, x> + sum(x^2): grad = w + 2x, so R1 = gamma/2 * mean_i ||w + 2 x_i||^2."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 3, 5, 5, generator=g, dtype=torch.float64)
    w = torch.randn(3, 5, 5, generator=g, dtype=torch.float64)
    xr = x.clone().requires_grad_(True)
    logits = (xr * w).sum((1, 2, 3)) + (xr ** 2).sum((1, 2, 3))
    got = gan_losses.r1_penalty(logits, xr, gamma=10.0)
    xn, wn = x.numpy(), w.numpy()
    expect = 5.0 * np.mean([np.sum((wn + 2 * xn[i]) ** 2) for i in range(4)])
    assert got.item() == pytest.approx(expect, rel=1e-12)
    got.backward()  # differentiable (create_graph): d/dx of 5 * mean ||w + 2x||^2 = 5 * 2 * 2 (w + 2x) / 4
    assert torch.allclose(xr.grad, 5.0 * (w + 2 * x))


def test_spectral_norm_discriminator():
    torch.manual_seed(0)
    d = dcgan.Discriminator(32, ndf=8, spectral_norm=True)
    d.apply(dcgan.weights_init)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in d.modules())
    x = torch.randn(4, 3, 32, 32)
    for _ in range(100):  # power iterations run in train mode
        d(x)
    d.eval()
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 4
    for c in convs:
        sigma = torch.linalg.svdvals(c.weight.detach().reshape(c.weight.shape[0], -1))[0].item()
        assert sigma == pytest.approx(1.0, abs=0.02)
    plain = dcgan.Discriminator(32, ndf=8)
    # minus the BatchNorm affine parameters (16 + 32 channels), plus a bias per conv output channel
    assert dcgan.count_parameters(d) == dcgan.count_parameters(plain) - 2 * (16 + 32) + (8 + 16 + 32 + 1)
    assert all(c.bias is not None and not c.bias.any() for c in convs)  # zero-initialised
    # with biases D is not positively homogeneous: D(0) need not be 0
    with torch.no_grad():
        d.head.bias.fill_(0.5)
    assert d(torch.zeros(1, 3, 32, 32)).item() == pytest.approx(0.5)
