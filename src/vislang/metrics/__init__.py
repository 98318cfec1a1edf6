"""Metrics: image quality and diversity (``image``), caption metrics (``text``), image-text consistency
(``consistency``).  All follow the protocol in :mod:`vislang.metrics.base`."""
