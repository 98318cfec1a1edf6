"""METEOR 1.5 in pure Python, with the numbers of the jar that pycocoevalcap runs.

pycocoevalcap runs ``java -jar meteor-1.5.jar - - -stdio -l en -norm``: language English,
task "default" (= "rank"), ``-norm`` normalisation, modules exact, stem, synonym,
paraphrase.  For each caption it sends ``SCORE ||| ref1 ||| ... ||| hyp`` and gets the
sufficient statistics of the best-scoring reference; then one ``EVAL ||| stats1 ||| ...``
line, to which the jar answers each segment's score and finally the score of the *summed*
statistics.  That last number is the corpus METEOR pycocoevalcap reports: an aggregate over
all segments, not the mean of segment scores.  This module reproduces that pipeline.

Score of one hypothesis/reference pair (Denkowski & Lavie 2014, "Meteor Universal", sec. 2;
parameters from METEOR 1.5 for English, task rank): with content/function words weighted by
``delta`` and each stage's matched words weighted by ``w_stage``::

    P = sum_s w_s (delta m_c,s(h) + (1-delta) m_f,s(h)) / (delta |h_c| + (1-delta) |h_f|)
    R = the same over the reference
    Fmean = P R / (alpha P + (1 - alpha) R)
    frag  = chunks / mean(matched words of h, matched words of r)   (0 for an identical pair)
    score = Fmean (1 - gamma frag^beta)

alpha = 0.85, beta = 0.20, gamma = 0.60, delta = 0.75; w = (1.0, 0.6, 0.8, 0.6) for
(exact, stem, synonym, paraphrase).  The corpus score applies the same formula to the sums
of every segment's statistics (a segment whose pair matched perfectly in one chunk adds no
chunks).  No Java is run: see :mod:`.meteor_resources` for the data files it reads.
"""

from __future__ import annotations

import gc
import math
import re
from typing import Any, Hashable, Mapping

from vislang.metrics.base import Metric, provenance
from vislang.metrics.text.meteor_formula import (  # noqa: F401  (re-exported)
    ALPHA, BETA, BOUND_MARGIN, DELTA, GAMMA, MODULE_WEIGHTS, N_STATS, _chain_bound, _segment_score_default,
    _upper_bound,
    add_stats, segment_score,
)
from vislang.metrics.text.meteor_align import EXACT, PARAPHRASE, STEM, SYNONYM, collect
from vislang.metrics.text.meteor_beam import search_many
from vislang.metrics.text.meteor_lexicon import Lexicon, Sentence
from vislang.metrics.text.meteor_normalize import java_tokens, java_trim, normalize_en, normalize_hyphenated
from vislang.metrics.text.meteor_parallel import resolve_workers
from vislang.metrics.text.meteor_resources import MeteorResources, load_resources

MODULES = (EXACT, STEM, SYNONYM, PARAPHRASE)
_PLAIN = re.compile("[a-z0-9 ]*")
#: Captions scored per batch (sentences, phrase hashes and table hits are kept per batch only).
CHUNK = 4000

__all__ = ["meteor_score", "meteor_exact_stem_score", "Meteor", "MeteorScorer", "segment_score"]


class MeteorScorer:
    """Scores hypothesis/references pairs; holds the resources and per-word memo."""

    def __init__(self, resources: Any = None, modules: tuple[int, ...] = MODULES,
                 weights: tuple[float, ...] | None = None, normalize: bool = True):
        need_para = PARAPHRASE in modules
        if need_para and modules[-1] != PARAPHRASE:
            raise ValueError("meteor: the paraphrase module must come last")
        self.res: MeteorResources = load_resources(resources, paraphrase=need_para)
        self.modules = modules
        # stage k of the run is modules[k]; its weight is that module's English default
        self.weights = weights if weights is not None else tuple(MODULE_WEIGHTS[m] for m in modules)
        self.normalize = normalize
        self.lex = Lexicon(self.res, use_synonyms=SYNONYM in modules)
        self._norm_memo: dict[str, list[str]] = {}

    def _words(self, text: str) -> list[str]:
        got = self._norm_memo.get(text)
        if got is None:
            if not self.normalize:
                got = java_tokens(text)
            elif _PLAIN.fullmatch(text):
                # lower-case letters, digits and spaces: -norm only squeezes the spaces
                got = text.split()
            else:
                got = normalize_hyphenated(text)
                if got is None:
                    got = java_tokens(normalize_en(text, self.res.prefixes))
            self._norm_memo[text] = got
        return got

    @staticmethod
    def _stats(t: Sentence, r: Sentence, final: dict, chunks: int) -> list[float]:
        st = [0.0] * N_STATS
        tf, rf = t.func, r.func
        st[0], st[1] = float(t.n), float(r.n)
        st[2], st[3] = t.nfunc, r.nfunc
        tw = rw = 0
        for m in final.values():
            base = 4 + 4 * m[4]
            if m[3] == 1:
                st[base + 2 if tf[m[2]] else base] += 1
            else:
                for q in range(m[2], m[2] + m[3]):
                    st[base + 2 if tf[q] else base] += 1
            if m[1] == 1:
                st[base + 3 if rf[m[0]] else base + 1] += 1
            else:
                for q in range(m[0], m[0] + m[1]):
                    st[base + 3 if rf[q] else base + 1] += 1
            tw += m[3]
            rw += m[1]
        st[20] = float(chunks)
        st[21] = float(tw)
        st[22] = float(rw)
        return st

    def score_batch(self, refs: Mapping[Hashable, list[str]], cands: Mapping[Hashable, str],
                    workers: int | None = None):
        """Per-item ``{id: (score, stats)}`` for PTB-tokenised captions (pycocoevalcap's input).

        ``workers``: processes that score (see :func:`resolve_workers`); the result is the same
        for every value.
        """
        self._norm_memo = {}  # per call: the memo would otherwise grow with every caption ever seen
        items = []
        for key, hyp in cands.items():
            if isinstance(hyp, (list, tuple)):
                if len(hyp) != 1:
                    raise ValueError(f"candidate {key!r}: expected one caption, got {len(hyp)}")
                hyp = hyp[0]
            rs = refs[key]
            if rs and "|" not in hyp and not any("|" in r for r in rs):
                # references and no '|': the wire format below comes down to trimming each line
                items.append((key, java_trim(hyp.replace("  ", " ")), [java_trim(r) for r in rs]))
                continue
            # the wire format of pycocoevalcap -> jar, including its quirks
            hyp = hyp.replace("|||", "").replace("  ", " ")
            line = " ||| ".join(("SCORE", " ||| ".join(rs), hyp))
            parts = line.split("|||")
            while parts and parts[-1] == "":
                parts.pop()
            ref_texts = [java_trim(p) for p in parts[1:-1]]
            items.append((key, java_trim(parts[-1]), ref_texts))
        workers = resolve_workers(workers, len(items))
        gc_was_on = gc.isenabled()
        gc.disable()  # many small objects, no cycles: the cyclic collector would only slow this down
        try:
            if workers > 1:
                from vislang.metrics.text.meteor_parallel import score_forked

                return score_forked(self, items, workers, CHUNK)
            out = {}
            for k in range(0, len(items), CHUNK):  # bounded memory for any number of captions
                out.update(self._score_items(items[k: k + CHUNK]))
            return out
        finally:
            # the memo is per call: keeping its ~5 lists per caption alive would only make every
            # later cyclic-gc pass (and interpreter exit) walk them
            self._norm_memo = {}
            if gc_was_on:
                gc.enable()

    def _score_items(self, items):
        lex = self.lex
        sent_index: dict[str, int] = {}
        texts: list[str] = []

        def sentence(text: str) -> int:
            k = sent_index.get(text)
            if k is None:
                k = sent_index[text] = len(texts)
                texts.append(text)
            return k

        prepared = [(key, sentence(h), [sentence(r) for r in rs]) for key, h, rs in items]
        sents = [Sentence(ids, lex) for ids in lex.ids_many([self._words(x) for x in texts])]
        pairs = [(t, r) for _, t, rs in prepared for r in rs]
        if PARAPHRASE in self.modules and self.res.paraphrase is not None:
            import numpy as np

            from vislang.metrics.text.meteor_para import pair_paraphrases

            th = np.array(lex.th, dtype=np.uint64)
            tp = np.array(lex.tp, dtype=np.uint64)
            para = pair_paraphrases([s.ids for s in sents], pairs, th, tp, self.res.paraphrase)
        else:
            para = [()] * len(pairs)
        modules, weights, stats = self.modules, self.weights, self._stats
        score = _segment_score_default if len(weights) == 4 else segment_score
        positive = all(w > 0 for w in weights)  # what the score bound assumes
        # every pair's candidates; references in decreasing order of a bound on their score
        # (once the bound falls below the best score found, no later reference can win; ties
        # go to the first)
        # per caption: [hypothesis, found, bounds, order, next, best score, stats, best k, bound parts]
        work = []
        p = 0
        for _, ti, ris in prepared:
            t = sents[ti]
            found = []
            for ri in ris:
                r = sents[ri]
                found.append((r, collect(t, r, modules, lex, para[p])))
                p += 1
            parts: list = []
            if len(found) > 1 and positive:
                bounds = [_upper_bound(t, r, c[0], weights, parts) for r, c in found]
                order = sorted(range(len(found)), key=bounds.__getitem__, reverse=True)
            else:
                bounds, order = [math.inf] * len(found), list(range(len(found)))
            work.append([t, found, bounds, order, 0, -1.0, None, -1, parts])
        # the searches in rounds: round k searches the k-th reference of each caption still open,
        # all of them at once (:func:`.meteor_beam.search_many`)
        open_ = list(range(len(work)))
        while open_:
            owners, jobs = [], []
            for w in open_:
                item = work[w]
                t, found, bounds, order, at, best_score = item[:6]
                floor = best_score - BOUND_MARGIN
                while at < len(order):
                    k = order[at]
                    if bounds[k] < floor:
                        at = len(order)  # neither this reference nor any later one can win
                    elif at and item[8] and _chain_bound(found[k][1][0], t.n, t.n + found[k][0].n,
                                                         *item[8][k]) < floor:
                        at += 1  # this one cannot win: a later one might
                    else:
                        break
                item[4] = at
                if at == len(order):
                    continue
                r, (cands, cov1, cov2) = found[k]
                owners.append((w, k))
                jobs.append((cands, cov1, cov2, t.n, r.n))
            for (w, k), (final, chunks) in zip(owners, search_many(jobs)):
                item = work[w]
                t, r = item[0], item[1][k][0]
                st = stats(t, r, final, chunks)
                sc = score(st, weights)
                if sc > item[5] or (sc == item[5] and k < item[7]):
                    item[5], item[6], item[7] = sc, st, k
                item[4] += 1
            open_ = [w for w, _ in owners]
        out = {}
        for (key, _, _), item in zip(prepared, work):
            if item[6] is None:  # no reference: the jar refuses such a line; score 0
                out[key] = (0.0, [0.0] * N_STATS)
            else:
                out[key] = (item[5], item[6])
        return out


def _corpus(per: dict, weights) -> float:
    total = [0.0] * N_STATS
    for _, st in per.values():
        add_stats(total, st)
    return segment_score(total, weights)


_SCORERS: dict[tuple, MeteorScorer] = {}


def _scorer(resources, modules) -> MeteorScorer:
    if isinstance(resources, MeteorScorer):
        return resources
    key = (id(resources) if isinstance(resources, MeteorResources) else resources, modules)
    sc = _SCORERS.get(key)
    if sc is None:
        sc = _SCORERS[key] = MeteorScorer(resources, modules=modules)
    return sc


def meteor_score(refs_tok: Mapping[Hashable, list[str]], cands_tok: Mapping[Hashable, str],
                 resources: Any = None, workers: int | None = None) -> tuple[float, dict]:
    """``(corpus METEOR as pycocoevalcap reports it, {id: segment METEOR})``.

    ``refs_tok`` / ``cands_tok`` are PTB-tokenised, space-joined captions (what pycocoevalcap's
    ``Meteor.compute_score`` receives); a candidate may also be a one-element list.
    ``resources``: see :func:`vislang.metrics.text.meteor_resources.load_resources`.
    ``workers``: scoring processes; default ``$VISLANG_METEOR_WORKERS``, else ``min(2, CPU cores)``
    (one for fewer than 400 captions or without ``fork``; :mod:`.meteor_parallel`).  The scores
    are the same for every value.
    """
    if set(refs_tok) != set(cands_tok):
        from vislang.errors import InputError

        raise InputError("meteor: references and candidates must have the same ids")
    sc = _scorer(resources, MODULES)
    per = sc.score_batch(refs_tok, cands_tok, workers=workers)
    return _corpus(per, sc.weights), {k: v[0] for k, v in per.items()}


def meteor_exact_stem_score(refs_tok, cands_tok, resources: Any = None,
                            workers: int | None = None) -> tuple[float, dict]:
    """The reduced "METEOR-exact-stem": METEOR 1.5's exact and stem stages only.

    It needs only the jar (function words, non-breaking prefixes), not the paraphrase table or
    synonyms, and is *not* METEOR: report it under its own name.
    """
    sc = _scorer(resources, (EXACT, STEM))
    per = sc.score_batch(refs_tok, cands_tok, workers=workers)
    return _corpus(per, sc.weights), {k: v[0] for k, v in per.items()}


class Meteor(Metric):
    """METEOR 1.5 as a mergeable metric.

    ``update(refs, cands)`` takes PTB-tokenised captions as :func:`meteor_score` does
    (``workers`` as there).
    State: the summed sufficient statistics (23 floats) and the per-caption scores.
    ``compute()`` returns ``{"meteor": corpus, "meteor_per_item": {id: score}, "provenance": ...}``.
    """

    name = "meteor"

    def __init__(self, resources: Any = None, workers: int | None = None):
        self.resources = resources
        self.workers = workers
        self.reset()

    def reset(self) -> None:
        self.total = [0.0] * N_STATS
        self.per_item: dict = {}

    def update(self, refs, cands) -> None:
        sc = _scorer(self.resources, MODULES)
        for key, (score, st) in sc.score_batch(refs, cands, workers=getattr(self, "workers", None)).items():
            if key in self.per_item:
                from vislang.errors import InputError

                raise InputError(f"meteor: caption id {key!r} given twice")
            self.per_item[key] = score
            add_stats(self.total, st)

    def merge(self, other: "Meteor") -> "Meteor":
        self._check_mergeable(other)
        for k in range(N_STATS):
            self.total[k] += other.total[k]
        self.per_item.update(other.per_item)
        return self

    def compute(self) -> dict[str, Any]:
        sc = _scorer(self.resources, MODULES)
        return {
            "meteor": segment_score(self.total, MODULE_WEIGHTS),
            "meteor_per_item": dict(self.per_item),
            "provenance": provenance(metric="METEOR 1.5 (pure Python, -l en -norm)", **sc.res.source),
        }

    def __getstate__(self):
        return {"resources": self.resources if isinstance(self.resources, (str, type(None))) else None,
                "workers": self.workers, "total": self.total, "per_item": self.per_item}
