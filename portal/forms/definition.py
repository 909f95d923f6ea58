"""Load and validate a form definition (a dict from YAML or JSON) into frozen dataclasses.

An admin writes a form as YAML or JSON; :func:`load_definition` turns it into a
:class:`FormDef` or raises :class:`DefinitionError` listing *every* problem at once, each
with its path (``fields[3].options[1].value``) and a translatable message, in the order
the admin wrote them.  Field types come from plug-ins: each carries a
:class:`FieldTypeRules` saying which keys it accepts, so this module knows no field type
by heart (apart from a fallback for the value shape of the built-in ones).

Pure Python on purpose: no Flask, WTForms or SQLAlchemy, so it runs in tests, in a CLI
and in a worker alike.  ``docs/forms.md`` documents the format for admins.
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import functools
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import yaml
from babel.numbers import list_currencies

from portal.forms.conditions import Condition, ConditionError, compile_condition
from portal.forms.patterns import check_pattern, compile_pattern


def N_(msgid: str) -> str:
    """Mark ``msgid`` for pybabel extraction without translating it (translated on display)."""
    return msgid


# --- public data types -----------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One mistake in a definition: where it is, and what is wrong (translatable)."""

    path: str
    msgid: str
    params: dict = field(default_factory=dict)

    def message(self, gettext: Callable[[str], str] = lambda s: s) -> str:
        """The message, translated with ``gettext`` and filled in."""
        return gettext(self.msgid) % self.params

    def __str__(self) -> str:
        return f"{self.path}: {self.message()}" if self.path else self.message()


class DefinitionError(ValueError):
    """A definition that cannot be loaded; ``problems`` lists every mistake, in order."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        count = len(self.problems)
        heading = "1 problem" if count == 1 else f"{count} problems"
        lines = "\n".join(f"  {problem}" for problem in self.problems)
        super().__init__(f"{heading} in the form definition:\n{lines}")


@dataclass(frozen=True)
class FieldTypeRules:
    """What a field type accepts in a definition (each field type plug-in carries one)."""

    name: str
    has_value: bool = True  # False for `section` headings
    options: bool = False  # needs `options` (select, multiselect, radio)
    bounds: str | None = None  # "number", "date" or "datetime": what min/max are
    text: bool = False  # min_length / max_length / pattern allowed
    multiple: bool = False  # `multiple: true` allowed (file)
    extra_keys: frozenset[str] = frozenset()  # further keys the type accepts
    value_kind: str | None = None
    """What ``default`` must be: "text", "number", "date", "datetime", "bool",
    "option" (one option value), "options" (a list of them), "any", or "none" (no default).
    None works it out from the flags above (and knows checkbox, multiselect and file)."""

    def default_kind(self) -> str:
        """The value kind used to check ``default`` (see ``value_kind``)."""
        if self.value_kind:
            return self.value_kind
        if not self.has_value:
            return "none"
        if self.name in _BUILTIN_VALUE_KINDS:
            return _BUILTIN_VALUE_KINDS[self.name]
        if self.options:
            return "option"
        if self.bounds:
            return self.bounds
        return "text" if self.text else "any"


_BUILTIN_VALUE_KINDS = {"checkbox": "bool", "multiselect": "options", "file": "none"}


@dataclass(frozen=True)
class Option:
    """One choice of a select, radio or multiselect field."""

    value: str
    label: Mapping[str, str]


@dataclass(frozen=True)
class FieldDef:
    """One field (or section heading) of a form, as validated."""

    name: str
    type: str
    label: Mapping[str, str] = field(default_factory=dict)
    help: Mapping[str, str] = field(default_factory=dict)
    placeholder: Mapping[str, str] = field(default_factory=dict)
    required: bool = False
    default: Any = None
    options: tuple[Option, ...] = ()
    min: Any = None
    max: Any = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    visible_if: Condition | None = None
    multiple: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)
    has_value: bool = True

    def option_values(self) -> tuple[str, ...]:
        return tuple(option.value for option in self.options)


@dataclass(frozen=True)
class FormDef:
    """A whole form: its name, texts, numbering prefix and fields in the author's order."""

    name: str
    title: Mapping[str, str]
    description: Mapping[str, str] = field(default_factory=dict)
    default_language: str = "en"
    number_prefix: str = "REQ"
    fields: tuple[FieldDef, ...] = ()
    _by_name: Mapping[str, FieldDef] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "_by_name", {f.name: f for f in self.fields})

    def field(self, name: str) -> FieldDef | None:
        """The field called ``name``, or None."""
        return self._by_name.get(name)

    @property
    def languages(self) -> tuple[str, ...]:
        """Every language used in any text, the default language first."""
        seen = {self.default_language: None}
        for texts in self._texts():
            seen.update(dict.fromkeys(texts))
        return tuple(seen)

    def missing_translations(self, languages: tuple[str, ...] = ()) -> dict[str, list[str]]:
        """For each language (those used in the form, plus ``languages``), the paths of the
        texts that lack it: what an admin still has to translate. Readers of a missing
        language see the default language instead."""
        wanted = tuple(dict.fromkeys((*self.languages, *languages)))
        missing: dict[str, list[str]] = {}
        for path, texts in self._texts_with_paths():
            if not texts:
                continue
            for language in wanted:
                if language not in texts:
                    missing.setdefault(language, []).append(path)
        return missing

    def _texts_with_paths(self) -> Iterator[tuple[str, Mapping[str, str]]]:
        yield "title", self.title
        yield "description", self.description
        for index, f in enumerate(self.fields):
            for key in ("label", "help", "placeholder"):
                yield f"fields[{index}].{key}", getattr(f, key)
            for number, option in enumerate(f.options):
                yield f"fields[{index}].options[{number}].label", option.label

    def _texts(self) -> Iterator[Mapping[str, str]]:
        yield self.title
        yield self.description
        for f in self.fields:
            yield from (f.label, f.help, f.placeholder)
            yield from (option.label for option in f.options)

    def to_dict(self) -> dict:
        """The definition as plain data, in canonical form, leaving out default values.

        ``load_definition(form.to_dict(), field_types) == form`` holds.
        """
        data: dict[str, Any] = {"name": self.name, "title": self._text(self.title)}
        if self.description:
            data["description"] = self._text(self.description)
        if self.default_language != "en":
            data["default_language"] = self.default_language
        if self.number_prefix != "REQ":
            data["number_prefix"] = self.number_prefix
        data["fields"] = [self._field_dict(f) for f in self.fields]
        return data

    def _text(self, texts: Mapping[str, str]) -> str | dict:
        if set(texts) == {self.default_language}:
            return texts[self.default_language]
        return dict(texts)

    def _field_dict(self, f: FieldDef) -> dict:
        data: dict[str, Any] = {"name": f.name, "type": f.type}
        for key in ("label", "help", "placeholder"):
            if getattr(f, key):
                data[key] = self._text(getattr(f, key))
        if f.required:
            data["required"] = True
        if f.default is not None:
            data["default"] = _plain(f.default)
        if f.visible_if is not None:
            data["visible_if"] = f.visible_if.source
        if f.options:
            data["options"] = [self._option_dict(option) for option in f.options]
        for key in ("min", "max", "min_length", "max_length", "pattern"):
            if getattr(f, key) is not None:
                data[key] = getattr(f, key)
        if f.multiple:
            data["multiple"] = True
        data.update({key: _plain(value) for key, value in f.extra.items()})
        return data

    def _option_dict(self, option: Option) -> str | dict:
        if dict(option.label) == {self.default_language: option.value}:
            return option.value
        return {"value": option.value, "label": self._text(option.label)}


def _plain(value):
    """A copy of ``value`` made of plain lists and dicts (YAML and JSON friendly)."""
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    return value


# --- localized text --------------------------------------------------------------------


def localize(texts: Mapping[str, str], locale: str, default_language: str) -> str:
    """Pick the text for ``locale`` from a ``{language: text}`` mapping.

    Tries the exact locale, then its shorter forms (``zh_Hans_CN`` -> ``zh_Hans`` ->
    ``zh``), then another variant of the same language (``zh_Hans`` for ``zh``), then the
    form's default language, then any text; "" when there is none.  Locales written with
    hyphens (``zh-Hans``) and in any case work too.
    """
    if not texts:
        return ""
    by_code = {str(code).lower(): text for code, text in texts.items()}
    parts = str(locale or "").replace("-", "_").lower().split("_")
    for end in range(len(parts), 0, -1):
        text = by_code.get("_".join(parts[:end]))
        if text:
            return text
    for code, text in by_code.items():
        if parts[0] and code.split("_")[0] == parts[0] and text:
            return text
    return by_code.get(str(default_language).lower()) or next(iter(texts.values()), "")


# --- parsing text ----------------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.safe_load`` that refuses a key written twice instead of keeping the last."""

    def construct_mapping(self, node, deep=False):
        seen: set = set()
        for key_node, _value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key; the base class reports it
                duplicate = False
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"found the key {key!r} twice",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep=deep)


def parse_definition_text(text: str, filename: str = "") -> Any:
    """Parse the text of a definition file: JSON for ``*.json`` (or text starting ``{``),
    YAML otherwise.  A syntax error raises :class:`DefinitionError` whose one problem
    has the path ``line N``."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DefinitionError(
                [
                    Problem(
                        "",
                        N_("the file is not UTF-8 text (byte %(position)s)"),
                        {"position": exc.start + 1},
                    )
                ]
            ) from None
    text = text.removeprefix("\ufeff")
    if filename.lower().endswith(".json") or text.lstrip().startswith("{"):
        return _parse_json(text)
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: safe
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        detail = getattr(exc, "problem", None) or str(exc)
        if getattr(exc, "context", None):
            detail = f"{detail} ({exc.context})"
        path = f"line {mark.line + 1}" if mark is not None else ""
        params = {"error": detail, "column": mark.column + 1 if mark is not None else 1}
        raise DefinitionError(
            [Problem(path, N_("this is not valid YAML: %(error)s (column %(column)s)"), params)]
        ) from None


def _parse_json(text: str) -> Any:
    def unique_keys(pairs):
        data = {}
        for key, value in pairs:
            if key in data:
                raise DefinitionError(
                    [Problem("", N_("the key '%(key)s' appears twice in one object"), {"key": key})]
                )
            data[key] = value
        return data

    try:
        return json.loads(text, object_pairs_hook=unique_keys)
    except json.JSONDecodeError as exc:
        raise DefinitionError(
            [
                Problem(
                    f"line {exc.lineno}",
                    N_("this is not valid JSON: %(error)s (column %(column)s)"),
                    {"error": exc.msg, "column": exc.colno},
                )
            ]
        ) from None


# --- loading ---------------------------------------------------------------------------

SLUG = re.compile(r"[a-z0-9][a-z0-9-]{1,62}")
FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
LANGUAGE = re.compile(r"[a-z]{2,3}(_[A-Za-z]{2,4})?")
NUMBER_PREFIX = re.compile(r"[A-Z]{1,6}")
CURRENCY = re.compile(r"[A-Z]{3}")
FILE_KINDS = ("image", "pdf", "document", "spreadsheet", "text", "archive")
MAX_FIELDS = 300
MAX_OPTIONS = 1000

TOP_KEYS = ("name", "title", "description", "default_language", "number_prefix", "fields", "chain")
# `chain` is the approval chain: portal.approvals.definition checks it.
COMMON_KEYS = ("name", "type", "label", "help", "visible_if")
VALUE_KEYS = ("placeholder", "required", "default")
OPTION_KEYS = ("options",)
BOUND_KEYS = ("min", "max")
TEXT_KEYS = ("min_length", "max_length", "pattern")
MULTIPLE_KEYS = ("multiple",)
FIELD_KEYS = COMMON_KEYS + VALUE_KEYS + OPTION_KEYS + BOUND_KEYS + TEXT_KEYS + MULTIPLE_KEYS


def allowed_keys(rules: FieldTypeRules) -> tuple[str, ...]:
    """The keys a field of this type may have, in canonical order."""
    keys = list(COMMON_KEYS)
    if rules.has_value:
        keys += VALUE_KEYS
    if rules.options:
        keys += OPTION_KEYS
    if rules.bounds:
        keys += BOUND_KEYS
    if rules.text:
        keys += TEXT_KEYS
    if rules.multiple:
        keys += MULTIPLE_KEYS
    return tuple(keys) + tuple(sorted(rules.extra_keys - set(keys)))


@dataclass(frozen=True)
class _At:
    """Where a problem is: its path for people, its position for document order."""

    path: str = ""
    order: tuple = ()

    def key(self, name: Any, index: int) -> _At:
        path = f"{self.path}.{name}" if self.path else str(name)
        return _At(path, self.order + (index,))

    def item(self, index: int) -> _At:
        return _At(f"{self.path}[{index}]", self.order + (index,))

    def first(self) -> _At:
        """A place before every key of this mapping (for a key that is missing)."""
        return _At(self.path, self.order + (-1,))


def load_definition(data: Any, field_types: Mapping[str, FieldTypeRules]) -> FormDef:
    """Validate ``data`` and build a :class:`FormDef`.

    Raises :class:`DefinitionError` listing every problem found, in document order.
    """
    return _Loader(field_types).load(data)


def localized_text(value: Any, at: Any, key: str, default_language: str, problem) -> dict:  # noqa: ANN001
    """Check a text an admin gives in one or several languages, for any definition loader.

    A plain string is the default language's text; a mapping gives it per language code.
    ``at`` is the loader's position (with ``key(name, index)``); each mistake is reported
    through ``problem(at, msgid, **params)``. Returns the texts that are right.
    """
    if isinstance(value, str):
        if not value.strip():
            problem(at, N_("%(key)s is empty"), key=key)
            return {}
        return {default_language: value}
    if not isinstance(value, Mapping) or not value:
        problem(
            at,
            N_(
                "%(key)s must be text, or a mapping of language codes to "
                "text like {en: Reason, zh_Hans: 原因}"
            ),
            key=key,
        )
        return {}
    texts = {}
    for i, (code, text) in enumerate(value.items()):
        if not (isinstance(code, str) and LANGUAGE.fullmatch(code)):
            problem(
                at.key(code, i),
                N_("'%(code)s' is not a language code like en, de, zh_Hans or pt_BR"),
                code=code,
            )
        elif not isinstance(text, str) or not text.strip():
            problem(at.key(code, i), N_("the %(code)s text must not be empty"), code=code)
        else:
            texts[code] = text
    return texts


def visible_field_names(form: FormDef, answers: Mapping[str, Any]) -> set[str]:
    """The names of the fields and sections shown for ``answers``.

    Fields are walked in order: a field whose ``visible_if`` is false is hidden, and its
    answer counts as empty for the conditions after it; a hidden section heading hides
    every field up to the next section.
    """
    effective = dict(answers)
    visible: set[str] = set()
    section_shown = True
    for f in form.fields:
        shown = f.visible_if is None or f.visible_if.evaluate(effective)
        if not f.has_value:
            section_shown = shown
        else:
            shown = shown and section_shown
        if shown:
            visible.add(f.name)
        else:
            effective.pop(f.name, None)
    return visible


class ProblemCollector:
    """What every definition loader shares: problems collected with their place, raised all
    at once in document order, and the message for a key nobody knows."""

    def __init__(self) -> None:
        self.problems: list[tuple[tuple, Problem]] = []

    def problem(self, at: Any, msgid: str, **params) -> None:
        self.problems.append((at.order, Problem(at.path, msgid, params)))

    def fail(self) -> None:
        """Raise the collected problems, if any, sorted into document order."""
        if self.problems:
            ordered = sorted(self.problems, key=lambda item: item[0])
            raise DefinitionError([problem for _order, problem in ordered])

    def unknown_key(self, at: Any, key: Any, allowed: tuple[str, ...]) -> None:
        close = difflib.get_close_matches(str(key), allowed, n=1)
        if close:
            self.problem(
                at,
                N_("unknown key '%(key)s'; did you mean '%(suggestion)s'?"),
                key=key,
                suggestion=close[0],
            )
        else:
            self.problem(
                at,
                N_("unknown key '%(key)s'; allowed keys are %(allowed)s"),
                key=key,
                allowed=", ".join(allowed),
            )


class _Loader(ProblemCollector):
    """One validation run: walks the data, collects problems, builds the dataclasses."""

    def __init__(self, field_types: Mapping[str, FieldTypeRules]):
        super().__init__()
        self.field_types = field_types
        self.default_language = "en"

    def load(self, data: Any) -> FormDef:
        if not isinstance(data, Mapping):
            self.problem(
                _At(),
                N_("a form definition must be a mapping of keys such as name, title and fields"),
            )
            self.fail()
        root, position = _At(), _positions(data)
        self.default_language = self.language_setting(data, root, position)
        for key in data:
            if key not in TOP_KEYS:
                self.unknown_key(root.key(key, position[key]), key, TOP_KEYS)
        name = self.slug(data, root, position)
        title = self.required_text(data, "title", root, position)
        description = self.text(data.get("description"), root, "description", position)
        number_prefix = self.number_prefix(data, root, position)
        fields = self.fields(data, root, position)
        self.fail()
        return FormDef(
            name=name,
            title=title,
            description=description,
            default_language=self.default_language,
            number_prefix=number_prefix,
            fields=fields,
        )

    # --- messages shared by many keys

    def unknown_key(self, at: _At, key: Any, allowed: tuple[str, ...], kind: str = "") -> None:
        if kind and (key in FIELD_KEYS or self.is_extra_key(key)):
            self.problem(at, N_("%(key)s is not allowed for a %(type)s field"), key=key, type=kind)
            return
        super().unknown_key(at, key, allowed)

    def is_extra_key(self, key: Any) -> bool:
        return any(key in rules.extra_keys for rules in self.field_types.values())

    # --- top-level keys

    def language_setting(self, data: Mapping, root: _At, position: dict) -> str:
        value = data.get("default_language", "en")
        if isinstance(value, str) and LANGUAGE.fullmatch(value):
            return value
        self.problem(
            root.key("default_language", position.get("default_language", 0)),
            N_("'%(code)s' is not a language code like en, de, zh_Hans or pt_BR"),
            code=value,
        )
        return "en"

    def slug(self, data: Mapping, root: _At, position: dict) -> str:
        if "name" not in data:
            self.problem(
                root.first(),
                N_("name is required: a short name for the form's address, like change-request"),
            )
            return ""
        value = data["name"]
        if not (isinstance(value, str) and SLUG.fullmatch(value)):
            self.problem(
                root.key("name", position["name"]),
                N_(
                    "'%(value)s' is not a valid form name: use 2 to 63 lower-case "
                    "letters, digits and hyphens, like change-request"
                ),
                value=value,
            )
        return value if isinstance(value, str) else ""

    def number_prefix(self, data: Mapping, root: _At, position: dict) -> str:
        value = data.get("number_prefix", "REQ")
        if isinstance(value, str) and NUMBER_PREFIX.fullmatch(value):
            return value
        self.problem(
            root.key("number_prefix", position["number_prefix"]),
            N_("'%(value)s' is not a valid number prefix: use 1 to 6 capital letters, like CR"),
            value=value,
        )
        return "REQ"

    def fields(self, data: Mapping, root: _At, position: dict) -> tuple[FieldDef, ...]:
        if "fields" not in data:
            self.problem(root.first(), N_("fields is required: a list of the form's fields"))
            return ()
        at = root.key("fields", position["fields"])
        items = data["fields"]
        if not isinstance(items, list) or not items:
            self.problem(at, N_("fields must be a list with at least one field"))
            return ()
        if len(items) > MAX_FIELDS:
            self.problem(
                at,
                N_("a form can have at most %(limit)d fields; this one has %(count)d"),
                limit=MAX_FIELDS,
                count=len(items),
            )
            return ()
        index = _FieldIndex(items, self.field_types)
        built = [self.field(i, item, at.item(i), index) for i, item in enumerate(items)]
        return tuple(f for f in built if f is not None)

    # --- localized text

    def required_text(self, data: Mapping, key: str, at: _At, position: dict) -> dict:
        if key not in data or data[key] is None:
            self.problem(at.first(), N_("%(key)s is required"), key=key)
            return {}
        return self.text(data[key], at, key, position)

    def text(self, value: Any, parent: _At, key: str, position: dict) -> dict:
        """A localized text: a plain string (default language) or {language: text}."""
        if value is None:
            return {}
        at = parent.key(key, position.get(key, 0))
        return localized_text(value, at, key, self.default_language, self.problem)

    # --- one field

    def field(self, i: int, data: Any, at: _At, index: _FieldIndex) -> FieldDef | None:
        if not isinstance(data, Mapping):
            self.problem(at, N_("each field must be a mapping with at least name, type and label"))
            return None
        position = _positions(data)
        name = self.field_name(data, at, position, index, i)
        rules = self.field_rules(data, at, position)
        kind = rules.name if rules else ""
        allowed = allowed_keys(rules) if rules else FIELD_KEYS
        for key in data:
            if key in allowed or (rules is None and self.is_extra_key(key)):
                continue
            self.unknown_key(at.key(key, position[key]), key, allowed, kind)
        get = _Getter(data, at, position, allowed)
        label = self.required_text(data, "label", at, position)
        f = FieldDef(
            name=name,
            type=data.get("type") if isinstance(data.get("type"), str) else "",
            label=label,
            help=self.text(get("help"), at, "help", position),
            placeholder=self.text(get("placeholder"), at, "placeholder", position),
            required=self.boolean(get, "required"),
            options=self.options(get, rules),
            min=self.bound(get, "min", rules),
            max=self.bound(get, "max", rules),
            min_length=self.length(get, "min_length"),
            max_length=self.length(get, "max_length"),
            pattern=self.pattern(get),
            visible_if=self.condition(get, name, i, index),
            multiple=self.boolean(get, "multiple"),
            extra=self.extras(get, rules),
            has_value=rules.has_value if rules else True,
        )
        if rules is not None:
            self.check_ranges(f, get, rules)
        return dataclasses.replace(f, default=self.default(get, f, rules))

    def field_name(self, data, at, position, index, i) -> str:
        if "name" not in data:
            self.problem(at.first(), N_("name is required"))
            return ""
        value = data["name"]
        name_at = at.key("name", position["name"])
        if not (isinstance(value, str) and FIELD_NAME.fullmatch(value)):
            self.problem(
                name_at,
                N_(
                    "'%(value)s' is not a valid field name: start with a "
                    "lower-case letter, then use lower-case letters, digits "
                    "and _ (at most 63)"
                ),
                value=value,
            )
            return value if isinstance(value, str) else ""
        first = index.first_index(value)
        if first != i:
            self.problem(
                name_at,
                N_("the name '%(name)s' is already used by fields[%(index)d]"),
                name=value,
                index=first,
            )
        return value

    def field_rules(self, data, at, position) -> FieldTypeRules | None:
        if "type" not in data:
            self.problem(
                at.first(),
                N_("type is required; known types are %(known)s"),
                known=", ".join(sorted(self.field_types)),
            )
            return None
        value = data["type"]
        try:
            rules = self.field_types.get(value)
        except TypeError:  # an unhashable value such as a list
            rules = None
        if rules is None:
            self.problem(
                at.key("type", position["type"]),
                N_("unknown field type '%(type)s'; known types are %(known)s"),
                type=value,
                known=", ".join(sorted(self.field_types)),
            )
        return rules

    def boolean(self, get: _Getter, key: str) -> bool:
        value = get(key)
        if value is None:
            return False
        if not isinstance(value, bool):
            self.problem(get.at(key), N_("%(key)s must be true or false"), key=key)
            return False
        return value

    def options(self, get: _Getter, rules: FieldTypeRules | None) -> tuple[Option, ...]:
        if rules is None or not rules.options:
            return ()
        value = get("options")
        at = get.at("options")
        if value is None:
            self.problem(
                get.field_at.first(),
                N_("a %(type)s field needs options: a list of choices"),
                type=rules.name,
            )
            return ()
        if not isinstance(value, list) or not value:
            self.problem(at, N_("options must be a list with at least one choice"))
            return ()
        if len(value) > MAX_OPTIONS:
            self.problem(
                at,
                N_("a field can have at most %(limit)d options; this one has %(count)d"),
                limit=MAX_OPTIONS,
                count=len(value),
            )
            return ()
        options, seen = [], {}
        for j, item in enumerate(value):
            option = self.option(item, at.item(j), seen, j)
            if option:
                options.append(option)
        return tuple(options)

    def option(self, item: Any, at: _At, seen: dict, j: int) -> Option | None:
        value_at = at
        if isinstance(item, Mapping):
            position = _positions(item)
            for key in item:
                if key not in ("value", "label"):
                    self.unknown_key(at.key(key, position[key]), key, ("value", "label"))
            value = item.get("value")
            if "value" in item:
                value_at = at.key("value", position["value"])
            label = self.text(item.get("label"), at, "label", position)
        else:
            value, label = item, None
        if isinstance(value, bool | int | float):
            self.problem(
                value_at,
                N_("option values must be text; put %(value)s in quotes: '%(value)s'"),
                value=_yaml_text(value),
            )
            return None
        if not isinstance(value, str) or not value.strip():
            self.problem(value_at, N_("an option needs a value: non-empty text"))
            return None
        if value in seen:
            self.problem(
                value_at,
                N_("the option value '%(value)s' is already used by options[%(index)d]"),
                value=value,
                index=seen[value],
            )
            return None
        seen[value] = j
        return Option(value=value, label=label or {self.default_language: value})

    def bound(self, get: _Getter, key: str, rules: FieldTypeRules | None):
        value = get(key)
        if value is None or rules is None or not rules.bounds:
            return None
        parsed = _parse_value(rules.bounds, value)
        if parsed is None:
            self.problem(get.at(key), _KIND_MESSAGES[rules.bounds], key=key)
            return None
        return _normalize(rules.bounds, value)

    def length(self, get: _Getter, key: str) -> int | None:
        value = get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.problem(get.at(key), N_("%(key)s must be a whole number, 0 or more"), key=key)
            return None
        return value

    def pattern(self, get: _Getter) -> str | None:
        value = get("pattern")
        if value is None:
            return None
        refused = check_pattern(value)
        if refused:
            msgid, params = refused
            self.problem(get.at("pattern"), msgid, **params)
            return None
        return value

    def condition(self, get: _Getter, name: str, i: int, index: _FieldIndex):
        source = get("visible_if")
        if source is None:
            return None
        at = get.at("visible_if")
        try:
            condition = compile_condition(source)
        except ConditionError as exc:
            self.problem(at, exc.msgid, **exc.params)
            return None
        for used in sorted(condition.names):
            reason = index.why_not_usable(used, name, i)
            if reason:
                self.problem(at, reason, name=used)
        return condition

    def extras(self, get: _Getter, rules: FieldTypeRules | None) -> dict:
        if rules is None:
            return {}
        extra = {}
        for key in sorted(rules.extra_keys, key=get.order):
            value = get(key)
            if value is None:
                continue
            check = self.EXTRA_CHECKS.get(key)
            if check is None or check(self, get, value):
                extra[key] = value
        return extra

    def extra_currencies(self, get: _Getter, value) -> bool:
        at = get.at("currencies")
        if not isinstance(value, list) or not value:
            self.problem(at, N_("currencies must be a list of currency codes like [EUR, USD]"))
            return False
        ok, seen = True, set()
        for j, code in enumerate(value):
            if not _is_currency(code):
                self.problem(
                    at.item(j),
                    N_("'%(code)s' is not an ISO 4217 currency code like EUR, USD or CNY"),
                    code=code,
                )
                ok = False
            elif code in seen:
                self.problem(at.item(j), N_("the currency %(code)s is listed twice"), code=code)
                ok = False
            seen.add(code if isinstance(code, str) else None)
        return ok

    def extra_default_currency(self, get: _Getter, value) -> bool:
        listed = get("currencies")
        if isinstance(listed, list) and listed:
            if value not in listed:
                self.problem(
                    get.at("default_currency"),
                    N_("the default currency %(code)s is not in currencies"),
                    code=value,
                )
                return False
            return True
        if not _is_currency(value):
            self.problem(
                get.at("default_currency"),
                N_("'%(code)s' is not an ISO 4217 currency code like EUR, USD or CNY"),
                code=value,
            )
            return False
        return True

    def extra_accept(self, get: _Getter, value) -> bool:
        at = get.at("accept")
        if not isinstance(value, list) or not value:
            self.problem(
                at,
                N_("accept must be a list of file kinds from %(kinds)s"),
                kinds=", ".join(FILE_KINDS),
            )
            return False
        ok = True
        for j, kind in enumerate(value):
            if kind not in FILE_KINDS:
                self.problem(
                    at.item(j),
                    N_("unknown file kind '%(kind)s'; use any of %(kinds)s"),
                    kind=kind,
                    kinds=", ".join(FILE_KINDS),
                )
                ok = False
        return ok

    def extra_max_files(self, get: _Getter, value) -> bool:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.problem(get.at("max_files"), N_("max_files must be a whole number, 1 or more"))
            return False
        return True

    def extra_max_size_mb(self, get: _Getter, value) -> bool:
        if not _is_number(value) or not value > 0 or not math.isfinite(value):
            self.problem(
                get.at("max_size_mb"),
                N_("max_size_mb must be a number of megabytes greater than 0"),
            )
            return False
        return True

    EXTRA_CHECKS = {
        "currencies": extra_currencies,
        "default_currency": extra_default_currency,
        "accept": extra_accept,
        "max_files": extra_max_files,
        "max_size_mb": extra_max_size_mb,
    }

    # --- checks across keys of one field

    def check_ranges(self, f: FieldDef, get: _Getter, rules: FieldTypeRules) -> None:
        if f.min is not None and f.max is not None:
            kind = rules.bounds
            low, high = _parse_value(kind, f.min), _parse_value(kind, f.max)
            try:
                inverted = low > high
            except TypeError:  # a datetime with a time zone against one without
                self.problem(
                    get.at("max"), N_("min and max must both have a time zone, or neither")
                )
                inverted = False
            if inverted:
                self.problem(
                    get.at("max"),
                    N_("max (%(max)s) is smaller than min (%(min)s)"),
                    min=f.min,
                    max=f.max,
                )
        if f.min_length is not None and f.max_length is not None:
            if f.min_length > f.max_length:
                self.problem(
                    get.at("max_length"),
                    N_("max_length (%(max)s) is smaller than min_length (%(min)s)"),
                    min=f.min_length,
                    max=f.max_length,
                )

    def default(self, get: _Getter, f: FieldDef, rules: FieldTypeRules | None):
        value = get("default")
        if value is None or rules is None:
            return None
        kind = rules.default_kind()
        at = get.at("default")
        if kind in ("option", "options") and not f.options:
            return None  # the options are missing or wrong, and that is reported already
        if kind == "none":
            self.problem(at, N_("a %(type)s field cannot have a default"), type=f.type)
            return None
        reason = _default_problem(kind, value, f)
        if reason:
            msgid, params = reason
            self.problem(at, msgid, **params)
            return None
        return _normalize(kind, value)


# --- helpers for the loader ------------------------------------------------------------


def _positions(data: Mapping) -> dict:
    """Each key's position in the mapping: document order within it."""
    return {key: i for i, key in enumerate(data)}


class _Getter:
    """Reads the keys of one field that its type allows (others were reported already)."""

    def __init__(self, data: Mapping, field_at: _At, position: dict, allowed):
        self.data, self.field_at, self.position = data, field_at, position
        self.allowed = set(allowed)

    def __call__(self, key: str):
        return self.data.get(key) if key in self.allowed else None

    def at(self, key: str) -> _At:
        return self.field_at.key(key, self.position.get(key, -1))

    def order(self, key: str) -> int:
        return self.position.get(key, -1)


class _FieldIndex:
    """The names and kinds of all fields, so a condition can be checked against them."""

    def __init__(self, items: list, field_types: Mapping[str, FieldTypeRules]):
        self.first: dict[str, int] = {}
        self.has_value: dict[str, bool] = {}
        for i, item in enumerate(items):
            if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
                continue
            name = item["name"]
            self.first.setdefault(name, i)
            type_name = item.get("type")
            rules = field_types.get(type_name) if isinstance(type_name, str) else None
            self.has_value.setdefault(name, rules.has_value if rules else True)

    def first_index(self, name: str) -> int:
        return self.first[name]

    def why_not_usable(self, used: str, own_name: str, own_index: int) -> str | None:
        """The msgid saying why a condition of field ``own_index`` cannot read ``used``."""
        if used == own_name:
            return N_("a field cannot depend on itself ('%(name)s')")
        if used not in self.first:
            return N_("there is no field named '%(name)s'")
        if not self.has_value[used]:
            return N_("'%(name)s' is a section heading and has no value to test")
        if self.first[used] > own_index:
            return N_("'%(name)s' comes after this field; a condition can only use fields above it")
        return None


_KIND_MESSAGES = {
    "number": N_("%(key)s must be a number"),
    "date": N_("%(key)s must be a date like 2026-01-31"),
    "datetime": N_("%(key)s must be a date and time like 2026-01-31T09:00"),
}


def _is_number(value) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _is_currency(code) -> bool:
    return isinstance(code, str) and bool(CURRENCY.fullmatch(code)) and code in _currencies()


@functools.cache
def _currencies() -> frozenset[str]:
    """The ISO 4217 codes Babel knows (read once: it walks Babel's data)."""
    return frozenset(list_currencies())


def _yaml_text(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
ISO_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?(Z|[+-]\d{2}:\d{2})?"
)


def _parse_value(kind: str, value):
    """``value`` as a comparable Python value of ``kind``, or None when it is not one.

    YAML turns an unquoted 2026-01-31 into a date object; both that and the text work.
    """
    if kind == "number":
        return value if _is_number(value) and math.isfinite(value) else None
    if kind == "date":
        if isinstance(value, datetime.datetime):
            return None
        if isinstance(value, datetime.date):
            return value
        if isinstance(value, str) and ISO_DATE.fullmatch(value):
            return _or_none(datetime.date.fromisoformat, value)
        return None
    if kind == "datetime":
        if isinstance(value, datetime.datetime):
            return value
        if isinstance(value, datetime.date):
            return datetime.datetime.combine(value, datetime.time())
        if isinstance(value, str) and ISO_DATETIME.fullmatch(value):
            return _or_none(datetime.datetime.fromisoformat, value)
        return None
    return value


def _or_none(parse, text: str):
    try:
        return parse(text)
    except ValueError:
        return None


def _normalize(kind: str, value):
    """Store dates as ISO strings and numbers as int or float (YAML and JSON friendly)."""
    if kind in ("date", "datetime") and isinstance(value, datetime.date):
        return value.isoformat()
    if kind == "number" and isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if kind == "options" and isinstance(value, list):
        return list(value)
    return value


def _default_problem(kind: str, value, f: FieldDef) -> tuple[str, dict] | None:
    """Why ``value`` cannot be the default of field ``f``, or None when it fits."""
    if kind == "bool":
        if not isinstance(value, bool):
            return N_("the default of a %(type)s field must be true or false"), {"type": f.type}
        return None
    if kind == "option":
        if value not in f.option_values():
            return _not_an_option(value, f)
        return None
    if kind == "options":
        if not isinstance(value, list):
            return N_("the default must be a list of option values"), {}
        for item in value:
            if item not in f.option_values():
                return _not_an_option(item, f)
        if len(set(map(str, value))) != len(value):
            return N_("the default lists an option twice"), {}
        return None
    if kind in ("number", "date", "datetime"):
        return _bounded_default_problem(kind, value, f)
    if kind == "text":
        return _text_default_problem(value, f)
    if isinstance(value, list | Mapping):
        return N_("the default must be a single value"), {}
    return None


def _not_an_option(value, f: FieldDef) -> tuple[str, dict]:
    return (
        N_("the default '%(value)s' is not one of the options (%(options)s)"),
        {"value": value, "options": ", ".join(f.option_values())},
    )


def _bounded_default_problem(kind: str, value, f: FieldDef) -> tuple[str, dict] | None:
    parsed = _parse_value(kind, value)
    if parsed is None:
        return _KIND_MESSAGES[kind], {"key": "default"}
    try:
        if f.min is not None and parsed < _parse_value(kind, f.min):
            return N_("the default %(value)s is below min (%(min)s)"), {
                "value": _normalize(kind, value),
                "min": f.min,
            }
        if f.max is not None and parsed > _parse_value(kind, f.max):
            return N_("the default %(value)s is above max (%(max)s)"), {
                "value": _normalize(kind, value),
                "max": f.max,
            }
    except TypeError:
        return N_("the default and the bounds must all have a time zone, or none"), {}
    return None


def _text_default_problem(value, f: FieldDef) -> tuple[str, dict] | None:
    if not isinstance(value, str):
        return N_("the default of a %(type)s field must be text"), {"type": f.type}
    if f.min_length is not None and len(value) < f.min_length:
        return N_("the default is shorter than min_length (%(min)s)"), {"min": f.min_length}
    if f.max_length is not None and len(value) > f.max_length:
        return N_("the default is longer than max_length (%(max)s)"), {"max": f.max_length}
    if f.pattern is not None and not compile_pattern(f.pattern).fullmatch(value):
        return N_("the default does not match the pattern"), {}
    return None
