"""Named resizes against their references: clean-fid's PIL resizer and torch-fidelity's TF1 bilinear."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from vislang import resize as R
from vislang.errors import ConfigError, InputError

SIZES = [(32, 32), (64, 48), (300, 301), (17, 400)]


def _images(h, w, n=2, seed=0):
    g = torch.Generator().manual_seed(seed + h * 1000 + w)
    return torch.randint(0, 256, (n, 3, h, w), generator=g, dtype=torch.uint8)


@pytest.fixture(scope="module")
def tf1_reference():
    # torch_fidelity/__init__ imports torchvision (not installed); its interpolation module only needs torch.
    spec = importlib.util.find_spec("torch_fidelity")
    path = spec.submodule_search_locations[0] + "/interpolate_compat_tensorflow.py"
    mspec = importlib.util.spec_from_file_location("_tf_interp_ref", path)
    module = importlib.util.module_from_spec(mspec)
    mspec.loader.exec_module(module)
    return module.interpolate_bilinear_2d_like_tensorflow1x


@pytest.mark.parametrize("hw", SIZES)
def test_clean_matches_cleanfid(hw):
    from cleanfid.resize import build_resizer

    x = _images(*hw)
    ours = R.RESIZES["clean"](x).numpy()
    ref_fn = build_resizer("clean")
    ref = np.stack([ref_fn(img.permute(1, 2, 0).numpy()).transpose(2, 0, 1) for img in x])
    assert ours.shape == (2, 3, 299, 299) and ours.dtype == np.float32
    assert np.abs(ours - ref).max() <= 1e-5


@pytest.mark.parametrize("hw", SIZES)
def test_tf1_bilinear_matches_torch_fidelity(hw, tf1_reference):
    x = _images(*hw)
    ours = R.RESIZES["tf1-bilinear"](x)
    ref = tf1_reference(x.float(), size=(299, 299), align_corners=False)
    assert (ours - ref).abs().max().item() <= 1e-5


def test_tf1_bilinear_worked_case():
    # 2 x 2 -> 4 x 4 with align_corners=False and no half-pixel offset: src = dst * 0.5 = 0, .5, 1, 1.5;
    # the last two clamp to the last input pixel.  Rows: [0, 10] -> 0, 5, 10, 10.
    x = torch.tensor([[0, 10], [20, 40]], dtype=torch.uint8).expand(1, 3, 2, 2)
    out = R.resize_tf1_bilinear(x, (4, 4))[0, 0]
    expected = torch.tensor([[0, 5, 10, 10], [10, 17.5, 25, 25], [20, 30, 40, 40], [20, 30, 40, 40]])
    assert torch.allclose(out, expected)


def test_same_size_passes_through_and_lists_of_sizes():
    x = _images(299, 299, n=1)
    for name in ("clean", "tf1-bilinear"):
        assert torch.equal(R.RESIZES[name](x), x.float())
    mixed = [_images(40, 50, n=1)[0], _images(299, 299, n=1)[0]]
    out = R.RESIZES["tf1-bilinear"](mixed)
    assert out.shape == (2, 3, 299, 299)
    assert torch.equal(out[1], mixed[1].float())
    assert torch.equal(out[0], R.resize_tf1_bilinear(mixed[0][None])[0])


def test_bilinear_224_is_antialiased_mean_on_integer_factor():
    # An exact 2x downscale with an antialiased bilinear (triangle) filter of support 2 pixels per side:
    # a constant image stays constant and the result stays in [0, 255].
    x = torch.full((1, 3, 448, 448), 77, dtype=torch.uint8)
    out = R.RESIZES["bilinear-224"](x)
    assert out.shape == (1, 3, 224, 224)
    assert torch.allclose(out, torch.full_like(out, 77.0), atol=1e-4)


def test_bad_inputs():
    with pytest.raises(ConfigError, match="unknown resize"):
        R.get("lanczos")
    with pytest.raises(ConfigError):
        R.get("bilinear-224", allowed=("clean", "tf1-bilinear"))
    with pytest.raises(InputError, match="N x 3 x H x W"):
        R.RESIZES["clean"](torch.zeros(1, 1, 8, 8, dtype=torch.uint8))
