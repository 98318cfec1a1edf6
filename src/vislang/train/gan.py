"""Train a DCGAN (or the caption-conditioned GAN) with exact resume, on one process or many (torchrun).

Reads top to bottom like the pytorch/examples recipe: build data, build G and D, then per step

1. D step: ``L_D = -log D(x) - log(1 - D(G(z)))`` (real and fake terms back-propagated in turn, the
   fake batch detached), plus the optional R1 penalty; Adam step on D;
2. G step on the same fake batch: non-saturating ``L_G = -log D(G(z))`` (D's weights frozen, so
   no D weight gradients are computed); Adam step on G; EMA update.

Everything random in a step is a function of ``(seed, step)``: the batch (``StepSampler``), the
noise, the caption chosen per image, DiffAugment's draws.  A checkpoint additionally holds G, D,
both optimizers, the EMA, the vocabulary, every global RNG state and the config, so a run killed
at any point and resumed (``--resume RUN``) reproduces the uninterrupted run bitwise on the CPU
with deterministic settings and the same thread count.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import torch

from vislang.errors import ConfigError, InputError
from vislang.models import gan_losses
from vislang.models.diffaugment import diff_augment, parse_policy
from vislang.progress import info, progress
from vislang.seeding import seed_everything
from vislang.train import gan_eval
from vislang.train.gan_text import Captions, consistency_loss, load_text_model, mode_seeking_loss
from vislang.train.loop import (EMA, RunDir, StepSampler, all_reduce_sum, capture, init_distributed, restore,
                                set_deterministic, unwrap)


@dataclasses.dataclass
class GANConfig:
    data: str = "scenes"          # scenes | fashion-mnist | a path readable by vislang.data.images.open_images
    size: int = 64
    steps: int = 10000
    batch_size: int = 64          # global batch (split over processes)
    conditional: bool = False
    n_train: int = 20000          # how many built-in scenes to render for --data scenes
    nz: int = 100
    ngf: int = 64
    ndf: int = 64
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    loss: str = "bce"             # bce | hinge
    spectral_norm: bool = False
    ema: float = 0.0              # EMA decay of G; 0 = off
    diffaugment: str = ""         # e.g. "color,translation,cutout"; "" = off
    r1: float = 0.0               # R1 gamma; 0 = off
    text_encoder: str = "gru"     # conditional only: gru | mean | dual-encoder (frozen pretrained text tower)
    text_model: str = "scenes"    # dual-encoder: "scenes" (the shipped model), a dual-encoder run folder or file
    mismatch: float = 0.0         # conditional: weight of (real image, mismatched caption) as fake in L_D (GAN-CLS); 0 = off
    consistency: float = 0.0      # dual-encoder: weight of G's (1 - cosine) under the frozen dual encoder; 0 = off
    mode_seeking: float = 0.0     # weight of the mode-seeking term (MSGAN) for G: a second noise per image; 0 = off
    text_dim: int = 128
    cond_dim: int = 64
    max_len: int = 24
    seed: int = 0
    sample_every: int = 500
    ckpt_every: int = 1000
    keep: int = 3
    eval_every: int = 0
    eval_n: int = 1000
    eval_extractor: str = ""      # "" = inception-tf on GPU, mobilenet-v2 on CPU
    log_every: int = 10
    channels_last: bool = True
    deterministic: bool = True


def _mix(*parts: int) -> int:
    """A 63-bit seed from integers (splitmix-style), so per-step streams never collide by accident."""
    x = 0x9E3779B97F4A7C15
    for p in parts:
        x = (x ^ (int(p) & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 31
    return x & 0x7FFFFFFFFFFFFFFF


def check_config(cfg: GANConfig) -> None:
    if cfg.size not in (32, 64, 128):
        raise ConfigError(f"--size {cfg.size}: use 32, 64 or 128")
    if cfg.loss not in gan_losses.LOSSES:
        raise ConfigError(f"--loss {cfg.loss}: use one of {', '.join(gan_losses.LOSSES)}")
    if not (cfg.ema == 0.0 or 0.0 < cfg.ema < 1.0):
        raise ConfigError(f"--ema {cfg.ema}: give a decay in (0, 1), e.g. 0.999, or 0 for off")
    if cfg.steps < 0 or cfg.batch_size < 1:
        raise ConfigError("--steps must be >= 0 and --batch-size >= 1")
    parse_policy(cfg.diffaugment)
    if cfg.text_encoder not in ("gru", "mean", "dual-encoder"):
        raise ConfigError(f"--text-encoder {cfg.text_encoder}: use gru, mean or dual-encoder")
    if not 0.0 <= cfg.mismatch < 1.0:
        raise ConfigError(f"--mismatch {cfg.mismatch}: give a weight in [0, 1), e.g. 0.5 (GAN-CLS), or 0 for off")
    if cfg.mode_seeking < 0.0:
        raise ConfigError(f"--mode-seeking {cfg.mode_seeking}: give a weight >= 0")
    if cfg.consistency < 0.0:
        raise ConfigError(f"--consistency {cfg.consistency}: give a weight >= 0")
    if (cfg.mismatch or cfg.consistency) and not cfg.conditional:
        raise ConfigError("--mismatch and --consistency apply to the conditional GAN: add --conditional")
    if cfg.consistency and cfg.text_encoder != "dual-encoder":
        raise ConfigError("--consistency needs --text-encoder dual-encoder (the cosine is the dual encoder's)")


# -- data --------------------------------------------------------------------------

def _resize(images: torch.Tensor, size: int) -> torch.Tensor:
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    from vislang.resize import resize_bilinear_aa

    h, w = images.shape[-2:]
    s = min(h, w)  # centre square crop, as the recipe's CenterCrop after Resize
    top, left = (h - s) // 2, (w - s) // 2
    images = images[:, :, top:top + s, left:left + s]
    return resize_bilinear_aa(images, (size, size)).round_().to(torch.uint8)


def load_data(cfg: GANConfig) -> tuple[torch.Tensor, list[list[str]] | None]:
    """uint8 N x 3 x size x size training images and, when available, each image's captions."""
    if cfg.data == "scenes":
        from vislang.data.scenes import generate

        s = generate(cfg.n_train, size=cfg.size, seed=cfg.seed, split="train")
        return s.images, [s.captions[i] for i in s.ids]
    if cfg.data in ("fashion-mnist", "fashion_mnist"):
        from vislang.data.mnist import load_fashion_mnist

        images, _labels, captions = load_fashion_mnist()
        caps = [captions[i] if isinstance(captions[i], list) else [captions[i]] for i in
                (captions.keys() if isinstance(captions, dict) else range(len(captions)))]
        return _resize(images, cfg.size), caps
    path = Path(cfg.data)
    if not path.exists():
        raise InputError(f"--data {cfg.data}: no such file or folder; give an image folder/zip/npz, 'scenes' or 'fashion-mnist'")
    from vislang.data.images import open_images

    images = open_images(path).load()
    if isinstance(images, tuple):
        images = images[0]
    return _resize(images, cfg.size), None


def held_out_scenes(cfg: GANConfig, n: int):
    from vislang.data.scenes import generate

    return generate(n, size=cfg.size, seed=cfg.seed, split="val")


# -- models ------------------------------------------------------------------------

def build_models(cfg: GANConfig, vocab_size: int | None = None, pad_id: int = 0, frozen_text=None):
    """(G, D); a conditional pair with ``--text-encoder dual-encoder`` needs ``frozen_text`` (a FrozenTextEncoder)."""
    from vislang.models import conditional_gan, dcgan

    if cfg.conditional:
        if cfg.text_encoder == "dual-encoder" and frozen_text is None:
            raise ValueError("text_encoder='dual-encoder' needs the frozen text tower (frozen_text=)")
        return conditional_gan.build_conditional(vocab_size, cfg.size, cfg.nz, cfg.ngf, cfg.ndf, 3, cfg.text_encoder,
                                                 cfg.text_dim, 64, cfg.cond_dim, pad_id, cfg.spectral_norm,
                                                 frozen_text if cfg.text_encoder == "dual-encoder" else None)
    return dcgan.build(cfg.size, cfg.nz, cfg.ngf, cfg.ndf, 3, cfg.spectral_norm)


def gan_step(netG, netD, optG, optD, real: torch.Tensor, z: torch.Tensor, tok: torch.Tensor | None, cfg: GANConfig,
             policy: tuple[str, ...] = (), g_aug: torch.Generator | None = None, ema: EMA | None = None,
             rawD: torch.nn.Module | None = None, image_tower: torch.nn.Module | None = None,
             z2: torch.Tensor | None = None):
    """One training step (D then G, the recipe's order) on ``real`` (float in [-1, 1]) and noise ``z``.

    Conditional options: ``cfg.mismatch = m`` makes D's fake term ``(1 - m) * fake + m * (real image,
    mismatched caption)``, the caption of the next image in the batch (``tok.roll(1, 0)``): the
    matching-aware discriminator of GAN-CLS (Reed et al. 2016, "Generative adversarial text to image
    synthesis", Alg. 1, where m = 1/2), so D must read the caption.  ``cfg.consistency = w`` adds
    ``w * consistency_loss(image_tower, G(z, t), t)`` to G's loss.  ``cfg.mode_seeking = w`` (needs a second
    noise batch ``z2``) adds ``w * mode_seeking_loss(G(z, t), G(z2, t), z, z2)`` to G's loss.

    Returns the loss terms and the three logit batches (real, fake in the D step, fake in the G step)
    as tensors, without host synchronisation.
    """
    rawD = rawD if rawD is not None else unwrap(netD)

    def augment(x: torch.Tensor) -> torch.Tensor:
        return diff_augment(x, policy, g_aug) if policy else x

    def D(x: torch.Tensor, net=netD) -> torch.Tensor:
        return net(x, tok) if cfg.conditional else net(x)

    # (1) D step: maximise log D(x) + log(1 - D(G(z)))
    fake = netG(z, tok) if cfg.conditional else netG(z)
    optD.zero_grad(set_to_none=True)
    real_in = augment(real)
    if cfg.r1:
        real_in = real_in.detach().requires_grad_(True)
    out_real = D(real_in)
    err_real = gan_losses.d_real_term(out_real, cfg.loss)
    if cfg.r1:
        err_real = err_real + gan_losses.r1_penalty(out_real, real_in, cfg.r1)
    err_real.backward()
    out_fake = D(augment(fake.detach()))
    err_fake = gan_losses.d_fake_term(out_fake, cfg.loss)
    if cfg.mismatch:  # each term back-propagated in turn (one forward per backward, as DDP wants)
        ((1.0 - cfg.mismatch) * err_fake).backward()
        out_wrong = netD(augment(real), tok.roll(1, 0))
        err_wrong = cfg.mismatch * gan_losses.d_fake_term(out_wrong, cfg.loss)
        err_wrong.backward()
        err_fake = (1.0 - cfg.mismatch) * err_fake.detach() + err_wrong.detach()
    else:
        err_fake.backward()
    optD.step()

    # (2) G step: maximise log D(G(z)) (non-saturating) on the same fake batch; D's weights frozen
    # (no D weight gradients computed) and D called unwrapped (no DDP gradient sync for D)
    optG.zero_grad(set_to_none=True)
    rawD.requires_grad_(False)
    out_g = D(augment(fake), rawD)
    err_g = gan_losses.g_loss(out_g, cfg.loss)
    if cfg.consistency:
        from vislang.models.conditional_gan import embed_caption

        err_g = err_g + cfg.consistency * consistency_loss(image_tower, fake, embed_caption(unwrap(netG).text, tok))
    if cfg.mode_seeking:
        fake2 = netG(z2, tok) if cfg.conditional else netG(z2)
        err_g = err_g + cfg.mode_seeking * mode_seeking_loss(fake, fake2, z, z2)
    err_g.backward()
    rawD.requires_grad_(True)
    optG.step()
    if ema is not None:
        ema.update(netG)
    return err_real, err_fake, err_g, out_real.detach(), out_fake.detach(), out_g.detach()


# -- training ----------------------------------------------------------------------

def train(cfg: GANConfig, out: str | Path, resume: bool = False, device: str | None = None,
          threads: int | None = None, cpu_seconds: float | None = None) -> dict[str, Any]:
    """Train (or resume) the run in ``out``; returns the last logged record.

    ``cpu_seconds``: stop early, with a checkpoint and a sample grid, once the training steps have
    used that much CPU time of this process (``time.process_time``, all threads; set-up and data
    rendering not counted), so a budget buys the same steps on a loaded machine as on an idle one
    (for benchmarks; a single process only).  The record then holds ``stopped_at`` and ``cpu_seconds``.
    """
    check_config(cfg)
    dist = init_distributed(device)
    dev = dist.device
    if cfg.deterministic:
        set_deterministic(threads)
    elif threads:
        torch.set_num_threads(threads)
    run = RunDir(out, keep=cfg.keep)
    state = run.start(resume)

    images, captions = load_data(cfg)
    vocab = tokens = frozen_text = image_tower = text_record = None
    if cfg.conditional:
        if captions is None:
            raise ConfigError("--conditional needs captions: use --data scenes or --data fashion-mnist")
        from vislang.data.vocab import Vocab

        if cfg.text_encoder == "dual-encoder":
            from vislang.models.conditional_gan import FrozenTextEncoder

            de, vocab, text_record = load_text_model(cfg, state["extra"]["text_model"]["sha256"] if state else None)
            cfg = dataclasses.replace(cfg, max_len=de.config.max_len)  # captions as the tower reads them
            frozen_text = FrozenTextEncoder(de.text, de.config.embed_dim).to(dev)
            image_tower = de.image.to(dev) if cfg.consistency else None
        else:
            vocab = Vocab.from_state_dict(state["extra"]["vocab"]) if state else \
                Vocab.build((c for caps in captions for c in caps), max_len=cfg.max_len)
        tokens = Captions(captions, vocab, cfg.max_len)
        if frozen_text is not None:
            tokens.embed(frozen_text)  # frozen: each training caption's embedding computed once, at set-up

    seed_everything(cfg.seed)
    netG, netD = build_models(cfg, len(vocab) if vocab else None, vocab.pad_id if vocab else 0, frozen_text)
    mem = torch.channels_last if cfg.channels_last else torch.contiguous_format
    netG, netD = netG.to(dev, memory_format=mem), netD.to(dev, memory_format=mem)
    optG = torch.optim.Adam([p for p in netG.parameters() if p.requires_grad], lr=cfg.lr,
                            betas=(cfg.beta1, cfg.beta2), foreach=True)  # a frozen text tower is not trained
    optD = torch.optim.Adam([p for p in netD.parameters() if p.requires_grad], lr=cfg.lr,
                            betas=(cfg.beta1, cfg.beta2), foreach=True)
    ema = EMA(netG, cfg.ema) if cfg.ema else None
    start = 0
    if state is not None:
        if state["extra"].get("n_train") != images.shape[0]:
            raise InputError(f"{run.path}: the checkpoint was trained on {state['extra'].get('n_train')} images, "
                             f"the data now has {images.shape[0]}; resume with the same --data")
        start = restore(state, {"G": netG, "D": netD}, {"G": optG, "D": optD})
        if ema is not None:
            ema.load_state_dict(state["extra"]["ema"])
        if dist.is_main:
            run.log.truncate_after("step", start)
    elif dist.is_main:
        run.save_config(cfg)
    if ema is not None:
        ema.module.to(dev)

    if dist.enabled:
        netG = torch.nn.parallel.DistributedDataParallel(netG)
        netD = torch.nn.parallel.DistributedDataParallel(netD)
    rawD = unwrap(netD)
    sampler = StepSampler(images.shape[0], cfg.batch_size, cfg.seed, dist.rank, dist.world_size)
    policy = parse_policy(cfg.diffaugment)

    # fixed noise (and captions) for the sample grids: 8 x 8
    fixed_z = torch.randn(64, cfg.nz, generator=torch.Generator().manual_seed(_mix(cfg.seed, 1))).to(dev)
    fixed_tok = fixed_caps = None
    if cfg.conditional:
        if cfg.data == "scenes":
            held = held_out_scenes(cfg, 8)
            fixed_caps = [held.captions[i][0] for i in held.ids]
        else:
            fixed_caps = [captions[i][0] for i in range(8)]
        fixed_tok = vocab.encode_batch([c for c in fixed_caps for _ in range(8)], cfg.max_len).to(dev)
        if dist.is_main:
            (run.path / "samples").mkdir(parents=True, exist_ok=True)
            (run.path / "samples" / "captions.txt").write_text("\n".join(fixed_caps) + "\n", encoding="utf-8")

    evaluator = None
    if cfg.eval_every and dist.is_main:
        name = cfg.eval_extractor or gan_eval.default_extractor(dev)
        real = images[torch.randperm(images.shape[0], generator=torch.Generator().manual_seed(_mix(cfg.seed, 2)))[:cfg.eval_n]]
        evaluator = gan_eval.PeriodicEval(name, real, dev)
        if not evaluator.available:
            info(f"periodic FID/KID off: {evaluator.reason}")
            run.log.log({"step": start, "event": "eval_skipped", "extractor": name, "reason": evaluator.reason})

    def sample(model, z, tok) -> torch.Tensor:
        model = unwrap(model)
        was = model.training
        model.eval()
        with torch.no_grad():
            x = model(z, tok) if cfg.conditional else model(z)
        model.train(was)
        return gan_eval.to_uint8(x)

    def save(step: int) -> None:
        extra = {"n_train": images.shape[0], "ema": ema.state_dict() if ema else None,
                 "vocab": vocab.state_dict() if vocab else None, "world_size": dist.world_size,
                 "text_model": text_record}
        run.save(capture(step, cfg, {"G": netG, "D": netD}, {"G": optG, "D": optD}, **extra), step)

    stats = torch.zeros(6, dtype=torch.float64, device=dev)  # loss_d, loss_g, d_x, d_g_z1, d_g_z2, count
    t_last, n_last, record = time.perf_counter(), start, {}
    cpu0 = time.process_time()
    netG.train()
    netD.train()
    for step, idx in progress(sampler(start, cfg.steps), total=cfg.steps - start, desc="train gan", unit="step"):
        g_step = torch.Generator().manual_seed(_mix(cfg.seed, 3, step))
        z = torch.randn(cfg.batch_size, cfg.nz, generator=g_step)[dist.rank::dist.world_size].to(dev)
        tok = None
        if cfg.conditional:
            u = torch.rand(cfg.batch_size, generator=g_step)[dist.rank::dist.world_size]
            tok = tokens.pick(idx, u).to(dev)
        z2 = torch.randn(cfg.batch_size, cfg.nz, generator=g_step)[dist.rank::dist.world_size].to(dev) \
            if cfg.mode_seeking else None  # drawn after z and u, so runs without the option are unchanged
        g_aug = torch.Generator().manual_seed(_mix(cfg.seed, 4, step, dist.rank)) if policy else None
        real = gan_eval.from_uint8(images[idx]).to(dev).contiguous(memory_format=mem)

        err_real, err_fake, err_g, out_real, out_fake, out_g = gan_step(
            netG, netD, optG, optD, real, z, tok, cfg, policy, g_aug, ema, rawD, image_tower, z2)

        with torch.no_grad():
            stats += torch.stack([(err_real + err_fake).double(), err_g.double(),
                                  torch.sigmoid(out_real).mean().double(),
                                  torch.sigmoid(out_fake).mean().double(), torch.sigmoid(out_g).mean().double(),
                                  torch.ones((), dtype=torch.float64, device=dev)])
        done = step + 1
        out_of_time = cpu_seconds is not None and time.process_time() - cpu0 >= cpu_seconds
        last = done == cfg.steps or out_of_time
        if done % cfg.log_every == 0 or last:
            all_reduce_sum(stats)
            s = (stats[:5] / stats[5]).tolist()
            now = time.perf_counter()
            record = {"step": done, "loss_d": s[0], "loss_g": s[1], "d_x": s[2], "d_g_z1": s[3], "d_g_z2": s[4],
                      "img_per_s": (done - n_last) * cfg.batch_size / max(now - t_last, 1e-9)}
            t_last, n_last = now, done
            stats.zero_()
            if dist.is_main:
                run.log.log(record)
        if dist.is_main and ((cfg.sample_every and done % cfg.sample_every == 0) or last):
            grid = gan_eval.make_grid(sample(netG, fixed_z, fixed_tok))
            gan_eval.save_png(grid, run.path / "samples" / f"step-{done:08d}.png")
            if ema is not None:
                gan_eval.save_png(gan_eval.make_grid(sample(ema.module, fixed_z, fixed_tok)),
                                  run.path / "samples" / f"step-{done:08d}-ema.png")
            gan_eval.save_loss_plot(run.log.read(), run.path / "loss.svg")
        if evaluator is not None and evaluator.available and (done % cfg.eval_every == 0 or done == cfg.steps):
            ez = torch.randn(cfg.eval_n, cfg.nz, generator=torch.Generator().manual_seed(_mix(cfg.seed, 5))).to(dev)
            etok = tokens.pick(torch.arange(cfg.eval_n) % images.shape[0],
                               torch.zeros(cfg.eval_n)).to(dev) if cfg.conditional else None
            model = ema.module if ema is not None else unwrap(netG)
            fakes = torch.cat([sample(model, ez[i:i + 100], etok[i:i + 100] if etok is not None else None)
                               for i in range(0, cfg.eval_n, 100)])
            run.log.log({"step": done, "event": "eval", **evaluator(fakes)})
        if dist.is_main and (done % cfg.ckpt_every == 0 or last):
            save(done)
        if out_of_time:
            record = {**record, "stopped_at": done, "cpu_seconds": time.process_time() - cpu0}
            if dist.is_main:
                run.log.log({"step": done, "event": "cpu_budget_spent", "cpu_seconds": record["cpu_seconds"]})
            break
    if dist.enabled:
        record["ranks_agree"] = ranks_agree([netG, netD])
        if dist.is_main:
            run.log.log({"step": cfg.steps, "event": "ddp_check", "ranks_agree": record["ranks_agree"],
                         "world_size": dist.world_size})
    return record


def ranks_agree(modules) -> bool:
    """Whether every process holds bitwise the same parameters (gathered once, at the end).

    BatchNorm running statistics are per process (each sees its share of the batch) and not compared.
    """
    flat = torch.cat([p.detach().reshape(-1) for m in modules for p in unwrap(m).parameters()])
    parts = [torch.empty_like(flat) for _ in range(torch.distributed.get_world_size())]
    torch.distributed.all_gather(parts, flat)
    return all(torch.equal(parts[0], p) for p in parts[1:])
