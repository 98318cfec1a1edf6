"""Dual encoder keypoint towers: the spatial soft-argmax of the image tower and the soft-argmax over
tokens of the text tower, checked against hand-placed score maps; padding invariance, word order."""

import pytest
import torch
from torch import nn

from vislang.models.dual_encoder import DualEncoder, DualEncoderConfig, _coords


def _model(**kw):
    torch.manual_seed(0)
    cfg = dict(vocab_size=20, embed_dim=16, cnn_width=8, d_model=32, layers=1, keypoints=4)
    cfg.update(kw)
    return DualEncoder(DualEncoderConfig(**cfg)).eval()


def test_coord_channels_span_minus_one_to_one():
    c = _coords(2, 3, 5, torch.zeros(1))
    assert c.shape == (2, 2, 3, 5)
    assert c[0, 0, 1].tolist() == pytest.approx([-1.0, -0.5, 0.0, 0.5, 1.0])   # x grows to the right
    assert c[0, 1, :, 2].tolist() == pytest.approx([-1.0, 0.0, 1.0])          # y grows downwards
    assert torch.equal(c[0], c[1])


class _Spikes(nn.Module):
    """Score maps with one sharp peak per channel at hand-chosen (row, col) of the 16 x 16 map."""

    def __init__(self, where):
        super().__init__()
        self.where = where

    def forward(self, x):
        s = torch.zeros(len(x), len(self.where), *x.shape[-2:])
        for k, rc in enumerate(self.where):
            if rc is not None:                                    # None: a flat (all-zero) map
                s[:, k, rc[0], rc[1]] = 50.0
        return s


def test_image_soft_argmax_finds_hand_placed_peaks():
    m = _model(image_pool="keypoints")
    tower = m.image
    tower.points = _Spikes([(0, 0), (15, 15), (5, 10), (8, 3)])
    px, py, presence, f = tower.keypoints(torch.zeros(2, 3, 64, 64, dtype=torch.uint8))
    assert f.shape[-2:] == (16, 16)                               # two stride-2 blocks: 64 -> 16
    step = 2 / 15                                                 # 16 positions from -1 to 1
    assert px[0].tolist() == pytest.approx([-1, 1, -1 + 10 * step, -1 + 3 * step], abs=1e-4)
    assert py[1].tolist() == pytest.approx([-1, 1, -1 + 5 * step, -1 + 8 * step], abs=1e-4)
    assert presence[0].tolist() == pytest.approx([50.0] * 4)
    # a flat map: the soft-argmax is the mean of the positions, the centre
    tower.points = _Spikes([None])
    px, py, presence, _ = tower.keypoints(torch.zeros(1, 3, 64, 64, dtype=torch.uint8))
    assert (px.item(), py.item(), presence.item()) == pytest.approx((0.0, 0.0, 0.0), abs=1e-6)


def test_keypoint_image_tower_sees_a_left_right_flip():
    m = _model(image_pool="keypoints")
    img = torch.full((1, 3, 64, 64), 230, dtype=torch.uint8)
    img[:, 0, 8:24, 4:20] = 20
    a, b = m.encode_image(img), m.encode_image(img.flip(-1))
    assert a.shape == (1, 16) and torch.allclose(a.norm(dim=1), torch.ones(1), atol=1e-6)
    assert (a - b).abs().max() > 1e-3
    assert m.encode_image(torch.zeros(2, 3, 48, 48, dtype=torch.uint8)).shape == (2, 16)   # resized to 64


@pytest.mark.parametrize("pool", ["gru", "keypoints"])
def test_order_sensitive_text_readouts_ignore_padding(pool):
    m = _model(text_pool=pool)
    short = m.encode_text(torch.tensor([[1, 5, 6, 7, 2]]))
    batch = m.encode_text(torch.tensor([[1, 5, 6, 7, 2, 0, 0], [1, 7, 6, 5, 2, 0, 0], [1, 3, 2, 0, 0, 0, 0]]))
    assert torch.allclose(short, batch[:1], atol=1e-5)
    assert not torch.allclose(batch[0], batch[1], atol=1e-4)       # "5 6 7" vs "7 6 5"


def test_text_soft_argmax_over_tokens_hand_worked():
    """With channel scores that pick one token each and positions set by hand, the keypoint features
    are those tokens' positions and the largest scores (before the batch norm)."""
    m = _model(text_pool="keypoints", keypoints=2)
    t = m.text
    L, d = 5, 32
    x = torch.zeros(1, L, d)
    pad = torch.tensor([[False, False, False, True, True]])

    class Fixed(nn.Module):
        def __init__(self, out):
            super().__init__()
            self.out = out

        def forward(self, h):
            return self.out[:, :h.shape[1]]

    where = torch.tensor([[[0.0, 0.0], [2.0, -1.0], [-0.5, 0.5], [9.0, 9.0], [9.0, 9.0]]])   # atanh-free: tanh below
    scores = torch.tensor([[[0.0, 0.0], [40.0, 0.0], [0.0, 30.0], [99.0, 99.0], [99.0, 99.0]]])  # pads must not win
    t.where, t.what = Fixed(where), Fixed(scores)
    t.point_norm = nn.Identity()
    feats = t._keypoints(x, pad)[0]
    th = torch.tanh(where[0])
    assert feats.tolist() == pytest.approx([th[1, 0], th[2, 0], th[1, 1], th[2, 1], 40.0, 30.0], abs=1e-5)


def test_unknown_text_readout_is_refused():
    with pytest.raises(ValueError):
        _model(text_pool="attention")
    with pytest.raises(ValueError):
        _model(image_pool="slots")
