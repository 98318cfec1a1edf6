"""The Snowball English ("Porter2") stemmer, as METEOR 1.5's stem stage uses it.

Written from the published algorithm description (M. Porter, "The English (Porter2)
stemming algorithm", https://snowballstem.org/algorithms/english/stemmer.html), in the
revision that the METEOR 1.5 jar bundles (tartarus.org Snowball, 2006-2014: R1 prefix
exceptions ``gener``/``commun``/``arsen``, the two exception lists, ``shortv`` as
"non-v_WXY v non-v, or non-v v at the word start").  Agreement with the jar's stemmer is
checked in ``tests/metrics/text/test_text_meteor_units.py`` on a word list.
"""

from __future__ import annotations

from functools import lru_cache

_VOWELS = frozenset("aeiouy")
_DOUBLES = ("bb", "dd", "ff", "gg", "mm", "nn", "pp", "rr", "tt")
_LI_ENDING = frozenset("cdeghkmnrt")

#: Whole words handled before anything else (the algorithm's "exception1").
_EXCEPTION1 = {
    "skis": "ski", "skies": "sky", "dying": "die", "lying": "lie", "tying": "tie",
    "idly": "idl", "gently": "gentl", "ugly": "ugli", "early": "earli", "only": "onli",
    "singly": "singl", "sky": "sky", "news": "news", "howe": "howe", "atlas": "atlas",
    "cosmos": "cosmos", "bias": "bias", "andes": "andes",
}
#: Words left alone after step 1a (the algorithm's "exception2").
_EXCEPTION2 = frozenset(
    ["inning", "outing", "canning", "herring", "earring", "proceed", "exceed", "succeed"]
)

_STEP2 = (
    ("ization", "ize"), ("ational", "ate"), ("fulness", "ful"), ("ousness", "ous"),
    ("iveness", "ive"), ("tional", "tion"), ("biliti", "ble"), ("lessli", "less"),
    ("entli", "ent"), ("ation", "ate"), ("alism", "al"), ("aliti", "al"), ("ousli", "ous"),
    ("iviti", "ive"), ("fulli", "ful"), ("enci", "ence"), ("anci", "ance"), ("abli", "able"),
    ("izer", "ize"), ("ator", "ate"), ("alli", "al"), ("bli", "ble"), ("ogi", "og"), ("li", ""),
)
_STEP3 = (
    ("ational", "ate"), ("tional", "tion"), ("alize", "al"), ("icate", "ic"), ("iciti", "ic"),
    ("ative", ""), ("ical", "ic"), ("ness", ""), ("ful", ""),
)
_STEP4 = (
    "ement", "ance", "ence", "able", "ible", "ment", "ant", "ent", "ism", "ate", "iti", "ous",
    "ive", "ize", "ion", "al", "er", "ic",
)
# all suffixes of a step, for one C-level test that rejects most words at once
_STEP2_ANY = tuple(suf for suf, _ in _STEP2)
_STEP3_ANY = tuple(suf for suf, _ in _STEP3)


def _is_v(c: str) -> bool:
    return c in _VOWELS


def _after_vowel_consonant(w: str, start: int) -> int:
    """Position just past the first non-vowel that follows a vowel, searching from ``start``."""
    n = len(w)
    i = start
    while i < n and not _is_v(w[i]):
        i += 1
    while i < n and _is_v(w[i]):
        i += 1
    return i + 1 if i < n else n


def _regions(w: str) -> tuple[int, int]:
    for prefix in ("gener", "commun", "arsen"):
        if w.startswith(prefix):
            p1 = len(prefix)
            break
    else:
        p1 = _after_vowel_consonant(w, 0)
    p2 = _after_vowel_consonant(w, p1) if p1 < len(w) else len(w)
    return p1, p2


def _shortv(w: str, end: int) -> bool:
    """True when ``w[:end]`` ends in a short syllable."""
    if end >= 3 and w[end - 1] not in _VOWELS and w[end - 1] not in "wxY" and w[end - 2] in _VOWELS \
            and w[end - 3] not in _VOWELS:
        return True
    return end == 2 and w[1] not in _VOWELS and w[0] in _VOWELS


def _step1a(w: str) -> str:
    for suf in ("'s'", "'s", "'"):
        if w.endswith(suf):
            w = w[: -len(suf)]
            break
    if w.endswith("sses"):
        return w[:-2]
    if w.endswith("ied") or w.endswith("ies"):
        return w[:-3] + ("i" if len(w) > 4 else "ie")
    if w.endswith("us") or w.endswith("ss"):
        return w
    if w.endswith("s"):
        if any(_is_v(c) for c in w[:-2]):
            return w[:-1]
    return w


def _step1b(w: str, p1: int) -> str:
    for suf in ("eedly", "eed"):
        if w.endswith(suf):
            if len(w) - len(suf) >= p1:
                return w[: -len(suf)] + "ee"
            return w
    for suf in ("ingly", "edly", "ing", "ed"):
        if w.endswith(suf):
            stem = w[: -len(suf)]
            if not any(_is_v(c) for c in stem):
                return w
            if stem.endswith(("at", "bl", "iz")):
                return stem + "e"
            if stem.endswith(_DOUBLES):
                return stem[:-1]
            if len(stem) == p1 and _shortv(stem, len(stem)):
                return stem + "e"
            return stem
    return w


def _step1c(w: str) -> str:
    if len(w) > 2 and w[-1] in "yY" and w[-2] not in _VOWELS:
        return w[:-1] + "i"
    return w


def _step2(w: str, p1: int) -> str:
    if not w.endswith(_STEP2_ANY):
        return w
    for suf, rep in _STEP2:
        if w.endswith(suf):
            start = len(w) - len(suf)
            if start < p1:
                return w
            if suf == "ogi":
                return w[:start] + rep if start > 0 and w[start - 1] == "l" else w
            if suf == "li":
                return w[:start] if start > 0 and w[start - 1] in _LI_ENDING else w
            return w[:start] + rep
    return w


def _step3(w: str, p1: int, p2: int) -> str:
    if not w.endswith(_STEP3_ANY):
        return w
    for suf, rep in _STEP3:
        if w.endswith(suf):
            start = len(w) - len(suf)
            if start < p1 or (suf == "ative" and start < p2):
                return w
            return w[:start] + rep
    return w


def _step4(w: str, p2: int) -> str:
    if not w.endswith(_STEP4):
        return w
    for suf in _STEP4:
        if w.endswith(suf):
            start = len(w) - len(suf)
            if start < p2:
                return w
            if suf == "ion":
                return w[:start] if start > 0 and w[start - 1] in "st" else w
            return w[:start]
    return w


def _step5(w: str, p1: int, p2: int) -> str:
    if w.endswith("e"):
        start = len(w) - 1
        if start >= p2 or (start >= p1 and not _shortv(w, start)):
            return w[:start]
    elif w.endswith("l"):
        start = len(w) - 1
        if start >= p2 and start > 0 and w[start - 1] == "l":
            return w[:start]
    return w


@lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """Snowball English stem of one (lower-case) word."""
    if word in _EXCEPTION1:
        return _EXCEPTION1[word]
    if len(word) < 3:
        return word
    w = word[1:] if word.startswith("'") else word
    # prelude: initial y, and y after a vowel, become consonant Y
    if w.startswith("y"):
        w = "Y" + w[1:]
    chars = list(w)
    for i in range(1, len(chars)):
        if chars[i] == "y" and chars[i - 1] in _VOWELS:
            chars[i] = "Y"
    w = "".join(chars)
    p1, p2 = _regions(w)
    w = _step1a(w)
    if w not in _EXCEPTION2:
        w = _step1b(w, p1)
        w = _step1c(w)
        w = _step2(w, p1)
        w = _step3(w, p1, p2)
        w = _step4(w, p2)
        w = _step5(w, p1, p2)
    return w.replace("Y", "y")
