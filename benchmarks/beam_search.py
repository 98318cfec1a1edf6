"""Batched beam search against the same beam search run image by image (the anchor), on 256 images.

    python benchmarks/beam_search.py --threads 1 [--run runs/bench-captioner] [--beam 3]

Without --run the captioner is the scenes benchmark's architecture (d_model 128, 2 layers, a
52-word vocabulary) with random weights; with --run, the trained model of that run.  Target
(issue 7): batched >= 5x faster.  Also checks that both give the same captions.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", help="a trained captioner run (default: random weights)")
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--beam", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3, help="best of this many timings")
    args = ap.parse_args(argv)

    import os

    import torch

    torch.set_num_threads(args.threads)
    from vislang.data.scenes import generate
    from vislang.models.captioner import Captioner, CaptionerConfig
    from vislang.models.decoding import beam_search

    if args.run:
        from vislang.train.captioner import load_captioner
        model, vocab, _ = load_captioner(args.run)
        start, end, pad = vocab.start_id, vocab.end_id, vocab.pad_id
    else:
        torch.manual_seed(0)
        model = Captioner(CaptionerConfig(vocab_size=52, d_model=128, layers=2, dropout=0.0, max_len=32)).eval()
        start, end, pad = 1, 2, 0
    images = generate(args.n, size=model.config.image_size, seed=0, split="test").images
    kw = dict(k=args.beam, start_id=start, end_id=end, pad_id=pad, max_len=model.config.max_len)
    with torch.no_grad():
        memory = model.encode(images)

        def batched():
            return beam_search(model, memory, **kw)

        def one_by_one():
            return [beam_search(model, memory[i:i + 1], **kw) for i in range(len(memory))]

        t_b, t_o = [], []
        for _ in range(args.repeats):
            t = time.perf_counter()
            b = batched()
            t_b.append(time.perf_counter() - t)
            t = time.perf_counter()
            o = one_by_one()
            t_o.append(time.perf_counter() - t)
    same = sum(torch.equal(b.tokens[i, :, :o[i].tokens.shape[2]], o[i].tokens[0]) and
               bool((b.tokens[i, :, o[i].tokens.shape[2]:] == pad).all()) for i in range(len(o)))
    mean_len = float((b.tokens != pad).sum(-1).double().mean())
    res = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "threads": args.threads,
           "loadavg": os.getloadavg(), "model": args.run or "random weights", "n_images": args.n, "beam": args.beam,
           "mean_caption_tokens": round(mean_len, 2), "batched_s": round(min(t_b), 4),
           "image_by_image_s": round(min(t_o), 4), "speedup": round(min(t_o) / min(t_b), 2),
           "identical_captions": f"{same}/{len(o)}"}
    print(json.dumps(res, indent=2))
    print(f"batched beam search is {res['speedup']}x faster than image by image (target >= 5x); "
          f"identical captions {res['identical_captions']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
