"""``vislang report``: one self-contained HTML page from a results JSON."""

from __future__ import annotations

import argparse

EPILOG = """\
examples:
  vislang report runs/demo/results.json                     # writes runs/demo/report.html
  vislang eval images --real real/ --fake fake/ --out fid.json && vislang report fid.json --out fid.html

Works on the demo's results.json and on any JSON written by 'vislang eval images|captions|consistency'.
The page embeds its images (data: URIs) and plots (inline SVG), runs no script and makes no network
request, so it can be mailed or opened offline.
"""


def register(commands) -> None:
    p = commands.add("report", "write a self-contained HTML report of a results JSON", _report,
                     description="Render metric tables (with real-vs-real floors, baselines and provenance), "
                                 "sample grids, loss curves, caption tables and consistency examples as one "
                                 "offline HTML file.", epilog=EPILOG)
    p.add_argument("results", metavar="RESULTS", help="results JSON (vislang demo or vislang eval ...)")
    p.add_argument("--out", help="HTML file to write (default: report.html next to RESULTS)")


def _report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from vislang.progress import info
    from vislang.report import write_report

    out = Path(args.out) if args.out else Path(args.results).with_name("report.html")
    write_report(args.results, out)
    info(f"wrote {out}")
    return 0
