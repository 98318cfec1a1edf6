"""Vectorised n-gram counting shared by BLEU, CIDEr-D and the diversity metrics.

Every sentence (a tokenized caption, split on whitespace as coco-caption's ``precook`` does) is
turned into word ids; the n-grams of order 1..4 get integer ids per order (the (n-1)-gram id times
the vocabulary size plus the last word, compressed with ``np.unique`` at each order so the keys never
overflow int64), and each sentence's n-gram counts become three parallel arrays
``(sentence, ngram_id, count)`` sorted by n-gram id then sentence.  Counting a corpus this way costs a
few sorts of arrays the size of the corpus instead of a Python dictionary per sentence.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from itertools import chain

import numpy as np


@dataclass
class NgramTable:
    """n-gram counts of a list of sentences.

    ``lengths[s]``: number of words of sentence s; for each order n (1-based, index n-1):
    ``sent[n-1]``, ``gid[n-1]``, ``count[n-1]``: one row per distinct (sentence, n-gram), sorted by
    n-gram id then sentence (n-gram ids number the distinct n-grams in sorted order of their words' ids); ``size[n-1]``: number of distinct n-grams of that order;
    ``position_gid[n-1]``: the n-gram id at each word position (-1 where no n-gram starts).
    """

    lengths: np.ndarray
    sent: list
    gid: list
    count: list
    size: list
    position_gid: list
    vocab: dict


def count_ngrams(sentences: list[list[str]], n: int = 4) -> NgramTable:
    """Count the n-grams of orders 1..n of ``sentences`` (lists of words)."""
    flat = list(chain.from_iterable(sentences))
    ids = defaultdict()  # word -> id in order of first appearance, assigned in C: a new word gets len()
    ids.default_factory = ids.__len__
    words = np.fromiter(map(ids.__getitem__, flat), dtype=np.int64, count=len(flat))
    vocab = dict(ids)
    lengths = np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences))
    n_sent = len(sentences)
    starts = np.zeros(n_sent, dtype=np.int64)
    if n_sent:
        np.cumsum(lengths[:-1], out=starts[1:])
    sent_of_pos = np.repeat(np.arange(n_sent, dtype=np.int64), lengths)
    pos_in_sent = np.arange(words.size, dtype=np.int64) - starts[sent_of_pos]
    remaining = lengths[sent_of_pos] - pos_in_sent  # words from this position to the sentence end
    V = max(len(vocab), 1)
    out_sent, out_gid, out_count, out_size, out_pos = [], [], [], [], []
    S = max(n_sent, 1)
    prev = words  # (k-1)-gram id at each position (valid where remaining >= k-1)
    for k in range(1, n + 1):
        if k == 1:  # word ids are already dense: 0 .. V-1; every position starts a unigram
            G = len(vocab)
            gid_at = words.copy()
            cu, cc = np.unique(words * S + sent_of_pos, return_counts=True)
            gid, sent = cu // S, cu % S
        else:
            idx = np.nonzero(remaining >= k)[0]
            keys = prev[idx] * V + words[idx + k - 1]  # < size(k-1) * V: distinct per k-gram
            gid_at = np.full(words.size, -1, dtype=np.int64)
            if keys.size and out_size[-1] * V * S < 2**62:
                G, inv, gid, sent, cc = _rank_and_count(keys, sent_of_pos[idx], S)
            else:  # empty, or keys * S could overflow int64: two sorts
                uniq, inv = np.unique(keys, return_inverse=True) if keys.size else (keys, keys)
                G = int(uniq.size)
                cu, cc = np.unique(inv * S + sent_of_pos[idx], return_counts=True)
                gid, sent = cu // S, cu % S
            gid_at[idx] = inv
        out_pos.append(gid_at)
        # (n-gram, sentence) pairs with their counts, sorted by n-gram then sentence
        out_gid.append(gid)
        out_sent.append(sent)
        out_count.append(cc.astype(np.int64))
        out_size.append(G)
        prev = gid_at
    return NgramTable(lengths, out_sent, out_gid, out_count, out_size, out_pos, vocab)


def _rank_and_count(keys: np.ndarray, sent: np.ndarray, S: int):
    """One sort of ``keys * S + sent`` giving what ``np.unique(keys, return_inverse=True)`` and then
    ``np.unique(inverse * S + sent, return_counts=True)`` give: the number of distinct keys, each
    key's rank among them (per position), and the distinct (rank, sentence) pairs in sorted order
    with their counts."""
    key2 = keys * S + sent
    order = np.argsort(key2)
    k2 = key2[order]
    gram = k2 // S
    new_gram = np.empty(k2.size, dtype=bool)
    new_gram[0] = True
    np.not_equal(gram[1:], gram[:-1], out=new_gram[1:])
    rank_sorted = np.cumsum(new_gram, dtype=np.int64) - 1
    inv = np.empty_like(rank_sorted)
    inv[order] = rank_sorted
    new_pair = np.empty(k2.size, dtype=bool)
    new_pair[0] = True
    np.not_equal(k2[1:], k2[:-1], out=new_pair[1:])
    first = np.nonzero(new_pair)[0]
    counts = np.diff(np.append(first, k2.size))
    return int(rank_sorted[-1]) + 1, inv, rank_sorted[first], k2[first] % S, counts
