"""Image-text consistency: CLIP-S / RefCLIP-S (both scale conventions), R-precision and recall@k,
FOIL accuracy, and ground-truth checks on the built-in scenes. Scores take embeddings; the encoders
live in :mod:`vislang.models` (the dual encoder, CLIP ViT-B/32). See docs/consistency.md."""

from vislang.metrics.consistency.clipscore import (PREFIX, SCALES, W_HESSEL, CLIPScore, clip_s, harmonic_mean,
                                                    ref_term, refclip_s, scale_factor, with_prefix)
from vislang.metrics.consistency.foil import foil_accuracy, scene_foils
from vislang.metrics.consistency.retrieval import r_precision, recall_at_k, retrieval_scores
from vislang.metrics.consistency.scene_checks import caption_truthfulness, truth_share, wrong_caption

__all__ = ["PREFIX", "SCALES", "W_HESSEL", "CLIPScore", "clip_s", "harmonic_mean", "ref_term", "refclip_s",
           "scale_factor", "with_prefix", "foil_accuracy", "scene_foils", "r_precision", "recall_at_k",
           "retrieval_scores", "caption_truthfulness", "truth_share", "wrong_caption"]
