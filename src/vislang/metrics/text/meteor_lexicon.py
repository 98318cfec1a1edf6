"""Word facts and sentence preparation for METEOR 1.5 matching.

* :class:`Lexicon`: per word, memoised: the Java ``String.hashCode`` key the jar compares words
  by, the key of its Snowball stem, its WordNet synonym partners (other known words sharing a
  synset; a word's synsets are its own plus its base form's: irregular forms from the exception
  list, else WordNet 3.0's detachment rules), the function-word flag and its phrase-hash values.
* :class:`Sentence`: a tokenised line with those facts and position indexes.
* :func:`prepare`: hashes every phrase (up to the table's longest) of a batch of sentences with
  numpy, looks them all up in the paraphrase table at once and attaches to each sentence the
  phrases it can paraphrase (``src``) and the phrases of it that are paraphrases (``tgt``).
"""

from __future__ import annotations

from vislang.metrics.text.meteor_resources import HASH_BASE, SPACE_CODE, MeteorResources, base_power, byte_hash
from vislang.metrics.text.meteor_stem import stem

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
    p = np.zeros(total, dtype=np.uint64)  # BASE ** (bytes of the phrase so far)
    g_sid, g_pos, g_len, g_hash = [], [], [], []
    with np.errstate(over="ignore"):
        for length in range(1, table.max_len + 1):
            valid = np.arange(total) + length <= ends
            if not valid.any():
                break
            idx = np.flatnonzero(valid)
            k = idx + length - 1  # the word that extends each phrase
            if length == 1:
                h[idx] = th[idx]
                p[idx] = tp[idx]
            else:
                h[idx] = h[idx] + p[idx] * (space + base * th[k])
                p[idx] = p[idx] * base * tp[k]
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
