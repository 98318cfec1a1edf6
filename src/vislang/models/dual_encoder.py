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
the ``[CLS]`` output is projected.  ``image_pool="keypoints"`` (the shipped model): the flatten
tower plus spatial soft-argmax keypoints on a 16 x 16 map with CoordConv channels
(:class:`KeypointImageTower`), so "x of the red thing minus x of the blue thing" is a linear
feature.  Other sizes are resized (bilinear, antialiased) to ``image_size`` first.

Text tower (``"transformer"``): word + learned position embeddings, a pre-LN Transformer encoder
(bidirectional, padding masked), then ``text_pool="mean"`` (masked mean over tokens) or
``"first"`` (the output at the first token, ``<start>``, which attends to the whole caption,
as BERT's ``[CLS]``), ``"gru"`` (a bidirectional GRU's final states) or ``"keypoints"`` (the
shipped model: the mean plus a soft-argmax over tokens -- each token gets a contextual position, each
channel a score -- the text twin of the image keypoints), then a projection.  Mean pooling blurs word
order (which object is "left of" which); the other readouts keep it, but only ``"keypoints"`` learned
to read relations in a way that generalises to new captions (docs/consistency.md).

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
    image_pool: str = "flatten"    # "flatten" (4 x 4 grid -> MLP), "attention" (tokens -> Transformer, [CLS])
    #                                or "keypoints" (flatten + spatial soft-argmax keypoints, CoordConv input)
    image_layers: int = 2          # Transformer layers of the "attention" image tower
    keypoints: int = 32            # soft-argmax channels of the "keypoints" image tower
    text_pool: str = "mean"        # "mean" (masked mean over tokens), "first" (the <start> token's output),
    #                                "gru" (a bidirectional GRU over the Transformer's outputs, final states)
    #                                or "keypoints" (mean + soft-argmax over tokens; the shipped model)

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


def _coords(n: int, h: int, w: int, like: torch.Tensor) -> torch.Tensor:
    """CoordConv channels (Liu et al. 2018): ``n x 2 x h x w``, x then y, each from -1 (left / top) to 1."""
    ys = torch.linspace(-1.0, 1.0, h, device=like.device, dtype=like.dtype)
    xs = torch.linspace(-1.0, 1.0, w, device=like.device, dtype=like.dtype)
    grid = torch.stack([xs.expand(h, w), ys[:, None].expand(h, w)])
    return grid.expand(n, 2, h, w)


class KeypointImageTower(nn.Module):
    """uint8 images -> embeddings: the flatten tower's 4 x 4 grid plus ``keypoints`` spatial soft-argmax
    points, so positions of things can be compared by a linear map.

    The input and the 16 x 16 map after two stride-2 blocks get CoordConv channels (x, y in [-1, 1];
    Liu et al. 2018, "An intriguing failing of convolutional neural networks and the CoordConv
    solution"); a 3 x 3 conv and a 1 x 1 conv give ``keypoints`` score maps; for each, a softmax over
    the positions gives the expected (x, y) (the spatial soft-argmax of Levine, Finn et al. 2016,
    "End-to-End Training of Deep Visuomotor Policies", and Finn et al. 2016, "Deep Spatial
    Autoencoders") and its largest score says whether the thing it detects is there.  When a channel
    learns to fire on, say, red things, "the red thing is left of the blue thing" is ``x_blue - x_red > 0``:
    one unit of the projection MLP.  ``[x, y, presence]`` of every channel (batch-normalised) join the
    flattened 4 x 4 grid in that MLP.
    """

    def __init__(self, cfg: DualEncoderConfig):
        super().__init__()
        w, k = cfg.cnn_width, cfg.keypoints
        self.image_size, self.grid = cfg.image_size, cfg.grid
        self.stem = nn.Sequential(_conv(3 + 2, w, 5), _conv(w, 2 * w))
        self.points = nn.Sequential(nn.Conv2d(2 * w + 2, 2 * w, 3, 1, 1, bias=False), nn.BatchNorm2d(2 * w),
                                    nn.ReLU(inplace=True), nn.Conv2d(2 * w, k, 1))
        self.rest = nn.Sequential(_conv(2 * w, 4 * w), _conv(4 * w, 4 * w))
        self.point_norm = nn.BatchNorm1d(3 * k)
        self.proj = nn.Sequential(nn.Linear(4 * w * cfg.grid * cfg.grid + 3 * k, 2 * cfg.embed_dim),
                                  nn.ReLU(inplace=True), nn.Linear(2 * cfg.embed_dim, cfg.embed_dim))

    def keypoints(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(x, y, presence)``, each ``N x keypoints``, and the 16 x 16 feature map (for :meth:`forward`)."""
        x = _scaled(images, self.image_size)
        f = self.stem(torch.cat([x, _coords(len(x), x.shape[-2], x.shape[-1], x)], 1))
        h, w = f.shape[-2:]
        c = _coords(len(f), h, w, f)
        scores = self.points(torch.cat([f, c], 1)).flatten(2)            # N x K x HW
        attn = scores.softmax(-1)
        px = (attn * c[:, 0].reshape(len(f), 1, -1)).sum(-1)
        py = (attn * c[:, 1].reshape(len(f), 1, -1)).sum(-1)
        return px, py, scores.amax(-1), f

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        px, py, presence, f = self.keypoints(images)
        g = self.rest(f)
        if g.shape[-1] != self.grid:
            g = F.adaptive_avg_pool2d(g, self.grid)
        return self.proj(torch.cat([g.flatten(1), self.point_norm(torch.cat([px, py, presence], 1))], 1))


class TextTower(nn.Module):
    """Token ids (``pad_id`` padded) -> embeddings (not normalised)."""

    def __init__(self, cfg: DualEncoderConfig):
        super().__init__()
        self.pad_id, self.max_len, self.pool = cfg.pad_id, cfg.max_len, cfg.text_pool
        if cfg.text_pool not in ("mean", "first", "gru", "keypoints"):
            raise ValueError(f"text_pool={cfg.text_pool!r}: expected 'mean', 'first', 'gru' or 'keypoints'")
        self.tok = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos = nn.Parameter(torch.zeros(cfg.max_len, cfg.d_model))
        nn.init.normal_(self.pos, std=0.02)
        layer = nn.TransformerEncoderLayer(cfg.d_model, cfg.heads, cfg.ff_mult * cfg.d_model, cfg.dropout,
                                           batch_first=True, norm_first=True, activation="gelu")
        self.encoder = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(cfg.d_model)
        if cfg.text_pool == "gru":
            self.gru = nn.GRU(cfg.d_model, cfg.d_model, batch_first=True, bidirectional=True)
            self.proj = nn.Linear(2 * cfg.d_model, cfg.embed_dim)
        elif cfg.text_pool == "keypoints":
            d, k = cfg.d_model, cfg.keypoints
            self.gru = nn.GRU(d, d, batch_first=True, bidirectional=True)
            self.where = nn.Linear(2 * d, 2)      # each token's (x, y) in the scene the caption describes
            self.what = nn.Linear(2 * d, k)       # each keypoint channel's score of each token
            self.point_norm = nn.BatchNorm1d(3 * k)
            self.proj = nn.Sequential(nn.Linear(d + 3 * k, 2 * cfg.embed_dim), nn.ReLU(inplace=True),
                                      nn.Linear(2 * cfg.embed_dim, cfg.embed_dim))
        else:
            self.proj = nn.Linear(cfg.d_model, cfg.embed_dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        tokens = tokens[:, :self.max_len]
        pad = tokens == self.pad_id
        x = self.tok(tokens) + self.pos[:tokens.shape[1]]
        x = self.norm(self.encoder(x, src_key_padding_mask=pad))
        if self.pool == "first":
            return self.proj(x[:, 0])
        if self.pool == "gru":  # final states of both directions over the unpadded tokens: order-sensitive
            _, h = self.gru(self._packed(x, pad))                      # 2 x N x d
            return self.proj(torch.cat([h[0], h[1]], -1))
        keep = (~pad).unsqueeze(-1).to(x.dtype)
        mean = (x * keep).sum(1) / keep.sum(1).clamp_min(1.0)
        if self.pool == "keypoints":
            return self.proj(torch.cat([mean, self._keypoints(x, pad)], 1))
        return self.proj(mean)

    @staticmethod
    def _packed(x: torch.Tensor, pad: torch.Tensor) -> nn.utils.rnn.PackedSequence:
        """``x`` (N x L x d) without its padded positions, for the GRU readouts."""
        lengths = (~pad).sum(1).clamp_min(1).cpu()
        return nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)

    def _keypoints(self, x: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        """Text keypoints, the image tower's soft-argmax over tokens: a bidirectional GRU reads the
        caption, each token gets a position ``tanh(where(h))`` (where the caption puts the thing it
        names) and per channel a score; a softmax over the tokens per channel gives the channel's
        expected position and its largest score its presence (``N x 3K``, batch-normalised)."""
        h, _ = self.gru(self._packed(x, pad))
        h, _ = nn.utils.rnn.pad_packed_sequence(h, batch_first=True, total_length=x.shape[1])
        where = torch.tanh(self.where(h))                                 # N x L x 2
        scores = self.what(h).masked_fill(pad.unsqueeze(-1), float("-inf"))  # N x L x K
        attn = scores.softmax(1)
        pos = torch.einsum("nlk,nlc->nkc", attn, where)                    # N x K x 2
        return self.point_norm(torch.cat([pos[..., 0], pos[..., 1], scores.amax(1)], 1))


class DualEncoder(nn.Module):
    def __init__(self, cfg: DualEncoderConfig):
        super().__init__()
        self.config = cfg
        towers = {"flatten": ImageTower, "attention": AttentionImageTower, "keypoints": KeypointImageTower}
        if cfg.image_pool not in towers:
            raise ValueError(f"image_pool={cfg.image_pool!r}: expected 'flatten', 'attention' or 'keypoints'")
        self.image = towers[cfg.image_pool](cfg)
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
