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

Speed: most captions are plain words separated by spaces with an optional final period or comma;
those take a fast path whose result is provably what the full lexer gives.  Other captions go
through the full lexer; results are memoised per whitespace-free chunk.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from itertools import accumulate, repeat
import unicodedata
from typing import Iterable, Sequence

from vislang.errors import InputError

#: Tokens pycocoevalcap removes after tokenization (pycocoevalcap/tokenizer/ptbtokenizer.py).
#: Note that the lexer's escapes come out lower-cased (``-lrb-``), so ``-LRB-`` etc. never match:
#: pycocoevalcap keeps ``-lrb-``, ``-rrb-``, ``-lcb-``, ``-rcb-``, ``-lsb-``, ``-rsb-`` as words.
PUNCTUATIONS = frozenset(["''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-",
                          ".", "?", "!", ",", ":", "-", "--", "...", ";"])

# ----------------------------------------------------------------------------------------------
# Fast path: "simple" captions -- ASCII letters, spaces, "." and ",", where no "." is followed by a
# letter or ",", no one-letter word or abbreviation is followed by ".", and no word is an
# assimilation ("gonna" -> "gon na").  For such text every lexer rule gives the words themselves
# (WORD; the ABBREV4/ACRO rules with a trailing space give the same text) and "." / "," / "..."
# tokens, which pycocoevalcap then removes; and the result does not depend on the next caption.
_ASSIM = frozenset(["cannot", "gonna", "gotta", "lemme", "gimme", "wanna"])
#: Every word w for which "w." may be one token or change the tokens around it (ABBREV1,
#: ABBREV2/ABBREV4, ABBREV3 and the pty./co. rules of the grammar), lower-cased.
_ABBREV_WORDS = frozenset("""
jan feb mar apr jun jul aug sep sept oct nov dec mon tue tues wed thu thurs fri
ala ariz az ark calif colo conn ct dak del fla ga ill ind kan kans ky la mass md mich minn miss mo mont
neb nev okla ore pa penn tenn tex va vt wash wis wisc wyo inc co cos corp ltd plc rt bancorp bhd assn
univ intl sys tel est ext sq jr sr bros blvd rd esq etc al seq bldg pte pty ptes ptys ppte ppty pptes pptys
mr mrs ms dr drs prof profs sen sens rep reps atty attys lt col gen messrs gov govs adm rev maj sgt cpl
pvt capt st ste ave pres lieut hon brig cmdr comdr pfc spc supt supts det mt ft adj adv asst assoc ens
insp mlle mme msgr sfc vs alex wm jos cie cf treas ph invt elec natl mfg mtg dept
ca fig figs prop no nos art pp op
""".split())
#: What disqualifies a line from the fast path (besides a one-letter word or an abbreviation
#: before "." and an assimilation, checked apart).
_BAD_CHAR = re.compile(r"[^A-Za-z .,\n'\"-]")
#: Lines with "'" or "-" are fast only if every chunk (between spaces and double quotes) is a word,
#: a hyphenated word (one token: HTHING) or a word with a clitic ('s 'm 'd 're 've 'll: two tokens,
#: WORD/REDAUX), optionally followed by "." or ",", or a run of "." and ",".  A double quote is always
#: a token of its own (`` or ''), which pycocoevalcap removes.
_CHUNK = re.compile(r"(?:[A-Za-z]+(?:-[A-Za-z]+)*(?:'(?:[sSmMdD]|[rR][eE]|[vV][eE]|[lL][lL]))?[.,]?|[.,]+)")
_CHUNK_SPLIT = re.compile(r'[ "]+')
_CLITIC = re.compile(r"(?<=[a-z])'")
_APOS_HYPHEN = re.compile(r"['-]")
_BAD_DOT = re.compile(r"\.[A-Za-z,]")
_ASSIM_RE = re.compile(r"\b(?:cannot|gonna|gotta|lemme|gimme|wanna)\b")
#: An ASCII letter followed by "." (then the whole letter run before the "." is looked at).
_LETTER_DOT = re.compile(r"[A-Za-z]\.")
_ASCII_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_DROP_PUNCT = str.maketrans('.,"', "   ")


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


_dispatch: dict[str, list] = {}
_firsts: list = []


def _candidates(ch: str) -> list:
    """The (pattern, action) pairs, in rule order, whose match can begin with ``ch`` (memoised)."""
    cand = _dispatch.get(ch)
    if cand is None:
        if not _firsts:
            from vislang.metrics.text._ptb_rules import build_rules

            for _name, pats, action, firsts in build_rules():
                for pat, first in zip(pats, firsts):
                    _firsts.append((first, pat, action))
        # the rule patterns are compiled here, for the characters that actually begin a token
        cand = [(pat.compile(), action) for first, pat, action in _firsts if first.match(ch)]
        _dispatch[ch] = cand
    return cand


def _lex(text: str, end: int) -> list[str]:
    """Raw (not lower-cased) tokens starting before ``end`` in ``text`` (text[end:] is context)."""
    toks: list[str] = []
    pos = 0
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
        for pat, action in _candidates(text[pos]):
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


def ptb_tokenize(captions: Iterable[str]) -> list[str]:
    """Tokenize captions exactly as one call of pycocoevalcap's ``PTBTokenizer`` does.

    Returns one string per caption: its lower-cased PTB tokens joined by single spaces, with
    pycocoevalcap's punctuation tokens removed (an all-punctuation caption gives ``""``).
    The result for a caption may depend on the caption after it (see the module docstring), as in
    pycocoevalcap; to reproduce a pycocoevalcap run, pass the captions in the order it sees them.
    """
    return ptb_tokenize_split(captions)[0]


def ptb_tokenize_split(captions: Iterable[str]) -> tuple[list[str], list[list[str]]]:
    """:func:`ptb_tokenize` plus each result split on whitespace (what BLEU and CIDEr count)."""
    lines = _check(captions if isinstance(captions, str) else list(captions))
    n = len(lines)
    if n == 0:
        return [], []
    # Fast path, in bulk: find the lines that are not "simple" (see the comments above _ASSIM).
    text = "\n".join(lines)
    if text.count("\n") != n - 1:  # a caption with a newline: it becomes a space
        lines = [c.replace("\n", " ") for c in lines]
        text = "\n".join(lines)
    starts = list(accumulate([len(line) + 1 for line in lines[:-1]], initial=0))
    slow = set()
    for m in _BAD_CHAR.finditer(text):
        slow.add(bisect_right(starts, m.start()) - 1)
    for m in _BAD_DOT.finditer(text):
        slow.add(bisect_right(starts, m.start()) - 1)
    for m in _LETTER_DOT.finditer(text):  # a word before "." (lines with other word characters are slow already)
        end = m.start() + 1
        beg = end - 1
        while beg > 0 and text[beg - 1] in _ASCII_LETTERS:
            beg -= 1
        if end - beg == 1 or text[beg:end].lower() in _ABBREV_WORDS:
            slow.add(bisect_right(starts, beg) - 1)
    for m in _APOS_HYPHEN.finditer(text):
        i = bisect_right(starts, m.start()) - 1
        if i not in slow:
            for chunk in _CHUNK_SPLIT.split(lines[i]):
                if chunk and not _CHUNK.fullmatch(chunk):
                    slow.add(i)
                    break
    low = text.lower().translate(_DROP_PUNCT).split("\n")
    for i, lw in enumerate(low):
        if ("nna" in lw or "tta" in lw or "mme" in lw or "cannot" in lw) and _ASSIM_RE.search(lw):
            slow.add(i)
    out = []
    words = []
    for i, line in enumerate(lines):
        if i not in slow:
            lw = low[i]
            if "'" in lw:
                lw = _CLITIC.sub(" '", lw)
            w = lw.split()
            words.append(w)
            out.append(" ".join(w))
            continue
        # What follows this caption in the Java input: a newline and the next captions (or EOF).
        follow = ""
        j = i + 1
        while j < n and len(follow) < _CTX:
            follow += "\n" + lines[j]
            j += 1
        follow = follow[:_CTX]
        line_j = _JAVA_NL.sub(" ", line)  # documented difference: keep one output line per caption
        t = _tokenize_line(line_j, follow)
        out.append(t)
        words.append(t.split())
    return out, words


def tokenize(caption: str) -> list[str]:
    """Token list of one caption (as if it were the only caption of a pycocoevalcap call)."""
    s = ptb_tokenize([caption])[0]
    return s.split(" ") if s else []


def clear_cache() -> None:
    """Forget memoised tokenizations (benchmarks call it to time a cold start)."""
    _cache.clear()
