"""Safe regular expressions for the ``pattern`` key of a form field.

An admin writes a pattern such as ``^[A-Z]{2}-\\d{4}$`` and every answer must match it
as a whole.  Patterns run on the server with RE2 (``google-re2``), which never
backtracks, so no input can make a check take forever.  A pattern may still be reused
by a backtracking engine (a browser's ``pattern`` attribute, a spreadsheet, a
connector), so :func:`check_pattern` also refuses the shapes that explode there:
nested repetition like ``(a+)+`` and repeated alternatives that overlap like
``(a|ab)*``.  The overlap test is an approximation computed from the parse tree of
Python's own ``re`` module; it errs on the side of refusing.

Messages are ``(msgid, params)`` pairs, in the same style as
:class:`portal.forms.definition.Problem`, so the caller can translate them.
"""

from __future__ import annotations

import functools
import re
import re._constants as sre  # the node names of the parse tree (3.11+)
import re._parser as sre_parse
from collections.abc import Iterator

import re2

MAX_LENGTH = 300
"""Longest pattern accepted, in characters."""

LARGE_REPEAT = 10
"""A repeat whose upper bound is at least this counts as "large", like ``+`` or ``*``."""


def N_(msgid: str) -> str:
    """Mark a message for extraction without translating it (see definition.N_)."""
    return msgid


NOT_TEXT = N_("the pattern must be text")
EMPTY = N_("the pattern is empty")
TOO_LONG = N_("the pattern is %(length)d characters long; the limit is %(limit)d")
SYNTAX = N_("this is not a valid regular expression: %(error)s (at character %(position)s)")
SYNTAX_NO_POSITION = N_("this is not a valid regular expression: %(error)s")
BACKREFERENCE = N_("backreferences like \\1 are not supported")
LOOKAROUND = N_("lookahead and lookbehind like (?=...) or (?<!...) are not supported")
CONDITIONAL = N_("conditional groups like (?(1)yes|no) are not supported")
ATOMIC = N_("atomic groups and possessive repeats like (?>...) or a++ are not supported")
UNSUPPORTED = N_("the pattern uses something the safe pattern engine cannot run: %(error)s")
NESTED_REPEAT = N_("nested repetition like (a+)+ can take forever on some inputs")
OVERLAPPING_ALTERNATIVES = N_(
    "alternatives that can match the same text inside a repeat, like (a|ab)*, "
    "can take forever on some inputs"
)


class PatternError(ValueError):
    """Raised by :func:`compile_pattern` for a pattern that :func:`check_pattern` refuses."""

    def __init__(self, msgid: str, params: dict):
        self.msgid = msgid
        self.params = params
        super().__init__(msgid % params)


def check_pattern(pattern: str) -> tuple[str, dict] | None:
    """Return ``(msgid, params)`` saying why ``pattern`` is refused, or None when it is fine."""
    if not isinstance(pattern, str):
        return NOT_TEXT, {}
    if not pattern:
        return EMPTY, {}
    if len(pattern) > MAX_LENGTH:
        return TOO_LONG, {"length": len(pattern), "limit": MAX_LENGTH}
    try:
        re.compile(pattern)
        tree = sre_parse.parse(pattern)
    except re.error as exc:
        if exc.pos is None:
            return SYNTAX_NO_POSITION, {"error": exc.msg}
        return SYNTAX, {"error": exc.msg, "position": exc.pos + 1}
    except (RecursionError, OverflowError) as exc:  # absurd nesting or repeat counts
        return SYNTAX_NO_POSITION, {"error": str(exc) or type(exc).__name__}
    problem = _unsupported_feature(tree)
    if problem:
        return problem, {}
    try:
        _re2_compile(pattern)
    except re2.error as exc:
        return UNSUPPORTED, {"error": _re2_message(exc)}
    charsets = _CharSets(_ignores_case(tree))
    return _nested_repeat(tree, charsets) or _overlapping_alternatives(
        _branches_kept(pattern) or tree, charsets
    )


@functools.lru_cache(maxsize=512)
def compile_pattern(pattern: str):
    """Compile an accepted pattern with RE2; the result has ``.fullmatch(text)``.

    Raises :class:`PatternError` for a pattern :func:`check_pattern` refuses.
    """
    problem = check_pattern(pattern)
    if problem:
        raise PatternError(*problem)
    return _re2_compile(pattern)


def _re2_compile(pattern: str):
    """Compile with RE2 without letting it write parse errors to stderr."""
    options = re2.Options()
    options.log_errors = False
    return re2.compile(pattern, options)


def _re2_message(exc: Exception) -> str:
    """RE2 reports its errors as bytes; return them as text."""
    detail = exc.args[0] if exc.args else exc
    if isinstance(detail, bytes):
        return detail.decode("utf-8", "replace")
    return str(detail)


# --- walking the parse tree ------------------------------------------------------------

_REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT)
_ATOMS = (sre.LITERAL, sre.NOT_LITERAL, sre.ANY, sre.IN)


def _children(op, av):
    """The sub-sequences directly inside one parse-tree node."""
    if op in _REPEATS:
        return [av[2]]
    if op is sre.SUBPATTERN:
        return [av[3]]
    if op is sre.BRANCH:
        return list(av[1])
    if op in (sre.ATOMIC_GROUP, sre.ASSERT, sre.ASSERT_NOT):
        return [av] if op is sre.ATOMIC_GROUP else [av[1]]
    if op is sre.GROUPREF_EXISTS:
        return [branch for branch in av[1:] if branch is not None]
    return []


def _nodes(seq):
    """Every node in ``seq``, depth first."""
    for op, av in seq:
        yield op, av
        for child in _children(op, av):
            yield from _nodes(child)


def _unsupported_feature(tree) -> str | None:
    """The msgid for the first construct RE2 cannot run, named in plain words."""
    for op, _av in _nodes(tree):
        if op is sre.GROUPREF:
            return BACKREFERENCE
        if op in (sre.ASSERT, sre.ASSERT_NOT):
            return LOOKAROUND
        if op is sre.GROUPREF_EXISTS:
            return CONDITIONAL
        if op in (sre.ATOMIC_GROUP, sre.POSSESSIVE_REPEAT):
            return ATOMIC
    return None


def _ignores_case(tree) -> bool:
    """True when case-insensitive matching is on anywhere (then sets are case-folded)."""
    if tree.state.flags & re.IGNORECASE:
        return True
    return any(op is sre.SUBPATTERN and av[1] & re.IGNORECASE for op, av in _nodes(tree))


def _is_large(upper) -> bool:
    return upper is sre.MAXREPEAT or upper >= LARGE_REPEAT


def _has_large_repeat(seq) -> bool:
    return any(op in _REPEATS and _is_large(av[1]) for op, av in _nodes(seq))


def _large_repeat_bodies(seq) -> Iterator:
    for op, av in _nodes(seq):
        if op in _REPEATS and _is_large(av[1]):
            yield av[2]


def _nested_repeat(tree, charsets: _CharSets) -> tuple[str, dict] | None:
    """Refuse a large repeat inside a large repeat, like ``(a+)+``, unless separated."""
    for body in _large_repeat_bodies(tree):
        if _has_large_repeat(body) and not _separated(body, charsets):
            return NESTED_REPEAT, {}
    return None


def _overlapping_alternatives(tree, charsets: _CharSets) -> tuple[str, dict] | None:
    """Refuse a large repeat holding alternatives that can start alike, like ``(a|ab)*``."""
    for body in _large_repeat_bodies(tree):
        if _overlapping_branch(body, charsets):
            return OVERLAPPING_ALTERNATIVES, {}
    return None


def _branches_kept(pattern: str):
    """Parse ``pattern`` with its alternatives as written, or None when that fails.

    Python's parser simplifies alternations: ``a|ab`` becomes ``a(?:|b)`` and ``x|\\w``
    becomes ``[x\\w]``, which hides the overlap a backtracking engine stumbles on.  An
    empty group ``()`` at the start of every alternative stops both simplifications
    and matches nothing, so the parse shows the branches as the admin wrote them.
    """
    if re.search(r"\(\?[a-zA-Z]*x", pattern):  # verbose mode: spaces and # comments
        return None
    flags = re.match(r"(\(\?[aiLmsux]+\))*", pattern).end()  # must stay first
    out, i, n = [pattern[:flags], "()"], flags, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            out.append(pattern[i : i + 2])
            i += 2
        elif ch == "[":
            end = _class_end(pattern, i)
            out.append(pattern[i:end])
            i = end
        elif ch == "(":
            end = _group_header_end(pattern, i)
            out.append(pattern[i:end])
            if pattern[end - 1] in "(:>":  # a group whose body starts here
                out.append("()")
            i = end
        elif ch == "|":
            out.append("|()")
            i += 1
        else:
            out.append(ch)
            i += 1
    try:
        return sre_parse.parse("".join(out))
    except (re.error, RecursionError, OverflowError):
        return None


def _class_end(pattern: str, start: int) -> int:
    """The index just after the character class that opens at ``start``."""
    i = start + 1
    if pattern[i : i + 1] == "^":
        i += 1
    if pattern[i : i + 1] == "]":  # a ] right at the start is a literal
        i += 1
    while i < len(pattern) and pattern[i] != "]":
        i += 2 if pattern[i] == "\\" else 1
    return i + 1


def _group_header_end(pattern: str, start: int) -> int:
    """The index just after a group's opening: ``(``, ``(?:``, ``(?P<name>``, ``(?i:``...

    Comments ``(?#...)`` and whole-pattern flags ``(?i)`` end at their ``)``.
    """
    if pattern[start + 1 : start + 2] != "?":
        return start + 1
    if pattern.startswith("(?P<", start):
        return pattern.index(">", start) + 1
    i = start + 2
    while i < len(pattern) and pattern[i] not in ":)>=!<#":
        i += 1
    if pattern[i] == "#":
        return pattern.index(")", i) + 1
    return i + 1


def _flatten(seq) -> list:
    """The items of ``seq``, looking through groups that wrap everything (``(...)``)."""
    items = list(seq)
    while len(items) == 1 and items[0][0] is sre.SUBPATTERN:
        items = list(items[0][1][3])
    return items


def _separated(body, charsets: _CharSets) -> bool:
    """True when each repetition of ``body`` starts or ends with a character of its own.

    ``(\\.[a-z]+)+`` is safe although it nests ``+`` in ``+``: every round begins with a
    dot and nothing else in the body matches a dot, so the dots fix where the rounds
    split.  This keeps common e-mail and host-name patterns acceptable.
    """
    items = _flatten(body)
    if len(items) < 2:
        return False
    for edge, rest in ((items[0], items[1:]), (items[-1], items[:-1])):
        if edge[0] in _ATOMS and edge[0] is not sre.ANY:
            if not charsets.atom(*edge) & charsets.anywhere(rest):
                return True
    return False


def _overlapping_branch(body, charsets: _CharSets) -> bool:
    """True when an alternation in ``body`` has two branches that can start alike, or a
    branch that can match nothing (then the repeat can go round without progress)."""
    for op, av in _nodes(body):
        if op is not sre.BRANCH:
            continue
        seen: set = set()
        for branch in av[1]:
            chars, nullable = charsets.first(branch)
            if nullable or chars & seen:
                return True
            seen |= chars
    return False


class _CharSets:
    """Which characters a piece of a pattern can match, over a small sample alphabet.

    The sample holds all of ASCII plus a few letters, digits and spaces from other
    scripts; two sets that share no sample character are treated as disjoint.
    """

    SAMPLE = tuple(chr(c) for c in range(128)) + tuple("éßÄſ中٣\u00a0\u2028😀")
    _CATEGORIES = {
        sre.CATEGORY_DIGIT: re.compile(r"\d"),
        sre.CATEGORY_NOT_DIGIT: re.compile(r"\D"),
        sre.CATEGORY_SPACE: re.compile(r"\s"),
        sre.CATEGORY_NOT_SPACE: re.compile(r"\S"),
        sre.CATEGORY_WORD: re.compile(r"\w"),
        sre.CATEGORY_NOT_WORD: re.compile(r"\W"),
    }

    def __init__(self, fold_case: bool):
        self.fold_case = fold_case
        self.everything = frozenset(self.SAMPLE)

    def atom(self, op, av) -> frozenset:
        """The sample characters one single-character node matches."""
        if op is sre.ANY:
            return self.everything
        return frozenset(ch for ch in self.SAMPLE if self._matches(op, av, ch))

    def _matches(self, op, av, ch) -> bool:
        variants = {ch, ch.lower(), ch.upper()} if self.fold_case else {ch}
        return any(self._matches_exactly(op, av, v) for v in variants if len(v) == 1)

    def _matches_exactly(self, op, av, ch) -> bool:
        if op is sre.LITERAL:
            return ord(ch) == av
        if op is sre.NOT_LITERAL:
            return ord(ch) != av
        negate, hit = False, False
        for item_op, item_av in av:  # op is IN
            if item_op is sre.NEGATE:
                negate = True
            elif item_op is sre.LITERAL:
                hit = hit or ord(ch) == item_av
            elif item_op is sre.RANGE:
                hit = hit or item_av[0] <= ord(ch) <= item_av[1]
            elif item_op is sre.CATEGORY:
                category = self._CATEGORIES.get(item_av)
                hit = hit or category is None or bool(category.match(ch))
            else:  # anything unexpected: assume it matches (refuse rather than miss)
                hit = True
        return hit != negate

    def anywhere(self, seq) -> frozenset:
        """Every sample character some part of ``seq`` can match."""
        chars: frozenset = frozenset()
        for op, av in _nodes(seq):
            if op in _ATOMS:
                chars |= self.atom(op, av)
        return chars

    def first(self, seq) -> tuple[frozenset, bool]:
        """The characters a match of ``seq`` can start with, and whether it can be empty."""
        chars: frozenset = frozenset()
        for op, av in seq:
            item_chars, nullable = self._first_of(op, av)
            chars |= item_chars
            if not nullable:
                return chars, False
        return chars, True

    def _first_of(self, op, av) -> tuple[frozenset, bool]:
        if op in _ATOMS:
            return self.atom(op, av), False
        if op is sre.AT:
            return frozenset(), True
        if op is sre.SUBPATTERN:
            return self.first(av[3])
        if op is sre.BRANCH:
            results = [self.first(branch) for branch in av[1]]
            return frozenset().union(*(c for c, _ in results)), any(n for _, n in results)
        if op in _REPEATS:
            chars, nullable = self.first(av[2])
            return chars, nullable or av[0] == 0
        return self.everything, True  # refused elsewhere; be conservative
