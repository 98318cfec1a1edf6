"""DiffAugment (Zhao et al. 2020): each transform against its definition, and differentiability."""

from __future__ import annotations

import pytest
import torch

from vislang.errors import ConfigError
from vislang.models import diffaugment as da


def test_translation_moves_a_pixel_by_the_drawn_shift():
    n, h = 6, 16
    x = torch.zeros(n, 3, h, h)
    x[:, :, 8, 5] = 1.0
    out = da.translation(x, generator=torch.Generator().manual_seed(3))
    s = int(h * 0.125 + 0.5)  # 2 px
    g = torch.Generator().manual_seed(3)
    ty = torch.randint(-s, s + 1, (n,), generator=g)
    tx = torch.randint(-s, s + 1, (n,), generator=g)
    for i in range(n):
        expect = torch.zeros(3, h, h)
        expect[:, 8 + ty[i], 5 + tx[i]] = 1.0
        assert torch.equal(out[i], expect)


def test_translation_pads_with_zeros():
    x = torch.ones(64, 1, 8, 8)
    out = da.translation(x, generator=torch.Generator().manual_seed(0))
    # a shift of (a, b) leaves (8 - |a|) * (8 - |b|) ones
    counts = out.sum((1, 2, 3))
    assert set(counts.tolist()) <= {float((8 - a) * (8 - b)) for a in range(2) for b in range(2)}
    assert (counts < 64).any()


def test_cutout_zeros_one_square_and_keeps_the_rest():
    x = torch.rand(32, 3, 16, 16) + 1.0  # strictly positive
    out = da.cutout(x, generator=torch.Generator().manual_seed(1))
    for i in range(32):
        zero = out[i, 0] == 0
        assert torch.equal(zero, (out[i] == 0).all(0))  # the same mask on every channel
        rows, cols = zero.any(1).nonzero().flatten(), zero.any(0).nonzero().flatten()
        assert zero.sum() == len(rows) * len(cols)  # a rectangle
        assert len(rows) <= 8 and len(cols) <= 8 and len(rows) >= 4 and len(cols) >= 4  # half side, clipped
        assert torch.equal(out[i][:, ~zero], x[i][:, ~zero])


def test_color_follows_brightness_saturation_contrast_formulas():
    x = torch.rand(3, 3, 4, 4) * 2 - 1
    out = da.color(x, generator=torch.Generator().manual_seed(7))
    g = torch.Generator().manual_seed(7)
    u1, u2, u3 = (torch.rand(3, 1, 1, 1, generator=g) for _ in range(3))
    for i in range(3):
        a = x[i].double().numpy() + (u1[i].item() - 0.5)
        m = a.mean(0, keepdims=True)
        a = (a - m) * (2 * u2[i].item()) + m
        m = a.mean()
        a = (a - m) * (u3[i].item() + 0.5) + m
        assert torch.allclose(out[i].double(), torch.from_numpy(a), atol=1e-5)


def test_diff_augment_is_differentiable_and_parses_policies():
    x = torch.randn(4, 3, 16, 16, requires_grad=True)
    y = da.diff_augment(x, "color,translation,cutout", torch.Generator().manual_seed(0))
    assert y.shape == x.shape
    (y * torch.arange(16.0)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert da.parse_policy("") == ()
    assert da.parse_policy("color, cutout") == ("color", "cutout")
    with pytest.raises(ConfigError):
        da.parse_policy("color,flip")
    # same generator seed -> same augmentation
    a = da.diff_augment(x.detach(), "translation,cutout", torch.Generator().manual_seed(5))
    b = da.diff_augment(x.detach(), "translation,cutout", torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
