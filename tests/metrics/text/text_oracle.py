"""pycocoevalcap (with its Java PTBTokenizer) as the oracle of the caption-metric tests.

Results are memoised per process, so each expensive oracle run happens once per pytest worker
however many test modules use it.
"""

from __future__ import annotations

import functools
import os
import subprocess
import tempfile
from pathlib import Path

def flickr8k_lines(token_file: Path) -> list[tuple[str, int, str]]:
    """(image, caption number, caption) of every line of Flickr8k.token.txt."""
    out = []
    for line in Path(token_file).read_text(encoding="utf-8").splitlines():
        if "\t" not in line:
            continue
        key, cap = line.split("\t", 1)
        img, k = key.rsplit("#", 1)
        out.append((img, int(k), cap))
    return out


def leave_one_out(token_file: Path) -> tuple[dict, dict]:
    """Candidate = caption #0 of each image with >= 2 captions, references = its other captions."""
    from vislang.data.captions import leave_one_out as split, load_flickr8k

    return split(load_flickr8k(token_file))


def java_tokenize(captions: list[str]) -> list[str]:
    """pycocoevalcap's PTBTokenizer on a list of captions (one call, order kept)."""
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    out = PTBTokenizer().tokenize({0: [{"caption": c} for c in captions]})
    return out[0]


def java_raw_lines(captions: list[str]) -> list[str]:
    """The raw output lines of the Java tokenizer run exactly as pycocoevalcap runs it."""
    import pycocoevalcap.tokenizer.ptbtokenizer as ptb

    jar_dir = os.path.dirname(os.path.abspath(ptb.__file__))
    data = "\n".join(c.replace("\n", " ") for c in captions)
    with tempfile.NamedTemporaryFile(delete=False, suffix=".txt") as fh:
        fh.write(data.encode())
        name = fh.name
    try:
        res = subprocess.run(["java", "-cp", ptb.STANFORD_CORENLP_3_4_1_JAR, "edu.stanford.nlp.process.PTBTokenizer",
                              "-preserveLines", "-lowerCase", name], cwd=jar_dir, capture_output=True, check=True)
    finally:
        os.unlink(name)
    return res.stdout.decode().split("\n")


def coco_scores(refs: dict, cands: dict, gts_tokenized: dict | None = None) -> tuple[dict, dict]:
    """pycocoevalcap's tokenization + Bleu(4) + Rouge + Cider: (corpus, {metric: {id: score}}).

    ``gts_tokenized``: the references as pycocoevalcap's tokenizer returned them for these ``refs``
    (see :func:`coco_tokenize_refs`), to score several candidate sets with one Java run for them.
    """
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    gts = gts_tokenized if gts_tokenized is not None else coco_tokenize_refs(refs)
    res = PTBTokenizer().tokenize({i: [{"caption": cands[i]}] for i in refs})
    return coco_scores_tokenized(gts, res)


def coco_tokenize_refs(refs: dict) -> dict:
    """pycocoevalcap's tokenization of a references dict (one Java run)."""
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    return PTBTokenizer().tokenize({i: [{"caption": r} for r in refs[i]] for i in refs})


def coco_scores_tokenized(gts: dict, res: dict) -> tuple[dict, dict]:
    """pycocoevalcap's scorers on already tokenized {id: [str]} dicts (no Java)."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    corpus, per = {}, {}
    s, ss = Bleu(4).compute_score(gts, res, verbose=0)
    for k in range(4):
        corpus[f"Bleu_{k + 1}"] = s[k]
        per[f"Bleu_{k + 1}"] = dict(zip(gts.keys(), ss[k]))
    s, ss = Rouge().compute_score(gts, res)
    corpus["ROUGE_L"], per["ROUGE_L"] = float(s), dict(zip(gts.keys(), map(float, ss)))
    s, ss = Cider().compute_score(gts, res)
    corpus["CIDEr"], per["CIDEr"] = float(s), dict(zip(gts.keys(), map(float, ss)))
    return corpus, per


@functools.lru_cache(maxsize=None)
def loo_oracle(token_file: str) -> tuple[dict, dict, dict, dict]:
    """(refs, cands, corpus, per-image) for the Flickr8k leave-one-out set; about 10 s, once."""
    refs, cands = leave_one_out(Path(token_file))
    corpus, per = coco_scores(refs, cands)
    return refs, cands, corpus, per


@functools.lru_cache(maxsize=None)
def flickr8k_java_tokens(token_file: str) -> tuple[list[str], list[str]]:
    """All captions of the token file and pycocoevalcap's tokenization of them (one call)."""
    caps = [c for _, _, c in flickr8k_lines(Path(token_file))]
    return caps, java_tokenize(caps)
