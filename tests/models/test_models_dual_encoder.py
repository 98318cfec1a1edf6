"""Dual encoder: the symmetric InfoNCE against hand-worked values, embeddings, padding invariance."""

import math

import pytest
import torch

from vislang.models.dual_encoder import LOGIT_SCALE_INIT, DualEncoder, DualEncoderConfig, info_nce


def test_info_nce_hand_worked():
    eye = torch.eye(2)
    # logits [[1, 0], [0, 1]]: each row's CE = -log(e / (e + 1)) = log(1 + e^-1), both directions alike
    assert info_nce(eye, eye, 1.0).item() == pytest.approx(math.log(1 + math.exp(-1)))
    # a hard negative text [1, 0]: image->text rows [1, 0, 1] and [0, 1, 0]
    hard = torch.tensor([[1.0, 0.0]])
    i2t = 0.5 * (-math.log(math.e / (2 * math.e + 1)) - math.log(math.e / (math.e + 2)))
    t2i = math.log(1 + math.exp(-1))
    assert info_nce(eye, eye, 1.0, hard).item() == pytest.approx(0.5 * (i2t + t2i))
    # the scale multiplies the logits: scale 2 -> CE = log(1 + e^-2)
    assert info_nce(eye, eye, torch.tensor(2.0)).item() == pytest.approx(math.log(1 + math.exp(-2)))


def _model(**kw):
    torch.manual_seed(0)
    return DualEncoder(DualEncoderConfig(vocab_size=20, embed_dim=16, cnn_width=8, d_model=32, layers=1, **kw)).eval()


def test_embeddings_are_unit_norm_and_any_size_is_resized():
    m = _model()
    imgs = torch.randint(0, 256, (3, 3, 64, 64), dtype=torch.uint8)
    e = m.encode_image(imgs)
    assert e.shape == (3, 16) and torch.allclose(e.norm(dim=1), torch.ones(3), atol=1e-6)
    big = torch.nn.functional.interpolate(imgs.float(), size=(96, 96), mode="nearest").round().to(torch.uint8)
    assert m.encode_image(big).shape == (3, 16)
    t = m.encode_text(torch.tensor([[1, 5, 6, 2], [1, 7, 2, 0]]))
    assert t.shape == (2, 16) and torch.allclose(t.norm(dim=1), torch.ones(2), atol=1e-6)
    assert m.scale().item() == pytest.approx(1 / 0.07)
    assert m.logit_scale.item() == pytest.approx(LOGIT_SCALE_INIT)


def test_padding_does_not_change_the_text_embedding():
    m = _model()
    short = m.encode_text(torch.tensor([[1, 5, 6, 2]]))
    padded = m.encode_text(torch.tensor([[1, 5, 6, 2, 0, 0, 0]]))
    assert torch.allclose(short, padded, atol=1e-5)
    other = m.encode_text(torch.tensor([[1, 6, 5, 2]]))            # word order matters (position embeddings)
    assert not torch.allclose(short, other, atol=1e-4)


def test_scale_is_clamped_at_100():
    m = _model()
    with torch.no_grad():
        m.logit_scale.fill_(10.0)
    assert m.scale().item() == pytest.approx(100.0)
