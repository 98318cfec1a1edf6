"""MobileNetV2 in torchvision's state-dict layout: key parity and ImageNet classes of sample photos."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import vislang.features as F
from vislang import weights as W
from vislang.models.backbones import mobilenet_v2 as M


@pytest.fixture(scope="module")
def shipped():
    return torch.load(W.package_file(*W.MOBILENET_FILES[0].package), map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def ext():
    return F.create("mobilenet-v2", batch_size=8)


def test_state_dict_parity(shipped):
    ours = M.MobileNetV2().state_dict()
    assert list(ours) == list(shipped)  # same keys in the same order
    assert all(ours[k].shape == shipped[k].shape for k in shipped)
    assert len(shipped) == 314
    M.build(shipped)  # strict load


def test_unknown_key_is_refused(shipped):
    bad = dict(shipped)
    bad["features.19.0.weight"] = torch.zeros(1)
    with pytest.raises(RuntimeError, match="Unexpected key"):
        M.build(bad)


def _photo(name: str) -> torch.Tensor:
    import skimage.data

    img = getattr(skimage.data, name)()[..., :3]
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)


# ImageNet-1k class indices (the standard synset order): 281-285 domestic cats (tabby, tiger cat,
# Persian, Siamese, Egyptian cat); 504 coffee mug, 967 espresso, 968 cup.
CATS = {281, 282, 283, 284, 285}
COFFEE = {504, 967, 968}


def test_sample_photos_get_sensible_classes(ext):
    images = [_photo("coffee"), _photo("chelsea")]  # different sizes: a list
    logits = ext.logits(images)
    assert logits.shape == (2, 1000)
    top5 = logits.topk(5, dim=1).indices.tolist()
    assert top5[0][0] in COFFEE and COFFEE & set(top5[0])
    assert top5[1][0] in CATS and len(CATS & set(top5[1])) >= 2


def test_features_are_pooled_trunk_and_logits_are_its_linear_map(ext):
    x = _photo("chelsea")[None]
    feats, logits = ext.features_and_logits(x)
    assert feats.shape == (1, 1280) and (feats >= 0).all()  # ReLU6 before the pool
    assert feats.max() <= 6.0
    lin = ext.model.classifier[1]
    assert torch.allclose(logits, feats @ lin.weight.t() + lin.bias, atol=1e-5)
    assert ext.provenance()["weights_file_sha256"].startswith("b0353104")
