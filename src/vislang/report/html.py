"""One self-contained HTML report from a results JSON (the demo's, or any ``vislang eval ...`` output).

The page makes no network request: images are ``data:`` URIs, plots are inline SVG, there is no
script and no external font, and a Content-Security-Policy forbids anything else.  Every piece of
text that comes from the results (captions, file names, provenance) goes through :func:`html.escape`.

Results layout understood here (all optional):

* flat numeric keys ``"group.metric"`` (the demo) or ``"metric"`` (``vislang eval``), with the
  real-vs-real floor under ``"<key>_real_floor"``, a degenerate baseline under ``"<key>_baseline"``
  and bootstrap intervals under ``"<key>_ci_low"``/``"<key>_ci_high"``;
* ``"provenance"`` (a dict) and other scalar keys, shown as provenance;
* ``"report_data"``: a sidecar JSON path (relative to the results file) holding
  ``grids`` [{title, png}], ``losses`` {name: {"step": [...], series: [...]}}, ``captions``
  [{image, caption, refs, scores, errors}], ``consistency`` {"best": [...], "worst": [...]}
  ({image, caption, score}) and ``diversity`` {name: value}.  Image paths are relative to the sidecar.
"""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from typing import Any, Mapping

from vislang.report.plots import bar_plot, line_plot

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
SUFFIXES = ("_real_floor", "_baseline", "_ci_low", "_ci_high")

STYLE = """
body{font-family:sans-serif;margin:24px;color:#222;background:#fff;max-width:1200px}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}td,th{border:1px solid #ccc;padding:3px 7px;
text-align:left;vertical-align:top}th{background:#f2f2f2}td.num{text-align:right;font-family:monospace}
.grids{display:flex;flex-wrap:wrap;gap:16px}.grids figure{margin:0}figcaption{font-size:12px;color:#555}
img.pix{image-rendering:pixelated}.err{color:#b00}.plots{display:flex;flex-wrap:wrap;gap:12px}
.muted{color:#777;font-size:12px}
"""


def esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def fmt(v: Any) -> str:
    if v is None:
        return ""
    if _num(v):
        if isinstance(v, float) and not math.isfinite(v):
            return str(v)
        return f"{v:.4g}" if isinstance(v, float) else str(v)
    return str(v)


def data_uri(path: Path) -> str | None:
    """``data:image/png;base64,...`` of a PNG file; ``None`` when the file is missing or not a PNG."""
    try:
        raw = Path(path).read_bytes()
    except OSError:
        return None
    if not raw.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    return "data:image/png;base64," + base64.b64encode(raw).decode("ascii")


def _img(base: Path, rel: Any, alt: str, width: int | None = None) -> str:
    if not rel:
        return ""
    uri = data_uri(base / str(rel))
    if uri is None:
        return f'<span class="err">missing image {esc(rel)}</span>'
    w = f' width="{width}"' if width else ""
    return f'<img class="pix" src="{uri}" alt="{esc(alt)}"{w}>'


def metric_rows(results: Mapping[str, Any]) -> dict[str, list[tuple[str, Any, Any, Any, str]]]:
    """group -> [(metric, value, real floor, baseline, CI text)] for every numeric key that is not a suffix key."""
    groups: dict[str, list] = {}
    for k, v in results.items():
        if not _num(v) or any(k.endswith(s) for s in SUFFIXES):
            continue
        if k.startswith("n_") or k in ("seed",) or k.endswith(".seed") or ".n_" in k:
            continue
        group, _, name = k.rpartition(".")
        ci = ""
        if f"{k}_ci_low" in results:
            ci = f"[{fmt(results[f'{k}_ci_low'])}, {fmt(results.get(f'{k}_ci_high'))}]"
        groups.setdefault(group or "results", []).append(
            (name, v, results.get(f"{k}_real_floor"), results.get(f"{k}_baseline"), ci))
    return groups


def _provenance_rows(results: Mapping[str, Any]) -> list[tuple[str, Any]]:
    rows = []
    for k, v in results.items():
        if k == "report_data":
            continue
        if isinstance(v, dict):
            rows.extend((f"{k}.{k2}", v2) for k2, v2 in v.items() if not isinstance(v2, (dict, list)))
        elif isinstance(v, str) or v is None or isinstance(v, bool):
            rows.append((k, v))
        elif _num(v) and (k.startswith("n_") or ".n_" in k or k.endswith("seed")):
            rows.append((k, v))
    return rows


def _table(head: list[str], rows: list[list[str]]) -> str:
    h = "".join(f"<th>{esc(c)}</th>" for c in head)
    return f"<table><tr>{h}</tr>" + "".join("<tr>" + "".join(r) + "</tr>" for r in rows) + "</table>"


def _metrics_section(results: Mapping[str, Any]) -> str:
    out = ["<h2>Metrics</h2>",
           '<p class="muted">Each figure beside the real-vs-real floor (real images or references scored '
           "against each other: the best a model can expect) and a degenerate baseline (noise images or a "
           "constant caption: what a useless model gets).</p>"]
    for group, rows in metric_rows(results).items():
        out.append(f"<h3>{esc(group)}</h3>")
        out.append(_table(["metric", "value", "real floor", "baseline", "95% CI"],
                          [[f"<td>{esc(n)}</td>", f'<td class="num">{esc(fmt(v))}</td>',
                            f'<td class="num">{esc(fmt(f))}</td>', f'<td class="num">{esc(fmt(b))}</td>',
                            f"<td>{esc(ci)}</td>"] for n, v, f, b, ci in rows]))
    return "".join(out)


def _grids_section(grids: list, base: Path) -> str:
    if not grids:
        return ""
    figs = "".join(f"<figure>{_img(base, g.get('png'), g.get('title', ''), g.get('width'))}"
                   f"<figcaption>{esc(g.get('title', ''))}</figcaption></figure>" for g in grids)
    return f'<h2>Samples</h2><div class="grids">{figs}</div>'


def _losses_section(losses: Mapping[str, Any]) -> str:
    if not losses:
        return ""
    plots = []
    for name, log in losses.items():
        steps = log.get("step", [])
        series = {k: (steps, v) for k, v in log.items() if k != "step" and isinstance(v, list)}
        plots.append(line_plot(series, title=f"{name}: training losses"))
    return '<h2>Loss curves</h2><div class="plots">' + "".join(plots) + "</div>"


def _captions_section(rows: list, base: Path) -> str:
    if not rows:
        return ""
    keys = sorted({k for r in rows for k in (r.get("scores") or {})})
    body = []
    for r in rows:
        refs = "<br>".join(esc(c) for c in r.get("refs") or [])
        errs = "<br>".join(esc(e) for e in r.get("errors") or []) or "none"
        sc = r.get("scores") or {}
        body.append([f"<td>{_img(base, r.get('image'), 'image', 64)}</td>", f"<td>{esc(r.get('caption', ''))}</td>",
                     f"<td>{refs}</td>"] + [f'<td class="num">{esc(fmt(sc.get(k)))}</td>' for k in keys]
                    + [f'<td class="err">{errs}</td>' if r.get("errors") else f"<td>{errs}</td>"])
    return ("<h2>Captions</h2>" + _table(["image", "generated caption", "references"] + keys
                                         + ["scene-parser errors"], body))


def _consistency_section(cons: Mapping[str, Any], base: Path) -> str:
    if not cons:
        return ""
    out = ["<h2>Image-text consistency: best and worst</h2>"]
    for which in ("best", "worst"):
        items = cons.get(which) or []
        if not items:
            continue
        out.append(f"<h3>{esc(which)}</h3>")
        out.append(_table(["image", "caption", "score"],
                          [[f"<td>{_img(base, it.get('image'), 'image', 64)}</td>", f"<td>{esc(it.get('caption', ''))}</td>",
                            f'<td class="num">{esc(fmt(it.get("score")))}</td>'] for it in items]))
    return "".join(out)


def _diversity_section(results: Mapping[str, Any], extra: Mapping[str, Any]) -> str:
    plots = []
    for title, vals in (extra or {}).items():
        if isinstance(vals, Mapping):
            plots.append(bar_plot(vals, title=str(title)))
    if not plots:
        words = ("vendi", "msssim", "distinct", "self_bleu", "self-bleu", "vocab", "novel", "diversity")
        vals = {k: v for k, v in results.items()
                if _num(v) and any(w in k.lower() for w in words) and not any(k.endswith(s) for s in SUFFIXES)}
        if vals:
            plots.append(bar_plot(vals, title="diversity"))
    return '<h2>Diversity</h2><div class="plots">' + "".join(plots) + "</div>" if plots else ""


def render(results: Mapping[str, Any], data: Mapping[str, Any] | None = None, base: str | Path = ".",
           title: str = "vislang report") -> str:
    """The report page as a string.  ``data``: the sidecar (see the module docstring); ``base``: its folder."""
    if not isinstance(results, Mapping):
        results = {"results": results}
    data = data or {}
    base = Path(base)
    prov = _provenance_rows(results)
    parts = [
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        _metrics_section(results),
        _grids_section(data.get("grids") or [], base),
        _losses_section(data.get("losses") or {}),
        _diversity_section(results, data.get("diversity") or {}),
        _captions_section(data.get("captions") or [], base),
        _consistency_section(data.get("consistency") or {}, base),
        "<h2>Provenance</h2>" + _table(["field", "value"], [[f"<td>{esc(k)}</td>", f"<td>{esc(fmt(v))}</td>"]
                                                          for k, v in prov]) if prov else "",
        "</body></html>\n",
    ]
    return "".join(parts)


def write_report(results_path: str | Path, out: str | Path) -> Path:
    """Read ``results_path`` (and its ``report_data`` sidecar when named) and write the HTML report atomically."""
    from vislang.errors import InputError
    from vislang.fileio import atomic_write, read_json

    results_path = Path(results_path)
    results = read_json(results_path)
    data, base = None, results_path.parent
    if isinstance(results, dict) and results.get("report_data"):
        side = results_path.parent / str(results["report_data"])
        if not side.is_file():
            raise InputError(f"{results_path}: report_data {results['report_data']!r} not found next to it")
        data, base = read_json(side), side.parent
    title = f"vislang report: {results_path.name}"
    if isinstance(results, dict) and results.get("kind") == "demo":
        title = "vislang demo report"
    page = render(results, data, base, title=title)
    out = Path(out)
    with atomic_write(out, "w", encoding="utf-8") as fh:
        fh.write(page)
    return out
