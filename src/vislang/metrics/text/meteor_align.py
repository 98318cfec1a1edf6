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

from vislang.metrics.text.meteor_resources import HASH_BASE, SPACE_CODE, MeteorResources, base_power, byte_hash
from vislang.metrics.text.meteor_stem import stem

EXACT, STEM, SYNONYM, PARAPHRASE = 0, 1, 2, 3
BEAM_SIZE = 40
#: Weights of the stages while searching for the best alignment (the scorer's weights differ);
#: :func:`_gain` applies them.
SEARCH_WEIGHTS = (1.0, 0.5, 0.5, 0.5)


# WordNet 3.0 morphological detachment rules (suffix, replacement), nouns, verbs, adjectives.
_DETACH = (
    ("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"),
    ("men", "man"), ("ies", "y"),
    ("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"),
    ("ing", ""),
    ("er", ""), ("est", ""), ("er", "e"), ("est", "e"),
)


def java_hash(s: str) -> int:
    """``java.lang.String.hashCode`` (UTF-16 code units, signed 32-bit)."""
    h = 0
    data = s.encode("utf-16-le")
    for k in range(0, len(data), 2):
        h = (31 * h + (data[k] | (data[k + 1] << 8))) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


class Lexicon:
    """Per-word facts (hash key, stem key, synsets, function word, phrase hash), memoised."""

    def __init__(self, res: MeteorResources, use_synonyms: bool = True):
        self.res = res
        self.use_synonyms = use_synonyms
        self._info: dict[str, tuple] = {}
        #: ``partners[word_id]``: ids of the other known words sharing a synset with it
        self.partners: list[set[int]] = []
        self._by_synset: dict[int, list[int]] = {}

    def _morph(self, word: str) -> str:
        if word.endswith("ss") or len(word) <= 2:
            return word
        syn = self.res.synsets
        for suf, rep in _DETACH:
            if word.endswith(suf):
                cand = word[: len(word) - len(suf)] + rep
                if cand in syn:
                    return cand
        return ""

    def _synsets(self, word: str) -> frozenset:
        syn = self.res.synsets
        out = set(syn.get(word, ()))
        bases = self.res.exceptions.get(word)
        if bases is not None:
            for b in bases:
                out.update(syn.get(b, ()))
        else:
            out.update(syn.get(self._morph(word), ()))
        return frozenset(out)

    def info(self, word: str) -> tuple:
        """``(key, stem_key, word_id, is_function_word, byte_hash, BASE**len)`` of one word."""
        got = self._info.get(word)
        if got is None:
            wid = len(self.partners)
            mine: set[int] = set()
            self.partners.append(mine)
            if self.use_synonyms:
                for y in self._synsets(word):
                    others = self._by_synset.setdefault(y, [])
                    for v in others:
                        if v not in mine:
                            mine.add(v)
                            self.partners[v].add(wid)
                    others.append(wid)
            got = (
                java_hash(word),
                java_hash(stem(word)),
                wid,
                word.lower() in self.res.function_words,
                byte_hash(word.encode("utf-8")),
                base_power(len(word.encode("utf-8"))),
            )
            self._info[word] = got
        return got


class Sentence:
    """A tokenised line with its per-word facts and its paraphrase hooks.

    ``src``: ``[(start, length, entries)]`` for the phrases of this line found in the paraphrase
    table (entries ``(file_index, paraphrase_hash, paraphrase_length)`` in file order);
    ``tgt``: ``{phrase_hash: [start, ...]}`` for the phrases of this line that are paraphrases
    of some phrase in the batch.  Both are filled by :func:`prepare`.
    """

    __slots__ = ("words", "keys", "stems", "ids", "idset", "func", "th", "tp", "n", "src", "tgt", "key_pos",
                 "stem_pos", "src_pars", "tgt_keys")

    def __init__(self, words: list[str], lex: Lexicon):
        self.words = words
        self.n = len(words)
        infos = [lex.info(w) for w in words]
        self.keys = [x[0] for x in infos]
        self.stems = [x[1] for x in infos]
        self.ids = [x[2] for x in infos]
        self.idset = frozenset(self.ids)
        self.func = [x[3] for x in infos]
        self.th = [x[4] for x in infos]
        self.tp = [x[5] for x in infos]
        self.src: list = []
        self.tgt: dict = {}
        self.src_pars: frozenset = frozenset()
        self.tgt_keys: frozenset = frozenset()
        key_pos: dict[int, list[int]] = {}
        stem_pos: dict[int, list[int]] = {}
        for i, (k, s) in enumerate(zip(self.keys, self.stems)):
            key_pos.setdefault(k, []).append(i)
            stem_pos.setdefault(s, []).append(i)
        self.key_pos = key_pos
        self.stem_pos = stem_pos


def prepare(sentences: list[Sentence], lex: Lexicon, table) -> None:
    """Fill ``src``/``tgt`` of every sentence from the paraphrase table, vectorised over the batch."""
    import numpy as np

    if table is None or not sentences:
        return
    lens = np.array([s.n for s in sentences], dtype=np.int64)
    total = int(lens.sum())
    if total == 0:
        return
    th = np.fromiter((h for s in sentences for h in s.th), dtype=np.uint64, count=total)
    tp = np.fromiter((p for s in sentences for p in s.tp), dtype=np.uint64, count=total)
    sid = np.repeat(np.arange(len(sentences)), lens)
    ends = np.repeat(np.cumsum(lens), lens)  # exclusive end of each token's sentence
    pos = np.arange(total) - (ends - np.repeat(lens, lens))
    base, space = np.uint64(HASH_BASE), np.uint64(SPACE_CODE)
    h = np.zeros(total, dtype=np.uint64)
    g_sid, g_pos, g_len, g_hash = [], [], [], []
    with np.errstate(over="ignore"):
        for length in range(1, table.max_len + 1):
            valid = np.arange(total) + length <= ends
            if not valid.any():
                break
            nxt = np.zeros(total, dtype=np.uint64)
            idx = np.flatnonzero(valid)
            k = idx + length - 1  # the word that extends each phrase
            if length == 1:
                nxt[idx] = th[idx]
            else:
                nxt[idx] = (h[idx] * base + space) * tp[k] + th[k]
            h = nxt
            g_sid.append(sid[idx])
            g_pos.append(pos[idx])
            g_len.append(np.full(idx.size, length, dtype=np.int64))
            g_hash.append(h[idx])
    g_sid = np.concatenate(g_sid)
    g_pos = np.concatenate(g_pos)
    g_len = np.concatenate(g_len)
    g_hash = np.concatenate(g_hash)
    entries = table.lookup_array(np.unique(g_hash))
    if not entries:
        return
    ref_keys = np.sort(np.fromiter(entries.keys(), dtype=np.uint64, count=len(entries)))
    par_keys = np.unique(np.fromiter((e[1] for v in entries.values() for e in v), dtype=np.uint64))
    pars_of = {k: frozenset(e[1] for e in v) for k, v in entries.items()}

    def member(keys):
        at = np.minimum(np.searchsorted(keys, g_hash), keys.size - 1)
        return np.flatnonzero(keys[at] == g_hash)

    # phrases of each sentence with table entries, in (start, length) order
    hit = member(ref_keys)
    order = hit[np.lexsort((g_len[hit], g_pos[hit], g_sid[hit]))]
    pars_sets: dict[int, list] = {}
    for s_i, j, length, gh in zip(g_sid[order].tolist(), g_pos[order].tolist(), g_len[order].tolist(),
                                  g_hash[order].tolist()):
        sentences[s_i].src.append((j, length, entries[gh]))
        pars_sets.setdefault(s_i, []).append(pars_of[gh])
    for s_i, sets in pars_sets.items():
        sentences[s_i].src_pars = frozenset().union(*sets)
    # phrases of each sentence that are paraphrases of something, with their start positions
    hit = member(par_keys)
    order = hit[np.lexsort((g_pos[hit], g_sid[hit]))]
    touched = set()
    for s_i, j, gh in zip(g_sid[order].tolist(), g_pos[order].tolist(), g_hash[order].tolist()):
        sentences[s_i].tgt.setdefault(gh, []).append(j)
        touched.add(s_i)
    for s_i in touched:
        sentences[s_i].tgt_keys = frozenset(sentences[s_i].tgt)


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
# (more weighted matches, then fewer chunks, then smaller distance) into one integer:
# -matches * 2**64 + chunks * 2**32 + distance, so sorting by it ranks paths as the jar does.
_KEY = itemgetter(0)
_CHUNK = 1 << 32
_MATCH = 1 << 64


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
    # per candidate: (match, line-1 mask, line-2 mask, -gain key, line-2 end, line-1 start,
    # line-1 end, |line-2 start - line-1 start|)
    info = [
        [(m, ((1 << m[3]) - 1) << m[2], ((1 << m[1]) - 1) << m[0], -_gain(m) * _MATCH,
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
                    key = path[0] - _gain(m) * _MATCH + abs(m[0] - m[2])
                    if path[2] != -1 and m[2] != path[2]:
                        key += _CHUNK
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
                        k += _CHUNK
                    nxt.append([k, end2, end1, u1 | mask1, u2 | mask2, (chain, current, m)])
                    # the jar credits this match's distance to the path it branched from
                    key += dist
                path[0] = key
            if path[2] != -1:
                path[0] += _CHUNK
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
            path[0] += _CHUNK
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
