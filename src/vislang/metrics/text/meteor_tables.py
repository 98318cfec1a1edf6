"""The compact forms of METEOR 1.5's big resources, as cached by :mod:`.meteor_resources`.

* phrase hashing: a 64-bit polynomial hash of a phrase's space-joined UTF-8 bytes, computable
  per word (:func:`byte_hash`, :func:`base_power`) and for a whole file at once (:func:`_hash_lines`);
* :class:`ParaphraseTable`: ``paraphrase-en.gz`` as sorted hash arrays plus two bitmaps
  (:func:`_build_paraphrase` makes them from the file);
* :class:`SynsetTable`: WordNet synsets per word as sorted arrays looked up in batches;
* :class:`WordTable`: per-word facts of the words the resources know, computed at build time.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_MASK = (1 << 64) - 1
#: Base of the polynomial phrase hash (odd, so powers never vanish modulo 2**64).
HASH_BASE = 0x9E3779B97F4A7C15
SPACE_CODE = ord(" ") + 1


def byte_hash(data: bytes) -> int:
    """Polynomial hash of a byte string: sum_k (b_k + 1) * BASE**k mod 2**64.

    Phrases are hashed as their single-space-joined UTF-8 bytes.  The hash of ``x + b" " + y``
    is ``hash(x) + BASE**len(x) * (SPACE_CODE + BASE * hash(y))``, which is how the phrases of a
    sentence are hashed from per-word values without building the strings, and the hash of
    ``buf[s:e]`` is ``(S[e] - S[s]) * BASE**-s`` with ``S`` the prefix sums of
    ``(b_k + 1) * BASE**k`` over a whole file, which is how the paraphrase table is hashed.
    """
    h = 0
    p = 1
    for b in data:
        h = (h + (b + 1) * p) & _MASK
        p = (p * HASH_BASE) & _MASK
    return h


def base_power(n: int) -> int:
    return pow(HASH_BASE, n, 1 << 64)


#: Bitmaps over the top ``BITMAP_BITS`` bits of phrase hashes (a Bloom filter with one hash).
BITMAP_BITS = 26


@dataclass
class ParaphraseTable:
    """The paraphrase table as hashes: entry ``k`` says phrase ``ref_hash[k]`` may be matched by
    phrase ``par_hash[k]`` (``par_len[k]`` words).  Entries are sorted by ``ref_hash`` with ties in
    file order, which is the order METEOR tries them.

    ``phrase_bits`` / ``prefix_bits``: bitmaps (bit ``h >> (64 - BITMAP_BITS)``) of the hashes of
    the phrases on either side of the table and of their proper word prefixes.  A clear bit proves
    a phrase is not in the table (or not the start of a longer table phrase), so a sentence's
    phrases are looked up, and extended by a word, only where the bit is set."""

    ref_hash: np.ndarray  # uint64, sorted
    par_hash: np.ndarray  # uint64
    par_len: np.ndarray  # uint8
    phrase_bits: np.ndarray  # uint8, 2**BITMAP_BITS bits
    prefix_bits: np.ndarray  # uint8, 2**BITMAP_BITS bits
    max_len: int


def bit_test(bits: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Whether the bitmap's bit of each hash is set."""
    slot = h >> np.uint64(64 - BITMAP_BITS)
    return ((bits[slot >> np.uint64(3)] >> (slot & np.uint64(7)).astype(np.uint8)) & 1).astype(bool)


def _bitmap(h: np.ndarray) -> np.ndarray:
    bits = np.zeros(1 << (BITMAP_BITS - 3), dtype=np.uint8)
    slot = np.unique(h >> np.uint64(64 - BITMAP_BITS))
    byte, bit = slot >> np.uint64(3), slot & np.uint64(7)
    for b in range(8):  # slots are distinct, so each (byte, bit) is set once
        at = byte[bit == b]
        bits[at] |= np.uint8(1 << b)
    return bits


def _find(words: np.ndarray, queries: list[str]) -> list[int]:
    """Index of each query in the sorted fixed-width byte-string array ``words``, -1 if absent."""
    if not queries or not len(words):
        return [-1] * len(queries)
    width = words.dtype.itemsize
    enc = [q.encode("utf-8") for q in queries]
    # a fixed-width array would truncate long words and drop trailing NULs: such words are absent
    ok = [0 < len(b) <= width and not b.endswith(b"\0") for b in enc]
    q = np.array([b if good else b"" for b, good in zip(enc, ok)], dtype=words.dtype)
    at = np.minimum(np.searchsorted(words, q), len(words) - 1)
    hit = (words[at] == q).tolist()
    return [k if h and good else -1 for k, h, good in zip(at.tolist(), hit, ok)]


@dataclass
class WordTable:
    """Word facts computed when the cache is built, for every word form the jar's resources name
    (WordNet lemmas, irregular forms, function words): word ``k`` of the sorted fixed-width array
    ``words`` has Java hash key ``key[k]``, stem key ``stem[k]``, function-word flag ``func[k]``,
    phrase-hash values ``th[k]`` / ``tp[k]`` and synsets (its own and its base form's)
    ``syn_ids[syn_offsets[k]:syn_offsets[k + 1]]``, exactly what :class:`.meteor_lexicon.Lexicon`
    computes for a word it has not seen (it looks words up here first)."""

    words: np.ndarray  # S<max len>, sorted
    key: np.ndarray  # int32
    stem: np.ndarray  # int32
    func: np.ndarray  # bool
    th: np.ndarray  # uint64
    tp: np.ndarray  # uint64
    syn_offsets: np.ndarray  # int64, len(words) + 1
    syn_ids: np.ndarray  # int32

    NAMES = ("words", "key", "stem", "func", "th", "tp", "syn_offsets", "syn_ids")

    def find(self, queries: list[str]) -> list[int]:
        return _find(self.words, queries)


def _word_arrays(words: list[str], keys, stems, func, th, tp, synsets) -> dict[str, np.ndarray]:
    """The :class:`WordTable` arrays (file names ``word_<field>.npy``) of per-word facts given in
    the order of ``words``."""
    order = sorted(range(len(words)), key=lambda k: words[k].encode("utf-8"))
    enc = [words[k].encode("utf-8") for k in order]
    width = max((len(b) for b in enc), default=1)
    counts = np.array([len(synsets[k]) for k in order], dtype=np.int64)
    return {
        "word_words": np.array(enc, dtype=f"S{width}"),
        "word_key": np.array([keys[k] for k in order], dtype=np.int32),
        "word_stem": np.array([stems[k] for k in order], dtype=np.int32),
        "word_func": np.array([func[k] for k in order], dtype=bool),
        "word_th": np.array([th[k] for k in order], dtype=np.uint64),
        "word_tp": np.array([tp[k] for k in order], dtype=np.uint64),
        "word_syn_offsets": np.concatenate(([0], np.cumsum(counts))).astype(np.int64),
        "word_syn_ids": np.array([i for k in order for i in sorted(synsets[k])], dtype=np.int32),
    }


@dataclass
class SynsetTable:
    """WordNet synsets per word (``synonym/english.synsets``) as arrays: ``words`` sorted (bytes,
    fixed width), word ``k``'s synset ids are ``ids[offsets[k]:offsets[k + 1]]``.  Memory-mapped
    from the cache and looked up in batches with a binary search, so nothing is parsed at load."""

    words: np.ndarray  # S<max len>, sorted
    offsets: np.ndarray  # int64, len(words) + 1
    ids: np.ndarray  # int32

    def find(self, queries: list[str]) -> list[int]:
        """Index of each word in ``words``, -1 if absent."""
        return _find(self.words, queries)

    def synsets_of(self, k: int) -> list[int]:
        return self.ids[self.offsets[k]: self.offsets[k + 1]].tolist() if k >= 0 else []

    def get(self, word: str, default=()) -> tuple[int, ...]:
        k = self.find([word])[0]
        return tuple(self.synsets_of(k)) if k >= 0 else default

    def __contains__(self, word: str) -> bool:
        return self.find([word])[0] >= 0

    def __len__(self) -> int:
        return len(self.words)

    def __eq__(self, other) -> bool:
        return isinstance(other, SynsetTable) and all(
            np.array_equal(getattr(self, n), getattr(other, n)) for n in ("words", "offsets", "ids"))


def _synset_arrays(synsets: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    words = sorted(synsets, key=lambda w: w.encode("utf-8"))
    width = max((len(w.encode("utf-8")) for w in words), default=1)
    counts = np.array([len(synsets[w]) for w in words], dtype=np.int64)
    return {
        "syn_words": np.array([w.encode("utf-8") for w in words], dtype=f"S{width}"),
        "syn_offsets": np.concatenate(([0], np.cumsum(counts))).astype(np.int64),
        "syn_ids": np.array([i for w in words for i in synsets[w]], dtype=np.int32),
    }


def _hash_lines(buf: np.ndarray, bounds: list[tuple[np.ndarray, np.ndarray]],
                chunk: int = 1 << 22) -> list[np.ndarray]:
    """:func:`byte_hash` of the lines ``buf[s:e]`` for each ``(starts, ends)`` pair (both ascending),
    from prefix sums of ``(b + 1) * BASE**k`` computed chunk by chunk (no Python loop per line)."""
    mask = (1 << 64) - 1
    inv = pow(HASH_BASE, -1, 1 << 64)
    powers = np.full(chunk, HASH_BASE, dtype=np.uint64)
    powers[0] = 1
    inv_powers = np.full(chunk, inv, dtype=np.uint64)
    inv_powers[0] = 1
    with np.errstate(over="ignore"):
        powers = np.cumprod(powers, dtype=np.uint64)
        inv_powers = np.cumprod(inv_powers, dtype=np.uint64)
    n_chunks = (buf.size + chunk - 1) // chunk
    step, step_inv = pow(HASH_BASE, chunk, 1 << 64), pow(inv, chunk, 1 << 64)
    chunk_pow, chunk_inv = [1], [1]
    for _ in range(n_chunks):
        chunk_pow.append(chunk_pow[-1] * step & mask)
        chunk_inv.append(chunk_inv[-1] * step_inv & mask)
    chunk_inv_arr = np.array(chunk_inv, dtype=np.uint64)
    # S at every requested position, filled chunk by chunk
    positions = [arr for pair in bounds for arr in pair]
    prefix = [np.zeros(arr.size, dtype=np.uint64) for arr in positions]
    carry = np.uint64(0)
    with np.errstate(over="ignore"):
        for c in range(n_chunks):
            o = c * chunk
            part = buf[o: o + chunk]
            vals = (part.astype(np.uint64) + np.uint64(1)) * powers[: part.size] * np.uint64(chunk_pow[c])
            cs = np.empty(part.size + 1, dtype=np.uint64)
            cs[0] = 0
            np.cumsum(vals, out=cs[1:])
            cs += carry
            last = c == n_chunks - 1
            for arr, out in zip(positions, prefix):
                lo = np.searchsorted(arr, o, side="left")
                hi = arr.size if last else np.searchsorted(arr, o + chunk, side="left")
                out[lo:hi] = cs[arr[lo:hi] - o]
            carry = cs[-1]
        hashes = []
        for k, (starts, _) in enumerate(bounds):
            s_pref, e_pref = prefix[2 * k], prefix[2 * k + 1]
            shift = inv_powers[starts % chunk] * chunk_inv_arr[starts // chunk]
            hashes.append((e_pref - s_pref) * shift)
    return hashes


def _build_paraphrase(path: Path) -> dict[str, np.ndarray]:
    """Hash every (phrase, paraphrase) entry of ``paraphrase-en.gz``: triples of lines
    ``probability / phrase / paraphrase``, words separated by single spaces."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    if not data.endswith(b"\n"):
        data += b"\n"
    buf = np.frombuffer(data, dtype=np.uint8)
    nl = np.flatnonzero(buf == 10)
    starts = np.concatenate(([0], nl[:-1] + 1))
    n_entries = nl.size // 3
    ref_s, ref_e = starts[1: 3 * n_entries: 3], nl[1: 3 * n_entries: 3]
    par_s, par_e = starts[2: 3 * n_entries: 3], nl[2: 3 * n_entries: 3]
    del nl, starts
    spaces = np.flatnonzero(buf == 32)
    ref_n = np.searchsorted(spaces, ref_e) - np.searchsorted(spaces, ref_s) + 1
    par_n = np.searchsorted(spaces, par_e) - np.searchsorted(spaces, par_s) + 1
    rh, ph = _hash_lines(buf, [(ref_s, ref_e), (par_s, par_e)])
    order = np.argsort(rh, kind="stable")
    # the distinct phrases of both sides, and their proper word prefixes (ends at inner spaces)
    both = np.concatenate([rh, ph])
    _, first = np.unique(both, return_index=True)
    ph_s = np.concatenate([ref_s, par_s])[first]
    ph_e = np.concatenate([ref_e, par_e])[first]
    by_pos = np.argsort(ph_s)
    ph_s, ph_e = ph_s[by_pos], ph_e[by_pos]
    lo, hi = np.searchsorted(spaces, ph_s), np.searchsorted(spaces, ph_e)
    cnt = hi - lo
    inner = spaces[np.repeat(lo - np.cumsum(cnt) + cnt, cnt) + np.arange(int(cnt.sum()))]
    (pre_h,) = _hash_lines(buf, [(np.repeat(ph_s, cnt), inner)])
    return {
        "ref_hash": rh[order],
        "par_hash": ph[order],
        "par_len": par_n.astype(np.uint8)[order],
        "phrase_bits": _bitmap(both),
        "prefix_bits": _bitmap(pre_h),
        "max_len": np.array([max(int(ref_n.max(initial=0)), int(par_n.max(initial=0)))], dtype=np.int64),
    }
