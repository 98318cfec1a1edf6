"""User-facing errors.

Every error a user can fix (bad input, a missing resource, a wrong option) is a
:class:`VislangError`.  The CLI prints its message on one line and exits with
code 2; library callers can catch the subclasses.  Messages name the file or
field at fault and say what to do.
"""

from __future__ import annotations


class VislangError(Exception):
    """Base class for errors whose message is meant for the user."""

    exit_code = 2

    def __str__(self) -> str:  # one line, always
        return " ".join(str(self.args[0]).split()) if self.args else ""


class InputError(VislangError, ValueError):
    """Bad user input: an unreadable file, a malformed record, an inconsistent set."""


class ResourceNotFound(VislangError, FileNotFoundError):
    """A weight file, dataset or other resource that could not be found or fetched."""


class ConfigError(VislangError, ValueError):
    """Options that contradict each other or do not apply."""
