"""Task files of the rating app: what is rated, on which scale, from which folders.

A task JSON (see docs/humaneval.md)::

    {"name": "captions-v1", "type": "caption", "k": 3, "seed": 0, "per_rater": 20,
     "media_dirs": ["images"],
     "items": [{"id": "c1", "image": "images/a.jpg", "caption": "a dog runs"}, ...],
     "attention_checks": [{"id": "chk1", "image": "images/b.jpg", "caption": "...", "expected": 1}]}

Types: ``realism`` (an image, scale 1-5), ``caption`` (an image and a caption, the Flickr8k-Expert
scale 1-4, Hodosh et al. 2013), ``pairwise`` (``a`` and ``b``: two systems' outputs, each an
``{"image": ..., "caption": ...}``; the answer is 1 = A preferred, 2 = B preferred).  An item may set
its own ``type``.  Media paths are relative to the task file and must lie inside one of
``media_dirs`` (folders relative to the task file).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vislang.errors import ConfigError, ResourceNotFound

SCALES = {
    "realism": {1: "1 - clearly fake", 2: "2", 3: "3", 4: "4", 5: "5 - indistinguishable from a real photo"},
    "caption": {1: "1 - does not describe the image at all", 2: "2 - describes minor aspects, not the image",
                3: "3 - almost describes the image, minor mistakes", 4: "4 - describes the image"},
    "pairwise": {1: "A is better", 2: "B is better"},
}
QUESTIONS = {"realism": "How realistic is this image?", "caption": "How well does the caption describe the image?",
             "pairwise": "Which output is better?"}


@dataclass
class Task:
    name: str
    type: str
    k: int
    seed: int
    per_rater: int | None
    root: Path
    media_dirs: list[Path]
    items: list[dict[str, Any]] = field(default_factory=list)  # each with id, type, is_check, expected

    def item(self, item_id: str) -> dict[str, Any] | None:
        return self._by_id.get(item_id)

    def __post_init__(self):
        self._by_id = {it["id"]: it for it in self.items}


def _media_paths(it: dict) -> list[str]:
    out = [it[k] for k in ("image",) if isinstance(it.get(k), str)]
    for side in ("a", "b"):
        if isinstance(it.get(side), dict) and isinstance(it[side].get("image"), str):
            out.append(it[side]["image"])
    return out


def load_task(path) -> Task:
    path = Path(path)
    if not path.is_file():
        raise ResourceNotFound(f"{path}: task file not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ConfigError(f"{path}: invalid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the task must be a JSON object")
    ttype = data.get("type", "caption")
    if ttype not in SCALES:
        raise ConfigError(f"{path}: type must be one of {', '.join(SCALES)}, got {ttype!r}")
    k = data.get("k", 3)
    if not isinstance(k, int) or k < 1:
        raise ConfigError(f"{path}: k (ratings per item) must be a positive integer")
    root = path.resolve().parent
    media = []
    for d in data.get("media_dirs", []):
        p = (root / d).resolve()
        if not p.is_dir():
            raise ConfigError(f"{path}: media_dirs entry {d!r} is not a folder beside the task file")
        media.append(p)
    items, seen = [], set()
    for is_check, key in ((False, "items"), (True, "attention_checks")):
        for n, it in enumerate(data.get(key, [])):
            if not isinstance(it, dict) or not isinstance(it.get("id"), str) or not it["id"]:
                raise ConfigError(f"{path}: {key}[{n}] needs a string id")
            if it["id"] in seen:
                raise ConfigError(f"{path}: item id {it['id']!r} appears twice")
            seen.add(it["id"])
            it = dict(it, type=it.get("type", ttype), is_check=is_check)
            if it["type"] not in SCALES:
                raise ConfigError(f"{path}: {key}[{n}] has unknown type {it['type']!r}")
            if is_check and it.get("expected") not in SCALES[it["type"]]:
                raise ConfigError(f"{path}: attention check {it['id']!r} needs 'expected' on its scale "
                                  f"{sorted(SCALES[it['type']])}")
            for m in _media_paths(it):
                if resolve_media(media, root, m) is None:
                    raise ConfigError(f"{path}: item {it['id']!r}: {m!r} is not a file inside media_dirs")
            items.append(it)
    if not any(not it["is_check"] for it in items):
        raise ConfigError(f"{path}: the task has no items")
    per_rater = data.get("per_rater")
    if per_rater is not None and (not isinstance(per_rater, int) or per_rater < 1):
        raise ConfigError(f"{path}: per_rater must be a positive integer")
    return Task(str(data.get("name", path.stem)), ttype, k, int(data.get("seed", 0)), per_rater, root, media, items)


def resolve_media(media_dirs: list[Path], root: Path, rel: str) -> Path | None:
    """The file ``rel`` (relative to the task folder) if it lies inside one of ``media_dirs``, else None."""
    if not rel or "\x00" in rel or rel.startswith(("/", "\\")):
        return None
    try:
        p = (root / rel).resolve()
    except (OSError, ValueError):
        return None
    for d in media_dirs:
        if p.is_relative_to(d) and p.is_file():
            return p
    return None


def rater_order(item_ids: list[str], seed: int, rater_id: int) -> list[str]:
    """The rater's presentation order: a shuffle seeded by (task seed, rater id)."""
    ids = list(item_ids)
    random.Random(f"{seed}:{rater_id}").shuffle(ids)
    return ids


def pairwise_flip(seed: int, rater_id: int, item_id: str) -> bool:
    """Whether system B is shown on the left for this rater and item (seeded, so reloads agree)."""
    return random.Random(f"{seed}:{rater_id}:{item_id}:side").random() < 0.5
