"""What the training commands share: their config fields taken from the command line, and the rules of
``--out`` / ``--resume`` (a resumed run keeps its own config; only the fields named resumable may change)."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any, Sequence


def _flags(names: Sequence[str]) -> str:
    return ", ".join("--" + k.replace("_", "-") for k in names)


def config_fields(args: argparse.Namespace, config_cls: type, resumable: Sequence[str],
                  **overrides: Any) -> dict[str, Any]:
    """The fields of the dataclass ``config_cls`` that the command line gave (plus ``overrides``), with
    ``out`` set to the run folder; raises ConfigError for a missing ``--out``, a ``--resume`` that tries to
    change a fixed field or to write elsewhere, and an image source without ``--captions``."""
    from vislang.errors import ConfigError

    names = {f.name for f in dataclasses.fields(config_cls)}
    given = {k: v for k, v in vars(args).items() if k in names and v is not None}
    given.update(overrides)
    if args.resume:
        fixed = sorted(k for k in given if k not in resumable and k not in ("seed", "out"))
        if args.out and args.out != args.resume:
            raise ConfigError("--resume RUN continues RUN in place; leave out --out (or give the same folder)")
        if fixed:
            raise ConfigError(f"--resume: {_flags(fixed)} come from the run and cannot change; "
                              f"only {_flags(resumable)} can")
        given["out"] = args.resume
    elif not args.out:
        raise ConfigError("give --out RUN (a new run folder) or --resume RUN")
    if given.get("data", "scenes") != "scenes" and not given.get("captions") and not args.resume:
        raise ConfigError(f"--data {given['data']}: an image source needs --captions FILE (or use --data scenes)")
    return given
