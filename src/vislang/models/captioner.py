"""Image captioner: a CNN encoder that yields a grid of features and a word decoder that attends over it.

``Captioner(CaptionerConfig(vocab_size=..., decoder="transformer"|"lstm"))``.

Encoders
  * ``"cnn"`` (default): a small CNN trained from scratch -- four 3x3 conv blocks
    (BatchNorm, ReLU), three of them with stride 2, and a 1x1 conv, so a 64-px image
    becomes an 8 x 8 grid of ``d_model`` features.  Fast on CPU and enough for the built-in scenes.
  * a pretrained backbone (e.g. MobileNetV2 from :mod:`vislang.models.backbones`) wrapped
    by :class:`BackboneEncoder`: its last feature map is projected to ``d_model``;
    frozen (``freeze_encoder=True``, BatchNorm kept in eval mode) or fine-tuned.
    The caller builds the backbone (and loads its weights); models never touch files.

Every encoder adds a learned 2-D position embedding, so the decoder knows *where*
in the image each cell lies ("left of", "above").

Decoders (:mod:`vislang.models.caption_decoders`): a Transformer decoder with
cross-attention, or an LSTM with soft attention (Show, Attend and Tell).

Images enter as ``uint8`` ``N x 3 x H x W`` RGB and are resized (bilinear, antialiased)
to ``image_size`` inside :meth:`Captioner.encode`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from vislang.models.caption_decoders import AttentionLSTMDecoder, TransformerCaptionDecoder

#: ImageNet channel statistics (used by torchvision-format pretrained backbones).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclasses.dataclass
class CaptionerConfig:
    vocab_size: int
    decoder: str = "transformer"          # "transformer" | "lstm"
    encoder: str = "cnn"                  # "cnn" | a backbone name such as "mobilenet-v2"
    image_size: int = 64
    d_model: int = 192
    layers: int = 2                       # Transformer decoder layers
    heads: int = 4
    ff_mult: int = 4
    lstm_hidden: int = 384
    dropout: float = 0.1
    max_len: int = 24                     # tokens including <start> and <end>
    cnn_width: int = 32                   # channels of the first CNN block (doubles per stride)
    encoder_channels: int = 0             # a backbone's output channels (0 for "cnn")
    encoder_stride: int = 8               # image_size / grid side
    freeze_encoder: bool = False
    pad_id: int = 0

    def __post_init__(self):
        if self.decoder not in ("transformer", "lstm"):
            raise ValueError(f"decoder must be 'transformer' or 'lstm', got {self.decoder!r}")

    @property
    def grid(self) -> int:
        return max(1, self.image_size // self.encoder_stride)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "CaptionerConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def _block(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class SmallCNNEncoder(nn.Module):
    """Conv blocks ``3 -> w (s2) -> 2w (s2) -> 4w -> d (s2)`` plus a 1x1 conv: a stride-8 grid of ``d`` features.

    About 40 M multiply-adds for a 64-px image at ``w = 32``, ``d = 192``."""

    mean, std = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)

    def __init__(self, d_model: int, width: int = 32):
        super().__init__()
        self.net = nn.Sequential(
            _block(3, width, 2), _block(width, 2 * width, 2), _block(2 * width, 4 * width, 1),
            _block(4 * width, d_model, 2), nn.Conv2d(d_model, d_model, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class BackboneEncoder(nn.Module):
    """A pretrained feature-map backbone (``B x C x h x w`` out) projected to ``d_model`` by a 1x1 conv."""

    mean, std = IMAGENET_MEAN, IMAGENET_STD

    def __init__(self, backbone: nn.Module, channels: int, d_model: int, freeze: bool = True):
        super().__init__()
        self.backbone, self.freeze = backbone, freeze
        self.proj = nn.Conv2d(channels, d_model, 1)
        if freeze:
            for p in self.backbone.parameters():
                p.requires_grad_(False)

    def train(self, mode: bool = True):
        super().train(mode)
        if self.freeze:  # frozen backbone: BatchNorm statistics stay as trained
            self.backbone.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.freeze:
            with torch.no_grad():
                f = self.backbone(x)
        else:
            f = self.backbone(x)
        return self.proj(f)


class Captioner(nn.Module):
    """Encoder + decoder.  ``forward(images, tokens)`` gives teacher-forced logits; decoding lives in
    :mod:`vislang.models.decoding` and uses :meth:`encode`, :meth:`init_state`, :meth:`step`."""

    def __init__(self, config: CaptionerConfig, backbone: nn.Module | None = None):
        super().__init__()
        self.config = c = config
        if c.encoder == "cnn":
            self.encoder: nn.Module = SmallCNNEncoder(c.d_model, c.cnn_width)
        else:
            if backbone is None:
                raise ValueError(f"encoder {c.encoder!r} needs its backbone module (build it with vislang.weights)")
            self.encoder = BackboneEncoder(backbone, c.encoder_channels, c.d_model, c.freeze_encoder)
        self.grid_pos = nn.Parameter(torch.zeros(1, c.grid * c.grid, c.d_model))
        nn.init.normal_(self.grid_pos, std=0.02)
        self.mem_norm = nn.LayerNorm(c.d_model)
        if c.decoder == "transformer":
            self.decoder: nn.Module = TransformerCaptionDecoder(
                c.vocab_size, c.d_model, c.layers, c.heads, c.ff_mult, c.dropout, c.max_len, c.pad_id)
        else:
            self.decoder = AttentionLSTMDecoder(c.vocab_size, c.d_model, c.lstm_hidden, c.d_model,
                                                max(c.dropout, 0.0), c.pad_id)
        self.register_buffer("_mean", torch.tensor(self.encoder.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("_std", torch.tensor(self.encoder.std).view(1, 3, 1, 1), persistent=False)

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 ``N x 3 x H x W`` (or float in [0, 1]) -> normalised float at ``image_size``."""
        x = images.to(self._mean.device)
        x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
        s = self.config.image_size
        if x.shape[-2:] != (s, s):
            x = F.interpolate(x, size=(s, s), mode="bilinear", align_corners=False, antialias=True)
        return (x - self._mean) / self._std

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Image grid features ``B x N x d`` (position embedding added, layer-normalised)."""
        f = self.encoder(self.preprocess(images))
        f = f.flatten(2).transpose(1, 2)
        if f.shape[1] != self.grid_pos.shape[1]:
            raise ValueError(f"encoder grid has {f.shape[1]} cells, expected {self.grid_pos.shape[1]} "
                             f"(image_size {self.config.image_size}, stride {self.config.encoder_stride})")
        return self.mem_norm(f + self.grid_pos)

    def forward(self, images: torch.Tensor, tokens: torch.Tensor, repeat: int = 1):
        """Teacher forcing: ``tokens`` is ``(B * repeat) x T`` (``<start>`` ... ``<end>`` <pad>...), ``repeat``
        captions per image in a row; returns ``(logits (B * repeat) x (T-1) x V, aux)`` where ``logits[:, t]``
        predicts ``tokens[:, t+1]``.  Each image is encoded once."""
        memory = self.encode(images)
        if repeat > 1:
            memory = memory.repeat_interleave(repeat, 0)
        return self.decoder(memory, tokens[:, :-1])

    def init_state(self, memory: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.decoder.init_state(memory)

    def step(self, tokens: torch.Tensor, state: dict[str, torch.Tensor]):
        return self.decoder.step(tokens, state)

    def select_state(self, state: dict[str, torch.Tensor], index: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.decoder.select_state(state, index)


def sequence_logprob(model: Captioner, images: torch.Tensor, tokens: torch.Tensor, end_id: int) -> torch.Tensor:
    """Model log-probability of each caption in ``tokens`` (``B x T`` starting with ``<start>``) by teacher
    forcing: the sum over tokens up to and including the first ``<end>`` (or all, if none)."""
    logits, _ = model(images, tokens)
    logp = torch.log_softmax(logits.float(), -1).gather(-1, tokens[:, 1:, None]).squeeze(-1)
    target = tokens[:, 1:]
    is_end = (target == end_id).long()
    after_end = (is_end.cumsum(1) - is_end) > 0      # positions strictly after the first <end>
    return logp.masked_fill(after_end, 0.0).sum(1)
