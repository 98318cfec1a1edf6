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
at once on arrays of character classes; see the comments above ``_ASSIM``).  Other captions go
through the full lexer, with results memoised per caption and context; when the text it looks at is
all ASCII it uses the rules' ASCII table (``_ptb_rules.build_rules(ascii_only=True)``), which
compiles many times faster than the Unicode one.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from itertools import accumulate, repeat
import unicodedata
from typing import Iterable, Sequence

import numpy as np

from vislang.errors import InputError

#: Tokens pycocoevalcap removes after tokenization (pycocoevalcap/tokenizer/ptbtokenizer.py).
#: Note that the lexer's escapes come out lower-cased (``-lrb-``), so ``-LRB-`` etc. never match:
#: pycocoevalcap keeps ``-lrb-``, ``-rrb-``, ``-lcb-``, ``-rcb-``, ``-lsb-``, ``-rsb-`` as words.
PUNCTUATIONS = frozenset(["''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-",
                          ".", "?", "!", ",", ":", "-", "--", "...", ";"])

# ----------------------------------------------------------------------------------------------
# Fast path: "simple" captions, whose tokens are provably their space-separated words once the
# punctuation tokens pycocoevalcap removes are dropped, and do not depend on the next caption.
# A line is simple when (checked in bulk, over all captions joined by newlines):
#
# * it holds only ASCII letters and digits, spaces and . , ' " - ! ? ; : (_BAD_CHAR);
# * no "." "!" "?" is followed by a letter or "," (WORD's [.!?]LETTER continuation as in "x.y" or
#   "yahoo!com"; "x.," is one token by the word-dot rules); no "." "," ":" is followed by a digit
#   (NUMBER: 3.5 1,000 .5 :30); no digit is followed by a space or "-" and a digit (PHONE, FRAC:
#   "555 1234"); "!" "?" ";" ":" stand after a letter, digit or space and before a space or the line
#   end (so no "?!" "!!" or smiley, no ".;" of the word-dot rules, no ":30");
# * no one-letter word or abbreviation is followed by "." (ACRONYM, ABBREV1-4, the pty./co. rules:
#   the token would keep its "." or look at the next caption);
# * no assimilation ("gonna" -> "gon na", "cannot" -> "can not"; any case) occurs, even inside a word;
# * if it has "'" or "-": every chunk between spaces and double quotes is a word of letters (a
#   hyphenated word is one token, HTHING), a word with a clitic ('s 'm 'd 're 've 'll: two tokens,
#   WORD/REDAUX), a clitic alone (after a space or quote REDAUX with its one-character context beats
#   the quote rule, tie included: "'s" "'ll"), or letters and digits (WORD or THING, one token),
#   each optionally followed by one of . , ! ? ; :, or a run of "." and ",", or one of ! ? ; : (_CHUNK).
#
# For such text every lexer rule gives the words themselves (WORD, THING, NUMBER, HTHING; the
# ABBREV4/ACRO rules with a trailing space give the same text) plus "'s"-type clitics split off, and
# one-character tokens . , ! ? ; : `` '' (a run of dots "..." is one token, normalised to "...")
# which pycocoevalcap removes.  tests/metrics/text/test_text_tokenizer.py checks the fast path against
# the full lexer on every Flickr8k caption and on random captions built from the characters above.
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
_CLITIC_RE = r"'(?:[sSmMdD]|[rR][eE]|[vV][eE]|[lL][lL])"
_CHUNK = (r"(?:(?:[A-Za-z]+(?:-[A-Za-z]+)*(?:" + _CLITIC_RE + r")?|" + _CLITIC_RE + r"|[A-Za-z0-9]+)[.,!?;:]?"
          r"|[.,]+|[!?;:])")
#: A whole line of such chunks between spaces and double quotes (atomic groups: no backtracking).
_CHUNK_LINE = re.compile(r'[ "]*+(?>' + _CHUNK + r'(?:[ "]++|\Z))*+')
_DROP_PUNCT = str.maketrans('.,"!?;:', "       ")

# Character classes of the bulk checks (a lookup table over bytes; any other character is _BAD).
# (Letters and spaces first, ! ? ; : last: the checks test "> _SP" and ">= _EXCL".)
_LET, _SP, _BAD, _DIG, _NL, _DOT, _COMMA, _APOS, _QUOT, _HYPH, _EXCL, _QUES, _SEMI, _COLON = range(14)
_CLASS = np.full(256, _BAD, dtype=np.uint8)
_CLASS[np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", np.uint8)] = _LET
_CLASS[np.frombuffer(b"0123456789", np.uint8)] = _DIG
for _ch, _c in zip(b" \n.,'\"-!?;:", (_SP, _NL, _DOT, _COMMA, _APOS, _QUOT, _HYPH, _EXCL, _QUES, _SEMI, _COLON)):
    _CLASS[_ch] = _c
#: Lower-case letter number (a=1 .. z=26) of each byte, 0 for anything else.
_LETNUM = np.zeros(256, dtype=np.int64)
_LETNUM[np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", np.uint8)] = np.arange(1, 27)
_LETNUM[np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", np.uint8)] = np.arange(1, 27)


def _word_key(word: str) -> int:
    """Base-27 number of a lower-case ASCII word (first letter lowest), as :func:`_run_keys` computes it."""
    return sum((ord(ch) - 96) * 27 ** k for k, ch in enumerate(word))


_ABBREV_KEYS = np.array(sorted(_word_key(w) for w in _ABBREV_WORDS), dtype=np.int64)
_ASSIM_KEYS = np.array(sorted(_word_key(w) for w in _ASSIM), dtype=np.int64)
_ASSIM_TAILS = np.array(sorted({_word_key(w[-3:]) for w in _ASSIM}), dtype=np.int64)


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


def _slow_lines(text: str, lines: list[str], low: str) -> set[int]:
    """Indices of the lines of ``text`` (``lines`` joined by newlines; ``low``: ``text.lower()``) that
    are not simple (see the comments above ``_ASSIM``) and go through the full lexer.

    Checked with arrays: every position holding something other than a letter or a space is looked
    at, with its neighbours."""
    if text.isascii():
        b = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    else:  # one array element per code point; all non-ASCII characters are _BAD
        b = np.minimum(np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32), 128).astype(np.uint8)
    n = b.size
    # c[k + 1] is the class of text[k]; a newline before the text and two after it
    c = np.empty(n + 3, dtype=np.uint8)
    c[0] = c[n + 1] = c[n + 2] = _NL
    np.take(_CLASS, b, out=c[1:n + 1])
    q = np.flatnonzero(c[1:n + 1] > _SP)  # not a letter or space (newlines, digits and punctuation too)
    cur, nxt, nxt2, prev = c[q + 1], c[q + 2], c[q + 3], c[q]
    prev_ok = (prev == _LET) | (prev == _DIG) | (prev == _SP) | (prev == _NL)
    bad = cur == _BAD
    # "." "!" "?" before a letter or ","; "." "," ":" before a digit (NUMBER, WORD's [.!?]LETTER, word-dot)
    bad |= ((cur == _DOT) | (cur == _EXCL) | (cur == _QUES)) & ((nxt == _LET) | (nxt == _COMMA))
    bad |= ((cur == _DOT) | (cur == _COMMA) | (cur == _COLON)) & (nxt == _DIG)
    # a digit, a space or "-", a digit (PHONE, FRAC)
    bad |= (cur == _DIG) & ((nxt == _SP) | (nxt == _HYPH)) & (nxt2 == _DIG)
    # ! ? ; : only after a letter, digit or space and before a space or the line end
    bad |= (cur >= _EXCL) & (((nxt != _SP) & (nxt != _NL)) | ~prev_ok)
    where = [q[bad]]
    # a one-letter word or an abbreviation (the whole run of letters) before "."
    p = q[(cur == _DOT) & (prev == _LET)] - 1
    if p.size:
        keys, length = _run_keys(b, c, p, 7)
        where.append(p[(length == 1) | ((length <= 7) & _isin(keys, _ABBREV_KEYS))])
    # an assimilation ("gonna" etc., any case; conservatively also inside a longer word)
    nl = q[cur == _NL]
    slow = set(np.searchsorted(nl, np.concatenate(where)).tolist())
    present = [w for w in _ASSIM if w in low]
    if present and len(low) != n:  # lower-casing moved positions (non-ASCII text): line by line
        slow.update(i for i, line in enumerate(low.split("\n")) if any(w in line for w in present))
    elif present:
        hits = []
        for w in present:
            k = low.find(w)
            while k >= 0:
                hits.append(k)
                k = low.find(w, k + 1)
        slow.update(np.searchsorted(nl, hits).tolist())
    # lines with "'" or "-": every chunk must be simple
    ah = q[(cur == _APOS) | (cur == _HYPH)]
    if ah.size:
        line_ok = _CHUNK_LINE.fullmatch
        for i in np.unique(np.searchsorted(nl, ah)).tolist():
            if i not in slow and not line_ok(lines[i]):
                slow.add(i)
    return slow


def _isin(keys: np.ndarray, table: np.ndarray) -> np.ndarray:
    pos = np.minimum(np.searchsorted(table, keys), table.size - 1)
    return table[pos] == keys


def _run_keys(b: np.ndarray, c: np.ndarray, ends: np.ndarray, cap: int, alnum: bool = False):
    """For runs of letters (or letters and digits) ending at text positions ``ends``: their length
    (counted up to ``cap + 1``) and the base-27 key of their last ``cap`` characters, lower-cased,
    digits as 0 (the key of the whole run when it has at most ``cap`` characters)."""
    length = np.ones(ends.size, dtype=np.int64)
    live = np.ones(ends.size, dtype=bool)
    for k in range(1, cap + 1):  # look back k characters: text[e - k] is c[e - k + 1]
        cls = c[ends - k + 1]
        live &= (cls == _LET) | (cls == _DIG) if alnum else (cls == _LET)
        length += live
    start = ends - np.minimum(length, cap) + 1
    keys = np.zeros(ends.size, dtype=np.int64)
    for k in range(cap):  # first letter lowest
        keys += np.where(start + k <= ends, _LETNUM[b[np.minimum(start + k, ends)]], 0) * 27 ** k
    return keys, length


def tokenize(caption: str) -> list[str]:
    """Token list of one caption (as if it were the only caption of a pycocoevalcap call)."""
    s = ptb_tokenize([caption])[0]
    return s.split(" ") if s else []


def clear_cache() -> None:
    """Forget memoised tokenizations (benchmarks call it to time a cold start)."""
    _cache.clear()
