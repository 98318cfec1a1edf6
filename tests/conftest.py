"""Shared fixtures.  Tests run under pytest-xdist with 2 workers: keep torch to one thread each."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("VISLANG_QUIET", "1")

try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover
    pass

REPO = Path(__file__).resolve().parents[1]
#: ../shared/data beside the checkout (CI lays a copy of shared/ there).
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own $VISLANG_HOME unless it sets one, so no test sees another's cache."""
    if "VISLANG_HOME" not in os.environ or os.environ["VISLANG_HOME"].startswith(str(tmp_path_factory.getbasetemp())):
        monkeypatch.setenv("VISLANG_HOME", str(tmp_path_factory.mktemp("vislang_home")))


@pytest.fixture(scope="session")
def flickr8k_dir() -> Path:
    path = SHARED_DATA / "flickr8k"
    if not (path / "Flickr8k.token.txt").exists():
        pytest.fail(f"{path}: Flickr8k text files missing; CI lays ../shared beside the checkout")
    return path


def run_cli(*argv: str) -> int:
    """Run the CLI in-process and return its exit code (argparse's SystemExit included)."""
    from vislang.cli import main

    try:
        return main([str(a) for a in argv])
    except SystemExit as exc:  # --help and argparse usage errors
        return int(exc.code or 0)
