"""BLEU, ROUGE-L and CIDEr-D on tokenized captions: hand-worked values, pycocoevalcap's scorers (no
Java needed on tokenized input) and the metric protocol (update / merge / compute)."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from text_oracle import coco_scores_tokenized

from vislang.metrics.text.bleu import BleuMetric, bleu_scores
from vislang.metrics.text.cider import CiderDMetric, cider_scores
from vislang.metrics.text.rouge import RougeLMetric, lcs_length, rouge_l_image, rouge_l_scores
from vislang.metrics.text.score import score_captions

WORDS = "a the dog cat man woman runs sits on in grass red blue ball with and".split()


def random_corpus(seed: int, n: int = 60, odd: bool = False):
    rng = random.Random(seed)
    # odd: also empty references, tokens holding a non-breaking space (split by BLEU/CIDEr, not by
    # ROUGE-L) and captions longer than 63 tokens (ROUGE-L's big-integer path)
    words = WORDS + ["5\u00a07/8"] if odd else WORDS
    hi = 80 if odd else 12

    def sent(lo=0):
        return " ".join(rng.choice(words) for _ in range(rng.randint(lo, hi)))

    refs = [[sent(0 if odd else 1) for _ in range(rng.randint(1, 5))] for _ in range(n)]
    cands = [sent() for _ in range(n)]  # includes empty and one-word candidates
    return refs, cands


def test_bleu_hand_worked():
    # candidate "the cat sat on the mat", reference "the cat is on the mat":
    # 1-grams 5/6 (the x2, cat, on, mat), 2-grams 3/5 (the cat, on the, the mat), 3-grams 1/4, 4-grams 0/3;
    # equal lengths -> no brevity penalty.
    corpus, per = bleu_scores([["the cat is on the mat"]], ["the cat sat on the mat"])
    p = [5 / 6, 3 / 5, 1 / 4]  # (exactly: (c + 1e-15) / (g + 1e-9), hence rel=1e-9)
    assert corpus[0] == pytest.approx(p[0], rel=1e-9)
    assert corpus[1] == pytest.approx(math.sqrt(p[0] * p[1]), rel=1e-9)
    assert corpus[2] == pytest.approx((p[0] * p[1] * p[2]) ** (1 / 3), rel=1e-9)
    assert corpus[3] < 1e-3  # 0 matches: (1e-15 / 3) ** (1/4) times the rest
    # brevity penalty: candidate of 2 words, closest reference 4 words -> exp(1 - 4/2)
    corpus, _ = bleu_scores([["a b c d", "a b c d e f g"]], ["a b"])
    assert corpus[0] == pytest.approx(math.exp(1 - 2), rel=1e-9)


def test_rouge_hand_worked_and_lcs():
    # LCS("a b c d e", "a c e f") = 3; P = 3/4, R = 3/5; beta = 1.2
    P, R, b2 = 3 / 4, 3 / 5, 1.2 ** 2
    assert rouge_l_image("a c e f", ["a b c d e"]) == pytest.approx((1 + b2) * P * R / (R + b2 * P), rel=1e-12)
    # max precision and max recall are taken over references separately
    P, R = max(2 / 4, 1 / 4), max(2 / 2, 1 / 8)
    assert rouge_l_image("x y z w", ["x y", "z a b c d e f g"]) == pytest.approx((1 + b2) * P * R / (R + b2 * P))
    assert rouge_l_image("", ["a dog"]) == 0.0
    assert rouge_l_image("", ["a dog", ""]) == 1.0  # "".split(" ") == [""] matches an empty reference
    rng = random.Random(1)
    for _ in range(300):
        a = [rng.choice("abcd") for _ in range(rng.randint(0, 70))]
        b = [rng.choice("abcd") for _ in range(rng.randint(0, 70))]
        L = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
        for i in range(1, len(a) + 1):
            for j in range(1, len(b) + 1):
                L[i][j] = L[i - 1][j - 1] + 1 if a[i - 1] == b[j - 1] else max(L[i - 1][j], L[i][j - 1])
        assert lcs_length(a, b) == L[len(a)][len(b)]


@pytest.mark.parametrize("seed,odd", [(0, False), (1, False), (2, True), (3, True)])
def test_random_corpora_equal_pycocoevalcap_scorers(seed, odd):
    refs, cands = random_corpus(seed, odd=odd)
    gts = {i: r for i, r in enumerate(refs)}
    res = {i: [c] for i, c in enumerate(cands)}
    corpus, per = coco_scores_tokenized(gts, res)
    b, pb = bleu_scores(refs, cands)
    r, pr = rouge_l_scores(refs, cands)
    c, pc = cider_scores(refs, cands)
    for k in range(4):
        assert abs(b[k] - corpus[f"Bleu_{k + 1}"]) <= 1e-12
        assert np.max(np.abs(pb[:, k] - np.array([per[f"Bleu_{k + 1}"][i] for i in gts]))) <= 1e-12
    assert abs(r - corpus["ROUGE_L"]) <= 1e-12
    assert np.max(np.abs(pr - np.array([per["ROUGE_L"][i] for i in gts]))) <= 1e-12
    assert abs(c - corpus["CIDEr"]) <= 1e-12
    assert np.max(np.abs(pc - np.array([per["CIDEr"][i] for i in gts]))) <= 1e-12


def test_metric_objects_merge_like_one_pass():
    refs_l, cands_l = random_corpus(5, n=40)
    refs = {f"im{i}": r for i, r in enumerate(refs_l)}
    cands = {f"im{i}": c for i, c in enumerate(cands_l)}
    whole = score_captions(refs, cands, per_item=True)
    ids = list(refs)
    parts = [ids[:13], ids[13:30], ids[30:]]
    for cls in (BleuMetric, RougeLMetric, CiderDMetric):
        shards = []
        for part in parts:
            m = cls()
            m.update({i: refs[i] for i in part[:5]}, {i: cands[i] for i in part[:5]})
            m.update({i: refs[i] for i in part[5:]}, {i: cands[i] for i in part[5:]})
            shards.append(m)
        merged = shards[0].merge(shards[1]).merge(shards[2])
        out = merged.compute()
        for key, val in out.items():
            if key == "per_item":
                continue
            assert abs(val - whole[key]) <= 1e-12, (cls.__name__, key)
            assert max(abs(out["per_item"][key][i] - whole["per_item"][key][i]) for i in ids) <= 1e-12
        merged.reset()
        with pytest.raises(Exception):
            merged.merge(object())
