"""Caption-conditioned GAN: text encoders, conditional generator, projection discriminator."""

from __future__ import annotations

import torch
from torch import nn

from vislang.models import conditional_gan as cg
from vislang.models import dcgan


def test_gru_encoder_ignores_trailing_padding_and_sees_order():
    torch.manual_seed(0)
    enc = cg.GRUTextEncoder(20, embed_dim=8, dim=16, pad_id=0)
    a = torch.tensor([[5, 6, 7, 0, 0]])
    b = torch.tensor([[5, 6, 7]])
    assert torch.allclose(enc(a), enc(b), atol=1e-6)
    # the state after the last token equals a step-by-step GRUCell run with the same weights
    cell = nn.GRUCell(8, 16)
    cell.weight_ih.data, cell.weight_hh.data = enc.gru.weight_ih_l0.data, enc.gru.weight_hh_l0.data
    cell.bias_ih.data, cell.bias_hh.data = enc.gru.bias_ih_l0.data, enc.gru.bias_hh_l0.data
    h = torch.zeros(1, 16)
    for t in b[0]:
        h = cell(enc.embed(t.view(1)), h)
    assert torch.allclose(enc(b), h, atol=1e-6)
    assert not torch.allclose(enc(torch.tensor([[7, 6, 5]])), enc(b), atol=1e-4)


def test_mean_pool_encoder_is_a_masked_mean():
    torch.manual_seed(0)
    enc = cg.MeanPoolTextEncoder(20, embed_dim=8, dim=4)
    tok = torch.tensor([[5, 6, 0], [7, 0, 0]])
    e = enc.embed.weight
    expect = torch.stack([(e[5] + e[6]) / 2, e[7]]) @ enc.proj.weight.T + enc.proj.bias
    assert torch.allclose(enc(tok), expect, atol=1e-6)
    assert torch.allclose(enc(torch.tensor([[6, 5]])), enc(torch.tensor([[5, 6]])), atol=1e-6)


def test_projection_discriminator_is_psi_plus_inner_product():
    torch.manual_seed(0)
    g, d = cg.build_conditional(30, size=32, ngf=8, ndf=8)
    tok = torch.randint(4, 30, (3, 6))
    x = torch.randn(3, 3, 32, 32)
    d.eval()
    out = d(x, tok)
    feat = d.net.features(x).flatten(1)  # phi(x): N x (ndf*4*16)
    psi = feat @ d.net.head.weight.reshape(-1)  # the 4x4 valid conv is a linear map of the flattened features
    proj = (d.text(tok) @ d.proj.weight.T * feat).sum(1)
    assert torch.allclose(out, psi + proj, atol=1e-5)
    assert feat.shape[1] == 8 * 4 * 16


def test_conditional_generator_depends_on_the_caption():
    torch.manual_seed(0)
    g, _ = cg.build_conditional(30, size=32, ngf=8, ndf=8)
    g.eval()
    z = torch.randn(2, 100)
    a = g(z, torch.tensor([[5, 6, 7], [5, 6, 7]]))
    b = g(z, torch.tensor([[8, 9, 7], [8, 9, 7]]))
    assert a.shape == (2, 3, 32, 32) and a.abs().max() <= 1
    assert not torch.allclose(a, b)
    # the image part is the DCGAN generator with nz + cond_dim inputs
    assert g.net.main[0].in_channels == 100 + 64


class _Tower(nn.Module):
    """A stand-in for another text tower: any module with .dim mapping tokens to vectors plugs in."""

    dim = 12

    def __init__(self):
        super().__init__()
        self.table = nn.Embedding(30, 12)

    def forward(self, tokens):
        return self.table(tokens).sum(1)


def test_pluggable_text_encoder():
    torch.manual_seed(0)
    g = cg.ConditionalGenerator(_Tower(), size=32, ngf=8)
    d = cg.ProjectionDiscriminator(_Tower(), size=32, ndf=8, spectral_norm=True)
    g.net.apply(dcgan.weights_init)
    tok = torch.randint(1, 30, (2, 4))
    x = g(torch.randn(2, 100), tok)
    out = d(x, tok)
    out.sum().backward()
    assert out.shape == (2,) and g.text.table.weight.grad is not None


def test_frozen_text_encoder_scales_and_stays_frozen():
    torch.manual_seed(0)
    tower = _Tower()
    fe = cg.FrozenTextEncoder(tower, 12)
    tok = torch.randint(1, 30, (3, 4))
    raw = tower.table(tok).sum(1)
    expect = raw / raw.norm(dim=1, keepdim=True) * 12 ** 0.5
    assert torch.allclose(fe(tok), expect, atol=1e-6)
    assert not any(p.requires_grad for p in fe.parameters())
    fe.train()
    assert fe.training and not tower.training  # a frozen tower stays in eval mode


def test_shared_frozen_encoder_takes_tokens_or_embeddings():
    torch.manual_seed(0)
    fe = cg.FrozenTextEncoder(_Tower(), 12)
    g, d = cg.build_conditional(30, size=32, ngf=8, ndf=8, frozen_text=fe)
    assert g.text is fe and d.text is fe
    g.eval()
    d.eval()
    tok = torch.randint(1, 30, (3, 4))
    z = torch.randn(3, 100)
    emb = fe(tok)
    x = g(z, tok)
    assert torch.equal(x, g(z, emb))
    # D projects the unit-norm embedding: psi(phi(x)) + <V e / |e|, phi(x)>, V ~ N(0, 0.02)
    feat = d.net.features(x).flatten(1)
    psi = feat @ d.net.head.weight.reshape(-1)
    unit = emb / emb.norm(dim=1, keepdim=True)
    assert torch.allclose(d(x, tok), psi + (unit @ d.proj.weight.T * feat).sum(1), atol=1e-5)
    assert torch.allclose(d(x, emb), d(x, tok), atol=1e-6)
    assert 0.018 < float(d.proj.weight.detach().std()) < 0.022  # 12 x 512 draws of N(0, 0.02)
