"""A dual encoder (image tower + text tower in one embedding space), trained contrastively.

``DualEncoder(DualEncoderConfig(vocab_size=...))`` maps uint8 images ``N x 3 x H x W`` and token
ids ``N x L`` (a :class:`vislang.data.vocab.Vocab` encoding, ``<pad>`` = ``pad_id``) to unit-norm
embeddings of size ``embed_dim``; the cosine of an image and a caption is their dot product.

Image tower, ``image_pool="flatten"`` (the shipped model): four stride-2 conv blocks
(BatchNorm, ReLU) bring a 64-px image to a 4 x 4 grid; the grid is *flattened* (not pooled) before
an MLP projection, so the embedding keeps where things are.  ``image_pool="attention"``
(an option for relation experiments, docs/consistency.md): the conv blocks give a ``grid x grid``
map of feature vectors (4 x 4 for a 64-px image: four stride-2 blocks; 8 x 8 with ``grid=8``: the
last block keeps the resolution); each becomes a token with a learned 2-D position embedding (row + column), a learned ``[CLS]`` token is
prepended, ``image_layers`` pre-LN Transformer layers let objects attend to each other (so "what
is where" and "which is left of which" become features, as in ViT, Dosovitskiy et al. 2021), and
the ``[CLS]`` output is projected.  Other sizes are resized (bilinear, antialiased) to
``image_size`` first.

Text tower (``"transformer"``): word + learned position embeddings, a pre-LN Transformer encoder
(bidirectional, padding masked), then ``text_pool="mean"`` (masked mean over tokens) or
``"first"`` (the output at the first token, ``<start>``, which attends to the whole caption,
as BERT's ``[CLS]``), a linear projection.  Mean pooling blurs word order (which object is "left
of" which); the first-token readout keeps it.

Loss (:func:`info_nce`): the symmetric InfoNCE of CLIP (Radford et al. 2021, "Learning
Transferable Visual Models From Natural Language Supervision", Fig. 3): cross-entropy of the
``B x B`` image-text similarity matrix scaled by ``exp(logit_scale)`` over rows and over columns,
averaged. ``logit_scale`` is learnable, starts at ``log(1 / 0.07)`` and is clamped to
``log(100)`` (as in the paper). Optional hard negatives: extra captions (e.g. a caption with
one word changed, :func:`vislang.data.scene_text.perturb_caption`) join the candidate texts of
the image-to-text direction only, so each image must prefer its true caption over its foil.
:func:`pair_loss` adds two-way contrasts (true vs foil, a scene vs its mirror) for each hard case.

Models never touch files: :mod:`vislang.train.dual_encoder` saves and loads them.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

LOGIT_SCALE_INIT = math.log(1 / 0.07)
LOGIT_SCALE_MAX = math.log(100.0)


@dataclasses.dataclass
class DualEncoderConfig:
    vocab_size: int
    embed_dim: int = 128
    image_size: int = 64
    cnn_width: int = 32            # channels of the first conv block (doubled twice, capped at 4x)
    grid: int = 4                  # the CNN's last feature map is pooled to grid x grid, then flattened
    d_model: int = 128             # text tower width
    layers: int = 2
    heads: int = 4
    ff_mult: int = 4
    max_len: int = 32              # tokens including <start>/<end>
    dropout: float = 0.0
    pad_id: int = 0
    image_pool: str = "flatten"    # "flatten" (4 x 4 grid -> MLP) or "attention" (8 x 8 tokens -> Transformer, [CLS])
    image_layers: int = 2          # Transformer layers of the "attention" image tower
    text_pool: str = "mean"        # "mean" (masked mean over tokens) or "first" (the <start> token's output)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DualEncoderConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def _conv(cin: int, cout: int, k: int = 3, stride: int = 2) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def _scaled(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 images as floats in [-1, 1], resized (bilinear, antialiased) to ``size`` x ``size`` if needed."""
    x = images.float() / 127.5 - 1.0
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return x


class ImageTower(nn.Module):
    """uint8 images -> embeddings (not normalised)."""

    def __init__(self, cfg: DualEncoderConfig):
        super().__init__()
        w = cfg.cnn_width
        self.image_size, self.grid = cfg.image_size, cfg.grid
        self.features = nn.Sequential(_conv(3, w, 5), _conv(w, 2 * w), _conv(2 * w, 4 * w), _conv(4 * w, 4 * w))
        self.proj = nn.Sequential(nn.Flatten(), nn.Linear(4 * w * cfg.grid * cfg.grid, 2 * cfg.embed_dim),
                                  nn.ReLU(inplace=True), nn.Linear(2 * cfg.embed_dim, cfg.embed_dim))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.features(_scaled(images, self.image_size))
        if x.shape[-1] != self.grid:
            x = F.adaptive_avg_pool2d(x, self.grid)
        return self.proj(x)


class AttentionImageTower(nn.Module):
    """uint8 images -> embeddings: a CNN grid as tokens + 2-D positions, Transformer, ``[CLS]`` readout."""

    def __init__(self, cfg: DualEncoderConfig):
        super().__init__()
        w, d = cfg.cnn_width, cfg.d_model
        self.image_size, self.grid = cfg.image_size, cfg.grid
        last = 2 if cfg.grid <= cfg.image_size // 16 else 1  # a 64-px image: 4 x 4 tokens, or 8 x 8 with grid=8
        self.features = nn.Sequential(_conv(3, w, 5), _conv(w, 2 * w), _conv(2 * w, 4 * w), _conv(4 * w, 4 * w, stride=last))
        self.tokens = nn.Linear(4 * w, d)
        self.row = nn.Parameter(torch.zeros(self.grid, 1, d))
        self.col = nn.Parameter(torch.zeros(1, self.grid, d))
        self.cls = nn.Parameter(torch.zeros(1, 1, d))
        for p in (self.row, self.col, self.cls):
            nn.init.normal_(p, std=0.02)
        layer = nn.TransformerEncoderLayer(d, cfg.heads, cfg.ff_mult * d, cfg.dropout, batch_first=True,
                                           norm_first=True, activation="gelu")
        self.encoder = nn.TransformerEncoder(layer, cfg.image_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.proj = nn.Linear(d, cfg.embed_dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.features(_scaled(images, self.image_size))
        if x.shape[-1] != self.grid or x.shape[-2] != self.grid:
            x = F.adaptive_avg_pool2d(x, self.grid)
        x = self.tokens(x.flatten(2).transpose(1, 2)) + (self.row + self.col).reshape(1, -1, self.row.shape[-1])
        x = torch.cat([self.cls.expand(len(x), -1, -1), x], dim=1)
        return self.proj(self.norm(self.encoder(x))[:, 0])


class TextTower(nn.Module):
    """Token ids (``pad_id`` padded) -> embeddings (not normalised)."""

    def __init__(self, cfg: DualEncoderConfig):
        super().__init__()
        self.pad_id, self.max_len, self.pool = cfg.pad_id, cfg.max_len, cfg.text_pool
        if cfg.text_pool not in ("mean", "first"):
            raise ValueError(f"text_pool={cfg.text_pool!r}: expected 'mean' or 'first'")
        self.tok = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos = nn.Parameter(torch.zeros(cfg.max_len, cfg.d_model))
        nn.init.normal_(self.pos, std=0.02)
        layer = nn.TransformerEncoderLayer(cfg.d_model, cfg.heads, cfg.ff_mult * cfg.d_model, cfg.dropout,
                                           batch_first=True, norm_first=True, activation="gelu")
        self.encoder = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.embed_dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        tokens = tokens[:, :self.max_len]
        pad = tokens == self.pad_id
        x = self.tok(tokens) + self.pos[:tokens.shape[1]]
        x = self.norm(self.encoder(x, src_key_padding_mask=pad))
        if self.pool == "first":
            return self.proj(x[:, 0])
        keep = (~pad).unsqueeze(-1).to(x.dtype)
        x = (x * keep).sum(1) / keep.sum(1).clamp_min(1.0)
        return self.proj(x)


class DualEncoder(nn.Module):
    def __init__(self, cfg: DualEncoderConfig):
        super().__init__()
        self.config = cfg
        if cfg.image_pool not in ("flatten", "attention"):
            raise ValueError(f"image_pool={cfg.image_pool!r}: expected 'flatten' or 'attention'")
        self.image = ImageTower(cfg) if cfg.image_pool == "flatten" else AttentionImageTower(cfg)
        self.text = TextTower(cfg)
        self.logit_scale = nn.Parameter(torch.tensor(LOGIT_SCALE_INIT))

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """Unit-norm embeddings of uint8 ``N x 3 x H x W`` RGB images."""
        return F.normalize(self.image(images), dim=-1)

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        """Unit-norm embeddings of token ids ``N x L``."""
        return F.normalize(self.text(tokens), dim=-1)

    def scale(self) -> torch.Tensor:
        """``exp(logit_scale)``, the inverse temperature, clamped at 100."""
        return self.logit_scale.clamp(max=LOGIT_SCALE_MAX).exp()

    def forward(self, images: torch.Tensor, tokens: torch.Tensor, hard_tokens: torch.Tensor | None = None):
        """``(image_emb, text_emb, hard_emb | None)``."""
        hard = self.encode_text(hard_tokens) if hard_tokens is not None else None
        return self.encode_image(images), self.encode_text(tokens), hard


def info_nce(image_emb: torch.Tensor, text_emb: torch.Tensor, scale: torch.Tensor | float,
             hard_emb: torch.Tensor | None = None) -> torch.Tensor:
    """Symmetric InfoNCE: row ``i`` of ``image_emb`` matches row ``i`` of ``text_emb``.

    ``loss = (CE(s * I T^T, diag) + CE(s * T I^T, diag)) / 2``; with ``hard_emb`` (``K x D``, extra
    negative texts) the image-to-text logits are ``s * I [T; H]^T`` (``B x (B + K)``).
    """
    logits = scale * image_emb @ text_emb.t()
    target = torch.arange(len(image_emb), device=image_emb.device)
    i2t = logits if hard_emb is None else torch.cat([logits, scale * image_emb @ hard_emb.t()], dim=1)
    return 0.5 * (F.cross_entropy(i2t, target) + F.cross_entropy(logits.t(), target))


def pair_loss(image_emb: torch.Tensor, text_emb: torch.Tensor, scale: torch.Tensor | float,
              hard_emb: torch.Tensor | None = None, hard_owner: torch.Tensor | None = None,
              mirror_pairs: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """Two-way contrasts that InfoNCE dilutes among the whole batch: the mean over all of them of
    ``-log(e^{s a} / (e^{s a} + e^{s b}))`` = ``softplus(s (b - a))``, ``a`` the true pair's cosine and
    ``b`` the hard one's.

    * foils: image ``hard_owner[k]`` against its caption and its foil ``hard_emb[k]``;
    * mirrored pairs ``(p, q)`` (rows p and q are a scene and its mirror): caption p prefers image p
      to image q, image p prefers caption p to caption q, and the same for q (four terms a pair).

    This is NegCLIP's idea (Yuksekgonul et al. 2023, "When and why vision-language models behave like
    bags-of-words") made pairwise, so each hard case gets a gradient of order one, not ``1 / batch``.
    Zero (a tensor) when there is nothing to contrast.
    """
    pos = scale * (image_emb * text_emb).sum(-1)
    terms = []
    if hard_emb is not None and len(hard_emb):
        owner = hard_owner if hard_owner is not None else torch.arange(len(hard_emb), device=hard_emb.device)
        terms.append(F.softplus(scale * (image_emb[owner] * hard_emb).sum(-1) - pos[owner]))
    if mirror_pairs is not None and len(mirror_pairs[0]):
        p, q = mirror_pairs
        img_p_txt_q = scale * (image_emb[p] * text_emb[q]).sum(-1)
        img_q_txt_p = scale * (image_emb[q] * text_emb[p]).sum(-1)
        terms += [F.softplus(img_q_txt_p - pos[p]), F.softplus(img_p_txt_q - pos[q]),   # captions choose images
                  F.softplus(img_p_txt_q - pos[p]), F.softplus(img_q_txt_p - pos[q])]   # images choose captions
    if not terms:
        return pos.sum() * 0.0
    return torch.cat(terms).mean()
