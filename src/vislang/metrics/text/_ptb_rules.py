"""The lexical rules of Stanford CoreNLP 3.4.1's ``PTBLexer`` as Python regular expressions.

pycocoevalcap tokenizes captions with ``java -cp stanford-corenlp-3.4.1.jar
edu.stanford.nlp.process.PTBTokenizer -preserveLines -lowerCase`` (default lexer options plus
``tokenizeNLs``).  That lexer is a JFlex scanner: at each position the rule matching the LONGEST
text (trailing context included) wins, ties going to the rule listed first.  This module restates
the rules of the 3.4.1 grammar (facts: the token classes, their character sets, word lists and
normalisations) as ``(name, [regex alternatives], action)`` in priority order; ``tokenizer.py``
runs them with JFlex's longest-match semantics.

Regexes are written for Python's ``re``; JFlex's ``%caseless`` (literals match either case,
character classes do not) is reproduced with :func:`ci`.  A regex of a rule with trailing context
``r1/r2`` is written ``(?P<t>r1)r2``: the whole match counts for the longest-match choice, the
token is group ``t``.  Each rule lists its top-level alternatives separately so that the longest
alternative is taken (``re`` stops at the first alternative that matches).
"""

from __future__ import annotations

import re
import sys
from functools import lru_cache

from vislang.metrics.text._ptb_first import (  # noqa: F401 - re-exported for the tests
    _ascii_set, _first_ascii, _first_from_tree, _re_internals, first_char_regex)


def ci(word: str) -> str:
    """A literal matched case-insensitively (JFlex %caseless) without touching character classes."""
    return _ci_classes(word)


def _ci_classes(word: str) -> str:
    """:func:`ci`: each cased letter becomes a two-letter class."""
    out = []
    for ch in word:
        if ch.isalpha() and ch.lower() != ch.upper():
            out.append(f"[{ch.lower()}{ch.upper()}]")
        else:
            out.append(re.escape(ch))
    return "".join(out)


def _ci_ascii(word: str) -> str:
    """:func:`ci` for the rule table of ASCII text: an inline case-insensitive group, which parses
    and compiles faster than a class per letter (on ASCII text both match the same)."""
    lit = re.escape(word)
    return f"(?i:{lit})" if any(ch.isalpha() for ch in word) else lit


def _ranges(chars: str) -> str:
    """A character-class body listing ``chars`` (sorted, distinct) as ranges."""
    parts = []
    cps = sorted(set(map(ord, chars)))
    i = 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        parts.append(f"\\u{cps[i]:04x}" if i == j else f"\\u{cps[i]:04x}-\\u{cps[j]:04x}")
        i = j + 1
    return "".join(parts)


def _other_numerics() -> str:
    """BMP characters Python's ``\\w`` counts that are neither letters, decimal digits nor ``_``
    (Unicode No and Nl: superscripts, vulgar fractions, Roman numerals...)."""
    # re's \w is str.isalnum() or "_", \d is str.isdecimal(); isalnum = isalpha or isnumeric, so these
    # are the numeric characters that are neither decimal digits nor letters (CJK numerals are letters).
    # Surrogates (U+D800-U+DFFF) are not numeric, so scanning the whole BMP is the same.
    bmp = "".join(map(chr, range(0x10000)))
    return _ranges("".join(c for c in filter(str.isnumeric, bmp) if not (c.isdecimal() or c.isalpha())))


@lru_cache(maxsize=2)
def build_rules(ascii_only: bool = False):
    """Parse the rule table (done once on first use of the full lexer).

    Returns ``[(name, [pattern, ...], action, [first characters, ...])]`` (the first characters of a
    pattern: a regex matching them, or with ``ascii_only`` the set of ASCII ones); each pattern is a
    :class:`LazyPattern`, compiled the first time a match is tried (most rules never are on
    ordinary captions, and compiling all 262 patterns is most of the set-up time).

    ``ascii_only``: the rules for ASCII text only.  A regex matches the same on an ASCII string
    after each of its character classes is intersected with ASCII; the Unicode classes (letters,
    digits, MISC) become small ASCII ones, which (with each word list as one case-insensitive group) parse and compile about twice as fast.  The lexer
    uses this table when the text it looks at (the caption and its context) is all ASCII.
    """
    # [:letter:] = Character.isLetter (Unicode L* categories), [:digit:] = Character.isDigit (Nd),
    # [:uppercase:] = Character.isUpperCase (Lu); BMP only, JFlex 1.4/1.5 scanners work on UTF-16 units.
    # Python's [^\W\d_] is letters (L*) plus the other numerics (No, Nl), which Java does not count.
    ci = _ci_ascii if ascii_only else _ci_classes
    if ascii_only:
        LET0 = "[A-Za-z]"
        DIG = "[0-9]"
    else:
        LET0 = "[^\\W\\d_" + _other_numerics() + "]"
        DIG = "\\d"  # Nd (NKo digits U+07C0-U+07C9, listed apart in the grammar, are Nd too)

    SPLET = "&[aeiouAEIOU](?:" + "|".join(ci(w) for w in ("acute", "grave", "uml")) + ");"
    if ascii_only:
        LETTER = "(?:" + LET0 + "|" + SPLET + ")"
    else:
        LETTER = ("(?:" + LET0 + "|" + SPLET + "|[\u00ad\u0237-\u024f\u02c2-\u02c5\u02d2-\u02df\u02e5-\u02ff"
                  "\u0300-\u036f\u0370-\u037d\u0384\u0385\u03cf\u03f6\u03fc-\u03ff\u0483-\u0487\u04cf\u04f6-\u04ff"
                  "\u0510-\u0525\u055a-\u055f\u0591-\u05bd\u05bf\u05c1\u05c2\u05c4\u05c5\u05c7\u0615-\u061a"
                  "\u063b-\u063f\u064b-\u065e\u0670\u06d6-\u06ef\u06fa-\u06ff\u070f\u0711\u0730-\u074f\u0750-\u077f"
                  "\u07a6-\u07b1\u07ca-\u07f5\u07fa\u0900-\u0903\u093c\u093e-\u094e\u0951-\u0955\u0962-\u0963"
                  "\u0981-\u0983\u09bc-\u09c4\u09c7\u09c8\u09cb-\u09cd\u09d7\u09e2\u09e3\u0a01-\u0a03\u0a3c"
                  "\u0a3e-\u0a4f\u0a81-\u0a83\u0abc-\u0acf\u0b82\u0bbe-\u0bc2\u0bc6-\u0bc8\u0bca-\u0bcd\u0c01-\u0c03"
                  "\u0c3e-\u0c56\u0d3e-\u0d44\u0d46-\u0d48\u0e30-\u0e3a\u0e47-\u0e4e\u0eb1-\u0ebc\u0ec8-\u0ecd])")
    SPACE = "[ \t\u00a0\u2000-\u200a\u3000]"
    NEWLINE = "(?:\r?\n|\r|\u2028|\u2029|\u000b|\u000c|\u0085)"
    SPACENL = f"(?:{SPACE}|{NEWLINE})"
    SGML = ("<(?:[!?][A-Za-z\\-][^>\r\n]*|[A-Za-z][A-Za-z0-9_:.\\-]*(?:[ ]+(?:[A-Za-z][A-Za-z0-9_:.\\-]*[ ]*=[ ]*"
            "(?:'[^']*'|\"[^\"]*\")|[A-Za-z][A-Za-z0-9_:.\\-]*))*[ ]*/?|/[A-Za-z][A-Za-z0-9_:.\\-]*)[ ]*>")
    # [:uppercase:] is checked by the lexer on group "up" (action dupdot_up): a 600-range class
    # would make compiling slow.
    SENTEND = f"{SPACENL}(?:{SPACENL}|(?P<up>{LET0})|{SGML})"
    NUM_ALTS = [f"{DIG}*(?:[.:,\u00ad\u066b\u066c]{DIG}+)+", f"{DIG}+"]
    WORD = f"{LETTER}(?:{LETTER}|{DIG})*(?:[.!?]{LETTER}(?:{LETTER}|{DIG})*)*"
    EXT = "|".join(ci(e) for e in sorted(
        "bat bmp c class cgi cpp dll doc docx exe gif gz h htm html jar java jpeg jpg mov mp3 pdf php pl png "
        "ppt ps py sql tar txt wav x xml zip".split(), key=len, reverse=True))
    FILENAME = f"(?:{LETTER}|{DIG})+(?:[.](?:{LETTER}|{DIG})+)*[.](?:{EXT})"
    APOS = "(?:['\u0092\u2019]|" + ci("&apos;") + ")"
    APOSETC = f"(?:{APOS}|[`\u0091\u2018\u201b])"
    LD = f"(?:{LET0}|{DIG})"
    HYPHEN = "[-_\u058a\u2010\u2011]"
    THING = f"(?:[dDoOlL]{APOSETC}{LD})?{LD}+(?:{HYPHEN}(?:[dDoOlL]{APOSETC}{LD})?{LD}+)*"
    SPAMP = ci("&amp;")
    THINGA = f"[A-Z]+(?:(?:[+&]|{SPAMP})[A-Z]+)+"
    THING3 = "[A-Za-z0-9]+(?:-[A-Za-z]+){0,2}(?:\\\\?/[A-Za-z0-9]+(?:-[A-Za-z]+){0,2}){1,2}"
    ACRO_ALTS = ["[A-Za-z](?:\\.[A-Za-z])*",
                 "(?:" + "|".join(ci(w) for w in ("Canada", "Korean", "Japan", "Sino", "non", "EU")) + ")-" + ci("U.S"),
                 ci("U.S.-") + "(?:" + ci("U.S.S.R") + "|" + ci("U.K") + ")"]
    ACRO2_ALTS = ["[A-Za-z](?:\\.[A-Za-z])+"] + ACRO_ALTS[1:]
    ACRO2 = "(?:" + "|".join(reversed(ACRO2_ALTS)) + ")"
    HTHING = f"[A-Za-z0-9][A-Za-z0-9.,\u00ad]*(?:-(?:{ACRO2}\\.|[A-Za-z0-9\u00ad]+))+"
    REDAUX = APOS + "(?:[msdMSD]|" + ci("re") + "|" + ci("ve") + "|" + ci("ll") + ")"
    SWORD = "[A-Za-z\u00ad]*[A-MO-Za-mo-z]\u00ad*"
    SREDAUX = ci("n") + APOSETC + ci("t")
    APOWORD_ALTS = [
        f"{APOS}{ci('n')}{APOS}?", f"[lLdDjJ]{APOS}", ci("Dunkin") + APOS, ci("somethin") + APOS, ci("ol") + APOS,
        APOS + ci("em"), f"[A-HJ-XZn]{APOSETC}{LET0}{{2}}{LET0}*", f"{APOS}[2-9]0{ci('s')}", APOS + ci("till") + "?",
        f"{LET0}{LET0}*[aeiouyAEIOUY]{APOSETC}[aeiouA-Z]{LET0}*", APOS + ci("cause"), ci("cont'd") + "\\.?",
        ci("'twas"), ci("nor'easter"), ci("c'mon"), ci("e'er"), ci("s'mores"), ci("ev'ry"), ci("li'l"), ci("nat'l"),
        f"{ci('O')}{APOSETC}{ci('o')}"]
    APOWORD2 = ci("y") + APOS
    FULLURL = ci("http") + "[sS]?://[^ \t\n\f\r\"<>|(){}]+[^ \t\n\f\r\"<>|.!?(){},-]"
    URLTAIL = "(?:/[^ \t\n\f\r\"<>|()]+[^ \t\n\f\r\"<>|.!?(){},-])?"
    LIKELYURL_ALTS = [
        ci("www") + "\\.(?:[^ \t\n\f\r\"<>|.!?(){},]+\\.)+[a-zA-Z]{2,4}" + URLTAIL,
        "(?:[^ \t\n\f\r\"`'<>|.!?(){}\\x2c-\\x5f$]+\\.)+(?:" + "|".join(ci(w) for w in ("com", "net", "org", "edu"))
        + ")" + URLTAIL]
    EMAIL = ("(?:" + ci("&lt;") + "|<)?[a-zA-Z0-9][^ \t\n\f\r\"<>|()\u00a0{}]*@(?:[^ \t\n\f\r\"<>|(){}.\u00a0]+\\.)*"
             "[^ \t\n\f\r\"<>|(){}.\u00a0]+(?:" + ci("&gt;") + "|>)?")
    TWITTER_ALTS = ["@[a-zA-Z_][a-zA-Z_0-9]*", f"#{LETTER}+"]
    DATE = f"{DIG}{{1,2}}[\\-/]{DIG}{{1,2}}[\\-/]{DIG}{{2,4}}"
    SUBSUPNUM = "[\u207a\u207b\u208a\u208b]?(?:[\u2070\u00b9\u00b2\u00b3\u2074-\u2079]+|[\u2080-\u2089]+)"
    FRAC = f"(?:{DIG}{{1,4}}[- \u00a0])?{DIG}{{1,4}}(?:\\\\?/|\u2044){DIG}{{1,4}}"
    FRAC2 = "[\u00bc\u00bd\u00be\u2153-\u215e]"
    TBSPEC_ALTS = ["-(?:" + "|".join(ci(w) for w in ("RRB", "LRB", "RCB", "LCB", "RSB", "LSB")) + ")-",
                   ci("C.D.s"), ci("pro-"), ci("anti-"), ci("S") + "(?:&|" + SPAMP + ")" + ci("P-500"),
                   ci("S") + "(?:&|" + SPAMP + ")" + ci("Ls"), ci("Cap") + APOS + ci("n"), ci("c") + APOS + ci("est")]
    DOLSIGN = "(?:[A-Z]*\\$|#)"
    DOLSIGN2 = "[\u00a2\u00a3\u00a4\u00a5\u0080\u20a0\u20ac\u060b\u0e3f\u20a4\uffe0\uffe1\uffe5\uffe6]"

    def words(spec: str) -> str:
        """'Jan|Feb|[A]rk' -> caseless alternation, longest first; [X] keeps X case-sensitive."""
        alts = []
        for w in spec.split("|"):
            m = re.fullmatch(r"\[(\w)\](.*)", w)
            if ascii_only:  # inside one case-insensitive group (compiles faster than a group per word)
                alts.append(f"(?-i:{m.group(1)}){re.escape(m.group(2))}" if m else re.escape(w))
            else:
                alts.append((m.group(1) + ci(m.group(2))) if m else ci(w))
        order = sorted(range(len(alts)), key=lambda i: -len(spec.split("|")[i]))
        return ("(?i:" if ascii_only else "(?:") + "|".join(alts[i] for i in order) + ")"

    ABMONTH = "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec"
    ABDAYS = "Mon|Tue|Tues|Wed|Thu|Thurs|Fri"
    ABSTATE = ("Ala|Ariz|[A]z|[A]rk|Calif|Colo|Conn|Ct|Dak|[D]el|Fla|Ga|[I]ll|Ind|Kan|Kans|Ky|[L]a|[M]ass|Md|Mich|"
               "Minn|[M]iss|Mo|Mont|Neb|Nev|Okla|[O]re|[P]a|Penn|Tenn|[T]ex|Va|Vt|[W]ash|Wis|Wisc|Wyo")
    ABCOMP = "Inc|Co|Cos|Corp|Ltd|Plc|Rt|Bancorp|Bhd|Assn|Univ|Intl|Sys"
    ABNUM = "tel|est|ext|sq"
    ABPTIT = "Jr|Sr|Bros|Ed.D|Ph.D|Blvd|Rd|Esq"
    PTY = "[pP][pP]?[tT][ye][sS]?"  # Pp?t[ye]s?: the [ye] class is case-sensitive
    ABBREV1 = ("(?:" + words("|".join((ABMONTH, ABDAYS, ABSTATE, ABCOMP, ABNUM, ABPTIT, "etc|al|seq|Bldg")))
               + "|" + PTY + ")\\.")
    ABTITLE = ("Mr|Mrs|Ms|[M]iss|Dr|Drs|Prof|Profs|Sen|Sens|Rep|Reps|Atty|Attys|Lt|Col|Gen|Messrs|Gov|Govs|Adm|Rev|"
               "Maj|Sgt|Cpl|Pvt|Capt|St|Ste|Ave|Pres|Lieut|Hon|Brig|Cmdr|Comdr|Pfc|Spc|Supt|Supts|Det|Mt|Ft|Adj|"
               "Adv|Asst|Assoc|Ens|Insp|Mlle|Mme|Msgr|Sfc")
    ABCOMP2 = "Invt|Elec|Natl|Dept"
    ABBREV4_ALTS = [words(ABTITLE + "|vs|Alex|Wm|Jos|Cie|cf|TREAS|Ph|" + ABCOMP2), ci("a.k.a"),
                    "[mM][ft][gG]"] + ACRO_ALTS
    ABBREV3 = words("ca|fig|figs|prop|no|nos|art|bldg|pp|op") + "\\."
    PHONE_ALTS = [
        "(?:\\([0-9]{2,3}\\)[ \u00a0]?|(?:\\+\\+?)?(?:[0-9]{2,4}[\\- \u00a0])?[0-9]{2,4}[\\- \u00a0])[0-9]{3,4}"
        "[\\- \u00a0]?[0-9]{3,5}",
        "(?:(?:\\+\\+?)?[0-9]{2,4}\\.)?[0-9]{2,4}\\.[0-9]{3,4}\\.[0-9]{3,5}"]
    DBLQUOT = "(?:\"|" + ci("&quot;") + ")"
    LDOTS = "(?:\\.{3,5}|(?:\\.[ \u00a0]){2,4}\\.|[\u0085\u2026])"
    QUOTES_ALTS = [APOS, "''", "[`\u2018\u2019\u201a\u201b\u201c\u201d\u0091\u0092\u0093\u0094\u201e\u201f\u2039\u203a\u00ab\u00bb]{1,2}"]
    SMILEY = "[<>]?[:;=][\\-o*']?[()DPdpO\\\\{@|\\[\\]]"
    ASIAN = ("[\\^x=~<>]\\.\\[\\^x=~<>]|[\\-\\^x=~<>']_[\\-\\^x=~<>']|\\([\\-\\^x=~<>'][_.]?[\\-\\^x=~<>']\\)|"
             "\\([\\^x=~<>']-[\\^x=~<>'`]\\)")
    MISC = ("[+%&~\\^|\\\\\u00a6\u00a7\u00a8\u00a9\u00ac\u00ae\u00af\u00b0-\u00b3\u00b4-\u00ba\u00d7\u00f7\u0387"
            "\u05be\u05c0\u05c3\u05c6\u05f3\u05f4\u0600-\u0603\u0606-\u060a\u060c\u0614\u061b\u061e\u066a\u066d"
            "\u0703-\u070d\u07f6\u07f7\u07f8\u0964\u0965\u0e4f\u1fbd\u2016\u2017\u2020-\u2023\u2030-\u2038\u203b"
            "\u203e-\u2042\u2044\u207a-\u207f\u208a-\u208e\u2100-\u214f\u2190-\u21ff\u2200-\u2bff\u3012\u30fb"
            "\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65]")
    if ascii_only:
        MISC = "[+%&~\\^|\\\\]"
    INSENTP = "[,;:\u3001]"
    ACRONYM_WORDS = ("[A]bout|[A]ccording|[A]dditionally|[A]fter|[A]n|[A]|[A]s|[A]t|[B]ut|[E]arlier|[H]e|[H]er|"
                     "[H]ere|[H]owever|[I]f|[I]n|[I]t|[L]ast|[M]any|[M]ore|[M]r.|[M]s.|[N]ow|[O]nce|[O]ne|[O]ther|"
                     "[O]ur|[S]he|[S]ince|[S]o|[S]ome|[S]uch|[T]hat|[T]he|[T]heir|[T]hen|[T]here|[T]hese|[T]hey|"
                     "[T]his|[W]e|[W]hen|[W]hile|[W]hat|[Y]et|[Y]ou")

    # (name, alternatives, action). Actions: see tokenizer._act.
    R = [
        ("cplusplus", [ci("c") + "[+][+]"], "tok"),
        ("csharp", ["[cCfF]#"], "tok"),
        ("cannot", [ci("cannot")], "push3"),
        ("twas", [ci("'twas")], "push3"),
        ("tis", [ci("'tis")], "push2"),
        ("assim", ["(?:" + "|".join(ci(w) for w in ("gonna", "gotta", "lemme", "gimme", "wanna")) + ")"], "push2"),
        ("sgml", [SGML], "sgml"),
        ("spmdash", ["&(?:" + "|".join(ci(w) for w in ("mdash", "ndash", "MD")) + ");", "[\u0096\u0097\u2013\u2014\u2015]"],
         "mdash"),
        ("spamp", [SPAMP], "amp"),
        ("sppunc", ["&(?:" + "|".join(ci(w) for w in ("HT", "TL", "UR", "LR", "QC", "QL", "QR", "odq", "cdq"))
                    + "|#[0-9]+);"], "tok"),
        ("word_redaux", [f"(?P<t>{WORD}){REDAUX}"], "softhyph"),
        ("sword_sredaux", [f"(?P<t>{SWORD}){SREDAUX}"], "softhyph"),
        ("word", [WORD], "softhyph"),
        ("apoword", APOWORD_ALTS, "tok"),
        ("apoword2", [f"(?P<t>{APOWORD2}){LET0}"], "tok"),
        ("fullurl", [FULLURL], "tok"),
        ("likelyurl", LIKELYURL_ALTS, "tok"),
        ("email", [EMAIL], "tok"),
        ("twitter", TWITTER_ALTS, "tok"),
        ("redaux_ctx", [f"(?P<t>{REDAUX})[^A-Za-z]"], "quote_r"),
        ("sredaux_ctx", [f"(?P<t>{SREDAUX})[^A-Za-z]"], "quote_r"),
        ("date", [DATE], "tok"),
        ("number", [f"[\\-+]?{a}" for a in NUM_ALTS], "softhyph"),
        ("subsupnum", [SUBSUPNUM], "tok"),
        ("frac", [FRAC], "nbsp"),
        ("frac2", [FRAC2], "frac2"),
        ("tbspec", TBSPEC_ALTS, "amp"),
        ("thing3", [THING3], "tok"),
        ("dolsign", [DOLSIGN], "tok"),
        ("dolsign2", [DOLSIGN2], "currency"),
        ("acronym_ctx", [f"(?P<t>{a}\\.)(?:{SPACENL})+(?:{words(ACRONYM_WORDS)}|{SGML}){SPACENL}"
                         for a in ACRO_ALTS], "acronym"),
        ("abbrev3_ctx", [f"(?P<t>{ABBREV3}){SPACENL}?{DIG}"], "tok"),
        ("ptyltd", ["(?P<t>(?:[pP][tT][eyEY]|" + ci("co") + ")\\.)" + SPACE + "(?:" + ci("ltd") + "|" + ci("lim") + ")"],
         "tok"),
        ("abbrev1_sentend", [f"(?P<t>{ABBREV1}){SENTEND}"], "dupdot_up"),
        ("abbrev1_2", [f"(?P<t>{ABBREV1})[\\s\\S][\\s\\S]"], "tok"),
        ("abbrev1", [ABBREV1], "dupdot"),
        ("abbrev2", [a + "\\." for a in ABBREV4_ALTS], "tok"),
        ("abbrev4_space", [f"(?P<t>{a}){SPACE}" for a in ABBREV4_ALTS], "tok"),
        ("acro_spacenl", [f"(?P<t>{a}){SPACENL}" for a in ACRO_ALTS], "tok"),
        ("tbspec2", [f"(?P<t>{APOS}[0-9][0-9]){SPACENL}"], "tok"),
        ("filename", [f"(?P<t>{FILENAME})(?:{SPACENL}|[.?!,])"], "tok"),
        ("word_dot", [f"(?P<t>{WORD}\\.){INSENTP}"], "softhyph"),
        ("phone", PHONE_ALTS, "phone"),
        ("dblquot_left", [f"(?P<t>{DBLQUOT})[A-Za-z0-9$]"], "quote_l"),
        ("dblquot", [DBLQUOT], "quote_r"),
        ("del", ["\x7f"], "skip"),
        ("lt", ["<|" + ci("&lt;")], "lt"),
        ("gt", [">|" + ci("&gt;")], "gt"),
        ("smiley", [f"(?P<t>{SMILEY})[^A-Za-z0-9]"], "paren"),
        ("asiansmiley", ASIAN.split("|"), "paren"),
        ("lcb", ["\\{"], "lcb"), ("rcb", ["\\}"], "rcb"),
        ("lsb", ["\\["], "lsb"), ("rsb", ["\\]"], "rsb"),
        ("lrb", ["\\("], "lrb"), ("rrb", ["\\)"], "rrb"),
        ("hyphens", ["-+"], "hyphens"),
        ("ldots", [LDOTS], "ldots"),
        ("fnmarks", ["@+", "#+", "_+"], "tok"),
        ("asts", ["\\*+", "(?:\\\\\\*){1,3}"], "tok"),
        ("insentp", [INSENTP], "tok"),
        ("qmark", ["[?!]+"], "tok"),
        ("period", ["[.\u00a1\u00bf\u037e\u0589\u061f\u06d4\u0700-\u0702\u07fa\u3002]"], "tok"),
        ("equals", ["="], "tok"),
        ("slash", ["/"], "tok"),
        ("hthing_dot", [f"(?P<t>{HTHING}\\.){INSENTP}"], "softhyph"),
        ("hthing", [HTHING], "softhyph"),
        ("thing_dot", [f"(?P<t>{THING}\\.){INSENTP}"], "tok"),
        ("thing", [THING], "tok"),
        ("thinga_dot", [f"(?P<t>{THINGA}\\.){INSENTP}"], "amp"),
        ("thinga", [THINGA], "amp"),
        ("quote_invert", ["(?P<t>')[A-Za-z][^ \t\n\r\u00a0]"], "quote_l"),
        ("redaux", [REDAUX], "quote_r"),
        ("sredaux", [SREDAUX], "quote_r"),
        ("quotes", QUOTES_ALTS, "quote_r"),
        ("duckfeet", ["<<", ">>"], "tok"),
        ("misc", [MISC], "tok"),
        ("space", ["\x00", SPACE + "+", "[\u200b\u200e\u200f\ufeff]"], "skip"),
        ("newline", [NEWLINE], "skip"),
        ("nbsp_entity", [ci("&nbsp;")], "skip"),
    ]
    # Characters that can begin a match, given by hand for the rules whose patterns are slow to
    # analyse (they embed the long LETTER class); the others are derived by first_char_regex.
    first_letter = f"{LETTER}|&|{DIG}"
    firsts = {"word_redaux": first_letter, "word": first_letter, "word_dot": first_letter,
              "filename": first_letter, "twitter": "[@#]"}
    parser, compiler, _ = _re_internals()
    compiled = []
    for name, alts, action in R:
        pats, pat_firsts = [], []
        for a in alts:
            tree = parser.parse(a, 0)  # parsed once: for the first characters and for compiling
            if ascii_only:  # a set of characters: no regex to compile
                pat_firsts.append(_ascii_set(re.compile(firsts[name])) if name in firsts else _first_ascii(tree))
            else:
                pat_firsts.append(re.compile(firsts[name]) if name in firsts else _first_from_tree(tree))
            pats.append(LazyPattern(a, tree))
        compiled.append((name, pats, action, pat_firsts))
    return compiled


class LazyPattern:
    """A rule pattern parsed once (for its first characters) and compiled on first use."""

    __slots__ = ("source", "_tree", "_compiled")

    def __init__(self, source: str, tree):
        self.source = source
        self._tree = tree
        self._compiled = None

    def compile(self) -> re.Pattern:
        """The compiled pattern (the same as ``re.compile(source)``, from the kept parse tree)."""
        if self._compiled is None:
            self._compiled = _re_internals()[1].compile(self._tree, 0)
            self._tree = None
        return self._compiled


if __name__ == "__main__":  # pragma: no cover - debugging aid
    rules = build_rules()
    print(len(rules), "rules", file=sys.stderr)
