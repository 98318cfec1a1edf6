"""The TensorFlow "2015-12-05" Inception-v3 graph as used for FID (pool3, 2048-d; optional 1008-way logits).

This is the network of ``inception-2015-12-05.tgz`` that TTUR's FID, clean-fid, StyleGAN's metrics,
pytorch-fid and torch-fidelity all use.  It differs from the Inception-v3 in the paper / in model zoos in
a few places that matter for reproducing FID (facts about the 2015 TF graph):

* every convolution is followed by batch normalisation with ``epsilon = 0.001`` and no learned scale
  (the scale is stored as ones in the ``.pth`` conversions), then ReLU;
* the pooling branch of the 35x35 / 17x17 / first 8x8 blocks (``Mixed_5b..5d``, ``Mixed_6b..6e``,
  ``Mixed_7b``) is a 3x3 average pool, stride 1, SAME padding, whose mean ignores the padded zeros
  (``count_include_pad=False``);
* the pooling branch of the last block (``Mixed_7c``) is a 3x3 *max* pool, stride 1, padding 1;
* pool3 is the 8x8 average of ``Mixed_7c`` (2048-d); the classifier has 1008 outputs.

The input is a 299 x 299 RGB image mapped to about [-1, 1]; the graph computes ``(x - 128) / 128`` from
[0, 255] (see :mod:`vislang.features`).  Resizing is not part of this module.

State-dict keys (vislang's canonical layout): ``<unit>.conv.weight`` and
``<unit>.bn.{weight,bias,running_mean,running_var}`` for each convolution unit, named by the TF-slim block
names (``Conv2d_1a_3x3``, ``Mixed_5b.branch1x1`` ...), plus ``fc.weight`` / ``fc.bias`` when the logits are
present.  It deliberately coincides with the key layout of the pytorch-fid / torch-fidelity ``.pth`` files
(less their ``num_batches_tracked`` counters), so those load with a trivial conversion;
:mod:`~vislang.models.backbones.inception_layouts` converts the NVlabs TorchScript layout.  No file
I/O here: see :mod:`vislang.weights`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

BN_EPS = 1e-3
FEATURE_DIM = 2048
NUM_CLASSES = 1008


class ConvUnit(nn.Module):
    """Convolution (no bias) + batch norm (eps 1e-3) + ReLU; :meth:`fold` merges the norm into the conv."""

    def __init__(self, cin: int, cout: int, kernel, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.folded = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.folded:
            return F.relu(self.conv(x), inplace=True)
        return F.relu(self.bn(self.conv(x)), inplace=True)

    @torch.no_grad()
    def fold(self) -> None:
        """Replace conv + BN by one conv with bias: w' = w * g / sqrt(v + eps), b' = beta - m * g / sqrt(v + eps)."""
        if self.folded:
            return
        bn, conv = self.bn, self.conv
        scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
        conv.weight = nn.Parameter((conv.weight.double() * scale.view(-1, 1, 1, 1)).float(), requires_grad=False)
        conv.bias = nn.Parameter((bn.bias.double() - bn.running_mean.double() * scale).float(), requires_grad=False)
        self.bn = nn.Identity()
        self.folded = True


def _avg3(x: torch.Tensor) -> torch.Tensor:
    # TF SAME average pool: the mean over the valid (unpadded) cells only.
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class _Block(nn.Module):
    """Base for the mixed blocks: the units that read the block input and are 1x1 convolutions with
    stride 1 can be merged into one convolution (one bigger matrix product) after folding."""

    heads: tuple[str, ...] = ()

    def fuse_heads(self) -> None:
        units = [getattr(self, n) for n in self.heads]
        if len(units) < 2 or not all(u.folded for u in units):
            return
        w = torch.cat([u.conv.weight for u in units], 0)
        b = torch.cat([u.conv.bias for u in units], 0)
        head = nn.utils.skip_init(nn.Conv2d, w.shape[1], w.shape[0], 1, bias=True, device=w.device)
        head.weight = nn.Parameter(w.detach(), requires_grad=False)
        head.bias = nn.Parameter(b.detach(), requires_grad=False)
        self._head = head
        self._split = [u.conv.out_channels for u in units]

    def run_heads(self, x: torch.Tensor) -> list[torch.Tensor]:
        if getattr(self, "_head", None) is not None:
            return list(torch.split(F.relu(self._head(x), inplace=True), self._split, 1))
        return [getattr(self, n)(x) for n in self.heads]


class BlockA(_Block):
    """35 x 35 block (Mixed_5b..5d)."""

    heads = ("branch1x1", "branch5x5_1", "branch3x3dbl_1")

    def __init__(self, cin: int, pool_features: int):
        super().__init__()
        self.branch1x1 = ConvUnit(cin, 64, 1)
        self.branch5x5_1 = ConvUnit(cin, 48, 1)
        self.branch5x5_2 = ConvUnit(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = ConvUnit(cin, 64, 1)
        self.branch3x3dbl_2 = ConvUnit(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = ConvUnit(96, 96, 3, padding=1)
        self.branch_pool = ConvUnit(cin, pool_features, 1)

    def forward(self, x):
        b1, b5, b3 = self.run_heads(x)
        b5 = self.branch5x5_2(b5)
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(b3))
        bp = self.branch_pool(_avg3(x))
        return torch.cat([b1, b5, b3, bp], 1)


class BlockB(_Block):
    """35 -> 17 reduction (Mixed_6a)."""

    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3 = ConvUnit(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = ConvUnit(cin, 64, 1)
        self.branch3x3dbl_2 = ConvUnit(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = ConvUnit(96, 96, 3, stride=2)

    def forward(self, x):
        b3 = self.branch3x3(x)
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([b3, bd, F.max_pool2d(x, 3, 2)], 1)


class BlockC(_Block):
    """17 x 17 block with factorised 7x7 convolutions (Mixed_6b..6e)."""

    heads = ("branch1x1", "branch7x7_1", "branch7x7dbl_1")

    def __init__(self, cin: int, c7: int):
        super().__init__()
        self.branch1x1 = ConvUnit(cin, 192, 1)
        self.branch7x7_1 = ConvUnit(cin, c7, 1)
        self.branch7x7_2 = ConvUnit(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = ConvUnit(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = ConvUnit(cin, c7, 1)
        self.branch7x7dbl_2 = ConvUnit(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = ConvUnit(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = ConvUnit(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = ConvUnit(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = ConvUnit(cin, 192, 1)

    def forward(self, x):
        b1, b7, bd = self.run_heads(x)
        b7 = self.branch7x7_3(self.branch7x7_2(b7))
        bd = self.branch7x7dbl_5(self.branch7x7dbl_4(self.branch7x7dbl_3(self.branch7x7dbl_2(bd))))
        bp = self.branch_pool(_avg3(x))
        return torch.cat([b1, b7, bd, bp], 1)


class BlockD(_Block):
    """17 -> 8 reduction (Mixed_7a)."""

    heads = ("branch3x3_1", "branch7x7x3_1")

    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3_1 = ConvUnit(cin, 192, 1)
        self.branch3x3_2 = ConvUnit(192, 320, 3, stride=2)
        self.branch7x7x3_1 = ConvUnit(cin, 192, 1)
        self.branch7x7x3_2 = ConvUnit(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = ConvUnit(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = ConvUnit(192, 192, 3, stride=2)

    def forward(self, x):
        b3, b7 = self.run_heads(x)
        b3 = self.branch3x3_2(b3)
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(b7)))
        return torch.cat([b3, b7, F.max_pool2d(x, 3, 2)], 1)


class BlockE(_Block):
    """8 x 8 block with split 1x3 / 3x1 outputs (Mixed_7b: average pool; Mixed_7c: max pool)."""

    heads = ("branch1x1", "branch3x3_1", "branch3x3dbl_1")

    def __init__(self, cin: int, max_pool: bool):
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = ConvUnit(cin, 320, 1)
        self.branch3x3_1 = ConvUnit(cin, 384, 1)
        self.branch3x3_2a = ConvUnit(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = ConvUnit(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = ConvUnit(cin, 448, 1)
        self.branch3x3dbl_2 = ConvUnit(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = ConvUnit(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = ConvUnit(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = ConvUnit(cin, 192, 1)

    def forward(self, x):
        b1, b3, bd = self.run_heads(x)
        bd = self.branch3x3dbl_2(bd)
        pooled = F.max_pool2d(x, 3, 1, 1) if self.max_pool else _avg3(x)
        return torch.cat([b1, self.branch3x3_2a(b3), self.branch3x3_2b(b3),
                          self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd),
                          self.branch_pool(pooled)], 1)


class InceptionV3FID(nn.Module):
    """FID Inception-v3.  ``embed(x)`` (alias ``features``) maps a normalised N x 3 x 299 x 299 batch to pool3 (N x 2048);
    ``logits(pool3)`` applies the 1008-way classifier (present only when ``with_logits``)."""

    def __init__(self, with_logits: bool = True):
        super().__init__()
        self.Conv2d_1a_3x3 = ConvUnit(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = ConvUnit(32, 32, 3)
        self.Conv2d_2b_3x3 = ConvUnit(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = ConvUnit(64, 80, 1)
        self.Conv2d_4a_3x3 = ConvUnit(80, 192, 3)
        self.Mixed_5b = BlockA(192, 32)
        self.Mixed_5c = BlockA(256, 64)
        self.Mixed_5d = BlockA(288, 64)
        self.Mixed_6a = BlockB(288)
        self.Mixed_6b = BlockC(768, 128)
        self.Mixed_6c = BlockC(768, 160)
        self.Mixed_6d = BlockC(768, 160)
        self.Mixed_6e = BlockC(768, 192)
        self.Mixed_7a = BlockD(768)
        self.Mixed_7b = BlockE(1280, max_pool=False)
        self.Mixed_7c = BlockE(2048, max_pool=True)
        self.fc = nn.Linear(FEATURE_DIM, NUM_CLASSES) if with_logits else None

    @property
    def has_logits(self) -> bool:
        return self.fc is not None

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, 2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, 3, 2)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                      self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = block(x)
        # pool3: the TF graph averages the whole 8 x 8 map (an 8x8 average pool at 299 x 299 input).
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)

    def logits(self, pool3: torch.Tensor) -> torch.Tensor:
        if self.fc is None:
            raise RuntimeError("these Inception weights have no 1008-way classifier")
        return self.fc(pool3)

    features = embed

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed(x)

    @torch.no_grad()
    def fold(self) -> "InceptionV3FID":
        """Fold every batch norm into its convolution and merge parallel 1x1 heads (inference only;
        the state dict is no longer canonical afterwards)."""
        for m in list(self.modules()):
            if isinstance(m, ConvUnit):
                m.fold()
        for m in self.modules():
            if isinstance(m, _Block):
                m.fuse_heads()
        return self


# The file layouts (TorchScript, pytorch-fid / torch-fidelity .pth) live in inception_layouts.
from vislang.models.backbones.inception_layouts import (  # noqa: E402  (re-exported)
    canonical_keys, check_canonical, from_pth_state_dict, from_torchscript_state_dict, to_pth_layout,
    to_torchscript_layout)


def build(sd: dict[str, torch.Tensor], fold: bool = True) -> InceptionV3FID:
    """An eval-mode model from a canonical state dict (folded for inference when ``fold``)."""
    with_logits = check_canonical(sd)
    with torch.device("meta"):  # no random initialisation: every value comes from ``sd``
        model = InceptionV3FID(with_logits=with_logits)
    model = model.to_empty(device="cpu")
    model.load_state_dict(sd, strict=False)  # num_batches_tracked buffers are not in canonical dicts
    for name, buf in model.named_buffers():
        if name.endswith("num_batches_tracked"):
            buf.zero_()
    model.eval().requires_grad_(False)
    return model.fold() if fold else model
