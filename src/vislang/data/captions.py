"""Caption files: load and save references and candidates in the common formats.

In memory, references are ``dict[image_id, list[str]]`` and candidates ``dict[image_id, str]``; image ids
are ints (COCO) or strings (file names), kept as the file has them.  Captions are kept verbatim.

* COCO caption annotations: :func:`load_references` (auto-detected), :func:`save_coco_annotations`;
* COCO results ``[{"image_id", "caption"}]``: :func:`load_candidates` (or as references), :func:`save_results`;
* Karpathy ``dataset_*.json`` with splits: :func:`load_karpathy`, :func:`save_karpathy`;
* Flickr8k token file and split lists: :func:`load_flickr8k`, :func:`save_flickr8k`;
* JSONL: :func:`load_jsonl`, :func:`save_jsonl`.

Every problem is a one-line :class:`~vislang.errors.InputError` naming the file and the line or entry:
duplicate ids in a results file, empty or non-string captions, invalid UTF-8 (byte offset), malformed
JSON (line and column).  :func:`check_pairing` says which ids are on one side only.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from vislang.data import caption_formats as fmt
from vislang.errors import InputError
from vislang.fileio import atomic_write, write_json

__all__ = ["load_references", "load_candidates", "save_results", "save_coco_annotations", "load_flickr8k",
           "save_flickr8k", "load_karpathy", "save_karpathy", "karpathy_splits", "save_jsonl", "load_jsonl",
           "check_pairing", "caption_format"]

References = dict[Any, list[str]]
Candidates = dict[Any, str]


def caption_format(path) -> str:
    """The detected format of a caption file: coco, results, karpathy, flickr8k, jsonl or mapping."""
    return fmt.detect(Path(path))[0]


def _group(records: Iterable[tuple[Any, Any, str]]) -> References:
    refs: References = {}
    for image_id, caption, _ in records:
        caps = refs.setdefault(image_id, [])
        caps.extend(caption if isinstance(caption, list) else [caption])
    return refs


def _one_each(path: Path, records: Iterable[tuple[Any, Any, str]], kind: str) -> Candidates:
    cands: Candidates = {}
    where_of: dict[Any, str] = {}
    for image_id, caption, where in records:
        if isinstance(caption, list):
            if len(caption) != 1:
                raise InputError(f"{path}: {where}: a candidate file has one caption per image, "
                                 f"found a list of {len(caption)}")
            caption = caption[0]
        if image_id in cands:
            raise InputError(f"{path}: image_id {image_id!r} appears twice ({where_of[image_id]} and {where}); "
                             f"a {kind} has one caption per image")
        cands[image_id] = caption
        where_of[image_id] = where
    if not cands:
        raise InputError(f"{path}: holds no captions")
    return cands


def load_references(path) -> References:
    """References ``{image_id: [captions]}`` from any supported format (auto-detected).

    COCO annotations, Karpathy ``dataset_*.json`` (all splits; use :func:`load_karpathy` to pick one),
    Flickr8k token file, JSONL, COCO results (several entries per id allowed) or a JSON mapping.
    """
    path = Path(path)
    kind, data = fmt.detect(path)
    if kind == "coco":
        refs = _group(fmt.parse_coco(path, data))
    elif kind == "karpathy":
        refs = _group(fmt.parse_karpathy(path, data))
    elif kind == "flickr8k":
        refs = _group(fmt.parse_flickr8k(path, data))
    elif kind == "jsonl":
        refs = _group(fmt.parse_jsonl(path, data))
    elif kind == "results":
        refs = _group(fmt.parse_results(path, data))
    else:
        refs = _group(fmt.parse_mapping(path, data))
    if not refs:
        raise InputError(f"{path}: holds no captions")
    return refs


def load_candidates(path) -> Candidates:
    """Candidates ``{image_id: caption}`` from a COCO results file, JSONL or a JSON mapping; one caption per id."""
    path = Path(path)
    kind, data = fmt.detect(path)
    if kind == "results":
        return _one_each(path, fmt.parse_results(path, data), "results file")
    if kind == "jsonl":
        return _one_each(path, fmt.parse_jsonl(path, data), "candidate file")
    if kind == "mapping":
        return _one_each(path, fmt.parse_mapping(path, data), "candidate file")
    raise InputError(f"{path}: looks like {kind} references, not candidates; give a COCO results file "
                     f"[{{\"image_id\", \"caption\"}}, ...] or JSONL")


# -- validation -----------------------------------------------------------------------------------------------------
def _check_id(image_id: Any, what: str) -> None:
    if isinstance(image_id, bool) or not isinstance(image_id, (int, str)):
        raise InputError(f"{what}: image_id {image_id!r} must be an integer or a string")


def _check_refs(refs: Mapping[Any, Sequence[str]], what: str = "references") -> None:
    for image_id, caps in refs.items():
        _check_id(image_id, what)
        if isinstance(caps, str) or not isinstance(caps, (list, tuple)) or not caps:
            raise InputError(f"{what}: image_id {image_id!r}: expected a non-empty list of captions")
        for c in caps:
            if not isinstance(c, str) or not c.strip():
                raise InputError(f"{what}: image_id {image_id!r}: empty or non-string caption {c!r:.40}")


def _check_cands(cands: Mapping[Any, str], what: str = "candidates") -> None:
    for image_id, c in cands.items():
        _check_id(image_id, what)
        if not isinstance(c, str) or not c.strip():
            raise InputError(f"{what}: image_id {image_id!r}: empty or non-string caption {c!r:.40}")


def _first_few(ids: list[Any], k: int = 5) -> str:
    shown = ", ".join(repr(i) for i in ids[:k])
    return shown + (", ..." if len(ids) > k else "")


def check_pairing(refs: Mapping[Any, Sequence[str]], cands: Mapping[Any, str], refs_name: str = "references",
                  cands_name: str = "candidates") -> None:
    """Raise :class:`InputError` unless ``refs`` and ``cands`` cover the same image ids with valid captions."""
    _check_refs(refs, refs_name)
    _check_cands(cands, cands_name)
    only_c = [i for i in cands if i not in refs]
    only_r = [i for i in refs if i not in cands]
    if not only_c and not only_r:
        if not refs:
            raise InputError(f"{refs_name} and {cands_name} are empty")
        return
    parts = []
    if only_c:
        parts.append(f"{len(only_c)} image ids only in {cands_name} (first: {_first_few(only_c)})")
    if only_r:
        parts.append(f"{len(only_r)} only in {refs_name} (first: {_first_few(only_r)})")
    hint = "evaluate on the same set of images"
    if {str(i) for i in only_c} & {str(i) for i in only_r}:
        hint = "the ids differ in type (integer vs string): write them the same way in both files"
    raise InputError(f"{cands_name} and {refs_name} do not cover the same images: {'; '.join(parts)}; {hint}")


# -- COCO -----------------------------------------------------------------------------------------------------------
def save_results(path, cands: Mapping[Any, str]) -> None:
    """Write candidates as a COCO results file ``[{"image_id", "caption"}, ...]``, atomically."""
    _check_cands(cands)
    write_json(path, [{"image_id": i, "caption": c} for i, c in cands.items()])


def save_coco_annotations(path, refs: Mapping[Any, Sequence[str]], images: Mapping[Any, dict] | None = None,
                          info: dict | None = None) -> None:
    """Write references as COCO caption annotations, atomically.

    ``images`` may give extra fields per image id (``file_name``, ``height``, ``width``, ...); an image
    without a ``file_name`` gets ``str(image_id)``.
    """
    _check_refs(refs)
    images = images or {}
    out_images, anns = [], []
    for image_id, caps in refs.items():
        entry = {"id": image_id, "file_name": str(image_id)}
        entry.update(images.get(image_id, {}))
        out_images.append(entry)
        for c in caps:
            anns.append({"id": len(anns) + 1, "image_id": image_id, "caption": c})
    doc = {"info": info or {"description": "caption annotations written by vislang"}, "licenses": [],
           "type": "captions", "images": out_images, "annotations": anns}
    write_json(path, doc, indent=None)


# -- Karpathy -------------------------------------------------------------------------------------------------------
def _karpathy_data(path: Path) -> dict:
    kind, data = fmt.detect(path)
    if kind != "karpathy":
        raise InputError(f"{path}: not a Karpathy dataset_*.json (no \"images\" with \"sentences\"; found {kind})")
    return data


def karpathy_splits(path) -> dict[Any, str]:
    """``{image_id: split}`` of a Karpathy file (splits: train, val, test, restval)."""
    path = Path(path)
    data = _karpathy_data(path)
    return {fmt.karpathy_id(path, im, k): str(im.get("split", "")) for k, im in enumerate(data["images"])}


def load_karpathy(path, split: str | Sequence[str] | None = None) -> References:
    """References from a Karpathy ``dataset_*.json`` (raw sentences), optionally of one split.

    Image ids are ``cocoid`` when present (COCO), else ``filename`` (Flickr8k/30k).  ``split`` is a split
    name, several joined by ``+`` (``"train+restval"``: the usual 113k COCO training set) or a list.
    """
    path = Path(path)
    data = _karpathy_data(path)
    wanted = None
    if split is not None:
        wanted = set(split.split("+")) if isinstance(split, str) else set(split)
        present = {im.get("split") for im in data["images"] if isinstance(im, dict)}
        missing = sorted(wanted - present)
        if missing:
            raise InputError(f"{path}: no images in split {', '.join(missing)}; "
                             f"splits present: {', '.join(sorted(str(s) for s in present))}")
    refs = _group(fmt.parse_karpathy(path, data, wanted))
    if not refs:
        raise InputError(f"{path}: holds no captions")
    return refs


def _karpathy_tokens(caption: str) -> list[str]:
    """Lower-cased alphanumeric runs, the shape of the ``tokens`` field in Karpathy's files."""
    return re.findall(r"[a-z0-9]+", caption.lower())


def save_karpathy(path, refs: Mapping[Any, Sequence[str]], splits: Mapping[Any, str] | str = "test",
                  dataset: str = "vislang") -> None:
    """Write references as a Karpathy-style ``dataset_*.json``, atomically.

    Integer ids are stored as ``cocoid`` (filename ``"<id>.jpg"``), string ids as ``filename``.
    ``splits``: one split name for all images or ``{image_id: split}``.
    """
    _check_refs(refs)
    images, sentid = [], 0
    for imgid, (image_id, caps) in enumerate(refs.items()):
        split = splits if isinstance(splits, str) else splits.get(image_id, "test")
        entry: dict[str, Any] = {"filepath": "", "imgid": imgid, "split": split}
        if isinstance(image_id, int):
            entry.update(cocoid=image_id, filename=f"{image_id}.jpg")
        else:
            entry["filename"] = image_id
        sentences = []
        for c in caps:
            sentences.append({"tokens": _karpathy_tokens(c), "raw": c, "imgid": imgid, "sentid": sentid})
            sentid += 1
        entry["sentids"] = [s["sentid"] for s in sentences]
        entry["sentences"] = sentences
        images.append(entry)
    write_json(path, {"images": images, "dataset": dataset}, indent=None)


# -- Flickr8k -------------------------------------------------------------------------------------------------------
def load_flickr8k(token_file, split_file=None) -> dict[str, list[str]]:
    """References from ``Flickr8k.token.txt``; ids are image file names (``"1000268201_693b08cb0e.jpg"``).

    ``split_file`` (``Flickr_8k.trainImages.txt``, ...: one file name a line) keeps those images, in its
    order; a listed image without captions is an error.
    """
    path = Path(token_file)
    refs = _group(fmt.parse_flickr8k(path, fmt.read_text(path)))
    if not refs:
        raise InputError(f"{path}: holds no captions")
    if split_file is None:
        return refs
    split_path = Path(split_file)
    names = [line.strip() for line in fmt.read_text(split_path).splitlines() if line.strip()]
    if not names:
        raise InputError(f"{split_path}: the split list is empty")
    missing = [n for n in names if n not in refs]
    if missing:
        raise InputError(f"{split_path}: {len(missing)} listed images have no captions in {path.name} "
                         f"(first: {_first_few(missing)}); is this the split list for that token file?")
    return {n: refs[n] for n in dict.fromkeys(names)}


def leave_one_out(refs: Mapping[Any, Sequence[str]]) -> tuple[References, Candidates]:
    """Split references into (references, candidates) the way human-level caption scores are made: for each
    image with at least two captions, its first caption is the candidate and the others its references
    (images with a single caption are left out).  With :func:`load_flickr8k` this is the Flickr8k
    leave-one-out set of the caption-metric benchmarks (8,092 candidates, 32,367 references)."""
    out_refs: References = {}
    cands: Candidates = {}
    for image_id, caps in refs.items():
        if len(caps) >= 2:
            cands[image_id], out_refs[image_id] = caps[0], list(caps[1:])
    return out_refs, cands


def save_flickr8k(path, refs: Mapping[Any, Sequence[str]]) -> None:
    """Write references as a Flickr8k token file (``<image>#<k><TAB><caption>``), atomically."""
    _check_refs(refs)
    with atomic_write(path, "w") as fh:
        for image_id, caps in refs.items():
            for k, c in enumerate(caps):
                if any(ch in c for ch in "\t\r\n"):
                    raise InputError(f"{path}: image_id {image_id!r}: a caption with a tab or line break cannot "
                                     f"be written in the Flickr8k token format")
                fh.write(f"{image_id}#{k}\t{c}\n")


# -- JSONL ----------------------------------------------------------------------------------------------------------
def load_jsonl(path, candidates: bool = False) -> References | Candidates:
    """A JSONL caption file: references ``{id: [captions]}`` (lines with one id are gathered), or with
    ``candidates=True`` one caption per id (a repeated id is an error)."""
    path = Path(path)
    records = fmt.parse_jsonl(path, fmt.read_text(path))
    if candidates:
        return _one_each(path, records, "candidate file")
    refs = _group(records)
    if not refs:
        raise InputError(f"{path}: holds no captions")
    return refs


def save_jsonl(path, captions: Mapping[Any, Sequence[str]] | Mapping[Any, str]) -> None:
    """Write references (``{"image_id", "captions"}`` lines) or candidates (``{"image_id", "caption"}``), atomically."""
    is_cands = all(isinstance(v, str) for v in captions.values())
    _check_cands(captions) if is_cands else _check_refs(captions)  # type: ignore[arg-type]
    key = "caption" if is_cands else "captions"
    with atomic_write(path, "w") as fh:
        for image_id, value in captions.items():
            fh.write(json.dumps({"image_id": image_id, key: value if is_cands else list(value)},
                                ensure_ascii=False) + "\n")
