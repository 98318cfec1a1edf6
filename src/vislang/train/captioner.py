"""Train a captioner with teacher forcing on the shared loop kit (exact resume, JSON-lines log, DDP).

Read top to bottom: :class:`CaptionTrainConfig` (a plain dataclass, saved as the run's
``config.json``), :func:`load_caption_data` (built-in scenes or an image source + a
caption file), :func:`train` (the loop) and :func:`load_captioner` (a trained model
for ``vislang caption``).

Recipe: cross-entropy with label smoothing over the words after ``<start>`` (``<pad>``
ignored), ``captions_per_step`` reference captions per image and step (the image is
encoded once), AdamW, linear warm-up then cosine decay of the learning rate (a pure
function of the step, so resume needs no scheduler state), gradient-norm clipping;
the LSTM adds the doubly stochastic attention penalty of Xu et al. (2015, eq. 14).

Every ``val_every`` steps (default: once per epoch) the model captions the validation
images greedily and is scored with CIDEr-D and BLEU-4 (:func:`vislang.metrics.text.score_captions`);
``best.pt`` keeps the model with the best CIDEr-D, and training stops early after
``patience`` validations without improvement.  A checkpoint ``ckpt-XXXXXXXX.pt`` is
written after each validation: resuming from it gives bitwise the same parameters as
the uninterrupted run (CPU, deterministic kernels).
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F

from vislang.data.vocab import Vocab
from vislang.errors import ConfigError, InputError
from vislang.fileio import atomic_write, write_json
from vislang.models.captioner import Captioner, CaptionerConfig
from vislang.models.decoding import decode
from vislang.progress import info, progress
from vislang.seeding import seed_everything
from vislang.train import loop
from vislang.train.caption_data import CaptionData, load_caption_data

BEST = "best.pt"


@dataclasses.dataclass
class CaptionTrainConfig:
    out: str = "runs/captioner"
    data: str = "scenes"                  # "scenes" or an image source (folder, zip, npz)
    captions: str | None = None           # caption file for an image source (any format load_references reads)
    size: int = 64                        # images are resized to size x size
    n_train: int = 20000                  # scenes only
    n_val: int = 500                      # scenes only; image sources hold out val_fraction
    val_fraction: float = 0.05
    decoder: str = "transformer"
    encoder: str = "cnn"                  # "cnn" | "mobilenet-v2"
    freeze_encoder: bool = True           # pretrained backbones only
    d_model: int = 192
    layers: int = 2
    heads: int = 4
    lstm_hidden: int = 384
    cnn_width: int = 32
    dropout: float = 0.1
    min_count: int = 1
    max_len: int = 32                     # tokens including <start> and <end>
    epochs: int | None = None
    steps: int | None = None              # overrides epochs
    batch_size: int = 64
    captions_per_step: int = 2
    lr: float = 1e-3
    warmup: int = 200
    min_lr_ratio: float = 0.05
    weight_decay: float = 0.01
    label_smoothing: float = 0.1
    clip: float = 1.0
    attention_reg: float = 1.0            # LSTM only (Xu et al. eq. 14)
    val_every: int = 0                    # steps; 0 = once per epoch
    val_beam: int = 1
    patience: int = 5
    time_limit: float = 0.0               # stop after this many seconds of process CPU time (0 = none)
    log_every: int = 20
    keep: int = 2
    seed: int = 0
    threads: int = 0                      # 0 = leave torch's default
    device: str | None = None             # None = CUDA when available


def lr_at(step: int, total: int, cfg: CaptionTrainConfig) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay to ``min_lr_ratio * lr`` at ``total``."""
    if cfg.warmup and step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    span = max(1, total - cfg.warmup)
    progress_ = min(1.0, (step - cfg.warmup) / span)
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress_)))


def build_model(cfg: CaptionTrainConfig, vocab: Vocab, pretrained: bool = True) -> Captioner:
    """The captioner of ``cfg`` (a backbone encoder gets its weights from the registry when ``pretrained``)."""
    mc = CaptionerConfig(vocab_size=len(vocab), decoder=cfg.decoder, encoder=cfg.encoder, image_size=cfg.size,
                         d_model=cfg.d_model, layers=cfg.layers, heads=cfg.heads, lstm_hidden=cfg.lstm_hidden,
                         dropout=cfg.dropout, max_len=cfg.max_len, cnn_width=cfg.cnn_width,
                         freeze_encoder=cfg.freeze_encoder, pad_id=vocab.pad_id)
    backbone = None
    if cfg.encoder != "cnn":
        backbone, channels, stride = _backbone(cfg.encoder, pretrained)
        mc.encoder_channels, mc.encoder_stride = channels, stride
    return Captioner(mc, backbone)


def _backbone(name: str, pretrained: bool):
    """(feature-map module, channels, stride) of a registry backbone; only MobileNetV2 so far."""
    if name != "mobilenet-v2":
        raise ConfigError(f"--encoder {name!r}: choose 'cnn' or 'mobilenet-v2'")
    try:
        from vislang.models.backbones import mobilenet_v2 as mb
    except ImportError:
        raise ConfigError("--encoder mobilenet-v2: this vislang has no MobileNetV2 backbone; use --encoder cnn") from None
    net = mb.MobileNetV2()
    if pretrained:
        from vislang import weights
        net.load_state_dict(weights.load("mobilenet-v2", download=False).state_dict, strict=True)
    return net.features, mb.FEATURE_DIM, 32


# ----------------------------------------------------------------------------------------------------------------
def _loss(model, images, tokens, cfg: CaptionTrainConfig, pad_id: int) -> torch.Tensor:
    """Teacher-forcing loss; each image is encoded once for its ``captions_per_step`` captions."""
    logits, aux = model(images, tokens, repeat=cfg.captions_per_step)
    target = tokens[:, 1:]
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), target.reshape(-1),
                           ignore_index=pad_id, label_smoothing=cfg.label_smoothing)
    if aux is not None and cfg.attention_reg > 0:          # LSTM attention: sum_i (1 - sum_t alpha_ti)^2
        valid = (target != pad_id).unsqueeze(-1).to(aux.dtype)
        loss = loss + cfg.attention_reg * ((1.0 - (aux * valid).sum(1)) ** 2).sum(1).mean() / aux.shape[-1]
    return loss


def caption_batch(model: Captioner, vocab: Vocab, images: torch.Tensor, batch_size: int = 128, **decode_kw) -> list[list[str]]:
    """Captions (``n`` per image) for uint8 ``images``, decoded in batches."""
    dev = next(model.parameters()).device
    out: list[list[str]] = []
    for i in range(0, len(images), batch_size):
        d = decode(model, images[i:i + batch_size].to(dev), start_id=vocab.start_id, end_id=vocab.end_id,
                   pad_id=vocab.pad_id, **decode_kw)
        out.extend([vocab.decode(c) for c in row] for row in d.tokens.cpu())
    return out


def validate(model: Captioner, vocab: Vocab, data: CaptionData, beam: int = 1) -> dict[str, float]:
    """CIDEr-D and BLEU-1..4 of the model's captions on the validation split."""
    from vislang.metrics.text import score_captions

    caps = caption_batch(model, vocab, data.val_images, beam=beam)
    cands = {i: c[0] for i, c in zip(data.val_ids, caps)}
    refs = {i: data.val_refs[i] for i in data.val_ids}
    scores = score_captions(refs, cands, metrics=("bleu", "cider_d"))
    return {"CIDEr-D": float(scores["CIDEr"]), "BLEU-4": float(scores["Bleu_4"]),
            **{k: float(v) for k, v in scores.items() if k.startswith("Bleu_")}}


def _save_best(path: Path, model: Captioner, vocab: Vocab, step: int, metrics: dict[str, float]) -> None:
    state = {"model": loop.unwrap(model).state_dict(), "model_config": loop.unwrap(model).config.to_dict(),
             "vocab": vocab.state_dict(), "step": step, "metrics": metrics}
    with atomic_write(path, "wb") as fh:
        torch.save(state, fh)


# ----------------------------------------------------------------------------------------------------------------
def train(cfg: CaptionTrainConfig, resume: bool = False) -> dict[str, Any]:
    """Train (or, with ``resume``, continue) the run in ``cfg.out``; returns a summary dict."""
    dist = loop.init_distributed(cfg.device)
    loop.set_deterministic(cfg.threads or None)
    run = loop.RunDir(cfg.out, keep=cfg.keep)
    state = run.start(resume)
    if state is not None:  # what may change on resume
        cfg = loop.resumed_config(cfg, state, ("steps", "epochs", "patience", "time_limit", "out", "threads", "device"))
    if cfg.decoder not in ("transformer", "lstm"):
        raise ConfigError(f"--decoder {cfg.decoder!r}: choose 'transformer' or 'lstm'")
    seed_everything(cfg.seed)

    data = load_caption_data(cfg, is_main=dist.is_main)
    vocab = Vocab.from_state_dict(state["extra"]["vocab"]) if state else \
        Vocab.build((c for caps in data.train_refs for c in caps), min_count=cfg.min_count, max_len=cfg.max_len)
    tokens, counts = data.encode(vocab, cfg.max_len)

    model = build_model(cfg, vocab, pretrained=state is None).to(dist.device)
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr)
    sampler = loop.StepSampler(len(data.train_images), cfg.batch_size, cfg.seed, dist.rank, dist.world_size)
    total = cfg.steps if cfg.steps else (cfg.epochs or 10) * sampler.per_epoch
    val_every = cfg.val_every or sampler.per_epoch
    extra = {"best": float("-inf"), "best_step": -1, "bad": 0, "stopped_early": False, "cpu_seconds": 0.0}
    step = 0
    if state:
        step = loop.restore(state, {"model": model}, {"opt": opt})
        extra.update({k: v for k, v in state["extra"].items() if k in extra})
        if dist.is_main:
            run.log.truncate_after("step", step)
    else:
        if dist.is_main:
            run.save_config(cfg)
            write_json(run.path / "vocab.json", vocab.state_dict())
    ddp = torch.nn.parallel.DistributedDataParallel(model) if dist.enabled else model

    def checkpoint(at: int) -> None:
        if dist.is_main:
            run.save(loop.capture(at, cfg, {"model": model}, {"opt": opt}, vocab=vocab.state_dict(), **extra), at)

    bar = progress(total=total - step, desc="training captioner", unit="step") if dist.is_main else None
    stop = bool(extra["stopped_early"])
    cpu0 = time.process_time() - float(extra["cpu_seconds"])
    model.train()
    while step < total and not stop:
        idx = sampler.indices(step)
        g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step + 7)
        pick = (torch.rand(len(counts), cfg.captions_per_step, generator=g)[idx] * counts[idx, None]).long()
        caps = tokens[idx[:, None], pick].flatten(0, 1).to(dist.device)           # (b * c) x L
        caps = caps[:, :int((caps != vocab.pad_id).sum(1).max())]
        images = data.train_images[idx].to(dist.device)
        lr = lr_at(step, total, cfg)
        for group in opt.param_groups:
            group["lr"] = lr
        loss = _loss(ddp, images, caps, cfg, vocab.pad_id)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip) if cfg.clip > 0 else torch.tensor(0.0)
        opt.step()
        step += 1
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
        if dist.is_main and (step % cfg.log_every == 0 or step == total):
            run.log.log({"step": step, "loss": round(loss.item(), 6), "lr": lr, "grad_norm": float(gnorm),
                         "epoch": sampler.epoch_of(step - 1)})
        out_of_time = _out_of_time(cfg, cpu0, dist)
        if step % val_every == 0 or step == total or out_of_time:
            flag = torch.zeros(1)
            if dist.is_main:
                metrics = validate(model, vocab, data, beam=cfg.val_beam)
                model.train()
                improved = metrics["CIDEr-D"] > extra["best"]
                if improved:
                    extra.update(best=metrics["CIDEr-D"], best_step=step, bad=0)
                    _save_best(run.path / BEST, model, vocab, step, metrics)
                else:
                    extra["bad"] += 1
                run.log.log({"step": step, "val": metrics, "best_CIDEr-D": extra["best"], "improved": improved})
                info(f"step {step}: val CIDEr-D {metrics['CIDEr-D']:.3f} BLEU-4 {metrics['BLEU-4']:.3f}"
                     f" (best {extra['best']:.3f} at step {extra['best_step']})")
                if cfg.patience and extra["bad"] >= cfg.patience and step < total:
                    extra["stopped_early"] = True
                    flag += 1
                if out_of_time:
                    flag += 1
            loop.all_reduce_sum(flag)
            stop = bool(flag.item())
            extra["cpu_seconds"] = time.process_time() - cpu0
            if dist.enabled:       # DDP keeps every replica identical: record the evidence
                sums = _gather_param_sums(model, dist)
                if dist.is_main:
                    run.log.log({"step": step, "ddp_param_sums": sums})
            checkpoint(step)
            loop.barrier()
    if bar is not None:
        bar.close()
    loop.barrier()
    return {"out": str(run.path), "step": step, "total_steps": total, "best_CIDEr-D": extra["best"],
            "best_step": extra["best_step"], "stopped_early": extra["stopped_early"],
            "cpu_seconds": time.process_time() - cpu0, "vocab_size": len(vocab)}


def _gather_param_sums(model: Captioner, dist: loop.Dist) -> list[float]:
    """Each process's float64 sum of its parameters (equal on every rank when DDP works)."""
    mine = torch.stack([p.detach().double().sum() for p in model.parameters()]).sum().reshape(1).cpu()
    out = [torch.zeros_like(mine) for _ in range(dist.world_size)]
    torch.distributed.all_gather(out, mine)
    return [float(t) for t in out]


def _out_of_time(cfg: CaptionTrainConfig, cpu0: float, dist: loop.Dist) -> bool:
    """Whether the CPU-time budget is spent (any process's, so all processes stop at the same step)."""
    if not cfg.time_limit:
        return False
    flag = torch.tensor([float(time.process_time() - cpu0 >= cfg.time_limit)])
    if dist.enabled:
        loop.all_reduce_sum(flag)
    return bool(flag.item() > 0)


def load_captioner(run: str | Path, map_location: str | torch.device = "cpu") -> tuple[Captioner, Vocab, dict[str, Any]]:
    """The best model of a run (``best.pt``; else the newest checkpoint), its vocabulary and info."""
    path = Path(run)
    if not path.is_dir():
        raise InputError(f"{path}: no such run folder; pass the --out folder of 'vislang train captioner'")
    best = path / BEST
    if best.exists():
        try:
            state = torch.load(best, map_location=map_location, weights_only=False)
        except Exception as exc:
            raise InputError(f"{best}: unreadable model file ({type(exc).__name__}); retrain or restore it") from None
        mstate, mcfg, vstate = state["model"], state["model_config"], state["vocab"]
        info_ = {"file": str(best), "step": state.get("step"), "metrics": state.get("metrics")}
    else:
        state = loop.RunDir(path).load_latest(map_location)
        if state is None or "vocab" not in state.get("extra", {}):
            raise InputError(f"{path}: no captioner model in this folder (no best.pt or ckpt-*.pt); "
                             "pass the --out folder of 'vislang train captioner'")
        vstate = state["extra"]["vocab"]
        cfg = CaptionTrainConfig(**{k: v for k, v in state["config"].items()
                                    if k in {f.name for f in dataclasses.fields(CaptionTrainConfig)}})
        model = build_model(cfg, Vocab.from_state_dict(vstate), pretrained=False)
        mstate, mcfg = state["modules"]["model"], model.config.to_dict()
        info_ = {"file": "checkpoint", "step": state.get("step")}
    mc = CaptionerConfig.from_dict(mcfg)
    backbone = None
    if mc.encoder != "cnn":
        backbone, _, _ = _backbone(mc.encoder, pretrained=False)
    model = Captioner(mc, backbone)
    model.load_state_dict(mstate)
    return model.eval(), Vocab.from_state_dict(vstate), info_
