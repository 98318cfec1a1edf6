"""Parsers for caption files: each turns one file format into a list of (image_id, caption) records.

Validation is shared: image ids are ints or non-empty strings, captions non-empty strings, and every
error names the file and the line or entry.  :mod:`vislang.data.captions` builds the reference and
candidate dicts on top of these.

Formats (facts, from the published files):

* COCO caption annotations: ``{"images": [{"id", "file_name", ...}], "annotations": [{"id", "image_id",
  "caption"}], ...}`` (``captions_val2014.json``).
* COCO results: ``[{"image_id", "caption"}, ...]``, the file pycocoevalcap's ``COCO.loadRes`` reads.
* Karpathy splits: ``{"dataset", "images": [{"filename", "imgid", "split", "sentences": [{"raw", "tokens",
  ...}], "cocoid"?}]}`` (``dataset_coco.json``, ``dataset_flickr8k.json``).
* Flickr8k tokens: one ``<image file>#<k><TAB><caption>`` a line (``Flickr8k.token.txt``).
* JSONL: one ``{"image_id", "caption"}`` or ``{"image_id", "captions": [...]}`` object a line.
* A JSON mapping ``{image_id: [captions]}`` or ``{image_id: caption}`` (keys are strings).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from vislang.errors import InputError
from vislang.fileio import read_json

Record = tuple[Any, str, str]  # (image_id, caption, where) with ``where`` like "line 3" for messages


def read_text(path: Path) -> str:
    """A UTF-8 text file (BOM allowed); invalid UTF-8 is an error naming the byte offset and line."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder; give a caption file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise InputError(f"{path}: not valid UTF-8 at byte {exc.start} (line {line}); re-save the file as UTF-8") \
            from None


def check_id(path: Path, image_id: Any, where: str) -> Any:
    if isinstance(image_id, bool) or not isinstance(image_id, (int, str)):
        raise InputError(f"{path}: {where}: image_id {image_id!r} must be an integer or a string")
    if isinstance(image_id, str) and not image_id.strip():
        raise InputError(f"{path}: {where}: image_id is an empty string")
    return image_id


def check_caption(path: Path, caption: Any, where: str) -> str:
    if not isinstance(caption, str):
        raise InputError(f"{path}: {where}: caption is {type(caption).__name__} ({caption!r:.40}), not a string")
    if not caption.strip():
        raise InputError(f"{path}: {where}: empty caption")
    return caption


def _field(path: Path, entry: Any, key: str, where: str) -> Any:
    if not isinstance(entry, dict):
        raise InputError(f"{path}: {where}: expected an object with \"{key}\", got {type(entry).__name__}")
    if key not in entry:
        raise InputError(f"{path}: {where}: missing \"{key}\"")
    return entry[key]


def detect(path: Path) -> tuple[str, Any]:
    """(format name, parsed JSON or text) for a caption file; formats as in the module docstring."""
    path = Path(path)
    text = read_text(path)
    stripped = text.lstrip()
    if path.suffix.lower() == ".jsonl":
        return "jsonl", text
    if not stripped:
        raise InputError(f"{path}: empty file; expected captions")
    if stripped[0] in "[{" or path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            first = stripped.split("\n", 1)[0]
            if stripped[0] == "{" and "\n" in stripped.strip() and _is_json_object(first):
                return "jsonl", text
            read_json(path)  # raises the one-line error with line and column
            raise  # pragma: no cover
        if isinstance(data, list):
            return "results", data
        if isinstance(data, dict):
            if "image_id" in data and ("caption" in data or "captions" in data):
                return "jsonl", text  # a one-line JSONL file
            if "annotations" in data:
                return "coco", data
            images = data.get("images")
            if isinstance(images, list) and images and isinstance(images[0], dict) and "sentences" in images[0]:
                return "karpathy", data
            if "images" in data:
                raise InputError(f"{path}: has \"images\" but neither \"annotations\" (COCO) nor \"sentences\" "
                                 f"(Karpathy); not a caption file")
            return "mapping", data
        raise InputError(f"{path}: JSON {type(data).__name__} is not a caption file")
    return "flickr8k", text


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except json.JSONDecodeError:
        return False


def parse_coco(path: Path, data: dict) -> Iterator[Record]:
    anns = data.get("annotations")
    if not isinstance(anns, list):
        raise InputError(f"{path}: \"annotations\" must be a list")
    images = data.get("images") or []
    known = {check_id(path, _field(path, im, "id", f"images[{k}]"), f"images[{k}]") for k, im in enumerate(images)}
    for k, ann in enumerate(anns):
        where = f"annotations[{k}]"
        image_id = check_id(path, _field(path, ann, "image_id", where), where)
        where = f"annotations[{k}] (image_id {image_id!r})"
        if known and image_id not in known:
            raise InputError(f"{path}: {where}: image_id is not in \"images\"")
        yield image_id, check_caption(path, _field(path, ann, "caption", where), where), where


def parse_results(path: Path, data: list) -> Iterator[Record]:
    for k, entry in enumerate(data):
        where = f"entry {k}"
        image_id = check_id(path, _field(path, entry, "image_id", where), where)
        where = f"entry {k} (image_id {image_id!r})"
        yield image_id, check_caption(path, _field(path, entry, "caption", where), where), where


def karpathy_id(path: Path, image: Any, k: int) -> Any:
    where = f"images[{k}]"
    if isinstance(image, dict) and "cocoid" in image:
        return check_id(path, image["cocoid"], where)
    return check_id(path, _field(path, image, "filename", where), where)


def parse_karpathy(path: Path, data: dict, splits: set[str] | None = None) -> Iterator[Record]:
    for k, image in enumerate(data["images"]):
        image_id = karpathy_id(path, image, k)
        if splits is not None and image.get("split") not in splits:
            continue
        sentences = _field(path, image, "sentences", f"images[{k}]")
        if not isinstance(sentences, list) or not sentences:
            raise InputError(f"{path}: images[{k}] (image_id {image_id!r}): \"sentences\" must be a non-empty list")
        for j, sent in enumerate(sentences):
            where = f"images[{k}].sentences[{j}] (image_id {image_id!r})"
            yield image_id, check_caption(path, _field(path, sent, "raw", where), where), where


def parse_flickr8k(path: Path, text: str) -> Iterator[Record]:
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"line {n}"
        key, tab, caption = line.partition("\t")
        name, hash_, k = key.rpartition("#")
        if not tab or not hash_ or not name:
            raise InputError(f"{path}: {where}: expected '<image>#<k><TAB><caption>' (Flickr8k token format)")
        yield check_id(path, name, where), check_caption(path, caption, where), where


def parse_jsonl(path: Path, text: str) -> Iterator[tuple[Any, list[str] | str, str]]:
    """Records (image_id, caption or list of captions, where) of a JSONL file."""
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"line {n}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: malformed JSON at line {n}, column {exc.colno}: {exc.msg}") from None
        image_id = check_id(path, _field(path, obj, "image_id", where), where)
        where = f"line {n} (image_id {image_id!r})"
        if "captions" in obj:
            caps = obj["captions"]
            if not isinstance(caps, list) or not caps:
                raise InputError(f"{path}: {where}: \"captions\" must be a non-empty list of strings")
            yield image_id, [check_caption(path, c, where) for c in caps], where
        else:
            yield image_id, check_caption(path, _field(path, obj, "caption", where), where), where


def parse_mapping(path: Path, data: dict) -> Iterator[tuple[Any, list[str] | str, str]]:
    for image_id, value in data.items():
        where = f"key {image_id!r}"
        check_id(path, image_id, where)
        if isinstance(value, list):
            if not value:
                raise InputError(f"{path}: {where}: empty list of captions")
            yield image_id, [check_caption(path, c, where) for c in value], where
        else:
            yield image_id, check_caption(path, value, where), where
