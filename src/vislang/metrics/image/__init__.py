"""Image quality and diversity metrics, each following :mod:`vislang.metrics.base`'s protocol.

=====================  ===============================  ============================================
metric                 module                           result keys
=====================  ===============================  ============================================
FID                    :mod:`.fid`                      ``fid``
KID                    :mod:`.kid`                      ``kid_mean``, ``kid_std``
Inception Score        :mod:`.inception_score`          ``is_mean``, ``is_std``, ``is_classifier``
precision/recall/...   :mod:`.prdc`                     ``precision``, ``recall``, ``density``, ``coverage``
Vendi                  :mod:`.vendi_image`              ``vendi``
MS-SSIM diversity      :mod:`.msssim`                   ``msssim_diversity``
=====================  ===============================  ============================================

Reference statistics files: :mod:`.stats`; bootstrap intervals: :mod:`.bootstrap`.
Formulas, citations and tolerances against the reference packages: ``docs/image_metrics.md``.
"""

from vislang.metrics.image.bootstrap import bootstrap_ci
from vislang.metrics.image.fid import FID, FeatureMoments, fid_from_features, frechet_distance, trace_sqrt_product
from vislang.metrics.image.inception_score import InceptionScore, inception_score, is_name
from vislang.metrics.image.kid import KID, kid_from_features, kid_subset_indices
from vislang.metrics.image.msssim import MSSSIMDiversity, ms_ssim, msssim_diversity
from vislang.metrics.image.prdc import PRDC, knn_radii, prdc_from_features
from vislang.metrics.image.stats import ReferenceStats, is_stats_file, load_stats, save_stats
from vislang.metrics.image.vendi_image import VendiImage

__all__ = [
    "FID", "FeatureMoments", "fid_from_features", "frechet_distance", "trace_sqrt_product",
    "InceptionScore", "inception_score", "is_name", "KID", "kid_from_features", "kid_subset_indices",
    "MSSSIMDiversity", "ms_ssim", "msssim_diversity", "PRDC", "knn_radii", "prdc_from_features",
    "ReferenceStats", "is_stats_file", "load_stats", "save_stats", "VendiImage", "bootstrap_ci",
]
