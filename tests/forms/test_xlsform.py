"""XLSForm spreadsheets in and out: types, conditions, checks, languages, what is not mapped,
and the round trip.

The real files are ``tests/forms/xlsform/*.xlsx``, written by LibreOffice Calc itself
(``make_fixtures.py`` describes them and converts them with ``soffice``). No file written
by Microsoft Excel is among them: none could be obtained here (only text can be fetched,
and no Excel runs on this machine), so Excel's own output is not tested. The small
workbooks built in this module with openpyxl are synthetic cases for single rules, not
stand-ins for files from Excel.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import openpyxl
import pytest

from portal.forms.definition import load_definition, parse_definition_text
from portal.forms.xlsform import XLSFormError, read_xlsform, write_xlsform
from portal.forms.xlsform_expressions import (
    ExpressionError,
    condition_to_relevant,
    relevant_to_condition,
)
from portal.forms.xlsform_languages import language_code

FIXTURES = Path(__file__).resolve().parent / "xlsform"
SHIPPED_FORM = Path(__file__).resolve().parents[2] / "portal/forms/library/change-request.yaml"


@pytest.fixture(scope="module")
def rules(app):
    registry = app.extensions["portal.registries"].field_types
    return {name: field_type.rules for name, field_type in registry.items()}


def read_fixture(name: str, rules):
    path = FIXTURES / name
    return read_xlsform(path.read_bytes(), path.name, rules)


def workbook(survey, choices=None, settings=None) -> bytes:
    """A small synthetic XLSForm (openpyxl-written) for one rule at a time."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "survey"
    for row in survey:
        sheet.append(row)
    for title, rows in (("choices", choices), ("settings", settings)):
        if rows:
            extra = book.create_sheet(title)
            for row in rows:
                extra.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def by_name(definition) -> dict:
    return {f["name"]: f for f in definition["fields"]}


def places(unmapped) -> set:
    return {(item.sheet, item.row, item.column) for item in unmapped}


# --- the real spreadsheets ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["change_request.xlsx", "every_type.xlsx"])
def test_the_fixtures_are_spreadsheets_libreoffice_wrote(name):
    with zipfile.ZipFile(FIXTURES / name) as archive:
        application = archive.read("docProps/app.xml").decode()
    assert "<Application>LibreOffice" in application


def test_a_kobo_style_change_request_becomes_sections_questions_and_conditions(rules):
    definition, _ = read_fixture("change_request.xlsx", rules)
    fields = by_name(definition)
    assert definition["name"] == "change-request"
    assert definition["title"] == "Change request"
    assert "default_language" not in definition  # English (en) is the portal's default
    assert [f["name"] for f in definition["fields"] if f["type"] == "section"] == [
        "requester",
        "change",
        "cost",
        "ccb_note",
        "cost_continued",
        "feedback",
    ]
    assert fields["full_name"]["required"] is True
    assert fields["org_type"]["required"] is True  # a TRUE cell, as Calc writes it
    assert fields["country"]["type"] == "select"  # appearance minimal
    assert fields["reason"]["type"] == "radio"
    assert fields["affected_systems"]["type"] == "multiselect"
    assert fields["description"]["type"] == "textarea"  # appearance multiline
    assert fields["consent"]["type"] == "checkbox"  # acknowledge
    assert fields["screenshot"] == {
        "name": "screenshot",
        "type": "file",
        "label": {"en": "A screenshot, if you have one", "fr": "Une capture d'écran",
                  "zh_Hans": "截图（如有）"},
        "accept": ["image"],
    }  # fmt: skip
    assert fields["reason_other"]["visible_if"] == "reason == 'other'"
    assert fields["crm_module"]["visible_if"] == "'crm' in affected_systems"
    assert fields["cost"]["visible_if"] == "reason != 'legal'"
    assert fields["ccb_note"]["visible_if"] == "reason != 'legal' and budget > 5000"
    assert fields["ccb_reason"]["visible_if"] == "budget > 5000 and priority == 'high'"
    assert fields["summary"]["max_length"] == 120
    assert fields["description"]["min_length"] == 10
    assert fields["email"]["pattern"] == r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
    assert (fields["budget"]["min"], fields["budget"]["max"]) == (0, 1000000)
    assert fields["people"]["min"] == 1  # an integer above 0
    assert fields["wanted_by"]["min"] == "2026-01-01"
    assert fields["priority"]["default"] == "medium"
    assert [o["value"] for o in fields["contacted_before"]["options"]] == ["1", "0"]


def test_labels_hints_and_choices_keep_every_language(rules):
    definition, _ = read_fixture("change_request.xlsx", rules)
    fields = by_name(definition)
    assert fields["reason"]["label"] == {"en": "Reason", "fr": "Raison", "zh_Hans": "变更原因"}
    assert fields["summary"]["help"]["zh_Hans"] == "例如：增加 CSV 导出"
    assert fields["reason"]["options"][1] == {
        "value": "legal",
        "label": {"en": "Law or regulation", "fr": "Loi ou réglementation", "zh_Hans": "法律法规"},
    }
    # the note that opens a group is the section's help
    assert fields["requester"]["help"]["fr"].startswith("Dites-nous ce qui doit changer")


def test_what_the_change_request_could_not_map_is_listed_with_its_place(rules):
    _, unmapped = read_fixture("change_request.xlsx", rules)
    found = places(unmapped)
    assert ("settings", 2, "version") in found
    assert ("settings", 2, "instance_name") in found
    assert ("survey", 2, "type") in found  # start: metadata
    assert ("survey", 8, "constraint_message::中文 (zh)") in found
    assert ("survey", 11, "choice_filter") in found
    assert ("survey", 34, "type") in found  # geopoint
    assert ("survey", 35, "type") in found  # calculate
    assert ("survey", 36, "relevant") in found  # refers to the calculate
    assert ("choices", 7, "country") in found  # the filter column, once
    geopoint = next(item for item in unmapped if item.what == "geopoint")
    assert geopoint.message() == "the portal has no map or location question"
    relevant = next(item for item in unmapped if item.column == "relevant")
    assert "${budget_band} is not a question the portal kept" in relevant.message()


@pytest.mark.parametrize(
    "name, expected",
    [
        ("a_text", {"type": "text", "default": "hello", "help": "One line"}),
        ("a_textarea", {"type": "textarea"}),
        ("an_integer", {"type": "number", "min": 0, "max": 100, "default": 5}),
        ("a_decimal", {"type": "number", "min": 0}),
        ("a_range", {"type": "number", "min": 1, "max": 10}),
        ("a_date", {"type": "date", "default": "2026-01-31", "max": "2026-12-31"}),
        ("a_time", {"type": "text", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"}),
        ("a_datetime", {"type": "datetime"}),
        ("a_select", {"type": "select", "default": "red"}),
        ("a_radio", {"type": "radio", "required": True}),
        ("a_multiselect", {"type": "multiselect", "default": ["red", "blue"]}),
        ("a_note", {"type": "section", "label": "A note between questions", "help": "Read me"}),
        ("an_acknowledge", {"type": "checkbox"}),
        ("an_image", {"type": "file", "accept": ["image"]}),
        ("a_file", {"type": "file"}),
        ("an_audio", {"type": "file"}),
        ("a_barcode", {"type": "text"}),
        ("a_pattern", {"type": "text", "pattern": "^.*(?:[0-9]).*$"}),
        ("a_length", {"type": "text", "min_length": 2, "max_length": 5}),
        ("bad_name", {"type": "text", "label": "Renamed"}),
        ("a_visible", {"visible_if": "an_integer > 10 or 'green' in a_multiselect"}),
        ("a_repeat", {"type": "section", "label": "Repeat"}),
        ("in_repeat", {"type": "text"}),
    ],
)
def test_each_xlsform_type_maps_onto_a_portal_field(rules, name, expected):
    definition, _ = read_fixture("every_type.xlsx", rules)
    field = by_name(definition)[name]
    assert {key: field.get(key) for key in expected} == expected


@pytest.mark.parametrize(
    "row, column, what, says",
    [
        (5, "constraint", ". > 0", "include the number itself"),
        (8, "type", "time", "HH:MM"),
        (17, "type", "audio", "any kind"),
        (18, "type", "barcode", "typed in as text"),
        (20, "constraint", "^(a+)+$", "nested repetition"),
        (22, "constraint", ". != ${a_text}", "no equivalent"),
        (23, "name", "Bad-Name", "renamed bad_name"),
        (24, "required", "${a_text} = 'x'", "required only sometimes"),
        (25, "relevant", "${an_integer} + 1 > 5", "arithmetic (+)"),
        (27, "type", "geopoint", "no map or location"),
        (28, "type", "geotrace", "no map or location"),
        (29, "type", "geoshape", "no map or location"),
        (30, "type", "calculate", "does not calculate"),
        (31, "type", "hidden", "no hidden questions"),
        (32, "type", "rank colours", "no ranking"),
        (33, "type", "select_one_from_file cities.csv", "separate file"),
        (34, "type", "begin_repeat", "asked once"),
        (37, "type", "start", "metadata"),
        (38, "type", "deviceid", "metadata"),
        (39, "type", "colour_picker", "no question of this type"),
    ],
)
def test_what_cannot_be_mapped_is_listed_by_row_and_column(rules, row, column, what, says):
    definition, unmapped = read_fixture("every_type.xlsx", rules)
    matches = [i for i in unmapped if (i.sheet, i.row, i.column) == ("survey", row, column)]
    assert matches, f"nothing listed for row {row}, {column}"
    assert matches[0].what == what
    assert says in matches[0].message()


def test_left_out_questions_are_not_in_the_definition(rules):
    definition, _ = read_fixture("every_type.xlsx", rules)
    names = set(by_name(definition))
    for left_out in ("a_geopoint", "a_calculate", "a_hidden", "a_rank", "a_from_file",
                     "start", "deviceid", "a_colour"):  # fmt: skip
        assert left_out not in names
    assert "a_slow_pattern" in names and "pattern" not in by_name(definition)["a_slow_pattern"]


# --- the round trip ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["change_request.xlsx", "every_type.xlsx"])
def test_reading_the_export_gives_back_the_same_definition(rules, name):
    definition, _ = read_fixture(name, rules)
    exported = write_xlsform(definition)
    again, unmapped = read_xlsform(exported, name, rules)
    assert again == definition
    assert unmapped == []  # everything the export writes can be read back


def test_the_shipped_change_request_form_survives_the_trip_out_and_back(rules):
    """Money with currencies, placeholders, file kinds and seven languages: what XLSForm
    has no column for travels in the portal column."""
    data = parse_definition_text(SHIPPED_FORM.read_text(), str(SHIPPED_FORM))
    data.pop("chain")  # an approval chain is not part of an XLSForm
    again, unmapped = read_xlsform(write_xlsform(data), "change-request.xlsx", rules)
    assert unmapped == []
    assert load_definition(again, rules) == load_definition(data, rules)


EVERY_DEFAULT = Path(__file__).with_name("every_default.yaml")


def test_a_default_answer_of_every_kind_goes_out_in_the_default_column_and_comes_back(rules):
    data = parse_definition_text(EVERY_DEFAULT.read_text(), str(EVERY_DEFAULT))
    exported = write_xlsform(data)
    again, unmapped = read_xlsform(exported, "every-default.xlsx", rules)
    assert unmapped == []
    assert load_definition(again, rules) == load_definition(data, rules)
    book = openpyxl.load_workbook(io.BytesIO(exported))
    header = [cell.value for cell in book["survey"][1]]
    rows = {row[1]: dict(zip(header, row, strict=False)) for row in book["survey"].iter_rows(
        min_row=2, values_only=True)}  # fmt: skip
    assert rows["colour"]["default"] == "green"  # the standard XLSForm column
    assert rows["extras"]["default"] == "wifi coffee"
    assert rows["budget"]["default"] == "1250.5"
    assert rows["due"]["default"] == "2026-03-31"
    assert rows["agree"]["default"] == "OK"
    assert not rows["newsletter"]["default"]  # an unticked box: XLSForm has no word for it
    assert '"default": false' in rows["newsletter"]["portal"]


@pytest.mark.parametrize(
    "default",
    ["costs ${budget} or more", "see note(2)", " padded ", ["a b"]],
    ids=["reference", "function", "spaces", "choice-with-space"],
)
def test_a_default_the_default_column_would_misread_travels_in_the_portal_column(rules, default):
    kind = "multiselect" if isinstance(default, list) else "text"
    field = {"name": "q", "type": kind, "label": "Q", "default": default}
    if kind == "multiselect":
        field["options"] = ["a b", "c"]
    data = {"name": "f", "title": "T", "fields": [field]}
    again, unmapped = read_xlsform(write_xlsform(data), "f.xlsx", rules)
    assert unmapped == []
    assert again["fields"][0]["default"] == default


def test_the_export_has_the_three_xlsform_sheets_and_language_columns(rules):
    definition, _ = read_fixture("change_request.xlsx", rules)
    book = openpyxl.load_workbook(io.BytesIO(write_xlsform(definition)))
    assert book.sheetnames == ["survey", "choices", "settings"]
    header = [cell.value for cell in book["survey"][1]]
    assert header[:5] == ["type", "name", "label::English (en)", "label::French (fr)",
                          "label::Chinese (Simplified) (zh-Hans)"]  # fmt: skip
    rows = [[cell.value for cell in row] for row in book["survey"].iter_rows(min_row=2)]
    reason_other = next(row for row in rows if row[1] == "reason_other")
    assert "${reason} = 'other'" in reason_other
    settings = [cell.value for cell in book["settings"][2]]
    assert settings[:3] == ["Change request", "change-request", "English (en)"]


def test_a_label_starting_with_an_equals_sign_stays_text_in_the_export(rules):
    data = {"name": "f", "title": "T", "fields": [
        {"name": "a", "type": "text", "label": "=HYPERLINK(\"http://x\")"}]}  # fmt: skip
    book = openpyxl.load_workbook(io.BytesIO(write_xlsform(data)))
    cell = book["survey"]["C2"]
    assert cell.data_type == "s" and cell.value == '=HYPERLINK("http://x")'


def test_an_empty_draft_exports_too():
    book = openpyxl.load_workbook(io.BytesIO(write_xlsform({"name": "x", "title": "X"})))
    assert book["survey"].max_row == 1


# --- conditions ----------------------------------------------------------------------------

KINDS = {
    "reason": "select", "systems": "multiselect", "amount": "number", "x": "text",
    "ok": "checkbox", "start": "date", "end": "date", "kind": "radio",
}  # fmt: skip
NAMES = {name: name for name in KINDS}


@pytest.mark.parametrize(
    "relevant, condition",
    [
        ("${reason} = 'other'", "reason == 'other'"),
        ("selected(${systems}, 'crm')", "'crm' in systems"),
        ("selected(${kind}, 'a')", "kind == 'a'"),
        ("${amount} > 100 and ${x} != ''", "amount > 100 and x"),
        ("${x} = ''", "not x"),
        ("not(selected(${systems}, 'erp'))", "not ('erp' in systems)"),
        ("${amount} >= 10 or ${reason} = 'legal' and ${x} != ''",
         "amount >= 10 or reason == 'legal' and x"),
        ("(${amount} < 5 or ${amount} > 50) and ${x} = 'y'",
         "(amount < 5 or amount > 50) and x == 'y'"),
        ("${ok} = 'OK'", "ok"),
        ("count-selected(${systems}) > 0", "systems"),
        ("count-selected(${systems}) = 0", "not systems"),
        ("${end} >= ${start}", "end >= start"),
        ("${start} > date('2026-01-01')", "start > '2026-01-01'"),
        ("100 < ${amount}", "amount > 100"),
        ("${amount} != -1.5", "amount != -1.5"),
        ("contains(${x}, \"it's\")", "\"it's\" in x"),
    ],
)  # fmt: skip
def test_relevant_becomes_visible_if(relevant, condition):
    assert relevant_to_condition(relevant, KINDS, NAMES) == condition


@pytest.mark.parametrize(
    "relevant, says",
    [
        ("${amount} + 1 > 5", "arithmetic"),
        ("${start} < today()", "today()"),
        ("${missing} = 'a'", "${missing} is not a question the portal kept"),
        ("${systems} = 'crm'", "selected()"),
        ("count-selected(${systems}) > 2", "not other counts"),
        ("/data/x = 'a'", "no equivalent"),
        ("${reason} = ", "ends too early"),
        ("", "empty"),
    ],
)
def test_relevant_the_portal_cannot_say_is_refused_with_a_reason(relevant, says):
    with pytest.raises(ExpressionError) as caught:
        relevant_to_condition(relevant, KINDS, NAMES)
    assert says in str(caught.value)


@pytest.mark.parametrize(
    "condition",
    [
        "reason == 'other'",
        "'crm' in systems",
        "amount > 100 and x",
        "not x",
        "ok",
        "not ok",
        "(amount < 5 or amount > 50) and x == 'y'",
        "end >= start",
        "not ('erp' in systems)",
        '"it\'s" in x',
    ],
)
def test_a_condition_written_as_relevant_reads_back_the_same(condition):
    assert relevant_to_condition(condition_to_relevant(condition, KINDS), KINDS, NAMES) == condition


def test_a_list_condition_is_written_as_alternatives():
    relevant = condition_to_relevant("reason in ['a', 'b']", KINDS)
    assert relevant == "(${reason} = 'a' or ${reason} = 'b')"


# --- constraints, required, defaults, names ---------------------------------------------------


def survey_with(*rows, header=("type", "name", "label", "constraint", "required", "default")):
    return workbook([list(header), *[list(row) for row in rows]],
                    [["list_name", "name", "label"], ["c", "a", "A"], ["c", "b", "B"]])  # fmt: skip


@pytest.mark.parametrize(
    "xls_type, constraint, expected",
    [
        ("decimal", ". >= 0 and . <= 100", {"min": 0, "max": 100}),
        ("decimal", "0 <= . and 100 >= .", {"min": 0, "max": 100}),
        ("integer", ". > 0 and . < 10", {"min": 1, "max": 9}),
        ("decimal", ". >= -2.5", {"min": -2.5}),
        ("text", "string-length(.) <= 200", {"max_length": 200}),
        ("text", "string-length(.) > 3", {"min_length": 4}),
        ("text", "regex(., '^[A-Z]{2}-\\d{4}$')", {"pattern": "^[A-Z]{2}-\\d{4}$"}),
        ("date", ". >= date('2026-01-01') and . < date('2027-01-01')",
         {"min": "2026-01-01", "max": "2026-12-31"}),
        ("dateTime", ". >= '2026-01-31T09:00'", {"min": "2026-01-31T09:00"}),
    ],
)  # fmt: skip
def test_constraints_become_bounds_lengths_and_patterns(rules, xls_type, constraint, expected):
    data = survey_with([xls_type, "q", "Q", constraint])
    definition, unmapped = read_xlsform(data, "t.xlsx", rules)
    field = definition["fields"][0]
    assert {key: field.get(key) for key in expected} == expected
    assert not [i for i in unmapped if i.column == "constraint"]


@pytest.mark.parametrize(
    "xls_type, constraint",
    [
        ("text", "regex(., '(?=x)a')"),  # lookahead: refused by the safe pattern rules
        ("text", ". >= 5"),  # a bound on text
        ("date", ". <= today()"),
        ("select_one c", "${q} != 'a'"),
        ("decimal", ". >= 1 or . = 0"),
    ],
)
def test_constraints_the_portal_cannot_keep_are_listed(rules, xls_type, constraint):
    data = survey_with([xls_type, "q", "Q", constraint])
    definition, unmapped = read_xlsform(data, "t.xlsx", rules)
    assert [i.column for i in unmapped if i.row == 2] == ["constraint"]
    assert load_definition(definition, rules)  # what was kept still loads


@pytest.mark.parametrize("value", ["yes", "Yes", "TRUE()", "true", "true()", True, 1])
def test_required_reads_every_spelling_of_yes(rules, value):
    definition, _ = read_xlsform(survey_with(["text", "q", "Q", None, value]), "t.xlsx", rules)
    assert definition["fields"][0]["required"] is True


@pytest.mark.parametrize("value", ["no", "false", "FALSE()", False, None])
def test_required_no_leaves_the_question_optional(rules, value):
    data = survey_with(["text", "q", "Q", None, value])
    definition, unmapped = read_xlsform(data, "t.xlsx", rules)
    assert "required" not in definition["fields"][0]
    assert unmapped == []


def test_a_default_that_is_not_a_choice_is_listed_not_kept(rules):
    definition, unmapped = read_xlsform(
        survey_with(["select_one c", "q", "Q", None, None, "zzz"]), "t.xlsx", rules
    )
    assert "default" not in definition["fields"][0]
    assert places(unmapped) == {("survey", 2, "default")}


def test_names_are_made_portal_names_and_conditions_follow_them(rules):
    data = survey_with(
        ["text", "Q1", "First"],
        ["text", "q1", "Second"],
        ["text", "Third", "Third", None, None, None, "${Q1} != ''"],
        header=("type", "name", "label", "constraint", "required", "default", "relevant"),
    )
    definition, unmapped = read_xlsform(data, "t.xlsx", rules)
    assert [f["name"] for f in definition["fields"]] == ["q1", "q1_2", "third"]
    assert definition["fields"][2]["visible_if"] == "q1"
    assert {i.what for i in unmapped if i.column == "name"} == {"Q1", "q1", "Third"}


def test_a_select_whose_list_is_missing_is_left_out(rules):
    data = survey_with(["select_one nope", "q", "Q"], ["text", "kept", "Kept"])
    definition, unmapped = read_xlsform(data, "t.xlsx", rules)
    assert [f["name"] for f in definition["fields"]] == ["kept"]
    assert "no list called nope" in unmapped[0].message()


def test_a_spreadsheet_with_no_question_the_portal_can_take_is_refused(rules):
    with pytest.raises(XLSFormError) as caught:
        read_xlsform(survey_with(["geopoint", "where", "Where?"]), "t.xlsx", rules)
    assert caught.value.message() == "no question in this spreadsheet could be taken over"
    assert [item.what for item in caught.value.unmapped] == ["geopoint"]


def test_or_other_adds_a_choice(rules):
    definition, unmapped = read_xlsform(
        survey_with(["select_one c or_other", "q", "Q"]), "t.xlsx", rules
    )
    options = definition["fields"][0]["options"]
    assert [o if isinstance(o, str) else o["value"] for o in options] == ["a", "b", "other"]
    assert "or_other" in unmapped[0].what


def test_a_group_inside_a_group_keeps_both_conditions(rules):
    data = survey_with(
        ["text", "a", "A"],
        ["begin group", "outer", "Outer", None, None, None, "${a} = 'x'"],
        ["begin group", "inner", "Inner", None, None, None, "${a} != 'y'"],
        ["text", "b", "B"],
        ["end group"],
        ["text", "c", "C"],
        ["end group"],
        ["begin group", "plain", None, None, None, None, "${a} = 'z'"],
        ["text", "d", "D"],
        ["end group"],
        header=("type", "name", "label", "constraint", "required", "default", "relevant"),
    )
    definition, unmapped = read_xlsform(data, "t.xlsx", rules)
    fields = by_name(definition)
    assert fields["outer"]["visible_if"] == "a == 'x'"
    assert fields["inner"]["visible_if"] == "a == 'x' and a != 'y'"
    assert "visible_if" not in fields["b"]
    assert fields["outer_continued"]["visible_if"] == "a == 'x'"  # c is not hidden with inner
    # after the outer group a heading (the form's title) keeps d from hiding with it;
    # the label-less group's condition goes on that heading
    assert fields["more_continued"]["label"] == "t"
    assert fields["more_continued"]["visible_if"] == "a == 'z'"
    assert [f["name"] for f in definition["fields"]] == [
        "a", "outer", "inner", "b", "outer_continued", "c", "more_continued", "d"]  # fmt: skip
    assert [i.column for i in unmapped] == ["type", "type"]
    assert load_definition(definition, rules)


# --- languages -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "column, code",
    [
        ("English (en)", "en"),
        ("Français (fr)", "fr"),
        ("Chinese (zh)", "zh_Hans"),
        ("中文 (zh)", "zh_Hans"),
        ("Chinese (zh-TW)", "zh_Hant"),
        ("Chinese (Simplified) (zh-Hans)", "zh_Hans"),
        ("Portuguese (pt-BR)", "pt_BR"),
        ("Arabic (ar)", "ar"),
        ("fr", "fr"),
        ("Français", "fr"),
        ("English", "en"),
        ("Deutsch", "de"),
        ("日本語", "ja"),
        ("eng", "en"),
        ("Elvish", None),
    ],
)
def test_language_columns_map_to_portal_codes(column, code):
    assert language_code(column) == code


def test_plain_columns_are_the_default_language_and_unknown_languages_are_listed(rules):
    data = workbook(
        [["type", "name", "label", "label::Français (fr)", "label::Elvish"],
         ["text", "q", "Name", "Nom", "pong"]],
        settings=[["form_title", "default_language"], ["Formulaire", "Français (fr)"]],
    )  # fmt: skip
    definition, unmapped = read_xlsform(data, "t.xlsx", rules)
    assert definition["default_language"] == "fr"
    assert definition["title"] == "Formulaire"
    assert definition["fields"][0]["label"] == "Nom"  # the fr column wins over the plain one
    assert [(i.row, i.column) for i in unmapped] == [(1, "label::Elvish")]


def test_without_default_language_the_first_language_column_is_the_default(rules):
    data = workbook([["type", "name", "label::Français (fr)", "label::English (en)"],
                     ["text", "q", "Nom", "Name"]])  # fmt: skip
    definition, _ = read_xlsform(data, "Enquête.xlsx", rules)
    assert definition["default_language"] == "fr"
    assert definition["title"] == "Enquête"  # no settings sheet: the file's name
    assert definition["fields"][0]["label"] == {"fr": "Nom", "en": "Name"}


# --- files that are not XLSForms ---------------------------------------------------------------


@pytest.mark.parametrize(
    "data, filename, says",
    [
        (b"%PDF-1.7 not a spreadsheet", "form.xlsx", "not an .xlsx spreadsheet"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "form.xls", "97-2003 .xls"),
        (b"PK\x03\x04 broken zip", "form.xlsx", "not an .xlsx spreadsheet"),
        (b"anything", "form.ods", "OpenDocument"),
    ],
)
def test_a_file_that_is_no_xlsx_is_refused_with_a_clear_reason(data, filename, says):
    with pytest.raises(XLSFormError) as caught:
        read_xlsform(data, filename)
    assert says in caught.value.message()


def test_a_zip_that_is_not_a_workbook_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(XLSFormError, match="not an .xlsx spreadsheet"):
        read_xlsform(buffer.getvalue(), "x.xlsx")


def test_a_zip_bomb_is_refused_before_it_is_unpacked():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * (41 * 1024 * 1024))
    assert len(buffer.getvalue()) < 1024 * 1024
    with pytest.raises(XLSFormError, match="unpacks to more than"):
        read_xlsform(buffer.getvalue(), "x.xlsx")


def test_a_workbook_without_a_survey_sheet_is_refused():
    book = openpyxl.Workbook()
    book.active.title = "data"
    buffer = io.BytesIO()
    book.save(buffer)
    with pytest.raises(XLSFormError, match="no sheet called survey"):
        read_xlsform(buffer.getvalue(), "x.xlsx")


def test_a_condition_xlsform_cannot_say_travels_in_the_portal_column(rules):
    data = {"name": "conditions", "title": "Conditions", "fields": [
        {"name": "s", "type": "multiselect", "label": "S", "options": ["a", "b"]},
        {"name": "t", "type": "text", "label": "T"},
        {"name": "sec", "type": "section", "label": "Sec", "visible_if": "s == 'a'"},
        {"name": "u", "type": "text", "label": "U", "visible_if": "t == 'it\\'s \"x\"'"},
        {"name": "end", "type": "section", "label": "End", "visible_if": "s == 'b'"},
    ]}  # fmt: skip
    again, unmapped = read_xlsform(write_xlsform(data), "conditions.xlsx", rules)
    assert again == data and unmapped == []


def test_a_broken_condition_in_the_portal_column_is_listed(rules):
    data = workbook([["type", "name", "label", "portal"],
                     ["text", "a", "A", ""],
                     ["text", "b", "B", '{"visible_if": "a = 1"}']])  # fmt: skip
    definition, unmapped = read_xlsform(data, "t.xlsx", rules)
    assert "visible_if" not in definition["fields"][1]
    assert [(i.row, i.column) for i in unmapped] == [(3, "portal")]
