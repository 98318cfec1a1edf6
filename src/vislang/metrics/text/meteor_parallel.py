"""Scoring METEOR in several processes: the scorer is forked after its resources are loaded.

The jar scores on more than one core (its JVM runs about 1.6 cores busy on this work); vislang
does the same by forking worker processes that inherit the loaded scorer (the memory-mapped
tables and the word facts already computed are shared, nothing is re-read or pickled), each
scoring whole batches of captions.  Results come back per batch and are put together in input
order.  A caption's score depends only on its own hypothesis and references, never on which
batch or process scored it, so the result is the same for every number of workers.

Rule for the number of workers (:func:`resolve_workers`): the ``workers`` argument, else the
``VISLANG_METEOR_WORKERS`` environment variable, else ``min(2, usable CPU cores)``; one process
is used anyway for fewer than ``MIN_PARALLEL`` captions (start-up would cost more than it saves),
where the ``fork`` start method does not exist (Windows, and macOS where it is unsafe), and inside a
daemonic process (which may not have children).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from typing import Any

#: Fewest captions worth forking for (scoring 400 captions takes about 0.2 s).
MIN_PARALLEL = 400
#: Most worker processes used by default (the jar uses about 1.6 cores).
DEFAULT_MAX_WORKERS = 2

_JOB: Any = None  # (scorer, batches) of the running parallel call, inherited by forked workers


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def can_fork() -> bool:
    if sys.platform == "darwin" or "fork" not in multiprocessing.get_all_start_methods():
        return False
    return not multiprocessing.current_process().daemon


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


def _run_batch(k: int) -> list:
    scorer, batches = _JOB
    got = scorer._score_items(batches[k])
    return [got[key] for key, _, _ in batches[k]]


def score_forked(scorer, items: list, workers: int, batches_per_worker: int, max_batch: int) -> dict:
    """``{id: (score, stats)}`` of ``items`` scored by ``workers`` forked processes, in input order."""
    from concurrent.futures import ProcessPoolExecutor

    global _JOB
    n_batches = max(workers * batches_per_worker, -(-len(items) // max_batch))
    n_batches = min(n_batches, len(items))
    size, extra = divmod(len(items), n_batches)
    batches, at = [], 0
    for k in range(n_batches):
        step = size + (k < extra)
        batches.append(items[at: at + step])
        at += step
    _JOB = (scorer, batches)
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            results = list(pool.map(_run_batch, range(n_batches)))
    finally:
        _JOB = None
    out = {}
    for batch, got in zip(batches, results):
        for (key, _, _), value in zip(batch, got):
            out[key] = value
    return out
