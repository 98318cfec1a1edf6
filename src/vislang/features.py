"""Named feature extractors and the on-disk feature cache.

``create(name, **options)`` returns an extractor: a callable that maps a ``uint8`` N x 3 x H x W RGB
batch (or a list of 3 x H x W images of differing sizes) to float32 features [N, dim].  Each extractor
owns its resize and normalisation and names them, because FID moves with the resize:

=================  =====  ==========================  =============================================
name               dim    resizes (default first)     network input
=================  =====  ==========================  =============================================
``inception-tf``   2048   ``clean``, ``tf1-bilinear``  299 x 299, ``(x - 128) / 128`` (TF graph's Sub/Mul)
``mobilenet-v2``   1280   ``bilinear-224``             224 x 224, ImageNet mean / std on ``x / 255``
=================  =====  ==========================  =============================================

``extract(ext, source)`` runs an extractor over an image source and caches the result under
``$VISLANG_HOME/features``, keyed by (source content hash, extractor, weights hash, resize), so a
reference set is extracted once.  Other areas may add extractors with :func:`register`.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch

from vislang.errors import ConfigError, InputError
from vislang.resize import Resize
from vislang.resize import get as get_resize

CACHE_VERSION = 1
Batch = torch.Tensor | Sequence[torch.Tensor]


class Extractor:
    """Base class: resize -> normalise -> backbone, in chunks of ``batch_size`` under inference mode."""

    name: str = ""
    dim: int = 0
    resizes: tuple[str, ...] = ()
    num_classes: int = 0

    def __init__(self, resize: str | None = None, device: str | torch.device = "cpu", batch_size: int = 32):
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        self._resize: Resize = get_resize(resize or self.resizes[0], self.resizes)
        self.device = torch.device(device)
        self.batch_size = int(batch_size)
        self.weights_provenance: dict[str, Any] = {}

    # -- what subclasses provide ------------------------------------------------------------------
    def normalize(self, x: torch.Tensor) -> torch.Tensor:  # float [0, 255] at input size -> network input
        raise NotImplementedError

    def embed(self, x: torch.Tensor) -> torch.Tensor:  # network input -> [N, dim]
        raise NotImplementedError

    def head(self, feats: torch.Tensor, bias: bool | None) -> torch.Tensor:  # [N, dim] -> [N, classes]
        raise NotImplementedError

    @property
    def has_logits(self) -> bool:
        return False

    # -- public API ---------------------------------------------------------------------------------
    @property
    def resize(self) -> str:
        return self._resize.name

    @property
    def input_size(self) -> tuple[int, int]:
        return self._resize.size

    @property
    def weights_sha256(self) -> str:
        return self.weights_provenance.get("weights_sha256", "")

    def __call__(self, batch: Batch) -> torch.Tensor:
        """Features, float32 [N, dim], on ``self.device``."""
        return self.features_and_logits(batch, want_logits=False)[0]

    def logits(self, batch: Batch, bias: bool | None = None) -> torch.Tensor:
        """Class logits [N, num_classes] (see the subclass for ``bias``)."""
        return self.features_and_logits(batch, want_logits=True, bias=bias)[1]

    def features_and_logits(self, batch: Batch, want_logits: bool = True, bias: bool | None = None
                            ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if want_logits and not self.has_logits:
            raise ConfigError(f"{self.name}: these weights ({self.weights_provenance.get('weights_file', '?')}) "
                              f"have no classifier logits; create the extractor with weights that include them")
        chunks = _chunks(batch, self.batch_size)
        feats, logits = [], []
        with torch.inference_mode(), _full_fp32(self.device):
            for chunk in chunks:
                x = self.prepare(chunk)
                f = self.embed(x).float()
                feats.append(f)
                if want_logits:
                    logits.append(self.head(f, bias).float())
        if not feats:
            empty = torch.zeros(0, self.dim, device=self.device)
            return empty, (torch.zeros(0, self.num_classes, device=self.device) if want_logits else None)
        return torch.cat(feats), (torch.cat(logits) if want_logits else None)

    def prepare(self, chunk: Batch) -> torch.Tensor:
        """Resize (on the CPU when the resize needs it) and normalise one chunk: the network input."""
        if isinstance(chunk, torch.Tensor) and not self._resize.cpu_only:
            chunk = chunk.to(self.device)
        x = self._resize(chunk).to(self.device)
        return self.normalize(x)

    def provenance(self) -> dict[str, Any]:
        return {"extractor": self.name, "dim": self.dim, "resize": self.resize,
                "input_size": list(self.input_size), **self.weights_provenance, **self._extra_provenance()}

    def _extra_provenance(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} dim={self.dim} resize={self.resize} device={self.device}>"


@contextlib.contextmanager
def _full_fp32(device: torch.device) -> Iterator[None]:
    """On CUDA, turn off TF32 convolutions / matmuls while extracting (cuDNN allows TF32 convolutions by
    default, which moves Inception features by about 1e-3 relative); restore the settings afterwards."""
    if device.type != "cuda":
        yield
        return
    saved = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def _chunks(batch: Batch, size: int) -> Iterator[Batch]:
    if isinstance(batch, torch.Tensor):
        if batch.dim() == 3:
            batch = batch.unsqueeze(0)
        if batch.dim() != 4 or batch.shape[1] != 3:
            raise InputError(f"images must be N x 3 x H x W (RGB), got shape {tuple(batch.shape)}")
        if batch.dtype != torch.uint8:
            raise InputError(f"images must be uint8 tensors (values 0..255), got {batch.dtype}")
    elif isinstance(batch, (list, tuple)):
        for img in batch:
            if not isinstance(img, torch.Tensor) or img.dtype != torch.uint8:
                raise InputError("a list of images must hold uint8 3 x H x W tensors")
    else:
        raise InputError(f"images must be a uint8 tensor or a list of them, got {type(batch).__name__}")
    for i in range(0, len(batch), size):
        yield batch[i:i + size]


# ------------------------------------------------------------------------------------------ extractors
class InceptionTF(Extractor):
    """The TF 2015-12-05 FID Inception-v3: pool3 (2048-d) features; 1008-way logits when the weights have them.

    ``logits(batch)`` returns ``pool3 @ W.T`` *without* the classifier bias by default, the logits the
    Inception Score has always used (openai's ``inception_score.py`` multiplies pool3 by the softmax
    layer's weight only; StyleGAN's metrics pass ``no_output_bias=True``; torch-fidelity calls them
    ``logits_unbiased``).  ``bias=True`` adds the bias (the graph's own softmax input).
    """

    name = "inception-tf"
    dim = 2048
    resizes = ("clean", "tf1-bilinear")
    num_classes = 1008

    def __init__(self, resize: str | None = None, device="cpu", batch_size: int = 32, weights=None,
                 download: bool | None = None, need_logits: bool = False, channels_last: bool = True):
        super().__init__(resize, device, batch_size)
        from vislang import weights as W
        from vislang.models.backbones import inception

        loaded = W.load("inception-tf", weights, download=download, need_logits=need_logits)
        self.weights_provenance = loaded.provenance()
        self.model = inception.build(loaded.state_dict, fold=True).to(self.device)
        self.channels_last = channels_last
        if channels_last:  # about 1.8x faster on CPU (oneDNN), see docs/benchmarks.md
            self.model = self.model.to(memory_format=torch.channels_last)

    @property
    def has_logits(self) -> bool:
        return self.model.has_logits

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - 128.0) / 128.0  # the graph's Sub(128), Mul(1/128): [0, 255] -> [-1, 0.9921875]
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.embed(x)

    def head(self, feats: torch.Tensor, bias: bool | None) -> torch.Tensor:
        out = feats @ self.model.fc.weight.t()
        return out + self.model.fc.bias if bias else out

    def _extra_provenance(self) -> dict[str, Any]:
        extra = {"normalization": "(x-128)/128", "layer": "pool3"}
        return {**extra, "logits": "pool3 @ W (no bias)"} if self.has_logits else extra


IMAGENET_MEAN = (0.485, 0.456, 0.406)  # torchvision's ImageNet normalisation constants
IMAGENET_STD = (0.229, 0.224, 0.225)


class MobileNetV2Extractor(Extractor):
    """torchvision's ImageNet MobileNetV2: 1280-d global-average-pooled features and 1000 ImageNet logits."""

    name = "mobilenet-v2"
    dim = 1280
    resizes = ("bilinear-224",)
    num_classes = 1000

    def __init__(self, resize: str | None = None, device="cpu", batch_size: int = 32, weights=None,
                 download: bool | None = None, need_logits: bool = False):
        super().__init__(resize, device, batch_size)
        from vislang import weights as W
        from vislang.models.backbones import mobilenet_v2

        loaded = W.load("mobilenet-v2", weights, download=download)
        self.weights_provenance = loaded.provenance()
        self.model = mobilenet_v2.build(loaded.state_dict).to(self.device)
        self._mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1) * 255.0
        self._std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1) * 255.0

    @property
    def has_logits(self) -> bool:
        return True

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self._mean) / self._std  # (x / 255 - mean) / std

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.embed(x)

    def head(self, feats: torch.Tensor, bias: bool | None) -> torch.Tensor:
        lin = self.model.classifier[1]
        out = feats @ lin.weight.t()
        return out if bias is False else out + lin.bias

    def _extra_provenance(self) -> dict[str, Any]:
        return {"normalization": "imagenet-mean-std", "layer": "global-avg-pool"}


_REGISTRY: dict[str, Callable[..., Extractor]] = {
    "inception-tf": InceptionTF,
    "mobilenet-v2": MobileNetV2Extractor,
}


def register(name: str, factory: Callable[..., Extractor]) -> None:
    """Add an extractor factory (called with the options of :func:`create`)."""
    _REGISTRY[name] = factory


def available() -> list[str]:
    return sorted(_REGISTRY)


def create(name: str, resize: str | None = None, device: str | torch.device = "cpu", batch_size: int = 32,
           weights=None, **options: Any) -> Extractor:
    """Build extractor ``name``.  ``resize``: one of the extractor's named resizes (default its first);
    ``weights``: an explicit weight file (else the registry's search, see :mod:`vislang.weights`);
    other options: ``download`` (bool), ``need_logits`` (prefer / require weights with logits)."""
    if name not in _REGISTRY:
        raise ConfigError(f"unknown extractor {name!r}; choose one of: {', '.join(available())}")
    return _REGISTRY[name](resize=resize, device=device, batch_size=batch_size, weights=weights, **options)


# -------------------------------------------------------------------------------------- sources, cache
class TensorSource:
    """A uint8 N x 3 x H x W tensor as an image source (same protocol as ``vislang.data.images``)."""

    def __init__(self, images: torch.Tensor):
        if images.dim() != 4 or images.shape[1] != 3 or images.dtype != torch.uint8:
            raise InputError(f"an image tensor must be uint8 N x 3 x H x W, got {images.dtype} {tuple(images.shape)}")
        self.images = images.cpu().contiguous()
        self.names = [str(i) for i in range(len(images))]

    def __len__(self) -> int:
        return len(self.images)

    def iter_batches(self, batch_size: int, start: int = 0, stop: int | None = None) -> Iterator[torch.Tensor]:
        stop = len(self) if stop is None else min(stop, len(self))
        for i in range(start, stop, batch_size):
            yield self.images[i:min(i + batch_size, stop)]

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.images[index]

    def content_hash(self) -> str:
        h = hashlib.sha256(f"uint8{tuple(self.images.shape)}".encode())
        h.update(self.images.numpy().tobytes())
        return h.hexdigest()


def as_source(source: Any):
    """An image source: objects with ``iter_batches`` pass through; uint8 tensors are wrapped; anything
    else goes to ``vislang.data.images.open_images`` (paths, arrays, ...)."""
    if hasattr(source, "iter_batches") and hasattr(source, "content_hash"):
        return source
    if isinstance(source, torch.Tensor) and source.dtype == torch.uint8 and source.dim() == 4 and source.shape[1] == 3:
        return TensorSource(source)
    from vislang.data.images import open_images

    return open_images(source)


def cache_key(source_hash: str, ext: Extractor) -> str:
    blob = json.dumps({"v": CACHE_VERSION, "source": source_hash, "extractor": ext.name,
                       "weights": ext.weights_sha256, "resize": ext.resize}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def _cache_path(key: str, rank: int, world_size: int):
    from vislang.fileio import cache_dir

    suffix = "" if world_size == 1 else f"-shard{rank}of{world_size}"
    return cache_dir("features") / f"{key}{suffix}.npz"


def _read_cache(path, want_logits: bool, rank: int = 0, world_size: int = 1):
    if not path.is_file():
        return None
    try:
        with np.load(path) as z:
            feats = z["features"]
            logits = z["logits"] if "logits" in z.files else None
    except Exception:  # noqa: BLE001 - an unreadable cache entry is recomputed
        return None
    if want_logits and logits is None:
        return None
    if world_size > 1:
        feats = feats[rank::world_size]
        logits = logits[rank::world_size] if logits is not None else None
    return feats, logits


def _write_cache(path, feats: np.ndarray, logits: np.ndarray | None) -> None:
    from vislang.fileio import atomic_write

    buf = io.BytesIO()
    arrays = {"features": feats} if logits is None else {"features": feats, "logits": logits}
    np.savez(buf, **arrays)
    with atomic_write(path, "wb") as fh:
        fh.write(buf.getvalue())


def _shard_batches(src, batch_size: int, rank: int, world_size: int) -> Iterator[Batch]:
    """Batches of the images whose index i satisfies i % world_size == rank, in index order.

    Sources with ``__getitem__`` (``vislang.data.images.ImageSource``) read only the shard's images;
    others are streamed whole and the shard's rows kept."""
    if world_size > 1 and hasattr(src, "__getitem__"):
        idx = list(range(rank, len(src), world_size))
        for i in range(0, len(idx), batch_size):
            items = [src[j] for j in idx[i:i + batch_size]]
            same = all(t.shape == items[0].shape for t in items)
            yield torch.stack(items) if same else items
        return
    offset = 0
    for batch in src.iter_batches(batch_size * world_size):
        n = len(batch)
        if world_size == 1:
            yield batch
        else:
            first = (rank - offset) % world_size
            if isinstance(batch, torch.Tensor):
                part = batch[first::world_size]
            else:
                part = [batch[j] for j in range(first, n, world_size)]
            if len(part):
                yield part
        offset += n


def extract(ext: Extractor, source: Any, batch_size: int | None = None, cache: bool = True, rank: int = 0,
            world_size: int = 1, want_logits: bool = False):
    """Features of every image of ``source`` (or of the strided shard ``i % world_size == rank``), as a
    float64 array [N, dim]; ``(features, logits)`` when ``want_logits``.  Cached on disk unless ``cache``
    is false; a full-set cache entry also serves every shard."""
    if world_size < 1 or not 0 <= rank < world_size:
        raise ConfigError(f"rank {rank} / world_size {world_size}: need 0 <= rank < world_size")
    if want_logits and not ext.has_logits:
        ext.logits(torch.zeros(0, 3, 8, 8, dtype=torch.uint8))  # raises the extractor's own error
    src = as_source(source)
    n = len(src)
    n_shard = len(range(rank, n, world_size))
    key = cache_key(src.content_hash(), ext) if cache else None
    if key is not None:
        hit = _read_cache(_cache_path(key, 0, 1), want_logits, rank, world_size)
        if hit is None and world_size > 1:
            hit = _read_cache(_cache_path(key, rank, world_size), want_logits)
        if hit is not None and len(hit[0]) == n_shard:
            feats, logits = hit
            return _result(feats, logits, want_logits)
    from vislang.progress import progress

    bs = batch_size or ext.batch_size
    feats_parts, logit_parts = [], []
    bar = progress(total=n_shard, desc=f"{ext.name} features", unit="img")
    try:
        for batch in _shard_batches(src, bs, rank, world_size):
            f, lg = ext.features_and_logits(batch, want_logits=want_logits)
            feats_parts.append(f.cpu().numpy())
            if lg is not None:
                logit_parts.append(lg.cpu().numpy())
            bar.update(len(f))
    finally:
        bar.close()
    feats = np.concatenate(feats_parts) if feats_parts else np.zeros((0, ext.dim), np.float32)
    logits = (np.concatenate(logit_parts) if logit_parts else np.zeros((0, ext.num_classes), np.float32)) \
        if want_logits else None
    if len(feats) != n_shard:
        raise InputError(f"source yielded {len(feats)} images for this shard, expected {n_shard}")
    if key is not None:
        _write_cache(_cache_path(key, rank, world_size), feats, logits)
    return _result(feats, logits, want_logits)


def _result(feats: np.ndarray, logits: np.ndarray | None, want_logits: bool):
    feats = np.asarray(feats, dtype=np.float64)
    if want_logits:
        return feats, np.asarray(logits, dtype=np.float64)
    return feats
