"""Loading form definitions: what an admin sees for a good file and for a bad one."""

import datetime
import json
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from portal.forms.definition import (
    DefinitionError,
    FieldDef,
    FieldTypeRules,
    FormDef,
    Option,
    Problem,
    load_definition,
    localize,
    parse_definition_text,
    visible_field_names,
)

R = FieldTypeRules
TYPES = {
    rules.name: rules
    for rules in (
        R("text", text=True),
        R("textarea", text=True),
        R("number", bounds="number"),
        R("money", bounds="number", extra_keys=frozenset({"currencies", "default_currency"})),
        R("percent", bounds="number"),
        R("date", bounds="date"),
        R("datetime", bounds="datetime"),
        R("email", text=True),
        R("phone", text=True),
        R("url", text=True),
        R("select", options=True),
        R("radio", options=True),
        R("multiselect", options=True),
        R("checkbox"),
        R("file", multiple=True, extra_keys=frozenset({"accept", "max_files", "max_size_mb"})),
        R("section", has_value=False),
    )
}

CHANGE_REQUEST = """
name: change-request
number_prefix: CR
title:
  en: Change request
  zh_Hans: 变更申请单
fields:
  - name: about
    type: section
    label: {en: The change, zh_Hans: 变更内容}
  - name: summary
    type: text
    label: {en: Summary, zh_Hans: 标题}
    required: true
    max_length: 120
  - name: reason
    type: select
    label: {en: Reason, zh_Hans: 变更原因}
    options:
      - value: legal
        label: {en: Law or regulation, zh_Hans: 法律法规}
      - value: other
        label: {en: Other, zh_Hans: 其他}
  - name: reason_other
    type: text
    label: {en: "Which other reason?", zh_Hans: 其他原因}
    visible_if: reason == 'other'
"""


def load(data):
    return load_definition(data, TYPES)


def problems_of(data) -> list[str]:
    """The problems an admin is shown, one line each, in order."""
    with pytest.raises(DefinitionError) as error:
        load(data)
    return [str(problem) for problem in error.value.problems]


def form(*fields, **top):
    return {"name": "test-form", "title": "Test", **top, "fields": list(fields)}


def text_field(name="summary", **keys):
    return {"name": name, "type": "text", "label": name.title(), **keys}


# --- a good definition


def test_a_change_request_form_loads_with_every_language():
    fd = load(parse_definition_text(CHANGE_REQUEST, "change-request.yaml"))
    assert fd.name == "change-request"
    assert fd.number_prefix == "CR"
    assert fd.default_language == "en"
    assert fd.title == {"en": "Change request", "zh_Hans": "变更申请单"}
    assert fd.languages == ("en", "zh_Hans")
    assert [f.name for f in fd.fields] == ["about", "summary", "reason", "reason_other"]
    reason = fd.field("reason")
    assert reason.options == (
        Option("legal", {"en": "Law or regulation", "zh_Hans": "法律法规"}),
        Option("other", {"en": "Other", "zh_Hans": "其他"}),
    )
    assert fd.field("about").has_value is False
    assert fd.field("summary").has_value is True
    assert fd.field("summary").required is True
    assert fd.field("summary").max_length == 120
    assert fd.field("reason_other").visible_if.names == {"reason"}
    assert fd.field("nope") is None


def test_omitted_keys_take_their_defaults():
    fd = load(form(text_field()))
    assert (fd.default_language, fd.number_prefix, fd.description) == ("en", "REQ", {})
    f = fd.fields[0]
    assert f == FieldDef(name="summary", type="text", label={"en": "Summary"})
    assert (f.help, f.placeholder, f.required) == ({}, {}, False)
    assert (f.default, f.visible_if, f.options, f.extra) == (None, None, (), {})


def test_plain_text_belongs_to_the_default_language():
    fd = load(form(text_field(label="原因"), title="变更", default_language="zh_Hans"))
    assert fd.title == {"zh_Hans": "变更"}
    assert fd.fields[0].label == {"zh_Hans": "原因"}
    assert fd.languages == ("zh_Hans",)


def test_plain_string_options_are_their_own_label():
    fd = load(form({"name": "size", "type": "radio", "label": "Size", "options": ["S", "M"]}))
    assert fd.fields[0].options == (Option("S", {"en": "S"}), Option("M", {"en": "M"}))


def test_languages_lists_every_language_in_any_text_default_first():
    fd = load(
        form(
            {
                "name": "pick",
                "type": "select",
                "label": {"de": "Wahl", "en": "Pick"},
                "options": [{"value": "a", "label": {"pt_BR": "A"}}],
            },
            text_field(help={"zh_Hans": "帮助"}),
            title={"fr": "Titre"},
        )
    )
    assert fd.languages == ("en", "fr", "de", "pt_BR", "zh_Hans")


def test_bounds_defaults_and_extras_are_kept():
    fd = load(
        form(
            {
                "name": "budget",
                "type": "money",
                "label": "Budget",
                "min": 0,
                "max": 1e6,
                "default": 100,
                "currencies": ["EUR", "CNY"],
                "default_currency": "CNY",
            },
            {
                "name": "start",
                "type": "date",
                "label": "Start",
                "min": "2026-01-01",
                "max": datetime.date(2026, 12, 31),
                "default": datetime.date(2026, 3, 1),
            },
            {"name": "at", "type": "datetime", "label": "At", "min": "2026-01-01T09:00"},
            {
                "name": "files",
                "type": "file",
                "label": "Files",
                "multiple": True,
                "accept": ["image", "pdf"],
                "max_files": 5,
                "max_size_mb": 2.5,
            },
            {"name": "agree", "type": "checkbox", "label": "I agree", "default": False},
            {
                "name": "systems",
                "type": "multiselect",
                "label": "Systems",
                "options": ["erp", "crm"],
                "default": ["crm"],
            },
            {
                "name": "code",
                "type": "text",
                "label": "Code",
                "pattern": r"^[A-Z]{2}-\d{4}$",
                "default": "AB-0001",
                "min_length": 7,
                "max_length": 7,
            },
            {"name": "share", "type": "percent", "label": "Share", "min": Decimal("0.5")},
        )
    )
    budget, start, at, files, agree, systems, code, share = fd.fields
    assert (budget.min, budget.max, budget.default) == (0, 1e6, 100)
    assert budget.extra == {"currencies": ["EUR", "CNY"], "default_currency": "CNY"}
    assert (start.min, start.max, start.default) == ("2026-01-01", "2026-12-31", "2026-03-01")
    assert at.min == "2026-01-01T09:00"
    assert files.multiple is True
    assert files.extra == {"accept": ["image", "pdf"], "max_files": 5, "max_size_mb": 2.5}
    assert agree.default is False
    assert systems.default == ["crm"]
    assert code.pattern == r"^[A-Z]{2}-\d{4}$"
    assert share.min == 0.5


# --- every problem at once, with its path, in document order


def test_five_mistakes_give_five_problems_in_document_order():
    data = parse_definition_text(
        textwrap.dedent(
            """\
            name: Change Request
            title: Change request
            fields:
              - name: budget
                type: number
                label: Budget
                min_length: 3
              - name: reason
                type: select
                label: Reason
                options: [legal, legal]
              - name: when
                type: date
                label: {en: When, zh-Hans: 何时}
              - name: details
                type: text
                label: Details
                visible_if: reason == 'other' and colour == 'red'
            """
        )
    )
    assert problems_of(data) == [
        "name: 'Change Request' is not a valid form name: use 2 to 63 lower-case letters, "
        "digits and hyphens, like change-request",
        "fields[0].min_length: min_length is not allowed for a number field",
        "fields[1].options[1]: the option value 'legal' is already used by options[0]",
        "fields[2].label.zh-Hans: 'zh-Hans' is not a language code like en, de, zh_Hans or pt_BR",
        "fields[3].visible_if: there is no field named 'colour'",
    ]


def test_problems_follow_the_order_the_keys_were_written_in():
    data = {
        "fields": [{"type": "text", "label": "A", "name": "BAD", "max_length": -1}],
        "name": "x",
        "title": 5,
    }
    assert problems_of(data) == [
        "fields[0].name: 'BAD' is not a valid field name: start with a lower-case letter, "
        "then use lower-case letters, digits and _ (at most 63)",
        "fields[0].max_length: max_length must be a whole number, 0 or more",
        "name: 'x' is not a valid form name: use 2 to 63 lower-case letters, digits and "
        "hyphens, like change-request",
        "title: title must be text, or a mapping of language codes to text like "
        "{en: Reason, zh_Hans: 原因}",
    ]


def test_each_problem_carries_a_path_a_msgid_and_params_for_translation():
    with pytest.raises(DefinitionError) as error:
        load(form({"name": "a", "type": "colour", "label": "A"}))
    (problem,) = error.value.problems
    assert problem.path == "fields[0].type"
    assert problem.msgid == "unknown field type '%(type)s'; known types are %(known)s"
    assert problem.params["type"] == "colour"
    assert problem.message() == (
        "unknown field type 'colour'; known types are checkbox, date, datetime, email, file, "
        "money, multiselect, number, percent, phone, radio, section, select, text, textarea, url"
    )
    german = {problem.msgid: "unbekannter Feldtyp '%(type)s'; bekannt sind %(known)s"}
    assert problem.message(gettext=german.get).startswith("unbekannter Feldtyp 'colour';")


def test_a_problem_without_a_path_is_just_its_message():
    assert str(Problem("", "the %(what)s is wrong", {"what": "file"})) == "the file is wrong"
    assert str(Problem("title", "missing")) == "title: missing"


def test_the_error_text_lists_every_problem():
    with pytest.raises(DefinitionError) as error:
        load({"name": "ok-name"})
    assert str(error.value) == (
        "2 problems in the form definition:\n"
        "  title is required\n"
        "  fields is required: a list of the form's fields"
    )
    assert isinstance(error.value, ValueError)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (None, ["a form definition must be a mapping of keys such as name, title and fields"]),
        (["a"], ["a form definition must be a mapping of keys such as name, title and fields"]),
        (form(), ["fields: fields must be a list with at least one field"]),
        (
            {**form(text_field()), "fields": {"a": 1}},
            ["fields: fields must be a list with at least one field"],
        ),
        (
            {**form(text_field()), "titel": "x"},
            ["titel: unknown key 'titel'; did you mean 'title'?"],
        ),
        (
            {**form(text_field()), "colour": "x"},
            [
                "colour: unknown key 'colour'; allowed keys are name, title, description, "
                "default_language, number_prefix, fields, chain"
            ],
        ),
        (
            form(text_field(), number_prefix="cr"),
            [
                "number_prefix: 'cr' is not a valid number prefix: use 1 to 6 capital letters, "
                "like CR"
            ],
        ),
        (
            form(text_field(), number_prefix="CHANGES"),
            [
                "number_prefix: 'CHANGES' is not a valid number prefix: use 1 to 6 capital "
                "letters, like CR"
            ],
        ),
        (
            form(text_field(), default_language="English"),
            ["default_language: 'English' is not a language code like en, de, zh_Hans or pt_BR"],
        ),
        (form(text_field(), title=""), ["title: title is empty"]),
        (
            form(text_field(), title={}),
            [
                "title: title must be text, or a mapping of language codes to text like "
                "{en: Reason, zh_Hans: 原因}"
            ],
        ),
        (
            form(text_field(), description={"en": "  "}),
            ["description.en: the en text must not be empty"],
        ),
        (
            {"title": "T", "fields": [text_field()]},
            ["name is required: a short name for the form's address, like change-request"],
        ),
    ],
)
def test_top_level_mistakes(data, expected):
    assert problems_of(data) == expected


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("summary", ["fields[0]: each field must be a mapping with at least name, type and label"]),
        ({"type": "text", "label": "A"}, ["fields[0]: name is required"]),
        (
            {"name": "a", "label": "A"},
            [
                "fields[0]: type is required; known types are checkbox, date, datetime, email, "
                "file, money, multiselect, number, percent, phone, radio, section, select, text, "
                "textarea, url"
            ],
        ),
        ({"name": "a", "type": "text"}, ["fields[0]: label is required"]),
        ({"name": "about", "type": "section"}, ["fields[0]: label is required"]),
        (
            {"name": "1st", "type": "text", "label": "A"},
            [
                "fields[0].name: '1st' is not a valid field name: start with a lower-case letter, "
                "then use lower-case letters, digits and _ (at most 63)"
            ],
        ),
        (text_field(lable="x"), ["fields[0].lable: unknown key 'lable'; did you mean 'label'?"]),
        (text_field(options=["a"]), ["fields[0].options: options is not allowed for a text field"]),
        (
            text_field(currencies=["EUR"]),
            ["fields[0].currencies: currencies is not allowed for a text field"],
        ),
        (
            {"name": "n", "type": "number", "label": "N", "pattern": "x"},
            ["fields[0].pattern: pattern is not allowed for a number field"],
        ),
        (
            {"name": "s", "type": "section", "label": "S", "required": True},
            ["fields[0].required: required is not allowed for a section field"],
        ),
        (
            {"name": "s", "type": "section", "label": "S", "default": "x"},
            ["fields[0].default: default is not allowed for a section field"],
        ),
        (
            text_field(multiple=True),
            ["fields[0].multiple: multiple is not allowed for a text field"],
        ),
        (text_field(required="yes"), ["fields[0].required: required must be true or false"]),
        (
            text_field(label={"en": "A", "EN": "B", "de": 3}),
            [
                "fields[0].label.EN: 'EN' is not a language code like en, de, zh_Hans or pt_BR",
                "fields[0].label.de: the de text must not be empty",
            ],
        ),
        (
            text_field(help=["x"]),
            [
                "fields[0].help: help must be text, or a mapping of language codes to text like "
                "{en: Reason, zh_Hans: 原因}"
            ],
        ),
        (
            text_field(min_length=5, max_length=2),
            ["fields[0].max_length: max_length (2) is smaller than min_length (5)"],
        ),
        (
            text_field(min_length=True),
            ["fields[0].min_length: min_length must be a whole number, 0 or more"],
        ),
        (
            text_field(max_length=1.5),
            ["fields[0].max_length: max_length must be a whole number, 0 or more"],
        ),
        (
            text_field(pattern="(a+)+"),
            ["fields[0].pattern: nested repetition like (a+)+ can take forever on some inputs"],
        ),
        (
            text_field(pattern="[a-"),
            [
                "fields[0].pattern: this is not a valid regular expression: unterminated character "
                "set (at character 1)"
            ],
        ),
        (
            text_field(pattern=r"(?<=x)y"),
            [
                "fields[0].pattern: lookahead and lookbehind like (?=...) or (?<!...) are not "
                "supported"
            ],
        ),
    ],
)
def test_field_mistakes(field, expected):
    assert problems_of(form(field)) == expected


def test_a_field_of_an_unknown_type_is_still_checked_for_generic_mistakes():
    field = {
        "name": "a",
        "type": "colour",
        "label": "",
        "min": 3,
        "shade": "dark",
        "accept": ["image"],
    }
    assert problems_of(form(field)) == [
        "fields[0].type: unknown field type 'colour'; known types are checkbox, date, "
        "datetime, email, file, money, multiselect, number, percent, phone, radio, section, "
        "select, text, textarea, url",
        "fields[0].label: label is empty",
        "fields[0].shade: unknown key 'shade'; allowed keys are name, type, label, help, "
        "visible_if, placeholder, required, default, options, min, max, min_length, "
        "max_length, pattern, multiple",
    ]


def test_names_must_be_unique_and_sections_count():
    assert problems_of(
        form(
            {"name": "part", "type": "section", "label": "Part"},
            text_field("summary"),
            text_field("part"),
            text_field("summary"),
        )
    ) == [
        "fields[2].name: the name 'part' is already used by fields[0]",
        "fields[3].name: the name 'summary' is already used by fields[1]",
    ]


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        (
            {"name": "r", "type": "radio", "label": "R"},
            ["fields[0]: a radio field needs options: a list of choices"],
        ),
        (
            {"name": "r", "type": "select", "label": "R", "options": []},
            ["fields[0].options: options must be a list with at least one choice"],
        ),
        (
            {"name": "r", "type": "select", "label": "R", "options": "a, b"},
            ["fields[0].options: options must be a list with at least one choice"],
        ),
        (
            {"name": "r", "type": "select", "label": "R", "options": ["a", 2, True, ""]},
            [
                "fields[0].options[1]: option values must be text; put 2 in quotes: '2'",
                "fields[0].options[2]: option values must be text; put true in quotes: 'true'",
                "fields[0].options[3]: an option needs a value: non-empty text",
            ],
        ),
        (
            {
                "name": "r",
                "type": "select",
                "label": "R",
                "options": [{"value": "a", "label": "A"}, {"value": "a", "label": "B"}],
            },
            ["fields[0].options[1].value: the option value 'a' is already used by options[0]"],
        ),
        (
            {
                "name": "r",
                "type": "select",
                "label": "R",
                "options": [{"label": "A"}, {"value": "b", "lable": "B"}],
            },
            [
                "fields[0].options[0]: an option needs a value: non-empty text",
                "fields[0].options[1].lable: unknown key 'lable'; did you mean 'label'?",
            ],
        ),
        (
            {
                "name": "r",
                "type": "select",
                "label": "R",
                "options": [{"value": "a", "label": {"zh_Hans": ""}}],
            },
            ["fields[0].options[0].label.zh_Hans: the zh_Hans text must not be empty"],
        ),
    ],
)
def test_option_mistakes(field, expected):
    assert problems_of(form(field)) == expected


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        (
            {"name": "n", "type": "number", "label": "N", "min": 10, "max": 1},
            ["fields[0].max: max (1) is smaller than min (10)"],
        ),
        (
            {"name": "n", "type": "number", "label": "N", "min": True, "max": "5"},
            ["fields[0].min: min must be a number", "fields[0].max: max must be a number"],
        ),
        (
            {"name": "n", "type": "percent", "label": "N", "max": float("inf")},
            ["fields[0].max: max must be a number"],
        ),
        (
            {"name": "d", "type": "date", "label": "D", "min": "31/01/2026"},
            ["fields[0].min: min must be a date like 2026-01-31"],
        ),
        (
            {"name": "d", "type": "date", "label": "D", "min": "2026-02-30"},
            ["fields[0].min: min must be a date like 2026-01-31"],
        ),
        (
            {"name": "d", "type": "date", "label": "D", "min": "2026-06-01", "max": "2026-01-01"},
            ["fields[0].max: max (2026-01-01) is smaller than min (2026-06-01)"],
        ),
        (
            {"name": "t", "type": "datetime", "label": "T", "min": "tomorrow"},
            ["fields[0].min: min must be a date and time like 2026-01-31T09:00"],
        ),
        (
            {
                "name": "t",
                "type": "datetime",
                "label": "T",
                "min": "2026-01-01T09:00",
                "max": "2026-01-01T10:00+08:00",
            },
            ["fields[0].max: min and max must both have a time zone, or neither"],
        ),
    ],
)
def test_bound_mistakes(field, expected):
    assert problems_of(form(field)) == expected


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        (
            {"name": "r", "type": "select", "label": "R", "options": ["a", "b"], "default": "c"},
            "the default 'c' is not one of the options (a, b)",
        ),
        (
            {"name": "r", "type": "radio", "label": "R", "options": ["a"], "default": ["a"]},
            "the default '['a']' is not one of the options (a)",
        ),
        (
            {"name": "m", "type": "multiselect", "label": "M", "options": ["a"], "default": "a"},
            "the default must be a list of option values",
        ),
        (
            {
                "name": "m",
                "type": "multiselect",
                "label": "M",
                "options": ["a"],
                "default": ["a", "z"],
            },
            "the default 'z' is not one of the options (a)",
        ),
        (
            {
                "name": "m",
                "type": "multiselect",
                "label": "M",
                "options": ["a"],
                "default": ["a", "a"],
            },
            "the default lists an option twice",
        ),
        ({"name": "n", "type": "number", "label": "N", "default": "5"}, "default must be a number"),
        (
            {"name": "n", "type": "number", "label": "N", "min": 10, "default": 5},
            "the default 5 is below min (10)",
        ),
        (
            {"name": "n", "type": "money", "label": "N", "max": 10, "default": 50},
            "the default 50 is above max (10)",
        ),
        (
            {
                "name": "d",
                "type": "date",
                "label": "D",
                "min": "2026-01-01",
                "default": "2025-12-31",
            },
            "the default 2025-12-31 is below min (2026-01-01)",
        ),
        (
            {"name": "c", "type": "checkbox", "label": "C", "default": "yes"},
            "the default of a checkbox field must be true or false",
        ),
        (
            {"name": "t", "type": "text", "label": "T", "default": 5},
            "the default of a text field must be text",
        ),
        (
            {"name": "t", "type": "text", "label": "T", "max_length": 3, "default": "abcd"},
            "the default is longer than max_length (3)",
        ),
        (
            {"name": "t", "type": "text", "label": "T", "min_length": 3, "default": "ab"},
            "the default is shorter than min_length (3)",
        ),
        (
            {
                "name": "t",
                "type": "email",
                "label": "T",
                "pattern": "[a-z]+@example[.]com",
                "default": "x@example.org",
            },
            "the default does not match the pattern",
        ),
        (
            {"name": "f", "type": "file", "label": "F", "default": "a.pdf"},
            "a file field cannot have a default",
        ),
    ],
)
def test_a_default_must_fit_its_field(field, expected):
    assert problems_of(form(field)) == [f"fields[0].default: {expected}"]


def test_a_default_is_not_checked_against_options_that_are_wrong_themselves():
    field = {"name": "r", "type": "select", "label": "R", "options": [], "default": "a"}
    assert problems_of(form(field)) == [
        "fields[0].options: options must be a list with at least one choice"
    ]


def test_a_plugin_type_can_say_what_its_default_must_be():
    rating = R("rating", bounds="number", value_kind="none")
    with pytest.raises(DefinitionError) as error:
        load_definition(
            form({"name": "r", "type": "rating", "label": "R", "default": 3}),
            {**TYPES, "rating": rating},
        )
    assert [str(p) for p in error.value.problems] == [
        "fields[0].default: a rating field cannot have a default"
    ]
    custom = R("colour")  # no flags: any single value will do
    fd = load_definition(
        form({"name": "c", "type": "colour", "label": "C", "default": "red"}), {"colour": custom}
    )
    assert fd.fields[0].default == "red"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            [text_field("a"), text_field("b", visible_if="a == ")],
            ["fields[1].visible_if: this is not a valid condition: invalid syntax (at the end)"],
        ),
        (
            [text_field("a"), text_field("b", visible_if="a b")],
            [
                "fields[1].visible_if: this is not a valid condition: invalid syntax (at character "
                "3)"
            ],
        ),
        (
            [text_field("a"), text_field("b", visible_if="a = 'x'")],
            [
                "fields[1].visible_if: this is not a valid condition: use == to compare, not = "
                "(a = 'x')"
            ],
        ),
        (
            [text_field("a"), text_field("b", visible_if="len(a) > 3")],
            ["fields[1].visible_if: function calls like len(a) are not allowed in a condition"],
        ),
        (
            [text_field("a"), text_field("b", visible_if=True)],
            ["fields[1].visible_if: a condition must be text, like: reason == 'legal'"],
        ),
        (
            [text_field("a", visible_if="a == 'x'")],
            ["fields[0].visible_if: a field cannot depend on itself ('a')"],
        ),
        (
            [text_field("a", visible_if="b == 'x'"), text_field("b")],
            [
                "fields[0].visible_if: 'b' comes after this field; a condition can only use "
                "fields above it"
            ],
        ),
        (
            [{"name": "part", "type": "section", "label": "P"}, text_field("b", visible_if="part")],
            ["fields[1].visible_if: 'part' is a section heading and has no value to test"],
        ),
        (
            [text_field("a"), text_field("b", visible_if="zz or yy")],
            [
                "fields[1].visible_if: there is no field named 'yy'",
                "fields[1].visible_if: there is no field named 'zz'",
            ],
        ),
    ],
)
def test_condition_mistakes(fields, expected):
    assert problems_of(form(*fields)) == expected


def money(**keys):
    return {"name": "budget", "type": "money", "label": "Budget", **keys}


def upload(**keys):
    return {"name": "files", "type": "file", "label": "Files", **keys}


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        (
            money(currencies="EUR"),
            ["fields[0].currencies: currencies must be a list of currency codes like [EUR, USD]"],
        ),
        (
            money(currencies=["EUR", "eur", "ABC", "EUR"]),
            [
                "fields[0].currencies[1]: 'eur' is not an ISO 4217 currency code like EUR, USD or "
                "CNY",
                "fields[0].currencies[2]: 'ABC' is not an ISO 4217 currency code like EUR, USD or "
                "CNY",
                "fields[0].currencies[3]: the currency EUR is listed twice",
            ],
        ),
        (
            money(currencies=["EUR"], default_currency="USD"),
            ["fields[0].default_currency: the default currency USD is not in currencies"],
        ),
        (
            money(default_currency="Euro"),
            [
                "fields[0].default_currency: 'Euro' is not an ISO 4217 currency code like EUR, USD "
                "or CNY"
            ],
        ),
        (
            upload(accept="image"),
            [
                "fields[0].accept: accept must be a list of file kinds from image, pdf, document, "
                "spreadsheet, text, archive"
            ],
        ),
        (
            upload(accept=["image", "video"]),
            [
                "fields[0].accept[1]: unknown file kind 'video'; use any of image, pdf, document, "
                "spreadsheet, text, archive"
            ],
        ),
        (upload(max_files=0), ["fields[0].max_files: max_files must be a whole number, 1 or more"]),
        (
            upload(max_files=True),
            ["fields[0].max_files: max_files must be a whole number, 1 or more"],
        ),
        (
            upload(max_size_mb=0),
            ["fields[0].max_size_mb: max_size_mb must be a number of megabytes greater than 0"],
        ),
        (
            upload(max_size_mb="10"),
            ["fields[0].max_size_mb: max_size_mb must be a number of megabytes greater than 0"],
        ),
        (upload(multiple="yes"), ["fields[0].multiple: multiple must be true or false"]),
    ],
)
def test_currency_and_file_setting_mistakes(field, expected):
    assert problems_of(form(field)) == expected


def test_a_form_has_a_limit_on_fields():
    data = form(*[text_field(f"f{i}") for i in range(301)])
    assert problems_of(data) == ["fields: a form can have at most 300 fields; this one has 301"]


# --- round trip


def full_form() -> dict:
    return parse_definition_text(
        CHANGE_REQUEST
        + textwrap.dedent(
            """\
              - name: budget
                type: money
                label: Budget
                help: {en: Your estimate, zh_Hans: 您的估计}
                placeholder: "5000"
                min: 0
                max: 1000000.5
                default: 10
                currencies: [EUR, CNY]
                default_currency: EUR
              - name: systems
                type: multiselect
                label: Systems
                options: [erp, crm, {value: web, label: {en: Website, zh_Hans: 网站}}]
                default: [erp]
              - name: urgent
                type: checkbox
                label: Urgent
                required: true
                default: false
                visible_if: "'erp' in systems and budget > 100"
              - name: start
                type: date
                label: Start
                min: 2026-01-01
              - name: files
                type: file
                label: Files
                multiple: true
                accept: [image, pdf]
                max_files: 3
                max_size_mb: 10
            description: A test form.
            default_language: en
            """
        )
    )


def test_to_dict_round_trips():
    fd = load(full_form())
    data = fd.to_dict()
    assert load(data) == fd
    assert load(json.loads(json.dumps(data))) == fd
    assert load(yaml.safe_load(yaml.safe_dump(data, allow_unicode=True))) == fd


def test_to_dict_is_canonical_and_leaves_out_defaults():
    data = load(full_form()).to_dict()
    assert list(data) == ["name", "title", "description", "number_prefix", "fields"]
    assert data["description"] == "A test form."
    assert [f["name"] for f in data["fields"]] == [
        "about",
        "summary",
        "reason",
        "reason_other",
        "budget",
        "systems",
        "urgent",
        "start",
        "files",
    ]
    assert data["fields"][0] == {
        "name": "about",
        "type": "section",
        "label": {"en": "The change", "zh_Hans": "变更内容"},
    }
    assert data["fields"][5] == {
        "name": "systems",
        "type": "multiselect",
        "label": "Systems",
        "default": ["erp"],
        "options": ["erp", "crm", {"value": "web", "label": {"en": "Website", "zh_Hans": "网站"}}],
    }
    assert data["fields"][6]["visible_if"] == "'erp' in systems and budget > 100"
    assert data["fields"][6]["default"] is False  # written by the author, so kept
    assert data["fields"][7] == {
        "name": "start",
        "type": "date",
        "label": "Start",
        "min": "2026-01-01",
    }


def test_a_minimal_form_round_trips_to_a_minimal_dict():
    data = {
        "name": "tiny",
        "title": "Tiny",
        "fields": [{"name": "a", "type": "text", "label": "A"}],
    }
    assert load(data).to_dict() == data


# --- localize


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("zh_Hans", "变更"),
        ("zh_Hans_CN", "变更"),
        ("zh-Hans-CN", "变更"),
        ("zh", "变更"),
        ("pt_BR", "Mudança (BR)"),
        ("pt", "Mudança"),
        ("pt_PT", "Mudança"),
        ("de_AT", "Änderung"),
        ("fr", "Change"),
        ("", "Change"),
        (None, "Change"),
    ],
)
def test_localize_falls_back_from_the_exact_locale_to_the_default(locale, expected):
    texts = {
        "en": "Change",
        "zh_Hans": "变更",
        "de": "Änderung",
        "pt": "Mudança",
        "pt_BR": "Mudança (BR)",
    }
    assert localize(texts, locale, "en") == expected


def test_localize_uses_any_text_when_the_default_language_is_missing():
    assert localize({"de": "Änderung"}, "fr", "en") == "Änderung"
    assert localize({}, "fr", "en") == ""
    assert localize({"zh_Hant": "變更", "en": "Change"}, "zh_Hans_CN", "en") == "變更"


# --- parsing text


def test_yaml_and_json_are_both_read():
    assert parse_definition_text("name: x\nfields: []\n") == {"name": "x", "fields": []}
    assert parse_definition_text('{"name": "x"}') == {"name": "x"}
    assert parse_definition_text('\n  {"name": "x"}', "") == {"name": "x"}
    assert parse_definition_text(b'{"name": "x"}', "form.JSON") == {"name": "x"}
    assert parse_definition_text("\ufeffname: x") == {"name": "x"}


def test_a_yaml_syntax_error_names_its_line():
    with pytest.raises(DefinitionError) as error:
        parse_definition_text("name: x\ntitle: T\nfields:\n  - name: a\n   type: text\n")
    (problem,) = error.value.problems
    assert problem.path == "line 5"
    assert problem.message().startswith("this is not valid YAML: ")
    assert str(problem).startswith("line 5: this is not valid YAML:")


def test_a_key_written_twice_in_yaml_is_an_error_not_silently_dropped():
    with pytest.raises(DefinitionError) as error:
        parse_definition_text("name: x\nfields:\n  - name: a\n    label: A\n    label: B\n")
    (problem,) = error.value.problems
    assert problem.path == "line 5"
    assert "found the key 'label' twice" in problem.message()


def test_a_json_syntax_error_names_its_line():
    with pytest.raises(DefinitionError) as error:
        parse_definition_text('{\n "name": "x",\n "fields": [,]\n}', "form.json")
    (problem,) = error.value.problems
    assert problem.path == "line 3"
    assert problem.message() == "this is not valid JSON: Expecting value (column 13)"


def test_a_key_written_twice_in_json_is_an_error():
    with pytest.raises(DefinitionError) as error:
        parse_definition_text('{"name": "x", "name": "y"}')
    assert str(error.value.problems[0]) == "the key 'name' appears twice in one object"


def test_text_that_is_not_utf8_is_refused():
    with pytest.raises(DefinitionError) as error:
        parse_definition_text(b"name: \xff")
    assert str(error.value.problems[0]) == "the file is not UTF-8 text (byte 7)"


# --- visibility


CASCADE = form(
    {"name": "reason", "type": "select", "label": "Reason", "options": ["legal", "other"]},
    text_field("reason_other", visible_if="reason == 'other'"),
    text_field("other_detail", visible_if="reason_other == 'more'"),
    {"name": "costs", "type": "section", "label": "Costs", "visible_if": "reason == 'legal'"},
    {"name": "budget", "type": "number", "label": "Budget"},
    text_field("budget_note", visible_if="budget > 5000"),
    {"name": "end", "type": "section", "label": "The end"},
    text_field("comment"),
    text_field("comment_on_budget", visible_if="budget"),
)


def test_every_field_without_a_condition_is_visible():
    fd = load(form(text_field("a"), text_field("b")))
    assert visible_field_names(fd, {}) == {"a", "b"}


def test_a_hidden_field_counts_as_empty_for_the_conditions_after_it():
    fd = load(CASCADE)
    answers = {"reason": "other", "reason_other": "more"}
    assert {"reason_other", "other_detail"} <= visible_field_names(fd, answers)
    # The reason changes; the stale answer of reason_other no longer shows other_detail.
    answers["reason"] = "legal"
    visible = visible_field_names(fd, answers)
    assert "reason_other" not in visible
    assert "other_detail" not in visible


def test_a_hidden_section_hides_every_field_up_to_the_next_section():
    fd = load(CASCADE)
    answers = {"reason": "other", "budget": "9000"}
    assert visible_field_names(fd, answers) == {
        "reason",
        "reason_other",
        "end",
        "comment",
    }
    answers["reason"] = "legal"
    assert visible_field_names(fd, answers) == {
        "reason",
        "costs",
        "budget",
        "budget_note",
        "end",
        "comment",
        "comment_on_budget",
    }


# --- purity


def test_the_loader_and_conditions_import_no_web_framework():
    """Runs in a fresh interpreter; the packages above them are stubbed, so only what these
    modules themselves import is counted (portal/__init__.py builds the Flask app)."""
    root = Path(__file__).resolve().parents[2]
    script = textwrap.dedent(
        f"""
        import sys, types
        for name, path in (("portal", "portal"), ("portal.forms", "portal/forms")):
            package = types.ModuleType(name)
            package.__path__ = [{str(root)!r} + "/" + path]
            sys.modules[name] = package
        import portal.forms.definition, portal.forms.conditions, portal.forms.patterns
        print("\\n".join(sorted(sys.modules)))
        """
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    modules = completed.stdout.split()
    assert "portal.forms.definition" in modules
    web = [
        m
        for m in modules
        if m.split(".")[0]
        in {
            "flask",
            "flask_babel",
            "flask_wtf",
            "wtforms",
            "sqlalchemy",
            "flask_sqlalchemy",
            "werkzeug",
            "jinja2",
        }
    ]
    assert web == []


def test_dataclasses_are_frozen():
    fd = load(form(text_field()))
    with pytest.raises(AttributeError):
        fd.name = "other"
    with pytest.raises(AttributeError):
        fd.fields[0].required = True
    assert isinstance(fd, FormDef)


def test_the_example_in_the_admin_guide_loads():
    guide = (Path(__file__).resolve().parents[2] / "docs" / "forms.md").read_text("utf-8")
    example = guide.split("```yaml\n", 1)[1].split("```", 1)[0]
    fd = load(parse_definition_text(example, "change-request.yaml"))
    assert fd.languages == ("en", "zh_Hans")
    assert fd.number_prefix == "CR"
    assert visible_field_names(fd, {"reason": "other", "budget": "6000"}) >= {
        "reason_other",
        "ccb_note",
    }
    assert "ccb_note" not in visible_field_names(fd, {"affected_systems": ["crm"]})
