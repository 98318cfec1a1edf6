"""The language resources of METEOR 1.5 (English), located, parsed and cached.

METEOR needs four resources; all come from the METEOR 1.5 distribution, which
pycocoevalcap ships as ``pycocoevalcap/meteor/meteor-1.5.jar`` (a zip archive) plus
``pycocoevalcap/meteor/data/paraphrase-en.gz``:

* ``function/english.words`` (in the jar): the function-word list (delta weighting);
* ``nonbreaking/english.prefixes`` (in the jar): Moses non-breaking prefixes for ``-norm``;
* ``synonym/english.synsets`` and ``synonym/english.exceptions`` (in the jar): WordNet 3.0
  synsets per word and irregular forms (the synonym stage);
* ``data/paraphrase-en.gz``: the paraphrase table (Denkowski & Lavie 2010/2014), triples of
  lines ``probability / phrase / paraphrase``.

The stemmer is the Snowball English algorithm (:mod:`.meteor_stem`), not a data file.

Where they are looked for, first hit wins: the ``resources=`` argument (a directory holding
``meteor-1.5.jar`` and ``data/paraphrase-en.gz``, or the jar path), ``$VISLANG_METEOR_DIR``,
then the installed pycocoevalcap package (located, never imported).  Parsed forms are cached
under ``cache_dir("meteor")`` keyed by the SHA-256 of the source files: a pickle of the small
tables, the synsets as ``.npy`` arrays (sorted words, offsets, synset ids) and, for the paraphrase table, ``.npy`` arrays of 64-bit phrase hashes and two bitmaps
(which phrases, and which word prefixes of phrases, the table holds) that are memory-mapped on
later runs, so loading takes a fraction of a second and only the pages a batch touches are read.
"""

from __future__ import annotations

import contextlib
import gzip
import importlib.util
import json
import os
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
import numpy as np

from vislang.errors import ResourceNotFound
from vislang.fileio import atomic_write, cache_dir, sha256_file
from vislang.metrics.text.meteor_normalize import java_tokens, parse_prefixes

JAR_NAME = "meteor-1.5.jar"
PARAPHRASE_NAME = "paraphrase-en.gz"
ENV_DIR = "VISLANG_METEOR_DIR"
CACHE_VERSION = 4  # paraphrase arrays
JAR_CACHE_VERSION = 5  # small tables and the synset arrays

HOW_TO_GET = (
    "METEOR 1.5 resources (meteor-1.5.jar and data/paraphrase-en.gz) not found; "
    "`pip install pycocoevalcap` provides them, or pass resources=DIR / set $VISLANG_METEOR_DIR "
    "to a folder holding meteor-1.5.jar and data/paraphrase-en.gz"
)

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
        if not queries:
            return []
        width = self.words.dtype.itemsize
        enc = [q.encode("utf-8") for q in queries]
        # a fixed-width array would truncate long words and drop trailing NULs: such words are absent
        ok = [0 < len(b) <= width and not b.endswith(b"\0") for b in enc]
        q = np.array([b if good else b"" for b, good in zip(enc, ok)], dtype=self.words.dtype)
        at = np.minimum(np.searchsorted(self.words, q), len(self.words) - 1)
        hit = (self.words[at] == q).tolist()
        return [k if h and good else -1 for k, h, good in zip(at.tolist(), hit, ok)]

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


@dataclass
class MeteorResources:
    """Everything METEOR 1.5 English needs besides the stemmer."""

    function_words: frozenset[str]
    prefixes: dict[str, int]
    synsets: SynsetTable
    exceptions: dict[str, tuple[str, ...]]
    paraphrase: ParaphraseTable | None
    source: dict[str, str] = field(default_factory=dict)


def _pycocoevalcap_dir() -> Path | None:
    try:
        spec = importlib.util.find_spec("pycocoevalcap")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "meteor"


def locate(resources: str | os.PathLike | None = None) -> tuple[Path, Path | None]:
    """``(jar, paraphrase_gz or None)``; raises :class:`ResourceNotFound` with how to get them."""
    candidates: list[Path] = []
    if resources is not None:
        p = Path(resources)
        if p.is_file():
            jar = p
            para = p.parent / "data" / PARAPHRASE_NAME
            return jar, (para if para.is_file() else None)
        if not p.is_dir():
            raise ResourceNotFound(f"{p}: no such file or folder; {HOW_TO_GET}")
        candidates.append(p)
    else:
        env = os.environ.get(ENV_DIR)
        if env:
            candidates.append(Path(env))
        pkg = _pycocoevalcap_dir()
        if pkg is not None:
            candidates.append(pkg)
    for d in candidates:
        jar = d / JAR_NAME
        if jar.is_file():
            para = d / "data" / PARAPHRASE_NAME
            if not para.is_file():
                para = d / PARAPHRASE_NAME
            return jar, (para if para.is_file() else None)
    where = ", ".join(str(c) for c in candidates) or "nowhere"
    raise ResourceNotFound(f"looked in {where}: {HOW_TO_GET}")


_SHA_MEMO: dict[str, str] = {}


def _file_sha(path: Path) -> str:
    """SHA-256 of a file, remembered per (path, size, mtime) so a warm start reads nothing big."""
    st = path.stat()
    key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    if key in _SHA_MEMO:
        return _SHA_MEMO[key]
    index_path = cache_dir("meteor") / "sha_index.json"
    try:
        index = json.loads(index_path.read_text())
    except (OSError, ValueError):
        index = {}
    if key not in index:
        index[key] = sha256_file(path)
        with atomic_write(index_path, "w", encoding="utf-8") as f:
            json.dump(index, f)
    _SHA_MEMO[key] = index[key]
    return index[key]


def _parse_jar(jar: Path) -> tuple[frozenset[str], dict[str, int], dict, dict]:
    try:
        z = zipfile.ZipFile(jar)
        words = z.read("function/english.words").decode("utf-8")
        prefixes = z.read("nonbreaking/english.prefixes").decode("utf-8")
        syn_text = z.read("synonym/english.synsets").decode("utf-8")
        exc_text = z.read("synonym/english.exceptions").decode("utf-8")
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise ResourceNotFound(f"{jar}: not a METEOR 1.5 jar ({exc}); {HOW_TO_GET}") from exc
    function_words = frozenset(line for line in words.split("\n"))
    syn_lines = syn_text.split("\n")
    synsets: dict[str, tuple[int, ...]] = {}
    for k in range(0, len(syn_lines) - 1, 2):
        synsets[syn_lines[k]] = tuple(int(t) for t in syn_lines[k + 1].split())  # digits and spaces
    exc_lines = exc_text.split("\n")
    exceptions: dict[str, list[str]] = {}
    for k in range(0, len(exc_lines) - 1, 2):
        base = exc_lines[k]
        for form in java_tokens(exc_lines[k + 1]):
            exceptions.setdefault(form, []).append(base)
    return (
        function_words,
        parse_prefixes(prefixes),
        synsets,
        {k: tuple(v) for k, v in exceptions.items()},
    )


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


_LOADED: dict[tuple, MeteorResources] = {}


def load_resources(resources=None, paraphrase: bool = True) -> MeteorResources:
    """Locate, parse (or read from the cache) and return the METEOR resources.

    ``resources`` may be a :class:`MeteorResources` (returned as is), a folder, a jar path or
    None (search order in the module docstring).  Results are kept in memory per process.
    """
    if isinstance(resources, MeteorResources):
        return resources
    jar, para = locate(resources)
    if paraphrase and para is None:
        raise ResourceNotFound(f"{jar.parent}: data/{PARAPHRASE_NAME} missing; {HOW_TO_GET}")
    jar_sha = _file_sha(jar)
    para_sha = _file_sha(para) if (paraphrase and para is not None) else None
    key = (jar_sha, para_sha)
    if key in _LOADED:
        return _LOADED[key]
    root = cache_dir("meteor")
    with _build_lock(root):  # processes starting together (DDP ranks, test workers) build once
        res = _load_or_build(root, jar, para, jar_sha, para_sha)
    _LOADED[key] = res
    return res


@contextlib.contextmanager
def _build_lock(root: Path):
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: atomic writes still keep the cache valid
        yield
        return
    with open(root / "build.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _load_or_build(root: Path, jar: Path, para: Path | None, jar_sha: str, para_sha: str | None):
    jdir = root / f"jar-{jar_sha[:20]}-v{JAR_CACHE_VERSION}"
    syn_names = ("syn_words", "syn_offsets", "syn_ids")
    tables = None
    if (jdir / "small.pkl").is_file() and all((jdir / f"{n}.npy").is_file() for n in syn_names):
        try:
            with open(jdir / "small.pkl", "rb") as f:
                tables = pickle.load(f)
        except Exception:  # a corrupt cache is rebuilt
            tables = None
    if tables is None:
        function_words, prefixes, synsets, exceptions = _parse_jar(jar)
        jdir.mkdir(parents=True, exist_ok=True)
        for n, arr in _synset_arrays(synsets).items():
            with atomic_write(jdir / f"{n}.npy", "wb") as f:
                np.save(f, arr)
        tables = (function_words, prefixes, exceptions)
        with atomic_write(jdir / "small.pkl", "wb") as f:
            pickle.dump(tables, f, protocol=pickle.HIGHEST_PROTOCOL)
    syn = {n: np.load(jdir / f"{n}.npy", mmap_mode="r") for n in syn_names}
    synsets = SynsetTable(words=syn["syn_words"], offsets=syn["syn_offsets"], ids=syn["syn_ids"])
    table = None
    if para_sha is not None:
        pdir = root / f"para-{para_sha[:20]}-v{CACHE_VERSION}"
        names = ("ref_hash", "par_hash", "par_len", "phrase_bits", "prefix_bits", "max_len")
        if not all((pdir / f"{n}.npy").is_file() for n in names):
            arrays = _build_paraphrase(para)
            pdir.mkdir(parents=True, exist_ok=True)
            for n in names:
                with atomic_write(pdir / f"{n}.npy", "wb") as f:
                    np.save(f, arrays[n])
        arr = {n: np.load(pdir / f"{n}.npy", mmap_mode="r") for n in names}
        table = ParaphraseTable(
            ref_hash=arr["ref_hash"], par_hash=arr["par_hash"], par_len=arr["par_len"],
            phrase_bits=arr["phrase_bits"], prefix_bits=arr["prefix_bits"], max_len=int(arr["max_len"][0]),
        )
    return MeteorResources(
        function_words=tables[0], prefixes=tables[1], synsets=synsets, exceptions=tables[2],
        paraphrase=table,
        source={"jar": str(jar), "jar_sha256": jar_sha, "paraphrase": str(para) if para_sha else "",
                "paraphrase_sha256": para_sha or ""},
    )
