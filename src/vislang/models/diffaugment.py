"""Differentiable augmentation for GAN training on small data (DiffAugment).

Zhao, Liu, Lin, Zhu & Han 2020, "Differentiable Augmentation for Data-Efficient GAN
Training": the *same* family of random, differentiable transforms is applied to real
and generated images every time the discriminator sees them (in both the D and the G
step), so D cannot memorise the few real images while G still receives gradients.
The policy "color,translation,cutout" uses the paper's parameters:

* color: brightness ``x + (u - 0.5)``, saturation ``(x - mean_c) * 2u + mean_c``,
  contrast ``(x - mean_chw) * (u + 0.5) + mean_chw``, with ``u ~ U(0, 1)`` per image;
* translation: a shift of up to 1/8 of the image side in x and y, zero padded;
* cutout: a zero square of half the image side at a random centre.

Images are in [-1, 1] (the generator's Tanh range).  Randomness comes from ``generator``
(or the global torch stream when ``None``), so a training run can reproduce it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vislang.errors import ConfigError

POLICIES = ("color", "translation", "cutout")


def _rand(shape, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.rand(shape, generator=generator, device=x.device if generator is None else generator.device).to(x.device, x.dtype)


def _randint(low: int, high: int, shape, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    dev = x.device if generator is None else generator.device
    return torch.randint(low, high, shape, generator=generator, device=dev).to(x.device)


def color(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    n = x.shape[0]
    x = x + (_rand((n, 1, 1, 1), x, generator) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_rand((n, 1, 1, 1), x, generator) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * (_rand((n, 1, 1, 1), x, generator) + 0.5) + mean
    return x


def translation(x: torch.Tensor, ratio: float = 0.125, generator: torch.Generator | None = None) -> torch.Tensor:
    n, _, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = _randint(-sy, sy + 1, (n,), x, generator)
    tx = _randint(-sx, sx + 1, (n,), x, generator)
    padded = F.pad(x, [sx, sx, sy, sy])
    iy = torch.arange(h, device=x.device)[None, :] + sy - ty[:, None]  # n x h
    ix = torch.arange(w, device=x.device)[None, :] + sx - tx[:, None]  # n x w
    b = torch.arange(n, device=x.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[b, iy[:, :, None], ix[:, None, :]]  # n x h x w x c
    return out.permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, ratio: float = 0.5, generator: torch.Generator | None = None) -> torch.Tensor:
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = _randint(0, h + (1 - ch % 2), (n,), x, generator)
    cx = _randint(0, w + (1 - cw % 2), (n,), x, generator)
    ys = torch.arange(h, device=x.device)[None, :]
    xs = torch.arange(w, device=x.device)[None, :]
    in_y = (ys >= (cy - ch // 2)[:, None]) & (ys < (cy - ch // 2 + ch)[:, None])  # n x h
    in_x = (xs >= (cx - cw // 2)[:, None]) & (xs < (cx - cw // 2 + cw)[:, None])  # n x w
    keep = ~(in_y[:, :, None] & in_x[:, None, :])
    return x * keep[:, None].to(x.dtype)


def parse_policy(policy: str | None) -> tuple[str, ...]:
    if not policy:
        return ()
    parts = tuple(p.strip() for p in policy.split(",") if p.strip())
    bad = [p for p in parts if p not in POLICIES]
    if bad:
        raise ConfigError(f"unknown DiffAugment policy {bad[0]!r}; use a comma list of {', '.join(POLICIES)}")
    return parts


def diff_augment(x: torch.Tensor, policy: str | tuple[str, ...] = "color,translation,cutout",
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Apply the policy's transforms in order (color, then translation, then cutout as listed)."""
    parts = parse_policy(policy) if isinstance(policy, str) else tuple(policy)
    for p in parts:
        if p == "color":
            x = color(x, generator)
        elif p == "translation":
            x = translation(x, generator=generator)
        elif p == "cutout":
            x = cutout(x, generator=generator)
    return x.contiguous()
