"""Images from a trained GAN run: ``load_generator`` and ``generate`` (``vislang generate``).

The noise of image ``i`` is row ``i`` of ``randn(n, nz)`` drawn from a generator seeded with
``seed``, so image ``i`` gets the same noise whatever the batch size.
The generator runs in eval mode (BatchNorm running statistics), so each image depends on its own
noise (and caption) only.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Sequence

import torch

from vislang.errors import ConfigError, InputError
from vislang.train import gan_eval
from vislang.train.loop import RunDir


def load_generator(run: str | Path, ema: bool = False, device: str | torch.device = "cpu"):
    """(generator module in eval mode, GANConfig, vocab or None, step) from the run's newest checkpoint."""
    from vislang.train.gan import GANConfig, build_models

    state = RunDir(run).require_latest()
    names = {f.name for f in dataclasses.fields(GANConfig)}
    cfg = GANConfig(**{k: v for k, v in state["config"].items() if k in names})
    vocab = None
    if cfg.conditional:
        from vislang.data.vocab import Vocab

        vocab = Vocab.from_state_dict(state["extra"]["vocab"])
    frozen = None
    if cfg.conditional and cfg.text_encoder == "dual-encoder":
        from vislang.train.gan_text import frozen_text_from_record

        frozen = frozen_text_from_record(state["extra"]["text_model"])  # weights come with G's state below
    g, _ = build_models(cfg, len(vocab) if vocab else None, vocab.pad_id if vocab else 0, frozen)
    if ema:
        if not state["extra"].get("ema"):
            raise ConfigError(f"{run}: this run kept no EMA of G (train with --ema 0.999); drop --ema")
        g.load_state_dict(state["extra"]["ema"]["module"])
    else:
        g.load_state_dict(state["modules"]["G"])
    return g.to(device).eval(), cfg, vocab, int(state["step"])


def read_captions(path: str | Path) -> list[str]:
    """Captions, one per line (.txt) or a JSON list / {id: caption or [captions]} (first caption used)."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        from vislang.fileio import read_json

        data = read_json(path)
        if isinstance(data, dict):
            data = [v[0] if isinstance(v, list) else v for v in data.values()]
        if not isinstance(data, list) or not all(isinstance(c, str) for c in data):
            raise InputError(f"{path}: expected a JSON list of captions or an object id -> caption")
        caps = data
    else:
        try:
            caps = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
        except FileNotFoundError:
            raise InputError(f"{path}: no such captions file") from None
        caps = [c for c in caps if c]
    if not caps:
        raise InputError(f"{path}: no captions found")
    return caps


def generate(run: str | Path, n: int | None = None, seed: int = 0, captions: Sequence[str] | None = None,
             ema: bool = False, batch_size: int = 250, device: str | torch.device = "cpu"):
    """uint8 images (N x 3 x S x S) and the caption of each (or ``None`` for an unconditional run).

    For a conditional run ``captions`` gives one image per caption; without it the first caption
    of each of ``n`` held-out (``val``) built-in scenes is used.
    """
    g, cfg, vocab, _ = load_generator(run, ema, device)
    if cfg.conditional:
        if captions is None:
            if not n:
                raise InputError("give --n or --captions")
            if cfg.data != "scenes":
                raise InputError(f"{run}: a conditional run on {cfg.data!r} needs --captions FILE (one caption a line)")
            from vislang.train.gan import held_out_scenes

            s = held_out_scenes(cfg, n)
            captions = [s.captions[i][0] for i in s.ids]
        captions = list(captions)
        n = len(captions)
    elif captions is not None:
        raise ConfigError(f"{run}: an unconditional GAN takes no --captions")
    if not n or n < 1:
        raise InputError("--n must be at least 1")
    noise = torch.randn(n, cfg.nz, generator=torch.Generator().manual_seed(int(seed)))
    out = []
    with torch.no_grad():
        for i in range(0, n, batch_size):
            z = noise[i:i + batch_size].to(device)
            if cfg.conditional:
                tok = vocab.encode_batch(captions[i:i + batch_size], cfg.max_len).to(device)
                out.append(gan_eval.to_uint8(g(z, tok)))
            else:
                out.append(gan_eval.to_uint8(g(z)))
    return torch.cat(out), captions
