"""Train a dual encoder with the symmetric InfoNCE loss on the shared loop kit; export and load it.

Read top to bottom: :class:`DualTrainConfig` (saved as the run's ``config.json``), :func:`train`
(the loop), :func:`export` (a compact half-precision model file, the form shipped in
``vislang/assets/``) and :func:`load_dual_encoder` (``"scenes"`` = the shipped model, a run
folder, or an exported file).

Recipe: each step takes ``batch_size`` images (:class:`~vislang.train.loop.StepSampler`) and one of
each image's captions (chosen by a generator seeded with ``(seed, step)``); AdamW with linear
warm-up then cosine decay (a pure function of the step); gradient-norm clipping. With
``hard_negatives`` every caption also yields a FOIL -- the same caption with one colour, shape,
size or relation changed (:func:`vislang.data.scene_text.perturb_caption`, the kind drawn
uniformly from those the caption allows) -- added to the negatives of the image-to-text
direction. Captions outside the scene grammar get no foil. With ``mirror`` (scenes only) a share of
the multi-object images bring their mirrored scene (:func:`mirrored_scenes`) into the batch as an
extra image-caption pair; ``pair_weight`` adds :func:`~vislang.models.dual_encoder.pair_loss` over
the foils and mirrored pairs; ``aux_weight`` adds training-only heads that read the captions'
relation facts (which colour / shape is left of / above which) from the embeddings, with
``aux_shared`` one head for both towers (the shipped recipe: it breaks the symmetry that leaves
InfoNCE blind to relations, docs/consistency.md). A checkpoint is written every
``ckpt_every`` steps and at the end; resume continues exactly (same batches, same foils).
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Any

import torch

from vislang.data.vocab import Vocab
from vislang.errors import ConfigError, InputError, ResourceNotFound
from vislang.fileio import atomic_write
from vislang.models.dual_encoder import DualEncoder, DualEncoderConfig, info_nce, pair_loss
from vislang.progress import info, progress
from vislang.seeding import seed_everything
from vislang.train import loop
from vislang.train.dual_encoder_scenes import (N_KEYS, RelationHeads, _foil_owners, _inverse_foil,  # noqa: F401
                                               mirror_indices, mirror_spec, mirrored_scenes, relation_targets,
                                               step_captions)

FINAL = "model.pt"
#: the shipped model (trained on the built-in scenes; see docs/consistency.md)
SHIPPED = "dual_encoder_scenes.pt"
FORMAT = "vislang-dual-encoder-v1"


@dataclasses.dataclass
class DualTrainConfig:
    out: str = "runs/dual-encoder"
    data: str = "scenes"                  # "scenes" or an image source (folder, zip, npz)
    captions: str | None = None           # caption file for an image source
    size: int = 64
    n_train: int = 10000                  # scenes only
    n_val: int = 500
    val_fraction: float = 0.05
    embed_dim: int = 128
    cnn_width: int = 16
    d_model: int = 96
    layers: int = 2
    heads: int = 4
    max_len: int = 32
    steps: int = 1000
    batch_size: int = 128
    lr: float = 3e-3
    warmup: int = 50
    min_lr_ratio: float = 0.02
    weight_decay: float = 0.05
    clip: float = 1.0
    hard_negatives: bool = False
    hard_relation: float = 0.0            # share of multi-object foils that swap a relation's direction
    mirror: float = 0.0                   # share of a step's images joined by their mirrored scene (scenes only)
    pair_weight: float = 0.0              # weight of the two-way foil / mirror loss (models.dual_encoder.pair_loss)
    aux_weight: float = 0.0               # weight of the relation-fact heads on both towers (scene captions only)
    aux_shared: bool = False              # one head for both towers, reading sqrt(embed_dim) x the unit embedding
    image_pool: str = "flatten"           # image tower: "flatten" or "attention" (see models/dual_encoder.py)
    image_layers: int = 2
    text_pool: str = "mean"               # text tower readout: "mean" or "first"
    ckpt_every: int = 200
    log_every: int = 20
    keep: int = 2
    seed: int = 0
    threads: int = 0
    device: str | None = None


def lr_at(step: int, cfg: DualTrainConfig) -> float:
    if cfg.warmup and step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    frac = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * frac)))


def build_model(cfg: DualTrainConfig, vocab: Vocab) -> DualEncoder:
    return DualEncoder(DualEncoderConfig(vocab_size=len(vocab), embed_dim=cfg.embed_dim, image_size=cfg.size,
                                         cnn_width=cfg.cnn_width, d_model=cfg.d_model, layers=cfg.layers,
                                         heads=cfg.heads, max_len=cfg.max_len, pad_id=vocab.pad_id,
                                         image_pool=cfg.image_pool, image_layers=cfg.image_layers,
                                         text_pool=cfg.text_pool))


def _checked(cfg: DualTrainConfig) -> None:
    if cfg.steps < 1 or cfg.batch_size < 2:
        raise ConfigError(f"--steps {cfg.steps} / --batch-size {cfg.batch_size}: need >= 1 step and >= 2 images a step")
    if cfg.size < 16:
        raise ConfigError(f"--size {cfg.size}: use 16 px or more (64 recommended)")


def train(cfg: DualTrainConfig, resume: bool = False) -> dict[str, Any]:
    """Train (or, with ``resume``, continue) the run in ``cfg.out``; returns a summary dict."""
    from vislang.train.caption_data import load_caption_data

    dist = loop.init_distributed(cfg.device)
    loop.set_deterministic(cfg.threads or None)
    run = loop.RunDir(cfg.out, keep=cfg.keep)
    state = run.start(resume)
    if state is not None:
        cfg = loop.resumed_config(cfg, state, ("steps", "out", "threads", "device"))
    _checked(cfg)
    seed_everything(cfg.seed)
    data = load_caption_data(cfg, is_main=dist.is_main)
    vocab = Vocab.from_state_dict(state["extra"]["vocab"]) if state else \
        Vocab.build((c for caps in data.train_refs for c in caps), max_len=cfg.max_len)
    model = build_model(cfg, vocab).to(dist.device)
    heads = RelationHeads(cfg.embed_dim, cfg.aux_shared).to(dist.device) if cfg.aux_weight else None
    params = list(model.named_parameters()) + (list(heads.named_parameters()) if heads is not None else [])
    decay = [p for n, p in params if p.ndim >= 2]
    no_decay = [p for n, p in params if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr)
    start = 0
    if state is not None:
        start = loop.restore(state, {"model": model, **({"aux": heads} if heads is not None else {})}, {"opt": opt})
        if dist.is_main:
            run.log.truncate_after("step", start)
    ddp = model
    if dist.enabled:
        ddp = torch.nn.parallel.DistributedDataParallel(model)
    if dist.is_main and state is None:
        run.save_config(cfg)
    sampler = loop.StepSampler(len(data.train_images), cfg.batch_size, cfg.seed, dist.rank, dist.world_size)
    mirror = None
    if cfg.mirror > 0:
        if cfg.data != "scenes":
            raise ConfigError("--mirror needs --data scenes (it renders mirrored scenes)")
        mirror = mirrored_scenes(len(data.train_images), cfg.seed, cfg.size)
    t0, last = time.time(), {}
    bar = progress(range(start, cfg.steps), total=cfg.steps - start, desc="training dual encoder") if dist.is_main \
        else range(start, cfg.steps)
    model.train()
    for step in bar:
        idx = sampler.indices(step).tolist()
        caps, foils = step_captions(data.train_refs, idx, cfg.seed, step, cfg.hard_negatives, cfg.hard_relation)
        images = data.train_images[idx]
        owners = _foil_owners(caps, foils)
        pairs = None
        if mirror is not None:
            m_idx = mirror_indices(idx, mirror[2], cfg.mirror, cfg.seed, step)
            if m_idx:
                chosen = set(m_idx)
                pairs = (torch.tensor([j for j, i in enumerate(idx) if i in chosen]),
                         torch.arange(len(idx), len(idx) + len(m_idx)))
                m_caps, m_foils = step_captions(mirror[1], m_idx, cfg.seed, step + 1_000_003, cfg.hard_negatives,
                                                cfg.hard_relation)
                owners = owners + [len(idx) + k for k in _foil_owners(m_caps, m_foils)]
                caps, foils = caps + m_caps, foils + m_foils
                images = torch.cat([images, mirror[0][m_idx]])
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg)
        images = images.to(dist.device)
        tokens = vocab.encode_batch(caps, cfg.max_len).to(dist.device)
        hard = vocab.encode_batch(foils, cfg.max_len).to(dist.device) if foils else None
        img, txt, hrd = ddp(images, tokens, hard)
        loss = info_nce(img, txt, model.scale(), hrd)
        if cfg.pair_weight:
            owner = torch.tensor(owners, dtype=torch.long, device=dist.device)
            loss = loss + cfg.pair_weight * pair_loss(img, txt, model.scale(), hrd, owner,
                                                      None if pairs is None else tuple(x.to(dist.device) for x in pairs))
        if heads is not None:
            target, mask = (t.to(dist.device) for t in relation_targets(caps))
            if mask.any():
                aux = sum(torch.nn.functional.binary_cross_entropy_with_logits(head(heads.gain * emb), target, weight=mask,
                                                                               reduction="sum") / mask.sum()
                          for head, emb in ((heads.image, img), (heads.text, txt)))
                loss = loss + cfg.aux_weight * aux
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
        opt.step()
        done = step + 1
        if dist.is_main and (done % cfg.log_every == 0 or done == cfg.steps):
            last = {"step": done, "loss": float(loss.detach()), "scale": float(model.scale().detach()), "lr": lr_at(step, cfg),
                    "seconds": round(time.time() - t0, 2)}
            run.log.log(last)
        if done % cfg.ckpt_every == 0 or done == cfg.steps:
            if dist.is_main:
                mods = {"model": model, **({"aux": heads} if heads is not None else {})}
                run.save(loop.capture(done, cfg, mods, {"opt": opt}, vocab=vocab.state_dict()), done)
    model.eval()
    summary: dict[str, Any] = {"steps": cfg.steps, "last": last}
    if dist.is_main:
        val = validate(model, vocab, data.val_images, [data.val_refs[i][0] for i in data.val_ids])
        summary["val"] = val
        run.log.log({"step": cfg.steps, "val": val})
        save_model(Path(cfg.out) / FINAL, model, vocab, {"config": dataclasses.asdict(cfg), "val": val})
        info(f"{cfg.out}: val text->image R@1 {val['t2i_r1']:.3f}, image->text R@1 {val['i2t_r1']:.3f}")
    loop.barrier()
    return summary


@torch.no_grad()
def embed(model: DualEncoder, vocab: Vocab, images: torch.Tensor | None = None, captions: list[str] | None = None,
          batch_size: int = 256) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Unit-norm float32 embeddings of uint8 images and/or caption strings (eval mode, on the model's device)."""
    model.eval()
    dev = next(model.parameters()).device
    img = txt = None
    if images is not None:
        img = torch.cat([model.encode_image(images[i:i + batch_size].to(dev)).float().cpu()
                         for i in range(0, len(images), batch_size)]) if len(images) else torch.zeros(0, model.config.embed_dim)
    if captions is not None:
        txt = torch.cat([model.encode_text(vocab.encode_batch(captions[i:i + batch_size], model.config.max_len).to(dev)).float().cpu()
                         for i in range(0, len(captions), batch_size)]) if captions else torch.zeros(0, model.config.embed_dim)
    return img, txt


def validate(model: DualEncoder, vocab: Vocab, images: torch.Tensor, captions: list[str]) -> dict[str, float]:
    """Recall@1 both ways among the validation pairs."""
    img, txt = embed(model, vocab, images, captions)
    sim = img @ txt.t()
    target = torch.arange(len(sim))
    return {"i2t_r1": float((sim.argmax(1) == target).float().mean()),
            "t2i_r1": float((sim.argmax(0) == target).float().mean()), "n": len(sim)}


# ----------------------------------------------------------------------------------------------------------------
def save_model(path: str | Path, model: DualEncoder, vocab: Vocab, meta: dict[str, Any] | None = None,
               half: bool = False) -> Path:
    """A self-contained model file: format tag, model config, weights (float16 with ``half``), vocabulary, ``meta``."""
    sd = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu().clone()
          for k, v in loop.unwrap(model).state_dict().items()}
    state = {"format": FORMAT, "model_config": loop.unwrap(model).config.to_dict(), "model": sd,
             "vocab": vocab.state_dict(), "meta": meta or {}}
    path = Path(path)
    with atomic_write(path, "wb") as fh:
        torch.save(state, fh)
    return path


def export(run: str | Path, out: str | Path) -> Path:
    """Write the final model of a run (``RUN/model.pt``) as a compact float16 file (the shipped form)."""
    model, vocab, meta = load_dual_encoder(run)
    return save_model(out, model, vocab, {**meta, "exported_from": str(run)}, half=True)


def shipped_path() -> Path:
    return Path(__file__).resolve().parent.parent / "assets" / SHIPPED


def load_dual_encoder(spec: str | Path, device: str | torch.device = "cpu") -> tuple[DualEncoder, Vocab, dict[str, Any]]:
    """``(model in eval mode, vocab, meta)`` from ``"scenes"`` (the shipped model), a run folder or a model file."""
    if str(spec) == "scenes":
        path = shipped_path()
        if not path.exists():
            raise ResourceNotFound(f"{path}: the shipped scenes dual encoder is missing from this vislang install; "
                                   "reinstall vislang or pass --model RUN")
    else:
        path = Path(spec)
        if path.is_dir():
            path = path / FINAL
        if not path.exists():
            raise InputError(f"{spec}: no dual-encoder model (expected a model file or a run folder with {FINAL}); "
                             "train one with 'vislang train dual-encoder'")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise InputError(f"{path}: not a readable model file ({type(exc).__name__}); was it written by vislang?") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise InputError(f"{path}: not a vislang dual-encoder file (format {FORMAT!r} expected)")
    model = DualEncoder(DualEncoderConfig.from_dict(state["model_config"]))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state["model"].items()})
    meta = dict(state.get("meta", {}))
    meta["file"] = str(path)
    from vislang.fileio import sha256_file
    meta["sha256"] = sha256_file(path)
    return model.to(device).eval(), Vocab.from_state_dict(state["vocab"]), meta
