"""Captions of the built-in scenes: templates with synonyms, an exact parser, and foil captions.

The caption language is a finite set of sentence templates (:data:`TEMPLATES`, one list per
number of objects) whose slots are noun phrases and relation phrases:

* noun phrase: ``a SIZE COLOR SHAPE`` (first mention) or ``the SIZE COLOR SHAPE`` (a later
  mention of the same object), each word drawn from the synonyms in :data:`SIZE_WORDS`,
  :data:`COLOR_WORDS`, :data:`SHAPE_WORDS` (one choice per object and caption);
* relation phrase: one of :data:`RELATION_WORDS`; ``{rK}`` states relation K (between objects K
  and K+1) as "object K REL object K+1", ``{~rK}`` states it from the other side with the
  inverse relation ("object K+1 INV(REL) object K").

:func:`parse_caption` matches a caption against every template (lower-cased, punctuation
dropped, whitespace collapsed) and returns the objects' attributes and the relations it states,
so ``parse_caption(describe(spec))`` recovers every attribute and relation of ``spec`` (not the
positions). :func:`perturb_caption` changes exactly one attribute or relation, giving a FOIL.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from vislang.data.scene_spec import (COLORS, INVERSE, RELATIONS, SHAPES, SIZES, SceneObject, SceneSpec)
from vislang.errors import InputError

SIZE_WORDS: dict[str, tuple[str, ...]] = {"small": ("small", "little", "tiny"), "large": ("large", "big")}
COLOR_WORDS: dict[str, tuple[str, ...]] = {
    "red": ("red",), "orange": ("orange",), "yellow": ("yellow",), "green": ("green",), "blue": ("blue",),
    "purple": ("purple", "violet"),
}
SHAPE_WORDS: dict[str, tuple[str, ...]] = {
    "circle": ("circle", "disk"), "square": ("square", "box"), "triangle": ("triangle",), "star": ("star",),
    "diamond": ("diamond", "rhombus"), "cross": ("cross", "plus sign"),
}
RELATION_WORDS: dict[str, tuple[str, ...]] = {
    "left of": ("left of", "to the left of", "on the left of"),
    "right of": ("right of", "to the right of", "on the right of"),
    "above": ("above", "on top of", "over"),
    "below": ("below", "under", "beneath"),
}

#: Sentence templates by number of objects. ``{i}``: object i with "a"; ``{it}``: object i again with
#: "the"; ``{rK}`` / ``{~rK}``: relation K stated forwards / from the other side.
TEMPLATES: dict[int, tuple[str, ...]] = {
    1: (
        "{0}",
        "there is {0}",
        "an image of {0}",
        "a picture of {0}",
        "{0} on a pale background",
        "a drawing of {0}",
    ),
    2: (
        "{0} {r0} {1}",
        "{0} is {r0} {1}",
        "there is {0} {r0} {1}",
        "{1} is {~r0} {0}",
        "{1} with {0} {r0} it",
        "an image of {0} {r0} {1}",
        "a picture of {1} {~r0} {0}",
    ),
    3: (
        "{0} {r0} {1} which is {r1} {2}",
        "{0} is {r0} {1} and {1t} is {r1} {2}",
        "{1} with {0} {r0} it and {2} {~r1} it",
        "{2} is {~r1} {1} which is {~r0} {0}",
        "there is {0} {r0} {1} and {1t} is {r1} {2}",
        "an image of {0} {r0} {1} which is {r1} {2}",
    ),
}

_SLOT = re.compile(r"\{(~?)(r?)(\d)(t?)\}")
#: every word or phrase of the captions -> its canonical value (no word is in two tables)
_WORD_TO: dict[str, str] = {w: canon for table in (SIZE_WORDS, COLOR_WORDS, SHAPE_WORDS, RELATION_WORDS)
                            for canon, words in table.items() for w in words}


def _all_words(table: dict[str, tuple[str, ...]]) -> list[str]:
    return [w for words in table.values() for w in words]


def _alt(words) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


@dataclass(frozen=True)
class _Mention:
    kind: str       # "object" or "relation"
    index: int      # object index or relation index
    inverse: bool   # relation stated from the other side
    definite: bool  # "the" (a repeated object)


@dataclass(frozen=True)
class _Template:
    n_objects: int
    number: int
    text: str
    mentions: tuple[_Mention, ...]
    regex: re.Pattern


@lru_cache(maxsize=1)
def _compiled() -> tuple[_Template, ...]:
    size_re, color_re, shape_re = (_alt(_all_words(t)) for t in (SIZE_WORDS, COLOR_WORDS, SHAPE_WORDS))
    rel_re = _alt(_all_words(RELATION_WORDS))
    out = []
    for n, templates in TEMPLATES.items():
        for number, text in enumerate(templates):
            mentions, parts, pos = [], [], 0
            for m in _SLOT.finditer(text):
                parts.append(re.escape(text[pos:m.start()]))
                pos = m.end()
                k = len(mentions)
                if m.group(2):  # relation
                    mentions.append(_Mention("relation", int(m.group(3)), bool(m.group(1)), False))
                    parts.append(f"(?P<m{k}r>{rel_re})")
                else:
                    definite = bool(m.group(4))
                    mentions.append(_Mention("object", int(m.group(3)), False, definite))
                    det = "the" if definite else "an?"
                    parts.append(f"{det} (?P<m{k}s>{size_re}) (?P<m{k}c>{color_re}) (?P<m{k}h>{shape_re})")
            parts.append(re.escape(text[pos:]))
            out.append(_Template(n, number, text, tuple(mentions), re.compile("".join(parts) + r"\Z")))
    return tuple(out)


def normalize_caption(text: str) -> str:
    """Lower-case, punctuation to spaces, whitespace collapsed: the form the parser reads."""
    return " ".join(re.sub(r"[^a-z ]+", " ", text.lower()).split())


def _chain(spec: SceneSpec) -> list[str]:
    """Relation K of a spec as "object K REL object K+1" (the spec may state it either way round)."""
    n = len(spec.objects)
    if not 1 <= n <= 3:
        raise InputError(f"scene spec: {n} objects; captions describe scenes of 1 to 3 objects")
    chain: list[str | None] = [None] * (n - 1)
    for a, r, b in spec.relations:
        if b == a + 1:
            k, rel = a, r
        elif a == b + 1:
            k, rel = b, INVERSE[r]
        else:
            continue
        if chain[k] is None:
            chain[k] = rel
    if any(c is None for c in chain):
        raise InputError("scene spec: captions need a relation between each pair of consecutive objects")
    return chain  # type: ignore[return-value]


def _index(rng: np.random.Generator, n: int) -> int:
    """A uniform index in range(n) (``rng.random()`` is ~10x faster than ``rng.integers`` per call)."""
    return int(rng.random() * n)


def _pick(words: tuple[str, ...], rng: np.random.Generator | None) -> str:
    return words[0] if rng is None or len(words) == 1 else words[_index(rng, len(words))]


def describe(spec: SceneSpec, rng: np.random.Generator | None = None, template: int | None = None) -> str:
    """One caption of ``spec``. ``template``: index into ``TEMPLATES[len(spec.objects)]`` (random with
    ``rng``, else 0); synonyms are random with ``rng``, else the first (canonical) word."""
    chain = _chain(spec)
    n = len(spec.objects)
    templates = TEMPLATES[n]
    if template is None:
        template = 0 if rng is None else _index(rng, len(templates))
    if not 0 <= template < len(templates):
        raise InputError(f"template {template}: scenes of {n} objects have templates 0..{len(templates) - 1}")
    words = [(_pick(SIZE_WORDS[o.size], rng), _pick(COLOR_WORDS[o.color], rng), _pick(SHAPE_WORDS[o.shape], rng))
             for o in spec.objects]
    rel_words = [_pick(RELATION_WORDS[INVERSE[r]], rng) + "\0" + _pick(RELATION_WORDS[r], rng) for r in chain]

    def fill(m: re.Match) -> str:
        inverse, is_rel, idx, definite = bool(m.group(1)), bool(m.group(2)), int(m.group(3)), bool(m.group(4))
        if is_rel:
            inv_word, word = rel_words[idx].split("\0")
            return inv_word if inverse else word
        return ("the " if definite else "a ") + " ".join(words[idx])

    return _SLOT.sub(fill, templates[template])


def all_captions(spec: SceneSpec, k: int = 5, rng: np.random.Generator | None = None) -> list[str]:
    """``k`` distinct captions of ``spec``, cycling through the templates in a random order with random
    synonyms (``rng`` None: a fixed generator, so the result is still deterministic)."""
    if rng is None:
        rng = np.random.Generator(np.random.PCG64(0))
    n_templates = len(TEMPLATES[len(spec.objects)])
    order = rng.permutation(n_templates)
    out: list[str] = []
    seen: set[str] = set()
    for attempt in range(200 * k):
        cap = describe(spec, rng, template=int(order[attempt % n_templates]))
        if cap not in seen:
            seen.add(cap)
            out.append(cap)
            if len(out) == k:
                return out
    raise InputError(f"could not make {k} distinct captions for this scene; ask for fewer")


def _match(text: str) -> tuple[_Template, re.Match] | None:
    norm = normalize_caption(text)
    for t in _compiled():
        m = t.regex.match(norm)
        if m is not None and _consistent(t, m):
            return t, m
    return None


def _consistent(t: _Template, m: re.Match) -> bool:
    seen: dict[int, tuple[str, str, str]] = {}
    for k, men in enumerate(t.mentions):
        if men.kind == "object":
            attrs = tuple(_WORD_TO[m.group(f"m{k}{g}")] for g in "sch")
            if seen.setdefault(men.index, attrs) != attrs:  # "the ..." must repeat an earlier object
                return False
    return True


def parse_caption(text: str) -> SceneSpec | None:
    """The objects (size, colour, shape; no positions) and relations a caption states, or ``None``
    when the caption is not a sentence of the scene grammar."""
    found = _match(text)
    if found is None:
        return None
    t, m = found
    objects: dict[int, SceneObject] = {}
    relations = []
    for k, men in enumerate(t.mentions):
        if men.kind == "object":
            size, color, shape = (_WORD_TO[m.group(f"m{k}{g}")] for g in "sch")
            objects.setdefault(men.index, SceneObject(shape=shape, color=color, size=size))
        else:
            rel = _WORD_TO[m.group(f"m{k}r")]
            a, b = men.index, men.index + 1
            relations.append((b, rel, a) if men.inverse else (a, rel, b))
    return SceneSpec(tuple(objects[i] for i in range(t.n_objects)), tuple(relations))


PERTURB_KINDS = ("color", "shape", "size", "relation")


def perturb_caption(caption: str | SceneSpec, kind: str, rng: np.random.Generator) -> str:
    """A FOIL: the caption with exactly one thing changed -- one object's colour, shape or size (in
    every mention of that object), or one relation -- keeping the template and the other words.

    The changed object is kept distinct from the others where any change allows it (a small and a
    large purple diamond can only become two of a kind). A :class:`SceneSpec` is first described
    with ``rng``. The result is normalised (lower case, no punctuation). Raises :class:`InputError`
    for a caption outside the grammar, an unknown ``kind``, or ``kind="relation"`` on a one-object scene.
    """
    if kind not in PERTURB_KINDS:
        raise InputError(f"perturbation kind {kind!r}; expected one of {list(PERTURB_KINDS)}")
    text = describe(caption, rng) if isinstance(caption, SceneSpec) else caption
    found = _match(text)
    if found is None:
        raise InputError(f"caption {text!r} is not a sentence of the scene grammar; cannot perturb it")
    t, m = found
    norm = normalize_caption(text)
    edits: list[tuple[int, int, str]] = []
    if kind == "relation":
        rel_mentions = [k for k, men in enumerate(t.mentions) if men.kind == "relation"]
        if not rel_mentions:
            raise InputError("a one-object caption has no relation to perturb; use color, shape or size")
        k = rel_mentions[int(rng.integers(len(rel_mentions)))]
        old = _WORD_TO[m.group(f"m{k}r")]
        new = [r for r in RELATIONS if r != old][int(rng.integers(len(RELATIONS) - 1))]
        edits.append((m.start(f"m{k}r"), m.end(f"m{k}r"), _pick(RELATION_WORDS[new], rng)))
    else:
        group, values, table = {"color": ("c", COLORS, COLOR_WORDS), "shape": ("h", SHAPES, SHAPE_WORDS),
                                "size": ("s", SIZES, SIZE_WORDS)}[kind]
        spec = parse_caption(norm)
        attrs = spec.attributes
        slot = {"s": 0, "c": 1, "h": 2}[group]
        distinct, clash = [], []  # (object, new value): keeps the objects distinct, or not
        for i, a in enumerate(attrs):
            for v in values:
                if v != a[slot]:
                    (clash if a[:slot] + (v,) + a[slot + 1:] in attrs else distinct).append((i, v))
        choices = distinct or clash  # e.g. a small and a large purple diamond: a size change must clash
        obj, value = choices[int(rng.integers(len(choices)))]
        word = _pick(table[value], rng)
        for k, men in enumerate(t.mentions):
            if men.kind == "object" and men.index == obj:
                edits.append((m.start(f"m{k}{group}"), m.end(f"m{k}{group}"), word))
    for start, end, word in sorted(edits, reverse=True):
        norm = norm[:start] + word + norm[end:]
    return norm


def spec_attributes_match(pred: SceneSpec | None, true: SceneSpec) -> dict[str, int | bool]:
    """How much of ``true`` a predicted (e.g. parsed) spec gets right, counted per attribute.

    Objects are paired by the assignment that maximises agreeing attributes (then relations).
    Returns counts: ``color``, ``shape``, ``size`` (objects of ``true`` whose attribute the paired
    object shares), ``attributes_correct`` / ``attributes_total`` (3 per true object),
    ``relations_correct`` / ``relations_total`` (a true relation counts if the paired objects stand in
    it, stated either way round), ``objects_true``, ``objects_pred``, ``objects_extra``, and ``exact``
    (same objects, same relations, nothing extra). ``pred=None`` scores zero.
    """
    n = len(true.objects)
    out: dict[str, int | bool] = {"color": 0, "shape": 0, "size": 0, "attributes_correct": 0,
                                  "attributes_total": 3 * n, "relations_correct": 0,
                                  "relations_total": len(true.relations), "objects_true": n,
                                  "objects_pred": 0, "objects_extra": 0, "exact": False}
    if pred is None:
        return out
    mp = len(pred.objects)
    out["objects_pred"], out["objects_extra"] = mp, max(0, mp - n)
    pred_rel = {(a, r, b) for a, r, b in pred.relations} | {(b, INVERSE[r], a) for a, r, b in pred.relations}

    def score(pairing: dict[int, int]):
        per = {"color": 0, "shape": 0, "size": 0}
        for i, j in pairing.items():
            t, p = true.objects[i], pred.objects[j]
            per["color"] += t.color == p.color
            per["shape"] += t.shape == p.shape
            per["size"] += t.size == p.size
        rel = sum(1 for a, r, b in true.relations
                  if a in pairing and b in pairing and (pairing[a], r, pairing[b]) in pred_rel)
        return sum(per.values()), rel, per

    best = None
    k = min(n, mp)
    for true_idx in itertools.combinations(range(n), k):
        for pred_idx in itertools.permutations(range(mp), k):
            total, rel, per = score(dict(zip(true_idx, pred_idx)))
            if best is None or (total, rel) > best[:2]:
                best = (total, rel, per)
    if best is not None:
        total, rel, per = best
        out.update(per)
        out["attributes_correct"], out["relations_correct"] = total, rel
    out["exact"] = (mp == n and out["attributes_correct"] == 3 * n and out["relations_correct"] == len(true.relations)
                    and pred.canonical_relations() == true.canonical_relations())
    return out
