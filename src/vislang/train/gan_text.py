"""The caption side of the conditional GAN's training (:mod:`vislang.train.gan`): the frozen dual-encoder
text tower (``--text-encoder dual-encoder``), the training captions encoded once, and the two extra generator
terms (``--consistency``, ``--mode-seeking``)."""

from __future__ import annotations

from typing import Any

import torch

from vislang.errors import InputError


def load_text_model(cfg: Any, expect_sha256: str | None = None):
    """(dual encoder, its vocab, record) for ``--text-encoder dual-encoder``: loaded once, read-only, frozen.

    ``record`` (kept in checkpoints) holds the model's config and file hash, so a generator can be
    rebuilt without the file (:func:`frozen_text_from_record`) and a resume refuses a changed model.
    """
    from vislang.train.dual_encoder import load_dual_encoder

    de, vocab, meta = load_dual_encoder(cfg.text_model)
    if expect_sha256 and meta["sha256"] != expect_sha256:
        raise InputError(f"{meta['file']}: the dual encoder differs from the one this run was trained with "
                         f"(sha256 {expect_sha256[:12]}...); resume with the same --text-model")
    de.requires_grad_(False)
    return de, vocab, {"config": de.config.to_dict(), "sha256": meta["sha256"], "file": meta["file"]}


def frozen_text_from_record(record: dict):
    """An (untrained) FrozenTextEncoder with the architecture in ``record``; a checkpoint's G holds its weights."""
    from vislang.models.conditional_gan import FrozenTextEncoder
    from vislang.models.dual_encoder import DualEncoderConfig, TextTower

    dcfg = DualEncoderConfig.from_dict(record["config"])
    return FrozenTextEncoder(TextTower(dcfg), dcfg.embed_dim)


def mode_seeking_loss(fake1: torch.Tensor, fake2: torch.Tensor, z1: torch.Tensor, z2: torch.Tensor,
                      eps: float = 1e-5) -> torch.Tensor:
    """``1 / (mean|G(z1) - G(z2)| / mean|z1 - z2| + eps)``: the mode-seeking regulariser of MSGAN (Mao et al.
    2019, "Mode seeking generative adversarial networks for diverse image synthesis", Eq. 3, with their L1
    distances), small when different noise gives different images for the same caption."""
    ratio = (fake1 - fake2).abs().mean() / (z1 - z2).abs().mean()
    return 1.0 / (ratio + eps)


def consistency_loss(image_tower: torch.nn.Module, fake: torch.Tensor, text_emb: torch.Tensor) -> torch.Tensor:
    """``mean(1 - cos(image_tower(fake), text_emb))``: the frozen dual encoder's image-caption cosine (LAFITE /
    XMC-GAN's idea, a pretrained image-text model guiding G; Zhou et al. 2022, Zhang et al. 2021).

    ``fake`` is G's output in [-1, 1]; the dual encoder reads uint8-scaled values (``x / 127.5 - 1``), so
    ``(fake + 1) * 127.5`` (kept float, differentiable) gives it exactly ``fake``.
    """
    img = torch.nn.functional.normalize(image_tower((fake + 1.0) * 127.5), dim=-1)
    return (1.0 - (img * torch.nn.functional.normalize(text_emb, dim=-1)).sum(1)).mean()


class Captions:
    """Every training caption encoded once: image i's captions are rows ``offsets[i] : offsets[i] + counts[i]``."""

    def __init__(self, captions: list[list[str]], vocab, max_len: int):
        flat = [c for caps in captions for c in caps]
        self.tokens = vocab.encode_batch(flat, max_len)
        self.counts = torch.tensor([len(c) for c in captions], dtype=torch.long)
        self.offsets = torch.cumsum(self.counts, 0) - self.counts

    @torch.no_grad()
    def embed(self, text: torch.nn.Module, batch_size: int = 1000) -> None:
        """Replace the token rows by ``text``'s embedding of each (for a frozen text encoder: computed once)."""
        self.tokens = torch.cat([text(self.tokens[i:i + batch_size]) for i in range(0, len(self.tokens), batch_size)])

    def pick(self, idx: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        k = (u * self.counts[idx]).long().clamp_(max=self.counts[idx] - 1)
        return self.tokens[self.offsets[idx] + k]
