"""Vectorised n-gram counting shared by BLEU, CIDEr-D and the diversity metrics.

Every sentence (a tokenized caption, split on whitespace as coco-caption's ``precook`` does) is
turned into word ids; the n-grams of order 1..4 get integer ids per order (the (n-1)-gram id times
the vocabulary size plus the last word, compressed with ``np.unique`` at each order so the keys never
overflow int64), and each sentence's n-gram counts become three parallel arrays
``(sentence, ngram_id, count)`` sorted by n-gram id then sentence.  Counting a corpus this way costs a
few sorts of arrays the size of the corpus instead of a Python dictionary per sentence.
"""

from __future__ import annotations

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
    vocab = {w: i for i, w in enumerate(dict.fromkeys(flat))}
    words = np.fromiter(map(vocab.__getitem__, flat), dtype=np.int64, count=len(flat))
    lengths = np.fromiter((len(s) for s in sentences), dtype=np.int64, count=len(sentences))
    n_sent = len(sentences)
    starts = np.zeros(n_sent, dtype=np.int64)
    if n_sent:
        np.cumsum(lengths[:-1], out=starts[1:])
    sent_of_pos = np.repeat(np.arange(n_sent, dtype=np.int64), lengths)
    pos_in_sent = np.arange(words.size, dtype=np.int64) - starts[sent_of_pos]
    remaining = lengths[sent_of_pos] - pos_in_sent  # words from this position to the sentence end
    V = max(len(vocab), 1)
    out_sent, out_gid, out_count, out_size, out_pos = [], [], [], [], []
    prev = words.copy()  # (k)-gram id at each position (valid where remaining >= k)
    for k in range(1, n + 1):
        valid = remaining >= k
        if k == 1:  # word ids are already dense: 0 .. V-1
            inv = words
            G = len(vocab)
        else:
            idx = np.nonzero(valid)[0]
            keys = prev[idx] * V + words[idx + k - 1]
            if keys.size:
                uniq, inv = np.unique(keys, return_inverse=True)
            else:
                uniq, inv = keys, keys
            G = int(uniq.size)
        gid_at = np.full(words.size, -1, dtype=np.int64)
        gid_at[valid] = inv
        out_pos.append(gid_at)
        # (n-gram, sentence) pairs with their counts, sorted by n-gram then sentence
        S = max(n_sent, 1)
        cu, cc = np.unique(inv * S + sent_of_pos[valid], return_counts=True)
        out_gid.append(cu // S)
        out_sent.append(cu % S)
        out_count.append(cc.astype(np.int64))
        out_size.append(G)
        prev = gid_at
    return NgramTable(lengths, out_sent, out_gid, out_count, out_size, out_pos, vocab)
