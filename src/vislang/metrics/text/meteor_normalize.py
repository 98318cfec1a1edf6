"""METEOR 1.5's ``-norm`` text normalisation for English (punctuation kept), and Java string helpers.

What ``-norm`` does (METEOR 1.5 ``Normalizer``, itself after the Moses tokenizer): pad
non-alphanumeric symbols other than ``. ' ` , -`` and curly quotes with spaces; mark runs of
dots; split commas not between digits; fold back-quotes and curly single quotes to ``'`` and
curly double quotes / ``''`` to ``"``; fold en-dashes and ``--`` to ``-`` and split hyphens
inside words; split English contractions (``'s`` stays attached to its apostrophe); split a
final period off a word unless the word is a non-breaking prefix (``Mr.``, ``e.g.``) or
followed by a lower-case word; squeeze white space.  Then everything is lower-cased.

For text that pycocoevalcap's PTB tokenizer already produced (lower case, no punctuation)
the visible effects are hyphen splitting (``t-shirt`` -> ``t shirt``) and apostrophes.
The rules here were checked against the jar's own normaliser on every Flickr8k caption.
"""

from __future__ import annotations

import re

_ALPHA = (
    "A-Za-z\u0160\u017d\u0161\u017e\u0178\xc0-\xd6\xd8-\xf6\xf8-\u017e"
    "\u0400-\u04ff\u0500-\u0527\ua640-\ua66e\ua67e-\ua697\u1d00-\u1d7f"
)
_ALNUM = "0-9" + _ALPHA
_JAVA_WS = " \t\n\x0b\f\r"  # java.util.regex \s (ASCII only)

_R_SEP_OTHER = re.compile("([^" + _ALNUM + _JAVA_WS + r"\.'`,\-\u2018\u2019])")
_R_MULTI_DOT = re.compile(r"\.([\.]+)")
_R_MULTI_DOT2 = re.compile(r"DOTMULTI\.([^\.])")
_R_COMMA = re.compile(r"([^0-9]),([^0-9])")
_R_COMMA2 = re.compile(r"([0-9]),([^0-9])")
_R_COMMA3 = re.compile(r"([^0-9]),([0-9])")
_R_QUOTE = re.compile("([`\u2018\u2019])")
_R_QUOTE2 = re.compile("([\u201c\u201d]|'')")
_R_RM_DASH = re.compile("([" + _ALNUM + r"\.])[\-]([" + _ALNUM + "])")
_R_CONT1 = re.compile("([^" + _ALPHA + "])'([^" + _ALPHA + "])")
_R_CONT2 = re.compile("([^" + _ALPHA + "0-9])'([" + _ALPHA + "])")
_R_CONT3 = re.compile("([" + _ALPHA + "])'([^" + _ALPHA + "])")
_R_CONT4 = re.compile("([" + _ALPHA + "])'([" + _ALPHA + "])")
_R_CONT5 = re.compile("([0-9])'([s])")
_R_WHITE = re.compile(
    "[ \u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000\xa0]+"
)
_R_HAS_ALPHA = re.compile("[" + _ALPHA + "]")
_R_TOKEN_SPLIT = re.compile("[ \t\n\r\f]+")  # java.util.StringTokenizer's default delimiters
_JAVA_TRIM = "".join(chr(i) for i in range(33))

NBP_ANY = 1
NBP_NUMERIC_ONLY = 2


def java_tokens(text: str) -> list[str]:
    """Split as ``java.util.StringTokenizer`` does (space, tab, newline, CR, form feed)."""
    return [t for t in _R_TOKEN_SPLIT.split(text) if t]


def java_trim(text: str) -> str:
    return text.strip(_JAVA_TRIM)


_HYPHENATED = re.compile(r"[a-z0-9 \-]*")


def normalize_hyphenated(text: str) -> list[str] | None:
    """The tokens of :func:`normalize_en` for text of lower-case letters, digits, spaces and
    hyphens only (about 2% of PTB-tokenised captions: ``t-shirt``), or None for other text.

    On such text every rule of ``-norm`` but two finds nothing to change (no symbol to pad, no dot,
    comma, quote or apostrophe, nothing to lower-case): ``--`` becomes ``-``, then a hyphen between
    two letters or digits becomes a space (one regex pass, so ``a-b-c`` -> ``a b-c``, as in the jar).
    """
    if not _HYPHENATED.fullmatch(text):
        return None
    return _R_RM_DASH.sub(r"\1 \2", text.replace("--", "-")).split()


def parse_prefixes(text: str) -> dict[str, int]:
    """Parse a Moses non-breaking-prefix file (``nonbreaking/english.prefixes`` in the jar)."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        tok = java_tokens(line)
        if not tok or tok[0].startswith("#"):
            continue
        kind = NBP_NUMERIC_ONLY if len(tok) > 1 and tok[1] == "#NUMERIC_ONLY#" else NBP_ANY
        out[tok[0]] = kind
    return out


def normalize_en(line: str, prefixes: dict[str, int]) -> str:
    """METEOR ``-norm`` (English, keep punctuation) followed by lower-casing."""
    s = " " + line + " "
    s = _R_SEP_OTHER.sub(r" \1 ", s)
    s = _R_MULTI_DOT.sub(r" DOTMULTI\1", s)
    while "DOTMULTI." in s:
        s = _R_MULTI_DOT2.sub(r"DOTDOTMULTI \1", s)
        s = s.replace("DOTMULTI.", "DOTDOTMULTI")
    s = _R_COMMA.sub(r"\1 , \2", s)
    s = _R_COMMA2.sub(r"\1 , \2", s)
    s = _R_COMMA3.sub(r"\1 , \2", s)
    s = _R_QUOTE.sub("'", s)
    s = _R_QUOTE2.sub(' " ', s)
    s = s.replace("\u2013", "-").replace("--", "-")
    s = _R_RM_DASH.sub(r"\1 \2", s)
    s = _R_CONT1.sub(r"\1 ' \2", s)
    s = _R_CONT2.sub(r"\1 ' \2", s)
    s = _R_CONT3.sub(r"\1 ' \2", s)
    s = _R_CONT4.sub(r"\1 '\2", s)
    s = _R_CONT5.sub(r"\1 '\2", s)
    words = java_tokens(s)
    out = []
    n = len(words)
    for i, w in enumerate(words):
        if len(w) > 1 and w.endswith("."):
            pre = w[:-1]
            kind = prefixes.get(pre)
            if "." in pre and _R_HAS_ALPHA.search(pre):
                out.append(w.replace(".", ""))
            elif kind == NBP_ANY or (i < n - 1 and "a" <= words[i + 1][0] <= "z"):
                out.append(w)
            elif kind == NBP_NUMERIC_ONLY and i < n - 1 and "0" <= words[i + 1][0] <= "9":
                out.append(w)
            else:
                out.append(pre + " .")
        else:
            out.append(w)
        out.append(" ")
    s = "".join(out)
    while "DOTDOTMULTI" in s:
        s = s.replace("DOTDOTMULTI", "DOTMULTI.")
    s = s.replace("DOTMULTI", ".")
    s = java_trim(_R_WHITE.sub(" ", s))
    return s.lower()
