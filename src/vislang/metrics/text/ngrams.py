"""Vectorised n-gram counting shared by BLEU, CIDEr-D, ROUGE-L and the diversity metrics.

Every sentence (a tokenized caption, split on whitespace as coco-caption's ``precook`` does) is
turned into word ids; the n-grams of order 1..4 get integer ids per order (the (n-1)-gram id times
the vocabulary size plus the last word, ranked among the distinct keys at each order so the keys
never overflow int64), and each sentence's n-gram counts become three parallel arrays
``(sentence, ngram_id, count)`` sorted by n-gram id then sentence.  Counting a corpus this way costs
one sort per order of an array the size of the corpus instead of a Python dictionary per sentence.
The sort is ``np.sort`` of the key and the word position packed into one int64 (the position in the
low bits), which gives the stable order of an argsort at the price of a plain sort.

:func:`image_ngrams` counts the captions of an evaluation in IMAGE order -- each image's candidate,
then its references -- so that for every n-gram the rows of one image are contiguous, the
candidate's first: BLEU's clipped counts, CIDEr-D's document frequencies and products and ROUGE-L's
match masks are then segment reductions over the rows, with no search or join.
"""

from __future__ import annotations

import re
from array import array
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter

import numpy as np

_OTHER_SPACE = re.compile(r"[^\S ]")  # whitespace other than " "


@dataclass
class NgramTable:
    """n-gram counts of a list of sentences.

    ``lengths[s]``: number of words of sentence s; for each order n (1-based, index n-1):
    ``sent[n-1]``, ``gid[n-1]``, ``count[n-1]``: one row per distinct (sentence, n-gram), sorted by
    n-gram id then sentence (n-gram ids number the distinct n-grams in sorted order of their
    words' ids); ``size[n-1]``: number of distinct n-grams of that order;
    ``unigram_positions``: the word positions sorted by word id, then position.
    """

    lengths: np.ndarray
    sent: list
    gid: list
    count: list
    size: list
    vocab: dict
    unigram_positions: np.ndarray | None = None


def count_ngrams(sentences: list[list[str]], n: int = 4) -> NgramTable:
    """Count the n-grams of orders 1..n of ``sentences`` (lists of words)."""
    flat = list(chain.from_iterable(sentences))
    ids = defaultdict()  # word -> id in order of first appearance, assigned in C: a new word gets len()
    ids.default_factory = ids.__len__
    words = np.fromiter(map(ids.__getitem__, flat), dtype=np.int64, count=len(flat))
    lengths = np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences))
    return count_ngram_ids(words, lengths, n, dict(ids))


def word_ids(sentences: list[str]) -> tuple[np.ndarray, np.ndarray, dict, bool]:
    """The whitespace-separated words of ``sentences`` as ids (in order of first appearance), all
    sentences concatenated; the number of words of each sentence; the vocabulary; and whether some
    sentence holds whitespace other than " " (where splitting on " " differs: ROUGE-L)."""
    n = len(sentences)
    joined = " \x00 ".join(sentences)  # "\x00": a sentence separator no tokenizer output is alone
    if joined.isascii():
        other_space = any(ch in joined for ch in "\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f")
    else:
        other_space = _OTHER_SPACE.search(joined) is not None
    ids = defaultdict()  # word -> id in order of first appearance, assigned in C: a new word gets len()
    ids.default_factory = ids.__len__
    ids["\x00"] = 0
    w = np.frombuffer(array("q", map(ids.__getitem__, joined.split())), dtype=np.int64)
    marks = np.flatnonzero(w == 0)
    if marks.size == max(n - 1, 0):
        lengths = np.diff(np.concatenate(([-1], marks, [w.size]))) - 1 if n else np.zeros(0, np.int64)
        del ids["\x00"]
        return w[w != 0] - 1, lengths, {k: v - 1 for k, v in ids.items()}, other_space
    # a sentence held a "\x00" token after all: split them one by one
    split = [s.split() for s in sentences]
    flat = list(chain.from_iterable(split))
    ids = defaultdict()
    ids.default_factory = ids.__len__
    words = np.fromiter(map(ids.__getitem__, flat), dtype=np.int64, count=len(flat))
    return words, np.fromiter(map(len, split), dtype=np.int64, count=n), dict(ids), other_space


def count_ngram_ids(words: np.ndarray, lengths: np.ndarray, n: int = 4, vocab: dict | None = None) -> NgramTable:
    """Count the n-grams of orders 1..n of sentences given as word ids (``words``: all sentences
    concatenated, ``lengths``: words per sentence)."""
    T = int(words.size)
    n_sent = int(lengths.size)
    starts = np.zeros(n_sent, dtype=np.int64)
    if n_sent:
        np.cumsum(lengths[:-1], out=starts[1:])
    sent_of_pos = np.repeat(np.arange(n_sent, dtype=np.int64), lengths)
    remaining = lengths[sent_of_pos] - (np.arange(T, dtype=np.int64) - starts[sent_of_pos])  # words to the end
    V = int(words.max()) + 1 if T else 1
    shift = max(T.bit_length(), 1)
    limit = 1 << (62 - shift)  # packed keys stay below 2**62
    out_sent, out_gid, out_count, out_size = [], [], [], []
    prev, prev_size, uni_pos = words, V, None
    for k in range(1, n + 1):
        idx = np.arange(T, dtype=np.int64) if k == 1 else np.flatnonzero(remaining >= k)
        keys = words if k == 1 else prev[idx] * V + words[idx + k - 1]
        gid_at = np.empty(T, dtype=np.int64)  # the k-gram id at each position where one starts
        if keys.size == 0:
            gid = sent = cc = np.zeros(0, dtype=np.int64)
            G = 0
        else:
            if prev_size * V < limit:  # one plain sort of (key, position) packed into int64
                packed = (keys << shift) | idx
                del keys, idx
                packed.sort()
                pos = packed & ((1 << shift) - 1)
                skey = packed >> shift
                del packed
            else:  # pragma: no cover - keys too large to pack (astronomically large corpora)
                order = np.argsort(keys, kind="stable")
                pos, skey = idx[order], keys[order]
            new_gram = np.empty(skey.size, dtype=bool)
            new_gram[0] = True
            np.not_equal(skey[1:], skey[:-1], out=new_gram[1:])
            rank = np.cumsum(new_gram, dtype=np.int64) - 1
            gid_at[pos] = rank
            s_sorted = sent_of_pos[pos]
            new_pair = new_gram.copy()
            new_pair[1:] |= s_sorted[1:] != s_sorted[:-1]
            first = np.flatnonzero(new_pair)
            cc = np.diff(np.append(first, skey.size))
            gid, sent = rank[first], s_sorted[first]
            G = int(rank[-1]) + 1
            if k == 1:
                uni_pos = pos
            del skey, new_gram, rank, s_sorted, new_pair, first, pos
        out_gid.append(gid)
        out_sent.append(sent)
        out_count.append(cc)
        out_size.append(G)
        prev, prev_size = gid_at, max(G, 1)
    return NgramTable(lengths, out_sent, out_gid, out_count, out_size, vocab or {}, uni_pos)


@dataclass
class ImageNgrams:
    """The n-gram table of an evaluation's captions in image order (image 0's candidate, its
    references, image 1's candidate, ...).  Per sentence: ``img`` (its image), ``is_cand``; per
    image: ``cand`` (the candidate's sentence), ``nref``; ``words``/``starts`` the word ids and the
    first word of each sentence; ``other_space``: some caption holds whitespace other than " "."""

    table: NgramTable
    n_img: int
    nref: np.ndarray
    img: np.ndarray
    is_cand: np.ndarray
    cand: np.ndarray
    words: np.ndarray
    starts: np.ndarray
    other_space: bool
    _segments: dict = field(default_factory=dict, repr=False)

    def segments(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rows of order k (1-based) grouped by (n-gram, image): (image of each row, start row of
        each segment, whether the segment starts with the image's candidate).  Memoised: BLEU and
        CIDEr-D share them."""
        hit = self._segments.get(k)
        if hit is None:
            hit = self._segments[k] = self._compute_segments(k)
        return hit

    def _compute_segments(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        s, g = self.table.sent[k - 1], self.table.gid[k - 1]
        simg = self.img[s]
        new = np.empty(s.size, dtype=bool)
        if s.size:
            new[0] = True
            np.not_equal(g[1:], g[:-1], out=new[1:])
            new[1:] |= simg[1:] != simg[:-1]
        segs = np.flatnonzero(new)
        return simg, segs, self.is_cand[s[segs]]


def image_ngrams(cands_tok: list[str], refs_tok_flat: list[str], nref, n: int = 4) -> ImageNgrams:
    """Count the n-grams of tokenized candidates (one per image) and references (``nref[i]`` for
    image i, all images' references concatenated in image order) in image order."""
    nref = np.asarray(nref, dtype=np.int64)
    n_img = len(cands_tok)
    block = nref + 1
    cand = np.zeros(n_img, dtype=np.int64)
    if n_img:
        np.cumsum(block[:-1], out=cand[1:])
    n_sent = n_img + len(refs_tok_flat)
    is_cand = np.zeros(n_sent, dtype=bool)
    is_cand[cand] = True
    perm = np.empty(n_sent, dtype=np.int64)  # image-order sentence -> index in cands + refs
    perm[cand] = np.arange(n_img)
    perm[~is_cand] = n_img + np.arange(len(refs_tok_flat))
    both = cands_tok + refs_tok_flat
    ordered = list(itemgetter(*perm.tolist())(both)) if n_sent > 1 else both
    words, lengths, vocab, other_space = word_ids(ordered)
    table = count_ngram_ids(words, lengths, n, vocab)
    img = np.repeat(np.arange(n_img, dtype=np.int64), block)
    starts = np.zeros(n_sent, dtype=np.int64)
    if n_sent:
        np.cumsum(lengths[:-1], out=starts[1:])
    return ImageNgrams(table, n_img, nref, img, is_cand, cand, words, starts, other_space)
