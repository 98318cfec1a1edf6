"""Pixel conversion rules: every decoded image or array becomes 8-bit RGB, deterministically.

These are the rules ``docs/data.md`` documents; :mod:`vislang.data.images` applies them.

* **Grayscale** (``1``, ``L``) is replicated to three channels.
* **16-bit samples** (PIL modes ``I;16*``, 16-bit PNG/TIFF, ``uint16`` arrays) keep their high byte,
  ``v >> 8``.  This is the rule Pillow's decoder already applies to 16-bit *colour* PNG/TIFF files,
  so grayscale and colour 16-bit files are treated alike; 8-bit data stored as 16 bits (``v * 257``)
  comes back exactly.  Mode ``I`` (32-bit integer) is read as 16-bit: clipped to ``[0, 65535]``,
  then ``v >> 8``.
* **Float** data (PIL mode ``F``, float arrays) needs its range ``(lo, hi)`` stated by the caller; a value
  ``x`` becomes ``floor((x - lo) / (hi - lo) * 255 + 0.5)`` clipped to ``[0, 255]`` (round half up).
* **Alpha** (``RGBA``, ``LA``, ``PA``, palette images with a transparent colour) is composited on
  **white**: ``out = (c * a + 255 * (255 - a) + 127) // 255`` in integers, i.e. the exact
  ``c * a/255 + 255 * (1 - a/255)`` rounded half up.  An opaque pixel is unchanged, a fully
  transparent one becomes white.
* **Palette** (``P``) images are looked up in their palette; **CMYK**, ``YCbCr``, ``HSV`` go through
  Pillow's own conversion to RGB (embedded ICC profiles are not applied).
"""

from __future__ import annotations

import numpy as np

from vislang.errors import InputError

#: Resize methods accepted by ``resize=``; each maps to the Pillow filter of the same name.
RESIZE_METHODS = ("bicubic", "bilinear", "lanczos", "nearest", "box")


class BadImage(Exception):
    """Internal: an image that cannot be read (the reason is the message); callers add the file name."""


def composite_on_white(color: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Composite uint8 ``color`` (... x C) with uint8 ``alpha`` (... x 1) on white; returns uint8."""
    c = color.astype(np.uint32)
    a = alpha.astype(np.uint32)
    return ((c * a + 255 * (255 - a) + 127) // 255).astype(np.uint8)


def sixteen_to_eight(values: np.ndarray) -> np.ndarray:
    """16-bit samples to 8 bits: the high byte (``v >> 8``); wider integers are clipped to 0..65535 first."""
    v = np.clip(values.astype(np.int64), 0, 65535) if values.dtype != np.uint16 else values
    return (v >> 8).astype(np.uint8)


def float_to_eight(values: np.ndarray, float_range: tuple[float, float]) -> np.ndarray:
    """Float samples in ``float_range`` to uint8: ``floor((x - lo) / (hi - lo) * 255 + 0.5)``, clipped."""
    lo, hi = float_range
    y = (values.astype(np.float64) - lo) * (255.0 / (hi - lo))
    return np.clip(np.floor(y + 0.5), 0, 255).astype(np.uint8)


def check_float_range(float_range) -> tuple[float, float] | None:
    """Validate a ``(lo, hi)`` pair (or ``None``)."""
    if float_range is None:
        return None
    try:
        lo, hi = (float(v) for v in float_range)
    except (TypeError, ValueError):
        raise InputError(f"float_range {float_range!r}: give two numbers (lo, hi), e.g. (0, 1) or (-1, 1)") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
        raise InputError(f"float_range {float_range!r}: need finite lo < hi, e.g. (0, 1) or (-1, 1)")
    return lo, hi


def float_range_problem(vmin: float, vmax: float, float_range) -> str | None:
    """Why float data with extremes ``vmin``/``vmax`` does not fit ``float_range`` (``None`` when it fits).

    Values may overshoot the range by at most 1/255 of its width (rounding noise); more than that
    means the stated range is wrong, which silent clipping would hide.
    """
    if not (np.isfinite(vmin) and np.isfinite(vmax)):
        return "contains NaN or infinite values"
    if float_range is None:
        return (f"float data (values in [{vmin:.4g}, {vmax:.4g}]) needs its range: pass float_range=(lo, hi) "
                f"(--float-range LO HI), e.g. (0, 1) or (-1, 1)")
    lo, hi = float_range
    tol = (hi - lo) / 255.0
    if vmin < lo - tol or vmax > hi + tol:
        return (f"values span [{vmin:.4g}, {vmax:.4g}], outside the stated float range ({lo:g}, {hi:g}); "
                f"pass the range the data is in")
    return None


def pil_to_rgb(im, float_range: tuple[float, float] | None = None) -> np.ndarray:
    """A loaded PIL image as uint8 H x W x 3, or H x W x 1 for grayscale (broadcast to RGB by the caller).

    Raises :class:`BadImage` for modes it cannot convert.
    """
    mode = im.mode
    if mode == "RGB":
        return np.asarray(im)
    if mode == "L":
        return np.asarray(im)[:, :, None]
    if mode == "1":
        return np.asarray(im.convert("L"))[:, :, None]
    if mode == "RGBA":
        a = np.asarray(im)
        return composite_on_white(a[:, :, :3], a[:, :, 3:])
    if mode == "LA":
        a = np.asarray(im)
        return composite_on_white(a[:, :, :1], a[:, :, 1:])
    if mode == "P":
        if "transparency" in im.info or (im.palette is not None and im.palette.mode == "RGBA"):
            return pil_to_rgb(im.convert("RGBA"))
        return np.asarray(im.convert("RGB"))
    if mode in ("PA", "RGBa", "La"):
        return pil_to_rgb(im.convert("RGBA"))
    if mode.startswith("I;16") or mode == "I":
        return sixteen_to_eight(np.asarray(im))[:, :, None]
    if mode == "F":
        arr = np.asarray(im)
        if arr.size:
            problem = float_range_problem(float(np.min(arr)), float(np.max(arr)), float_range)
            if problem:
                raise BadImage(f"32-bit float image: {problem}")
        return float_to_eight(arr, float_range)[:, :, None]
    try:
        return np.asarray(im.convert("RGB"))
    except (ValueError, OSError) as exc:
        raise BadImage(f"image mode {mode} cannot be converted to RGB ({exc})") from None


def array_layout(shape: tuple[int, ...], prefer_channels_first: bool) -> str:
    """``"NHWC"``, ``"NCHW"`` or ``"NHW"`` for an image array shape; raises InputError otherwise.

    A 4-d shape whose dims 1 and 3 could both be channels (e.g. N x 3 x 4 x 3) is read as N x C x H x W
    for torch tensors and N x H x W x C for numpy arrays (``prefer_channels_first``).
    """
    if len(shape) == 3:
        return "NHW"
    if len(shape) != 4:
        raise InputError(f"image array of shape {tuple(shape)}: expected N x H x W x C or N x C x H x W "
                         f"(C in 1, 3, 4) or N x H x W")
    first, last = shape[1] in (1, 3, 4), shape[3] in (1, 3, 4)
    if first and last:
        return "NCHW" if prefer_channels_first else "NHWC"
    if first:
        return "NCHW"
    if last:
        return "NHWC"
    raise InputError(f"image array of shape {tuple(shape)}: no channel axis of size 1, 3 or 4 "
                     f"(expected N x H x W x C or N x C x H x W)")


def array_batch_to_rgb(block: np.ndarray, layout: str, float_range) -> np.ndarray:
    """A slice of an image array (any supported dtype/layout) as uint8 N x H x W x 3."""
    if layout == "NCHW":
        block = np.moveaxis(block, 1, 3)
    elif layout == "NHW":
        block = block[:, :, :, None]
    if block.dtype == np.uint8:
        out = block
    elif block.dtype == np.bool_:
        out = block.astype(np.uint8) * 255
    elif block.dtype == np.uint16:
        out = sixteen_to_eight(block)
    else:  # float, validated at open time
        out = float_to_eight(block, float_range)
    c = out.shape[3]
    if c == 4:
        out = composite_on_white(out[..., :3], out[..., 3:])
    elif c == 1:
        out = np.broadcast_to(out, out.shape[:3] + (3,))
    return np.ascontiguousarray(out)


def resize_rgb(arr: np.ndarray, size_hw: tuple[int, int], method: str) -> np.ndarray:
    """Resize a uint8 H x W x 3 (or x 1) image with Pillow's ``method`` filter; returns H' x W' x 3."""
    from PIL import Image

    if arr.shape[2] == 1:
        arr = np.broadcast_to(arr, arr.shape[:2] + (3,))
    if (arr.shape[0], arr.shape[1]) == tuple(size_hw):
        return arr
    filt = getattr(Image.Resampling, method.upper())
    im = Image.fromarray(np.ascontiguousarray(arr), "RGB")
    return np.asarray(im.resize((size_hw[1], size_hw[0]), resample=filt))
