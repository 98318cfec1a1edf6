"""A caption-conditioned DCGAN: text encoder, conditional generator, projection discriminator.

* The **text encoder** maps token ids (N x L LongTensor, padded with ``pad_id``) to a
  vector (N x ``dim``).  Any module with that signature and a ``dim`` attribute plugs
  in (e.g. a pretrained text tower, frozen or not); the built-in ones are
  :class:`GRUTextEncoder` (embedding + GRU, the state after the last real token; it
  sees word order, so "a red circle above a blue square" differs from its mirror) and
  :class:`MeanPoolTextEncoder` (a bag of words).
* The **generator** is the DCGAN generator whose input is ``[z, c]``: the noise and a
  learned projection ``c`` of the caption embedding (Reed et al. 2016, "Generative
  adversarial text to image synthesis", concatenate the text code with z).
* The **discriminator** is the projection discriminator (Miyato & Koyama 2018, "cGANs
  with projection discriminator"): ``D(x, y) = psi(phi(x)) + <V e(y), phi(x)>``, where
  ``phi(x)`` is the DCGAN discriminator's 4x4 feature map (flattened), ``psi`` the
  DCGAN head (a 4x4 valid convolution, i.e. a linear map of ``phi``) and ``V e(y)`` a
  linear map of the caption embedding.  It returns logits, so the unconditional losses
  in :mod:`vislang.models.gan_losses` apply unchanged.

Generator and discriminator each own a text encoder (trained by their own losses), except a
:class:`FrozenTextEncoder`: a pretrained text tower (e.g. the text tower of the shipped scenes
dual encoder, :mod:`vislang.models.dual_encoder`), frozen and shared by both, which gives the
caption a meaningful embedding from step 0.  Because it is frozen, its embedding of a caption never
changes, so G and D also accept the embedding itself (float ``N x dim``) in place of the token ids
(the trainer computes each training caption's embedding once).
"""

from __future__ import annotations

import torch
from torch import nn

from vislang.models.dcgan import Discriminator, Generator, weights_init


class GRUTextEncoder(nn.Module):
    """Embedding + one-layer GRU; the output is the hidden state after the last non-pad token."""

    def __init__(self, vocab_size: int, embed_dim: int = 64, dim: int = 128, pad_id: int = 0):
        super().__init__()
        self.pad_id, self.dim = pad_id, dim
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)
        self.gru = nn.GRU(embed_dim, dim, batch_first=True)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(self.embed(tokens))  # N x L x dim; trailing pads do not change earlier states
        last = (tokens != self.pad_id).sum(1).clamp(min=1) - 1
        return out[torch.arange(tokens.shape[0], device=tokens.device), last]


class MeanPoolTextEncoder(nn.Module):
    """The mean of the non-pad token embeddings, then a linear layer (order-blind)."""

    def __init__(self, vocab_size: int, embed_dim: int = 64, dim: int = 128, pad_id: int = 0):
        super().__init__()
        self.pad_id, self.dim = pad_id, dim
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)
        self.proj = nn.Linear(embed_dim, dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        mask = (tokens != self.pad_id).unsqueeze(-1).to(self.embed.weight.dtype)
        pooled = (self.embed(tokens) * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return self.proj(pooled)


TEXT_ENCODERS = {"gru": GRUTextEncoder, "mean": MeanPoolTextEncoder}


class FrozenTextEncoder(nn.Module):
    """A pretrained text tower (tokens -> N x ``dim``), frozen: no gradients, always in eval mode.

    The output is the tower's embedding scaled to norm ``sqrt(dim)`` (unit-variance entries on
    average), so a unit-norm embedding (a dual encoder's) is on the scale of the noise ``z``.
    """

    def __init__(self, tower: nn.Module, dim: int):
        super().__init__()
        self.tower, self.dim = tower, dim
        self.tower.requires_grad_(False)
        self.tower.eval()

    def train(self, mode: bool = True):  # noqa: D102 - stays in eval mode (frozen)
        super().train(mode)
        self.tower.eval()
        return self

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            e = self.tower(tokens)
        return nn.functional.normalize(e, dim=-1) * self.dim ** 0.5


def embed_caption(text: nn.Module, cond: torch.Tensor) -> torch.Tensor:
    """The caption embedding: ``text(cond)`` for token ids, ``cond`` itself for a precomputed float embedding."""
    return cond if cond.is_floating_point() else text(cond)


class ConditionalGenerator(nn.Module):
    """(z, tokens) -> images: the DCGAN generator fed ``[z, LeakyReLU(W e(tokens))]``."""

    def __init__(self, text_encoder: nn.Module, size: int = 64, nz: int = 100, ngf: int = 64, nc: int = 3,
                 cond_dim: int = 64):
        super().__init__()
        self.size, self.nz, self.nc = size, nz, nc
        self.text = text_encoder
        self.cond = nn.Sequential(nn.Linear(text_encoder.dim, cond_dim), nn.LeakyReLU(0.2, inplace=True))
        self.net = Generator(size, nz + cond_dim, ngf, nc)

    def forward(self, z: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        if z.dim() == 4:
            z = z.flatten(1)
        c = self.cond(embed_caption(self.text, tokens))
        return self.net(torch.cat([z, c], dim=1))


class ProjectionDiscriminator(nn.Module):
    """(images, tokens) -> logits: ``psi(phi(x)) + <V e(y), phi(x)>`` (Miyato & Koyama 2018)."""

    def __init__(self, text_encoder: nn.Module, size: int = 64, ndf: int = 64, nc: int = 3,
                 spectral_norm: bool = False):
        super().__init__()
        self.size, self.nc = size, nc
        self.text = text_encoder
        self.net = Discriminator(size, ndf, nc, spectral_norm)
        n_feat = self.net.feature_channels * 16  # the 4x4 feature map, flattened
        proj = nn.Linear(text_encoder.dim, n_feat, bias=False)
        # a frozen encoder's embedding (norm sqrt(dim)) is projected at unit norm, with V ~ N(0, 0.02) (the
        # recipe's init), so the projection term starts on the scale of the unconditional logit
        self.text_scale = text_encoder.dim ** -0.5 if isinstance(text_encoder, FrozenTextEncoder) else 1.0
        if isinstance(text_encoder, FrozenTextEncoder):
            nn.init.normal_(proj.weight, 0.0, 0.02)
        self.proj = nn.utils.parametrizations.spectral_norm(proj) if spectral_norm else proj

    def forward(self, x: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        feat = self.net.features(x)
        uncond = self.net.head(feat).reshape(-1)
        e = embed_caption(self.text, tokens)
        if self.text_scale != 1.0:
            e = e * self.text_scale
        return uncond + (self.proj(e) * feat.flatten(1)).sum(1)


def build_conditional(vocab_size: int, size: int = 64, nz: int = 100, ngf: int = 64, ndf: int = 64, nc: int = 3,
                      text_encoder: str = "gru", text_dim: int = 128, embed_dim: int = 64, cond_dim: int = 64,
                      pad_id: int = 0, spectral_norm: bool = False,
                      frozen_text: FrozenTextEncoder | None = None) -> tuple[ConditionalGenerator, ProjectionDiscriminator]:
    """A freshly initialised conditional pair; each side gets its own text encoder of kind ``text_encoder``,
    or both share ``frozen_text`` (a :class:`FrozenTextEncoder`; ``text_encoder`` and ``text_dim`` are then unused)."""
    if frozen_text is not None:
        g = ConditionalGenerator(frozen_text, size, nz, ngf, nc, cond_dim)
        d = ProjectionDiscriminator(frozen_text, size, ndf, nc, spectral_norm)
    else:
        enc = TEXT_ENCODERS[text_encoder]
        g = ConditionalGenerator(enc(vocab_size, embed_dim, text_dim, pad_id), size, nz, ngf, nc, cond_dim)
        d = ProjectionDiscriminator(enc(vocab_size, embed_dim, text_dim, pad_id), size, ndf, nc, spectral_norm)
    g.net.apply(weights_init)
    d.net.apply(weights_init)
    return g, d
