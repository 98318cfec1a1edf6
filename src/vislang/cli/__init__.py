"""The ``vislang`` command line: ``vislang <group> <command>`` or ``vislang <command>``.

This package only parses arguments and calls the library.  Each module in it
(``vislang/cli/*.py``) defines ``register(commands)`` and adds its sub-commands to
the parsers it is handed; modules are discovered automatically, so a new command
is a new module.  Modules import heavy libraries (torch, ...) inside their
handlers, never at import time, so ``vislang --help`` stays fast.

Handlers receive the parsed ``argparse.Namespace`` and return an exit code (or
``None`` for 0).  A :class:`vislang.errors.VislangError` is printed on one line
(``vislang: error: ...``) with exit code 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from typing import Callable, Sequence

from vislang import __version__

#: The command groups; every other command sits at the top level.
GROUPS = {
    "data": "validate, render and convert datasets (images, captions, built-in scenes)",
    "eval": "evaluate images, captions and image-text consistency",
    "train": "train generators, captioners and dual encoders (resumable checkpoints)",
    "humaneval": "collect human judgments with a local rating app",
}


class Commands:
    """What a cli module's ``register`` receives: ways to add a command to a group or the top level."""

    def __init__(self, top: argparse._SubParsersAction, groups: dict[str, argparse._SubParsersAction]):
        self._top = top
        self._groups = groups

    def add(self, name: str, help: str, func: Callable[[argparse.Namespace], int | None], group: str | None = None,
            description: str | None = None, seed: bool = False, **kwargs) -> argparse.ArgumentParser:
        """Add ``vislang [group] name``; returns its parser so the caller can add arguments.

        Every command gets ``--quiet``; ``seed=True`` adds ``--seed`` (default 0).
        """
        sub = self._groups[group] if group else self._top
        parser = sub.add_parser(name, help=help, description=description or help,
                                formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)
        parser.add_argument("--quiet", action="store_true", help="no progress bars or status messages on stderr")
        if seed:
            parser.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same output (default 0)")
        parser.set_defaults(func=func)
        return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vislang",
        description="vislang: train visual-language generators (GAN, captioner, dual encoder) and evaluate "
                    "images, captions and image-text consistency with reproducible metrics.",
        epilog="Run 'vislang <command> --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"vislang {__version__}")
    top = parser.add_subparsers(title="commands", metavar="<command>")
    groups = {}
    for name, help_text in GROUPS.items():
        gp = top.add_parser(name, help=help_text, description=help_text)
        groups[name] = gp.add_subparsers(title=f"{name} commands", metavar="<command>")
        gp.set_defaults(func=None, _group_parser=gp)
    commands = Commands(top, groups)
    for mod in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        module = importlib.import_module(f"{__name__}.{mod}")
        if hasattr(module, "register"):
            module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from vislang.errors import VislangError
    from vislang.progress import set_quiet

    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        (getattr(args, "_group_parser", None) or parser).print_help(sys.stderr)
        return 2
    set_quiet(getattr(args, "quiet", False))
    try:
        code = func(args)
    except VislangError as exc:
        print(f"vislang: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("vislang: interrupted", file=sys.stderr)
        return 130
    return int(code or 0)
