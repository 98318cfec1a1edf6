"""Sharded evaluation helpers: the process's place under ``torch.distributed``, the all-reduce of FID's
float64 sums, the all-gather of feature rows back into single-process order, and a streaming pass
that folds an image source's shard into :class:`FeatureMoments` without holding rows.

Shards are strided, as :func:`vislang.features.extract`: process ``rank`` of ``world`` takes the
images whose index i satisfies ``i % world == rank``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from vislang.metrics.image.fid import FeatureMoments


def halves(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint equal halves (sorted indices) of 0..n-1, seeded: the real-vs-real floor's split."""
    perm = np.random.default_rng(seed).permutation(n)
    h = n // 2
    return np.sort(perm[:h]), np.sort(perm[h:2 * h])


def distributed() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def all_reduce_moments(m: FeatureMoments, world: int) -> FeatureMoments:
    """Sum FeatureMoments states over processes with one tensor all-reduce of the float64 sums."""
    if world == 1:
        return m
    flat = torch.cat([torch.tensor([float(m.n)], dtype=torch.float64), m.sum, m.outer.reshape(-1)])
    torch.distributed.all_reduce(flat, op=torch.distributed.ReduceOp.SUM)
    d = m.dim
    m.n = int(round(float(flat[0])))
    m.sum = flat[1:1 + d].clone()
    m.outer = flat[1 + d:].reshape(d, d).clone()
    return m


def gather_strided(local: np.ndarray, n: int, world: int) -> np.ndarray:
    """Reassemble rows sharded as ``i % world == rank`` into the single-process order."""
    if world == 1:
        return local
    parts: list[Any] = [None] * world
    torch.distributed.all_gather_object(parts, local)
    out = np.empty((n,) + local.shape[1:], dtype=local.dtype)
    for r, part in enumerate(parts):
        out[r::world] = part
    return out


def stream_moments(ext, src, rank: int, world: int, batch_size: int, n: int, halves_seed: int | None = None
                   ) -> tuple[FeatureMoments, FeatureMoments | None, FeatureMoments | None]:
    """FID's float64 sums of this process's strided shard, streamed batch by batch (memory O(d^2)).

    With ``halves_seed`` the sums of the two real-vs-real halves (:func:`halves`) are kept too.
    """
    from vislang.progress import progress

    whole, ha, hb, member = FeatureMoments(ext.dim), None, None, None
    if halves_seed is not None:
        a, b = halves(n, halves_seed)
        member = np.zeros(n, dtype=np.int8)
        member[a], member[b] = 1, 2
        ha, hb = FeatureMoments(ext.dim), FeatureMoments(ext.dim)
    offset = 0
    bar = progress(total=len(range(rank, n, world)), desc=f"{ext.name} features", unit="img")
    try:
        for batch in src.iter_batches(batch_size * world):
            first = (rank - offset) % world
            idx = np.arange(offset + first, offset + len(batch), world)
            part = batch[first::world] if world > 1 else batch
            offset += len(batch)
            if len(idx) == 0:
                continue
            f = ext(part).double().cpu()
            whole.update(f)
            if member is not None:
                m = torch.from_numpy(member[idx])
                ha.update(f[m == 1])
                hb.update(f[m == 2])
            bar.update(len(idx))
    finally:
        bar.close()
    return (all_reduce_moments(whole, world), None if ha is None else all_reduce_moments(ha, world),
            None if hb is None else all_reduce_moments(hb, world))
