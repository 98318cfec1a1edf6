"""MobileNetV2 (Sandler et al. 2018, width 1.0) laid out so that torchvision's ImageNet state dict
(``mobilenet_v2-b0353104.pth``) loads with strict key matching.

Architecture facts (paper, Table 2): a 3x3 stride-2 stem to 32 channels; inverted-residual stages
(expansion t, channels c, repeats n, first stride s) = (1,16,1,1), (6,24,2,2), (6,32,3,2), (6,64,4,2),
(6,96,3,1), (6,160,3,2), (6,320,1,1); a 1x1 convolution to 1280 channels; global average pooling;
dropout 0.2 and a 1000-way linear classifier.  Every convolution is bias-free and followed by batch norm
(eps 1e-5); ReLU6 everywhere except after the projecting 1x1 of each block (linear bottleneck); a block
adds its input when stride is 1 and the channel count is unchanged.

State-dict keys (the torchvision layout): ``features.<i>.<j>...`` for the 19 feature stages
(``features.0`` the stem, ``features.1..17`` the blocks, ``features.18`` the last 1x1), each block's
layers under ``features.<i>.conv.<k>``; ``classifier.1.{weight,bias}``.  No file I/O here.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

FEATURE_DIM = 1280
NUM_CLASSES = 1000
SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


def _conv_bn_relu6(cin: int, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU6(inplace=True),
    )


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int):
        super().__init__()
        hidden = cin * expand
        self.residual = stride == 1 and cin == cout
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(_conv_bn_relu6(cin, hidden, kernel=1))
        layers += [
            _conv_bn_relu6(hidden, hidden, stride=stride, groups=hidden),  # depthwise
            nn.Conv2d(hidden, cout, 1, bias=False),  # linear bottleneck
            nn.BatchNorm2d(cout),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return x + y if self.residual else y


class MobileNetV2(nn.Module):
    """``embed(x)`` -> N x 1280 (global average pool); ``logits(pooled)`` -> N x 1000 ImageNet logits.
    ``x`` is an ImageNet-normalised N x 3 x H x W batch (224 x 224 for the published weights)."""

    def __init__(self, num_classes: int = NUM_CLASSES, dropout: float = 0.2):
        super().__init__()
        stages: list[nn.Module] = [_conv_bn_relu6(3, 32, stride=2)]
        cin = 32
        for t, c, n, s in SETTINGS:
            for i in range(n):
                stages.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        stages.append(_conv_bn_relu6(cin, FEATURE_DIM, kernel=1))
        self.features = nn.Sequential(*stages)  # the torchvision key prefix
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(FEATURE_DIM, num_classes))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1)

    def logits(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.classifier(pooled)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits(self.embed(x))


def build(sd: dict[str, torch.Tensor]) -> MobileNetV2:
    """An eval-mode model from a torchvision-layout state dict (strict: every key must match)."""
    model = MobileNetV2()
    model.load_state_dict(sd, strict=True)
    return model.eval().requires_grad_(False)
