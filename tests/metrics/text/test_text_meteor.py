"""METEOR 1.5 (pure Python): hand-worked pairs for every matching stage and the fragmentation
penalty, the corpus aggregate, the metric protocol, the reduced mode and resource errors.

Expected values are worked out by hand from the METEOR formula with the English defaults
(alpha 0.85, beta 0.2, gamma 0.6, delta 0.75; stage weights exact 1.0, stem 0.6, synonym 0.8,
paraphrase 0.6; function words from the jar's english.words list).  Each one was also
confirmed with meteor-1.5.jar itself when the test was written; the jar comparison at scale
lives in test_text_meteor_parity.py.
"""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

import pytest

from vislang.errors import ResourceNotFound
from vislang.metrics.text.meteor import Meteor, meteor_exact_stem_score, meteor_score, segment_score
from vislang.metrics.text.meteor_normalize import normalize_en
from vislang.metrics.text.meteor_resources import load_resources
from vislang.metrics.text.meteor_stem import stem

A, B, G, D = 0.85, 0.20, 0.60, 0.75


def fmean(p: float, r: float) -> float:
    return p * r / (A * p + (1 - A) * r)


def one(hyp: str, refs: list[str]) -> float:
    corpus, per = meteor_score({0: refs}, {0: hyp})
    assert corpus == pytest.approx(per[0], abs=1e-15)  # one segment: aggregate == segment
    return per[0]


def shared_home(tmp_path_factory) -> Path:
    """A vislang home for this test session, shared by the pytest-xdist workers (the first load
    builds the METEOR cache, about 10 CPU seconds, under a lock; the others then read it)."""
    base = tmp_path_factory.getbasetemp()
    home = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "meteor_home"
    home.mkdir(exist_ok=True)
    return home


@pytest.fixture(scope="module", autouse=True)
def meteor_home(tmp_path_factory):
    """Resources loaded once per process."""
    home = shared_home(tmp_path_factory)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VISLANG_HOME", str(home))
        load_resources()
    return home


def test_exact_matches_and_fragmentation_penalty():
    # 5 content words, all exact; "green park" and "dog runs fast" are 2 chunks
    # P = R = 1, frag = 2 chunks / 5 matches
    assert one("dog runs fast green park", ["green park dog runs fast"]) == pytest.approx(
        1 - G * 0.4**B, abs=1e-12)
    # the same words in the same order: one chunk of a perfect match -> no penalty at all
    assert one("dog runs fast green park", ["dog runs fast green park"]) == 1.0
    # reversed: 5 chunks of one word each, frag = 1
    assert one("park green fast runs dog", ["dog runs fast green park"]) == pytest.approx(1 - G, abs=1e-12)


def test_function_words_are_weighted_by_delta():
    # "the" is a function word (weight 1 - delta), "dog"/"runs" content words (weight delta)
    p = (1 - D + D) / (D * 1 + (1 - D) * 1)  # hyp "the dog" fully matched
    r = (1 - D + D) / (D * 2 + (1 - D) * 1)  # ref "the dog runs": "runs" unmatched
    frag = 1 / ((2 + 2) / 2)  # one chunk, 2 matched words on each side
    assert one("the dog", ["the dog runs"]) == pytest.approx(fmean(p, r) * (1 - G * frag**B), abs=1e-12)


def test_stem_stage():
    # dogs ~ dog by stem (weight 0.6; the synonym stage also pairs them, the stem match comes first)
    p = (D * 1.0 + D * 0.6) / (2 * D)
    assert one("dogs running", ["dog running"]) == pytest.approx(p, abs=1e-12)  # P = R, frag 0


def test_synonym_stage():
    # car ~ automobile share a WordNet synset (weight 0.8)
    p = (D * 1.0 + D * 0.8) / (2 * D)
    assert one("red car", ["red automobile"]) == pytest.approx(p, abs=1e-12)


def test_paraphrase_stage():
    # kids -> teenagers is in paraphrase-en.gz (not a stem or WordNet synonym); "two" is a
    # function word matched exactly
    p = ((1 - D) * 1.0 + D * 0.6) / (D + (1 - D))
    assert one("two teenagers", ["two kids"]) == pytest.approx(p, abs=1e-12)


def test_multiword_paraphrase_beats_synonym_in_the_search():
    # kids ~ children is a synonym (1 word each side) but "kids" -> "the children" is a paraphrase
    # covering 2 hypothesis words; the search ranks it higher, so all of it is paraphrase:
    # P = 0.6 (D*0.6 + (1-D)*0.6) / (D + (1-D)), R = 0.6 D / D, a perfect single chunk.
    assert one("the children", ["kids"]) == pytest.approx(0.6, abs=1e-12)


def test_best_reference_is_kept_and_corpus_is_an_aggregate_not_a_mean():
    refs = {1: ["a cat sleeps", "the dog runs"], 2: ["dog runs fast green park"]}
    cands = {1: "a dog runs", 2: "park green fast runs dog"}
    corpus, per = meteor_score(refs, cands)
    # item 1: the second reference wins: "dog runs" exact in one chunk, "a"/"the" function words
    p = (2 * D) / (2 * D + (1 - D))
    r = (2 * D) / (2 * D + (1 - D))
    s1 = fmean(p, r) * (1 - G * (1 / 2) ** B)
    assert per[1] == pytest.approx(s1, abs=1e-12)
    assert per[2] == pytest.approx(1 - G, abs=1e-12)
    # corpus: sums of statistics (matches 2+5 of 3+5 weighted words, chunks 1+5 over 7 matches)
    tw = D * 7 + (1 - D) * 1  # both sides: 7 content words + 1 function word
    p = r = (D * 7) / tw
    agg = fmean(p, r) * (1 - G * (6 / 7) ** B)
    assert corpus == pytest.approx(agg, abs=1e-12)
    assert abs(corpus - (per[1] + per[2]) / 2) > 1e-3


def test_empty_and_unmatched_candidates_score_zero():
    corpus, per = meteor_score({1: ["a dog"], 2: ["a dog"]}, {1: "", 2: "xyz"})
    assert per == {1: 0.0, 2: 0.0} and corpus == 0.0


def test_wire_format_quirks_of_pycocoevalcap_are_kept():
    # pycocoevalcap joins "SCORE ||| ref1 ||| ... ||| hyp" and the jar splits on "|||": a reference
    # holding "|||" is two references, so "a cat" matches one of them perfectly (score = Fmean = 1)
    assert one("a cat", ["a dog ||| a cat"]) == 1.0
    assert one("a cat", ["a dog | a cat"]) < 1.0
    # "|||" is removed from the hypothesis; surrounding blanks are trimmed
    assert one("a ||| cat", ["  a cat  "]) == 1.0
    # no reference at all: the jar sees one empty reference, which matches nothing
    corpus, per = meteor_score({0: []}, {0: "a cat"})
    assert per == {0: 0.0} and corpus == 0.0


def test_segment_score_zero_statistics_is_zero():
    assert segment_score([0.0] * 23) == 0.0


def test_metric_protocol_merge_equals_one_call():
    refs = {1: ["a cat sleeps", "the dog runs"], 2: ["dog runs fast green park"], 3: ["two kids"]}
    cands = {1: "a dog runs", 2: "park green fast runs dog", 3: "two teenagers"}
    corpus, per = meteor_score(refs, cands)
    a, b = Meteor(), Meteor()
    a.update({1: refs[1]}, {1: cands[1]})
    b.update({k: refs[k] for k in (2, 3)}, {k: cands[k] for k in (2, 3)})
    out = a.merge(b).compute()
    assert out["meteor"] == corpus and out["meteor_per_item"] == per
    a.reset()
    assert a.compute()["meteor"] == 0.0


def test_reduced_exact_stem_mode_has_no_synonyms():
    # red/automobile is no longer matched: P = R = 1/2, 1 chunk over 1 match
    corpus, per = meteor_exact_stem_score({0: ["red automobile"]}, {0: "red car"})
    assert per[0] == pytest.approx(0.5 * (1 - G), abs=1e-12)
    corpus, per = meteor_exact_stem_score({0: ["dog running"]}, {0: "dogs running"})
    assert per[0] == pytest.approx(0.8, abs=1e-12)


def test_missing_resources_raise_resource_not_found(tmp_path):
    with pytest.raises(ResourceNotFound, match="pip install pycocoevalcap"):
        meteor_score({0: ["a"]}, {0: "a"}, resources=tmp_path)
    with pytest.raises(ResourceNotFound, match="no such file"):
        load_resources(tmp_path / "missing")


def test_cache_is_written_and_reused(meteor_home, monkeypatch):
    from vislang.metrics.text import meteor_resources as mr

    # Another test module in this worker may have loaded the resources (from another cache home)
    # first: forget the in-memory copy so this load goes through meteor_home's cache.
    monkeypatch.setenv("VISLANG_HOME", str(meteor_home))
    monkeypatch.setattr(mr, "_LOADED", {})
    first = mr.load_resources()
    files = sorted(p.name for p in (meteor_home / "meteor").rglob("*") if p.is_file())
    assert any(f.endswith(".pkl") for f in files) and "ref_hash.npy" in files
    monkeypatch.setattr(mr, "_LOADED", {})
    monkeypatch.setattr(mr, "_SHA_MEMO", {})
    monkeypatch.setattr(mr, "_build_paraphrase", lambda path: pytest.fail("paraphrase cache not reused"))
    monkeypatch.setattr(mr, "_parse_jar", lambda path: pytest.fail("jar cache not reused"))
    monkeypatch.setenv("VISLANG_HOME", str(meteor_home))
    again = mr.load_resources()
    assert again is not first
    assert (again.paraphrase.ref_hash == first.paraphrase.ref_hash).all()
    assert again.synsets == first.synsets and again.function_words == first.function_words


def test_cached_word_table_gives_the_computed_word_facts():
    import dataclasses

    from vislang.metrics.text.meteor_lexicon import Lexicon

    res = load_resources()
    table = res.words
    assert table is not None and len(table.words) > 80_000
    # hand-worked: "dog".hashCode() = 100*31^2 + 111*31 + 103; "running" stems to "run"
    k = table.find(["dog", "running", "xqzv", "dogs", "rides", "buses", "puppies", "photos", "potatoes"])
    assert k[2] == -1
    assert min(k[3:]) >= 0  # the regular -s forms of WordNet lemmas are in the table too
    assert int(table.key[k[0]]) == 99644
    assert int(table.stem[k[1]]) == 113291 == 114 * 31**2 + 117 * 31 + 110
    # every fact looked up equals the fact computed without the table, for table words and others
    words = ["dogs", "rides", "puppies", "buses", "children", "ran", "the", "of", "t-shirt", "frisbee",
             "skateboarding", "colour", "a", "geese", "xqzv", "sprinting", "mice", "better", "12", "'s"]
    words += [w.decode() for w in table.words[:: max(1, len(table.words) // 300)]]
    looked_up = Lexicon(res)._facts(words)
    computed = Lexicon(dataclasses.replace(res, words=None))._facts(words)
    assert looked_up[:5] == computed[:5]
    assert [sorted(s) for s in looked_up[5]] == [sorted(s) for s in computed[5]]
    assert set(looked_up[5][0]) >= set(table.syn_ids[table.syn_offsets[k[0]]: table.syn_offsets[k[0] + 1]])


def test_snowball_english_published_examples():
    # examples from the Snowball English stemmer page (snowballstem.org)
    pairs = {
        "consign": "consign", "consigned": "consign", "consigning": "consign",
        "consignment": "consign", "knack": "knack", "knackeries": "knackeri",
        "generously": "generous", "skies": "sky", "dying": "die", "news": "news",
        "cried": "cri", "ties": "tie", "hopping": "hop", "hoped": "hope", "running": "run",
        "communication": "communic", "arsenal": "arsenal", "yelled": "yell", "sayings": "say",
    }
    assert {w: stem(w) for w in pairs} == pairs


def test_norm_splits_hyphens_and_apostrophes():
    assert normalize_en("A T-shirt , dog's toy .", {}) == "a t shirt , dog 's toy ."
    assert normalize_en("Mr. Smith", {"Mr": 1}) == "mr. smith"
    assert math.isclose(one("a t-shirt", ["a t shirt"]), 1.0)


def test_hyphen_shortcut_gives_the_full_normalisers_tokens():
    from vislang.metrics.text.meteor_normalize import java_tokens, normalize_hyphenated

    texts = ["a-b-c", "t-shirt", "a--b", "a---b", "x - y", "-a", "a-", "9-5 job", "a- -b", "re-re-re-do",
             "a  red-haired   boy", "tug-of-war -- rope"]
    for x in texts:
        assert normalize_hyphenated(x) == java_tokens(normalize_en(x, {"Mr": 1})), x
    # one regex pass, as in the jar: "a-b-c" keeps its second hyphen (hand-worked)
    assert normalize_hyphenated("a-b-c") == ["a", "b-c"]
    assert normalize_hyphenated("dog's") is None and normalize_hyphenated("A-b") is None


def test_resources_from_an_explicit_folder_or_env(monkeypatch):
    from vislang.metrics.text.meteor_resources import locate

    jar, para = locate()
    assert jar.name == "meteor-1.5.jar" and para.name == "paraphrase-en.gz"
    assert locate(jar) == (jar, para) and locate(jar.parent) == (jar, para)
    monkeypatch.setenv("VISLANG_METEOR_DIR", str(jar.parent))
    assert locate() == (jar, para)
    refs, cands = {0: ["two kids"]}, {0: "two teenagers"}
    assert meteor_score(refs, cands, resources=jar.parent)[1] == meteor_score(refs, cands)[1]


def test_synset_arrays_equal_the_jars_synonym_file():
    # oracle: synonym/english.synsets read straight from the jar (word line, synset-ids line)
    import zipfile

    from vislang.metrics.text.meteor_resources import locate

    lines = zipfile.ZipFile(locate()[0]).read("synonym/english.synsets").decode("utf-8").split("\n")
    words = {lines[k]: [int(x) for x in lines[k + 1].split()] for k in range(0, len(lines) - 1, 2)}
    syn = load_resources().synsets
    assert len(syn) == len(words)
    sample = sorted(words)[::97] + ["automobile", "car", "dog"]
    found = syn.find(sample)
    assert [syn.synsets_of(k) for k in found] == [words[w] for w in sample]
    # absent: unknown words, the empty word, a word longer than any stored, a NUL-padded known word
    width = max(len(w) for w in words)
    assert syn.find(["zzqx", "", "a" * (width + 5), "dog\0"]) == [-1, -1, -1, -1]


def test_reference_bound_is_exact_for_a_single_chunk_with_an_unmatched_word():
    # "the dog" vs "the dog barks": both hypothesis words and 2 of 3 reference words are covered
    # (exact); the bound (all covered words matched, >= 1 chunk) equals the score worked out by
    # hand, and a reference that cannot reach the best score is skipped without changing it.
    from vislang.metrics.text.meteor import _scorer, _upper_bound
    from vislang.metrics.text.meteor_align import collect
    from vislang.metrics.text.meteor_lexicon import Sentence

    sc = _scorer(None, (0, 1, 2, 3))
    (t_ids, r_ids) = sc.lex.ids_many([["the", "dog"], ["the", "dog", "barks"]])
    t, r = Sentence(t_ids, sc.lex), Sentence(r_ids, sc.lex)
    cands, _, _ = collect(t, r, sc.modules, sc.lex)
    p = 1.0
    r_ = (1 - D + D) / (1 - D + 2 * D)
    expected = fmean(p, r_) * (1 - G * (1 / 2) ** B)
    assert _upper_bound(t, r, cands, sc.weights) == pytest.approx(expected, abs=1e-12)
    assert one("the dog", ["the dog barks"]) == pytest.approx(expected, abs=1e-12)
    # first reference perfect (1.0); the second's bound is lower: still 1.0, and ties keep the first
    assert one("the dog", ["the dog", "the dog barks"]) == 1.0
    assert one("the dog", ["the dog barks", "the dog barks"]) == pytest.approx(expected, abs=1e-12)


def test_workers_rule_and_hand_worked_scores_from_forked_workers(monkeypatch):
    from vislang.errors import ConfigError, InputError
    from vislang.metrics.text import meteor_parallel as mp_

    monkeypatch.delenv("VISLANG_METEOR_WORKERS", raising=False)
    monkeypatch.setattr(mp_, "usable_cores", lambda: 8)
    assert mp_.resolve_workers(None, 10_000) == (2 if mp_.can_fork() else 1)  # min(2, cores)
    assert mp_.resolve_workers(None, 399) == 1  # too few captions to fork for
    monkeypatch.setattr(mp_, "usable_cores", lambda: 1)
    assert mp_.resolve_workers(None, 10_000) == 1
    monkeypatch.setenv("VISLANG_METEOR_WORKERS", "3")
    assert mp_.resolve_workers(None, 10_000) == (3 if mp_.can_fork() else 1)
    assert mp_.resolve_workers(1, 10_000) == 1
    monkeypatch.setenv("VISLANG_METEOR_WORKERS", "two")
    with pytest.raises(ConfigError, match="VISLANG_METEOR_WORKERS"):
        mp_.resolve_workers(None, 10)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(InputError, match="workers"):
            mp_.resolve_workers(bad, 10)
    monkeypatch.delenv("VISLANG_METEOR_WORKERS")
    # force forking on a small input: 12 captions in chunks of 1 to 3
    monkeypatch.setattr(mp_, "MIN_PARALLEL", 0)
    monkeypatch.setattr(mp_, "MIN_CHUNK", 1)
    refs, cands, want = _forked_case()
    for workers in (2, 3):
        _, per = meteor_score(refs, cands, workers=workers)
        assert list(per) == list(cands)  # input order
        assert per == pytest.approx(want, abs=1e-12)
    m = Meteor(workers=2)
    m.update(refs, cands)
    assert m.compute()["meteor_per_item"] == pytest.approx(want, abs=1e-12)


def _forked_case():
    base = {"a": ("dog runs fast green park", ["green park dog runs fast"], 1 - G * 0.4**B),
            "b": ("park green fast runs dog", ["dog runs fast green park"], 1 - G),
            "c": ("the children", ["kids"], 0.6),
            "d": ("dogs running", ["dog running"], (D * 1.0 + D * 0.6) / (2 * D))}
    refs, cands, want = {}, {}, {}
    for k in range(3):
        for name, (hyp, rs, value) in base.items():
            refs[f"{name}{k}"], cands[f"{name}{k}"], want[f"{name}{k}"] = rs, hyp, value
    return refs, cands, want


def test_chunk_plan_covers_the_input_largest_first():
    from vislang.metrics.text.meteor_parallel import MAX_CHUNKS, plan_chunks

    # 8,092 captions, 2 workers: a third of what is left each time (ceil(8,092 / 3) = 2,698, then
    # ceil(5,394 / 3) = 1,798, ...), at least 400; the last 665 stay one chunk (a 400 would leave 265),
    # and the plan is sorted largest first
    sizes = [b - a for a, b in plan_chunks(8092, 2, 4000)]
    assert sizes == [2698, 1798, 1199, 799, 665, 533, 400]
    assert sum(sizes) == 8092
    for n, w, cap in ((1, 2, 4000), (12, 2, 4000), (401, 3, 4000), (100_000, 2, 4000), (10**6, 8, 4000)):
        plan = plan_chunks(n, w, cap)
        assert plan[0][0] == 0 and plan[-1][1] == n and len(plan) <= MAX_CHUNKS
        assert all(a < b and b == c for (a, b), (c, _) in zip(plan, plan[1:] + [(n, n)]))
        assert all(b - a <= max(cap, -(-n // MAX_CHUNKS)) for a, b in plan)


@pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "darwin", reason="needs fork")
def test_forked_processes_score_chunks_and_a_failed_one_is_rescored(monkeypatch, tmp_path):
    from vislang.metrics.text import meteor_parallel as mp_
    from vislang.metrics.text.meteor import MeteorScorer

    monkeypatch.setattr(mp_, "MIN_PARALLEL", 0)
    monkeypatch.setattr(mp_, "MIN_CHUNK", 1)
    refs, cands, want = _forked_case()
    parent, log = os.getpid(), tmp_path / "scored-by"
    real = MeteorScorer._score_items

    def slow_parent(self, items):  # the caller is slow: the forked process scores most chunks
        if os.getpid() == parent:
            time.sleep(0.3)
        else:
            with open(log, "a") as f:
                f.write(f"{len(items)}\n")
        return real(self, items)

    monkeypatch.setattr(MeteorScorer, "_score_items", slow_parent)
    _, per = meteor_score(refs, cands, workers=2)
    assert list(per) == list(cands) and per == pytest.approx(want, abs=1e-12)
    assert sum(map(int, log.read_text().split())) > 0  # the child's rows came through shared memory

    failed = tmp_path / "failed"

    def failing_child(self, items):  # every forked process dies on its first chunk
        if os.getpid() != parent:
            failed.write_text("yes")
            raise MemoryError("simulated")
        time.sleep(0.3)
        return real(self, items)

    monkeypatch.setattr(MeteorScorer, "_score_items", failing_child)
    _, per = meteor_score(refs, cands, workers=3)
    assert failed.exists()  # a chunk was lost in a child ...
    assert list(per) == list(cands) and per == pytest.approx(want, abs=1e-12)  # ... and scored again

    def no_fork():
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(MeteorScorer, "_score_items", real)
    monkeypatch.setattr(os, "fork", no_fork)  # no process to be had: the caller does it all
    _, per = meteor_score(refs, cands, workers=2)
    assert list(per) == list(cands) and per == pytest.approx(want, abs=1e-12)


def test_fragmentation_penalty_power_is_rounded_like_the_jars_math_pow():
    # Statistics meteor-1.5.jar returned (SCORE line, -l en -norm) for a 90-word hypothesis and a
    # 64-word reference, and the score it gave them (EVAL line): 45 chunks over 47 matched words,
    # frag = 45/47, and Java's Math.pow(45/47, 0.2) = 0.9913406873113763 (the nearest double to the
    # exact 0.99134068731137631152...), where C's pow returns 0.9913406873113764.
    st = [90.0, 64.0, 29.0, 29.0, 26.0, 26.0, 18.0, 18.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 2.0, 2.0,
          0.0, 0.0, 0.0, 0.0, 45.0, 47.0, 47.0]
    assert segment_score(st) == 0.2781026682314168
    from vislang.metrics.text.meteor_formula import _pow, _segment_score_default

    assert _segment_score_default(st, (1.0, 0.6, 0.8, 0.6)) == 0.2781026682314168
    assert _pow(45 / 47, 0.2) == 0.9913406873113763
    assert _pow(0.0, 0.2) == 0.0 and _pow(1.0, 0.2) == 1.0 and math.isnan(_pow(math.nan, 0.2))


def test_chain_bound_counts_the_longest_possible_chunk():
    # "table old under sleeps cat" vs "cat sleeps under old table": 5 exact one-word candidates,
    # no two of them can form a chunk (longest chain: 1 word per line), so every alignment has
    # fragmentation >= 1 and the chain bound is 1 - G = the score (the plain bound says 1.0: every
    # word is covered).  With "old table cat sleeps under" the longest chain is "cat sleeps under"
    # (3 words per line): fragmentation >= 1/3, bound 1 - G (1/3)**B, above the score 1 - G 0.4**B
    # (2 chunks over 5 matches).
    from vislang.metrics.text.meteor import _scorer, _upper_bound
    from vislang.metrics.text.meteor_align import collect
    from vislang.metrics.text.meteor_formula import _chain_bound
    from vislang.metrics.text.meteor_lexicon import Sentence

    sc = _scorer(None, (0, 1, 2, 3))
    ref = "cat sleeps under old table"
    for hyp, bound, score in (("table old under sleeps cat", 1 - G, 1 - G),
                              ("old table cat sleeps under", 1 - G * (1 / 3) ** B, 1 - G * 0.4**B)):
        t_ids, r_ids = sc.lex.ids_many([hyp.split(), ref.split()])
        t, r = Sentence(t_ids, sc.lex), Sentence(r_ids, sc.lex)
        cands, _, _ = collect(t, r, sc.modules, sc.lex)
        parts: list = []
        assert _upper_bound(t, r, cands, sc.weights, parts) == 1.0
        assert parts == [(1.0, 10, True)]
        assert _chain_bound(cands, t.n, t.n + r.n, *parts[0]) == pytest.approx(bound, abs=1e-12)
        assert one(hyp, [ref]) == pytest.approx(score, abs=1e-12)
        # two equal references: the bound equals or exceeds the first one's score, so the second is
        # still searched (it could tie); the score is the same
        assert one(hyp, [ref, ref]) == pytest.approx(score, abs=1e-12)
