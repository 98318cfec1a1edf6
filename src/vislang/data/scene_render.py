"""Rendering of the built-in scenes: anti-aliased shapes composited over a pale, lightly textured background.

Each object is drawn as a white-on-black coverage mask at 4x (:data:`SUPERSAMPLE`) the final
resolution with PIL, box-filtered down (``Image.reduce``), and alpha-composited in its exact
colour over the background; only the object's bounding box is drawn, so rendering is cheap.
Everything is a pure function of the spec (the background texture has its own seed in the spec).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
from PIL import Image, ImageDraw

from vislang.data.scene_spec import COLOR_RGB, SIZE_RADIUS, Background, SceneObject, SceneSpec
from vislang.errors import InputError

SUPERSAMPLE = 4  # shapes are drawn at 4x and box-filtered down: anti-aliasing



def _polygon(shape: str, r: float) -> list[tuple[float, float]] | None:
    """Vertices (relative to the centre, y down) of a shape inside the box [-r, r] x [-r, r]; None: a circle."""
    if shape == "square":
        h = 0.8 * r
        return [(-h, -h), (h, -h), (h, h), (-h, h)]
    if shape == "triangle":  # equilateral, pointing up, centred on its bounding box
        h = r * 0.95
        return [(0.0, -h), (h * math.sqrt(3) / 2 * 1.05, h * 0.8), (-h * math.sqrt(3) / 2 * 1.05, h * 0.8)]
    if shape == "diamond":
        return [(0.0, -r), (0.7 * r, 0.0), (0.0, r), (-0.7 * r, 0.0)]
    if shape == "star":
        pts = []
        for k in range(10):
            rad = r if k % 2 == 0 else 0.42 * r
            ang = -math.pi / 2 + k * math.pi / 5
            pts.append((rad * math.cos(ang), rad * math.sin(ang) + 0.08 * r))
        return pts
    if shape == "cross":
        a, w = 0.9 * r, 0.3 * r
        return [(-w, -a), (w, -a), (w, -w), (a, -w), (a, w), (w, w), (w, a), (-w, a), (-w, w), (-a, w), (-a, -w),
                (-w, -w)]
    return None  # circle


def _coverage(obj: SceneObject, size: int) -> tuple[np.ndarray, int, int]:
    """Anti-aliased coverage (float32 in [0, 1]) of one object over its pixel bounding box, and its offset."""
    ss = SUPERSAMPLE
    r = SIZE_RADIUS[obj.size] * size
    cx, cy = obj.x * size, obj.y * size
    x0, y0 = max(0, int(math.floor(cx - r)) - 1), max(0, int(math.floor(cy - r)) - 1)
    x1, y1 = min(size, int(math.ceil(cx + r)) + 1), min(size, int(math.ceil(cy + r)) + 1)
    w, h = x1 - x0, y1 - y0
    canvas = Image.new("L", (w * ss, h * ss), 0)
    draw = ImageDraw.Draw(canvas)
    lx, ly = (cx - x0) * ss, (cy - y0) * ss
    poly = _polygon(obj.shape, r * ss)
    if poly is None:
        rr = r * ss
        draw.ellipse([lx - rr, ly - rr, lx + rr, ly + rr], fill=255)
    else:
        draw.polygon([(lx + px, ly + py) for px, py in poly], fill=255)
    small = canvas.reduce(ss)
    return np.asarray(small, dtype=np.float32) * (1.0 / 255.0), x0, y0


TEXTURE_GRID = 4  # the background texture is a TEXTURE_GRID x TEXTURE_GRID field, bilinearly interpolated


@lru_cache(maxsize=16)
def _interp_weights(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each pixel centre: the left knot index and the weights of the left and right knots, for
    TEXTURE_GRID knots from the image's first edge (0) to its last (1)."""
    u = (np.arange(size, dtype=np.float64) + 0.5) / size * (TEXTURE_GRID - 1)
    i0 = np.minimum(np.floor(u).astype(np.int64), TEXTURE_GRID - 2)
    w = (u - i0).astype(np.float32)
    return i0, 1.0 - w, w


_KNOT_RAMP = np.linspace(-1.0, 1.0, TEXTURE_GRID, dtype=np.float32)  # -1 at the first edge, +1 at the last


_MASK64 = (1 << 64) - 1


def _splitmix64(x: int) -> int:
    """SplitMix64 (Steele, Lea & Flood 2014, "Fast splittable pseudorandom number generators"): one
    64-bit output for the 64-bit input ``x`` -- a cheap, platform-independent hash of the seed."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


@lru_cache(maxsize=4096)
def _texture_knots(seed: int) -> np.ndarray:
    """TEXTURE_GRID x TEXTURE_GRID values in [-1, 1): knot k is splitmix64(seed * 16 + k) scaled."""
    vals = [_splitmix64((seed * TEXTURE_GRID * TEXTURE_GRID + k) & _MASK64) / 2.0**63 - 1.0
            for k in range(TEXTURE_GRID * TEXTURE_GRID)]
    return np.asarray(vals, dtype=np.float32).reshape(TEXTURE_GRID, TEXTURE_GRID)


def _background(bg: Background, size: int) -> np.ndarray:
    """Base colour + gradient + texture. The gradient is linear, so it is exactly the bilinear
    interpolation of its values at the knots: both are added on the knot grid and interpolated once."""
    knots = bg.gx * _KNOT_RAMP[None, :] + bg.gy * _KNOT_RAMP[:, None]
    if bg.texture > 0:
        knots = knots + np.float32(bg.texture) * _texture_knots(bg.texture_seed)
    knots = knots.astype(np.float32)
    i0, w0, w1 = _interp_weights(size)
    rows = knots[:, i0] * w0 + knots[:, i0 + 1] * w1  # TEXTURE_GRID x W
    shade = rows[i0, :] * w0[:, None] + rows[i0 + 1, :] * w1[:, None]  # H x W
    # channel-first: numpy's inner loops then run over whole rows, not over 3 channels
    return shade[None, :, :] + np.asarray(bg.color, dtype=np.float32)[:, None, None]


def render_chw(spec: SceneSpec, size: int = 64) -> np.ndarray:
    """:func:`render` as a 3 x size x size uint8 NumPy array (C x H x W)."""
    if not isinstance(size, (int, np.integer)) or not 16 <= size <= 1024:
        raise InputError(f"size={size!r}: scene images are 16 to 1024 px (32, 64 or 128 recommended)")
    size = int(size)
    if any(o.x is None or o.y is None for o in spec.objects):
        raise InputError("scene spec has objects without positions (a parsed caption?); sample or place them first")
    img = _background(spec.background or Background(), size)
    for obj in spec.objects:
        a, x0, y0 = _coverage(obj, size)
        color = np.asarray(COLOR_RGB[obj.color], dtype=np.float32)
        region = img[:, y0:y0 + a.shape[0], x0:x0 + a.shape[1]]
        region *= (1.0 - a)[None]
        region += a[None] * color[:, None, None]
    np.clip(img, 0.0, 255.0, out=img)
    np.rint(img, out=img)
    return img.astype(np.uint8)


def render_array(spec: SceneSpec, size: int = 64) -> np.ndarray:
    """:func:`render` as a size x size x 3 uint8 NumPy array (H x W x C, as PIL and PNG want it)."""
    return np.ascontiguousarray(render_chw(spec, size).transpose(1, 2, 0))


def render(spec: SceneSpec, size: int = 64) -> torch.Tensor:
    """The scene as a ``torch.uint8`` 3 x size x size RGB tensor: shapes drawn at 4x and box-filtered
    down (anti-aliased), alpha-composited in order over the spec's background."""
    return torch.from_numpy(render_chw(spec, size))
