"""Caption metrics without Java: PTB tokenization, BLEU-1..4, ROUGE-L, CIDEr-D (identical to
pycocoevalcap / coco-caption), METEOR (``meteor.py``) and caption diversity.

    from vislang.metrics.text import score_captions
    score_captions({"img1": ["a dog runs", "a brown dog"]}, {"img1": "a dog is running"})

See docs/caption_metrics.md.
"""

from __future__ import annotations

import importlib

__all__ = ["score_captions", "ptb_tokenize", "tokenize", "PUNCTUATIONS", "METRICS", "DEFAULT_METRICS",
           "BleuMetric", "RougeLMetric", "CiderDMetric"]


#: public name -> the submodule that defines it; imported on first use, so that importing one
#: metric module (e.g. ``vislang.metrics.text.meteor`` in a METEOR worker) does not load the others
_LAZY = {"score_captions": "score", "METRICS": "score", "DEFAULT_METRICS": "score", "ptb_tokenize": "tokenizer",
         "tokenize": "tokenizer", "PUNCTUATIONS": "tokenizer", "BleuMetric": "bleu", "RougeLMetric": "rouge",
         "CiderDMetric": "cider"}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f"vislang.metrics.text.{_LAZY[name]}"), name)
    raise AttributeError(name)

