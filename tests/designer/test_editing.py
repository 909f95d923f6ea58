"""The designer's edits as pure operations on a definition dict: no app, no database."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from portal.default_plugins.field_types import BUILT_IN_TYPES
from portal.designer import editing, posted
from portal.designer.diff import difference
from portal.forms.definition import load_definition
from portal.forms.patterns import check_pattern

RULES = {t.rules.name: t.rules for t in BUILT_IN_TYPES}  # the classes carry their rules


def form(*fields) -> dict:
    return {"name": "site-visit", "title": {"en": "Site visit"}, "fields": list(fields)}


def test_added_fields_get_free_names_and_choices_when_their_type_needs_them():
    data = form()
    first = editing.add_field(data, RULES["text"], "Question 1")
    second = editing.add_field(data, RULES["text"], "Question 2")
    choice = editing.add_field(data, RULES["radio"], "Question 3")
    assert (first, second, choice) == (0, 1, 2)
    assert [f["name"] for f in data["fields"]] == ["text", "text_2", "radio"]
    assert [o["value"] for o in data["fields"][2]["options"]] == ["option_1", "option_2"]
    assert data["fields"][2]["options"][0]["label"] == {"en": "Option 1"}
    load_definition(data, RULES)  # what the designer adds is valid as it stands


def test_move_and_remove_keep_the_other_fields_in_order():
    data = form(*({"name": n, "type": "text", "label": n} for n in "abcd"))
    assert editing.move_field(data, 3, 0) == 0
    assert [f["name"] for f in data["fields"]] == ["d", "a", "b", "c"]
    assert editing.move_field(data, 0, 99) == 3  # beyond the end: to the end
    assert editing.remove_field(data, 1)["name"] == "b"
    assert [f["name"] for f in data["fields"]] == ["a", "c", "d"]
    with pytest.raises(editing.EditError):
        editing.remove_field(data, 3)


def test_a_text_set_in_one_language_keeps_the_others_and_an_empty_one_goes():
    field = {"label": "Reason"}  # plain text: the form's default language
    editing.set_text(field, "label", "de", "Grund", "en")
    assert field["label"] == {"en": "Reason", "de": "Grund"}
    editing.set_text(field, "label", "en", "  ", "en")
    assert field["label"] == {"de": "Grund"}
    editing.set_text(field, "label", "de", "", "en")
    assert "label" not in field


def test_a_type_change_keeps_what_the_new_type_accepts():
    data = form(
        {"name": "code", "type": "text", "label": "Code", "required": True, "max_length": 9,
         "help": "On the badge"}
    )  # fmt: skip
    editing.set_type(data, 0, RULES["select"], "Option %(number)d")
    field = data["fields"][0]
    assert field["type"] == "select"
    assert field["required"] is True and field["help"] == "On the badge"
    assert "max_length" not in field
    assert len(field["options"]) == 2
    editing.set_type(data, 0, RULES["section"], "Option %(number)d")
    assert set(data["fields"][0]) == {"name", "type", "label", "help"}


def test_options_are_added_moved_and_removed():
    data = form({"name": "site", "type": "select", "label": "Site", "options": ["paris", "lyon"]})
    assert editing.add_option(data, 0, "Option 3") == 2
    options = data["fields"][0]["options"]
    assert options[0] == {"value": "paris", "label": {"en": "paris"}}
    assert options[2]["value"] == "option_3"
    editing.move_option(data, 0, 2, 0)
    assert [o["value"] for o in data["fields"][0]["options"]] == ["option_3", "paris", "lyon"]
    editing.remove_option(data, 0, 1)
    assert [o["value"] for o in data["fields"][0]["options"]] == ["option_3", "lyon"]


@pytest.mark.parametrize(
    ("picked", "source"),
    [
        (("reason", "eq", "other", False), "reason == 'other'"),
        (("reason", "ne", "it's", False), 'reason != "it\'s"'),
        (("budget", "gt", "5000", True), "budget > 5000"),
        (("budget", "eq", "12.5", True), "budget == 12.5"),
        (("systems", "contains", "erp", False), "'erp' in systems"),
        (("urgent", "answered", "", False), "urgent"),
        (("urgent", "not_answered", "", False), "not urgent"),
    ],
)
def test_picked_conditions_are_written_and_read_back(picked, source):
    assert editing.condition_source(*picked) == source
    name, operator, value, _numeric = picked
    assert editing.simple_condition(source) == (name, operator, value)


def test_conditions_the_pickers_cannot_show_stay_in_the_advanced_box():
    assert editing.simple_condition("a == 'x' and b") is None
    assert editing.simple_condition("reason in ['a', 'b']") is None
    assert editing.simple_condition("not valid ===") is None


def test_every_pattern_preset_is_safe():
    for name, pattern in editing.PATTERN_PRESETS.items():
        assert check_pattern(pattern) is None, name


def test_numbers_typed_in_are_numbers_and_anything_else_is_kept_as_typed():
    assert editing.parse_number("12") == 12
    assert editing.parse_number("2,5") == 2.5
    assert editing.parse_number("twelve") == "twelve"
    assert editing.parse_whole("7") == 7
    assert editing.parse_whole("-1") == "-1"
    assert editing.parse_list("eur, USD;cny") == ["eur", "USD", "cny"]


# --- the posted editor -----------------------------------------------------------------------


def test_posted_values_land_in_their_field_and_stale_ones_are_ignored():
    data = form({"name": "where", "type": "text", "label": "Where?"})
    values = MultiDict(
        [
            ("form.title.de", "Ortstermin"),
            ("f0.key", "where"),
            ("f0.label.de", "Wo?"),
            ("f0.required", ""),
            ("f0.required", "1"),
            ("f0.max_length", "80"),
            ("f0.pattern_preset", "digits"),
            ("f1.key", "gone"),  # a field the page showed that is no longer there
            ("f1.label.en", "lost"),
        ]
    )
    posted.apply(data, values, RULES)
    field = data["fields"][0]
    assert data["title"] == {"en": "Site visit", "de": "Ortstermin"}
    assert field["label"] == {"en": "Where?", "de": "Wo?"}
    assert field["required"] is True and field["max_length"] == 80
    assert field["pattern"] == editing.PATTERN_PRESETS["digits"]
    assert len(data["fields"]) == 1


def test_a_wrong_number_is_kept_for_the_loader_to_report():
    data = form({"name": "age", "type": "number", "label": "Age"})
    posted.apply(data, MultiDict({"f0.key": "age", "f0.min": "ten"}), RULES)
    assert data["fields"][0]["min"] == "ten"


def test_the_pressed_button_moves_and_the_move_is_announced():
    data = form(*({"name": n, "type": "text", "label": n} for n in "abc"))
    outcome = posted.apply(data, MultiDict({"op": "up:2"}), RULES)
    assert [f["name"] for f in data["fields"]] == ["a", "c", "b"]
    assert outcome.announce == ("moved", {"index": 1, "count": 3})
    posted.apply(data, MultiDict({"drag": "0:2"}), RULES)
    assert [f["name"] for f in data["fields"]] == ["c", "b", "a"]


def test_a_simple_condition_is_made_from_the_pickers():
    data = form(
        {"name": "reason", "type": "select", "label": "Reason", "options": ["legal", "other"]},
        {"name": "other", "type": "text", "label": "Which?"},
    )
    values = MultiDict(
        {"f1.key": "other", "f1.cond_mode": "simple", "f1.cond_field": "reason",
         "f1.cond_op": "eq", "f1.cond_value": "other"}
    )  # fmt: skip
    posted.apply(data, values, RULES)
    assert data["fields"][1]["visible_if"] == "reason == 'other'"
    posted.apply(data, MultiDict({"f1.key": "other", "f1.cond_mode": "none"}), RULES)
    assert "visible_if" not in data["fields"][1]


def test_a_new_default_language_pins_the_plain_texts_to_the_old_one():
    data = form({"name": "site", "type": "select", "label": "Site", "options": ["paris"]})
    data["title"] = "Site visit"
    posted.apply(data, MultiDict({"form.default_language": "de"}), RULES)
    assert data["default_language"] == "de"
    assert data["title"] == {"en": "Site visit"}
    assert data["fields"][0]["label"] == {"en": "Site"}
    assert data["fields"][0]["options"] == [{"value": "paris", "label": {"en": "paris"}}]


# --- the difference shown before publishing -----------------------------------------------


def test_the_difference_names_fields_added_removed_changed_and_moved():
    old = form(
        {"name": "a", "type": "text", "label": "A"},
        {"name": "b", "type": "text", "label": {"en": "B", "de": "B"}},
        {"name": "c", "type": "text", "label": "C"},
    )
    new = form(
        {"name": "c", "type": "text", "label": "C"},
        {"name": "b", "type": "text", "label": {"en": "B", "de": "Bee"}, "required": True},
        {"name": "d", "type": "text", "label": "D"},
    )
    new["number_prefix"] = "SV"
    old["chain"] = {"steps": [{"name": "review", "kind": "approval"}]}
    new["chain"] = {"steps": [{"name": "review", "kind": "task"}, {"name": "done", "kind": "task"}]}
    found = difference(old, new)
    kinds = {(c.kind, c.name) for c in found.fields}
    assert kinds == {
        ("added", "d"),
        ("changed", "b"),
        ("removed", "a"),
        ("moved", "c"),
        ("moved", "b"),
    }
    changed = next(c for c in found.fields if c.kind == "changed")
    assert changed.keys == ("label.de", "required")
    assert found.form == ["number_prefix"]
    assert {(c.kind, c.name) for c in found.steps} == {("changed", "review"), ("added", "done")}
    assert difference(new, new).empty
