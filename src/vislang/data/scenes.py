"""Built-in captioned scenes: the offline default dataset of vislang.

``generate(n, size, seed, split)`` samples ``n`` scene specs (1-3 coloured shapes, relations between
consecutive objects that are true of their positions), renders them anti-aliased at ``size`` px and
gives each at least five distinct captions.  Scene ``i`` of a split depends only on
``(seed, split, i)`` (its own PCG64 stream), so the result is deterministic, a longer run extends a
shorter one, and no global RNG is touched.  ``write_scenes`` / ``vislang data scenes`` save a set as
PNGs + COCO captions + specs; ``load_scenes_dir`` reads it back.

Splits: ``train``, ``val`` and ``test`` never contain a (colour, shape) pair of
:data:`HELD_OUT_PAIRS`; every ``test_unseen`` scene contains at least one (exactly one of its
objects; the others are seen pairs).  See docs/scenes.md.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

from vislang.data.scene_spec import (COLOR_RGB, COLORS, GRID, HELD_OUT_PAIRS, INVERSE, MAX_SCENES_PER_SPLIT,
                                     RELATIONS, SHAPES, SIZE_RADIUS, SIZES, SPLIT_ID_OFFSET, SPLITS, Background,
                                     SceneObject, SceneSpec, check_split, has_held_out_pair)
from vislang.data.scene_text import all_captions, describe, parse_caption, perturb_caption, spec_attributes_match
from vislang.errors import InputError

__all__ = ["SHAPES", "COLORS", "COLOR_RGB", "SIZES", "RELATIONS", "INVERSE", "SPLITS", "HELD_OUT_PAIRS",
           "SceneObject", "SceneSpec", "Background", "Scenes", "sample_spec", "place_spec", "render", "generate", "scene_rng",
           "write_scenes", "load_scenes_dir", "describe", "all_captions", "parse_caption", "perturb_caption",
           "spec_attributes_match", "SEEN_PAIRS", "SUPERSAMPLE"]

SEEN_PAIRS: tuple[tuple[str, str], ...] = tuple((c, s) for c in COLORS for s in SHAPES if (c, s) not in HELD_OUT_PAIRS)
_HELD_OUT_SORTED: tuple[tuple[str, str], ...] = tuple(sorted(HELD_OUT_PAIRS))
_SPLIT_CODE = {s: k for k, s in enumerate(SPLITS)}
SUPERSAMPLE = 4  # shapes are drawn at 4x and box-filtered down: anti-aliasing
_JITTER_MARGIN = 0.01  # keep each object this far (fraction of the side) inside its grid cell


def scene_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The PCG64 stream of scene ``index`` of ``split`` for ``seed``."""
    ss = np.random.SeedSequence(entropy=int(seed), spawn_key=(_SPLIT_CODE[check_split(split)], int(index)))
    return np.random.Generator(np.random.PCG64(ss))


# ----------------------------------------------------------------------------------------------------------------
# sampling

def sample_spec(rng: np.random.Generator, split: str = "train", n_objects: int | None = None) -> SceneSpec:
    """A random scene: 1-3 objects (uniform, unless ``n_objects``) with distinct (size, colour, shape),
    in distinct cells of a 3 x 3 grid, and a relation between each pair of consecutive objects that
    holds on the dominant axis of their cells (a tie picks either axis at random)."""
    check_split(split)
    n = int(rng.integers(1, 4)) if n_objects is None else int(n_objects)
    if not 1 <= n <= 3:
        raise InputError(f"n_objects={n}: scenes have 1 to 3 objects")
    unseen_slot = int(rng.integers(n)) if split == "test_unseen" else -1
    attrs: list[tuple[str, str, str]] = []
    while len(attrs) < n:
        pool = _HELD_OUT_SORTED if len(attrs) == unseen_slot else SEEN_PAIRS
        color, shape = pool[int(rng.integers(len(pool)))]
        size = SIZES[int(rng.integers(len(SIZES)))]
        if (size, color, shape) not in attrs:
            attrs.append((size, color, shape))
    cells = [int(c) for c in rng.choice(GRID * GRID, size=n, replace=False)]
    objects = _place_objects(attrs, cells, rng)
    relations = []
    for k in range(n - 1):
        options = _true_relations(cells[k], cells[k + 1])
        relations.append((k, options[int(rng.integers(len(options)))], k + 1))
    return SceneSpec(tuple(objects), tuple(relations), _sample_background(rng))


def _true_relations(cell_a: int, cell_b: int) -> list[str]:
    """Relations "a REL b" that hold on the dominant axis between two distinct grid cells (both on a tie)."""
    ra, ca = divmod(cell_a, GRID)
    rb, cb = divmod(cell_b, GRID)
    dr, dc = rb - ra, cb - ca
    options = []
    if dc != 0 and abs(dc) >= abs(dr):
        options.append("left of" if dc > 0 else "right of")
    if dr != 0 and abs(dr) >= abs(dc):
        options.append("above" if dr > 0 else "below")
    return options


def _place_objects(attrs, cells, rng: np.random.Generator) -> list[SceneObject]:
    objects = []
    for (size, color, shape), cell in zip(attrs, cells):
        row, col = divmod(int(cell), GRID)
        slack = 0.5 / GRID - SIZE_RADIUS[size] - _JITTER_MARGIN
        x = (col + 0.5) / GRID + float(rng.uniform(-slack, slack))
        y = (row + 0.5) / GRID + float(rng.uniform(-slack, slack))
        objects.append(SceneObject(shape=shape, color=color, size=size, x=round(x, 4), y=round(y, 4)))
    return objects


def _sample_background(rng: np.random.Generator) -> Background:
    base = int(rng.integers(215, 246))
    tint = rng.integers(-8, 9, size=3)
    return Background(color=tuple(int(min(255, base + t)) for t in tint),
                      gx=round(float(rng.uniform(-6, 6)), 3), gy=round(float(rng.uniform(-6, 6)), 3),
                      noise=round(float(rng.uniform(0.0, 3.0)), 3), noise_seed=int(rng.integers(2**31)))


def place_spec(spec: SceneSpec, rng: np.random.Generator) -> SceneSpec:
    """Give the objects of a spec without positions (e.g. :func:`parse_caption`'s result) grid positions
    that make all its relations true, and a background, so it can be rendered: "draw what a caption
    says". Raises :class:`InputError` when no placement satisfies the relations (a contradiction)."""
    import itertools

    n = len(spec.objects)
    if not 1 <= n <= 3:
        raise InputError(f"scene spec: {n} objects; scenes have 1 to 3 objects")
    ok = [cells for cells in itertools.permutations(range(GRID * GRID), n)
          if all(r in _true_relations(cells[a], cells[b]) for a, r, b in spec.relations)]
    if not ok:
        raise InputError(f"scene spec: relations {list(spec.relations)} contradict each other; nothing to place")
    cells = ok[int(rng.integers(len(ok)))]
    objects = _place_objects([o.attributes for o in spec.objects], cells, rng)
    return SceneSpec(tuple(objects), spec.relations, _sample_background(rng))


# ----------------------------------------------------------------------------------------------------------------
# rendering

def _polygon(shape: str, r: float) -> list[tuple[float, float]] | None:
    """Vertices (relative to the centre, y down) of a shape inside the box [-r, r] x [-r, r]; None: a circle."""
    if shape == "square":
        h = 0.8 * r
        return [(-h, -h), (h, -h), (h, h), (-h, h)]
    if shape == "triangle":  # equilateral, pointing up, centred on its bounding box
        h = r * 0.95
        return [(0.0, -h), (h * math.sqrt(3) / 2 * 1.05, h * 0.8), (-h * math.sqrt(3) / 2 * 1.05, h * 0.8)]
    if shape == "diamond":
        return [(0.0, -r), (0.7 * r, 0.0), (0.0, r), (-0.7 * r, 0.0)]
    if shape == "star":
        pts = []
        for k in range(10):
            rad = r if k % 2 == 0 else 0.42 * r
            ang = -math.pi / 2 + k * math.pi / 5
            pts.append((rad * math.cos(ang), rad * math.sin(ang) + 0.08 * r))
        return pts
    if shape == "cross":
        a, w = 0.9 * r, 0.3 * r
        return [(-w, -a), (w, -a), (w, -w), (a, -w), (a, w), (w, w), (w, a), (-w, a), (-w, w), (-a, w), (-a, -w),
                (-w, -w)]
    return None  # circle


def _coverage(obj: SceneObject, size: int) -> tuple[np.ndarray, int, int]:
    """Anti-aliased coverage (float32 in [0, 1]) of one object over its pixel bounding box, and its offset."""
    ss = SUPERSAMPLE
    r = SIZE_RADIUS[obj.size] * size
    cx, cy = obj.x * size, obj.y * size
    x0, y0 = max(0, int(math.floor(cx - r)) - 1), max(0, int(math.floor(cy - r)) - 1)
    x1, y1 = min(size, int(math.ceil(cx + r)) + 1), min(size, int(math.ceil(cy + r)) + 1)
    w, h = x1 - x0, y1 - y0
    canvas = Image.new("L", (w * ss, h * ss), 0)
    draw = ImageDraw.Draw(canvas)
    lx, ly = (cx - x0) * ss, (cy - y0) * ss
    poly = _polygon(obj.shape, r * ss)
    if poly is None:
        rr = r * ss
        draw.ellipse([lx - rr, ly - rr, lx + rr, ly + rr], fill=255)
    else:
        draw.polygon([(lx + px, ly + py) for px, py in poly], fill=255)
    small = canvas.reduce(ss)
    return np.asarray(small, dtype=np.float32) * (1.0 / 255.0), x0, y0


def _background(bg: Background, size: int) -> np.ndarray:
    ramp = (np.arange(size, dtype=np.float32) + 0.5) / size * 2.0 - 1.0  # -1 .. 1 across the image
    base = np.asarray(bg.color, dtype=np.float32)
    img = base[None, None, :] + (bg.gx * ramp[None, :, None] + bg.gy * ramp[:, None, None])
    if bg.noise > 0:
        noise = np.random.Generator(np.random.PCG64(bg.noise_seed)).standard_normal((size, size), dtype=np.float32)
        img = img + (bg.noise * noise)[:, :, None]
    out = np.empty((size, size, 3), dtype=np.float32)
    out[...] = img
    return out


def render_array(spec: SceneSpec, size: int = 64) -> np.ndarray:
    """:func:`render` as a ``size x size x 3`` uint8 NumPy array (H x W x C)."""
    if not isinstance(size, (int, np.integer)) or not 16 <= size <= 1024:
        raise InputError(f"size={size!r}: scene images are 16 to 1024 px (32, 64 or 128 recommended)")
    size = int(size)
    if any(o.x is None or o.y is None for o in spec.objects):
        raise InputError("scene spec has objects without positions (a parsed caption?); sample or place them first")
    img = _background(spec.background or Background(), size)
    for obj in spec.objects:
        a, x0, y0 = _coverage(obj, size)
        color = np.asarray(COLOR_RGB[obj.color], dtype=np.float32)
        region = img[y0:y0 + a.shape[0], x0:x0 + a.shape[1]]
        a3 = a[:, :, None]
        region *= 1.0 - a3
        region += a3 * color
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def render(spec: SceneSpec, size: int = 64) -> torch.Tensor:
    """The scene as a ``torch.uint8`` 3 x size x size RGB tensor: shapes drawn at 4x and box-filtered
    down (anti-aliased), alpha-composited in order over the spec's background."""
    return torch.from_numpy(render_array(spec, size).transpose(2, 0, 1).copy())


# ----------------------------------------------------------------------------------------------------------------
# datasets

@dataclass
class Scenes:
    """A rendered split: ``images`` (uint8 N x 3 x S x S), ``ids``, ``captions`` (id -> >= 5 distinct
    captions), ``specs`` (id -> :class:`SceneSpec`), and how it was made."""

    images: torch.Tensor
    ids: list[int]
    captions: dict[int, list[str]]
    specs: dict[int, SceneSpec]
    size: int
    seed: int | None = None
    split: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def references(self) -> dict[int, list[str]]:
        """The captions in the caption-metric form ``dict[image_id, list[str]]``."""
        return self.captions


def _check_n(n: int) -> int:
    if not isinstance(n, (int, np.integer)) or not 0 < n <= MAX_SCENES_PER_SPLIT:
        raise InputError(f"n={n!r}: ask for 1 to {MAX_SCENES_PER_SPLIT} scenes per split")
    return int(n)


def _make_scene(seed: int, split: str, index: int, size: int, captions_per_image: int):
    rng = scene_rng(seed, split, index)
    spec = sample_spec(rng, split)
    caps = all_captions(spec, k=captions_per_image, rng=rng)
    return spec, caps, render_array(spec, size)


def generate(n: int, size: int = 64, seed: int = 0, split: str = "train", captions_per_image: int = 5,
             progress: bool = False) -> Scenes:
    """Render ``n`` scenes of ``split`` at ``size`` px; deterministic in ``(n, size, seed, split)``.

    Scene ``i`` gets id ``SPLIT_ID_OFFSET[split] + i`` and depends only on ``(seed, split, i)``.
    """
    n = _check_n(n)
    check_split(split)
    if captions_per_image < 1:
        raise InputError(f"captions_per_image={captions_per_image}: must be at least 1")
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    ids, captions, specs = [], {}, {}
    offset = SPLIT_ID_OFFSET[split]
    indices = range(n)
    if progress:
        from vislang.progress import progress as bar
        indices = bar(indices, total=n, desc=f"rendering {split} scenes", unit="scene")
    for i in indices:
        spec, caps, img = _make_scene(seed, split, i, size, captions_per_image)
        sid = offset + i
        ids.append(sid)
        captions[sid] = caps
        specs[sid] = spec
        images[i] = img
    tensor = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
    return Scenes(tensor, ids, captions, specs, size, seed, split)


# ----------------------------------------------------------------------------------------------------------------
# files

def _png_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr, "RGB").save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def write_scenes(scenes: Scenes, out: str | Path, overwrite: bool = False, progress: bool = False) -> Path:
    """Write ``images/NNNNNN.png`` (index order), ``captions.json`` (COCO annotations) and ``specs.json``
    into the folder ``out``, atomically (all or nothing); the same scenes give the same bytes."""
    from vislang.fileio import atomic_dir, write_json

    out = Path(out)
    with atomic_dir(out, overwrite=overwrite) as tmp:
        (tmp / "images").mkdir()
        images_json, annotations, spec_rows = [], [], []
        arrays = scenes.images.permute(0, 2, 3, 1).contiguous().numpy()
        indices = range(len(scenes))
        if progress:
            from vislang.progress import progress as bar
            indices = bar(indices, total=len(scenes), desc="writing PNGs", unit="image")
        for i in indices:
            sid = scenes.ids[i]
            name = f"{i:06d}.png"
            (tmp / "images" / name).write_bytes(_png_bytes(arrays[i]))
            images_json.append({"id": sid, "file_name": name, "width": scenes.size, "height": scenes.size})
            for cap in scenes.captions[sid]:
                annotations.append({"id": len(annotations) + 1, "image_id": sid, "caption": cap})
            spec_rows.append({"id": sid, "file_name": name, "spec": scenes.specs[sid].to_dict()})
        info = {"description": "vislang built-in captioned scenes", "split": scenes.split, "seed": scenes.seed,
                "size": scenes.size, "count": len(scenes)}
        write_json(tmp / "captions.json", {"info": info, "images": images_json, "annotations": annotations}, indent=None)
        write_json(tmp / "specs.json", {"info": info, "held_out_pairs": [list(p) for p in _HELD_OUT_SORTED],
                                        "scenes": spec_rows}, indent=None)
    return out


def load_scenes_dir(path: str | Path) -> Scenes:
    """Read a folder written by :func:`write_scenes` (``vislang data scenes``) back into :class:`Scenes`."""
    from vislang.fileio import read_json

    path = Path(path)
    if not path.is_dir():
        raise InputError(f"{path}: not a folder; pass the --out folder of 'vislang data scenes'")
    for name in ("captions.json", "specs.json"):
        if not (path / name).is_file():
            raise InputError(f"{path}: no {name}; is this a folder written by 'vislang data scenes'?")
    coco = read_json(path / "captions.json")
    spec_doc = read_json(path / "specs.json")
    try:
        rows = spec_doc["scenes"]
        info = spec_doc.get("info", {})
        ids = [int(r["id"]) for r in rows]
        specs = {int(r["id"]): SceneSpec.from_dict(r["spec"]) for r in rows}
        files = [str(r["file_name"]) for r in rows]
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path / 'specs.json'}: malformed ({exc}); rewrite it with 'vislang data scenes'") from None
    captions: dict[int, list[str]] = {i: [] for i in ids}
    try:
        for ann in coco["annotations"]:
            iid = int(ann["image_id"])
            if iid not in captions:
                raise InputError(f"{path / 'captions.json'}: caption for image {iid}, which specs.json lacks")
            captions[iid].append(str(ann["caption"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path / 'captions.json'}: malformed ({exc}); expected COCO annotations") from None
    arrays = []
    size = None
    for name in files:
        f = path / "images" / name
        try:
            with Image.open(f) as im:
                arr = np.asarray(im.convert("RGB"))
        except FileNotFoundError:
            raise InputError(f"{f}: missing image; the folder is incomplete") from None
        except OSError as exc:
            raise InputError(f"{f}: unreadable image ({exc})") from None
        if size is None:
            size = arr.shape[0]
        if arr.shape != (size, size, 3):
            raise InputError(f"{f}: {arr.shape[1]}x{arr.shape[0]} image; expected {size}x{size} like the others")
        arrays.append(arr)
    if not arrays:
        raise InputError(f"{path}: no scenes listed in specs.json")
    images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    return Scenes(images, ids, captions, specs, int(size), info.get("seed"), info.get("split"),
                  meta={"path": str(path)})
