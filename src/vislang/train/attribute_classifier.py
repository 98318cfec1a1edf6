"""Train the scene attribute classifier (:mod:`vislang.models.attribute_classifier`) on real built-in
scenes; save, export and load it (``"scenes"`` = the shipped file in ``vislang/assets/``).

Targets: for every cell of the 3 x 3 grid, the colour / shape / size of the object whose centre lies
in it, or ``none``. Loss: the sum of the three cross-entropies averaged over cells. AdamW, cosine
learning rate, batches as a pure function of ``(seed, step)`` (:class:`~vislang.train.loop.StepSampler`).

    python -m vislang.train.attribute_classifier --out FILE [--steps 600] [--seed 0]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F

from vislang.data.scene_spec import GRID, SceneSpec
from vislang.errors import InputError, ResourceNotFound
from vislang.fileio import atomic_write
from vislang.models.attribute_classifier import HEADS, AttributeClassifier, AttributeConfig
from vislang.train import loop

SHIPPED = "attribute_classifier_scenes.pt"
FORMAT = "vislang-attribute-classifier-v1"


def cell_of(x: float, y: float) -> int:
    return min(int(y * GRID), GRID - 1) * GRID + min(int(x * GRID), GRID - 1)


def targets(specs: list[SceneSpec]) -> dict[str, torch.Tensor]:
    """``{head: N x 9}`` class indices (0 = no object)."""
    out = {h: torch.zeros(len(specs), GRID * GRID, dtype=torch.long) for h in HEADS}
    for i, spec in enumerate(specs):
        for o in spec.objects:
            c = cell_of(o.x, o.y)
            out["color"][i, c] = HEADS["color"].index(o.color)
            out["shape"][i, c] = HEADS["shape"].index(o.shape)
            out["size"][i, c] = HEADS["size"].index(o.size)
    return out


def loss_fn(logits: dict[str, torch.Tensor], tgt: dict[str, torch.Tensor]) -> torch.Tensor:
    return sum(F.cross_entropy(logits[h].reshape(-1, logits[h].shape[-1]), tgt[h].reshape(-1)) for h in HEADS)


def train(out: str | Path, n_train: int = 8000, steps: int = 600, batch_size: int = 128, lr: float = 3e-3,
          size: int = 64, seed: int = 0, threads: int = 1) -> dict[str, Any]:
    from vislang.data.scenes import generate
    from vislang.seeding import seed_everything

    loop.set_deterministic(threads)
    seed_everything(seed)
    data = generate(n_train, size=size, seed=seed, split="train")
    tgt = targets([data.specs[i] for i in data.ids])
    model = AttributeClassifier(AttributeConfig(image_size=size))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    sampler = loop.StepSampler(len(data), batch_size, seed)
    model.train()
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * step / steps)))
        idx = sampler.indices(step)
        loss = loss_fn(model(data.images[idx]), {h: t[idx] for h, t in tgt.items()})
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    model.eval()
    save(out, model, {"n_train": n_train, "steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed,
                      "threads": threads, "final_loss": float(loss.detach())})
    return {"final_loss": float(loss.detach())}


def save(path: str | Path, model: AttributeClassifier, meta: dict[str, Any]) -> Path:
    state = {"format": FORMAT, "config": model.config.to_dict(), "meta": meta,
             "model": {k: (v.half() if v.is_floating_point() else v).clone() for k, v in model.state_dict().items()}}
    with atomic_write(Path(path), "wb") as fh:
        torch.save(state, fh)
    return Path(path)


def load_attribute_classifier(spec: str | Path = "scenes") -> tuple[AttributeClassifier, dict[str, Any]]:
    path = Path(__file__).resolve().parent.parent / "assets" / SHIPPED if str(spec) == "scenes" else Path(spec)
    if not path.exists():
        raise (ResourceNotFound if str(spec) == "scenes" else InputError)(
            f"{path}: no attribute classifier; train one with 'python -m vislang.train.attribute_classifier'")
    state = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise InputError(f"{path}: not a vislang attribute-classifier file")
    model = AttributeClassifier(AttributeConfig(**state["config"]))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state["model"].items()})
    return model.eval(), dict(state["meta"], file=str(path))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="train the scene attribute classifier")
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--n-train", type=int, default=8000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    print(train(args.out, n_train=args.n_train, steps=args.steps, seed=args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
