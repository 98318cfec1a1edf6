"""Pure-Python PTB tokenization identical to pycocoevalcap's ``PTBTokenizer``.

pycocoevalcap (coco-caption) joins all captions of one call with newlines, runs Stanford CoreNLP
3.4.1's ``PTBTokenizer -preserveLines -lowerCase`` on them (Java), splits the output back into
lines, and drops the tokens in :data:`PUNCTUATIONS`.  :func:`ptb_tokenize` does the same without
Java: the lexer rules of CoreNLP 3.4.1 (``_ptb_rules.py``) run with JFlex's longest-match
semantics, lower-casing, then the same punctuation removal.

Because the Java lexer sees all captions of a call as ONE text, a few rules look past the end of a
caption into the next one (for example a one-letter acronym such as ``"vitamin C."`` followed by a
caption that starts with ``"The"`` becomes ``c`` rather than ``c.``).  :func:`ptb_tokenize`
reproduces that too: it tokenizes a list exactly as pycocoevalcap tokenizes the same list in one call.

Known, documented differences (see docs/caption_metrics.md):

* a caption containing a line-break character other than ``\\n`` (``\\r``, U+000B, U+000C, U+2028,
  U+2029) makes the Java output have more lines than captions, so pycocoevalcap pairs every later
  caption with the wrong tokens; here those characters separate tokens like a space and the pairing
  stays right;
* letters added to Unicode after the JDK that generated CoreNLP 3.4.1's scanner (Unicode 6.x) are
  letters here (Python's Unicode tables) and untokenizable (deleted) there;
* an SGML tag whose quoted attribute value spans two captions.

Speed: most captions are plain ASCII words and numbers with simple punctuation; those take a fast
path whose result is provably what the full lexer gives (the conditions are checked for all captions
at once on arrays of character classes; see ``_ptb_fast.py``).  Other captions go
through the full lexer, with results memoised per caption and context; when the text it looks at is
all ASCII it uses the rules' ASCII table (``_ptb_rules.build_rules(ascii_only=True)``), which
compiles about twice as fast as the Unicode one.
"""

from __future__ import annotations

import re
from itertools import repeat
import unicodedata
from typing import Iterable, Sequence


from vislang.errors import InputError
# the fast path: simple captions are split in bulk, the others go to the full lexer below
from vislang.metrics.text._ptb_fast import _ASSIM, _DROP_PUNCT
from vislang.metrics.text._ptb_fast import slow_lines as _slow_lines

#: Tokens pycocoevalcap removes after tokenization (pycocoevalcap/tokenizer/ptbtokenizer.py).
#: Note that the lexer's escapes come out lower-cased (``-lrb-``), so ``-LRB-`` etc. never match:
#: pycocoevalcap keeps ``-lrb-``, ``-rrb-``, ``-lcb-``, ``-rcb-``, ``-lsb-``, ``-rsb-`` as words.
PUNCTUATIONS = frozenset(["''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-",
                          ".", "?", "!", ",", ":", "-", "--", "...", ";"])

# ----------------------------------------------------------------------------------------------
# Full lexer (JFlex longest match over the rules of _ptb_rules).

_LSQ = re.compile("[\u0091\u2018\u201b\u2039]")
_RSQ = re.compile("[\u0092\u2019\u203a]")
_LDQ = re.compile("[\u0093\u201c\u00ab]")
_RDQ = re.compile("[\u0094\u201d\u00bb]")
_SQ = re.compile("&apos;|'")
_DQ = re.compile("\"|&quot;")
_AMP = re.compile("(?i:&amp;)")
_CUR = re.compile("[\u0080\u00a4\u20a0\u20ac]")
_FRAC2 = {"\u00bc": "1/4", "\u00bd": "1/2", "\u00be": "3/4", "\u2153": "1/3", "\u2154": "2/3"}
_FIXED = {"mdash": "--", "lt": "<", "gt": ">", "lcb": "-LCB-", "rcb": "-RCB-", "lsb": "-LSB-",
          "rsb": "-RSB-", "lrb": "-LRB-", "rrb": "-RRB-", "ldots": "..."}


def _latex_quotes(tok: str, left: bool) -> str:
    """CoreNLP's latexQuotes normalisation (the default quote handling)."""
    if left:
        tok = _SQ.sub("`", tok)
        tok = _DQ.sub("``", tok)
    else:
        tok = _SQ.sub("'", tok)
        tok = _DQ.sub("''", tok)
    tok = _LSQ.sub("`", tok)
    tok = _RSQ.sub("'", tok)
    tok = _LDQ.sub("``", tok)
    return _RDQ.sub("''", tok)


def _soft(tok: str) -> str:
    if "\u00ad" not in tok:
        return tok
    return tok.replace("\u00ad", "") or "-"


#: Shortcuts of the full lexer: a run of SPACE characters starting with " " or a tab is skipped
#: (only the SPACES rule matches at those two; a run starting with U+00A0 etc. is not shortcut, as
#: LIKELYURL and EMAIL may start there), and ASCII letters followed by a space, tab, line end or the end are one token
#: (WORD, or ABBREV4/ACRO with trailing space: the same text; no other rule can span the space),
#: except for the assimilations "gonna" etc.
_FAST = re.compile("([A-Za-z]+)(?=[ \t\n]|\\Z)|[ \t][ \t\u00a0\u2000-\u200a\u3000]*")


_dispatch: dict[tuple[str, bool], list] = {}
_firsts: dict[bool, list] = {}


def _candidates(ch: str, ascii_only: bool) -> list:
    """The (pattern, action) pairs, in rule order, whose match can begin with ``ch`` (memoised);
    ``ascii_only``: from the rule table for all-ASCII text (see ``_ptb_rules.build_rules``)."""
    cand = _dispatch.get((ch, ascii_only))
    if cand is None:
        firsts = _firsts.get(ascii_only)
        if firsts is None:
            from vislang.metrics.text._ptb_rules import build_rules

            firsts = _firsts[ascii_only] = [(first, pat, action) for _name, pats, action, fs in build_rules(ascii_only)
                                            for pat, first in zip(pats, fs)]
        # the rule patterns are compiled here, for the characters that actually begin a token
        if ascii_only:  # first characters as sets
            cand = [(pat.compile(), action) for first, pat, action in firsts if ch in first]
        else:
            cand = [(pat.compile(), action) for first, pat, action in firsts if first.match(ch)]
        _dispatch[ch, ascii_only] = cand
    return cand


def _lex(text: str, end: int, ascii_only: bool | None = None) -> list[str]:
    """Raw (not lower-cased) tokens starting before ``end`` in ``text`` (text[end:] is context).
    ``ascii_only``: use the rule table for ASCII text (by default when ``text`` is ASCII)."""
    toks: list[str] = []
    pos = 0
    if ascii_only is None:
        ascii_only = text.isascii()
    while pos < end:
        m = _FAST.match(text, pos)
        if m is not None:  # spaces, or an ASCII word followed by a space / line end (see _FAST)
            if m.lastindex == 1:
                w = m.group(1)
                if w.lower() not in _ASSIM:
                    toks.append(w)
                    pos = m.end(1)
                    continue
            else:
                pos = m.end()
                continue
        best_len = 0
        best = None
        for pat, action in _candidates(text[pos], ascii_only):
            m = pat.match(text, pos)
            if m is not None:
                if action == "dupdot_up":  # SENTEND's [:uppercase:] (Java Character.isUpperCase)
                    up = m.group("up")
                    if up is not None and unicodedata.category(up) != "Lu":
                        continue
                n = m.end() - pos
                if n > best_len:
                    best_len, best = n, (m, action)
        if best is None:  # untokenizable character: deleted (CoreNLP's default "firstDelete")
            pos += 1
            continue
        m, action = best
        t = m.group("t") if "t" in m.re.groupindex else m.group(0)
        consumed = len(t)
        tok: str | None = t
        if action == "tok":
            pass
        elif action == "skip":
            tok = None
        elif action == "softhyph":
            tok = _soft(t)
        elif action in _FIXED:
            tok = _FIXED[action]
        elif action == "push3":
            consumed -= 3
            tok = t[:consumed]
        elif action == "push2":
            consumed -= 2
            tok = t[:consumed]
        elif action in ("dupdot", "dupdot_up"):  # "etc." then "." again
            consumed -= 1
        elif action == "acronym":
            consumed -= 1
            if len(t) == 2:  # "I." -> "I" then "."
                tok = t[:1]
        elif action == "quote_l":
            tok = _latex_quotes(t, True)
        elif action == "quote_r":
            tok = _latex_quotes(t, False)
        elif action == "amp":
            tok = _AMP.sub("&", t)
        elif action in ("sgml", "nbsp"):
            tok = t.replace(" ", "\u00a0")
        elif action == "phone":
            tok = t.replace(" ", "\u00a0").replace("(", "-LRB-").replace(")", "-RRB-")
        elif action == "paren":
            tok = t.replace("(", "-LRB-").replace(")", "-RRB-")
        elif action == "hyphens":
            tok = "--" if 3 <= len(t) <= 4 else t
        elif action == "frac2":
            tok = _FRAC2.get(t, t)
        elif action == "currency":
            tok = _CUR.sub("$", t.replace("\u00a2", "cents").replace("\u00a3", "#"))
        else:  # pragma: no cover
            raise AssertionError(action)
        if tok is not None:
            toks.append(tok)
        pos += consumed
    return toks


_NONBMP = re.compile("[\U00010000-\U0010ffff]")


def _to_utf16_units(s: str) -> str:
    """Java sees a non-BMP character as two UTF-16 surrogates; so do we (they are untokenizable)."""
    def split(m):
        cp = ord(m.group(0)) - 0x10000
        return chr(0xD800 + (cp >> 10)) + chr(0xDC00 + (cp & 0x3FF))
    return _NONBMP.sub(split, s)


def _from_utf16_units(s: str) -> str:
    return s.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


_JAVA_NL = re.compile("\r\n|[\r\u2028\u2029\u000b\u000c]")
_CTX = 48  # characters of the following captions the lexer may look at (longest trailing context)


def _finish(raw: list[str]) -> str:
    """Lower-case (Java's toLowerCase, ENGLISH locale), join, then pycocoevalcap's punctuation removal."""
    line = " ".join(raw).lower().rstrip()
    return " ".join(w for w in line.split(" ") if w not in PUNCTUATIONS)


_cache: dict[tuple[str, str], str] = {}
_CACHE_MAX = 200_000


def _tokenize_line(line: str, follow: str) -> str:
    key = (line, follow)
    hit = _cache.get(key)
    if hit is not None:
        return hit
    text = line + follow
    if _NONBMP.search(text):
        text = _to_utf16_units(text)
        end = len(_to_utf16_units(line))
        out = _from_utf16_units(_finish(_lex(text, end)))
    else:
        out = _finish(_lex(text, len(line)))
    if len(_cache) >= _CACHE_MAX:
        _cache.clear()
    _cache[key] = out
    return out


def _check(captions: Sequence) -> list[str]:
    if isinstance(captions, str):
        raise InputError("ptb_tokenize expects a list of captions, got a single string; wrap it in a list")
    out = list(captions)
    if not all(map(isinstance, out, repeat(str))):  # the loop in C; find the culprit only on failure
        for i, c in enumerate(out):
            if not isinstance(c, str):
                raise InputError(f"caption #{i} is {type(c).__name__}, not a string")
    return out


def ptb_tokenize_split(captions: Iterable[str]) -> tuple[list[str], list[list[str]]]:
    """:func:`ptb_tokenize` plus each result split on whitespace (what BLEU and CIDEr count)."""
    out = ptb_tokenize(captions)
    return out, [t.split() for t in out]


def ptb_tokenize(captions: Iterable[str]) -> list[str]:
    """Tokenize captions exactly as one call of pycocoevalcap's ``PTBTokenizer`` does.

    Returns one string per caption: its lower-cased PTB tokens joined by single spaces, with
    pycocoevalcap's punctuation tokens removed (an all-punctuation caption gives ``""``).
    The result for a caption may depend on the caption after it (see the module docstring), as in
    pycocoevalcap; to reproduce a pycocoevalcap run, pass the captions in the order it sees them.
    """
    lines = _check(captions if isinstance(captions, str) else list(captions))
    n = len(lines)
    if n == 0:
        return []
    text = "\n".join(lines)
    if text.count("\n") != n - 1:  # a caption with a newline: it becomes a space
        lines = [c.replace("\n", " ") for c in lines]
        text = "\n".join(lines)
    low = text.lower()
    slow = _slow_lines(text, lines, low)
    # Fast lines in bulk: lower-case, punctuation tokens to spaces, clitics split off, words joined.
    low = low.translate(_DROP_PUNCT)
    if "'" in low:
        low = low.replace("'", " '")  # in a fast line every "'" begins a clitic
    out = list(map(" ".join, map(str.split, low.split("\n"))))
    for i in sorted(slow):
        # What follows this caption in the Java input: a newline and the next captions (or EOF).
        follow = ""
        j = i + 1
        while j < n and len(follow) < _CTX:
            follow += "\n" + lines[j]
            j += 1
        line_j = _JAVA_NL.sub(" ", lines[i])  # documented difference: keep one output line per caption
        out[i] = _tokenize_line(line_j, follow[:_CTX])
    return out


def tokenize(caption: str) -> list[str]:
    """Token list of one caption (as if it were the only caption of a pycocoevalcap call)."""
    s = ptb_tokenize([caption])[0]
    return s.split(" ") if s else []


def clear_cache() -> None:
    """Forget memoised tokenizations (benchmarks call it to time a cold start)."""
    _cache.clear()
