"""GAN losses on discriminator *logits*, and the R1 penalty.

* ``"bce"`` (Goodfellow et al. 2014; the DCGAN recipe):
  ``L_D = -E[log D(x)] - E[log(1 - D(G(z)))]`` and the non-saturating
  ``L_G = -E[log D(G(z))]`` with ``D = sigmoid(logit)``.  Computed as
  ``-log sigmoid(l) = softplus(-l)`` and ``-log(1 - sigmoid(l)) = softplus(l)``, the
  same values without overflow (the recipe's ``BCELoss`` clamps log at -100 instead).
* ``"hinge"`` (Lim & Ye 2017; Miyato et al. 2018):
  ``L_D = E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]``, ``L_G = -E[D(G(z))]`` on logits.
* R1 (Mescheder et al. 2018, "Which training methods for GANs do actually converge?"):
  ``(gamma / 2) * E[ ||grad_x D(x)||^2 ]`` on real data, added to ``L_D``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vislang.errors import ConfigError

LOSSES = ("bce", "hinge")


def d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, kind: str = "bce") -> torch.Tensor:
    """Discriminator loss (a scalar) from logits on real and generated batches."""
    return d_real_term(real_logits, kind) + d_fake_term(fake_logits, kind)


def d_real_term(real_logits: torch.Tensor, kind: str = "bce") -> torch.Tensor:
    """The real-data term of :func:`d_loss`: ``-E[log D(x)]`` (bce) or ``E[relu(1 - D(x))]`` (hinge)."""
    if kind == "bce":
        return F.softplus(-real_logits).mean()
    if kind == "hinge":
        return F.relu(1.0 - real_logits).mean()
    raise ConfigError(f"unknown GAN loss {kind!r}; use one of {', '.join(LOSSES)}")


def d_fake_term(fake_logits: torch.Tensor, kind: str = "bce") -> torch.Tensor:
    """The generated-data term of :func:`d_loss`: ``-E[log(1 - D(G(z)))]`` (bce) or ``E[relu(1 + D(G(z)))]``."""
    if kind == "bce":
        return F.softplus(fake_logits).mean()
    if kind == "hinge":
        return F.relu(1.0 + fake_logits).mean()
    raise ConfigError(f"unknown GAN loss {kind!r}; use one of {', '.join(LOSSES)}")


def g_loss(fake_logits: torch.Tensor, kind: str = "bce") -> torch.Tensor:
    """Generator loss: non-saturating ``-E[log D(G(z))]`` (bce) or ``-E[D(G(z))]`` (hinge)."""
    if kind == "bce":
        return F.softplus(-fake_logits).mean()
    if kind == "hinge":
        return -fake_logits.mean()
    raise ConfigError(f"unknown GAN loss {kind!r}; use one of {', '.join(LOSSES)}")


def r1_penalty(real_logits: torch.Tensor, real_images: torch.Tensor, gamma: float) -> torch.Tensor:
    """``gamma/2 * E||grad_x D(x)||^2``; ``real_images`` must have ``requires_grad`` set before D ran."""
    (grad,) = torch.autograd.grad(real_logits.sum(), real_images, create_graph=True)
    return 0.5 * gamma * grad.pow(2).reshape(grad.shape[0], -1).sum(1).mean()
