"""``score_captions``: the caption metrics of coco-caption (without Java) plus caption diversity.

Result keys are the names pycocoevalcap users know -- ``Bleu_1``..``Bleu_4``, ``METEOR``,
``ROUGE_L``, ``CIDEr`` -- plus the diversity names of :mod:`vislang.metrics.text.diversity`
(``distinct_1``, ``distinct_2``, ``vocab_size``, ``mean_length``, ``self_bleu_4``, ``vendi_ngram``,
``novelty`` when training captions are given), ``n_images`` and ``provenance``.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from itertools import chain, repeat
from typing import Any, Iterable


from vislang.errors import ConfigError, InputError, VislangError
from vislang.metrics.base import provenance

# Imported with the package rather than inside score_captions: importing them (numpy included) is
# a one-off cost of the process, not of a scoring call.  (benchmarks/caption_metrics.py times
# the imports separately from the first call.)
from vislang.metrics.text.bleu import bleu_from_stats, bleu_stats_images
from vislang.metrics.text.cider import cider_from_images
from vislang.metrics.text.ngrams import image_ngrams
from vislang.metrics.text.rouge import rouge_l_images
from vislang.metrics.text.tokenizer import ptb_tokenize

#: metric name accepted in ``metrics`` -> the result keys it produces.
METRICS = {
    "bleu": ["Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4"],
    "meteor": ["METEOR"],
    "rouge_l": ["ROUGE_L"],
    "cider_d": ["CIDEr"],
    "diversity": ["distinct_1", "distinct_2", "vocab_size", "mean_length", "self_bleu_4", "vendi_ngram", "novelty"],
}
ALIASES = {"cider": "cider_d", "rouge": "rouge_l", "bleu_4": "bleu", "rougel": "rouge_l", "ciderd": "cider_d"}
DEFAULT_METRICS = ("bleu", "rouge_l", "cider_d")


def _short(x: Any) -> str:
    s = repr(x)
    return s if len(s) <= 60 else s[:57] + "..."


def validate(refs: Any, cands: Any) -> list:
    """Check the two caption dicts; return the image ids in scoring order (the order of ``refs``).

    Raises :class:`InputError` naming the image id for: a candidate without references, references
    without a candidate, an empty reference list, a caption that is not a string.
    """
    if not isinstance(refs, dict) or not isinstance(cands, dict):
        raise InputError("captions: refs must be a dict {image_id: [caption, ...]} and cands a dict "
                         "{image_id: caption}")
    if not cands:
        raise InputError("captions: no candidate captions to score")
    rs_all = refs.values()
    if (refs.keys() == cands.keys() and set(map(type, cands.values())) == {str}
            and set(map(type, rs_all)) <= {list, tuple} and min(map(len, rs_all)) > 0
            and set(map(type, chain.from_iterable(rs_all))) == {str}):
        return list(refs)  # all fine (checked in C); otherwise find the culprit below
    missing = [i for i in cands if i not in refs]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise InputError(f"captions: candidate for image id {_short(missing[0])} has no references{more}")
    extra = [i for i in refs if i not in cands]
    if extra:
        more = f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""
        raise InputError(f"captions: references for image id {_short(extra[0])} have no candidate{more}; "
                         "score the same images on both sides")
    for i, rs in refs.items():
        if isinstance(rs, str) or not isinstance(rs, (list, tuple)):
            raise InputError(f"captions: references of image id {_short(i)} must be a list of strings, "
                             f"got {type(rs).__name__}")
        if len(rs) == 0:
            raise InputError(f"captions: image id {_short(i)} has an empty reference list")
        if not all(map(isinstance, rs, repeat(str))):  # the loop in C; the culprit only on failure
            r = next(r for r in rs if not isinstance(r, str))
            raise InputError(f"captions: a reference of image id {_short(i)} is {type(r).__name__}, "
                             "not a string")
    for i, c in cands.items():
        if not isinstance(c, str):
            raise InputError(f"captions: the candidate of image id {_short(i)} is {type(c).__name__}, "
                             "not a string")
    return list(refs)


def tokenize_flat(refs: dict, cands: dict, ids: list) -> tuple[list[str], list[str], list[int]]:
    """PTB-tokenize references and candidates as pycocoevalcap does: one tokenizer call for all
    references (image order, then caption order) and one for all candidates.

    Returns ``(refs_tok_flat, cands_tok, nref)``: every image's tokenized references concatenated,
    the tokenized candidates, the number of references of each image.
    """
    rs = list(map(refs.__getitem__, ids))
    refs_flat = ptb_tokenize(list(chain.from_iterable(rs)))
    cands_tok = ptb_tokenize(list(map(cands.__getitem__, ids)))
    return refs_flat, cands_tok, list(map(len, rs))


def _group(flat: list, nref: list[int]) -> list[list]:
    """``flat`` cut into consecutive lists of ``nref[i]`` items."""
    out, k = [], 0
    for n in nref:
        out.append(flat[k:k + n])
        k += n
    return out


def tokenize_pair(refs: dict, cands: dict, ids: list) -> tuple[list[list[str]], list[str]]:
    """:func:`tokenize_flat` with the references grouped per image: ``(refs_tok, cands_tok)``."""
    refs_flat, cands_tok, nref = tokenize_flat(refs, cands, ids)
    return _group(refs_flat, nref), cands_tok


def prepare(refs: dict, cands: dict) -> tuple[list, list[list[str]], list[str]]:
    """Validate and tokenize: (ids, tokenized refs per image, tokenized candidate per image)."""
    ids = validate(refs, cands)
    refs_tok, cands_tok = tokenize_pair(refs, cands, ids)
    return ids, refs_tok, cands_tok


def normalize_metrics(metrics: Iterable[str] | str) -> list[str]:
    if isinstance(metrics, str):
        metrics = [m for m in metrics.split(",") if m.strip()]
    out = []
    for m in metrics:
        key = ALIASES.get(m.strip().lower(), m.strip().lower())
        if key not in METRICS:
            raise ConfigError(f"unknown caption metric {m!r}; choose from {', '.join(METRICS)}")
        if key not in out:
            out.append(key)
    if not out:
        raise ConfigError("no caption metric requested")
    return out


@contextmanager
def _gc_paused():
    """Pause Python's cyclic garbage collector (restored on exit, also on error).

    Scoring allocates some 100,000 lists (token lists per caption) and creates no reference cycles,
    so the collections these allocations trigger find nothing to free; but a full collection walks
    every object of the process (torch's included), about 0.2-0.4 s in a fresh process that has just
    imported torch.  Objects are freed by reference counting as usual meanwhile.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def score_captions(refs: dict, cands: dict, metrics: Iterable[str] | str = DEFAULT_METRICS,
                   per_item: bool = False, train_captions: Iterable[str] | None = None,
                   meteor_workers: int | None = None) -> dict[str, Any]:
    """Score candidate captions against references, as pycocoevalcap would (without Java).

    Args:
        refs: ``{image_id: [reference caption, ...]}`` (raw text; tokenized here).
        cands: ``{image_id: candidate caption}``; must have exactly the ids of ``refs``.
        metrics: any of ``"bleu"``, ``"meteor"``, ``"rouge_l"``, ``"cider_d"``, ``"diversity"``
            (a list or a comma-separated string).
        per_item: also return ``per_item: {metric_key: {image_id: score}}``.
        train_captions: training captions for the diversity metric ``novelty``.
        meteor_workers: METEOR's scoring processes (default: ``$VISLANG_METEOR_WORKERS``, else
            ``min(2, CPU cores)``; see :func:`vislang.metrics.text.meteor.meteor_score`); same scores for any value.

    Returns a flat dict of scores plus ``n_images`` and ``provenance`` (and ``per_item``).
    The cyclic garbage collector is paused during the call (see :func:`_gc_paused`).
    """
    with _gc_paused():
        return _score(refs, cands, metrics, per_item, train_captions, meteor_workers)


def _score(refs, cands, metrics, per_item, train_captions, meteor_workers=None) -> dict[str, Any]:
    wanted = normalize_metrics(metrics)
    ids = validate(refs, cands)
    refs_flat, cands_tok, nref = tokenize_flat(refs, cands, ids)
    out: dict[str, Any] = {}
    per: dict[str, dict] = {}
    if "bleu" in wanted or "cider_d" in wanted or "rouge_l" in wanted:
        t = image_ngrams(cands_tok, refs_flat, nref, 4)
        if "bleu" in wanted:
            corpus, pb = bleu_from_stats(bleu_stats_images(t, 4), 4)
            for k in range(4):
                out[f"Bleu_{k + 1}"] = corpus[k]
                per[f"Bleu_{k + 1}"] = dict(zip(ids, pb[:, k].tolist()))
    if "meteor" in wanted:
        try:
            from vislang.metrics.text.meteor import meteor_score
        except ImportError as exc:
            raise VislangError(f"METEOR is unavailable in this installation ({exc}); "
                               "leave 'meteor' out of the metrics") from None
        refs_tok = _group(refs_flat, nref)
        m_corpus, m_per = meteor_score(dict(zip(ids, refs_tok)), dict(zip(ids, cands_tok)), workers=meteor_workers)
        out["METEOR"] = float(m_corpus)
        per["METEOR"] = {i: float(m_per[i]) for i in ids}
    if "rouge_l" in wanted:
        r_corpus, pr = rouge_l_images(t, cands_tok, refs_flat)
        out["ROUGE_L"] = r_corpus
        per["ROUGE_L"] = dict(zip(ids, pr.tolist()))
    if "cider_d" in wanted:
        c_corpus, pc = cider_from_images(t, 4)
        out["CIDEr"] = c_corpus
        per["CIDEr"] = dict(zip(ids, pc.tolist()))
    if "diversity" in wanted:
        from vislang.metrics.text.diversity import diversity_scores

        train_tok = None
        if train_captions is not None:
            train_tok = ptb_tokenize(list(train_captions))
        div, div_per = diversity_scores(cands_tok, train_tok)
        out.update(div)
        for key, values in div_per.items():
            per[key] = dict(zip(ids, values))
    out["n_images"] = len(ids)
    out["n_references"] = len(refs_flat)
    out["provenance"] = provenance(
        metric="captions", metrics=wanted,
        tokenizer="PTB tokenization of Stanford CoreNLP 3.4.1 as pycocoevalcap runs it (pure Python)",
        reference_implementation="pycocoevalcap 1.2 (coco-caption)",
        n_images=len(ids), novelty_train_captions=(None if train_captions is None else len(train_tok)))
    if per_item:
        out["per_item"] = per
    return out
