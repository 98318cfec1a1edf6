"""CLIP ViT-B/32 in OpenAI's state-dict layout: key/shape parity with the published architecture,
strict loading of a random checkpoint written in that format (float16, with the three non-tensor
entries of the official file), a forward pass, the registry's offline error, the BPE tokenizer."""

import gzip

import pytest
import torch

from vislang.errors import InputError, ResourceNotFound
from vislang.models import clip


def _expected_shapes(vw=768, tw=512, embed=512, layers=12):
    """ViT-B/32 as published: vision width 768 (12 layers, patch 32, 224 px -> 7 x 7 + 1 tokens),
    text width 512 (12 layers, 77 tokens, 49,408 BPE ids), embedding 512. Smaller widths give a
    checkpoint of the same layout that is cheap to write and run."""
    shapes = {"visual.class_embedding": (vw,), "visual.positional_embedding": (50, vw),
              "visual.proj": (vw, embed), "visual.conv1.weight": (vw, 3, 32, 32),
              "visual.ln_pre.weight": (vw,), "visual.ln_pre.bias": (vw,),
              "visual.ln_post.weight": (vw,), "visual.ln_post.bias": (vw,),
              "token_embedding.weight": (49408, tw), "positional_embedding": (77, tw),
              "ln_final.weight": (tw,), "ln_final.bias": (tw,), "text_projection": (tw, embed), "logit_scale": ()}
    for prefix, w in (("visual.transformer", vw), ("transformer", tw)):
        for n in range(layers):
            b = f"{prefix}.resblocks.{n}."
            shapes.update({b + "attn.in_proj_weight": (3 * w, w), b + "attn.in_proj_bias": (3 * w,),
                           b + "attn.out_proj.weight": (w, w), b + "attn.out_proj.bias": (w,),
                           b + "ln_1.weight": (w,), b + "ln_1.bias": (w,), b + "ln_2.weight": (w,), b + "ln_2.bias": (w,),
                           b + "mlp.c_fc.weight": (4 * w, w), b + "mlp.c_fc.bias": (4 * w,),
                           b + "mlp.c_proj.weight": (w, 4 * w), b + "mlp.c_proj.bias": (w,)})
    return shapes


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A random checkpoint in the official format (float16 tensors plus input_resolution/context_length/
    vocab_size), at reduced widths (vision 128, text 128, 2 layers; the loader reads sizes from the keys)."""
    g = torch.Generator().manual_seed(0)
    sd = {k: (0.02 * torch.randn(s, generator=g)).half() for k, s in _expected_shapes(128, 128, 64, 2).items()}
    sd["logit_scale"] = torch.tensor(4.6052).half()
    for k, v in (("input_resolution", 224), ("context_length", 77), ("vocab_size", 49408)):
        sd[k] = torch.tensor(v)
    path = tmp_path_factory.mktemp("clip") / "ViT-B-32.pt"
    torch.save(sd, path)
    return path, sd


def test_key_and_shape_parity_and_parameter_count():
    model = clip.CLIP(device="meta")     # shapes only: no memory, no initialisation
    got = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert got == _expected_shapes()
    # the parameter count of ViT-B/32 printed by OpenAI's CLIP notebook: 151,277,313
    assert sum(p.numel() for p in model.parameters()) == 151_277_313


@pytest.fixture(scope="module")
def loaded(checkpoint):
    return clip.load_clip(path=checkpoint[0], download=False)


def test_loads_strictly_and_runs(checkpoint, loaded):
    path, sd = checkpoint
    model, prov = loaded
    assert prov["weights_source"] == "path"
    for k, v in model.state_dict().items():
        assert torch.equal(v, sd[k].float()), k
    imgs = torch.randint(0, 256, (2, 3, 64, 80), dtype=torch.uint8)
    px = clip.preprocess(imgs)
    assert px.shape == (2, 3, 224, 224)
    tokens = torch.zeros(2, 77, dtype=torch.long)
    tokens[:, :4] = torch.tensor([[49406, 320, 1125, 49407], [49406, 539, 320, 49407]])
    with torch.no_grad():
        i, t = model.encode_image(px), model.encode_text(tokens)
        logits, logits_t = model(px, tokens)
    assert model.config.vision_layers == 2 and model.config.transformer_heads == 2 and model.config.embed_dim == 64
    assert i.shape == (2, 64) and t.shape == (2, 64) and torch.isfinite(i).all() and torch.isfinite(t).all()
    cos = torch.nn.functional.normalize(i, dim=-1) @ torch.nn.functional.normalize(t, dim=-1).t()
    assert torch.allclose(logits, 100.0 * cos, rtol=1e-3) and torch.equal(logits_t, logits.t())  # exp(4.6052) ~ 100


def test_text_feature_is_read_at_the_end_token(loaded):
    model, _ = loaded
    a = torch.zeros(1, 77, dtype=torch.long)
    a[0, :3] = torch.tensor([49406, 320, 49407])
    b = a.clone()
    b[0, 5:9] = 7                      # after <|endoftext|>: masked out by causality, not read
    with torch.no_grad():
        assert torch.allclose(model.encode_text(a), model.encode_text(b), atol=1e-5)


def test_wrong_file_and_offline_errors(tmp_path, monkeypatch):
    bad = tmp_path / "ViT-B-32.pt"
    torch.save({"visual.conv1.weight": torch.zeros(768, 3, 32, 32)}, bad)
    with pytest.raises(ResourceNotFound):
        clip.load_clip(path=bad, download=False)
    with pytest.raises(ResourceNotFound, match="clip-vit-b32"):
        clip.load_clip(download=False)          # nothing cached, no package ships it, downloads off
    with pytest.raises(ResourceNotFound, match="--clip-bpe"):
        clip.tokenizer_from_file(None)


def test_bpe_tokenizer_on_a_synthetic_merges_file(tmp_path):
    merges = ["h e", "l l", "he ll", "hell o</w>"]
    filler = [f"{chr(0x4E00 + i // 256)} {chr(0x6000 + i % 256)}" for i in range(clip.BPETokenizer.N_MERGES - len(merges))]
    path = tmp_path / "bpe.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(["#version: 0.2", *merges, *filler]) + "\n")
    tok = clip.BPETokenizer(path)
    # ids: 256 bytes ('!' = 0, 'a' = 64), the same with </w> (+256), merges from 512, then the two specials
    assert tok.sot == 49406 and tok.eot == 49407
    assert tok.encode("a") == [320]                       # CLIP's id of "a</w>"
    assert tok.encode("Hello!") == [512 + 3, 256 + 0]     # "hello</w>" (4th merge), "!</w>"
    assert tok.encode("he") == [71, 256 + 68]             # "h" + "e</w>": the merge "h e" needs a bare "e"
    ids = tok(["a", "hello"], context_length=5)
    assert ids.tolist() == [[49406, 320, 49407, 0, 0], [49406, 515, 49407, 0, 0]]
    (tmp_path / "short.txt").write_text("#v\nh e\n")
    with pytest.raises(InputError):
        clip.BPETokenizer(tmp_path / "short.txt")
