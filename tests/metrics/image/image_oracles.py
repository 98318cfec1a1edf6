"""Reference implementations for the image-metric tests, and a tiny extractor for fast pipeline tests.

pytorch-fid, clean-fid and torch-fidelity are installed (--no-deps) but their modules import
torchvision at the top, which vislang never installs.  So the reference *functions* are taken from
the installed packages' source files with ``ast`` (the function definitions only, byte for byte)
and executed with the names they use (numpy, scipy.linalg, torch, tqdm); the helpers of
torch-fidelity they call (``get_kwarg``, ``vassert``, ``vprint``) are given trivial stand-ins.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import numpy as np
import scipy.linalg
import torch


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)  # imports only the package __init__
    assert spec is not None and spec.submodule_search_locations, f"reference package {name} not installed"
    return Path(list(spec.submodule_search_locations)[0])


def load_function(package: str, module_file: str, names: list[str], namespace: dict) -> dict:
    """Execute the named top-level function definitions of ``package/module_file`` in ``namespace``."""
    path = _package_dir(package) / module_file
    tree = ast.parse(path.read_text(), filename=str(path))
    defs = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name in names]
    assert {d.name for d in defs} == set(names), f"{path}: functions {names} not all found"
    module = ast.Module(body=defs, type_ignores=[])
    exec(compile(module, str(path), "exec"), namespace)  # noqa: S102 - reference code from an installed package
    return {n: namespace[n] for n in names}


def pytorch_fid_frechet():
    """pytorch_fid.fid_score.calculate_frechet_distance (scipy.linalg.sqrtm)."""
    return load_function("pytorch_fid", "fid_score.py", ["calculate_frechet_distance"],
                         {"np": np, "linalg": scipy.linalg, "print": lambda *a, **k: None}
                         )["calculate_frechet_distance"]


def cleanfid_kernel_distance():
    """cleanfid.fid.kernel_distance (draws subsets with np.random.choice, fake side first)."""
    return load_function("cleanfid", "fid.py", ["kernel_distance"], {"np": np})["kernel_distance"]


def _get_kwarg(name, kwargs):
    return kwargs[name]


def _vassert(cond, msg):
    assert cond, msg


def torch_fidelity_kid():
    """torch_fidelity.metric_kid.kid_features_to_metric (RandomState(rng_seed), input_1 subset first)."""
    ns = {"np": np, "torch": torch, "tqdm": lambda x, **k: x, "get_kwarg": _get_kwarg, "vassert": _vassert,
          "vprint": lambda *a, **k: None, "KEY_METRIC_KID_MEAN": "kid_mean", "KEY_METRIC_KID_STD": "kid_std"}
    return load_function("torch_fidelity", "metric_kid.py", ["mmd2", "kernel_poly", "kernel_rbf", "kernel_mmd",
                                                             "kid_features_to_metric"], ns)["kid_features_to_metric"]


def torch_fidelity_isc():
    """torch_fidelity.metric_isc.isc_features_to_metric (logits -> IS mean/std over splits)."""
    ns = {"np": np, "torch": torch, "KEY_METRIC_ISC_MEAN": "is_mean", "KEY_METRIC_ISC_STD": "is_std"}
    return load_function("torch_fidelity", "metric_isc.py", ["isc_features_to_metric"], ns)["isc_features_to_metric"]


# ------------------------------------------------------------------------------------------ tiny extractor
def tiny_extractor_class():
    """A deterministic 24-d extractor (8 x 8 average pool, fixed random projection, ReLU) with 10 logits.

    Subclasses vislang.features.Extractor so the real caching / sharding code path is exercised.
    """
    import vislang.features as F

    class Tiny(F.Extractor):
        name = "test-tiny"
        dim = 24
        resizes = ("bilinear-224",)
        num_classes = 10

        def __init__(self, resize=None, device="cpu", batch_size=16, weights=None, **_):
            super().__init__(resize, device, batch_size)
            g = torch.Generator().manual_seed(1234)
            self.proj = torch.randn(3 * 4 * 4, self.dim, generator=g, dtype=torch.float64) / 7.0
            self.w = torch.randn(self.dim, self.num_classes, generator=g, dtype=torch.float64)
            self.weights_provenance = {"weights_sha256": "tiny-test-weights", "weights_source": "test"}

        @property
        def has_logits(self):
            return True

        def prepare(self, chunk):
            x = chunk if isinstance(chunk, torch.Tensor) else torch.stack(list(chunk))
            return torch.nn.functional.adaptive_avg_pool2d(x.double() / 255.0, 4).reshape(len(x), -1)

        def embed(self, x):
            return torch.relu(x @ self.proj).float()

        def head(self, feats, bias):
            return (feats.double() @ self.w).float()

    return Tiny


def register_tiny():
    import vislang.features as F

    F.register("test-tiny", tiny_extractor_class())
