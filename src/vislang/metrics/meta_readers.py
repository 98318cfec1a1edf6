"""Readers of human judgments and metric scores for meta-evaluation, and the Flickr8k-Expert protocol.

Human judgments are returned as ``{item_id: [rating, ...]}`` (plus, where raters are known, the
``(rater, item, value)`` records for inter-rater agreement).

* Flickr8k-Expert (``ExpertAnnotations.txt``; Hodosh et al. 2013, readme of the Flickr8k text
  files): ``image<TAB>caption_id<TAB>r1<TAB>r2<TAB>r3``, ratings 1-4, three experts per pair.
  Item id: ``"<image>|<caption_id>"``.
* Flickr8k-CrowdFlower (``CrowdFlowerAnnotations.txt``): ``image, caption_id, share of yes,
  number of yes, number of no``; the human score is the share of yes.  Same item ids.
* The rating app's export (``ratings.csv`` / ``ratings.json``, see docs/humaneval.md): attention
  checks are left out.
* Generic: a CSV with columns ``item_id,score`` (one row per rating) or a JSON ``{item_id: score or
  [scores]}``.

Metric scores: a JSON ``{metric: {item_id: score}}`` (the ``per_item`` of
:func:`vislang.metrics.text.score_captions`) or a CSV ``item_id,<metric>,<metric>...``.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from vislang.errors import InputError, ResourceNotFound

#: Hessel et al. 2021 (CLIPScore, EMNLP), Table 1: Kendall tau-c x 100 on Flickr8k-Expert.
PUBLISHED_FLICKR8K_EXPERT = {"Bleu_1": 32.3, "Bleu_4": 30.8, "ROUGE_L": 32.3, "METEOR": 41.8, "CIDEr": 43.9}


def _read_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise ResourceNotFound(f"{path}: file not found")
    return [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]


def read_flickr8k_expert(path) -> dict[str, list[float]]:
    """``{"<image>|<caption_id>": [r1, r2, r3]}`` from ExpertAnnotations.txt."""
    path = Path(path)
    out: dict[str, list[float]] = {}
    for n, ln in enumerate(_read_lines(path), 1):
        f = ln.split("\t")
        if len(f) != 5:
            raise InputError(f"{path}:{n}: expected 5 tab-separated fields (image, caption id, 3 ratings)")
        try:
            out[f"{f[0].strip()}|{f[1].strip()}"] = [float(v) for v in f[2:]]
        except ValueError:
            raise InputError(f"{path}:{n}: the ratings must be numbers") from None
    return out


def read_crowdflower(path) -> dict[str, list[float]]:
    """``{"<image>|<caption_id>": [share of yes]}`` from CrowdFlowerAnnotations.txt."""
    path = Path(path)
    out: dict[str, list[float]] = {}
    for n, ln in enumerate(_read_lines(path), 1):
        f = ln.split("\t")
        if len(f) != 5:
            raise InputError(f"{path}:{n}: expected 5 tab-separated fields (image, caption id, share, yes, no)")
        try:
            out[f"{f[0].strip()}|{f[1].strip()}"] = [float(f[2])]
        except ValueError:
            raise InputError(f"{path}:{n}: the share of yes must be a number") from None
    return out


def read_app_export(path) -> tuple[dict[str, list[float]], list[tuple[str, str, float]]]:
    """The app export: ``({item_id: [values]}, [(rater, item_id, value)])``, attention checks left out."""
    path = Path(path)
    if not path.is_file():
        raise ResourceNotFound(f"{path}: file not found")
    if path.suffix.lower() == ".json":
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))["ratings"]
        except (ValueError, KeyError, TypeError):
            raise InputError(f"{path}: not a vislang humaneval export (a JSON object with 'ratings')") from None
    else:
        rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    human: dict[str, list[float]] = {}
    recs = []
    for n, r in enumerate(rows, 1):
        try:
            if str(r["is_check"]).lower() in ("1", "true"):
                continue
            item, rater, value = str(r["item_id"]), str(r["rater"]), float(r["value"])
        except (KeyError, ValueError, TypeError):
            raise InputError(f"{path}: rating {n} lacks item_id/rater/value/is_check; is this an app export?") from None
        human.setdefault(item, []).append(value)
        recs.append((rater, item, value))
    return human, recs


def read_generic_human(path) -> dict[str, list[float]]:
    path = Path(path)
    if not path.is_file():
        raise ResourceNotFound(f"{path}: file not found")
    if path.suffix.lower() == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise InputError(f"{path}: expected a JSON object {{item_id: score or [scores]}}")
        return {str(k): [float(x) for x in (v if isinstance(v, list) else [v])] for k, v in data.items()}
    out: dict[str, list[float]] = {}
    for n, r in enumerate(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))), 1):
        try:
            out.setdefault(str(r["item_id"]), []).append(float(r["score"]))
        except (KeyError, ValueError, TypeError):
            raise InputError(f"{path}: row {n}: expected columns item_id,score with a numeric score") from None
    return out


def read_human(path, fmt: str = "auto") -> tuple[dict[str, list[float]], list[tuple[str, str, float]]]:
    """Any supported human-judgment file; ``fmt``: auto, flickr8k-expert, crowdflower, app, generic."""
    path = Path(path)
    if fmt == "auto":
        name = path.name.lower()
        if name.startswith("expertannotations"):
            fmt = "flickr8k-expert"
        elif name.startswith("crowdflower"):
            fmt = "crowdflower"
        else:
            head = path.read_text(encoding="utf-8")[:4096] if path.is_file() else ""
            fmt = "app" if ("is_check" in head and "rater" in head) else "generic"
    if fmt == "flickr8k-expert":
        h = read_flickr8k_expert(path)
        return h, [(f"expert{i + 1}", k, v) for k, vs in h.items() for i, v in enumerate(vs)]
    if fmt == "crowdflower":
        return read_crowdflower(path), []
    if fmt == "app":
        return read_app_export(path)
    if fmt == "generic":
        return read_generic_human(path), []
    raise InputError(f"--human-format: unknown format {fmt!r}; use auto, flickr8k-expert, crowdflower, app or generic")


def read_metric_scores(path) -> dict[str, dict[str, float]]:
    """``{metric: {item_id: score}}`` from JSON (optionally under ``per_item``) or CSV ``item_id,<metric>...``."""
    path = Path(path)
    if not path.is_file():
        raise ResourceNotFound(f"{path}: file not found")
    if path.suffix.lower() == ".json":
        try:
            data: Any = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise InputError(f"{path}: invalid JSON ({exc})") from None
        if isinstance(data, dict) and isinstance(data.get("per_item"), dict):
            data = data["per_item"]
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            raise InputError(f"{path}: expected {{metric: {{item_id: score}}}} (or a score_captions result with per_item)")
        return {m: {str(k): float(v) for k, v in d.items()} for m, d in data.items()}
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    if not rows or "item_id" not in rows[0]:
        raise InputError(f"{path}: expected a CSV with an item_id column and one column per metric")
    metrics = [c for c in rows[0] if c != "item_id"]
    try:
        return {m: {r["item_id"]: float(r[m]) for r in rows} for m in metrics}
    except (ValueError, TypeError):
        raise InputError(f"{path}: a metric score is not a number") from None


# -- the Flickr8k-Expert protocol of CLIPScore (Hessel et al. 2021, Table 1) --------------------------------
def flickr8k_expert_pairs(data_dir) -> tuple[dict[str, list[str]], dict[str, str], dict[str, list[float]]]:
    """``(refs, cands, human)`` keyed ``"<image>|<caption_id>"``.

    References are the image's five Flickr8k captions; the candidate is the caption named by the
    caption id (a caption written for some image, see the readme).  Pairs whose candidate is one of
    the image's own captions (caption id of the same image) are left out, since the candidate would
    then be among its references; 5,664 of the 5,822 pairs remain.  Each pair has three ratings.
    """
    from vislang.data.captions import load_flickr8k

    d = Path(data_dir)
    token, expert = d / "Flickr8k.token.txt", d / "ExpertAnnotations.txt"
    for p in (token, expert):
        if not p.is_file():
            raise ResourceNotFound(f"{p}: missing; --data must be the folder holding the Flickr8k text files")
    refs_by_image = load_flickr8k(token)
    captions = {}
    for ln in _read_lines(token):
        cid, _, text = ln.partition("\t")
        captions[cid.strip()] = text
    human = read_flickr8k_expert(expert)
    refs, cands, kept = {}, {}, {}
    for key, ratings in human.items():
        image, cid = key.split("|", 1)
        if cid.split("#")[0] == image:
            continue
        if image not in refs_by_image or cid not in captions:
            raise InputError(f"{expert}: pair {image} / {cid} has no caption in {token.name}")
        refs[key], cands[key], kept[key] = list(refs_by_image[image]), captions[cid], ratings
    return refs, cands, kept


def flickr8k_expert_table(data_dir) -> list[dict[str, Any]]:
    """Kendall tau-c x 100 of every vislang caption metric with the expert ratings (each rating its own sample).

    Rows: ``{"metric", "vislang", "published"}``; ``vislang`` is None when the metric is unavailable.
    """
    import numpy as np

    from vislang.metrics.meta import kendall_tau
    from vislang.metrics.text import score_captions

    refs, cands, human = flickr8k_expert_pairs(data_dir)
    metrics = ["bleu", "rouge_l", "cider_d"]
    try:
        import vislang.metrics.text.meteor  # noqa: F401

        metrics.append("meteor")
        has_meteor = True
    except ImportError:
        has_meteor = False
    per = score_captions(refs, cands, metrics=metrics, per_item=True)["per_item"]
    keys = list(refs)
    h = np.array([human[k] for k in keys], dtype=np.float64)  # pairs x 3
    rows = []
    for name in ["Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "ROUGE_L", "METEOR", "CIDEr"]:
        if name not in per:
            if name == "METEOR" and not has_meteor:
                rows.append({"metric": name, "vislang": None, "published": PUBLISHED_FLICKR8K_EXPERT[name]})
            continue
        s = np.array([per[name][k] for k in keys], dtype=np.float64)
        tau = kendall_tau(np.repeat(s, h.shape[1]), h.ravel(), variant="c")
        rows.append({"metric": name, "vislang": 100.0 * tau, "published": PUBLISHED_FLICKR8K_EXPERT.get(name)})
    return rows
