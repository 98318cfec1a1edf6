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
from vislang.metrics.text.meteor_tables import (  # noqa: F401  (re-exported)
    BITMAP_BITS, HASH_BASE, SPACE_CODE, ParaphraseTable, SynsetTable, WordTable, _build_paraphrase,
    _synset_arrays,
    base_power, bit_test, byte_hash,
)

JAR_NAME = "meteor-1.5.jar"
PARAPHRASE_NAME = "paraphrase-en.gz"
ENV_DIR = "VISLANG_METEOR_DIR"
CACHE_VERSION = 4  # paraphrase arrays
JAR_CACHE_VERSION = 7  # small tables, the synset arrays and the word table (with regular -s forms)

HOW_TO_GET = (
    "METEOR 1.5 resources (meteor-1.5.jar and data/paraphrase-en.gz) not found; "
    "`pip install pycocoevalcap` provides them, or pass resources=DIR / set $VISLANG_METEOR_DIR "
    "to a folder holding meteor-1.5.jar and data/paraphrase-en.gz"
)

@dataclass
class MeteorResources:
    """Everything METEOR 1.5 English needs besides the stemmer."""

    function_words: frozenset[str]
    prefixes: dict[str, int]
    synsets: SynsetTable
    exceptions: dict[str, tuple[str, ...]]
    paraphrase: ParaphraseTable | None
    source: dict[str, str] = field(default_factory=dict)
    #: facts of the words the resources know, computed when the cache was built (None: computed per word)
    words: WordTable | None = None


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


def _save_arrays(folder: Path, arrays: dict) -> None:
    """Each array as ``folder/<name>.npy``, written atomically."""
    for n, arr in arrays.items():
        with atomic_write(folder / f"{n}.npy", "wb") as f:
            np.save(f, arr)


def _load_or_build(root: Path, jar: Path, para: Path | None, jar_sha: str, para_sha: str | None):
    jdir = root / f"jar-{jar_sha[:20]}-v{JAR_CACHE_VERSION}"
    syn_names = ("syn_words", "syn_offsets", "syn_ids")
    word_names = tuple(f"word_{n}" for n in WordTable.NAMES)
    tables = None
    if (jdir / "small.pkl").is_file() and all((jdir / f"{n}.npy").is_file() for n in syn_names + word_names):
        try:
            with open(jdir / "small.pkl", "rb") as f:
                tables = pickle.load(f)
        except Exception:  # a corrupt cache is rebuilt
            tables = None
    if tables is None:
        function_words, prefixes, synsets, exceptions = _parse_jar(jar)
        jdir.mkdir(parents=True, exist_ok=True)
        syn_arrays = _synset_arrays(synsets)
        _save_arrays(jdir, syn_arrays)
        # the word table: facts of every word form named by the resources, computed once here
        from vislang.metrics.text.meteor_lexicon import s_forms, word_table_arrays

        plain = MeteorResources(function_words=function_words, prefixes=prefixes, exceptions=exceptions,
                                synsets=SynsetTable(words=syn_arrays["syn_words"], offsets=syn_arrays["syn_offsets"],
                                                    ids=syn_arrays["syn_ids"]), paraphrase=None)
        # (WordNet's multi-word lemmas, joined by "_", are left out: tokens almost never are such)
        named = {w for w in (*synsets, *exceptions, *function_words) if w and "_" not in w and "\0" not in w}
        vocab = sorted(named | s_forms(w for w in synsets if w.isalpha() and w.islower()))
        _save_arrays(jdir, word_table_arrays(plain, vocab))
        tables = (function_words, prefixes, exceptions)
        with atomic_write(jdir / "small.pkl", "wb") as f:
            pickle.dump(tables, f, protocol=pickle.HIGHEST_PROTOCOL)
    # memory-mapped; as plain ndarray views (a memmap's indexing goes through Python-level code)
    syn = {n: np.asarray(np.load(jdir / f"{n}.npy", mmap_mode="r")) for n in syn_names}
    synsets = SynsetTable(words=syn["syn_words"], offsets=syn["syn_offsets"], ids=syn["syn_ids"])
    words = WordTable(*(np.asarray(np.load(jdir / f"{n}.npy", mmap_mode="r")) for n in word_names))
    table = None
    if para_sha is not None:
        pdir = root / f"para-{para_sha[:20]}-v{CACHE_VERSION}"
        names = ("ref_hash", "par_hash", "par_len", "phrase_bits", "prefix_bits", "max_len")
        if not all((pdir / f"{n}.npy").is_file() for n in names):
            arrays = _build_paraphrase(para)
            pdir.mkdir(parents=True, exist_ok=True)
            _save_arrays(pdir, {n: arrays[n] for n in names})
        arr = {n: np.asarray(np.load(pdir / f"{n}.npy", mmap_mode="r")) for n in names}
        table = ParaphraseTable(
            ref_hash=arr["ref_hash"], par_hash=arr["par_hash"], par_len=arr["par_len"],
            phrase_bits=arr["phrase_bits"], prefix_bits=arr["prefix_bits"], max_len=int(arr["max_len"][0]),
        )
    return MeteorResources(
        function_words=tables[0], prefixes=tables[1], synsets=synsets, exceptions=tables[2],
        paraphrase=table, words=words,
        source={"jar": str(jar), "jar_sha256": jar_sha, "paraphrase": str(para) if para_sha else "",
                "paraphrase_sha256": para_sha or ""},
    )
