"""The designer's page posts all its inputs at once; this applies them to a definition.

Every input is named after what it edits (``form.title.de``, ``f3.label.en``,
``f3.o1.value``…) and each field's block carries its stored name (``f3.key``), so values
posted from a page that no longer matches the draft are ignored rather than written into
the wrong field. Then the button pressed (``op``) or the drag made (``drag``) applies.
Pure: it reads a ``getlist``-able mapping (Werkzeug's MultiDict) and the field types' rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from portal.designer import editing
from portal.forms.definition import LANGUAGE, FieldTypeRules, allowed_keys


class FormData(Protocol):
    def get(self, key: str, default: Any = None) -> Any: ...
    def getlist(self, key: str) -> list: ...
    def __contains__(self, key: object) -> bool: ...


@dataclass
class Labels:
    """The texts an edit writes into a definition, in the admin's language."""

    question: str = "Question %(number)d"
    section: str = "Section %(number)d"
    option: str = "Option %(number)d"


@dataclass
class Outcome:
    """What applying a post did: the field to open, and a sentence to announce."""

    focus: int | None = None
    focus_control: str = ""
    announce: tuple[str, dict] | None = None


def apply(
    definition: dict,
    data: FormData,
    rules: Mapping[str, FieldTypeRules],
    labels: Labels | None = None,
) -> Outcome:
    """Write the posted values into ``definition`` (in place), then the pressed button."""
    labels = labels or Labels()
    language = editing.default_language(definition)
    _apply_form(definition, data)
    for index, field in enumerate(editing.fields_of(definition)):
        if isinstance(field, dict) and data.get(f"f{index}.key") == str(field.get("name")):
            _apply_field(definition, index, field, data, rules, language, labels)
    return _apply_op(definition, data, rules, labels)


# --- the form's own keys ----------------------------------------------------------------


def _posted_texts(data: FormData, prefix: str) -> dict[str, str]:
    """``{language: text}`` for every posted ``<prefix>.<language>`` input."""
    found = {}
    for key in data:
        if key.startswith(prefix + "."):
            code = key[len(prefix) + 1 :]
            if LANGUAGE.fullmatch(code):
                found[code] = data.get(key, "")
    return found


def _apply_texts(owner: dict, key: str, data: FormData, prefix: str, language: str) -> None:
    for code, text in _posted_texts(data, prefix).items():
        editing.set_text(owner, key, code, text, language)


def _apply_form(definition: dict, data: FormData) -> None:
    language = editing.default_language(definition)
    for key in ("name", "number_prefix"):
        if f"form.{key}" in data:
            editing.set_setting(definition, key, data.get(f"form.{key}", "").strip())
    for key in editing.FORM_TEXT_KEYS:
        _apply_texts(definition, key, data, f"form.{key}", language)
    if "form.default_language" in data:
        wanted = data.get("form.default_language", "").strip()
        if wanted and wanted != language:
            _change_default_language(definition, language, wanted)


def _change_default_language(definition: dict, old: str, new: str) -> None:
    """Texts written plainly belonged to the old default language: say so before changing."""

    def pin(owner: Mapping, key: str) -> None:
        if isinstance(owner.get(key), str):
            owner[key] = {old: owner[key]}

    for key in editing.FORM_TEXT_KEYS:
        pin(definition, key)
    for field in editing.fields_of(definition):
        if not isinstance(field, dict):
            continue
        for key in editing.TEXT_KEYS:
            pin(field, key)
        options = field.get("options")
        if isinstance(options, list):
            field["options"] = [
                {"value": o, "label": {old: str(o)}} if not isinstance(o, Mapping) else o
                for o in options
            ]
            for option in field["options"]:
                pin(option, "label")
    editing.set_setting(definition, "default_language", "" if new == "en" else new)


# --- one field --------------------------------------------------------------------------


def _checked(data: FormData, name: str) -> bool:
    return "1" in data.getlist(name)


def _apply_field(definition, index, field, data, rules, language, labels) -> None:  # noqa: ANN001, PLR0912
    p = f"f{index}."
    wanted_type = data.get(p + "type")
    if wanted_type and wanted_type != field.get("type") and wanted_type in rules:
        editing.set_type(
            definition, index, rules[wanted_type], labels.option, rules.get(field.get("type"))
        )
    type_rules = rules.get(field.get("type"))
    allowed = set(allowed_keys(type_rules)) if type_rules else set()
    if p + "name" in data:
        field["name"] = data.get(p + "name", "").strip()
    for key in editing.TEXT_KEYS:
        if key in allowed:
            _apply_texts(field, key, data, p + key, language)
    if "required" in allowed and p + "required" in data:
        editing.set_key(field, "required", True if _checked(data, p + "required") else None)
    if "multiple" in allowed and p + "multiple" in data:
        editing.set_key(field, "multiple", True if _checked(data, p + "multiple") else None)
    if type_rules is not None and type_rules.bounds:
        for key in ("min", "max"):
            if p + key in data:
                text = data.get(p + key, "")
                value = editing.parse_number(text) if type_rules.bounds == "number" else text
                editing.set_key(field, key, value.strip() if isinstance(value, str) else value)
    if "min_length" in allowed:
        for key in ("min_length", "max_length"):
            if p + key in data:
                editing.set_key(field, key, editing.parse_whole(data.get(p + key, "")))
    if "pattern" in allowed and p + "pattern_preset" in data:
        preset = data.get(p + "pattern_preset", "")
        if preset in editing.PATTERN_PRESETS:
            field["pattern"] = editing.PATTERN_PRESETS[preset]
        elif preset == "custom":
            editing.set_key(field, "pattern", data.get(p + "pattern", field.get("pattern", "")))
        else:
            field.pop("pattern", None)
    if "options" in allowed:
        _apply_options(definition, index, field, data, p, language)
    _apply_default(field, data, p, type_rules)
    _apply_extras(field, data, p, type_rules)
    _apply_condition(definition, index, field, data, p, rules)


def _apply_options(definition, index, field, data, p, language) -> None:  # noqa: ANN001
    if not any(key.startswith(p + "o") for key in data):
        return
    options = editing.options_of(definition, index)
    for j, option in enumerate(options):
        prefix = f"{p}o{j}"
        if prefix + ".value" in data:
            option["value"] = data.get(prefix + ".value", "")
        _apply_texts(option, "label", data, prefix + ".label", language)


def _apply_default(field: dict, data: FormData, p: str, type_rules) -> None:  # noqa: ANN001
    """The default answer, from the control drawn for the field's kind. A control drawn
    for another kind (the type was changed in the same post) is not read: the default
    was carried over by the type change."""
    if type_rules is None or p + "default_kind" not in data:
        return
    kind = type_rules.default_kind()
    if kind == "none" or data.get(p + "default_kind") != kind:
        return
    editing.set_key(field, "default", editing.parse_default(kind, data.getlist(p + "default")))


def _apply_extras(field: dict, data: FormData, p: str, type_rules) -> None:  # noqa: ANN001
    extra = type_rules.extra_keys if type_rules else frozenset()
    if "currencies" in extra and p + "currencies" in data:
        codes = editing.parse_list(data.get(p + "currencies", "").upper())
        editing.set_key(field, "currencies", codes)
    if "default_currency" in extra and p + "default_currency" in data:
        editing.set_key(field, "default_currency", data.get(p + "default_currency", "").strip())
    if "accept" in extra and p + "accept_shown" in data:
        chosen = [k for k in data.getlist(p + "accept") if k]
        before = field.get("accept") if isinstance(field.get("accept"), list) else []
        kept = [k for k in before if k in chosen]  # the admin's order, then new kinds
        editing.set_key(field, "accept", kept + [k for k in chosen if k not in kept])
    if "max_files" in extra and p + "max_files" in data:
        editing.set_key(field, "max_files", editing.parse_whole(data.get(p + "max_files", "")))
    if "max_size_mb" in extra and p + "max_size_mb" in data:
        editing.set_key(field, "max_size_mb", editing.parse_number(data.get(p + "max_size_mb", "")))


def condition_candidates(definition: dict, index: int, rules: Mapping) -> list[dict]:
    """The fields above ``index`` that hold a value: what a condition may test."""
    found = []
    for field in editing.fields_of(definition)[:index]:
        if not isinstance(field, dict) or not isinstance(field.get("name"), str):
            continue
        type_rules = rules.get(field.get("type"))
        if type_rules is None or type_rules.has_value:
            found.append(field)
    return found


def _apply_condition(definition, index, field, data, p, rules) -> None:  # noqa: ANN001
    mode = data.get(p + "cond_mode")
    if mode is None:
        return
    if mode == "none":
        field.pop("visible_if", None)
    elif mode == "advanced":
        if p + "visible_if" in data:
            text = data.get(p + "visible_if", "").replace("\r\n", "\n")
            editing.set_key(field, "visible_if", text if text.strip() else None)
        elif not field.get("visible_if"):
            field["visible_if"] = ""  # an empty box to write in; the loader says what it needs
    elif mode == "simple":
        candidates = condition_candidates(definition, index, rules)
        names = [c["name"] for c in candidates]
        chosen = data.get(p + "cond_field") or ""
        operator = data.get(p + "cond_op") or "answered"
        if chosen not in names:
            chosen, operator = (names[0], "answered") if names else ("", "")
        target = next((c for c in candidates if c["name"] == chosen), {})
        target_rules = rules.get(target.get("type"))
        numeric = bool(target_rules and target_rules.bounds == "number")
        value = data.get(p + "cond_value", "")
        if editing.simple_condition(field.get("visible_if")) == (chosen, operator, value):
            return  # the same test as written: keep the admin's own spelling of it
        source = editing.condition_source(chosen, operator, value, numeric)
        editing.set_key(field, "visible_if", source)


# --- the button pressed -----------------------------------------------------------------

_OP = re.compile(
    r"(add|remove|up|down|opt_add|opt_remove|opt_up|opt_down|no_default):([a-z0-9_]+)(?::(\d+))?"
)


def _apply_op(definition: dict, data: FormData, rules: Mapping, labels: Labels) -> Outcome:
    drag = re.fullmatch(r"(\d+):(\d+)", data.get("drag") or "")
    if drag:
        start, end = int(drag.group(1)), int(drag.group(2))
        try:
            landed = editing.move_field(definition, start, end)
        except editing.EditError:
            return Outcome()
        return _moved(definition, landed)
    found = _OP.fullmatch(data.get("op") or "")
    if not found:
        return Outcome()
    verb, arg, extra = found.group(1), found.group(2), found.group(3)
    try:
        if verb == "add":
            if arg not in rules:
                return Outcome()
            number = len(editing.fields_of(definition)) + 1
            label = labels.section if not rules[arg].has_value else labels.question
            index = editing.add_field(
                definition, rules[arg], label % {"number": number}, labels.option
            )
            return Outcome(focus=index, focus_control="name", announce=("added", {"index": index}))
        index = int(arg)
        if verb == "remove":
            removed = editing.remove_field(definition, index)
            return Outcome(focus_control="removed", announce=("removed", {"field": removed}))
        if verb in ("up", "down"):
            landed = editing.move_field(definition, index, index + (-1 if verb == "up" else 1))
            outcome = _moved(definition, landed)
            outcome.focus_control = verb
            return outcome
        if verb == "no_default":
            editing.field_at(definition, index).pop("default", None)
            return Outcome(focus=index)
        if verb == "opt_add":
            editing.add_option(
                definition,
                index,
                labels.option % {"number": len(editing.options_of(definition, index)) + 1},
            )
            return Outcome(focus=index, focus_control="options")
        option = int(extra or 0)
        if verb == "opt_remove":
            editing.remove_option(definition, index, option)
        else:
            editing.move_option(definition, index, option, option + (-1 if verb == "opt_up" else 1))
        return Outcome(focus=index, focus_control="options")
    except (editing.EditError, ValueError):
        return Outcome()


def _moved(definition: dict, landed: int) -> Outcome:
    return Outcome(
        focus=landed,
        announce=("moved", {"index": landed, "count": len(editing.fields_of(definition))}),
    )
