"""XLSForm expressions (the XPath subset of ``relevant`` and ``constraint``) and the
portal's own condition language, translated both ways.

XLSForm writes ``${reason} = 'other'``, ``selected(${systems}, 'crm')`` or
``${amount} > 100 and ${x} != ''``; the portal writes ``reason == 'other'``,
``'crm' in systems`` and ``amount > 100 and x``.  :func:`parse` reads the XPath subset
into a small tree, :func:`relevant_to_condition` turns it into the portal's condition
text (one canonical spelling, so that a condition written back by
:func:`condition_to_relevant` reads in again as the very same text), and
:func:`constraint_parts` splits a ``constraint`` into the checks it is made of
(``. >= 0``, ``string-length(.) <= 200``, ``regex(., '...')``).

Whatever falls outside the subset (arithmetic, ``today()``, ``if()``, paths) raises
:class:`ExpressionError` with a translatable message: the caller lists it as not mapped.
Pure Python, no Flask.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from portal.forms.conditions import ConditionError, compile_condition


def N_(msgid: str) -> str:
    """Mark a message for extraction without translating it (see definition.N_)."""
    return msgid


class ExpressionError(ValueError):
    """An expression the portal cannot take over, with a translatable message."""

    def __init__(self, msgid: str, params: dict | None = None):
        self.msgid = msgid
        self.params = params or {}
        super().__init__(msgid % self.params)


# --- reading the XPath subset ------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<ref>\$\{\s*(?P<refname>[^}\s]+)\s*\})
      | (?P<str>'[^']*'|"[^"]*")
      | (?P<num>\d+(?:\.\d*)?|\.\d+)
      | (?P<op>!=|<=|>=|=|<|>|\(|\)|,)
      | (?P<dot>\.(?![\w.]))
      | (?P<word>[A-Za-z_][\w:-]*)
      | (?P<other>\S)
    )""",
    re.VERBOSE,
)
_ARITHMETIC = frozenset({"+", "-", "*", "|", "/", "div", "mod"})
_COMPARE = {"=": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_FLIPPED = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


@dataclass(frozen=True)
class Node:
    """One node of a parsed expression: ``kind`` is ref, self, str, num, call, cmp, and,
    or or not; ``value`` the name, text, number or operator; ``args`` the operands."""

    kind: str
    value: Any = None
    args: tuple[Node, ...] = ()


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens = []
    position = 0
    text = text.strip()
    while position < len(text):
        found = _TOKEN.match(text, position)
        if found is None or found.end() == position:
            break
        position = found.end()
        kind = found.lastgroup if found.lastgroup != "refname" else "ref"
        if found.group("ref"):
            tokens.append(("ref", found.group("refname")))
        elif kind == "other" and found.group("other").isspace():
            continue
        else:
            tokens.append((kind, found.group(kind)))
    return tokens


class _Parser:
    """Recursive descent over: or > and > comparison > call, reference, literal, ( )."""

    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokens(text)
        self.at = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise ExpressionError(
                N_("the expression ends too early: %(text)s"), {"text": self.text}
            )
        self.at += 1
        return token

    def expect(self, value: str) -> None:
        kind, text = self.take()
        if text != value:
            raise ExpressionError(
                N_("expected '%(expected)s' but found '%(found)s' in %(text)s"),
                {"expected": value, "found": text, "text": self.text},
            )

    def parse(self) -> Node:
        if not self.tokens:
            raise ExpressionError(N_("the expression is empty"))
        node = self.disjunction()
        if self.peek() is not None:
            self.unsupported(self.peek()[1])
        return node

    def unsupported(self, text: str):
        if text in _ARITHMETIC:
            raise ExpressionError(
                N_("arithmetic (%(operator)s) has no equivalent in the portal: %(text)s"),
                {"operator": text, "text": self.text},
            )
        raise ExpressionError(
            N_("'%(found)s' has no equivalent in the portal: %(text)s"),
            {"found": text, "text": self.text},
        )

    def disjunction(self) -> Node:
        items = [self.conjunction()]
        while self.peek() == ("word", "or"):
            self.take()
            items.append(self.conjunction())
        return items[0] if len(items) == 1 else Node("or", args=tuple(items))

    def conjunction(self) -> Node:
        items = [self.comparison()]
        while self.peek() == ("word", "and"):
            self.take()
            items.append(self.comparison())
        return items[0] if len(items) == 1 else Node("and", args=tuple(items))

    def comparison(self) -> Node:
        left = self.operand()
        token = self.peek()
        if token is not None and token[0] == "op" and token[1] in _COMPARE:
            self.take()
            right = self.operand()
            following = self.peek()
            if following is not None and following[0] == "op" and following[1] in _COMPARE:
                self.unsupported(following[1])
            return Node("cmp", _COMPARE[token[1]], (left, right))
        return left

    def operand(self) -> Node:
        kind, text = self.take()
        if kind == "ref":
            return Node("ref", text)
        if kind == "dot":
            return Node("self")
        if kind == "str":
            return Node("str", text[1:-1])
        if kind == "num":
            return Node("num", float(text) if "." in text else int(text))
        if kind == "other" and text == "-" and self.peek() and self.peek()[0] == "num":
            number = self.operand()
            return Node("num", -number.value)
        if (kind, text) == ("op", "("):
            inner = self.disjunction()
            self.expect(")")
            return inner
        if kind == "word" and self.peek() == ("op", "("):
            self.take()
            args = []
            if self.peek() != ("op", ")"):
                args.append(self.disjunction())
                while self.peek() == ("op", ","):
                    self.take()
                    args.append(self.disjunction())
            self.expect(")")
            if text == "not":
                if len(args) != 1:
                    self.unsupported(text)
                return Node("not", args=tuple(args))
            return Node("call", text, tuple(args))
        self.unsupported(text)


def parse(text: str) -> Node:
    """Parse an XLSForm expression, or raise :class:`ExpressionError`."""
    if not isinstance(text, str):
        raise ExpressionError(N_("the expression is empty"))
    return _Parser(text).parse()


# --- relevant -> visible_if ------------------------------------------------------------


def relevant_to_condition(text: str, kinds: Mapping[str, str], names: Mapping[str, str]) -> str:
    """The portal condition for an XLSForm ``relevant`` expression.

    ``kinds`` gives each portal field's type (to tell ``selected()`` on a multiselect
    from one on a single choice, and a ticked acknowledge); ``names`` maps XLSForm names
    to portal names. Raises :class:`ExpressionError` when it cannot be translated.
    """
    tree = _Relevant(kinds, names, text).boolean(parse(text))
    source = render(tree)
    try:
        compile_condition(source)
    except ConditionError as error:  # a translation the portal still refuses
        raise ExpressionError(error.msgid, error.params) from None
    return source


class _Relevant:
    def __init__(self, kinds: Mapping[str, str], names: Mapping[str, str], text: str):
        self.kinds, self.names, self.text = kinds, names, text

    def field(self, node: Node) -> str:
        if node.kind != "ref":
            raise ExpressionError(
                N_("only ${name} references can be tested here: %(text)s"), {"text": self.text}
            )
        name = self.names.get(node.value)
        if name is None or name not in self.kinds:
            raise ExpressionError(
                N_("${%(name)s} is not a question the portal kept"), {"name": node.value}
            )
        return name

    def boolean(self, node: Node) -> dict:
        if node.kind in ("and", "or"):
            return {"op": node.kind, "args": [self.boolean(arg) for arg in node.args]}
        if node.kind == "not":
            return {"op": "not", "arg": self.boolean(node.args[0])}
        if node.kind == "ref":
            return {"op": "truthy", "arg": {"var": self.field(node)}}
        if node.kind == "call":
            return self.call(node)
        if node.kind == "cmp":
            return self.comparison(node)
        raise ExpressionError(N_("%(text)s is always true or always false"), {"text": self.text})

    def call(self, node: Node) -> dict:
        if node.value == "selected" and len(node.args) == 2 and node.args[1].kind == "str":
            name = self.field(node.args[0])
            value = node.args[1].value
            if self.kinds[name] == "multiselect":
                return {"op": "in", "left": {"value": value}, "right": {"var": name}}
            if self.kinds[name] in ("select", "radio"):
                return {"op": "==", "left": {"var": name}, "right": {"value": value}}
        if node.value == "contains" and len(node.args) == 2 and node.args[1].kind == "str":
            name = self.field(node.args[0])
            if self.kinds[name] != "multiselect" and node.args[1].value:
                return {"op": "in", "left": {"value": node.args[1].value}, "right": {"var": name}}
        raise ExpressionError(
            N_("the function %(function)s() has no equivalent in the portal"),
            {"function": node.value},
        )

    def comparison(self, node: Node) -> dict:
        op, (left, right) = node.value, node.args
        if left.kind not in ("ref", "call") and right.kind in ("ref", "call"):
            left, right, op = right, left, _FLIPPED[op]
        if left.kind == "call" and left.value in ("count-selected", "string-length"):
            return self.counted(left, op, right)
        name = self.field(left)
        kind = self.kinds[name]
        if right.kind == "ref":
            return {"op": op, "left": {"var": name}, "right": {"var": self.field(right)}}
        value = self.literal(right)
        if value == "" and op in ("==", "!="):
            truthy = {"op": "truthy", "arg": {"var": name}}
            return truthy if op == "!=" else {"op": "not", "arg": truthy}
        if kind == "checkbox" and op in ("==", "!=") and str(value).upper() == "OK":
            truthy = {"op": "truthy", "arg": {"var": name}}
            return truthy if op == "==" else {"op": "not", "arg": truthy}
        if kind == "multiselect":
            raise ExpressionError(
                N_("compare a select_multiple answer with selected(), not with %(op)s"),
                {"op": op},
            )
        return {"op": op, "left": {"var": name}, "right": {"value": value}}

    def counted(self, call: Node, op: str, right: Node) -> dict:
        """``count-selected(${x}) > 0`` and ``string-length(${x}) > 0``: answered or not."""
        if len(call.args) != 1 or right.kind != "num":
            raise ExpressionError(
                N_("the function %(function)s() has no equivalent in the portal"),
                {"function": call.value},
            )
        truthy = {"op": "truthy", "arg": {"var": self.field(call.args[0])}}
        number = right.value
        if (op, number) in ((">", 0), (">=", 1), ("!=", 0)):
            return truthy
        if (op, number) in (("==", 0), ("<", 1), ("<=", 0)):
            return {"op": "not", "arg": truthy}
        raise ExpressionError(
            N_("the portal can test whether %(function)s() is 0, not other counts"),
            {"function": call.value},
        )

    def literal(self, node: Node):
        if node.kind in ("str", "num"):
            return node.value
        if node.kind == "call" and node.value in ("date", "date-time") and len(node.args) == 1:
            if node.args[0].kind == "str":
                return node.args[0].value
        if node.kind == "call" and node.value in ("true", "false") and not node.args:
            return node.value == "true"
        if node.kind == "call":
            raise ExpressionError(
                N_("the function %(function)s() has no equivalent in the portal"),
                {"function": node.value},
            )
        raise ExpressionError(
            N_("only a question and a fixed value can be compared: %(text)s"),
            {"text": self.text},
        )


def render(tree: Mapping) -> str:
    """A condition tree written as portal condition text, in one canonical spelling."""
    op = tree["op"]
    if op == "or":
        return " or ".join(render(arg) for arg in tree["args"])
    if op == "and":
        return " and ".join(
            f"({render(arg)})" if arg["op"] == "or" else render(arg) for arg in tree["args"]
        )
    if op == "not":
        inner = tree["arg"]
        return f"not {render(inner)}" if inner["op"] == "truthy" else f"not ({render(inner)})"
    if op == "truthy":
        return tree["arg"]["var"]
    return f"{_operand(tree['left'])} {op} {_operand(tree['right'])}"


def _operand(operand: Mapping) -> str:
    if "var" in operand:
        return operand["var"]
    if "list" in operand:
        return "[" + ", ".join(_constant(item) for item in operand["list"]) + "]"
    return _constant(operand["value"])


def _constant(value) -> str:
    if isinstance(value, str | bool) or value is None:
        return repr(value)
    if isinstance(value, float) and value.is_integer():
        return repr(int(value))
    return repr(value)


def combine(conditions: list[str]) -> str | None:
    """Several conditions that must all hold, as one canonical condition (None if none)."""
    trees = [compile_condition(source).tree for source in conditions if source]
    if not trees:
        return None
    if len(trees) == 1:
        return render(trees[0])
    args = []
    for tree in trees:
        args.extend(tree["args"] if tree["op"] == "and" else [tree])
    return render({"op": "and", "args": args})


# --- visible_if -> relevant ------------------------------------------------------------


def condition_to_relevant(source: str, kinds: Mapping[str, str]) -> str:
    """The XLSForm ``relevant`` expression for a portal condition; raises
    :class:`ExpressionError` for the few conditions XPath cannot say as such."""
    return _xpath(compile_condition(source).tree, kinds)


def _xpath(tree: Mapping, kinds: Mapping[str, str]) -> str:
    op = tree["op"]
    if op in ("and", "or"):
        parts = []
        for arg in tree["args"]:
            text = _xpath(arg, kinds)
            parts.append(f"({text})" if op == "and" and arg["op"] == "or" else text)
        return f" {op} ".join(parts)
    if op == "not":
        inner = tree["arg"]
        if inner["op"] == "truthy":
            name = inner["arg"]["var"]
            return f"${{{name}}} != 'OK'" if kinds.get(name) == "checkbox" else f"${{{name}}} = ''"
        return f"not({_xpath(inner, kinds)})"
    if op == "truthy":
        name = tree["arg"]["var"]
        return f"${{{name}}} = 'OK'" if kinds.get(name) == "checkbox" else f"${{{name}}} != ''"
    left, right = tree["left"], tree["right"]
    if "var" not in left:
        left, right = right, left
        op = {"in": "in", "not in": "not in"}.get(op) or _FLIPPED[op]
        if op in ("in", "not in"):  # 'v' in field
            return _member(right["value"], left["var"], op, kinds)
    name = left["var"]
    if op in ("in", "not in"):
        if "list" not in right:
            raise ExpressionError(N_("this condition has no XLSForm equivalent"))
        choices = " or ".join(f"${{{name}}} = {_xpath_value(v)}" for v in right["list"])
        choices = f"({choices})" if len(right["list"]) > 1 else choices
        return f"not({choices})" if op == "not in" else choices
    if "var" in right:
        return f"${{{name}}} {_XPATH_OP[op]} ${{{right['var']}}}"
    value = right["value"]
    if kinds.get(name) == "checkbox" and isinstance(value, bool) and op in ("==", "!="):
        ticked = (value is True) == (op == "==")
        return f"${{{name}}} = 'OK'" if ticked else f"${{{name}}} != 'OK'"
    if value is None:
        value = ""
    if kinds.get(name) == "multiselect" and op in ("==", "!=") and value != "":
        raise ExpressionError(N_("this condition has no XLSForm equivalent"))
    return f"${{{name}}} {_XPATH_OP[op]} {_xpath_value(value)}"


def _member(value, name: str, op: str, kinds: Mapping[str, str]) -> str:
    if not isinstance(value, str):
        raise ExpressionError(N_("this condition has no XLSForm equivalent"))
    function = "selected" if kinds.get(name) == "multiselect" else "contains"
    text = f"{function}(${{{name}}}, {_xpath_value(value)})"
    return f"not({text})" if op == "not in" else text


_XPATH_OP = {"==": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def _xpath_value(value) -> str:
    if isinstance(value, bool):
        return "true()" if value else "false()"
    if isinstance(value, int | float):
        return _constant(value)
    text = str(value)
    if "'" not in text:
        return f"'{text}'"
    if '"' not in text:
        return f'"{text}"'
    raise ExpressionError(N_("this condition has no XLSForm equivalent"))


# --- constraint -> min, max, lengths, pattern ----------------------------------------------


@dataclass(frozen=True)
class Check:
    """One part of a constraint the portal can keep: ``key`` (min, max, min_length,
    max_length or pattern) and its value; ``strict`` when written with < or >."""

    key: str
    value: Any
    strict: bool = False


def constraint_parts(text: str) -> tuple[list[Check], list[str]]:
    """Split a constraint on its top-level ``and``: the checks the portal can keep, and
    the text of each part it cannot (raises :class:`ExpressionError` when nothing parses)."""
    tree = parse(text)
    parts = tree.args if tree.kind == "and" else (tree,)
    checks, rest = [], []
    for part in parts:
        check = _check(part)
        if check is None:
            rest.append(_describe(part))
        else:
            checks.append(check)
    return checks, rest


def _check(node: Node) -> Check | None:
    if node.kind == "call" and node.value == "regex" and len(node.args) == 2:
        if node.args[0].kind == "self" and node.args[1].kind == "str":
            return Check("pattern", node.args[1].value)
        return None
    if node.kind != "cmp":
        return None
    op, (left, right) = node.value, node.args
    if _is_subject(right) and not _is_subject(left):
        left, right, op = right, left, _FLIPPED[op]
    if op in ("==", "!=") or not _is_subject(left):
        return None
    if right.kind == "num":
        value = right.value
    elif right.kind == "str":
        value = right.value
    elif right.kind == "call" and right.value in ("date", "date-time") and len(right.args) == 1:
        if right.args[0].kind != "str":
            return None
        value = right.args[0].value
    else:
        return None
    lower = op in (">", ">=")
    if left.kind == "call":  # string-length(.)
        if right.kind != "num" or not isinstance(value, int):
            return None
        return Check("min_length" if lower else "max_length", value, strict=op in ("<", ">"))
    return Check("min" if lower else "max", value, strict=op in ("<", ">"))


def _is_subject(node: Node) -> bool:
    """``.`` itself, or ``string-length(.)``."""
    if node.kind == "self":
        return True
    return (
        node.kind == "call"
        and node.value == "string-length"
        and len(node.args) == 1
        and node.args[0].kind == "self"
    )


def _describe(node: Node) -> str:
    """A parsed part written back as XLSForm text (for the list of what was not mapped)."""
    if node.kind == "ref":
        return f"${{{node.value}}}"
    if node.kind == "self":
        return "."
    if node.kind == "str":
        return f"'{node.value}'"
    if node.kind == "num":
        return _constant(node.value)
    if node.kind == "not":
        return f"not({_describe(node.args[0])})"
    if node.kind in ("and", "or"):
        return f" {node.kind} ".join(
            f"({_describe(arg)})" if arg.kind in ("and", "or") else _describe(arg)
            for arg in node.args
        )
    if node.kind == "call":
        return f"{node.value}({', '.join(_describe(arg) for arg in node.args)})"
    return f"{_describe(node.args[0])} {_XPATH_OP[node.value]} {_describe(node.args[1])}"


def checks_to_constraint(field: Mapping[str, Any]) -> str:
    """The XLSForm ``constraint`` saying a portal field's min, max, lengths and pattern."""
    parts = []
    quote = field.get("type") in ("date", "datetime")
    function = "date-time" if field.get("type") == "datetime" else "date"
    for key, op in (("min", ">="), ("max", "<=")):
        if field.get(key) is not None:
            value = field[key]
            text = f"{function}({_xpath_value(str(value))})" if quote else _xpath_value(value)
            parts.append(f". {op} {text}")
    for key, op in (("min_length", ">="), ("max_length", "<=")):
        if field.get(key) is not None:
            parts.append(f"string-length(.) {op} {int(field[key])}")
    if field.get("pattern"):
        parts.append(f"regex(., {_xpath_value(field['pattern'])})")
    return " and ".join(parts)
