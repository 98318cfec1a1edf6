"""DCGAN generator and discriminator, as in the classic PyTorch recipe (pytorch/examples ``dcgan``).

Architecture facts (Radford et al. 2016, "Unsupervised representation learning with deep
convolutional generative adversarial networks"; the pytorch/examples recipe at 64 px):

* Generator: ``ConvTranspose2d(nz, ngf*8, 4, 1, 0)`` (1x1 -> 4x4), then stride-2 4x4
  transposed convolutions halving the channels (ngf*8 -> ngf*4 -> ngf*2 -> ngf) each
  followed by BatchNorm + ReLU, and a last ``ConvTranspose2d(ngf, nc, 4, 2, 1)`` + Tanh.
* Discriminator: ``Conv2d(nc, ndf, 4, 2, 1)`` + LeakyReLU(0.2) (no BatchNorm on the
  first layer), stride-2 4x4 convolutions doubling the channels (ndf -> ... -> ndf*8)
  with BatchNorm + LeakyReLU(0.2), and ``Conv2d(ndf*8, 1, 4, 1, 0)`` + Sigmoid.
* Every convolution has ``bias=False``; ``weights_init`` draws conv weights from
  N(0, 0.02) and BatchNorm weights from N(1, 0.02) with zero bias.

At 64 px, nz = 100, ngf = ndf = 64, nc = 3 this gives 3,576,704 generator and
2,765,568 discriminator parameters (the recipe's counts).  The same family at 32 px
has one block fewer (widest layer ngf*4) and at 128 px one more (ngf*16).

The discriminator returns *logits*: the recipe's final Sigmoid is folded into the
loss (:mod:`vislang.models.gan_losses`), which computes the same values in a
numerically stable form; :meth:`Discriminator.prob` applies it explicitly.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from vislang.errors import ConfigError

SIZES = (32, 64, 128)


def _blocks(size: int) -> int:
    """Number of stride-2 up/down-sampling layers between 4x4 and ``size``."""
    if size not in SIZES:
        raise ConfigError(f"image size {size} is not supported by the DCGAN family; use one of {', '.join(map(str, SIZES))}")
    return int(math.log2(size)) - 2


def weights_init(m: nn.Module) -> None:
    """The recipe's initialisation: conv N(0, 0.02); BatchNorm weight N(1, 0.02), bias 0."""
    name = m.__class__.__name__
    if name.find("Conv") != -1:
        w = m.parametrizations.weight.original if hasattr(m, "parametrizations") else m.weight
        nn.init.normal_(w, 0.0, 0.02)
        if getattr(m, "bias", None) is not None:  # only spectral-norm discriminators have conv biases
            nn.init.zeros_(m.bias)
    elif name.find("BatchNorm") != -1:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


class Generator(nn.Module):
    """z (N x nz x 1 x 1, or N x nz) -> images in [-1, 1], N x nc x size x size."""

    def __init__(self, size: int = 64, nz: int = 100, ngf: int = 64, nc: int = 3):
        super().__init__()
        n = _blocks(size)  # 64 px -> 4 stride-2 layers
        self.size, self.nz, self.ngf, self.nc = size, nz, ngf, nc
        mult = 2 ** (n - 1)  # 64 px -> ngf*8
        layers: list[nn.Module] = [nn.ConvTranspose2d(nz, ngf * mult, 4, 1, 0, bias=False),
                                   nn.BatchNorm2d(ngf * mult), nn.ReLU(True)]
        for _ in range(n - 1):
            layers += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(ngf * mult // 2), nn.ReLU(True)]
            mult //= 2
        layers += [nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() == 2:
            z = z[:, :, None, None]
        return self.main(z)


class Discriminator(nn.Module):
    """images N x nc x size x size -> logits N (``prob`` gives the recipe's Sigmoid output).

    ``spectral_norm=True`` (Miyato et al. 2018) wraps every convolution in a spectral
    normalisation and drops the BatchNorm layers, whose rescaling would undo it; the convolutions
    then get biases (as SN-GAN's discriminators have), which the BatchNorm shifts provided before.
    Without any bias or BatchNorm, D would be positively homogeneous (``D(a x) = a D(x)`` for
    ``a > 0``): a generator that starts near the all-zero image gets logits near 0 whatever D learns,
    and on 32-px scenes such a run stayed a flat grey for 700 steps.
    """

    def __init__(self, size: int = 64, ndf: int = 64, nc: int = 3, spectral_norm: bool = False):
        super().__init__()
        n = _blocks(size)
        self.size, self.ndf, self.nc = size, ndf, nc
        self.spectral_norm = spectral_norm
        sn = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda m: m)
        norm = (lambda c: nn.Identity()) if spectral_norm else nn.BatchNorm2d
        bias = spectral_norm
        layers: list[nn.Module] = [sn(nn.Conv2d(nc, ndf, 4, 2, 1, bias=bias)), nn.LeakyReLU(0.2, inplace=True)]
        mult = 1
        for _ in range(n - 1):
            layers += [sn(nn.Conv2d(ndf * mult, ndf * mult * 2, 4, 2, 1, bias=bias)), norm(ndf * mult * 2),
                       nn.LeakyReLU(0.2, inplace=True)]
            mult *= 2
        self.features = nn.Sequential(*layers)  # -> N x ndf*mult x 4 x 4
        self.feature_channels = ndf * mult
        self.head = sn(nn.Conv2d(ndf * mult, 1, 4, 1, 0, bias=bias))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).reshape(-1)

    def prob(self, x: torch.Tensor) -> torch.Tensor:
        """D(x) in (0, 1): the recipe's Sigmoid output."""
        return torch.sigmoid(self.forward(x))


def build(size: int = 64, nz: int = 100, ngf: int = 64, ndf: int = 64, nc: int = 3,
          spectral_norm: bool = False) -> tuple[Generator, Discriminator]:
    """A freshly initialised (``weights_init``) generator/discriminator pair."""
    g = Generator(size, nz, ngf, nc)
    d = Discriminator(size, ndf, nc, spectral_norm)
    g.apply(weights_init)
    d.apply(weights_init)
    return g, d


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
