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
"""

from __future__ import annotations

from operator import itemgetter

from vislang.metrics.text.meteor_lexicon import Lexicon, Sentence

EXACT, STEM, SYNONYM, PARAPHRASE = 0, 1, 2, 3
BEAM_SIZE = 40
#: Weights of the stages while searching for the best alignment (the scorer's weights differ);
#: :func:`_gain` applies them.
SEARCH_WEIGHTS = (1.0, 0.5, 0.5, 0.5)


def _collect(t: Sentence, r: Sentence, modules: tuple[int, ...], lex: Lexicon):
    """Candidate matches per reference position, and word coverage counts."""
    n1, n2 = t.n, r.n
    matches: list[list[tuple]] = [[] for _ in range(n2)]
    cov1 = [0] * n1
    cov2 = [0] * n2
    k1, k2 = t.keys, r.keys
    if n1 == n2 and k1 == k2:
        modules = modules[:1]
    for stage, mod in enumerate(modules):
        if mod == EXACT:
            key_pos = t.key_pos
            for j in range(n2):
                hits = key_pos.get(k2[j])
                if hits:
                    lst = matches[j]
                    for i in hits:
                        lst.append((j, 1, i, 1, stage))
                        cov1[i] += 1
                    cov2[j] += len(hits)
        elif mod == STEM:
            stem_pos = t.stem_pos
            for j in range(n2):
                hits = stem_pos.get(r.stems[j])
                if hits:
                    kj = k2[j]
                    lst = matches[j]
                    for i in hits:
                        if k1[i] != kj:
                            lst.append((j, 1, i, 1, stage))
                            cov1[i] += 1
                            cov2[j] += 1
        elif mod == SYNONYM:
            ids1, idset1, partners = t.ids, t.idset, lex.partners
            for j in range(n2):
                pj = partners[r.ids[j]]
                if not pj or pj.isdisjoint(idset1):
                    continue
                kj = k2[j]
                lst = matches[j]
                for i in range(n1):
                    if ids1[i] in pj and k1[i] != kj:
                        lst.append((j, 1, i, 1, stage))
                        cov1[i] += 1
                        cov2[j] += 1
        elif mod == PARAPHRASE:
            # phrases of the reference, paraphrased in the hypothesis
            tgt = t.tgt
            if tgt and not r.src_pars.isdisjoint(t.tgt_keys):
                for j, length, entries in r.src:
                    lst = matches[j]
                    for _, ph, plen in entries:
                        for i in tgt.get(ph, ()):
                            lst.append((j, length, i, plen, stage))
                            for q in range(i, i + plen):
                                cov1[q] += 1
                            for q in range(j, j + length):
                                cov2[q] += 1
            # phrases of the hypothesis, paraphrased in the reference
            tgt = r.tgt
            if tgt and not t.src_pars.isdisjoint(r.tgt_keys):
                for i, length, entries in t.src:
                    for _, ph, plen in entries:
                        for j in tgt.get(ph, ()):
                            matches[j].append((j, plen, i, length, stage))
                            for q in range(i, i + length):
                                cov1[q] += 1
                            for q in range(j, j + plen):
                                cov2[q] += 1
    return matches, cov1, cov2, modules


def _gain(m: tuple) -> int:
    # Java's ``int += double`` truncates: exact adds both word counts, the others half of each
    if m[4] == 0:
        return m[1] + m[3]
    return (m[1] >> 1) + (m[3] >> 1)


# A partial alignment is a list [key, idx, lastMatchEnd, used line-1 words (bit mask), used
# line-2 words (bit mask), chosen matches (linked tuples)].  ``key`` packs the jar's ranking
# (more weighted matches, then fewer chunks, then smaller distance) into one integer,
# -matches * match_unit + chunks * chunk_unit + distance, so sorting by it ranks paths as the
# jar does.
_KEY = itemgetter(0)


def align(t: Sentence, r: Sentence, modules: tuple[int, ...], lex: Lexicon):
    """Best alignment of hypothesis ``t`` to reference ``r``: ``({ref_start: match}, chunks)``."""
    n2 = r.n
    cands, cov1, cov2, _ = _collect(t, r, modules, lex)
    fixed: dict[int, tuple] = {}
    used1 = used2 = 0
    ambiguous = False
    for j in range(n2):
        lst = cands[j]
        if not lst:
            continue
        if len(lst) == 1:
            m = lst[0]
            if m[1] == 1 and m[3] == 1:
                ok = cov2[j] == 1 and cov1[m[2]] == 1
            else:
                ok = all(cov2[q] == 1 for q in range(j, j + m[1])) and all(
                    cov1[q] == 1 for q in range(m[2], m[2] + m[3]))
            if ok:
                fixed[j] = m
                used2 |= ((1 << m[1]) - 1) << j
                used1 |= ((1 << m[3]) - 1) << m[2]
                continue
        ambiguous = True
    if not ambiguous:
        return fixed, _count_chunks(fixed, n2)
    # key radices: a path's distance stays below dist_base and its chunks below chunk_base, so
    # the packed key orders paths exactly like the jar's comparator while staying a small int
    dist_base = (sum(len(c) for c in cands) + n2 + 1) * (max(t.n, n2) + 1)
    chunk_unit = dist_base
    match_unit = (n2 + 2) * dist_base
    # per candidate: (match, line-1 mask, line-2 mask, -gain key, line-2 end, line-1 start,
    # line-1 end, |line-2 start - line-1 start|)
    info = [
        [(m, ((1 << m[3]) - 1) << m[2], ((1 << m[1]) - 1) << m[0], -_gain(m) * match_unit,
          m[0] + m[1], m[2], m[2] + m[3], abs(m[0] - m[2])) for m in lst]
        for lst in cands
    ]
    paths = [[0, 0, -1, used1, used2, None]]
    for current in range(n2):
        if len(paths) > 1:
            paths.sort(key=_KEY)
            if len(paths) > BEAM_SIZE:
                del paths[BEAM_SIZE:]
        nxt: list[list] = []
        bit = 1 << current
        options = info[current]
        for path in paths:
            if path[4] & bit:
                if current < path[1]:
                    nxt.append(path)
                    continue
                m = fixed.get(path[1])
                if m is None:
                    m = _chosen_at(path[5], path[1])
                if m is not None:
                    key = path[0] - _gain(m) * match_unit + abs(m[0] - m[2])
                    if path[2] != -1 and m[2] != path[2]:
                        key += chunk_unit
                    path[0] = key
                    path[1] = m[0] + m[1]
                    path[2] = m[2] + m[3]
                    nxt.append(path)
                continue
            if options:
                key, last, u1, u2, chain = path[0], path[2], path[3], path[4], path[5]
                for m, mask1, mask2, gain, end2, start1, end1, dist in options:
                    if u2 & mask2 or u1 & mask1:
                        continue
                    k = key + gain
                    if last != -1 and start1 != last:
                        k += chunk_unit
                    nxt.append([k, end2, end1, u1 | mask1, u2 | mask2, (chain, current, m)])
                    # the jar credits this match's distance to the path it branched from
                    key += dist
                path[0] = key
            if path[2] != -1:
                path[0] += chunk_unit
                path[2] = -1
            path[1] += 1
            nxt.append(path)
        if not nxt:
            nxt.append(paths[0])
        paths = nxt
    # close the last chunk of the surviving paths and pick the best
    if len(paths) > 1:
        paths.sort(key=_KEY)
        if len(paths) > BEAM_SIZE:
            del paths[BEAM_SIZE:]
    for path in paths:
        if path[2] != -1:
            path[0] += chunk_unit
    if len(paths) > 1:
        paths.sort(key=_KEY)
    final = dict(fixed)
    node = paths[0][5]
    while node is not None:
        node, pos, m = node
        final[pos] = m
    return final, _count_chunks(final, n2)


def _chosen_at(node, pos: int):
    while node is not None:
        if node[1] == pos:
            return node[2]
        node = node[0]
    return None


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
