"""Paraphrase candidates of METEOR 1.5 for a batch of (hypothesis, reference) pairs, found with numpy.

A paraphrase match is a phrase ``a`` of one line and a phrase ``b`` of the other line such that the
paraphrase table lists ``a -> b`` (both directions are tried: reference phrases paraphrased in the
hypothesis, then hypothesis phrases paraphrased in the reference; duplicate table entries give
duplicate matches, as in the jar).  Phrases are compared through the 64-bit polynomial hash of their
UTF-8 bytes (:func:`vislang.metrics.text.meteor_resources.byte_hash`), which is how the table is
stored.

The whole batch is done at once:

1. every phrase (1 to the table's longest, 7 words) of every sentence is hashed from per-word
   values, and the distinct hashes are looked up in the sorted table;
2. only entries whose paraphrase also occurs in the batch are kept;
3. the entries of each *source* sentence's phrases are joined with the phrases of the sentences it
   is paired with, through sorted ``(partner sentence, phrase)`` keys, so the work grows with the
   number of distinct sentences and table hits, not with the number of pairs.

The jar lists the candidates of a reference position ``j`` stage by stage and, within the
paraphrase stage, first those found from reference phrases (by phrase length, table order, then
hypothesis position) and then those found from hypothesis phrases (by hypothesis position, phrase
length, then table order); :func:`pair_paraphrases` returns each pair's candidates in that order.
"""

from __future__ import annotations

from itertools import chain

import numpy as np

from vislang.metrics.text.meteor_tables import HASH_BASE, SPACE_CODE, bit_test


def _ragged(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + c)`` for each (s, c)."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offs = np.cumsum(counts) - counts
    return np.repeat(starts - offs, counts) + np.arange(total)


def _phrases(tokens: list[list[int]], th: np.ndarray, tp: np.ndarray, table):
    """The phrases of the sentences (word ids per sentence) that may be in the table, as
    ``(sid, pos, len, hash)`` arrays: a phrase is kept if the table's phrase bitmap has its bit,
    and extended by the next word only if the prefix bitmap has it (no other phrase can be)."""
    lens = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
    total = int(lens.sum())
    flat = np.fromiter(chain.from_iterable(tokens), dtype=np.int64, count=total)
    wh, wp = th[flat], tp[flat]
    sid = np.repeat(np.arange(len(tokens)), lens)
    ends = np.repeat(np.cumsum(lens), lens)  # exclusive end of each token's sentence
    pos = np.arange(total) - (ends - np.repeat(lens, lens))
    base, space = np.uint64(HASH_BASE), np.uint64(SPACE_CODE)
    g_idx, g_len, g_hash = [], [], []
    with np.errstate(over="ignore"):
        h, p = wh, wp  # hash and BASE ** bytes of the phrases of the current length
        idx = np.arange(total)
        for length in range(1, table.max_len + 1):
            if length > 1:
                keep = bit_test(table.prefix_bits, h)
                keep &= idx + length <= ends[idx]
                idx, h, p = idx[keep], h[keep], p[keep]
                if idx.size == 0:
                    break
                k = idx + length - 1  # the word that extends each phrase
                h = h + p * (space + base * wh[k])
                p = p * base * wp[k]
            hit = bit_test(table.phrase_bits, h)
            g_idx.append(idx[hit])
            g_len.append(np.full(int(hit.sum()), length, dtype=np.int64))
            g_hash.append(h[hit])
    at = np.concatenate(g_idx)
    return sid[at], pos[at], np.concatenate(g_len), np.concatenate(g_hash), flat[g_idx[0]]


def _distinct(o_hash: np.ndarray, uni_w: np.ndarray, th: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(o_hash, return_inverse=True)`` where the first ``uni_w.size`` phrases are the
    single words ``uni_w`` (ids; their hash is ``th[id]``): the words are told apart by id, in linear
    time, and only the longer phrases and the distinct values are sorted."""
    n1 = uni_w.size
    mark = np.zeros(th.size, dtype=bool)
    mark[uni_w] = True
    uw = np.flatnonzero(mark)
    inv1 = (np.cumsum(mark) - 1)[uni_w]
    uq2, inv2 = np.unique(o_hash[n1:], return_inverse=True)
    uq, inv_m = np.unique(np.concatenate((th[uw], uq2)), return_inverse=True)
    inv_m = inv_m.reshape(-1)
    return uq, np.concatenate((inv_m[inv1], inv_m[uw.size + inv2.reshape(-1)]))


def pair_paraphrases(tokens: list[list[int]], pairs: list[tuple[int, int]], th: np.ndarray,
                     tp: np.ndarray, table) -> list[list[tuple[int, int, int, int]]]:
    """Paraphrase candidates ``(ref start, ref len, hyp start, hyp len)`` per pair, in the jar's order.

    ``tokens``: word ids per sentence; ``pairs``: ``(hypothesis sentence, reference sentence)``;
    ``th`` / ``tp``: per word id, the byte hash of the word and ``HASH_BASE ** (its bytes)``.
    """
    n_pairs = len(pairs)
    out: list[list] = [[] for _ in range(n_pairs)]
    if table is None or not n_pairs or not tokens:
        return out
    o_sid, o_pos, o_len, o_hash, uni_w = _phrases(tokens, th, tp, table)
    if o_hash.size == 0:
        return out
    uq, inv = _distinct(o_hash, uni_w, th)
    n_u = uq.size
    # table entries of the batch's phrases whose paraphrase also occurs in the batch
    lo = np.searchsorted(table.ref_hash, uq, side="left")
    hi = np.searchsorted(table.ref_hash, uq, side="right")
    cnt = hi - lo
    rows = _ragged(lo, cnt)
    if rows.size == 0:
        return out
    e_src = np.repeat(np.arange(n_u), cnt)
    e_par = np.asarray(table.par_hash[rows])
    at = np.minimum(np.searchsorted(uq, e_par), n_u - 1)
    ok = uq[at] == e_par
    if not ok.any():
        return out
    rows, e_src, e_pu = rows[ok], e_src[ok], at[ok]
    e_file = rows  # table order within one phrase's entries is file order
    e_plen = np.asarray(table.par_len[rows]).astype(np.int64)
    # entries grouped by source phrase (rows are in table order: ties in file order)
    e_cnt = np.bincount(e_src, minlength=n_u)
    e_first = np.cumsum(e_cnt) - e_cnt
    is_target = np.zeros(n_u, dtype=bool)
    is_target[e_pu] = True

    p_t, p_r = np.fromiter(chain.from_iterable(pairs), dtype=np.int64, count=2 * n_pairs).reshape(-1, 2).T
    n_s = len(tokens)
    o_u = inv.reshape(-1)
    src_occ = np.flatnonzero(e_cnt[o_u] > 0)
    tgt_occ = np.flatnonzero(is_target[o_u])
    # target occurrences by sentence
    tgt_occ = tgt_occ[np.argsort(o_sid[tgt_occ], kind="stable")]
    t_first = np.searchsorted(o_sid[tgt_occ], np.arange(n_s + 1))
    parts = []
    for direction, src_of, tgt_of in ((0, p_r, p_t), (1, p_t, p_r)):
        # target table: for each pair, the target phrases of its target line, keyed by
        # (source sentence, phrase)
        cnt_t = t_first[tgt_of + 1] - t_first[tgt_of]
        trow = tgt_occ[_ragged(t_first[tgt_of], cnt_t)]
        tpair = np.repeat(np.arange(n_pairs), cnt_t)
        tkey = np.repeat(src_of, cnt_t) * n_u + o_u[trow]
        order = np.argsort(tkey)  # the order inside a key does not matter: all is sorted at the end
        tkey, trow, tpair = tkey[order], trow[order], tpair[order]
        if tkey.size == 0:
            continue
        ufirst = np.flatnonzero(np.concatenate(([True], tkey[1:] != tkey[:-1])))
        ukey = tkey[ufirst]
        ucnt = np.diff(np.append(ufirst, tkey.size))
        # sources: phrases with entries of the sentences that are sources in some pair
        src_sents = np.zeros(n_s, dtype=bool)
        src_sents[src_of] = True
        socc = src_occ[src_sents[o_sid[src_occ]]]
        su = o_u[socc]
        erow = _ragged(e_first[su], e_cnt[su])
        socc = np.repeat(socc, e_cnt[su])
        qkey = o_sid[socc] * n_u + e_pu[erow]
        at = np.minimum(np.searchsorted(ukey, qkey), ukey.size - 1)
        found = ukey[at] == qkey
        socc, erow, at = socc[found], erow[found], at[found]
        qlo, qcnt = ufirst[at], ucnt[at]
        hit = _ragged(qlo, qcnt)
        if hit.size == 0:
            continue
        socc = np.repeat(socc, qcnt)
        erow = np.repeat(erow, qcnt)
        pair, tgt = tpair[hit], trow[hit]
        s_pos, s_len, t_pos = o_pos[socc], o_len[socc], o_pos[tgt]
        f, plen = e_file[erow], e_plen[erow]
        if direction == 0:  # reference phrase at j, paraphrase in the hypothesis at i
            j, jl, i, il = s_pos, s_len, t_pos, plen
            k1, k2, k3 = jl, f, i
        else:  # hypothesis phrase at i, paraphrase in the reference at j
            j, jl, i, il = t_pos, plen, s_pos, s_len
            k1, k2, k3 = i, il, f
        parts.append((pair, j, np.full(pair.size, direction), k1, k2, k3, jl, i, il))
    if not parts:
        return out
    cols = [np.concatenate(c) for c in zip(*parts)]
    pair, j, d, k1, k2, k3, jl, i, il = cols
    order = np.lexsort((k3, k2, k1, d, j, pair))
    pair = pair[order]
    rows = np.stack([j[order], jl[order], i[order], il[order]], axis=1).tolist()
    bounds = np.searchsorted(pair, np.arange(n_pairs + 1)).tolist()
    for p in np.unique(pair).tolist():
        out[p] = rows[bounds[p]: bounds[p + 1]]
    return out
