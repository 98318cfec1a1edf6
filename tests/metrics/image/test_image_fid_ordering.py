"""FID ordering sanity on Fashion-MNIST with a cheap extractor (the CI stand-in for benchmarks/fid_ordering.py):

    FID(real A, real B) < FID(real A, B + noise sd 8) < FID(real A, B + noise sd 16)
                        < FID(real A, one image of B repeated)

Same protocol as the benchmark (which runs it with ``inception-tf`` on Fashion-MNIST and the scenes):
A, B = 128 disjoint test images each (seed-0 permutation), Gaussian noise of sd 8 / 16 grey levels,
the repeated-image FID for every image of B.  The features are MobileNetV2's (the shipped
torchvision ImageNet weights) on 64 x 64 inputs instead of 224 x 224, which makes its 512 images cost a
few CPU seconds; on this dataset the ordering holds with wide margins (measured at n = 128:
363 < 540 < 697 < 1,260 for the *most typical* repeated image, median 1,594; at n = 256:
268 < 417 < 580 < 1,234; docs/benchmarks.md).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import vislang.features as F
from vislang.data import mnist as M
from vislang.metrics.image import fid_from_features
from vislang.resize import Resize, resize_bilinear_aa

N = 128


def _noised(images: torch.Tensor, sigma: float, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (images.float() + torch.randn(images.shape, generator=g) * sigma).round().clamp(0, 255).to(torch.uint8)


@pytest.fixture(scope="module")
def fashion_sets():
    folder = M.FASHION_MNIST_DIRS[0]
    if not (folder / "t10k-images-idx3-ubyte.gz").exists():
        # the README's test command installs it; a missing dataset must fail the run, not hide the check
        pytest.fail(f"{folder}: dataset-fashion-mnist not installed (apt-get install dataset-fashion-mnist)")
    x = M.load_fashion_mnist("test")[0]
    x = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    perm = torch.from_numpy(np.random.default_rng(0).permutation(len(x))[: 2 * N])
    return x[perm[:N]], x[perm[N:]]


@pytest.fixture(scope="module")
def features(fashion_sets):
    ext = F.create("mobilenet-v2", batch_size=128)
    ext._resize = Resize("bilinear-64", (64, 64), resize_bilinear_aa)  # cheap input size for CI
    a, b = fashion_sets
    with torch.inference_mode():
        out = {"A": ext(a), "B": ext(b), "sd8": ext(_noised(b, 8.0, 1)), "sd16": ext(_noised(b, 16.0, 4))}
    return {k: v.double().numpy() for k, v in out.items()}


def test_fid_orders_real_noise_and_collapse(features):
    fa, fb = features["A"], features["B"]
    # n copies of x have zero covariance: FID(A, copies of x) = |mu_A - x|^2 + tr(Sigma_A) exactly;
    # the closed form is checked against the general route (streaming sums: rounding ~1e-8) for one image.
    repeated = ((fb - fa.mean(0)) ** 2).sum(1) + np.trace(np.cov(fa, rowvar=False))
    assert fid_from_features(fa, np.repeat(fb[:1], N, axis=0)) == pytest.approx(repeated[0], rel=1e-6)

    real = fid_from_features(fa, fb)
    light = fid_from_features(fa, features["sd8"])
    heavy = fid_from_features(fa, features["sd16"])
    assert real < light < heavy < np.median(repeated)
    # the stronger form: even the image most typical of A, repeated, is farther than heavy noise
    assert heavy < repeated.min()
    # and each step is a clear one, not a rounding accident (measured ratios 1.49, 1.29, 1.81)
    assert light > 1.2 * real and heavy > 1.2 * light and repeated.min() > 1.5 * heavy
