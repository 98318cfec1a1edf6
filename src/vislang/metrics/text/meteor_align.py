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

from vislang.metrics.text.meteor_resources import PHRASE_H0, MeteorResources, token_hash
from vislang.metrics.text.meteor_stem import stem

EXACT, STEM, SYNONYM, PARAPHRASE = 0, 1, 2, 3
BEAM_SIZE = 40
#: Weights of the stages while searching for the best alignment (the scorer's weights differ).
SEARCH_WEIGHTS = (1.0, 0.5, 0.5, 0.5)

_MASK64 = (1 << 64) - 1
_MUL = 0x100000001B3 * 0x5851F42D4C957F2D & _MASK64 | 1

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
        """``(key, stem_key, synsets, is_function_word, token_hash)`` of one word."""
        got = self._info.get(word)
        if got is None:
            got = (
                java_hash(word),
                java_hash(stem(word)),
                self._synsets(word) if self.use_synonyms else frozenset(),
                word.lower() in self.res.function_words,
                token_hash(word.encode("utf-8")),
            )
            self._info[word] = got
        return got


class Sentence:
    """A tokenised line with its per-word facts and its phrase hashes."""

    __slots__ = ("words", "keys", "stems", "syns", "func", "grams", "gram_pos", "n")

    def __init__(self, words: list[str], lex: Lexicon, max_len: int):
        self.words = words
        self.n = n = len(words)
        infos = [lex.info(w) for w in words]
        self.keys = [x[0] for x in infos]
        self.stems = [x[1] for x in infos]
        self.syns = [x[2] for x in infos]
        self.func = [x[3] for x in infos]
        th = [x[4] for x in infos]
        grams: list[list[int]] = []
        pos: dict[int, list[int]] = {}
        for j in range(n):
            h = PHRASE_H0
            row = []
            for k in range(j, min(n, j + max_len)):
                h = ((h ^ th[k]) * _MUL) & _MASK64
                row.append(h)
                pos.setdefault(h, []).append(j)
            grams.append(row)
        self.grams = grams
        self.gram_pos = pos


def _collect(t: Sentence, r: Sentence, modules: tuple[int, ...], para: dict | None):
    """Candidate matches per reference position, and word coverage counts."""
    n1, n2 = t.n, r.n
    matches: list[list[tuple]] = [[] for _ in range(n2)]
    cov1 = [0] * n1
    cov2 = [0] * n2
    k1, k2 = t.keys, r.keys
    if n1 == n2 and k1 == k2:
        modules = modules[:1]
    for stage, mod in enumerate(modules):
        if mod == PARAPHRASE:
            if not para:
                continue
            # phrases of the reference, paraphrased in the hypothesis
            for j in range(n2):
                for length, h in enumerate(r.grams[j], 1):
                    entries = para.get(h)
                    if not entries:
                        continue
                    for _, ph, plen in entries:
                        for i in t.gram_pos.get(ph, ()):
                            if i + plen > n1:
                                continue
                            matches[j].append((j, length, i, plen, stage))
                            for q in range(i, i + plen):
                                cov1[q] += 1
                            for q in range(j, j + length):
                                cov2[q] += 1
            # phrases of the hypothesis, paraphrased in the reference
            for i in range(n1):
                for length, h in enumerate(t.grams[i], 1):
                    entries = para.get(h)
                    if not entries:
                        continue
                    for _, ph, plen in entries:
                        for j in r.gram_pos.get(ph, ()):
                            if j + plen > n2:
                                continue
                            matches[j].append((j, plen, i, length, stage))
                            for q in range(i, i + length):
                                cov1[q] += 1
                            for q in range(j, j + plen):
                                cov2[q] += 1
            continue
        for j in range(n2):
            kj = k2[j]
            if mod == EXACT:
                hits = [i for i in range(n1) if k1[i] == kj]
            elif mod == STEM:
                sj = r.stems[j]
                s1 = t.stems
                hits = [i for i in range(n1) if s1[i] == sj and k1[i] != kj]
            else:
                yj = r.syns[j]
                if not yj:
                    continue
                y1 = t.syns
                hits = [i for i in range(n1) if k1[i] != kj and not yj.isdisjoint(y1[i])]
            for i in hits:
                matches[j].append((j, 1, i, 1, stage))
                cov1[i] += 1
                cov2[j] += 1
    return matches, cov1, cov2, modules


class _Path:
    __slots__ = ("chosen", "m12", "chunks", "idx", "last", "dist", "used1", "used2")

    def copy(self) -> "_Path":
        p = _Path.__new__(_Path)
        p.chosen, p.m12, p.chunks, p.idx = self.chosen, self.m12, self.chunks, self.idx
        p.last, p.dist, p.used1, p.used2 = self.last, self.dist, self.used1, self.used2
        return p


def _sort_key(p: _Path):
    return (-p.m12, p.chunks, p.dist)


def _search_gain(m: tuple) -> int:
    # int += double in Java truncates: exact adds the word counts, the others half of each, floored
    if m[4] == 0 and SEARCH_WEIGHTS[0] == 1.0:
        return m[1] + m[3]
    w = SEARCH_WEIGHTS[m[4]] if m[4] < len(SEARCH_WEIGHTS) else 0.5
    return int(m[3] * w) + int(m[1] * w)


def align(t: Sentence, r: Sentence, modules: tuple[int, ...], para: dict | None):
    """Best alignment of hypothesis ``t`` to reference ``r``.

    Returns ``(fixed_matches, chunks, n_stages)`` where ``fixed_matches`` maps a reference
    start position to its match tuple.
    """
    n1, n2 = t.n, r.n
    cands, cov1, cov2, used_modules = _collect(t, r, modules, para)
    fixed: dict[int, tuple] = {}
    used1 = used2 = 0
    for j in range(n2):
        lst = cands[j]
        if len(lst) != 1:
            continue
        m = lst[0]
        if all(cov2[q] == 1 for q in range(j, j + m[1])) and all(
            cov1[q] == 1 for q in range(m[2], m[2] + m[3])
        ):
            fixed[j] = m
            for q in range(j, j + m[1]):
                used2 |= 1 << q
            for q in range(m[2], m[2] + m[3]):
                used1 |= 1 << q
    start = _Path()
    start.chosen, start.m12, start.chunks, start.idx = None, 0, 0, 0
    start.last, start.dist, start.used1, start.used2 = -1, 0, used1, used2
    paths = [start]
    for current in range(n2 + 1):
        if len(paths) > 1:
            paths.sort(key=_sort_key)
        nxt: list[_Path] = []
        for path in paths[:BEAM_SIZE]:
            if current == n2:
                if path.last != -1:
                    path.chunks += 1
                nxt.append(path)
                continue
            if path.used2 >> current & 1:
                if current < path.idx:
                    nxt.append(path)
                    continue
                m = fixed.get(path.idx)
                if m is None:
                    m = _chosen_at(path.chosen, path.idx)
                if m is not None:
                    path.m12 += _search_gain(m)
                    if path.last != -1 and m[2] != path.last:
                        path.chunks += 1
                    path.idx = m[0] + m[1]
                    path.last = m[2] + m[3]
                    path.dist += abs(m[0] - m[2])
                    nxt.append(path)
                continue
            for m in cands[current]:
                mask2 = ((1 << m[1]) - 1) << m[0]
                mask1 = ((1 << m[3]) - 1) << m[2]
                if path.used2 & mask2 or path.used1 & mask1:
                    continue
                q = path.copy()
                q.used1 |= mask1
                q.used2 |= mask2
                q.chosen = (path.chosen, current, m)
                q.m12 += _search_gain(m)
                if q.last != -1 and m[2] != q.last:
                    q.chunks += 1
                q.idx = m[0] + m[1]
                q.last = m[2] + m[3]
                path.dist += abs(m[0] - m[2])
                nxt.append(q)
            if path.last != -1:
                path.chunks += 1
                path.last = -1
            path.idx += 1
            nxt.append(path)
        if not nxt:
            nxt.append(paths[0])
        paths = nxt
    if len(paths) > 1:
        paths.sort(key=_sort_key)
    best = paths[0]
    final = dict(fixed)
    node = best.chosen
    while node is not None:
        node, pos, m = node
        final[pos] = m
    return final, _count_chunks(final, n2), len(used_modules)


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
