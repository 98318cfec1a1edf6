"""Word facts and sentence preparation for METEOR 1.5 matching.

* :class:`Lexicon`: gives each distinct word an integer id and keeps, per id, computed once: the
  Java ``String.hashCode`` key the jar compares words by, the key of its Snowball stem, its
  WordNet synonym partners (ids of the other known words sharing a synset; a word's synsets are
  its own plus its base form's: irregular forms from the exception list, else WordNet 3.0's
  detachment rules), the function-word flag and its phrase-hash values.
* :class:`Sentence`: a tokenised line as word ids, with the per-position facts matching needs;
  the position indexes of a hypothesis are built on first use.
"""

from __future__ import annotations

from itertools import chain

import numpy as np

from vislang.metrics.text.meteor_resources import MeteorResources
from vislang.metrics.text.meteor_tables import base_power, byte_hash
from vislang.metrics.text.meteor_stem import stem

# WordNet 3.0 morphological detachment rules (suffix, replacement), nouns, verbs, adjectives.
_DETACH = (
    ("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"),
    ("men", "man"), ("ies", "y"),
    ("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"),
    ("ing", ""),
    ("er", ""), ("est", ""), ("er", "e"), ("est", "e"),
)
_DETACH_ANY = tuple(suf for suf, _ in _DETACH)


def s_forms(lemmas) -> set[str]:
    """The regular plural / third-person forms of lower-case lemmas (English spelling: ``-es`` after
    a sibilant, ``-es`` and ``-s`` after ``o``, ``-ies`` for a consonant + ``y``, else ``-s``).
    WordNet lists lemmas only, so these forms ("dogs", "jumps", "rides"), the most frequent words
    of a caption set missing from the resources, get table rows too; a form that is not a word
    costs a row and nothing else."""
    out = set()
    for w in lemmas:
        if w.endswith(("s", "x", "z", "ch", "sh")):
            out.add(w + "es")
        elif w.endswith("o"):  # "potatoes", "photos"
            out.update((w + "es", w + "s"))
        elif len(w) > 1 and w[-1] == "y" and w[-2] not in "aeiou":
            out.add(w[:-1] + "ies")
        else:
            out.add(w + "s")
    return out


def java_hash(s: str) -> int:
    """``java.lang.String.hashCode`` (UTF-16 code units, signed 32-bit)."""
    h = 0
    if s.isascii():  # one UTF-16 code unit per byte
        for b in s.encode("ascii"):
            h = (31 * h + b) & 0xFFFFFFFF
    else:
        data = s.encode("utf-16-le")
        for k in range(0, len(data), 2):
            h = (31 * h + (data[k] | (data[k + 1] << 8))) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


class Lexicon:
    """Word ids and per-word facts (hash key, stem key, synonym partners, function word, phrase
    hash), each computed once per word; ``key[wid]``, ``stem[wid]``... are lists indexed by id."""

    def __init__(self, res: MeteorResources, use_synonyms: bool = True):
        self.res = res
        self.use_synonyms = use_synonyms
        self.index: dict[str, int] = {}
        self.key: list[int] = []
        self.stem: list[int] = []
        self.func: list[bool] = []
        #: ``partners[wid]``: ids of the other known words sharing a synset with it
        self.partners: list[set[int]] = []
        self.th: list[int] = []
        self.tp: list[int] = []
        self._by_synset: dict[int, list[int]] = {}

    def _base_candidates(self, word: str) -> tuple[bool, list[str]]:
        """``(is_exception, forms)``: the word's base forms from the exception list, or the
        candidates of WordNet's detachment rules in rule order (the first one known wins)."""
        bases = self.res.exceptions.get(word)
        if bases is not None:
            return True, list(bases)
        if word.endswith("ss") or len(word) <= 2:
            return True, [word]
        if not word.endswith(_DETACH_ANY):
            return True, []
        return False, [word[: len(word) - len(suf)] + rep for suf, rep in _DETACH if word.endswith(suf)]

    def _synsets_many(self, words: list[str]) -> list[set[int]]:
        """Synset ids of each word: its own plus its base form's (all exception bases, else the
        first detachment candidate that is a known word), looked up in one batch."""
        syn = self.res.synsets
        plans = [self._base_candidates(w) for w in words]
        queries = list(words)
        for _, forms in plans:
            queries += forms
        found = syn.find(queries)
        out = []
        at = len(words)
        for k, (all_forms, forms) in enumerate(plans):
            ids = set(syn.synsets_of(found[k]))
            idx = found[at: at + len(forms)]
            at += len(forms)
            if all_forms:
                for f in idx:
                    ids.update(syn.synsets_of(f))
            else:
                for f in idx:
                    if f >= 0:
                        ids.update(syn.synsets_of(f))
                        break
            out.append(ids)
        return out

    def _facts(self, words: list[str]) -> tuple[list, list, list, list, list, list]:
        """``(keys, stem keys, function flags, phrase hashes, hash powers, synsets)`` of new words:
        looked up in the cache's :class:`.meteor_tables.WordTable` where it has them, computed
        (identically) for the others."""
        n = len(words)
        table = self.res.words
        at = table.find(words) if table is not None else [-1] * n
        todo = [k for k in range(n) if at[k] < 0]
        keys: list = [0] * n
        stems: list = [0] * n
        func: list = [False] * n
        th: list = [0] * n
        tp: list = [0] * n
        synsets: list = [()] * n
        if len(todo) < n:  # from the table
            got = [k for k in range(n) if at[k] >= 0]
            rows = np.array([at[k] for k in got], dtype=np.int64)
            for out, col in ((keys, table.key), (stems, table.stem), (func, table.func), (th, table.th),
                             (tp, table.tp)):
                for k, v in zip(got, col[rows].tolist()):
                    out[k] = v
            if self.use_synonyms:
                ids, off = table.syn_ids, table.syn_offsets
                for k, lo, hi in zip(got, off[rows].tolist(), off[rows + 1].tolist()):
                    if hi > lo:
                        synsets[k] = ids[lo:hi].tolist()
        if todo:  # computed
            fw = self.res.function_words
            new = [words[k] for k in todo]
            if self.use_synonyms:
                for k, ys in zip(todo, self._synsets_many(new)):
                    synsets[k] = ys
            for k, word in zip(todo, new):
                keys[k] = java_hash(word)
                stems[k] = java_hash(stem(word))
                func[k] = word.lower() in fw
                data = word.encode("utf-8")
                th[k] = byte_hash(data)
                tp[k] = base_power(len(data))
        return keys, stems, func, th, tp, synsets

    def _add_many(self, words: list[str]) -> None:
        keys, stems, func, th, tp, synsets = self._facts(words)
        by_synset, partners = self._by_synset, self.partners
        index = self.index
        for word, ys in zip(words, synsets):
            wid = len(partners)
            mine: set[int] = set()
            partners.append(mine)
            for y in ys:
                others = by_synset.setdefault(y, [])
                for v in others:
                    if v not in mine:
                        mine.add(v)
                        partners[v].add(wid)
                others.append(wid)
            index[word] = wid
        self.key += keys
        self.stem += stems
        self.func += func
        self.th += th
        self.tp += tp

    def ids_many(self, sentences: list[list[str]]) -> list[list[int]]:
        """Word ids of each sentence; the batch's new words are registered together."""
        index = self.index
        new = [w for w in dict.fromkeys(chain.from_iterable(sentences)) if w not in index]  # in order
        if new:
            self._add_many(new)
        get = index.__getitem__
        return [list(map(get, ws)) for ws in sentences]

    def ids(self, words: list[str]) -> list[int]:
        return self.ids_many([words])[0]


class Sentence:
    """A tokenised line as word ids with the per-position facts matching needs.

    ``keys``: Java hash keys (exact matching), ``func``: function-word flags.  As a hypothesis
    (line 1) it also needs ``key_pos`` / ``stem_pos`` (positions per key / stem key) and the set of
    its word ids, built by :meth:`index_for`; ``memo`` caches its candidate positions per
    reference word.
    """

    __slots__ = ("ids", "n", "keys", "func", "nfunc", "key_pos", "stem_pos", "idset", "memo", "wts",
                 "wlen")

    def __init__(self, ids: list[int], lex: Lexicon):
        self.ids = ids
        self.n = len(ids)
        self.keys = list(map(lex.key.__getitem__, ids))
        self.func = func = list(map(lex.func.__getitem__, ids))
        self.nfunc = float(func.count(True))
        self.key_pos = None
        self.wts = None  # per-word content/function weights, filled by the scorer when needed

    def index_for(self, lex: Lexicon) -> None:
        key_pos: dict[int, list[int]] = {}
        stem_pos: dict[int, list[int]] = {}
        stems = lex.stem
        for i, (k, w) in enumerate(zip(self.keys, self.ids)):
            key_pos.setdefault(k, []).append(i)
            stem_pos.setdefault(stems[w], []).append(i)
        self.key_pos = key_pos
        self.stem_pos = stem_pos
        self.idset = frozenset(self.ids)
        self.memo = {}


def word_table_arrays(res: MeteorResources, words: list[str]) -> dict:
    """The cache's :class:`.meteor_tables.WordTable` arrays for ``words``, computed by a
    :class:`Lexicon` without a table (so a lookup gives exactly what computing gives)."""
    from vislang.metrics.text.meteor_tables import _word_arrays

    lex = Lexicon(res)
    keys, stems, func, th, tp, synsets = lex._facts(words)
    return _word_arrays(words, keys, stems, func, th, tp, synsets)
