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


def test_first_token_readout_ignores_padding_and_reads_word_order():
    m = _model(text_pool="first")
    short = m.encode_text(torch.tensor([[1, 5, 6, 2]]))
    assert torch.allclose(short, m.encode_text(torch.tensor([[1, 5, 6, 2, 0, 0]])), atol=1e-5)
    assert not torch.allclose(short, m.encode_text(torch.tensor([[1, 6, 5, 2]])), atol=1e-4)
    # the readout is the first token's output: equal to running the tower and taking position 0 by hand
    t = m.text
    x = t.norm(t.encoder(t.tok(torch.tensor([[1, 5, 6, 2]])) + t.pos[:4]))
    assert torch.allclose(short, torch.nn.functional.normalize(t.proj(x[:, 0]), dim=-1), atol=1e-6)


def test_attention_image_tower_sees_positions():
    assert _model(image_pool="attention", grid=8).image.row.shape == (8, 1, 32)
    m = _model(image_pool="attention", image_layers=1)
    assert m.image.grid == 4 and m.image.row.shape == (4, 1, 32) and m.image.col.shape == (1, 4, 32)
    img = torch.full((1, 3, 64, 64), 230, dtype=torch.uint8)
    img[:, 0, 8:24, 4:20] = 20                                     # a dark-red block on the left
    flipped = img.flip(-1)                                          # ... moved to the right
    a, b = m.encode_image(img), m.encode_image(flipped)
    assert a.shape == (1, 16) and torch.allclose(a.norm(dim=1), torch.ones(1), atol=1e-6)
    assert (a - b).abs().max() > 1e-3
    # without position embeddings the tower is blind to a left-right flip of the token grid (the CNN
    # is not flip-equivariant, so check the Transformer part alone: permuting tokens changes nothing)
    tok = torch.randn(1, 16, 32)
    cls = m.image.cls.expand(1, -1, -1)
    out = m.image.encoder(torch.cat([cls, tok], 1))[:, 0]
    perm = torch.randperm(16)
    assert torch.allclose(out, m.image.encoder(torch.cat([cls, tok[:, perm]], 1))[:, 0], atol=1e-5)


def test_unknown_pooling_is_refused():
    with pytest.raises(ValueError):
        _model(image_pool="max")
    with pytest.raises(ValueError):
        _model(text_pool="last")


def test_pair_loss_hand_worked():
    from vislang.models.dual_encoder import pair_loss

    def sp(x):
        return math.log1p(math.exp(x))

    img = torch.eye(2)
    txt = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    # cosines: image0-text0 1, image1-text1 0.8, image0-text1 0.6, image1-text0 0; scale 2
    mirror = (torch.tensor([0]), torch.tensor([1]))
    want = [sp(2 * (0 - 1)), sp(2 * (0.6 - 0.8)), sp(2 * (0.6 - 1)), sp(2 * (0 - 0.8))]
    assert pair_loss(img, txt, 2.0, mirror_pairs=mirror).item() == pytest.approx(sum(want) / 4)
    # a foil [0.8, 0.6] of caption 1: image 1 scores it 0.6 against the true 0.8
    hard = torch.tensor([[0.8, 0.6]])
    got = pair_loss(img, txt, 2.0, hard, torch.tensor([1]), mirror).item()
    assert got == pytest.approx((sum(want) + sp(2 * (0.6 - 0.8))) / 5)
    assert pair_loss(img, txt, 2.0).item() == 0.0
