"""Caption diversity measures against hand-worked values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vislang.metrics.text.bleu import SMALL, TINY
from vislang.metrics.text.diversity import diversity_scores
from vislang.metrics.text.score import score_captions


def test_distinct_vocab_length_novelty():
    caps = ["a dog runs", "a dog sits", "a cat"]
    out, per = diversity_scores(caps, train_tok=["a cat", "two birds"])
    # unigrams: a a a dog dog runs sits cat = 8 total, 5 distinct
    assert out["distinct_1"] == pytest.approx(5 / 8)
    # bigrams: (a dog) x2, (dog runs), (dog sits), (a cat) = 5 total, 4 distinct
    assert out["distinct_2"] == pytest.approx(4 / 5)
    assert out["vocab_size"] == 5
    assert out["mean_length"] == pytest.approx(8 / 3)
    assert out["novelty"] == pytest.approx(2 / 3)
    assert per["novel"] == [1.0, 1.0, 0.0]


def _bleu4(correct, guess, testlen, reflen):
    b = 1.0
    for c, g in zip(correct, guess):
        b *= (c + TINY) / (g + SMALL)
    b = b ** 0.25
    r = (testlen + TINY) / (reflen + SMALL)
    return b * math.exp(1 - 1 / r) if r < 1 else b


def test_self_bleu_hand_worked():
    caps = ["a b c d", "a b c e", "x y"]
    out, per = diversity_scores(caps)
    # caption 0 vs {1, 2}: 1-grams a b c match (3/4), 2-grams ab bc (2/3), 3-grams abc (1/2), 4-grams 0/1;
    # closest other length 4 -> no penalty.  Caption 1 symmetric.  Caption 2 vs {0,1}: nothing matches,
    # closest length 4 > 2 -> brevity penalty.
    s0 = _bleu4([3, 2, 1, 0], [4, 3, 2, 1], 4, 4)
    s2 = _bleu4([0, 0, 0, 0], [2, 1, 0, 0], 2, 4)
    assert per["self_bleu_4"] == pytest.approx([s0, s0, s2], rel=1e-12)
    assert out["self_bleu_4"] == pytest.approx((2 * s0 + s2) / 3, rel=1e-12)


def test_self_bleu_clips_by_the_largest_other_count():
    # "a a a" vs others "a a" and "a": clip by max other count 2 -> 2/3 unigram precision
    out, per = diversity_scores(["a a a", "a a", "a"])
    # caption 0: 1-grams min(3, 2) = 2 of 3; 2-grams (a a) x2 vs max other 1 -> 1 of 2; 3-grams 0 of 1;
    # 4-grams guess 0; closest other length 2 < 3: no penalty
    assert per["self_bleu_4"][0] == pytest.approx(_bleu4([2, 1, 0, 0], [3, 2, 1, 0], 3, 2), rel=1e-12)
    # caption 1 ("a a"): others max count of "a" is 3, of "a a" is 2 -> full 1-, 2-gram matches;
    # closest other lengths 3 and 1 are equally far: the shorter (1) wins -> no penalty
    assert per["self_bleu_4"][1] == pytest.approx(_bleu4([2, 1, 0, 0], [2, 1, 0, 0], 2, 1), rel=1e-12)


def test_vendi_ngram_extremes():
    same, _ = diversity_scores(["a dog runs"] * 5)
    assert same["vendi_ngram"] == pytest.approx(1.0, abs=1e-9)
    disjoint, _ = diversity_scores(["a b", "c d", "e f", "g h"])
    assert disjoint["vendi_ngram"] == pytest.approx(4.0, abs=1e-9)
    # two identical pairs: K has two 2x2 blocks of ones -> eigenvalues 1/2, 1/2 -> Vendi 2
    two, _ = diversity_scores(["a b", "a b", "c d", "c d"])
    assert two["vendi_ngram"] == pytest.approx(2.0, abs=1e-9)


def test_score_captions_diversity_keys_and_per_item():
    refs = {1: ["a dog"], 2: ["a cat"], 3: ["a bird"]}
    cands = {1: "A dog runs.", 2: "A dog sits.", 3: "A cat."}
    out = score_captions(refs, cands, metrics="diversity", per_item=True, train_captions=["a cat ."])
    assert out["distinct_1"] == pytest.approx(5 / 8) and out["novelty"] == pytest.approx(2 / 3)
    assert set(out["per_item"]) == {"length", "self_bleu_4", "novel"}
    assert out["per_item"]["length"] == {1: 3.0, 2: 3.0, 3: 2.0}
    assert "Bleu_1" not in out and np.isfinite(out["vendi_ngram"])
