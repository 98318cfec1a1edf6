"""METEOR 1.5 (pure Python) against meteor-1.5.jar, run by pycocoevalcap in the same session.

The jar is the oracle: pycocoevalcap's ``Meteor`` (``-l en -norm``, SCORE/EVAL protocol) on a
1,500-image sample of the Flickr8k leave-one-out set, the jar's own Snowball stemmer on every
Flickr8k word, and the jar's ``-norm`` normaliser on raw and tokenised captions.
"""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import numpy as np
import pytest

from vislang.metrics.text.meteor import meteor_score
from vislang.metrics.text.meteor_normalize import normalize_en
from vislang.metrics.text.meteor_resources import load_resources, locate
from vislang.metrics.text.meteor_stem import stem

pytestmark = pytest.mark.oracle
N_SAMPLE = 1500


def _jar() -> Path:
    return locate()[0]


def _java(cls: str, args: list[str], text: str) -> list[str]:
    out = subprocess.run(["java", "-Dfile.encoding=UTF-8", "-cp", str(_jar()), cls, *args],
                         input=text.encode("utf-8"), capture_output=True, check=True)
    return out.stdout.decode("utf-8").split("\n")


@pytest.fixture(scope="session")
def loo_sample(flickr8k_dir):
    """(raw refs, raw cands, PTB refs, PTB cands, jar corpus, jar per-caption) on 1,500 images."""
    from pycocoevalcap.meteor.meteor import Meteor
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    caps: dict[str, list] = {}
    for line in (flickr8k_dir / "Flickr8k.token.txt").read_text(encoding="utf-8").splitlines():
        if "\t" in line:
            key, cap = line.split("\t", 1)
            img, k = key.rsplit("#", 1)
            caps.setdefault(img, []).append((int(k), cap))
    ids = sorted(i for i, lst in caps.items() if len(lst) >= 2)
    ids = random.Random(4).sample(ids, N_SAMPLE)
    refs, cands = {}, {}
    for i in ids:
        lst = sorted(caps[i])
        cands[i], refs[i] = lst[0][1], [c for _, c in lst[1:]]
    tok = PTBTokenizer()
    gts = tok.tokenize({i: [{"caption": c} for c in refs[i]] for i in ids})
    res = tok.tokenize({i: [{"caption": cands[i]}] for i in ids})
    corpus, per = Meteor().compute_score(gts, res)
    return refs, cands, gts, res, corpus, dict(zip(gts.keys(), per))


@pytest.fixture(scope="module")
def resources(tmp_path_factory):
    from test_text_meteor import shared_home

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VISLANG_HOME", str(shared_home(tmp_path_factory)))
        return load_resources()


def test_flickr8k_leave_one_out_sample_equals_the_jar(loo_sample, resources):
    refs, cands, gts, res, jar_corpus, jar_per = loo_sample
    corpus, per = meteor_score(gts, {i: res[i][0] for i in res}, resources=resources)
    ids = list(jar_per)
    ours = np.array([per[i] for i in ids])
    jar = np.array([jar_per[i] for i in ids])
    diff = np.abs(ours - jar)
    # acceptance: corpus within 5e-4, Pearson >= 0.999, >= 95% within 1e-4; measured: identical
    assert abs(corpus - jar_corpus) <= 5e-4
    assert np.corrcoef(ours, jar)[0, 1] >= 0.999
    assert (diff <= 1e-4).mean() >= 0.95
    assert diff.max() <= 1e-9 and abs(corpus - jar_corpus) <= 1e-9, (diff.max(), corpus, jar_corpus)
    assert 0.2 < corpus < 0.3  # human-vs-human METEOR on Flickr8k
    # the same (jar-checked) scores, in input order, from one process and from 3 forked workers
    # (the call above used the default: 2 workers on a 2-core machine, 1 where fork is missing)
    for workers in (1, 3):
        c_w, per_w = meteor_score(gts, {i: res[i][0] for i in res}, resources=resources, workers=workers)
        assert c_w == corpus and list(per_w) == list(res)
        assert [per_w[i] for i in ids] == ours.tolist(), workers
    # the -norm normaliser against the jar's own, on raw and tokenised captions of 400 images
    ids = list(refs)[:400]
    lines = [c for i in ids for c in refs[i]] + [cands[i] for i in ids]
    lines += [c for i in ids for c in gts[i]] + [res[i][0] for i in ids]
    lines += ["Mr. Smith's \u201cdog\u201d -- a t-shirt... e.g. No. 5, 1,000 U.S. rock 'n' roll '90s"]
    out = _java("edu.cmu.meteor.util.Normalizer", ["en", "true"], "\n".join(lines) + "\n")
    ours = [normalize_en(line, resources.prefixes) for line in lines]
    bad = [(a, b.lower(), c) for a, b, c in zip(lines, out, ours) if b.lower() != c]
    assert not bad, bad[:5]


def test_stemmer_equals_the_jars_snowball_on_flickr8k_words(flickr8k_dir):
    text = (flickr8k_dir / "Flickr8k.token.txt").read_text(encoding="utf-8").lower()
    words = sorted({w for line in text.splitlines() for w in line.split("\t")[-1].split()
                    if w.isalpha() and w.isascii()})
    assert len(words) > 7000
    stems = _java("Stemmer", ["en"], "\n".join(words) + "\n")
    ours = [stem(w) for w in words]
    bad = [(w, s, o) for w, s, o in zip(words, stems, ours) if s != o]
    assert not bad, bad[:10]
