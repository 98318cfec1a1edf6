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
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from vislang.data.scene_render import SUPERSAMPLE, render, render_array, render_chw
from vislang.data.scene_spec import (COLOR_RGB, COLORS, GRID, HELD_OUT_PAIRS, INVERSE, MAX_SCENES_PER_SPLIT,
                                     RELATIONS, SHAPES, SIZE_RADIUS, SIZES, SPLIT_ID_OFFSET, SPLITS, Background,
                                     SceneObject, SceneSpec, check_split, has_held_out_pair)
from vislang.data.scene_text import all_captions, describe, parse_caption, perturb_caption, spec_attributes_match
from vislang.errors import InputError

__all__ = [
    "SHAPES", "COLORS", "COLOR_RGB", "SIZES", "RELATIONS", "INVERSE", "SPLITS", "HELD_OUT_PAIRS", "SEEN_PAIRS",
    "SUPERSAMPLE", "SceneObject", "SceneSpec", "Background", "Scenes", "scene_rng", "sample_spec", "place_spec",
    "has_held_out_pair", "render", "render_array", "render_chw", "generate", "write_scenes", "load_scenes_dir",
    "describe", "all_captions", "parse_caption", "perturb_caption", "spec_attributes_match",
]

SEEN_PAIRS: tuple[tuple[str, str], ...] = tuple((c, s) for c in COLORS for s in SHAPES if (c, s) not in HELD_OUT_PAIRS)
_HELD_OUT_SORTED: tuple[tuple[str, str], ...] = tuple(sorted(HELD_OUT_PAIRS))
_SPLIT_CODE = {s: k for k, s in enumerate(SPLITS)}
#: Every scene has at least this many distinct captions (a lone large red triangle: 6 templates x 2 size words).
MAX_CAPTIONS_PER_IMAGE = 12
_JITTER_MARGIN = 0.01  # keep each object this far (fraction of the side) inside its grid cell


def scene_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The PCG64 stream of scene ``index`` of ``split`` for ``seed``."""
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed={seed!r}: use a non-negative integer")
    ss = np.random.SeedSequence(entropy=int(seed), spawn_key=(_SPLIT_CODE[check_split(split)], int(index)))
    return np.random.Generator(np.random.PCG64(ss))


# ----------------------------------------------------------------------------------------------------------------
# sampling

def _index(rng: np.random.Generator, n: int) -> int:
    return int(rng.random() * n)  # ~10x faster than rng.integers for one draw


def _uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return lo + (hi - lo) * float(rng.random())


def sample_spec(rng: np.random.Generator, split: str = "train", n_objects: int | None = None) -> SceneSpec:
    """A random scene: 1-3 objects (uniform, unless ``n_objects``) with distinct (size, colour, shape),
    in distinct cells of a 3 x 3 grid, and a relation between each pair of consecutive objects that
    holds on the dominant axis of their cells (a tie picks either axis at random).

    ``train``/``val``/``test`` draw (colour, shape) uniformly from the 30 seen pairs; in ``test_unseen``
    one object (at a random position in the list) draws from the 6 held-out pairs instead."""
    check_split(split)
    n = 1 + _index(rng, 3) if n_objects is None else int(n_objects)
    if not 1 <= n <= 3:
        raise InputError(f"n_objects={n}: scenes have 1 to 3 objects")
    unseen_slot = _index(rng, n) if split == "test_unseen" else -1
    attrs: list[tuple[str, str, str]] = []
    while len(attrs) < n:
        pool = _HELD_OUT_SORTED if len(attrs) == unseen_slot else SEEN_PAIRS
        color, shape = pool[_index(rng, len(pool))]
        size = SIZES[_index(rng, len(SIZES))]
        if (size, color, shape) not in attrs:
            attrs.append((size, color, shape))
    free = list(range(GRID * GRID))
    cells = [free.pop(_index(rng, len(free))) for _ in range(n)]
    objects = _place_objects(attrs, cells, rng)
    relations = []
    for k in range(n - 1):
        options = _true_relations(cells[k], cells[k + 1])
        relations.append((k, options[_index(rng, len(options))], k + 1))
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
        x = (col + 0.5) / GRID + _uniform(rng, -slack, slack)
        y = (row + 0.5) / GRID + _uniform(rng, -slack, slack)
        objects.append(SceneObject(shape=shape, color=color, size=size, x=round(x, 4), y=round(y, 4)))
    return objects


def _sample_background(rng: np.random.Generator) -> Background:
    base = 215 + _index(rng, 31)  # 215..245, each channel tinted by -8..8
    color = tuple(min(255, base - 8 + _index(rng, 17)) for _ in range(3))
    return Background(color=color, gx=round(_uniform(rng, -6, 6), 3), gy=round(_uniform(rng, -6, 6), 3),
                      texture=round(_uniform(rng, 0.0, 8.0), 3), texture_seed=_index(rng, 2**31))


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
    cells = ok[_index(rng, len(ok))]
    objects = _place_objects([o.attributes for o in spec.objects], cells, rng)
    return SceneSpec(tuple(objects), spec.relations, _sample_background(rng))


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


def _generate_chunk(seed: int, split: str, start: int, stop: int, size: int, k: int):
    specs, caps = [], []
    images = np.empty((stop - start, 3, size, size), dtype=np.uint8)
    for i in range(start, stop):
        rng = scene_rng(seed, split, i)
        spec = sample_spec(rng, split)
        specs.append(spec)
        caps.append(all_captions(spec, k=k, rng=rng))
        images[i - start] = render_chw(spec, size)
    return specs, caps, images


def _chunks(n: int, workers: int) -> list[tuple[int, int]]:
    step = max(1, min(1000, -(-n // (4 * workers))))
    return [(a, min(n, a + step)) for a in range(0, n, step)]


def _pool(workers: int) -> ProcessPoolExecutor:
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx)


def _check_workers(workers: int) -> int:
    if not isinstance(workers, (int, np.integer)) or workers < 1:
        raise InputError(f"workers={workers!r}: use 1 or more processes")
    return int(workers)


def generate(n: int, size: int = 64, seed: int = 0, split: str = "train", captions_per_image: int = 5,
             workers: int = 1, progress: bool = False) -> Scenes:
    """Render ``n`` scenes of ``split`` at ``size`` px; deterministic in ``(n, size, seed, split)``.

    Scene ``i`` gets id ``SPLIT_ID_OFFSET[split] + i`` and depends only on ``(seed, split, i)``, so
    ``workers > 1`` (a process pool over chunks of indices) gives exactly the same result.
    """
    n = _check_n(n)
    check_split(split)
    scene_rng(seed, split, 0)  # checks the seed
    workers = _check_workers(workers)
    if not 1 <= captions_per_image <= MAX_CAPTIONS_PER_IMAGE:
        raise InputError(f"captions_per_image={captions_per_image}: choose 1 to {MAX_CAPTIONS_PER_IMAGE} "
                         "(the fewest distinct captions a scene has)")
    if not isinstance(size, (int, np.integer)) or not 16 <= size <= 1024:
        raise InputError(f"size={size!r}: scene images are 16 to 1024 px (32, 64 or 128 recommended)")
    size = int(size)
    images = np.empty((n, 3, size, size), dtype=np.uint8)
    ids, captions, specs = [], {}, {}
    offset = SPLIT_ID_OFFSET[split]
    chunks = _chunks(n, workers)
    bar = None
    if progress:
        from vislang.progress import progress as make_bar
        bar = make_bar(total=n, desc=f"rendering {split} scenes", unit="scene")
    args = [(seed, split, a, b, size, captions_per_image) for a, b in chunks]
    if workers == 1 or len(chunks) == 1:
        results = (_generate_chunk(*x) for x in args)
        pool = None
    else:
        pool = _pool(workers)
        results = pool.map(_generate_chunk, *zip(*args))
    try:
        for (a, b), (chunk_specs, chunk_caps, chunk_images) in zip(chunks, results):
            images[a:b] = chunk_images
            for i, spec, caps in zip(range(a, b), chunk_specs, chunk_caps):
                ids.append(offset + i)
                captions[offset + i] = caps
                specs[offset + i] = spec
            if bar is not None:
                bar.update(b - a)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        if bar is not None:
            bar.close()
    return Scenes(torch.from_numpy(images), ids, captions, specs, size, seed, split)


# ----------------------------------------------------------------------------------------------------------------
# files

#: PNG compression level of written scenes: fast, and (with one zlib) byte-identical for one seed.
PNG_COMPRESS_LEVEL = 1


def _png_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr, "RGB").save(buf, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buf.getvalue()


def _write_png_chunk(folder: str, start: int, arrays: np.ndarray) -> None:
    for k, arr in enumerate(arrays):
        with open(os.path.join(folder, f"{start + k:06d}.png"), "wb") as fh:
            fh.write(_png_bytes(arr))


def _write_json(path: Path, obj: Any) -> None:
    # json.dumps uses the C encoder (json.dump does not): 10x faster on 10,000 scenes
    path.write_text(json.dumps(obj, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")


def write_scenes(scenes: Scenes, out: str | Path, overwrite: bool = False, workers: int = 1,
                 progress: bool = False) -> Path:
    """Write ``images/NNNNNN.png`` (index order), ``captions.json`` (COCO annotations) and ``specs.json``
    into the folder ``out``, atomically (all or nothing: the folder is built beside ``out`` and renamed);
    the same scenes give the same bytes, whatever ``workers``."""
    from vislang.fileio import atomic_dir

    workers = _check_workers(workers)
    out = Path(out)
    with atomic_dir(out, overwrite=overwrite) as tmp:
        folder = tmp / "images"
        folder.mkdir()
        arrays = scenes.images.permute(0, 2, 3, 1).contiguous().numpy()
        chunks = _chunks(len(scenes), workers)
        bar = None
        if progress:
            from vislang.progress import progress as make_bar
            bar = make_bar(total=len(scenes), desc="writing PNGs", unit="image")
        if workers == 1 or len(chunks) == 1:
            for a, b in chunks:
                _write_png_chunk(str(folder), a, arrays[a:b])
                if bar is not None:
                    bar.update(b - a)
        else:
            with _pool(workers) as pool:
                futures = [pool.submit(_write_png_chunk, str(folder), a, arrays[a:b]) for a, b in chunks]
                for (a, b), fut in zip(chunks, futures):
                    fut.result()
                    if bar is not None:
                        bar.update(b - a)
        if bar is not None:
            bar.close()
        images_json, annotations, spec_rows = [], [], []
        for i, sid in enumerate(scenes.ids):
            name = f"{i:06d}.png"
            images_json.append({"id": sid, "file_name": name, "width": scenes.size, "height": scenes.size})
            for cap in scenes.captions[sid]:
                annotations.append({"id": len(annotations) + 1, "image_id": sid, "caption": cap})
            spec_rows.append({"id": sid, "file_name": name, "spec": scenes.specs[sid].to_dict()})
        info = {"description": "vislang built-in captioned scenes", "split": scenes.split, "seed": scenes.seed,
                "size": scenes.size, "count": len(scenes)}
        _write_json(tmp / "captions.json", {"info": info, "images": images_json, "annotations": annotations})
        _write_json(tmp / "specs.json", {"info": info, "held_out_pairs": [list(p) for p in _HELD_OUT_SORTED],
                                         "scenes": spec_rows})
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
