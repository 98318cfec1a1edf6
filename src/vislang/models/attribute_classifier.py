"""A scene reader: which object (colour, shape, size) sits in each cell of the scenes' 3 x 3 grid.

``AttributeClassifier(AttributeConfig())`` maps uint8 images ``N x 3 x H x W`` (resized to
``image_size``) to logits per cell: colour (``none`` + 6 colours), shape (``none`` + 6), size
(``none`` + 2). Trained on real built-in scenes (:mod:`vislang.train.attribute_classifier`), it
reads generated images back into specs for the image-faithfulness check
(:mod:`vislang.metrics.consistency.faithfulness`). Same conv stack as the dual encoder's image tower.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from vislang.data.scene_spec import COLORS, GRID, SHAPES, SIZES

#: class lists per head; index 0 = no object in the cell
HEADS: dict[str, tuple[str, ...]] = {"color": ("none", *COLORS), "shape": ("none", *SHAPES), "size": ("none", *SIZES)}


@dataclasses.dataclass
class AttributeConfig:
    image_size: int = 64
    width: int = 16

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _conv(cin: int, cout: int, k: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, 2, k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class AttributeClassifier(nn.Module):
    def __init__(self, cfg: AttributeConfig = AttributeConfig()):
        super().__init__()
        self.config = cfg
        w = cfg.width
        self.features = nn.Sequential(_conv(3, w, 5), _conv(w, 2 * w), _conv(2 * w, 4 * w), _conv(4 * w, 4 * w))
        self.n_out = GRID * GRID * sum(len(v) for v in HEADS.values())
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(4 * w * 16, 256), nn.ReLU(inplace=True), nn.Linear(256, self.n_out))

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{head: N x 9 x classes}`` logits, cells in row-major order."""
        s = self.config.image_size
        x = images.float() / 127.5 - 1.0
        if x.shape[-2:] != (s, s):
            x = F.interpolate(x, size=(s, s), mode="bilinear", align_corners=False, antialias=True)
        x = self.features(x)
        if x.shape[-1] != 4:
            x = F.adaptive_avg_pool2d(x, 4)
        out = self.head(x).view(len(images), GRID * GRID, -1)
        res, start = {}, 0
        for name, classes in HEADS.items():
            res[name] = out[..., start:start + len(classes)]
            start += len(classes)
        return res
