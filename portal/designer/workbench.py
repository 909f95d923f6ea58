"""What the designer's pages show about a draft: its problems, placed beside the inputs
they concern, and the preview (the real fill form, drawn from the draft's definition)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from flask_babel import gettext

from portal.designer import editing
from portal.designer.posted import condition_candidates
from portal.forms.builder import build_form_class
from portal.forms.definition import (
    DefinitionError,
    FieldTypeRules,
    Problem,
    allowed_keys,
)
from portal.forms.entry import FieldView, entry_context, field_view
from portal.forms.service import Definition, check_definition, field_rules, field_types

GENERAL = "general"
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_LOCAL_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?")


@dataclass
class Checked:
    """A draft's definition after the loader has read it."""

    definition: Definition | None
    problems: list[Problem] = field(default_factory=list)
    by_slot: dict[str, list[str]] = field(default_factory=dict)
    messages: list[tuple[str, str]] = field(default_factory=list)
    """Every problem as (path, message in the reader's language), in document order."""

    def at(self, slot: str) -> list[str]:
        return self.by_slot.get(slot, [])


def check(data: dict, extra: list[Problem] | None = None) -> Checked:
    """Load the draft; never raises for a mistake in it (each problem finds its slot)."""
    problems = list(extra or [])
    definition = None
    try:
        definition = check_definition(data)
    except DefinitionError as error:
        problems += error.problems
    if problems:
        definition = None
    slots = slot_paths(data)
    by_slot: dict[str, list[str]] = {}
    for problem in problems:
        slot = slot_for(problem.path, slots)
        message = problem.message(gettext)
        if slot == GENERAL and problem.path:
            message = f"{problem.path}: {message}"
        by_slot.setdefault(slot, []).append(message)
    messages = [(problem.path, problem.message(gettext)) for problem in problems]
    return Checked(definition, problems, by_slot, messages)


def slot_paths(data: Mapping) -> list[str]:
    """Every place of the editor that can show a message, as loader paths."""
    paths = [GENERAL, "name", "title", "description", "default_language", "number_prefix", "fields"]
    rules = field_rules()
    for i, item in enumerate(editing.fields_of(dict(data)) if isinstance(data, Mapping) else []):
        base = f"fields[{i}]"
        paths.append(base)
        paths += [f"{base}.{key}" for key in ("name", "type", "label", "help", "visible_if")]
        if not isinstance(item, Mapping):
            continue
        type_rules = rules.get(item.get("type"))
        if type_rules is not None:
            shown = set(allowed_keys(type_rules)) & set(_SHOWN_KEYS)
            paths += [f"{base}.{key}" for key in _SHOWN_KEYS if key in shown]
            options = item.get("options")
            if "options" in shown and isinstance(options, list):
                paths += [f"{base}.options[{j}]" for j in range(len(options))]
    return paths


_SHOWN_KEYS = (
    "placeholder", "required", "default", "options", "min", "max", "min_length", "max_length",
    "pattern", "multiple", "currencies", "default_currency", "accept", "max_files", "max_size_mb",
)  # fmt: skip
"""The keys beyond the common ones that the editor has an input (and a message slot) for."""


def slot_for(path: str, slots: list[str]) -> str:
    """The nearest slot for a problem's path: ``fields[3].label.de`` -> ``fields[3].label``."""
    known = set(slots)
    while path:
        if path in known:
            return path
        cut = max(path.rfind("."), path.rfind("["))
        if cut <= 0:
            break
        path = path[:cut]
    return path if path in known else GENERAL


def slot_id(path: str) -> str:
    """An HTML id for a slot, made from the loader's path (never from an admin's text)."""
    return "p-" + re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")


# --- the preview ------------------------------------------------------------------------


@dataclass
class Preview:
    """What forms/_widgets.html needs to draw a form: an entry with its field views."""

    form_def: Any
    views: list[FieldView]
    form: Any
    conditions: dict[str, str]
    locale: str = ""


def preview(definition: Definition, locale: str | None = None) -> Preview:
    """The fill form of a checked definition, every field shown (a condition is noted), in
    the reader's language or in ``locale``."""
    form_def = definition.form
    types = field_types()
    ctx = entry_context(form_def)
    if locale:
        ctx = dataclasses.replace(ctx, locale=locale)
    wtform = build_form_class(form_def, types, ctx)(formdata=None, meta={"csrf": False})
    views = [field_view(f, form_def, types, wtform, ctx.locale) for f in form_def.fields]
    conditions = {f.name: f.visible_if.source for f in form_def.fields if f.visible_if}
    return Preview(form_def, views, SimpleNamespace(name=form_def.name), conditions, ctx.locale)


# --- the editor's view of one field -----------------------------------------------------


def structure(data: Mapping) -> tuple:
    """What the editor's controls are drawn from beyond plain texts: when it changes, the
    whole editor is drawn again (a new field, a type, a name other pickers list…)."""
    rows = []
    for item in editing.fields_of(dict(data)):
        if not isinstance(item, Mapping):
            rows.append(None)
            continue
        options = item.get("options") if isinstance(item.get("options"), list) else []
        values = tuple(str(o.get("value")) if isinstance(o, Mapping) else str(o) for o in options)
        condition = item.get("visible_if")
        simple = editing.simple_condition(condition)
        rows.append(
            (
                item.get("name"),
                item.get("type"),
                values,
                "none" if condition is None else (simple[:2] if simple else "advanced"),
                preset_of(item.get("pattern")),
            )
        )
    return (data.get("default_language"), data.get("name"), tuple(rows))


def preset_of(pattern: Any) -> str:
    if pattern is None:
        return ""
    for name, value in editing.PATTERN_PRESETS.items():
        if pattern == value:
            return name
    return "custom"


@dataclass
class FieldEditor:
    """One field as the editor draws it: its rules, its texts per language, its condition."""

    index: int
    data: dict
    rules: FieldTypeRules | None
    candidates: list[dict]
    condition_mode: str
    condition: tuple[str, str, str] | None

    @property
    def has_value(self) -> bool:
        return self.rules is None or self.rules.has_value

    def allows(self, key: str) -> bool:
        from portal.forms.definition import allowed_keys

        return self.rules is not None and key in allowed_keys(self.rules)

    @property
    def default_kind(self) -> str:
        """What the default answer is (``FieldTypeRules.default_kind``): it picks the control."""
        return self.rules.default_kind() if self.rules is not None else "none"

    @property
    def default_text(self) -> str:
        """The default answer as its text box shows it ("" when there is none)."""
        return editing.default_as_text(self.data.get("default"))

    @property
    def default_input_type(self) -> str:
        """``date`` or ``datetime-local`` while the default fits such an input (or is empty);
        ``text`` for one it cannot show (a moment with a zone, a mistyped date), so that
        what is there is seen, kept and can be corrected."""
        wanted = {"date": ("date", _DATE), "datetime": ("datetime-local", _LOCAL_MOMENT)}
        if self.default_kind not in wanted:
            return "text"
        input_type, fits = wanted[self.default_kind]
        text = self.default_text
        return input_type if not text or fits.fullmatch(text) else "text"

    def default_choices(self, language: str) -> list[tuple[str, str, bool, bool]]:
        """For a default picked among the options: each option as (value, label, chosen,
        False), then any chosen value that is no longer an option (renamed or removed) as
        (value, value, True, True), so it is shown with its message instead of vanishing."""
        value = self.data.get("default")
        chosen = value if isinstance(value, list) else ([] if value is None else [value])
        chosen = [str(item) for item in chosen]
        found = []
        options = self.data.get("options") if isinstance(self.data.get("options"), list) else []
        for option in options:
            if isinstance(option, Mapping):
                stored = str(option.get("value", ""))
                texts = editing.texts_of(option.get("label"), language)
                label = texts.get(language) or next(iter(texts.values()), "") or stored
            else:
                stored = label = str(option)
            found.append((stored, label, stored in chosen, False))
        known = {choice[0] for choice in found}
        found += [(item, item, True, True) for item in dict.fromkeys(chosen) if item not in known]
        return found

    def options_of_candidate(self, name: str) -> list:
        for item in self.candidates:
            if item.get("name") == name and isinstance(item.get("options"), list):
                return item["options"]
        return []


def field_editors(data: dict) -> list[FieldEditor]:
    rules = field_rules()
    editors = []
    for index, item in enumerate(editing.fields_of(data)):
        item = item if isinstance(item, dict) else {}
        source = item.get("visible_if")
        simple = editing.simple_condition(source)
        mode = "none" if source is None else ("simple" if simple else "advanced")
        editors.append(
            FieldEditor(
                index=index,
                data=item,
                rules=rules.get(item.get("type")),
                candidates=condition_candidates(data, index, rules),
                condition_mode=mode,
                condition=simple,
            )
        )
    return editors


def languages_of(data: Mapping, shipped: list[str]) -> list[str]:
    """The languages the editor offers: the default one first, then the shipped ones, then
    any other valid code the definition already uses."""
    from portal.forms.definition import LANGUAGE

    found = dict.fromkeys([editing.default_language(data), *shipped])

    def collect(value: Any) -> None:
        if isinstance(value, Mapping):
            found.update(
                dict.fromkeys(k for k in value if isinstance(k, str) and LANGUAGE.fullmatch(k))
            )

    for key in editing.FORM_TEXT_KEYS:
        collect(data.get(key))
    for item in editing.fields_of(dict(data)):
        if isinstance(item, Mapping):
            for key in editing.TEXT_KEYS:
                collect(item.get(key))
            for option in item.get("options") or []:
                if isinstance(option, Mapping):
                    collect(option.get("label"))
    return list(found)
