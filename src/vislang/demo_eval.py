"""The demo's evaluation stage: every figure beside its real-vs-real floor and a degenerate baseline.

Results are a flat dict ``"group.metric" -> value`` with ``_real_floor`` and ``_baseline`` companions
(the layout :mod:`vislang.report` reads):

* ``unconditional.*`` / ``conditional.*``: FID, KID, Vendi of generated vs held-out real images
  (floor: two halves of the real images; baseline: uniform noise images);
* ``captions.*``: BLEU, ROUGE-L, CIDEr-D, METEOR (when its resources are installed) and scene truthfulness of the captioner on real test
  images (floor: each image's first reference scored against the other four; baseline: one constant
  caption for every image) and caption diversity;
* ``consistency_captions.CLIP-S``: shipped scenes dual encoder, real image vs its generated caption
  (floor: real image vs its reference; baseline: the constant caption);
* ``consistency_images.CLIP-S``: caption-conditioned images vs their prompts (floor: the real
  image of that prompt; baseline: noise images);
* ``consistency_images.faithfulness``: the share of each prompt's facts that the shipped attribute
  classifier reads in its conditional image (floor: the real image of that prompt; baseline, chance: each
  conditional image against the next image's prompt); independent of the dual encoder.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vislang.progress import info

CAPTION_METRICS = ("bleu", "rouge_l", "cider_d")


def caption_metrics(meteor: bool = True) -> tuple[str, ...]:
    """The demo's caption metrics: METEOR joins when asked and its METEOR 1.5 resources are installed."""
    from vislang.errors import ResourceNotFound
    from vislang.metrics.text.meteor_resources import locate

    if not meteor:
        return CAPTION_METRICS
    try:
        locate()
    except ResourceNotFound:
        info("evaluate: METEOR skipped (its METEOR 1.5 resources are not installed; `pip install pycocoevalcap` "
             "provides them)")
        return CAPTION_METRICS
    return CAPTION_METRICS + ("meteor",)
N_TABLE = 12
N_CONSISTENCY = 4


def load_npz(path: Path) -> torch.Tensor:
    with np.load(path) as z:
        return torch.from_numpy(np.ascontiguousarray(z["images"].transpose(0, 3, 1, 2)))


def to64(images: torch.Tensor) -> torch.Tensor:
    """uint8 images resized (antialiased bilinear) to the 64 px the captioner and dual encoder read."""
    if images.shape[-1] == 64:
        return images
    from vislang.resize import resize_bilinear_aa

    return resize_bilinear_aa(images, (64, 64)).round_().clamp_(0, 255).to(torch.uint8)


def save_grid(images: torch.Tensor, path: Path, nrow: int = 8) -> None:
    from vislang.train.gan_eval import make_grid, save_png

    save_png(make_grid(images, nrow=nrow), path)


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


def _images(demo, real, fakes: dict[str, torch.Tensor], noise) -> dict[str, Any]:
    from vislang.evaluate import evaluate_images

    c = demo.cfg
    n = min(c.n_eval_images, len(real))
    opts = dict(extractor=c.extractor, metrics=("fid", "kid", "vendi"), seed=c.seed, device="cpu",
                kid_subset_size=max(n // 4, 2), kid_subsets=50, cache=True)
    out: dict[str, Any] = {}
    base = evaluate_images(real[:n], noise[:n], real_vs_real=False, **opts)
    for name, fake in fakes.items():
        info(f"evaluate: {name} images ({n} per side, {c.extractor})")
        r = evaluate_images(real[:n], fake[:n], real_vs_real=True, **opts)
        for k in ("fid", "kid_mean", "vendi"):
            out[f"{name}.{k}"] = r.get(k)
            out[f"{name}.{k}_baseline"] = base.get(k)
            if f"{k}_real_floor" in r:
                out[f"{name}.{k}_real_floor"] = r[f"{k}_real_floor"]
        out[f"{name}.n_images"] = n
        out[f"{name}.extractor"] = r.get("extractor", c.extractor)
    out["real.vendi"] = evaluate_images(real[:n], real[:n], real_vs_real=False, **{**opts, "metrics": ("vendi",)}).get("vendi")
    return out


def _errors(caption: str, spec) -> list[str]:
    from vislang.data.scene_text import parse_caption, spec_attributes_match

    pred = parse_caption(caption)
    if pred is None:
        return ["the scene parser could not read this caption"]
    m = spec_attributes_match(pred, spec)
    errs = []
    n = m["objects_true"]
    for a, word in (("color", "colour"), ("shape", "shape"), ("size", "size")):
        if m[a] < n:
            errs.append(f"{word} wrong for {n - m[a]} of {n} objects")
    if m["relations_correct"] < m["relations_total"]:
        errs.append(f"{m['relations_total'] - m['relations_correct']} of {m['relations_total']} relations wrong")
    if m["objects_extra"]:
        errs.append(f"{m['objects_extra']} extra objects")
    return errs


def _captions(demo, s, cands: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    from vislang.metrics.consistency.scene_checks import caption_truthfulness
    from vislang.metrics.text.score import score_captions

    ids = [str(i) for i in s.ids]
    refs = {str(i): s.captions[i] for i in s.ids}
    specs = {str(i): s.specs[i] for i in s.ids}
    constant = Counter(c for i in s.ids for c in s.captions[i]).most_common(1)[0][0]
    metrics = caption_metrics(demo.cfg.meteor) + ("diversity",)
    model = score_captions(refs, cands, metrics=metrics, per_item=True)
    per = model.pop("per_item")
    floor = score_captions({k: refs[k][1:] for k in ids}, {k: refs[k][0] for k in ids}, metrics=metrics)
    base = score_captions(refs, {k: constant for k in ids}, metrics=metrics)
    out: dict[str, Any] = {}
    keys = [k for k, v in model.items() if isinstance(v, (int, float)) and k not in ("n_images",)]
    for k in keys:
        name = "CIDEr-D" if k == "CIDEr" else k
        out[f"captions.{name}"] = model[k]
        if k in floor:
            out[f"captions.{name}_real_floor"] = floor[k]
        if k in base:
            out[f"captions.{name}_baseline"] = base[k]
    truth = caption_truthfulness(cands, specs)
    out["captions.truth_share"] = truth["truth_share"]
    out["captions.truth_exact"] = truth["truth_exact"]
    out["captions.truth_share_real_floor"] = caption_truthfulness({k: refs[k][0] for k in ids}, specs)["truth_share"]
    out["captions.truth_share_baseline"] = caption_truthfulness({k: constant for k in ids}, specs)["truth_share"]
    out["captions.constant_caption"] = constant
    out["captions.n_images"] = len(ids)
    div = {"generated": {k: model.get(k) for k in ("distinct_1", "distinct_2", "self_bleu_4", "vendi_ngram")},
           "references (first)": {k: floor.get(k) for k in ("distinct_1", "distinct_2", "self_bleu_4", "vendi_ngram")}}
    table = {"per": per, "truth": truth["per_item"], "refs": refs, "specs": specs}
    return _clean(out), {"diversity": div, "table": table}


def _consistency(real, cond, noise, real_caps: list[str], prompts: list[str], constant: str):
    from vislang.metrics.consistency import CLIPScore
    from vislang.metrics.consistency.faithfulness import scene_image_faithfulness
    from vislang.train.attribute_classifier import load_attribute_classifier
    from vislang.train.dual_encoder import embed, load_dual_encoder

    model, vocab, meta = load_dual_encoder("scenes")

    def score(images, caps):
        img, txt = embed(model, vocab, images=images, captions=caps)
        m = CLIPScore()
        m.update(img, txt)
        return m.compute()["CLIP-S"], (img * txt).sum(1).clamp(min=0).mul(2.5)

    real_ref, _ = score(real, prompts)
    out = {"consistency_captions.CLIP-S": score(real, real_caps)[0],
           "consistency_captions.CLIP-S_real_floor": real_ref,
           "consistency_captions.CLIP-S_baseline": score(real, [constant] * len(real))[0]}
    cond_s, per = score(cond, prompts)
    out.update({"consistency_images.CLIP-S": cond_s, "consistency_images.CLIP-S_real_floor": real_ref,
                "consistency_images.CLIP-S_baseline": score(noise, prompts)[0],
                "consistency.dual_encoder_sha256": meta["sha256"]})
    # the attribute classifier's reading: a judge the conditional GAN never trained against (its --consistency
    # term optimises the dual encoder's cosine, so CLIP-S above is not independent of the generator)
    clf = load_attribute_classifier("scenes")[0]
    out.update({"consistency_images.faithfulness": scene_image_faithfulness(cond, prompts, clf)["faithfulness"],
                "consistency_images.faithfulness_real_floor": scene_image_faithfulness(real, prompts, clf)["faithfulness"],
                "consistency_images.faithfulness_baseline":  # chance: each image against the next image's prompt
                    scene_image_faithfulness(cond, prompts[1:] + prompts[:1], clf)["faithfulness"]})
    return out, per


def _losses(run: Path) -> dict[str, list]:
    from vislang.fileio import read_json  # noqa: F401  (log.jsonl is read line by line below)
    import json

    path = run / "log.jsonl"
    if not path.is_file():
        return {}
    recs = [json.loads(ln) for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    recs = [r for r in recs if "step" in r and any(k.startswith("loss") for k in r) and "event" not in r]
    keys = sorted({k for r in recs for k in r if k.startswith("loss") and isinstance(r[k], (int, float))})
    out: dict[str, list] = {"step": [r["step"] for r in recs]}
    for k in keys:
        out[k] = [r.get(k) for r in recs]
    return out


def evaluate_demo(demo) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(flat results, report sidecar)`` for the demo run ``demo`` (a :class:`vislang.demo.Demo`)."""
    from vislang.fileio import read_json

    run = demo.out
    s = demo.test_scenes()
    real = s.images
    gen = run / "generated"
    unc, cond, noise = (load_npz(gen / f"{n}.npz") for n in ("unconditional", "conditional", "noise"))
    caps = read_json(run / "captions.json")
    prompts_by = read_json(gen / "prompts.json")
    ids = [str(i) for i in s.ids]

    results: dict[str, Any] = {}
    results.update(_images(demo, real, {"unconditional": unc, "conditional": cond}, noise))
    info("evaluate: caption metrics")
    cap_res, cap_data = _captions(demo, s, caps["real"])
    results.update(cap_res)
    info("evaluate: consistency (shipped scenes dual encoder)")
    cons, per_cons = _consistency(real, cond, noise, [caps["real"][k] for k in ids], [prompts_by[k] for k in ids],
                                  cap_res["captions.constant_caption"])
    results.update(cons)
    results["seed"] = demo.cfg.seed

    # sidecar: images for the tables, grids over training, losses
    pics = run / "report_images"
    pics.mkdir(exist_ok=True)
    from vislang.train.gan_eval import save_png

    def pic(images, j, name) -> str:
        save_png(images[j].permute(1, 2, 0).numpy(), pics / name)
        return f"report_images/{name}"

    grids = [{"title": "real test scenes", "png": "data/real_grid.png"},
             {"title": "DCGAN (unconditional), final", "png": "generated/unconditional_grid.png"},
             {"title": "conditional GAN from held-out captions, final", "png": "generated/conditional_grid.png"}]
    for name in ("dcgan", "cgan"):
        for p in sorted((run / name / "samples").glob("step-*.png")):
            if not p.name.endswith("-ema.png"):
                grids.append({"title": f"{name} {p.stem}", "png": f"{name}/samples/{p.name}", "width": 200})
    t = cap_data["table"]
    rows = []
    for j, k in enumerate(ids[:N_TABLE]):
        rows.append({"image": pic(real, j, f"real_{j}.png"), "caption": caps["real"][k], "refs": t["refs"][k],
                     "scores": {"CIDEr-D": t["per"].get("CIDEr", {}).get(k), "truth share": t["truth"].get(k)},
                     "errors": _errors(caps["real"][k], t["specs"][k])})
    order = torch.argsort(per_cons, descending=True).tolist()
    best = [{"image": pic(cond, j, f"cond_{j}.png"), "caption": prompts_by[ids[j]], "score": float(per_cons[j])}
            for j in order[:N_CONSISTENCY]]
    worst = [{"image": pic(cond, j, f"cond_{j}.png"), "caption": prompts_by[ids[j]], "score": float(per_cons[j])}
             for j in order[::-1][:N_CONSISTENCY]]
    vendi = {n: results.get(f"{n}.vendi") for n in ("unconditional", "conditional")}
    vendi.update(real=results.get("real.vendi"), noise=results.get("unconditional.vendi_baseline"))
    data = {"grids": grids, "losses": {n: _losses(run / n) for n in ("dcgan", "cgan", "captioner")},
            "captions": rows, "consistency": {"best": best, "worst": worst},
            "diversity": {"image Vendi score": vendi,
                          **{f"caption diversity: {k}": v for k, v in cap_data["diversity"].items()}}}
    return _clean(results), data
