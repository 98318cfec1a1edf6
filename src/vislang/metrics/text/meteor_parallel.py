"""Scoring METEOR in several processes: the scorer is forked after its resources are loaded.

The jar scores on more than one core (its JVM runs about 1.6 cores busy on this work); vislang
does the same with ``os.fork``: the calling process and ``workers - 1`` forked copies of it score
the captions together.  The copies inherit the loaded scorer (the memory-mapped tables and the word
facts already computed are shared, nothing is re-read or pickled).

Work is shared out in chunks of contiguous captions, largest first (each about a ``workers + 1``-th
of what is left, so the processes finish close together however fast each one runs): a process
takes the next chunk number from a pipe (one byte per chunk; a pipe read is atomic) until the pipe
is empty.  A forked process writes its chunks' scores and statistics into a shared memory block and
marks them done; the caller reads them after the process has exited, and scores any chunk left
unmarked itself (a process that failed: the caller then meets the same error, or the result).  A
caption's score depends only on its own hypothesis and references, never on which chunk or process
scored it, so the result is the same for every number of workers.

Rule for the number of workers (:func:`resolve_workers`): the ``workers`` argument, else the
``VISLANG_METEOR_WORKERS`` environment variable, else ``min(2, usable CPU cores)``; one process
is used anyway for fewer than ``MIN_PARALLEL`` captions (start-up would cost more than it saves),
where ``fork`` does not exist or is unsafe (Windows; macOS) and inside a daemonic
``multiprocessing`` process.
"""

from __future__ import annotations

import mmap
import os
import signal
import sys
from array import array

from vislang.metrics.text.meteor_formula import N_STATS

#: Fewest captions worth forking for (scoring 400 captions takes about 0.2 s).
MIN_PARALLEL = 400
#: Most worker processes used by default (the jar uses about 1.6 cores).
DEFAULT_MAX_WORKERS = 2
#: Smallest chunk handed out (smaller ones cost more in per-call overhead than they balance).
MIN_CHUNK = 400
#: Most chunks of one call (chunk numbers travel as single bytes).
MAX_CHUNKS = 255
#: A caption's row in the shared block: its score, then its statistics (doubles).
_WIDTH = N_STATS + 1
_ROW = 8 * _WIDTH


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def can_fork() -> bool:
    if sys.platform == "darwin" or not hasattr(os, "fork"):
        return False
    mp = sys.modules.get("multiprocessing")  # a daemonic multiprocessing child has it imported
    return not (mp is not None and mp.current_process().daemon)


def resolve_workers(workers: int | None, n_items: int) -> int:
    """The number of processes that will score ``n_items`` captions (see the module docstring)."""
    if workers is None:
        env = os.environ.get("VISLANG_METEOR_WORKERS", "").strip()
        if env:
            try:
                workers = int(env)
            except ValueError:
                from vislang.errors import ConfigError

                raise ConfigError(f"VISLANG_METEOR_WORKERS={env!r}: expected a whole number >= 1") from None
            if workers < 1:
                from vislang.errors import ConfigError

                raise ConfigError(f"VISLANG_METEOR_WORKERS={env!r}: expected a whole number >= 1")
        else:
            workers = min(DEFAULT_MAX_WORKERS, usable_cores())
    elif isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        from vislang.errors import InputError

        raise InputError(f"meteor: workers={workers!r}: expected a whole number >= 1")
    if workers == 1 or n_items < MIN_PARALLEL or not can_fork():
        return 1
    return min(workers, n_items)


def plan_chunks(n_items: int, workers: int, max_chunk: int, min_chunk: int | None = None) -> list[tuple[int, int]]:
    """``[(start, end)]``: contiguous chunks covering ``range(n_items)``, largest first, each about
    ``1 / (workers + 1)`` of the captions left (between ``min_chunk`` and ``max_chunk``), at most
    ``MAX_CHUNKS`` of them (``min_chunk`` defaults to ``MIN_CHUNK``).

    Each chunk also costs a fixed part (about 15 ms of one core on Flickr8k-like captions, mostly
    the batched search's per-position steps; chunks of 200 captions cost 13 % more instructions
    than chunks of 2,000), so fewer, larger chunks cost less CPU while small last chunks shorten
    the wait at the end: at least 400 captions, each a ``workers + 1``-th of the rest.
    """
    min_chunk = max(1, MIN_CHUNK if min_chunk is None else min_chunk, -(-n_items // MAX_CHUNKS))
    sizes, at = [], 0
    while at < n_items:
        size = min(max_chunk, max(min_chunk, -(-(n_items - at) // (workers + 1))))
        if n_items - at - size < min_chunk and n_items - at <= max(max_chunk, min_chunk):
            size = n_items - at  # no tiny last chunk: fold it into this one
        sizes.append(size)
        at += size
    sizes.sort(reverse=True)  # a folded last chunk may be larger than the one before it
    out, at = [], 0
    for size in sizes:
        out.append((at, at + size))
        at += size
    return out


def score_forked(scorer, items: list, workers: int, max_chunk: int) -> dict:
    """``{id: (score, stats)}`` of ``items`` (``(id, hypothesis, references)``) scored by this
    process and ``workers - 1`` forked ones, in input order."""
    chunks = plan_chunks(len(items), workers, max_chunk)
    rows = mmap.mmap(-1, max(1, len(items) * _ROW))  # anonymous, shared with forked children
    done = mmap.mmap(-1, len(chunks))  # done[k] = 1: chunk k's rows are written
    results: list = [None] * len(items)

    def score_here(a: int, b: int) -> None:
        got = scorer._score_items(items[a:b])
        for q in range(a, b):
            results[q] = got[items[q][0]]

    r_tok, w_tok = os.pipe()
    pids: list[int] = []
    try:
        os.write(w_tok, bytes(range(len(chunks))))
        for _ in range(workers - 1):
            try:
                pid = os.fork()
            except OSError:  # no more processes to be had: the ones running do the work
                break
            if pid == 0:  # a child: score chunks until none is left, then leave at once
                code = 1
                try:
                    os.close(w_tok)
                    _serve(scorer, items, chunks, r_tok, rows, done)
                    code = 0
                finally:
                    os._exit(code)  # no cleanup, no flushing of the parent's buffers
            pids.append(pid)
        os.close(w_tok)
        w_tok = -1
        while tok := os.read(r_tok, 1):
            score_here(*chunks[tok[0]])
        while pids:
            os.waitpid(pids[-1], 0)
            pids.pop()
        for k, (a, b) in enumerate(chunks):
            if results[a] is not None:  # scored here
                continue
            if not done[k]:  # a forked process failed on this chunk: score it here
                score_here(a, b)
                continue
            flat = array("d")
            flat.frombytes(rows[a * _ROW: b * _ROW])
            for q in range(a, b):
                at = (q - a) * _WIDTH
                results[q] = (flat[at], flat[at + 1: at + _WIDTH].tolist())
    finally:
        for pid in pids:  # interrupted: stop the children
            try:
                os.kill(pid, signal.SIGTERM)
                os.waitpid(pid, 0)
            except OSError:
                pass
        if w_tok >= 0:
            os.close(w_tok)
        os.close(r_tok)
        rows.close()
        done.close()
    return {item[0]: res for item, res in zip(items, results)}


def _serve(scorer, items: list, chunks: list, r_tok: int, rows: mmap.mmap, done: mmap.mmap) -> None:
    """A forked process's loop: take chunk numbers from the pipe until it is empty, write each
    chunk's rows into the shared block, then mark the chunk done."""
    while tok := os.read(r_tok, 1):
        k = tok[0]
        a, b = chunks[k]
        part = items[a:b]
        got = scorer._score_items(part)
        flat = array("d")
        for key, _, _ in part:
            score, st = got[key]
            flat.append(score)
            flat.extend(st)
        rows[a * _ROW: b * _ROW] = flat.tobytes()
        done[k] = 1
