"""Acceptance figures of the shipped scenes dual encoder on held-out built-in scenes.

    python benchmarks/consistency_scenes.py [--model scenes|RUN|FILE] [--n 1000] [--seed 0]

Prints, per split (test: seen colour-shape pairs; test_unseen: a held-out pair in every scene),
FOIL accuracy per perturbation kind, text->image and image->text R-precision (1 of 100),
recall@k, and Kendall's tau between CLIP-S and the share of true facts of true / 1-changed /
2-changed / wholly wrong captions; then the acceptance checks (FOIL >= 0.95 for colour, shape
and relation; R-precision t2i >= 0.90; tau >= 0.6). See docs/consistency.md.
"""

import argparse
import json
import time

import torch

from vislang.metrics.consistency.scene_eval import evaluate_scenes
from vislang.train.dual_encoder import embed, load_dual_encoder


def faithfulness(n: int, seed: int) -> dict:
    """The shipped attribute classifier reading real held-out scenes: against their own specs (the
    classifier's accuracy, ideally 1) and against the specs of other scenes (a mismatch baseline)."""
    from vislang.data.scenes import generate
    from vislang.metrics.consistency.faithfulness import image_faithfulness, read_specs
    from vislang.models.attribute_classifier import HEADS
    from vislang.train.attribute_classifier import load_attribute_classifier

    try:
        clf, meta = load_attribute_classifier("scenes")
    except Exception as exc:  # noqa: BLE001 - reported, not fatal
        return {"error": str(exc)}
    out = {}
    for split in ("test", "test_unseen"):
        s = generate(n, size=clf.config.image_size, seed=0, split=split)
        with torch.no_grad():
            read = read_specs(clf(s.images), HEADS)
        specs = [s.specs[i] for i in s.ids]
        own = image_faithfulness(read, specs)
        other = image_faithfulness(read, specs[1:] + specs[:1])
        out[split] = {"own_spec": own["faithfulness"], "own_exact": own["faithful_exact"],
                      "shifted_spec": other["faithfulness"]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="scenes")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model, vocab, meta = load_dual_encoder(args.model)
    t0 = time.perf_counter()
    res = evaluate_scenes(lambda x: embed(model, vocab, images=x)[0], lambda c: embed(model, vocab, captions=c)[1],
                          n=args.n, size=model.config.image_size, seed=args.seed)
    res["faithfulness"] = faithfulness(args.n, args.seed)
    res["model"] = {"spec": args.model, "sha256": meta["sha256"], "config": meta.get("config")}
    res["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(res, indent=1))
    for split in ("test", "test_unseen"):
        r = res[split]
        checks = {f"foil_{k} >= 0.95": r[f"foil_{k}"] >= 0.95 for k in ("color", "shape", "relation")}
        checks["R-precision_t2i >= 0.90"] = r["R-precision_t2i"] >= 0.90
        checks["kendall_tau >= 0.6"] = r["kendall_tau"] >= 0.6
        print(split, " ".join(f"{k}: {'PASS' if v else 'FAIL'}" for k, v in checks.items()))


if __name__ == "__main__":
    main()
