"""Vocabulary and tokenizer: hand-worked examples."""

from __future__ import annotations

import pytest
import torch

from vislang.data.vocab import Vocab, tokenize
from vislang.errors import InputError


def test_tokenize_hand_examples():
    assert tokenize("A red Circle, left of the cube.") == ["a", "red", "circle", ",", "left", "of", "the", "cube", "."]
    assert tokenize("  the dog's ball!!  ") == ["the", "dog's", "ball", "!", "!"]
    assert tokenize("'quoted' 3-d") == ["'", "quoted", "'", "3", "-", "d"]
    assert tokenize("Café  au\tLAIT") == ["café", "au", "lait"]
    assert tokenize("") == []


def test_build_order_and_min_count():
    caps = ["a red circle", "a blue square", "a red square", "one"]
    v = Vocab.build(caps, min_count=2)
    # counts: a=3, red=2, square=2, blue=1, circle=1, one=1 -> ties alphabetical
    assert v.itos == ["<pad>", "<start>", "<end>", "<unk>", "a", "red", "square"]
    assert (v.pad_id, v.start_id, v.end_id, v.unk_id) == (0, 1, 2, 3)
    assert len(v) == 7
    assert v.encode("A blue square") == [1, 4, 3, 6, 2]
    with pytest.raises(InputError):
        Vocab.build(caps, min_count=0)


def test_encode_truncation_and_batch():
    v = Vocab.build(["a b c d e"])
    assert v.encode("a b c d e", max_len=4) == [1, v.stoi["a"], v.stoi["b"], 2]
    v2 = Vocab.build(["a b c d e"], max_len=5)
    assert len(v2.encode("a b c d e")) == 5 and v2.encode("a b c d e")[-1] == 2
    batch = v.encode_batch(["a b", "c", "a b c d e"], max_len=6)
    assert batch.dtype == torch.long
    assert batch.tolist() == [
        [1, v.stoi["a"], v.stoi["b"], 2, 0, 0],
        [1, v.stoi["c"], 2, 0, 0, 0],
        [1, v.stoi["a"], v.stoi["b"], v.stoi["c"], v.stoi["d"], 2],
    ]


def test_decode_stops_at_end_and_roundtrip_state():
    v = Vocab.build(["the cat sat", "the dog"])
    ids = [1, v.stoi["the"], 3, v.stoi["sat"], 2, v.stoi["dog"], 0]
    assert v.decode(ids) == "the <unk> sat"
    assert v.decode(torch.tensor(ids)) == "the <unk> sat"
    assert v.decode(v.encode("The cat, sat")) == "the cat <unk> sat"  # ',' unseen
    w = Vocab.from_state_dict(v.state_dict())
    assert w == v and w.itos == v.itos and w.max_len == v.max_len
    with pytest.raises(InputError):
        Vocab.from_state_dict({"nope": 1})
