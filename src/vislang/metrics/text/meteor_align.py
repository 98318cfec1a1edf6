"""METEOR 1.5 alignment: the four matching stages and the beam search over their matches.

Facts followed here (METEOR 1.5, Denkowski & Lavie 2014, and the behaviour of the 1.5 jar):

* Line 1 is the hypothesis, line 2 the reference.  A match is (line-2 start, line-2 length,
  line-1 start, line-1 length, stage).  Candidates are collected stage by stage (exact, stem,
  synonym, paraphrase) and listed per line-2 start position in the order they are found.
  Words are compared through Java ``String.hashCode`` values, as the jar does.
* exact: equal words; stem: different words with equal Snowball stems; synonym: different
  words sharing a WordNet synset (a word's synsets plus those of its base form: irregular
  forms from the exception list, else WordNet's detachment rules); paraphrase: a phrase of
  one line listed in the paraphrase table with a paraphrase found in the other line (both
  directions; exact duplicates are kept, as in the jar).
* If the two lines are identical only the exact stage runs.
* A match that is the only one starting at its line-2 position and whose words no other
  match covers is fixed; the rest is resolved by a left-to-right beam search (beam 40) over
  line-2 positions.  Partial alignments are ranked by (more weighted matched words, fewer
  chunks, smaller distance); the search weights are 1 for exact and 0.5 for the other stages,
  accumulated into integers with truncation, and the distance of a newly chosen match is
  credited to its sibling paths rather than to itself -- reproduced because it decides ties.
* Chunks of the final alignment: maximal runs of matches contiguous and in the same order in
  both lines.

How the replay is kept fast without changing its result: a reference position that no path can
branch at (a fixed match's start, where every path takes the same match; or a position where no
candidate starts) is applied to each path in place, and the beam is re-sorted only when some key
changed relative to the others (a stable sort of an already ordered list is the identity, and a
common shift keeps the order).  Exact/stem/synonym candidates of a hypothesis are memoised per
reference word; paraphrase candidates come per pair from :mod:`.meteor_para`.
"""

from __future__ import annotations

from operator import itemgetter

from vislang.metrics.text.meteor_lexicon import Lexicon, Sentence

EXACT, STEM, SYNONYM, PARAPHRASE = 0, 1, 2, 3
BEAM_SIZE = 40
#: Weights of the stages while searching for the best alignment (the scorer's weights differ);
#: :func:`_gain` applies them.
SEARCH_WEIGHTS = (1.0, 0.5, 0.5, 0.5)
_KEY = itemgetter(0)


def _word_hits(t: Sentence, w: int, modules: tuple[int, ...], lex: Lexicon) -> list[tuple[int, int]]:
    """``[(hypothesis position, stage)]`` of reference word ``w`` in ``t``, stage by stage."""
    kj = lex.key[w]
    if modules[:3] == (EXACT, STEM, SYNONYM):  # the default: one pass, most words hit nothing
        exact = t.key_pos.get(kj)
        stems = t.stem_pos.get(lex.stem[w])
        pj = lex.partners[w]
        syn = pj and not pj.isdisjoint(t.idset)
        if exact is None and stems is None and not syn:
            return []
        if exact is None:
            out = []
        elif len(exact) == 1:
            if not syn and (stems is None or stems == exact):  # the common case: one exact hit only
                return [(exact[0], 0)]
            out = [(exact[0], 0)]
        else:
            out = [(i, 0) for i in exact]
        k1 = t.keys
        if stems:
            out += [(i, 1) for i in stems if k1[i] != kj]
        if syn:
            out += [(i, 2) for i, x in enumerate(t.ids) if x in pj and k1[i] != kj]
        return out
    out: list[tuple[int, int]] = []
    for stage, mod in enumerate(modules):
        if mod == EXACT:
            hits = t.key_pos.get(kj)
            if hits:
                out += [(i, stage) for i in hits]
        elif mod == STEM:
            hits = t.stem_pos.get(lex.stem[w])
            if hits:
                k1 = t.keys
                out += [(i, stage) for i in hits if k1[i] != kj]
        elif mod == SYNONYM:
            pj = lex.partners[w]
            if pj and not pj.isdisjoint(t.idset):
                k1 = t.keys
                out += [(i, stage) for i, x in enumerate(t.ids) if x in pj and k1[i] != kj]
    return out


def collect(t: Sentence, r: Sentence, modules: tuple[int, ...], lex: Lexicon, para: list = ()):
    """Candidate matches per reference position (in the jar's order) and word coverage counts.

    ``para``: the pair's paraphrase candidates ``(ref start, ref len, hyp start, hyp len)`` in the
    jar's order (:func:`vislang.metrics.text.meteor_para.pair_paraphrases`); the paraphrase stage,
    if used, is the last of ``modules``.
    """
    n1, n2 = t.n, r.n
    if t.key_pos is None:
        t.index_for(lex)
    matches: list = [()] * n2  # () where no candidate starts
    cov1 = [0] * n1
    cov2 = [0] * n2
    if n1 == n2 and t.keys == r.keys:  # identical lines: the exact stage only
        key_pos = t.key_pos
        for j, k in enumerate(r.keys):
            hits = key_pos[k]
            matches[j] = [(j, 1, i, 1, 0) for i in hits]
            for i in hits:
                cov1[i] += 1
            cov2[j] = len(hits)
        return matches, cov1, cov2
    memo = t.memo
    get = memo.get
    prefilter = modules[:3] == (EXACT, STEM, SYNONYM)
    if prefilter:
        # a word can have hits only if its key or its stem key is among the hypothesis' or one of
        # its synonym partners is a hypothesis word (a set test of about ten ids)
        key_pos, stem_pos, idset = t.key_pos, t.stem_pos, t.idset
        lkey, lstem, partners = lex.key, lex.stem, lex.partners
    for j, w in enumerate(r.ids):
        hits = get(w)
        if hits is None:
            if (not prefilter or lkey[w] in key_pos or lstem[w] in stem_pos
                    or not partners[w].isdisjoint(idset)):
                hits = memo[w] = _word_hits(t, w, modules, lex)
            else:
                hits = memo[w] = ()
        if hits:
            if len(hits) == 1:  # most words: no list comprehension (a function call in Python 3.11)
                i, stage = hits[0]
                matches[j] = [(j, 1, i, 1, stage)]
                cov1[i] += 1
                cov2[j] = 1
            else:
                matches[j] = [(j, 1, i, 1, stage) for i, stage in hits]
                for i, _ in hits:
                    cov1[i] += 1
                cov2[j] = len(hits)
    if para:
        stage = len(modules) - 1
        for j, jl, i, il in para:
            if matches[j]:
                matches[j].append((j, jl, i, il, stage))
            else:
                matches[j] = [(j, jl, i, il, stage)]
            for q in range(i, i + il):
                cov1[q] += 1
            for q in range(j, j + jl):
                cov2[q] += 1
    return matches, cov1, cov2


def _gain(m: tuple) -> int:
    # Java's ``int += double`` truncates: exact adds both word counts, the others half of each
    if m[4] == 0:
        return m[1] + m[3]
    return (m[1] >> 1) + (m[3] >> 1)


def align(t: Sentence, r: Sentence, modules: tuple[int, ...], lex: Lexicon, para: list = ()):
    """Best alignment of hypothesis ``t`` to reference ``r``: ``({ref_start: match}, chunks)``."""
    cands, cov1, cov2 = collect(t, r, modules, lex, para)
    return search(cands, cov1, cov2, t.n, r.n)


def fixed_matches(cands: list[list[tuple]], cov1: list[int], cov2: list[int], n2: int):
    """``(fixed, used line-1 mask, used line-2 mask, ambiguous)``: the matches every alignment
    takes (the only one starting at its position, no word shared with another candidate)."""
    fixed: dict[int, tuple] = {}
    used1 = used2 = 0
    ambiguous = False
    for j, lst in enumerate(cands):
        if not lst:
            continue
        if len(lst) == 1:
            m = lst[0]
            _, jl, i, il, _ = m
            if jl == 1 and il == 1:
                if cov2[j] == 1 and cov1[i] == 1:
                    fixed[j] = m
                    used2 |= 1 << j
                    used1 |= 1 << i
                    continue
            elif all(cov2[q] == 1 for q in range(j, j + jl)) and all(cov1[q] == 1 for q in range(i, i + il)):
                fixed[j] = m
                used2 |= ((1 << jl) - 1) << j
                used1 |= ((1 << il) - 1) << i
                continue
        ambiguous = True
    return fixed, used1, used2, ambiguous


def search(cands: list[list[tuple]], cov1: list[int], cov2: list[int], n1: int, n2: int):
    """The jar's beam search over the candidates: ``({ref_start: match}, chunks)``."""
    fixed, used1, used2, ambiguous = fixed_matches(cands, cov1, cov2, n2)
    if not ambiguous:
        return fixed, _count_chunks(fixed, n2)
    return beam(cands, n1, n2, fixed, used1, used2)


def beam(cands: list[list[tuple]], n1: int, n2: int, fixed: dict, used1: int, used2: int):
    """The beam search proper, given :func:`fixed_matches`' result: ``({ref_start: match}, chunks)``."""
    # A partial alignment is a list [key, last, used line-1 words (bit mask), used line-2 words
    # (bit mask), chosen matches (linked tuples)]; ``last`` is the line-1 end of the open chunk's
    # last match, -1 when no chunk is open.  ``key`` packs the jar's ranking (more weighted
    # matches, then fewer chunks, then smaller distance) into one integer,
    # -matches * match_unit + chunks * chunk_unit + distance, so sorting by it ranks paths as the
    # jar does; the radices keep the distance below chunk_unit and the chunks below match_unit.
    chunk_unit = (sum(len(c) for c in cands) + n2 + 1) * (max(n1, n2) + 1)
    match_unit = (n2 + 2) * chunk_unit
    paths = [[0, -1, used1, used2, None]]
    sort = list.sort
    dirty = False  # whether the beam may be out of key order
    is_open = False  # whether some path may have an open chunk
    for current in range(n2):
        if dirty:
            sort(paths, key=_KEY)
            if len(paths) > BEAM_SIZE:
                del paths[BEAM_SIZE:]
            dirty = False
        m = fixed.get(current)
        if m is not None:
            # every path holds this fixed match: it extends the open chunk or starts a new one
            s1 = m[2]
            e1 = s1 + m[3]
            delta = abs(current - s1) - _gain(m) * match_unit
            if is_open:
                for p in paths:
                    last = p[1]
                    if last != -1 and last != s1:
                        p[0] += delta + chunk_unit
                        dirty = True
                    else:
                        p[0] += delta
                    p[1] = e1
            else:
                for p in paths:
                    p[0] += delta
                    p[1] = e1
            is_open = True
            continue
        bit = 1 << current
        options = cands[current]
        if not options:
            # no match starts here: a path not inside one of its multi-word matches closes its chunk
            if is_open:
                is_open = False
                for p in paths:
                    if p[1] != -1:
                        if p[3] & bit:
                            is_open = True
                        else:
                            p[0] += chunk_unit
                            p[1] = -1
                            dirty = True
            continue
        if used2 & bit:  # inside a fixed multi-word match: nothing changes
            continue
        is_open = True
        opts = [(mm, ((1 << mm[3]) - 1) << mm[2], ((1 << mm[1]) - 1) << current, -_gain(mm) * match_unit,
                 mm[2], mm[2] + mm[3], abs(current - mm[2])) for mm in options]
        nxt: list[list] = []
        append = nxt.append
        for p in paths:
            u2 = p[3]
            if u2 & bit:  # inside one of this path's multi-word matches
                append(p)
                continue
            key, last, u1, chain = p[0], p[1], p[2], p[4]
            for mm, mask1, mask2, gain, s1, e1, dist in opts:
                if u1 & mask1 or u2 & mask2:
                    continue
                if last != -1 and s1 != last:
                    append([key + gain + chunk_unit, e1, u1 | mask1, u2 | mask2, (chain, current, mm)])
                else:
                    append([key + gain, e1, u1 | mask1, u2 | mask2, (chain, current, mm)])
                # the jar credits this match's distance to the path it branched from
                key += dist
            if last != -1:  # the path that takes no match here closes its chunk
                key += chunk_unit
                p[1] = -1
            p[0] = key
            append(p)
        paths = nxt
        dirty = len(nxt) > 1
    # close the last chunk of the surviving paths and pick the best
    if len(paths) > 1:
        sort(paths, key=_KEY)
        if len(paths) > BEAM_SIZE:
            del paths[BEAM_SIZE:]
    for p in paths:
        if p[1] != -1:
            p[0] += chunk_unit
    if len(paths) > 1:
        sort(paths, key=_KEY)
    final = dict(fixed)
    node = paths[0][4]
    while node is not None:
        node, pos, mm = node
        final[pos] = mm
    return final, _count_chunks(final, n2)


def _count_chunks(final: dict[int, tuple], n2: int) -> int:
    chunks = 0
    idx = 0
    last = -1
    while idx < n2:
        m = final.get(idx)
        if m is None:
            if last != -1:
                chunks += 1
                last = -1
            idx += 1
        else:
            if last != -1 and m[2] != last:
                chunks += 1
            idx = m[0] + m[1]
            last = m[2] + m[3]
    if last != -1:
        chunks += 1
    return chunks
