"""Hand-written inline SVG plots (no matplotlib): line plots for loss curves and horizontal bar plots.

Every label passes through :func:`html.escape`; the SVG is meant to be embedded inline in the report.
"""

from __future__ import annotations

import html
import math
from typing import Mapping, Sequence

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def line_plot(series: Mapping[str, tuple[Sequence[float], Sequence[float]]], title: str = "",
              width: int = 520, height: int = 260, xlabel: str = "step") -> str:
    """``series``: name -> (xs, ys).  Non-finite points are dropped.  Returns an ``<svg>`` element."""
    pts = {k: [(float(x), float(y)) for x, y in zip(xs, ys) if _finite(x) and _finite(y)]
           for k, (xs, ys) in series.items()}
    pts = {k: v for k, v in pts.items() if v}
    left, right, top, bottom = 52, 12, 26, 34
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img">',
           f'<text x="{width / 2}" y="16" text-anchor="middle" font-size="13">{html.escape(title)}</text>']
    if not pts:
        out.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" font-size="12">no data</text></svg>')
        return "".join(out)
    xs = [p[0] for v in pts.values() for p in v]
    ys = [p[1] for v in pts.values() for p in v]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    if x1 == x0:
        x1 = x0 + 1
    if y1 == y0:
        y1 = y0 + 1
    pw, ph = width - left - right, height - top - bottom

    def X(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * pw

    def Y(y: float) -> float:
        return top + (1 - (y - y0) / (y1 - y0)) * ph

    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
    for i in range(5):
        yv = y0 + (y1 - y0) * i / 4
        out.append(f'<text x="{left - 4}" y="{Y(yv) + 4:.1f}" text-anchor="end" font-size="10">{_fmt(yv)}</text>')
    for xv in (x0, x1):
        out.append(f'<text x="{X(xv):.1f}" y="{height - 18}" text-anchor="middle" font-size="10">{_fmt(xv)}</text>')
    out.append(f'<text x="{left + pw / 2}" y="{height - 4}" text-anchor="middle" font-size="11">'
               f'{html.escape(xlabel)}</text>')
    for n, (name, p) in enumerate(pts.items()):
        colour = PALETTE[n % len(PALETTE)]
        path = " ".join(f"{X(x):.1f},{Y(y):.1f}" for x, y in p)
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{path}"/>')
        out.append(f'<text x="{left + 8 + 110 * n}" y="{top + 14}" font-size="11" fill="{colour}">'
                   f'{html.escape(str(name))}</text>')
    out.append("</svg>")
    return "".join(out)


def bar_plot(values: Mapping[str, float], title: str = "", width: int = 520) -> str:
    """Horizontal bars, one per finite value (negative values drawn from zero to the left)."""
    vals = [(str(k), float(v)) for k, v in values.items() if _finite(v)]
    row, left, top = 22, 170, 26
    height = top + row * max(len(vals), 1) + 10
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img">',
           f'<text x="{width / 2}" y="16" text-anchor="middle" font-size="13">{html.escape(title)}</text>']
    if not vals:
        out.append(f'<text x="{width / 2}" y="{top + 14}" text-anchor="middle" font-size="12">no data</text></svg>')
        return "".join(out)
    lo = min(0.0, min(v for _, v in vals))
    hi = max(0.0, max(v for _, v in vals))
    if hi == lo:
        hi = lo + 1
    pw = width - left - 60

    def X(v: float) -> float:
        return left + (v - lo) / (hi - lo) * pw

    for i, (name, v) in enumerate(vals):
        y = top + i * row
        a, b = sorted((X(0.0), X(v)))
        out.append(f'<text x="{left - 6}" y="{y + 14}" text-anchor="end" font-size="11">{html.escape(name)}</text>')
        out.append(f'<rect x="{a:.1f}" y="{y + 3}" width="{max(b - a, 0.5):.1f}" height="{row - 8}" '
                   f'fill="{PALETTE[i % len(PALETTE)]}"/>')
        out.append(f'<text x="{b + 4:.1f}" y="{y + 14}" font-size="10">{_fmt(v)}</text>')
    out.append("</svg>")
    return "".join(out)
