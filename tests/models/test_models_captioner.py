"""Captioner modules: shapes, causality, step == teacher forcing, attention, encoders."""

from __future__ import annotations

import pytest
import torch

from vislang.models.captioner import BackboneEncoder, Captioner, CaptionerConfig, sequence_logprob

V = 20


def _model(decoder: str, **kw) -> Captioner:
    torch.manual_seed(0)
    cfg = CaptionerConfig(vocab_size=V, decoder=decoder, image_size=32, d_model=32, layers=2, heads=2,
                          lstm_hidden=40, dropout=0.0, max_len=12, **kw)
    return Captioner(cfg).eval()


def _data(b=3, t=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (b, 3, 32, 32), dtype=torch.uint8, generator=g)
    tokens = torch.randint(4, V, (b, t), generator=g)
    tokens[:, 0] = 1
    return images, tokens


@pytest.mark.parametrize("decoder", ["transformer", "lstm"])
def test_shapes_and_step_equals_teacher_forcing(decoder):
    model = _model(decoder)
    images, tokens = _data()
    with torch.no_grad():
        logits, aux = model(images, tokens)
        assert logits.shape == (3, 7, V)
        full = torch.log_softmax(logits, -1)
        mem = model.encode(images)
        assert mem.shape == (3, 16, 32)            # 32 px / stride 8 = 4 x 4 grid
        state = model.init_state(mem)
        for t in range(7):
            lp, state = model.step(tokens[:, :t + 1], state)
            assert torch.allclose(lp, full[:, t], atol=1e-5), t
    if decoder == "lstm":
        assert aux.shape == (3, 7, 16)
        assert torch.allclose(aux.sum(-1), torch.ones(3, 7), atol=1e-6)   # soft attention is a distribution
    else:
        assert aux is None


def test_transformer_is_causal():
    model = _model("transformer")
    images, tokens = _data()
    other = tokens.clone()
    other[:, 5:] = torch.randint(4, V, (3, 3), generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        a, _ = model(images, tokens)
        b, _ = model(images, other)
    assert torch.allclose(a[:, :4], b[:, :4], atol=1e-6)       # positions < 5 see only tokens < 5
    assert not torch.allclose(a[:, 5:], b[:, 5:], atol=1e-3)


@pytest.mark.parametrize("decoder", ["transformer", "lstm"])
def test_repeat_equals_repeated_images(decoder):
    model = _model(decoder)
    images, _ = _data(b=2)
    _, tokens = _data(b=6, seed=1)
    with torch.no_grad():
        a, _ = model(images, tokens, repeat=3)
        b, _ = model(images.repeat_interleave(3, 0), tokens)
    assert torch.allclose(a, b, atol=1e-5)


def test_sequence_logprob_counts_through_first_end():
    model = _model("transformer")
    images, tokens = _data(b=2)
    tokens[:, 3] = 2            # <end> at position 3; what follows must not count
    with torch.no_grad():
        logits, _ = model(images, tokens)
        lp = torch.log_softmax(logits, -1)
        want = sum(lp[:, t].gather(1, tokens[:, t + 1:t + 2]).squeeze(1) for t in range(3))
        got = sequence_logprob(model, images, tokens, end_id=2)
    assert torch.allclose(got, want, atol=1e-6)


def test_preprocess_resizes_and_normalises():
    model = _model("transformer")
    white = torch.full((1, 3, 64, 64), 255, dtype=torch.uint8)
    x = model.preprocess(white)
    assert x.shape == (1, 3, 32, 32)
    assert torch.allclose(x, torch.ones_like(x))       # (1 - 0.5) / 0.5
    black = torch.zeros((1, 3, 32, 32), dtype=torch.uint8)
    assert torch.allclose(model.preprocess(black), -torch.ones(1, 3, 32, 32))


def test_config_roundtrip_and_bad_decoder():
    cfg = CaptionerConfig(vocab_size=11, decoder="lstm", d_model=48)
    assert CaptionerConfig.from_dict({**cfg.to_dict(), "unknown": 1}) == cfg
    with pytest.raises(ValueError):
        CaptionerConfig(vocab_size=11, decoder="gru")


def test_frozen_backbone_encoder_with_mobilenet_v2():
    from vislang.models.backbones.mobilenet_v2 import FEATURE_DIM, MobileNetV2

    net = MobileNetV2()
    cfg = CaptionerConfig(vocab_size=V, encoder="mobilenet-v2", image_size=64, d_model=32, layers=1, heads=2,
                          dropout=0.0, encoder_channels=FEATURE_DIM, encoder_stride=32, freeze_encoder=True)
    model = Captioner(cfg, backbone=net.features).train()
    enc = model.encoder
    assert isinstance(enc, BackboneEncoder)
    assert not enc.backbone.training                    # frozen: BatchNorm statistics stay as loaded
    assert all(not p.requires_grad for p in enc.backbone.parameters())
    before = _bn_mean(enc)
    images, tokens = _data(b=2)
    logits, _ = model(images, tokens)
    logits.sum().backward()
    assert _bn_mean(enc) == before
    assert model.encode(images).shape == (2, 4, 32)     # 64 px / stride 32 = 2 x 2 grid
    assert enc.proj.weight.grad is not None
    assert all(p.grad is None for p in enc.backbone.parameters())


def _bn_mean(enc):
    bn = [m for m in enc.backbone.modules() if isinstance(m, torch.nn.BatchNorm2d)][0]
    return float(bn.running_mean.sum())


@pytest.mark.parametrize("decoder", ["transformer", "lstm"])
def test_select_state_keeps_image_features_once_and_rows_grouped(decoder):
    model = _model(decoder)
    images, _ = _data(b=2)
    with torch.no_grad():
        state = model.init_state(model.encode(images))
        rep = model.select_state(state, torch.tensor([0, 0, 0, 1, 1, 1]))      # 3 beams per image
        kept = [k for k in state if state[k].shape[0] == 2 and rep[k] is state[k]]
        assert kept                                                           # memory-derived: not copied
        swapped = model.select_state(rep, torch.tensor([2, 0, 1, 5, 5, 3]))   # reorder within each image: fine
        assert all(swapped[k].shape[0] in (2, 6) for k in swapped)
        with pytest.raises(ValueError):
            model.select_state(rep, torch.tensor([3, 1, 2, 0, 4, 5]))        # a beam moved to the other image
