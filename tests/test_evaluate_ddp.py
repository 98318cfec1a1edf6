"""Sharded evaluation: 2 CPU processes (gloo) each extract the strided half of every set, all-reduce
FID's float64 sums and gather the rows of the other metrics; the result equals one process's."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE / "metrics" / "image"))

OPTS = dict(kid_subset_size=20, kid_subsets=4, msssim_pairs=20, seed=5, metrics="fid,kid,is,prdc,vendi,msssim",
            cache=False)


def _sets():
    g = torch.Generator().manual_seed(11)
    real = torch.randint(0, 256, (41, 3, 24, 24), generator=g, dtype=torch.uint8)  # odd: uneven shards
    fake = (torch.randint(0, 256, (37, 3, 24, 24), generator=g, dtype=torch.uint8) // 3 + 60).to(torch.uint8)
    return real, fake


def _worker(rank: int, world: int, port: int, queue) -> None:
    sys.path.insert(0, str(HERE / "metrics" / "image"))
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world))
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world)
    try:
        from image_oracles import tiny_extractor_class

        from vislang.evaluate import evaluate_images

        real, fake = _sets()
        out = evaluate_images(real, fake, extractor=tiny_extractor_class()(), **OPTS)
        fid_only = evaluate_images(real, fake, extractor=tiny_extractor_class()(), **{**OPTS, "metrics": "fid"})
        queue.put((rank, (out, fid_only)))
    finally:
        torch.distributed.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_gloo_equals_single_process():
    from image_oracles import tiny_extractor_class

    from vislang.evaluate import evaluate_images

    real, fake = _sets()
    single = evaluate_images(real, fake, extractor=tiny_extractor_class()(), **OPTS)
    ctx = mp.get_context("spawn")
    queue = ctx.SimpleQueue()
    mp.start_processes(_worker, args=(2, _free_port(), queue), nprocs=2, join=True, start_method="spawn")
    results = dict(queue.get() for _ in range(2))
    for rank in (0, 1):
        out, fid_only = results[rank]
        # the FID-only path streams sums (no rows held) and all-reduces them
        assert fid_only["fid"] == pytest.approx(single["fid"], rel=1e-9)
        assert fid_only["fid_real_floor"] == pytest.approx(single["fid_real_floor"], rel=1e-6)
        assert fid_only["n_real_floor_a"] == single["n_real_floor_a"] == 20
        assert out["world_size"] == 2 and single["world_size"] == 1
        # FID from all-reduced sums: equal up to floating-point summation order
        assert out["fid"] == pytest.approx(single["fid"], rel=1e-9)
        assert out["fid_real_floor"] == pytest.approx(single["fid_real_floor"], rel=1e-6)
        # the gathered rows are in single-process order, so these are exactly equal
        for key in ("kid_mean", "kid_std", "is_mean", "is_std", "precision", "recall", "density", "coverage",
                    "vendi", "msssim_diversity", "precision_real_floor", "n_real", "n_fake"):
            assert out[key] == single[key], key
