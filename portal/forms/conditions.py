"""The ``visible_if`` condition language: compile, evaluate, and a JSON tree for the browser.

A condition is a small Python-like expression over the answers of a form::

    reason == 'legal'
    impact_cost in ['medium', 'high'] and not urgent
    'erp' in affected_systems
    budget > 5000

It is parsed with :mod:`ast` and only a whitelist of nodes is accepted, so a condition
can never call code.  The result is a JSON tree that this module evaluates on the
server and ``portal/static/js/conditions.js`` evaluates in the browser with exactly the
same rules (``tests/forms/condition_vectors.json`` holds the shared cases):

* **empty** means missing, None, ``""``, an empty list or False;
* ``==`` and ``!=``: two empty sides are equal; an empty side never equals a non-empty
  one; ``True`` equals True and the strings ``true``, ``yes``, ``y``, ``on``, ``1``
  (any case) and the number 1, as browsers send a ticked checkbox; numbers and numeric
  strings (``"5000"``, ``"-1.5"``) compare as numbers; two lists are equal item by item;
  anything else compares as exact, case-sensitive text;
* ``<``, ``<=``, ``>``, ``>=``: numbers (or numeric strings) compare as numbers, other
  text compares as text (ISO dates sort correctly); an empty side, a list, a boolean, or
  a number against non-numeric text makes the comparison false;
* ``x in [list]`` is membership by the ``==`` rule; ``'v' in field`` tests whether a list
  answer contains ``'v'`` or a text answer contains it as a substring;
  ``not in`` is the opposite of ``in``;
* a bare field name is true when the answer is not empty (0 is an answer, so it is true).
"""

from __future__ import annotations

import ast
import datetime
import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

MAX_LENGTH = 2000
"""Longest condition accepted, in characters."""


def N_(msgid: str) -> str:
    """Mark a message for extraction without translating it (see definition.N_)."""
    return msgid


class ConditionError(ValueError):
    """A condition that cannot be compiled, with a translatable message."""

    def __init__(self, msgid: str, params: dict | None = None):
        self.msgid = msgid
        self.params = params or {}
        super().__init__(msgid % self.params)


@dataclass(frozen=True)
class Condition:
    """A compiled condition; two conditions are equal when their source text is."""

    source: str
    tree: dict = field(compare=False)
    names: frozenset[str] = field(compare=False)

    def evaluate(self, answers: Mapping[str, Any]) -> bool:
        """True when the condition holds for ``answers`` (missing keys count as empty)."""
        return evaluate_tree(self.tree, answers)


# --- compiling -------------------------------------------------------------------------

_COMPARISONS = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
}

_REFUSED = {
    ast.Call: N_("function calls like %(text)s are not allowed in a condition"),
    ast.Attribute: N_("attributes like %(text)s are not allowed in a condition"),
    ast.Subscript: N_("indexing like %(text)s is not allowed in a condition"),
    ast.Lambda: N_("lambda is not allowed in a condition"),
    ast.JoinedStr: N_("f-strings like %(text)s are not allowed in a condition"),
    ast.BinOp: N_("arithmetic like %(text)s is not allowed in a condition"),
    ast.IfExp: N_("'... if ... else ...' is not allowed in a condition"),
    ast.NamedExpr: N_("':=' is not allowed in a condition"),
}
_NOT_ALLOWED = N_(
    "%(text)s is not allowed in a condition; use field names, text in quotes, numbers, "
    "lists, comparisons (== != < <= > >= in, not in), and, or, not"
)


def compile_condition(source: str, known_names: Collection[str] | None = None) -> Condition:
    """Parse ``source`` into a :class:`Condition`, or raise :class:`ConditionError`.

    With ``known_names``, a name that is not among them is refused as well.
    """
    if not isinstance(source, str):
        raise ConditionError(N_("a condition must be text, like: reason == 'legal'"))
    if not source.strip():
        raise ConditionError(N_("the condition is empty"))
    if len(source) > MAX_LENGTH:
        raise ConditionError(
            N_("the condition is %(length)d characters long; the limit is %(limit)d"),
            {"length": len(source), "limit": MAX_LENGTH},
        )
    # A long condition may span lines in YAML; line breaks are plain spaces here (the
    # replacement keeps every character at its place, so error positions stay right).
    text = source.strip().replace("\r", " ").replace("\n", " ")
    try:
        expression = ast.parse(text, mode="eval")
        compiler = _Compiler(text)
        tree = compiler.boolean(expression.body)
    except SyntaxError as exc:
        raise _syntax_error(text, exc) from None
    except (RecursionError, MemoryError):
        raise ConditionError(N_("the condition is nested too deeply")) from None
    except ValueError as exc:  # e.g. a NUL character, refused by the parser itself
        if isinstance(exc, ConditionError):
            raise
        raise ConditionError(
            N_("this is not a valid condition: %(error)s"), {"error": str(exc)}
        ) from None
    if known_names is not None:
        unknown = sorted(compiler.names - set(known_names))
        if unknown:
            raise ConditionError(N_("there is no field named '%(name)s'"), {"name": unknown[0]})
    return Condition(source=source, tree=tree, names=frozenset(compiler.names))


def _syntax_error(text: str, exc: SyntaxError) -> ConditionError:
    """Say where the condition stops making sense, with a hint for a lone ``=``."""
    if re.search(r"(?<![=!<>])=(?!=)", text):
        return ConditionError(
            N_("this is not a valid condition: use == to compare, not = (%(text)s)"),
            {"text": text},
        )
    if not exc.offset or exc.offset > len(text):
        return ConditionError(
            N_("this is not a valid condition: %(error)s (at the end)"), {"error": exc.msg}
        )
    return ConditionError(
        N_("this is not a valid condition: %(error)s (at character %(position)s)"),
        {"error": exc.msg, "position": exc.offset},
    )


class _Compiler:
    """Turns a whitelisted :mod:`ast` tree into the JSON tree, collecting field names."""

    def __init__(self, source: str):
        self.source = source
        self.names: set[str] = set()

    def text(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.source, node) or type(node).__name__

    def refuse(self, node: ast.AST):
        msgid = _REFUSED.get(type(node), _NOT_ALLOWED)
        raise ConditionError(msgid, {"text": self.text(node)})

    def boolean(self, node: ast.AST) -> dict:
        """A node in a place where a truth value is expected."""
        if isinstance(node, ast.BoolOp):
            op = "and" if isinstance(node.op, ast.And) else "or"
            return {"op": op, "args": [self.boolean(value) for value in node.values]}
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return {"op": "not", "arg": self.boolean(node.operand)}
        if isinstance(node, ast.Compare):
            return self.comparison(node)
        if isinstance(node, ast.Name):
            return {"op": "truthy", "arg": self.operand(node)}
        if isinstance(node, ast.Constant | ast.List | ast.Tuple):
            raise ConditionError(
                N_(
                    "%(text)s on its own is always true or always false; compare a field "
                    "with it, like: reason == 'legal' or reason == 'contract'"
                ),
                {"text": self.text(node)},
            )
        self.refuse(node)

    def comparison(self, node: ast.Compare) -> dict:
        if len(node.ops) > 1:
            raise ConditionError(
                N_("chained comparisons like %(text)s are not allowed; join two with 'and'"),
                {"text": self.text(node)},
            )
        op_type = type(node.ops[0])
        if op_type in (ast.Is, ast.IsNot):
            raise ConditionError(
                N_("'is' and 'is not' are not allowed; use == or != instead: %(text)s"),
                {"text": self.text(node)},
            )
        op = _COMPARISONS[op_type]
        left = self.operand(node.left)
        right = self.operand(node.comparators[0], list_allowed=op in ("in", "not in"))
        if "var" not in left and "var" not in right:
            raise ConditionError(
                N_("%(text)s compares two fixed values; one side must be a field name"),
                {"text": self.text(node)},
            )
        return {"op": op, "left": left, "right": right}

    def operand(self, node: ast.AST, list_allowed: bool = False) -> dict:
        if isinstance(node, ast.Name):
            self.names.add(node.id)
            return {"var": node.id}
        if isinstance(node, ast.List | ast.Tuple):
            if not list_allowed:
                raise ConditionError(
                    N_("a list like %(text)s can only follow 'in' or 'not in'"),
                    {"text": self.text(node)},
                )
            return {"list": [self.constant(item) for item in node.elts]}
        return {"value": self.constant(node)}

    def constant(self, node: ast.AST):
        """A fixed value: text, a number (optionally negative), True, False or None."""
        sign = 1
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            sign = -1 if isinstance(node.op, ast.USub) else 1
            node = node.operand
            if not (isinstance(node, ast.Constant) and _is_number(node.value)):
                self.refuse(node)
        if not isinstance(node, ast.Constant):
            if isinstance(node, ast.List | ast.Tuple):
                raise ConditionError(
                    N_("lists inside lists like %(text)s are not allowed"),
                    {"text": self.text(node)},
                )
            if isinstance(node, ast.Name):
                raise ConditionError(
                    N_("a list may hold only fixed values, not the field name '%(name)s'"),
                    {"name": node.id},
                )
            self.refuse(node)
        value = node.value
        if value is None or isinstance(value, bool | str):
            return value
        if isinstance(value, int | float) and math.isfinite(value):
            return sign * value
        raise ConditionError(
            N_("%(text)s is not a value a condition can use"), {"text": self.text(node)}
        )


# --- evaluating ------------------------------------------------------------------------

_NUMERIC = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_TRUE_WORDS = frozenset({"true", "yes", "y", "on", "1"})


def evaluate_tree(tree: Mapping[str, Any], answers: Mapping[str, Any]) -> bool:
    """Evaluate a condition tree (the JSON format) against ``answers``."""
    op = tree["op"]
    if op == "and":
        return all(evaluate_tree(arg, answers) for arg in tree["args"])
    if op == "or":
        return any(evaluate_tree(arg, answers) for arg in tree["args"])
    if op == "not":
        return not evaluate_tree(tree["arg"], answers)
    if op == "truthy":
        return not is_empty(_resolve(tree["arg"], answers))
    left, right = _resolve(tree["left"], answers), _resolve(tree["right"], answers)
    if op == "==":
        return values_equal(left, right)
    if op == "!=":
        return not values_equal(left, right)
    if op == "in":
        return _contains(right, left)
    if op == "not in":
        return not _contains(right, left)
    return _ordered(op, left, right)


def _resolve(operand: Mapping[str, Any], answers: Mapping[str, Any]):
    if "var" in operand:
        return answers.get(operand["var"])
    if "list" in operand:
        return operand["list"]
    return operand["value"]


def is_empty(value) -> bool:
    """Missing, None, "", an empty list and False are empty; 0 and "0" are answers."""
    if value is None or value is False:
        return True
    if isinstance(value, str):
        return value == ""
    return _is_list(value) and len(value) == 0


def _is_list(value) -> bool:
    return isinstance(value, list | tuple)


def _is_number(value) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _as_number(value) -> float | None:
    """The value as a float when it is a number or a numeric string, else None.

    Floats (not Decimal) so that the server agrees with the browser, where every number
    is a double.
    """
    if _is_number(value):
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    if isinstance(value, str) and _NUMERIC.fullmatch(value):
        return float(value)
    return None


def _as_text(value) -> str:
    """Text for comparison; parsed dates become the ISO strings a browser would send."""
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return value if isinstance(value, str) else str(value)


def _means_true(value) -> bool:
    if isinstance(value, str):
        return value.lower() in _TRUE_WORDS
    return value is True or (_is_number(value) and value == 1)


def values_equal(a, b) -> bool:
    """The ``==`` rule shared with conditions.js (see the module docstring)."""
    a_empty, b_empty = is_empty(a), is_empty(b)
    if a_empty or b_empty:
        return a_empty and b_empty
    if a is True or b is True:
        return _means_true(b if a is True else a)
    a_number, b_number = _as_number(a), _as_number(b)
    if a_number is not None and b_number is not None:
        return a_number == b_number
    if _is_list(a) or _is_list(b):
        if not (_is_list(a) and _is_list(b) and len(a) == len(b)):
            return False
        return all(values_equal(x, y) for x, y in zip(a, b, strict=True))
    if a_number is not None or b_number is not None:
        return False  # a number never equals text that is not a number
    return _as_text(a) == _as_text(b)


def _contains(container, item) -> bool:
    """``item in container``: list membership by ``==``, or substring in text."""
    if is_empty(container):
        return False
    if _is_list(container):
        return any(values_equal(item, member) for member in container)
    if isinstance(container, str) and isinstance(item, str) and item != "":
        return item in container
    return False


def _ordered(op: str, a, b) -> bool:
    """``<``, ``<=``, ``>``, ``>=``: numbers as numbers, text as text, else false."""
    if is_empty(a) or is_empty(b):
        return False
    a_number, b_number = _as_number(a), _as_number(b)
    if a_number is None or b_number is None:
        if a_number is not None or b_number is not None:
            return False
        if _is_list(a) or _is_list(b) or isinstance(a, bool) or isinstance(b, bool):
            return False
        # Python orders by code point, JS by UTF-16 unit: they differ only when comparing
        # characters beyond U+FFFF with U+E000..U+FFFF, which no form answer relies on.
        a_number, b_number = _as_text(a), _as_text(b)
    if op == "<":
        return a_number < b_number
    if op == "<=":
        return a_number <= b_number
    if op == ">":
        return a_number > b_number
    return a_number >= b_number
