"""score_captions against pycocoevalcap (Java tokenizer + Bleu, Rouge, Cider) on Flickr8k."""

from __future__ import annotations

import random

import pytest
from text_oracle import coco_scores, coco_tokenize_refs, leave_one_out, loo_oracle

from vislang.errors import InputError
from vislang.metrics.text import score_captions

KEYS = ["Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "ROUGE_L", "CIDEr"]


def assert_same(ours: dict, corpus: dict, per: dict, ids) -> None:
    for k in KEYS:
        assert abs(ours[k] - corpus[k]) <= 1e-9, (k, ours[k], corpus[k])
        worst = max(abs(ours["per_item"][k][i] - per[k][i]) for i in ids)
        assert worst <= 1e-9, (k, worst)


@pytest.mark.oracle
def test_flickr8k_leave_one_out_equals_pycocoevalcap(flickr8k_dir):
    refs, cands, corpus, per = loo_oracle(str(flickr8k_dir / "Flickr8k.token.txt"))
    # 8,093 image names: 8,091 with 5 captions, "2258277193_586949ec62.jpg" with 4 and a stray
    # "2258277193_586949ec62.jpg.1" with 1 (left out: no reference) -> 8,092 images, 32,367 references
    assert len(cands) == 8092
    ours = score_captions(refs, cands, per_item=True)
    assert_same(ours, corpus, per, refs)
    assert ours["n_images"] == 8092 and ours["n_references"] == 32367
    assert 0.7 < ours["CIDEr"] < 0.85 and 0.15 < ours["Bleu_4"] < 0.3  # human-vs-human agreement


@pytest.mark.oracle
def test_shuffled_and_copied_candidates_on_2000_images(flickr8k_dir):
    refs, cands = leave_one_out(flickr8k_dir / "Flickr8k.token.txt")  # not the full oracle: cheap
    rng = random.Random(0)
    ids = rng.sample(sorted(refs), 2000)
    sub_refs = {i: refs[i] for i in ids}
    gts = coco_tokenize_refs(sub_refs)  # one Java run for the references of both candidate sets
    # shuffled: every image gets another image's caption -> low scores
    perm = ids[:]
    rng.shuffle(perm)
    shuffled = {i: cands[j] for i, j in zip(ids, perm)}
    corpus, per = coco_scores(sub_refs, shuffled, gts)
    ours = score_captions(sub_refs, shuffled, per_item=True)
    assert_same(ours, corpus, per, ids)
    assert ours["CIDEr"] < 0.1
    # candidate = one of the references -> high scores
    copied = {i: refs[i][rng.randrange(len(refs[i]))] for i in ids}
    corpus, per = coco_scores(sub_refs, copied, gts)
    ours = score_captions(sub_refs, copied, per_item=True)
    assert_same(ours, corpus, per, ids)
    assert ours["Bleu_4"] > 0.9 and ours["CIDEr"] > 3


@pytest.mark.oracle
def test_empty_candidate_scores_as_coco_caption():
    refs = {1: ["a dog runs on the grass", "a brown dog"], 2: ["two men talk", "men talking outside"],
            3: ["a red car", "the car is red"]}
    cands = {1: "", 2: "two men are talking", 3: "..."}  # "..." tokenizes to nothing too
    corpus, per = coco_scores(refs, cands)
    ours = score_captions(refs, cands, per_item=True)
    assert_same(ours, corpus, per, refs)
    for k in KEYS:
        assert ours["per_item"][k][1] == 0.0 and ours["per_item"][k][3] == 0.0


def test_bad_input_names_the_image():
    refs = {"a.jpg": ["a dog"], "b.jpg": ["a cat"]}
    with pytest.raises(InputError, match="c.jpg.*has no references"):
        score_captions(refs, {"a.jpg": "dog", "b.jpg": "cat", "c.jpg": "bird"})
    with pytest.raises(InputError, match="b.jpg.*no candidate"):
        score_captions(refs, {"a.jpg": "dog"})
    with pytest.raises(InputError, match="b.jpg.*int, not a string"):
        score_captions(refs, {"a.jpg": "dog", "b.jpg": 7})
    with pytest.raises(InputError, match="a.jpg.*None"):
        score_captions({"a.jpg": [None], "b.jpg": ["x"]}, {"a.jpg": "dog", "b.jpg": "cat"})
    with pytest.raises(InputError, match="b.jpg.*empty reference list"):
        score_captions({"a.jpg": ["a dog"], "b.jpg": []}, {"a.jpg": "dog", "b.jpg": "cat"})
    with pytest.raises(InputError, match="b.jpg.*list of strings"):
        score_captions({"a.jpg": ["a dog"], "b.jpg": "a cat"}, {"a.jpg": "dog", "b.jpg": "cat"})
