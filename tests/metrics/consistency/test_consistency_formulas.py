"""CLIP-S / RefCLIP-S / retrieval / FOIL formulas against hand-computed values."""

import math

import pytest
import torch

from vislang.metrics.consistency import (CLIPScore, clip_s, foil_accuracy, harmonic_mean, r_precision, recall_at_k,
                                         refclip_s, retrieval_scores, scale_factor, with_prefix)

IMG = torch.tensor([[1.0, 0.0], [0.0, 2.0]])          # second row unnormalised on purpose
TXT = torch.tensor([[3.0, 4.0], [0.6, -0.8]])          # cos: 0.6 and -0.8


def test_clip_s_hessel_and_x100_with_clipping():
    s = clip_s(IMG, TXT)                                # w = 2.5
    assert s.tolist() == pytest.approx([1.5, 0.0])      # 2.5 * 0.6; max(-0.8, 0) = 0
    x = clip_s(IMG, TXT, "x100")
    assert x.tolist() == pytest.approx([60.0, 0.0])     # torchmetrics: max(100 * cos, 0)
    assert clip_s(IMG, TXT, "torchmetrics").tolist() == pytest.approx([60.0, 0.0])
    assert clip_s(IMG, TXT, "clipscore").tolist() == pytest.approx([1.5, 0.0])
    assert scale_factor(2.0) == 2.0


def test_refclip_s_harmonic_mean_hand_computed():
    img = torch.tensor([[1.0, 0.0]])
    cand = torch.tensor([[0.6, 0.8]])
    refs = [torch.tensor([[0.0, 1.0], [1.0, 0.0]])]     # cos with the candidate: 0.8, 0.6 -> max 0.8
    # CLIP-S = 1.5; RefCLIP-S = 2 * 1.5 * 0.8 / (1.5 + 0.8) = 2.4 / 2.3
    assert refclip_s(img, cand, refs).item() == pytest.approx(2.4 / 2.3)


def test_refclip_s_clips_the_max_over_references_and_zero_terms():
    img = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])
    cand = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    refs = [torch.tensor([[-1.0, 0.0], [-0.6, 0.8]]),    # best cos -0.6 -> clipped to 0 -> H-mean 0
            torch.tensor([[1.0, 0.0]])]                  # ref term 1 but CLIP-S = max(-1, 0) = 0 -> 0
    assert refclip_s(img, cand, refs).tolist() == [0.0, 0.0]
    assert harmonic_mean(torch.tensor([0.0, 2.0]), torch.tensor([0.0, 2.0])).tolist() == [0.0, 2.0]


def test_metric_corpus_mean_merge_and_both_scales():
    refs = [torch.tensor([[0.0, 1.0]]), torch.tensor([[0.6, -0.8]])]
    whole = CLIPScore(keep_items=True)
    whole.update(IMG, TXT, refs)
    a, b = CLIPScore(keep_items=True), CLIPScore(keep_items=True)
    a.update(IMG[:1], TXT[:1], refs[:1])
    b.update(IMG[1:], TXT[1:], refs[1:])
    merged = a.merge(b).compute()
    out = whole.compute()
    assert out["CLIP-S"] == pytest.approx((1.5 + 0.0) / 2)
    assert out["CLIP-S_x100"] == pytest.approx(30.0)
    # item 1: CLIP-S 1.5, ref 0.8 -> 2.4/2.3; item 2: CLIP-S 0 -> 0
    assert out["RefCLIP-S"] == pytest.approx((2.4 / 2.3) / 2)
    assert merged["CLIP-S"] == pytest.approx(out["CLIP-S"]) and merged["RefCLIP-S"] == pytest.approx(out["RefCLIP-S"])
    assert out["per_item"]["CLIP-S"] == pytest.approx([1.5, 0.0])
    assert out["n"] == 2


def test_prefix():
    assert with_prefix(["a dog"]) == ["A photo depicts a dog"]
    assert with_prefix(["a dog"], None) == ["a dog"]


def test_recall_at_k_hand():
    sim = torch.tensor([[0.9, 0.1, 0.2],
                        [0.8, 0.5, 0.1],     # partner 0.5 ranks 2nd
                        [0.7, 0.6, 0.3]])    # partner 0.3 ranks 3rd
    r = recall_at_k(sim, (1, 2, 3))
    assert r == {1: pytest.approx(1 / 3), 2: pytest.approx(2 / 3), 3: pytest.approx(1.0)}


def test_r_precision_all_others_as_distractors():
    sim = torch.tensor([[0.9, 0.1, 0.2],
                        [0.8, 0.5, 0.1],
                        [0.1, 0.2, 0.3]])
    mean, hits, k = r_precision(sim, distractors=99)      # only 2 others: all of them are distractors
    assert k == 2 and hits.tolist() == [True, False, True] and mean == pytest.approx(2 / 3)


def test_r_precision_sampling_excludes_self_and_matches_expectation():
    n, k = 201, 99
    sim = torch.eye(n)
    # each query i loses to exactly one other item (i + 1 mod n): a hit iff that item is not drawn,
    # probability 1 - k / (n - 1) = 0.505
    for i in range(n):
        sim[i, (i + 1) % n] = 2.0
    mean, hits, used = r_precision(sim, distractors=k, seed=3)
    assert used == k
    assert abs(mean - (1 - k / (n - 1))) < 0.12
    assert r_precision(sim, k, seed=3)[0] == mean                  # seeded
    assert r_precision(torch.eye(n) + 0.0, k)[0] == 1.0            # self never drawn as a distractor (ties miss)


def test_retrieval_scores_both_directions():
    img = torch.eye(4)
    txt = torch.eye(4)
    txt[3] = torch.tensor([1.0, 0.0, 0.0, 0.1])    # text 3 is closest to image 0
    r = retrieval_scores(img, txt, distractors=3)
    # image->text: image 0's best text is text 0 (cos 1 > cos(img0, txt3) = 0.995): all four hit
    assert r["recall@1_i2t"] == pytest.approx(1.0)
    # text->image: text 3 prefers image 0 (0.995) to image 3 (0.0995): 3 of 4
    assert r["recall@1_t2i"] == pytest.approx(0.75) and r["R-precision_t2i"] == pytest.approx(0.75)
    assert r["distractors"] == 3


def test_foil_accuracy():
    assert foil_accuracy(torch.tensor([0.5, 0.2, 0.3]), torch.tensor([0.4, 0.2, 0.9])) == pytest.approx(1 / 3)
    with pytest.raises(ValueError):
        foil_accuracy(torch.tensor([]), torch.tensor([]))


def test_x100_is_40_times_hessel():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(50, 8, generator=g), torch.randn(50, 8, generator=g)
    assert torch.allclose(clip_s(a, b, "x100"), 40 * clip_s(a, b), atol=1e-12)
    cos = torch.nn.functional.cosine_similarity(a.double(), b.double())
    assert torch.allclose(clip_s(a, b), 2.5 * cos.clamp(min=0), atol=1e-12)
    assert math.isclose(float((cos < 0).double().mean()) > 0, True)   # the sample exercises the clipping
