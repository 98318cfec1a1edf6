"""Atomic file output, JSON / JSON-lines helpers, the cache directory and hashing.

Every file vislang writes goes through :func:`atomic_write` (or :func:`atomic_dir`
for a folder): the content is written to a temporary sibling and renamed into
place, so an interrupted or failed command never leaves a half-written output.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

from vislang.errors import InputError

PathLike = str | os.PathLike


def cache_dir(*parts: str) -> Path:
    """``$VISLANG_HOME`` (default ``~/.cache/vislang``) joined with ``parts``; created on demand."""
    root = Path(os.environ.get("VISLANG_HOME") or Path.home() / ".cache" / "vislang")
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def atomic_write(path: PathLike, mode: str = "wb", encoding: str | None = None) -> Iterator[Any]:
    """Open a temporary file beside ``path``; on success fsync and rename it to ``path``.

    On an exception the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if "b" not in mode and encoding is None:
        encoding = "utf-8"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, encoding=encoding) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_dir(path: PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; on success rename it to ``path``.

    An existing non-empty ``path`` is an error unless ``overwrite`` is true, in which
    case it is replaced only after the new content is complete.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{path}: exists and is not a folder; choose another --out")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise InputError(f"{path}: folder exists and is not empty; remove it or pass --overwrite")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_json(path: PathLike, obj: Any, indent: int | None = 2) -> None:
    """Write ``obj`` as UTF-8 JSON atomically (NaN is refused: it is not JSON)."""
    with atomic_write(path, "w") as fh:
        json.dump(obj, fh, indent=indent, ensure_ascii=False, allow_nan=False, sort_keys=False)
        fh.write("\n")


def read_json(path: PathLike) -> Any:
    """Read a JSON file, turning every failure into a one-line :class:`InputError`."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not valid UTF-8 at byte {exc.start}; re-save the file as UTF-8") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None


class JsonlLogger:
    """Append-only JSON-lines log, one object a line, flushed after each record.

    ``truncate_after(key, value)`` drops records whose ``key`` exceeds ``value``; a resumed
    training run calls it so that the log holds every step exactly once.
    """

    def __init__(self, path: PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def log(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False, allow_nan=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        out = []
        with open(self.path, encoding="utf-8") as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    break  # a torn last line from a killed process: drop it and what follows
        return out

    def truncate_after(self, key: str, value: float) -> None:
        keep = [r for r in self.read() if not (key in r and r[key] > value)]
        with atomic_write(self.path, "w") as fh:
            for r in keep:
                fh.write(json.dumps(r, ensure_ascii=False, allow_nan=True) + "\n")


def sha256_file(path: PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
