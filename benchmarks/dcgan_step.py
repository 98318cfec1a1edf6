"""DCGAN training-step throughput: vislang's step vs a plain pytorch/examples-style loop, same run.

Both train the 64-px recipe networks (nz=100, ngf=ndf=64, nc=3) with batch 64 and Adam(2e-4, 0.5, 0.999)
on the same CPU thread count.  The anchor is written here the way the examples recipe writes it:
``nn.Sequential`` nets ending in Sigmoid, ``BCELoss`` with label tensors, ``zero_grad`` on the modules,
D(x) and D(G(z)) backpropagated in turn, the G step through a D that still computes weight gradients,
and ``.item()`` on the losses every step.  vislang's step is :func:`vislang.train.gan.gan_step`
(channels_last tensors, D frozen during the G step, set_to_none grads, foreach Adam, no host syncs).

The two are measured interleaved (A B A B ...) so machine load hits both alike; wall time and
process CPU time are reported.  Usage::

    python benchmarks/dcgan_step.py [--threads 2] [--steps 3] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
from torch import nn


def recipe_nets(nz=100, ngf=64, ndf=64, nc=3):
    g = nn.Sequential(
        nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
        nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh())
    d = nn.Sequential(
        nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 8), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid())

    def init(m):
        name = m.__class__.__name__
        if "Conv" in name:
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif "BatchNorm" in name:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)

    g.apply(init)
    d.apply(init)
    return g, d


class Recipe:
    """The examples-style step."""

    def __init__(self, bs: int):
        self.g, self.d = recipe_nets()
        self.optG = torch.optim.Adam(self.g.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.optD = torch.optim.Adam(self.d.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.crit = nn.BCELoss()
        self.bs = bs

    def step(self, real: torch.Tensor) -> None:
        self.d.zero_grad()
        label = torch.full((self.bs,), 1.0)
        out = self.d(real).view(-1)
        err_real = self.crit(out, label)
        err_real.backward()
        noise = torch.randn(self.bs, 100, 1, 1)
        fake = self.g(noise)
        label.fill_(0.0)
        out = self.d(fake.detach()).view(-1)
        err_fake = self.crit(out, label)
        err_fake.backward()
        self.optD.step()
        self.g.zero_grad()
        label.fill_(1.0)
        out = self.d(fake).view(-1)
        err_g = self.crit(out, label)
        err_g.backward()
        self.optG.step()
        _ = (err_real + err_fake).item(), err_g.item()  # the recipe prints these every step


class Vislang:
    def __init__(self, bs: int):
        from vislang.models import dcgan
        from vislang.train.gan import GANConfig

        self.cfg = GANConfig(size=64, batch_size=bs)
        g, d = dcgan.build(64)
        self.g, self.d = g.to(memory_format=torch.channels_last), d.to(memory_format=torch.channels_last)
        self.optG = torch.optim.Adam(self.g.parameters(), lr=2e-4, betas=(0.5, 0.999), foreach=True)
        self.optD = torch.optim.Adam(self.d.parameters(), lr=2e-4, betas=(0.5, 0.999), foreach=True)
        self.bs = bs

    def step(self, real: torch.Tensor) -> None:
        from vislang.train.gan import gan_step

        z = torch.randn(self.bs, 100)
        gan_step(self.g, self.d, self.optG, self.optD, real.contiguous(memory_format=torch.channels_last), z, None,
                 self.cfg)


def timed(runner, real, steps: int) -> tuple[float, float]:
    w, c = time.perf_counter(), time.process_time()
    for _ in range(steps):
        runner.step(real)
    return (time.perf_counter() - w) / steps, (time.process_time() - c) / steps


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3, help="steps per timing")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved A/B rounds")
    ap.add_argument("--batch-size", type=int, default=64)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    real = torch.rand(args.batch_size, 3, 64, 64) * 2 - 1
    runners = {"recipe": Recipe(args.batch_size), "vislang": Vislang(args.batch_size)}
    for r in runners.values():  # warm-up (allocator, oneDNN primitive caches)
        r.step(real)
    wall = {k: [] for k in runners}
    cpu = {k: [] for k in runners}
    for _ in range(args.rounds):
        for k, r in runners.items():
            w, c = timed(r, real, args.steps)
            wall[k].append(w)
            cpu[k].append(c)
    load = os.getloadavg()
    print(f"threads={args.threads} batch={args.batch_size} steps/timing={args.steps} rounds={args.rounds} "
          f"loadavg={load[0]:.2f},{load[1]:.2f},{load[2]:.2f}")
    for k in runners:
        print(f"{k:8s} wall s/step: median {statistics.median(wall[k]):.3f} min {min(wall[k]):.3f}   "
              f"cpu s/step: median {statistics.median(cpu[k]):.3f}")
    print(f"throughput ratio vislang/recipe (median wall): {statistics.median(wall['recipe']) / statistics.median(wall['vislang']):.2f}x")
    print(f"throughput ratio vislang/recipe (min wall):    {min(wall['recipe']) / min(wall['vislang']):.2f}x")
    print(f"throughput ratio vislang/recipe (median cpu):  {statistics.median(cpu['recipe']) / statistics.median(cpu['vislang']):.2f}x")


if __name__ == "__main__":
    main()
