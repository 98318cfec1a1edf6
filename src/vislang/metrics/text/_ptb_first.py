"""Which characters can begin a match of a lexer-rule pattern, read off its parse tree.

The full lexer (``tokenizer.py``) tries at each position only the rule patterns that can begin with
the character there.  For the Unicode rule table that is a small regex per pattern; for the ASCII
table a set of characters, computed without compiling anything.  Both are supersets (a pattern
tried in vain costs time, not correctness).
"""

from __future__ import annotations

import re


def _re_internals():
    """The regex parser, compiler and opcode modules of this Python (3.11+: re._*, 3.10: sre_*)."""
    try:
        from re import _compiler, _constants, _parser
    except ImportError:  # pragma: no cover - Python 3.10
        import sre_compile as _compiler
        import sre_constants as _constants
        import sre_parse as _parser
    return _parser, _compiler, _constants


def _walk_first(seq, leaf, icase: bool = False) -> bool:
    """Call ``leaf(op, av, icase)`` on every single-character item (LITERAL, NOT_LITERAL, ANY, IN) that can
    begin a match of ``seq`` (a parsed pattern; ``icase``: inside a case-insensitive group), through
    groups, alternatives and repeats; return True if ``seq`` can match the empty string."""
    C = _re_internals()[2]  # noqa: N806 - the regex parser's opcodes
    for op, av in seq:
        if op in (C.LITERAL, C.NOT_LITERAL, C.ANY, C.IN):
            leaf(op, av, icase)
            return False
        if op is C.SUBPATTERN:
            if not _walk_first(av[3], leaf, bool((icase or av[1] & re.IGNORECASE) and not av[2] & re.IGNORECASE)):
                return False
            continue
        if op is C.BRANCH:
            nullable = False
            for alt in av[1]:
                nullable |= _walk_first(alt, leaf, icase)
            if not nullable:
                return False
            continue
        if op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
            nullable = _walk_first(av[2], leaf, icase)
            if av[0] > 0 and not nullable:
                return False
            continue
        if op in (C.AT, C.ASSERT, C.ASSERT_NOT):
            continue
        raise ValueError(op)
    return True


def _first_items(seq, out, icase: bool = False) -> bool:
    """Add to ``out`` the single-character regexes that can begin ``seq`` (a parsed pattern; ``icase``:
    inside a case-insensitive group); return True if ``seq`` can match the empty string."""
    C = _re_internals()[2]  # noqa: N806 - the regex parser's opcodes

    def leaf(op, av, icase: bool) -> None:
        def add(item: str) -> None:
            out.append(f"(?i:{item})" if icase else item)

        if op is C.LITERAL:
            add(re.escape(chr(av)))
        elif op is C.NOT_LITERAL:
            add("[^" + re.escape(chr(av)) + "]")
        elif op is C.ANY:
            out.append("[\\s\\S]")
        else:  # C.IN
            body = []
            for iop, iav in av:
                if iop is C.NEGATE:
                    body.insert(0, "^")
                elif iop is C.LITERAL:
                    body.append(re.escape(chr(iav)))
                elif iop is C.RANGE:
                    body.append(re.escape(chr(iav[0])) + "-" + re.escape(chr(iav[1])))
                elif iop is C.CATEGORY:
                    body.append({C.CATEGORY_DIGIT: "\\d", C.CATEGORY_NOT_DIGIT: "\\D", C.CATEGORY_WORD: "\\w",
                                 C.CATEGORY_NOT_WORD: "\\W", C.CATEGORY_SPACE: "\\s",
                                 C.CATEGORY_NOT_SPACE: "\\S"}[iav])
                else:
                    raise ValueError(iop)
            add("[" + "".join(body) + "]")

    return _walk_first(seq, leaf, icase)


_ASCII = "".join(map(chr, range(128)))


def _ascii_set(rx: re.Pattern) -> frozenset:
    return frozenset(ch for ch in _ASCII if rx.match(ch))


def _first_ascii(tree) -> frozenset:
    """The ASCII characters that can begin a match of the parsed pattern (a superset: what the
    rule dispatch needs), read off the parse tree without compiling a regex."""
    C = _re_internals()[2]  # noqa: N806 - the regex parser's opcodes
    everything = frozenset(_ASCII)
    cats = {C.CATEGORY_DIGIT: str.isdecimal, C.CATEGORY_WORD: lambda ch: ch.isalnum() or ch == "_",
            C.CATEGORY_SPACE: str.isspace}
    out: set = set()

    def item_set(op, av, icase) -> frozenset:
        if op is C.LITERAL:
            got = {chr(av)}
        elif op is C.IN:
            got, neg = set(), False
            for iop, iav in av:
                if iop is C.NEGATE:
                    neg = True
                elif iop is C.LITERAL:
                    got.add(chr(iav))
                elif iop is C.RANGE:
                    got.update(ch for ch in _ASCII if iav[0] <= ord(ch) <= iav[1])
                elif iop is C.CATEGORY and iav in cats:
                    got.update(filter(cats[iav], _ASCII))
                else:  # a negated category, or anything else: every character
                    return everything
            if neg:
                return everything if icase else everything - got
        else:  # NOT_LITERAL, ANY...: every character
            return everything
        if icase:
            got |= {ch.swapcase() for ch in got}
        return frozenset(got)

    def leaf(op, av, icase: bool) -> None:
        out.update(item_set(op, av, icase))

    if _walk_first(tree, leaf):
        return everything
    return frozenset(out)


def _first_from_tree(tree) -> re.Pattern:
    """A regex matching exactly the characters that can begin a match of the parsed pattern."""
    items: list[str] = []
    if _first_items(tree, items):
        items.append("[\\s\\S]")
    return re.compile("|".join(items))


def first_char_regex(pattern: str) -> re.Pattern:
    """A regex matching exactly the characters that can begin a match of ``pattern``."""
    return _first_from_tree(_re_internals()[0].parse(pattern, 0))
