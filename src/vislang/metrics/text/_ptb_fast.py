"""The tokenizer's fast path: which captions are "simple", checked for all captions at once.

For a simple caption (the conditions are below) the PTB lexer's tokens, once pycocoevalcap's
punctuation tokens are dropped, are its lower-cased words split on spaces with clitics ("'s") split
off, whatever caption follows; :func:`slow_lines` finds the other captions, which
``tokenizer.py`` sends through the full lexer.  The checks look at arrays of character classes
(numpy), not at one caption at a time.
"""

from __future__ import annotations

import re

import numpy as np

# "simple" captions, whose tokens are provably their space-separated words once the
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


def slow_lines(text: str, lines: list[str], low: str) -> set[int]:
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
