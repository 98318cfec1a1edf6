"""Caption metrics without Java: PTB tokenization, BLEU-1..4, ROUGE-L, CIDEr-D (identical to
pycocoevalcap / coco-caption), METEOR (``meteor.py``) and caption diversity.

    from vislang.metrics.text import score_captions
    score_captions({"img1": ["a dog runs", "a brown dog"]}, {"img1": "a dog is running"})

See docs/caption_metrics.md.
"""

from __future__ import annotations

from vislang.metrics.text.score import DEFAULT_METRICS, METRICS, score_captions
from vislang.metrics.text.tokenizer import PUNCTUATIONS, ptb_tokenize, tokenize

__all__ = ["score_captions", "ptb_tokenize", "tokenize", "PUNCTUATIONS", "METRICS", "DEFAULT_METRICS",
           "BleuMetric", "RougeLMetric", "CiderDMetric"]


def __getattr__(name):  # the metric-protocol classes, imported on first use
    if name == "BleuMetric":
        from vislang.metrics.text.bleu import BleuMetric

        return BleuMetric
    if name == "RougeLMetric":
        from vislang.metrics.text.rouge import RougeLMetric

        return RougeLMetric
    if name == "CiderDMetric":
        from vislang.metrics.text.cider import CiderDMetric

        return CiderDMetric
    raise AttributeError(name)
