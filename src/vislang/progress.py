"""Progress bars on stderr, off with ``--quiet`` or when stderr is not a terminal."""

from __future__ import annotations

import os
import sys
from typing import Iterable, TypeVar

T = TypeVar("T")

_quiet = False


def set_quiet(quiet: bool) -> None:
    """Turn progress bars off (``True``) for the rest of the process; the CLI's ``--quiet`` calls this."""
    global _quiet
    _quiet = bool(quiet)


def enabled() -> bool:
    if _quiet or os.environ.get("VISLANG_QUIET"):
        return False
    return sys.stderr.isatty() or bool(os.environ.get("VISLANG_PROGRESS"))


def progress(iterable: Iterable[T] | None = None, *, total: int | None = None, desc: str = "", unit: str = "it"):
    """A tqdm bar on stderr when enabled, else a silent pass-through with the same API."""
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=not enabled(), file=sys.stderr,
                dynamic_ncols=True, leave=False)


def info(message: str) -> None:
    """A one-line status message on stderr (silenced by ``--quiet``)."""
    if not (_quiet or os.environ.get("VISLANG_QUIET")):
        print(message, file=sys.stderr, flush=True)
