"""Caption training data: images in memory as uint8, references as plain strings, a train/val split.

Two sources:

* ``"scenes"`` -- the built-in scenes (:func:`vislang.data.scenes.generate`): ``n_train``
  scenes of split ``"train"`` and ``n_val`` of split ``"val"``, rendered at ``size``.
* an image source (folder, zip, ``.npz``; :func:`vislang.data.images.open_images`) plus a
  caption file (any format :func:`vislang.data.captions.load_references` reads).  Images
  are matched to caption ids by :func:`image_id_for`; ``val_fraction`` of the matched
  images (a seeded, sorted-id-stable choice) are held out for validation.

All images are decoded once and kept in memory at ``size x size`` (64 px: 12 KiB each).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import PurePosixPath
from typing import Any, Hashable

import torch

from vislang.errors import InputError

_COCO_NAME = re.compile(r"^COCO_[a-z]+\d*_0*(\d+)$")


def image_id_for(name: str) -> Hashable:
    """The caption id of an image file: an int for numeric stems (``391895.jpg``) and COCO names
    (``COCO_val2014_000000391895.jpg``), else the base name (``1000268201_693b08cb0e.jpg``, Flickr style)."""
    base = PurePosixPath(str(name).replace("\\", "/")).name
    stem = base.rsplit(".", 1)[0]
    if stem.isdigit():
        return int(stem)
    m = _COCO_NAME.match(stem)
    return int(m.group(1)) if m else base


@dataclasses.dataclass
class CaptionData:
    train_images: torch.Tensor            # uint8 N x 3 x S x S
    train_refs: list[list[str]]           # references of each training image
    val_images: torch.Tensor
    val_ids: list[Hashable]
    val_refs: dict[Hashable, list[str]]
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)

    def encode(self, vocab, max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(tokens N x C x L, counts N)``: each image's captions encoded and padded (C = most captions)."""
        c = max(len(r) for r in self.train_refs)
        rows = [vocab.encode_batch(refs, max_len) for refs in self.train_refs]
        width = max(r.shape[1] for r in rows)
        tokens = torch.full((len(rows), c, width), vocab.pad_id, dtype=torch.long)
        for i, r in enumerate(rows):
            tokens[i, :r.shape[0], :r.shape[1]] = r
        counts = torch.tensor([len(r) for r in self.train_refs], dtype=torch.long)
        return tokens, counts


def load_caption_data(cfg, is_main: bool = True) -> CaptionData:
    """The training and validation data of a :class:`~vislang.train.captioner.CaptionTrainConfig`."""
    if cfg.data == "scenes":
        return _scenes(cfg, is_main)
    if cfg.captions is None:
        raise InputError(f"--data {cfg.data}: an image source needs --captions FILE (or use --data scenes)")
    return _folder(cfg, is_main)


def _scenes(cfg, is_main: bool) -> CaptionData:
    from vislang.data.scenes import generate

    tr = generate(cfg.n_train, size=cfg.size, seed=cfg.seed, split="train", progress=is_main)
    va = generate(cfg.n_val, size=cfg.size, seed=cfg.seed, split="val", progress=is_main)
    return CaptionData(tr.images, [tr.captions[i] for i in tr.ids], va.images, list(va.ids),
                       {i: va.captions[i] for i in va.ids}, {"source": "scenes", "n_train": len(tr), "n_val": len(va)})


def _folder(cfg, is_main: bool) -> CaptionData:
    from vislang.data.captions import load_references
    from vislang.data.images import open_images

    refs = load_references(cfg.captions)
    src = open_images(cfg.data, size=cfg.size, resize="bicubic")
    ids = [image_id_for(n) for n in src.names]
    keyed = {str(k): k for k in refs}
    matched = [j for j, i in enumerate(ids) if str(i) in keyed and refs[keyed[str(i)]]]
    if not matched:
        raise InputError(f"{cfg.captions}: no caption id matches an image of {cfg.data} "
                         f"(first image id {ids[0]!r}, first caption id {next(iter(refs), None)!r})")
    images = src.load()[torch.tensor(matched)]
    mids = [keyed[str(ids[j])] for j in matched]
    n_val = max(1, round(cfg.val_fraction * len(mids))) if len(mids) > 1 else 0
    order = torch.randperm(len(mids), generator=torch.Generator().manual_seed(cfg.seed)).tolist()
    val_pos, train_pos = sorted(order[:n_val]), sorted(order[n_val:])
    if not train_pos or not val_pos:
        raise InputError(f"{cfg.data}: {len(mids)} captioned images are too few to split into train and validation")
    return CaptionData(images[train_pos], [list(refs[mids[p]]) for p in train_pos],
                       images[val_pos], [mids[p] for p in val_pos], {mids[p]: list(refs[mids[p]]) for p in val_pos},
                       {"source": str(cfg.data), "captions": str(cfg.captions), "n_train": len(train_pos),
                        "n_val": len(val_pos), "unmatched_images": len(ids) - len(matched)})
