"""Self-contained HTML reports of results (``vislang report``)."""

from vislang.report.html import render, write_report

__all__ = ["render", "write_report"]
