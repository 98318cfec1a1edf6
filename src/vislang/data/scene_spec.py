"""The vocabulary and the scene specification of the built-in captioned scenes.

A scene is 1-3 objects, each a (shape, colour, size) at a position on a 3 x 3 grid of
cells (with a small jitter inside its cell), on a pale, lightly textured background.
Consecutive objects are linked by one spatial relation (``left of``, ``right of``,
``above``, ``below``) that is true of their positions.  :class:`SceneSpec` is JSON-able
(:meth:`SceneSpec.to_dict` / :meth:`SceneSpec.from_dict`) so every image keeps its spec.

This module holds only data; :mod:`vislang.data.scenes` samples and renders specs and
:mod:`vislang.data.scene_text` turns them into captions and back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from vislang.errors import InputError

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "diamond", "cross")

#: Object colours with their fixed sRGB values (saturated, so they stand out on the pale background).
COLOR_RGB: dict[str, tuple[int, int, int]] = {
    "red": (215, 35, 35),
    "orange": (245, 135, 20),
    "yellow": (235, 200, 20),
    "green": (35, 155, 55),
    "blue": (35, 75, 215),
    "purple": (135, 50, 185),
}
COLORS: tuple[str, ...] = tuple(COLOR_RGB)

SIZES: tuple[str, ...] = ("small", "large")

#: Canonical relations; ``(a, r, b)`` reads "object a is r object b" (``(0, "left of", 1)``).
RELATIONS: tuple[str, ...] = ("left of", "right of", "above", "below")
INVERSE: dict[str, str] = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}

#: (colour, shape) pairs that never occur in the train/val/test splits; every ``test_unseen``
#: scene has at least one.  6 of the 36 pairs (16.7 %), one per colour and one per shape
#: (a permutation), so every colour and every shape still appears in training.
HELD_OUT_PAIRS: frozenset[tuple[str, str]] = frozenset({
    ("red", "triangle"),
    ("orange", "star"),
    ("yellow", "cross"),
    ("green", "circle"),
    ("blue", "diamond"),
    ("purple", "square"),
})

SPLITS: tuple[str, ...] = ("train", "val", "test", "test_unseen")
#: Ids of split s are ``SPLIT_ID_OFFSET[s] + index``, so ids never collide across splits.
SPLIT_ID_OFFSET: dict[str, int] = {"train": 0, "val": 1_000_000, "test": 2_000_000, "test_unseen": 3_000_000}
MAX_SCENES_PER_SPLIT = 1_000_000

#: Object radius (half the extent of its bounding box) as a fraction of the image side.
SIZE_RADIUS: dict[str, float] = {"small": 0.095, "large": 0.15}
GRID = 3  # objects sit in distinct cells of a GRID x GRID grid


@dataclass(frozen=True)
class SceneObject:
    """One object. ``x``, ``y``: centre as a fraction of the image side (y grows downwards);
    ``None`` when the object comes from a parsed caption (positions are not in captions)."""

    shape: str
    color: str
    size: str
    x: float | None = None
    y: float | None = None

    @property
    def attributes(self) -> tuple[str, str, str]:
        """``(size, color, shape)``: what a caption says about the object."""
        return (self.size, self.color, self.shape)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"shape": self.shape, "color": self.color, "size": self.size}
        if self.x is not None:
            d["x"], d["y"] = self.x, self.y
        return d


@dataclass(frozen=True)
class Background:
    """A pale base colour, a linear gradient (``gx``, ``gy``: intensity change from the centre to the
    right / bottom edge, 0-255 units) and a smooth texture: a 4 x 4 grid of values in [-1, 1)
    (SplitMix64 hashes of ``texture_seed``) interpolated bilinearly over the image and scaled by
    ``texture`` (0-255 units), the same for the three channels."""

    color: tuple[int, int, int] = (240, 240, 240)
    gx: float = 0.0
    gy: float = 0.0
    texture: float = 0.0
    texture_seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"color": list(self.color), "gx": self.gx, "gy": self.gy, "texture": self.texture,
                "texture_seed": self.texture_seed}


@dataclass(frozen=True)
class SceneSpec:
    """Objects, relations between them (``(a, relation, b)`` with object indices) and the background."""

    objects: tuple[SceneObject, ...]
    relations: tuple[tuple[int, str, int], ...] = ()
    background: Background | None = field(default=None)

    def __post_init__(self):
        object.__setattr__(self, "objects", tuple(self.objects))
        object.__setattr__(self, "relations", tuple((int(a), str(r), int(b)) for a, r, b in self.relations))

    @property
    def attributes(self) -> list[tuple[str, str, str]]:
        return [o.attributes for o in self.objects]

    def canonical_relations(self) -> frozenset[tuple[tuple[str, str, str], str, tuple[str, str, str]]]:
        """Relations as ``(attributes_a, "left of" | "above", attributes_b)``: independent of object order
        and of which of two equivalent phrasings (``a left of b`` = ``b right of a``) was used."""
        out = set()
        for a, r, b in self.relations:
            ta, tb = self.objects[a].attributes, self.objects[b].attributes
            if r in ("right of", "below"):
                ta, r, tb = tb, INVERSE[r], ta
            out.add((ta, r, tb))
        return frozenset(out)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"objects": [o.to_dict() for o in self.objects],
                             "relations": [[a, r, b] for a, r, b in self.relations]}
        if self.background is not None:
            d["background"] = self.background.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SceneSpec":
        try:
            objects = []
            for o in d["objects"]:
                obj = SceneObject(shape=str(o["shape"]), color=str(o["color"]), size=str(o["size"]),
                                  x=None if o.get("x") is None else float(o["x"]),
                                  y=None if o.get("y") is None else float(o["y"]))
                _check_object(obj)
                objects.append(obj)
            relations = []
            for a, r, b in d.get("relations", []):
                if r not in RELATIONS or not (0 <= int(a) < len(objects) and 0 <= int(b) < len(objects)):
                    raise InputError(f"scene spec: bad relation {[a, r, b]!r}; expected [i, one of {list(RELATIONS)}, j]")
                relations.append((int(a), r, int(b)))
            bg = d.get("background")
            background = None if bg is None else Background(
                color=tuple(int(c) for c in bg["color"]), gx=float(bg["gx"]), gy=float(bg["gy"]),
                texture=float(bg["texture"]), texture_seed=int(bg["texture_seed"]))
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, InputError):
                raise
            raise InputError(f"scene spec: malformed ({type(exc).__name__}: {exc}); expected "
                             "{'objects': [{'shape', 'color', 'size', 'x', 'y'}], 'relations': [[i, rel, j]]}") from None
        return cls(tuple(objects), tuple(relations), background)


def _check_object(obj: SceneObject) -> None:
    if obj.shape not in SHAPES:
        raise InputError(f"scene spec: unknown shape {obj.shape!r}; expected one of {list(SHAPES)}")
    if obj.color not in COLOR_RGB:
        raise InputError(f"scene spec: unknown colour {obj.color!r}; expected one of {list(COLORS)}")
    if obj.size not in SIZES:
        raise InputError(f"scene spec: unknown size {obj.size!r}; expected one of {list(SIZES)}")


def has_held_out_pair(objects: Iterable[SceneObject]) -> bool:
    """Whether any object's (colour, shape) is one of :data:`HELD_OUT_PAIRS`."""
    return any((o.color, o.shape) in HELD_OUT_PAIRS for o in objects)


def check_split(split: str) -> str:
    if split not in SPLITS:
        raise InputError(f"unknown split {split!r}; expected one of {list(SPLITS)}")
    return split
