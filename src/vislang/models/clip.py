"""CLIP (Radford et al. 2021) with a ViT image encoder, in the parameter layout of OpenAI's released
checkpoints, so ``ViT-B-32.pt`` loads strictly into :class:`CLIP`.

Architecture (facts of the published model; every size is read from the state dict, as OpenAI's
``build_model`` does):

* image: ``visual.conv1`` (patch embedding, no bias; ViT-B/32: 768 x 3 x 32 x 32), a class token
  ``visual.class_embedding``, ``visual.positional_embedding`` (50 x 768 at 224 px), ``visual.ln_pre``,
  ``visual.transformer.resblocks.N`` (12 pre-LN blocks: ``ln_1``, ``attn`` = multi-head attention
  with ``in_proj_weight``/``in_proj_bias``/``out_proj``, ``ln_2``, ``mlp.c_fc``/``mlp.c_proj`` with
  QuickGELU ``x * sigmoid(1.702 x)``), ``visual.ln_post`` on the class token, ``visual.proj`` (768 x 512).
  Heads = width / 64.
* text: ``token_embedding`` (49408 x 512), ``positional_embedding`` (77 x 512), ``transformer.resblocks.N``
  (12 blocks, width 512, 8 heads, causal mask), ``ln_final``; the feature is taken at the end-of-text
  token (the largest id of each row, 49407) and multiplied by ``text_projection`` (512 x 512).
* ``logit_scale`` (a scalar, log of the inverse temperature).

Preprocessing (:func:`preprocess`): resize the short side to 224 (bicubic), centre crop 224,
scale to [0, 1], normalise with CLIP's mean (0.48145466, 0.4578275, 0.40821073) and std
(0.26862954, 0.26130258, 0.27577711).

Weights: :func:`load_clip` resolves ``clip-vit-b32`` through :mod:`vislang.weights` (a path, the
cache, or OpenAI's URL with its sha256; offline: :class:`~vislang.errors.ResourceNotFound`). The
official file is TorchScript in float16; it is read as a state dict, the three non-tensor entries
(``input_resolution``, ``context_length``, ``vocab_size``) are dropped and tensors become float32.

Tokenizer: CLIP's byte-level BPE needs OpenAI's ``bpe_simple_vocab_16e6.txt.gz``, which vislang
does not ship; :class:`BPETokenizer` reads it from a path the user gives (:func:`tokenizer_from_file`).
The text encoder also takes token ids directly.
"""

from __future__ import annotations

import dataclasses
import gzip
import html
import math
import re
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
PREFIX = "A photo depicts"
WEIGHTS_NAME = "clip-vit-b32"
#: OpenAI's release; the sha256 is the URL's directory name (their loader checks it).
VIT_B32_URL = ("https://openaipublic.azureedge.net/clip/models/"
               "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af/ViT-B-32.pt")
VIT_B32_SHA256 = "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af"
NON_TENSOR_KEYS = ("input_resolution", "context_length", "vocab_size")


@dataclasses.dataclass
class CLIPConfig:
    embed_dim: int = 512
    image_resolution: int = 224
    vision_layers: int = 12
    vision_width: int = 768
    vision_patch_size: int = 32
    context_length: int = 77
    vocab_size: int = 49408
    transformer_width: int = 512
    transformer_heads: int = 8
    transformer_layers: int = 12

    @classmethod
    def from_state_dict(cls, sd: dict[str, torch.Tensor]) -> "CLIPConfig":
        """Sizes read from a checkpoint in OpenAI's layout."""
        width = sd["visual.conv1.weight"].shape[0]
        patch = sd["visual.conv1.weight"].shape[-1]
        grid = round(math.sqrt(sd["visual.positional_embedding"].shape[0] - 1))
        count = lambda prefix: len({k[len(prefix):].split(".")[0] for k in sd if k.startswith(prefix)})  # noqa: E731
        tw = sd["ln_final.weight"].shape[0]
        return cls(embed_dim=sd["text_projection"].shape[1], image_resolution=patch * grid,
                   vision_layers=count("visual.transformer.resblocks."), vision_width=width, vision_patch_size=patch,
                   context_length=sd["positional_embedding"].shape[0], vocab_size=sd["token_embedding.weight"].shape[0],
                   transformer_width=tw, transformer_heads=tw // 64, transformer_layers=count("transformer.resblocks."))


def _param(shape: tuple[int, ...], std: float, device=None) -> nn.Parameter:
    """A normal(0, std) parameter; on the meta device only its shape (no arithmetic, which is slow there)."""
    t = torch.empty(shape, device=device)
    if t.device.type != "meta":
        t.normal_(0.0, std)
    return nn.Parameter(t)


class QuickGELU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    def __init__(self, width: int, heads: int, device=None):
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads, device=device)
        self.ln_1 = nn.LayerNorm(width, device=device)
        self.mlp = nn.Sequential(OrderedDict([("c_fc", nn.Linear(width, 4 * width, device=device)), ("gelu", QuickGELU()),
                                              ("c_proj", nn.Linear(4 * width, width, device=device))]))
        self.ln_2 = nn.LayerNorm(width, device=device)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:  # x: L x N x D
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False, attn_mask=mask)[0]
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width: int, layers: int, heads: int, device=None):
        super().__init__()
        self.resblocks = nn.ModuleList(ResidualAttentionBlock(width, heads, device) for _ in range(layers))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        for block in self.resblocks:
            x = block(x, mask)
        return x


class VisionTransformer(nn.Module):
    def __init__(self, resolution: int, patch: int, width: int, layers: int, heads: int, out_dim: int, device=None):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, patch, patch, bias=False, device=device)
        scale = width ** -0.5
        self.class_embedding = _param((width,), scale, device)
        self.positional_embedding = _param(((resolution // patch) ** 2 + 1, width), scale, device)
        self.ln_pre = nn.LayerNorm(width, device=device)
        self.transformer = Transformer(width, layers, heads, device)
        self.ln_post = nn.LayerNorm(width, device=device)
        self.proj = _param((width, out_dim), scale, device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x).flatten(2).transpose(1, 2)                       # N x grid^2 x width
        cls = self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype)
        x = self.transformer(self.ln_pre(x).transpose(0, 1)).transpose(0, 1)
        return self.ln_post(x[:, 0]) @ self.proj


class CLIP(nn.Module):
    def __init__(self, cfg: CLIPConfig = CLIPConfig(), device: str | torch.device | None = None):
        """``device="meta"`` builds the shapes only (no memory, no initialisation), e.g. to load weights with ``assign``."""
        super().__init__()
        self.config = cfg
        d = device
        self.visual = VisionTransformer(cfg.image_resolution, cfg.vision_patch_size, cfg.vision_width,
                                        cfg.vision_layers, cfg.vision_width // 64, cfg.embed_dim, d)
        self.transformer = Transformer(cfg.transformer_width, cfg.transformer_layers, cfg.transformer_heads, d)
        self.token_embedding = nn.Embedding(cfg.vocab_size, cfg.transformer_width, device=d)
        self.positional_embedding = _param((cfg.context_length, cfg.transformer_width), 0.01, d)
        self.ln_final = nn.LayerNorm(cfg.transformer_width, device=d)
        self.text_projection = _param((cfg.transformer_width, cfg.embed_dim), cfg.transformer_width ** -0.5, d)
        self.logit_scale = nn.Parameter(torch.full((), math.log(1 / 0.07), device=d))
        mask = torch.full((cfg.context_length, cfg.context_length), float("-inf")).triu_(1)
        self.register_buffer("attn_mask", mask, persistent=False)

    def encode_image(self, pixels: torch.Tensor) -> torch.Tensor:
        """Image features (not normalised) of preprocessed float pixels ``N x 3 x R x R`` (see :func:`preprocess`)."""
        return self.visual(pixels)

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        """Text features (not normalised) of token ids ``N x context_length`` (``<|endoftext|>`` = the row's largest id)."""
        L = tokens.shape[1]
        x = self.token_embedding(tokens) + self.positional_embedding[:L]
        x = self.transformer(x.transpose(0, 1), self.attn_mask[:L, :L]).transpose(0, 1)
        x = self.ln_final(x)
        return x[torch.arange(x.shape[0]), tokens.argmax(dim=-1)] @ self.text_projection

    def forward(self, pixels: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits_per_image, logits_per_text)`` = scaled cosine similarities."""
        i = F.normalize(self.encode_image(pixels), dim=-1)
        t = F.normalize(self.encode_text(tokens), dim=-1)
        logits = self.logit_scale.exp() * i @ t.t()
        return logits, logits.t()


def preprocess(images: torch.Tensor, resolution: int = 224) -> torch.Tensor:
    """uint8 ``N x 3 x H x W`` -> CLIP input: short side to ``resolution`` (bicubic, antialiased), centre crop, normalised."""
    x = images.float() / 255.0
    h, w = x.shape[-2:]
    s = resolution / min(h, w)
    nh, nw = max(resolution, round(h * s)), max(resolution, round(w * s))
    if (nh, nw) != (h, w):
        x = F.interpolate(x, size=(nh, nw), mode="bicubic", align_corners=False, antialias=True).clamp(0, 1)
    top, left = (nh - resolution) // 2, (nw - resolution) // 2
    x = x[..., top:top + resolution, left:left + resolution]
    mean = torch.tensor(CLIP_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


# ------------------------------------------------------------------------------------------------ weights
def convert_openai(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """OpenAI checkpoint -> the state dict :class:`CLIP` loads strictly (non-tensor entries dropped, float32)."""
    return {k: (v.float() if v.is_floating_point() else v) for k, v in sd.items() if k not in NON_TENSOR_KEYS}


def build(sd: dict[str, torch.Tensor]) -> CLIP:
    """A :class:`CLIP` holding ``sd`` (strict: raises on any missing/extra key or shape mismatch), built
    on the meta device first so no random initialisation is spent on 151M parameters."""
    model = CLIP(CLIPConfig.from_state_dict(sd), device="meta")
    model.load_state_dict(sd, strict=True, assign=True)
    mask = torch.full((model.config.context_length,) * 2, float("-inf")).triu_(1)
    model.register_buffer("attn_mask", mask, persistent=False)
    return model


def _check(sd: dict[str, torch.Tensor]) -> bool:
    try:
        cfg = CLIPConfig.from_state_dict(sd)
    except KeyError as exc:
        raise KeyError(f"missing {exc}") from None
    CLIP(cfg, device="meta").load_state_dict(sd, strict=True, assign=True)  # raises on any key/shape mismatch
    return True


def _register() -> None:
    from vislang import weights

    if WEIGHTS_NAME not in weights.SPECS:
        weights.SPECS[WEIGHTS_NAME] = weights.WeightSpec(
            WEIGHTS_NAME,
            (weights.WeightFile("ViT-B-32.pt", "torchscript", url=VIT_B32_URL, sha256=VIT_B32_SHA256,
                                note="OpenAI CLIP ViT-B/32 (TorchScript, float16)"),),
            convert_openai, _check)


def load_clip(name: str = "ViT-B/32", path: str | Path | None = None, device: str | torch.device = "cpu",
              download: bool | None = None) -> tuple[CLIP, dict]:
    """``(model in eval mode, provenance)``: OpenAI's ViT-B/32 from ``path`` or the weight registry."""
    from vislang import weights
    from vislang.errors import ConfigError

    if name not in ("ViT-B/32", WEIGHTS_NAME):
        raise ConfigError(f"CLIP model {name!r}: only ViT-B/32 is registered; pass its weights file")
    _register()
    loaded = weights.load(WEIGHTS_NAME, path, download=download)
    return build(loaded.state_dict).to(device).eval(), loaded.provenance()


# ---------------------------------------------------------------------------------------------- tokenizer
@lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible byte -> printable character table, in CLIP's vocabulary order: first the
    printable Latin-1 bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') mapped to themselves, then the other 68 bytes,
    in byte order, mapped to code points 256, 257, ... (so '!' is id 0 and 'a' id 64)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    table = {b: chr(b) for b in keep}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


try:  # the `regex` module has \p{L} / \p{N}; `re` approximates letters as [^\W\d_]
    import regex as _re_mod
    _PAT = _re_mod.compile(r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+",
                           _re_mod.IGNORECASE)
except ImportError:  # pragma: no cover
    _PAT = re.compile(r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[^\W\d_]+|\d|[^\s\w]+|_+",
                      re.IGNORECASE)


class BPETokenizer:
    """CLIP's tokenizer from OpenAI's merges file (``bpe_simple_vocab_16e6.txt.gz``): lower-cased,
    HTML-unescaped, whitespace-collapsed text (CLIP also runs ``ftfy.fix_text``, not applied here),
    byte-level BPE over the first 48,894 merges, vocabulary = 256 bytes, the same with ``</w>``,
    the merges, ``<|startoftext|>`` (49406) and ``<|endoftext|>`` (49407)."""

    N_MERGES = 49152 - 256 - 2

    def __init__(self, merges_path: str | Path):
        from vislang.errors import InputError

        p = Path(merges_path)
        try:
            text = gzip.open(p, "rt", encoding="utf-8").read() if p.suffix == ".gz" else p.read_text("utf-8")
        except OSError as exc:
            raise InputError(f"{p}: cannot read CLIP's BPE merges ({exc.strerror or exc}); pass bpe_simple_vocab_16e6.txt.gz") from None
        lines = text.split("\n")[1:self.N_MERGES + 1]
        merges = [tuple(m.split()) for m in lines]
        if len(merges) != self.N_MERGES or any(len(m) != 2 for m in merges):
            raise InputError(f"{p}: not CLIP's BPE merges file ({len(merges)} merge lines, {self.N_MERGES} expected)")
        chars = list(bytes_to_unicode().values())
        vocab = chars + [c + "</w>" for c in chars] + ["".join(m) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
        self.encoder = {w: i for i, w in enumerate(vocab)}
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.sot, self.eot = self.encoder["<|startoftext|>"], self.encoder["<|endoftext|>"]
        self._cache: dict[str, list[str]] = {}

    def _bpe(self, token: str) -> list[str]:
        if token in self._cache:
            return self._cache[token]
        word = list(token[:-1]) + [token[-1] + "</w>"]
        while len(word) > 1:
            rank, at = min((self.ranks.get((a, b), math.inf), i) for i, (a, b) in enumerate(zip(word, word[1:])))
            if rank == math.inf:
                break
            first, second = word[at], word[at + 1]
            merged, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == first and word[i + 1] == second:
                    merged.append(first + second)
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        self._cache[token] = word
        return word

    def encode(self, text: str) -> list[int]:
        text = " ".join(html.unescape(html.unescape(text)).split()).lower()
        b2u = bytes_to_unicode()
        ids = []
        for tok in _PAT.findall(text):
            ids.extend(self.encoder[p] for p in self._bpe("".join(b2u[b] for b in tok.encode("utf-8"))))
        return ids

    def __call__(self, texts: list[str], context_length: int = 77, truncate: bool = True) -> torch.Tensor:
        """``N x context_length`` ids: ``<|startoftext|>``, the BPE ids, ``<|endoftext|>``, zero padding."""
        out = torch.zeros(len(texts), context_length, dtype=torch.long)
        for i, t in enumerate(texts):
            ids = [self.sot] + self.encode(t) + [self.eot]
            if len(ids) > context_length:
                if not truncate:
                    from vislang.errors import InputError
                    raise InputError(f"caption {i} has {len(ids)} tokens, more than CLIP's {context_length}")
                ids = ids[:context_length - 1] + [self.eot]
            out[i, :len(ids)] = torch.tensor(ids)
        return out


def tokenizer_from_file(path: str | Path | None) -> BPETokenizer:
    """CLIP's tokenizer from the merges file; ``None`` -> a clear error (vislang does not ship it)."""
    if path is None:
        from vislang.errors import ResourceNotFound
        raise ResourceNotFound("CLIP text needs OpenAI's BPE merges: pass --clip-bpe bpe_simple_vocab_16e6.txt.gz "
                               "(from the openai/CLIP repository); vislang does not ship it")
    return BPETokenizer(path)
