"""The designer's edits, as pure operations on a definition dict (the YAML's shape).

Every function takes the draft's definition and changes it in place; the routes copy it
first and save the result. Nothing here imports Flask: the rules of editing (unique field
names, what a type change keeps, how a picked condition is written) are tested alone.

Texts are kept as ``{language: text}`` mappings once the designer has touched them; an
empty text removes that language, so what an admin clears is gone and what they type is
kept exactly, even when it is not valid yet (the loader then says what is wrong, and where).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from portal.forms.conditions import ConditionError, compile_condition
from portal.forms.definition import FieldTypeRules, allowed_keys

TEXT_KEYS = ("label", "help", "placeholder")
FORM_TEXT_KEYS = ("title", "description")

#: Patterns an admin picks by name instead of writing a regular expression; each passes
#: the safe-pattern check (tests/designer/test_editing.py runs them through it).
PATTERN_PRESETS: dict[str, str] = {
    "digits": r"[0-9]+",
    "letters": r"[A-Za-z]+",
    "letters_digits": r"[A-Za-z0-9]+",
    "project_code": r"[A-Z]{2}-[0-9]{4}",
    "postcode": r"[A-Za-z0-9 -]{3,10}",
    "phone": r"\+?[0-9 ()-]{6,20}",
}

#: The operators of the condition pickers: what an admin chooses from a list.
SIMPLE_OPERATORS = ("answered", "not_answered", "eq", "ne", "contains", "gt", "ge", "lt", "le")
_COMPARISONS = {"eq": "==", "ne": "!=", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_BY_SYMBOL = {symbol: name for name, symbol in _COMPARISONS.items()}


class EditError(ValueError):
    """An edit that cannot apply (an index out of range): a stale page, not a user mistake."""


def fields_of(definition: dict) -> list:
    """The definition's field list, created when missing."""
    fields = definition.get("fields")
    if not isinstance(fields, list):
        fields = definition["fields"] = []
    return fields


def field_at(definition: dict, index: int) -> dict:
    fields = fields_of(definition)
    if not 0 <= index < len(fields) or not isinstance(fields[index], dict):
        raise EditError(f"there is no field {index}")
    return fields[index]


def default_language(definition: Mapping) -> str:
    value = definition.get("default_language")
    return value if isinstance(value, str) and value else "en"


# --- the form ---------------------------------------------------------------------------


def blank_definition(
    name: str, title: Mapping[str, str], language: str = "en", number_prefix: str = ""
) -> dict:
    """A new form with its name and title and no fields yet."""
    definition: dict[str, Any] = {"name": name, "title": {k: v for k, v in title.items() if v}}
    if language != "en":
        definition["default_language"] = language
    if number_prefix:
        definition["number_prefix"] = number_prefix
    definition["fields"] = []
    return definition


def set_setting(definition: dict, key: str, value: str) -> None:
    """``name``, ``default_language`` or ``number_prefix``; empty removes the optional ones."""
    if key not in ("name", "default_language", "number_prefix"):
        raise EditError(f"{key} is not a form setting")
    if value or key == "name":
        definition[key] = value
    else:
        definition.pop(key, None)


# --- texts ------------------------------------------------------------------------------


def texts_of(value: Any, language: str) -> dict:
    """A text as ``{language: text}``: plain text belongs to the form's default language."""
    if isinstance(value, str):
        return {language: value}
    if isinstance(value, Mapping):
        return dict(value)
    return {}


def set_text(owner: dict, key: str, language: str, text: str, default: str) -> None:
    """Set one language of a text of ``owner`` (the form, a field or an option); an empty
    text removes that language, and the key goes when no language is left."""
    texts = texts_of(owner.get(key), default)
    if text.strip():
        texts[language] = text
    else:
        texts.pop(language, None)
    if texts:
        owner[key] = texts
    else:
        owner.pop(key, None)


# --- fields -----------------------------------------------------------------------------


def free_field_name(definition: dict, wanted: str) -> str:
    """``wanted`` when no field has it, else ``wanted_2``, ``wanted_3``…"""
    base = re.sub(r"[^a-z0-9_]+", "_", wanted.lower()).strip("_") or "field"
    if not base[0].isalpha():
        base = f"field_{base}"
    base = base[:58]
    taken = {f.get("name") for f in fields_of(definition) if isinstance(f, dict)}
    if base not in taken:
        return base
    number = 2
    while f"{base}_{number}" in taken:
        number += 1
    return f"{base}_{number}"


def add_field(
    definition: dict,
    rules: FieldTypeRules,
    label: str,
    option_label: str = "Option %(number)d",
    at: int | None = None,
) -> int:
    """Add a field of this type (with a free name, a label, and two options when the type
    needs them); return its index."""
    language = default_language(definition)
    field: dict[str, Any] = {
        "name": free_field_name(definition, rules.name),
        "type": rules.name,
        "label": {language: label},
    }
    if rules.options:
        field["options"] = [
            {"value": f"option_{n}", "label": {language: option_label % {"number": n}}}
            for n in (1, 2)
        ]
    fields = fields_of(definition)
    index = len(fields) if at is None else max(0, min(at, len(fields)))
    fields.insert(index, field)
    return index


def remove_field(definition: dict, index: int) -> dict:
    field_at(definition, index)
    return fields_of(definition).pop(index)


def move_field(definition: dict, index: int, to: int) -> int:
    """Move a field to position ``to`` (clamped to the list); return where it landed."""
    field = remove_field(definition, index)
    fields = fields_of(definition)
    to = max(0, min(to, len(fields)))
    fields.insert(to, field)
    return to


def set_type(
    definition: dict,
    index: int,
    rules: FieldTypeRules,
    option_label: str,
    old_rules: FieldTypeRules | None = None,
) -> None:
    """Change a field's type, keeping every key the new type accepts (label, help,
    options, bounds…) and dropping the others; a type that needs options gets two.
    The default answer stays when it means the same for the new type (text for text, one
    choice becoming a list of one…) and goes otherwise."""
    field = field_at(definition, index)
    if old_rules is not None and "default" in field:
        kept = convert_default(field["default"], old_rules.default_kind(), rules.default_kind())
        set_key(field, "default", kept)
    field["type"] = rules.name
    keep = set(allowed_keys(rules))
    for key in list(field):
        if key not in keep:
            del field[key]
    if rules.options and not field.get("options"):
        language = default_language(definition)
        field["options"] = [
            {"value": f"option_{n}", "label": {language: option_label % {"number": n}}}
            for n in (1, 2)
        ]


def set_key(field: dict, key: str, value: Any) -> None:
    """Set a key of a field; None (or empty text) removes it."""
    if value is None or value == "" or value == []:
        field.pop(key, None)
    else:
        field[key] = value


# --- the default answer -----------------------------------------------------------------

_SAME_MEANING = {("text", "any"), ("any", "text")}


def convert_default(value: Any, old_kind: str, new_kind: str) -> Any:
    """A default answer carried over a change of type: the same value when the kind stays,
    one choice as a list of one (and back), else None (the default goes)."""
    if old_kind == new_kind or (old_kind, new_kind) in _SAME_MEANING:
        return value
    if (old_kind, new_kind) == ("option", "options"):
        return [value]
    if (old_kind, new_kind) == ("options", "option") and isinstance(value, list):
        return value[0] if len(value) == 1 else None
    return None


def default_as_text(value: Any) -> str:
    """A default answer as the designer writes it out ("" for none): ``true``/``false`` for a
    box, ``a, b`` for several choices; its text box and the publish page show it so."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    return str(value)


BOOL_CHOICES = {"yes": True, "no": False}


def parse_default(kind: str, posted: list[str]) -> Any:
    """What the designer's default control posted (its values, in order), as the value a
    definition holds for a field of this kind (``FieldTypeRules.default_kind``); None when
    it was cleared. Text that does not fit is kept as typed, so the loader says what is
    wrong beside the control and nothing typed is lost."""
    if kind == "options":
        chosen = [value for value in posted if value]
        return list(dict.fromkeys(chosen)) or None
    text = posted[0] if posted else ""
    if kind in ("text", "any"):
        text = text.replace("\r\n", "\n")
        return text if text.strip() else None
    if kind == "number":
        return parse_number(text)
    if kind == "bool":
        return BOOL_CHOICES.get(text, text or None)
    return text.strip() or None  # option, date, datetime


def parse_number(text: str) -> Any:
    """Typed text as a number (int when whole), or the text itself when it is not one, so
    the loader reports it beside its input and nothing typed is lost."""
    text = text.strip()
    if not text:
        return None
    try:
        number = Decimal(text.replace(",", "."))
    except InvalidOperation:
        return text
    if not number.is_finite():
        return text
    return int(number) if number == number.to_integral_value() else float(number)


def parse_whole(text: str) -> Any:
    """A whole number typed in, or the text itself when it is not one."""
    text = text.strip()
    if not text:
        return None
    return int(text) if re.fullmatch(r"[0-9]{1,9}", text) else text


def parse_list(text: str) -> list[str]:
    """``EUR, USD CNY`` as ``["EUR", "USD", "CNY"]``."""
    return [item for item in re.split(r"[\s,;]+", text.strip()) if item]


# --- options ----------------------------------------------------------------------------


def options_of(definition: dict, index: int) -> list:
    """A field's options, each as ``{value, label}`` (plain values are expanded)."""
    field = field_at(definition, index)
    language = default_language(definition)
    options = field.get("options")
    if not isinstance(options, list):
        options = []
    expanded = []
    for option in options:
        if isinstance(option, Mapping):
            expanded.append(dict(option))
        else:
            expanded.append({"value": option, "label": {language: str(option)}})
    field["options"] = expanded
    return expanded


def add_option(definition: dict, index: int, label: str) -> int:
    options = options_of(definition, index)
    taken = {str(o.get("value")) for o in options}
    number = len(options) + 1
    while f"option_{number}" in taken:
        number += 1
    options.append({"value": f"option_{number}", "label": {default_language(definition): label}})
    return len(options) - 1


def remove_option(definition: dict, index: int, option: int) -> None:
    options = options_of(definition, index)
    if not 0 <= option < len(options):
        raise EditError(f"field {index} has no option {option}")
    options.pop(option)


def move_option(definition: dict, index: int, option: int, to: int) -> int:
    options = options_of(definition, index)
    if not 0 <= option < len(options):
        raise EditError(f"field {index} has no option {option}")
    item = options.pop(option)
    to = max(0, min(to, len(options)))
    options.insert(to, item)
    return to


# --- conditions -------------------------------------------------------------------------


def condition_source(name: str, operator: str, value: str, numeric: bool = False) -> str | None:
    """The ``visible_if`` text for a picked field, operator and value; None when the
    pickers do not make one yet (no field chosen)."""
    if not name or operator not in SIMPLE_OPERATORS:
        return None
    if operator == "answered":
        return name
    if operator == "not_answered":
        return f"not {name}"
    literal = _literal(value, numeric or operator in ("gt", "ge", "lt", "le"))
    if operator == "contains":
        return f"{_literal(value, False)} in {name}"
    return f"{name} {_COMPARISONS[operator]} {literal}"


def _literal(value: str, numeric: bool) -> str:
    if numeric:
        number = parse_number(value)
        if isinstance(number, int | float):
            return str(number)
    return repr(str(value))


def simple_condition(source: Any) -> tuple[str, str, str] | None:
    """``(field, operator, value)`` when a condition is one the pickers can show, else None
    (it stays in the advanced box)."""
    if not isinstance(source, str) or not source.strip():
        return None
    try:
        tree = compile_condition(source).tree
    except ConditionError:
        return None
    op = tree.get("op")
    if op == "truthy" and "var" in tree["arg"]:
        return tree["arg"]["var"], "answered", ""
    if op == "not" and tree["arg"].get("op") == "truthy" and "var" in tree["arg"]["arg"]:
        return tree["arg"]["arg"]["var"], "not_answered", ""
    left, right = tree.get("left") or {}, tree.get("right") or {}
    if op == "in" and "value" in left and "var" in right and isinstance(left["value"], str):
        return right["var"], "contains", left["value"]
    if op in _BY_SYMBOL and "var" in left and "value" in right:
        value = right["value"]
        if isinstance(value, bool) or value is None:
            return None
        return left["var"], _BY_SYMBOL[op], str(value)
    return None
