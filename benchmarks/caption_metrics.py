"""Caption metrics: vislang vs pycocoevalcap (coco-caption) on the Flickr8k leave-one-out set.

Both sides do the same four steps -- PTB tokenization of references and candidates, BLEU-1..4,
ROUGE-L, CIDEr-D -- on the same 8,092 images (candidate = caption #0, references = the other
captions).  pycocoevalcap runs in this process (its tokenizer starts Java); vislang runs in a fresh
subprocess, so its time includes compiling the tokenizer rules and its memory is measured alone
(peak RSS from getrusage, peak traced allocations from tracemalloc).  The scores of both are
compared too.

What is timed, on each side: Python imports are NOT timed for either (pycocoevalcap's modules are
imported before its clock starts; vislang's -- ``vislang.metrics.text``, which imports its scorer
modules and numpy, plus torch -- are timed apart and printed as "+ imports").  Everything a call
does is timed: for pycocoevalcap that includes starting the JVM (twice, one tokenizer call for
references and one for candidates); for vislang's first call it includes parsing and compiling
the tokenizer's lexer rules.

    python benchmarks/caption_metrics.py [--token-file ../shared/data/flickr8k/Flickr8k.token.txt]

Goal (issue 3): at least 15x faster than pycocoevalcap, peak memory under 1 GB.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_TOKENS = REPO.parent / "shared" / "data" / "flickr8k" / "Flickr8k.token.txt"
KEYS = ["Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "ROUGE_L", "CIDEr"]

CHILD = r"""
import json, resource, sys, time, tracemalloc
sys.path.insert(0, sys.argv[2])
from caption_metrics import leave_one_out
refs, cands = leave_one_out(sys.argv[1])
mode = sys.argv[3]
if mode == "memory":  # tracemalloc slows allocation-heavy code a lot: a separate run
    tracemalloc.start()
t0 = time.perf_counter()
from vislang.metrics.text import score_captions
from vislang.metrics.text import tokenizer
import numpy, torch  # provenance() records torch's version, importing it
imports = time.perf_counter() - t0
t0, c0 = time.perf_counter(), time.process_time()
cold_scores = score_captions(refs, cands)
cold, cold_cpu = time.perf_counter() - t0, time.process_time() - c0
out = {"imports": imports, "cold": cold, "cold_cpu": cold_cpu, "scores": {k: cold_scores[k] for k in %r}}
if mode == "memory":
    out["peak_traced"] = tracemalloc.get_traced_memory()[1]
else:
    warm, warm_cpu = [], []
    for _ in range(3):
        tokenizer.clear_cache()  # tokenize from scratch again; only the compiled rules are kept
        t, c = time.perf_counter(), time.process_time()
        score_captions(refs, cands)
        warm.append(time.perf_counter() - t)
        warm_cpu.append(time.process_time() - c)
    out["warm"], out["warm_cpu"] = min(warm), min(warm_cpu)
out["peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps(out))
""" % (KEYS,)


def leave_one_out(token_file):
    caps: dict[str, list] = {}
    for line in Path(token_file).read_text(encoding="utf-8").splitlines():
        if "\t" not in line:
            continue
        key, cap = line.split("\t", 1)
        img, k = key.rsplit("#", 1)
        caps.setdefault(img, []).append((int(k), cap))
    refs, cands = {}, {}
    for img, lst in caps.items():
        lst.sort()
        if len(lst) >= 2:
            cands[img] = lst[0][1]
            refs[img] = [c for _, c in lst[1:]]
    return refs, cands


def pycocoevalcap_four_steps(refs, cands):
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    gts = {i: [{"caption": r} for r in refs[i]] for i in refs}
    res = {i: [{"caption": cands[i]}] for i in refs}
    t0, c0, j0 = time.perf_counter(), time.process_time(), _children_cpu()
    tok = PTBTokenizer()
    gts, res = tok.tokenize(gts), tok.tokenize(res)
    t_tok = time.perf_counter() - t0
    b, _ = Bleu(4).compute_score(gts, res, verbose=0)
    r, _ = Rouge().compute_score(gts, res)
    c, _ = Cider().compute_score(gts, res)
    total = time.perf_counter() - t0
    cpu = time.process_time() - c0 + _children_cpu() - j0  # Python + the Java tokenizer processes
    scores = {f"Bleu_{k + 1}": b[k] for k in range(4)}
    scores.update(ROUGE_L=float(r), CIDEr=float(c))
    return total, t_tok, scores, cpu


def _children_cpu() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--token-file", default=str(DEFAULT_TOKENS))
    args = ap.parse_args()
    refs, cands = leave_one_out(args.token_file)
    print(f"Flickr8k leave-one-out: {len(cands)} images, {sum(map(len, refs.values()))} references")

    import os

    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    anchor, anchor_tok, anchor_scores, anchor_cpu = pycocoevalcap_four_steps(refs, cands)
    print(f"pycocoevalcap 1.2 (Java tokenizer + Bleu + Rouge + Cider): {anchor:.2f} s "
          f"(tokenization {anchor_tok:.2f} s); CPU time {anchor_cpu:.2f} s (Python + Java)")

    def child(mode):
        res = subprocess.run([sys.executable, "-c", CHILD, args.token_file, str(Path(__file__).parent), mode],
                             capture_output=True, text=True, check=True)
        return json.loads(res.stdout.strip().splitlines()[-1])

    ours = child("time")
    mem = child("memory")
    print(f"vislang, first call in a fresh process (lexer rules compiled in it):     {ours['cold']:.3f} s "
          f"(+ {ours['imports']:.2f} s importing vislang, numpy and torch)")
    print(f"vislang, later calls (tokenizer cache cleared, rules compiled):         {ours['warm']:.3f} s (best of 3)")
    print(f"speed-up (wall): {anchor / ours['cold']:.1f}x (first call), {anchor / ours['warm']:.1f}x (later calls), "
          f"{anchor / (ours['cold'] + ours['imports']):.1f}x (first call + imports); goal >= 15x")
    print(f"speed-up (CPU time): {anchor_cpu / ours['cold_cpu']:.1f}x (first call), "
          f"{anchor_cpu / ours['warm_cpu']:.1f}x (later calls)")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    print(f"vislang peak memory: RSS {mem['peak_rss'] / 2**20:.0f} MiB (whole process: Python, numpy, data), "
          f"traced allocations {mem['peak_traced'] / 2**20:.0f} MiB; goal < 1024 MiB")
    worst = max(abs(ours["scores"][k] - anchor_scores[k]) for k in KEYS)
    print(f"largest corpus-score difference to pycocoevalcap: {worst:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
