"""The chain designer's edits, on plain dicts: what an admin's clicks do to the chain."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from portal.approvals.definition import load_chain
from portal.designer import chain_editing as edit
from portal.designer.chain_forms import (
    apply_step_form,
    condition_from_form,
    escalation_choice,
    escalation_rule,
    impact_from_form,
    pickers_for,
    rules_from_form,
)

LANGS = ("en", "zh_Hans")


def names(chain):
    return [entry.step["name"] for entry in edit.flatten(chain)]


def test_steps_are_added_with_free_names_and_a_default_assignee():
    chain = edit.add_step({}, "approval")
    chain = edit.add_step(chain, "approval")
    chain = edit.add_step(chain, "confirmation")
    assert chain["steps"] == [
        {"name": "approval", "kind": "approval", "assignees": {"role": "approver"}},
        {"name": "approval_2", "kind": "approval", "assignees": {"role": "approver"}},
        {"name": "confirmation", "kind": "confirmation"},
    ]
    load_chain(chain, field_names=set())  # a chain the loader accepts


def test_moving_and_removing_keep_the_rest_in_order():
    chain = {}
    for kind in ("task", "approval", "feedback"):
        chain = edit.add_step(chain, kind)
    assert names(edit.move_step(chain, 2, -1)) == ["task", "feedback", "approval"]
    assert names(edit.move_step(chain, 0, 1)) == ["approval", "task", "feedback"]
    assert names(edit.move_step(chain, 0, -1)) == ["task", "approval", "feedback"]  # stays
    assert names(edit.move_step(chain, 0, 10)) == ["approval", "feedback", "task"]
    assert names(edit.remove_step(chain, 1)) == ["task", "feedback"]
    with pytest.raises(IndexError):
        edit.remove_step(chain, 3)


def test_a_step_joined_to_the_one_before_makes_a_parallel_group():
    chain = {}
    for kind in ("task", "approval", "approval", "confirmation"):
        chain = edit.add_step(chain, kind)
    chain = edit.set_parallel(chain, 2, True)
    assert chain["steps"][1] == {
        "parallel": [
            {"name": "approval", "kind": "approval", "assignees": {"role": "approver"}},
            {"name": "approval_2", "kind": "approval", "assignees": {"role": "approver"}},
        ]
    }
    assert edit.step_paths(chain) == [
        "chain.steps[0]",
        "chain.steps[1].parallel[0]",
        "chain.steps[1].parallel[1]",
        "chain.steps[2]",
    ]
    assert len(load_chain(chain, field_names=set()).stages) == 3
    # removing the group's first step leaves a plain step, not a group of one
    single = edit.remove_step(chain, 1)
    assert [s.get("name") for s in single["steps"]] == ["task", "approval_2", "confirmation"]
    # the first step cannot join a step before it
    assert edit.set_parallel(chain, 0, True)["steps"][0]["name"] == "task"


def test_changing_the_kind_drops_what_the_kind_cannot_have():
    chain = edit.add_step({}, "approval")
    chain = edit.set_decision(chain, 0, "quorum", "2", veto=True, keep_approvals=True)
    assert chain["steps"][0]["decide"] == {"quorum": 2}
    confirmation = edit.set_kind(chain, 0, "confirmation")
    assert confirmation["steps"][0] == {"name": "approval", "kind": "confirmation"}
    task = edit.set_kind(confirmation, 0, "task")
    assert task["steps"][0] == {
        "name": "approval",
        "kind": "task",
        "assignees": {"role": "approver"},
    }


def test_what_was_typed_is_kept_even_when_wrong():
    chain = edit.add_step({}, "approval")
    chain = edit.set_decision(chain, 0, "quorum", "two")
    assert chain["steps"][0]["decide"] == {"quorum": "two"}
    assert edit.duration_text("three", "days", True) == "three working days"
    assert edit.duration_parts("three working days") == ("three working days", "days", False)


def test_durations_round_trip_through_the_picker():
    assert edit.duration_text("2", "days", True) == "2 working days"
    assert edit.duration_text("1", "hours", False) == "1 hour"
    assert edit.duration_text("", "days", True) is None
    assert edit.duration_parts("4 working hours") == ("4", "hours", True)
    assert edit.duration_parts("1 day") == ("1", "days", False)


def test_conditions_round_trip_through_the_picker():
    assert edit.condition_text("impact", "==", "high") == "impact == 'high'"
    assert edit.condition_text("affected_systems", "in", "erp") == "'erp' in affected_systems"
    assert edit.condition_text("", "==", "x") is None
    assert edit.condition_parts("impact != 'high'") == ("impact", "!=", "high")
    assert edit.condition_parts("'erp' in affected_systems") == ("affected_systems", "in", "erp")
    assert edit.condition_parts("budget > 5000") is None


def test_the_text_box_wins_when_changed_and_an_advanced_condition_stays():
    picked = MultiDict({"when_field": "impact", "when_op": "==", "when_value": "high"})
    assert condition_from_form(picked) == "impact == 'high'"
    typed = MultiDict(
        {
            "when_text": "budget > 5000",
            "when_before": "impact == 'high'",
            "when_field": "impact",
            "when_op": "==",
            "when_value": "high",
        }
    )
    assert condition_from_form(typed) == "budget > 5000"
    advanced = MultiDict({"when_text": "budget > 5000", "when_before": "budget > 5000"})
    assert condition_from_form(advanced) == "budget > 5000"
    cleared = MultiDict(
        {"when_before": "impact == 'high'", "when_text": "impact == 'high'", "when_field": ""}
    )
    assert condition_from_form(cleared) is None
    other_field = MultiDict(
        {
            "when_before": "impact == 'high'",
            "when_text": "impact == 'high'",
            "when_field": "reason",
            "when_op": "==",
            "when_value": "high",
        }
    )
    assert condition_from_form(other_field) == "reason == ''"


def test_pickers_read_and_write_the_rules():
    rules = [
        {"user": ["ana@example.com", "bo@example.com"]},
        {"role": "approver"},
        {"group": "ccb"},
        {"org_approvers": True},
        {"field": "reviewer"},
        {"teams": "blue"},
        {"grop": "ccb"},
    ]
    pickers = pickers_for(rules, plugin_rules={"teams"})
    assert pickers.users == ["ana@example.com", "bo@example.com"]
    assert pickers.plugin == {"teams": "blue"}
    assert pickers.other == ["{grop: ccb}"]
    form = MultiDict(
        [
            ("users", "ana@example.com"),
            ("users", "bo@example.com"),
            ("roles", "approver"),
            ("groups", "ccb"),
            ("org_approvers", "1"),
            ("fields", "reviewer"),
            ("rule:teams", "blue"),
            ("other_rules", "{grop: ccb}"),
        ]
    )
    assert rules_from_form(form, {"teams"}) == rules


def test_escalation_choices():
    for rule in (
        {"role": "admin"},
        {"group": "ccb"},
        {"org_approvers": True},
        {"user": "ana@example.com"},
        {"teams": "blue"},
    ):
        assert escalation_rule(*escalation_choice(rule)) == rule
    assert escalation_rule("", "") is None


def test_a_step_form_sets_every_setting():
    chain = edit.add_step({}, "task")
    form = MultiDict(
        {
            "name": "ccb_review",
            "kind": "approval",
            "label_en": "Board",
            "label_zh_Hans": "委员会",
            "pickers": "1",
            "groups": "ccb",
            "decide": "quorum",
            "decide_count": "2",
            "veto": "1",
            "keep_approvals": "1",
            "when_field": "impact",
            "when_op": "==",
            "when_value": "high",
            "deadline_amount": "5",
            "deadline_unit": "days",
            "deadline_time": "working",
            "remind_amount": "1",
            "remind_unit": "days",
            "remind_time": "working",
            "escalate": "role:admin",
        }
    )
    chain = apply_step_form(chain, 0, form, languages=LANGS)
    assert chain["steps"][0] == {
        "name": "ccb_review",
        "kind": "approval",
        "label": {"en": "Board", "zh_Hans": "委员会"},
        "assignees": {"group": "ccb"},
        "decide": {"quorum": 2},
        "veto": True,
        "keep_approvals_on_send_back": True,
        "when": "impact == 'high'",
        "deadline": "5 working days",
        "remind_before": "1 working day",
        "escalate_to": {"role": "admin"},
    }
    load_chain(chain, field_names=set())


def test_the_impact_form_sets_fields_and_bounds():
    chain = edit.add_step({}, "task")
    form = MultiDict(
        {
            "field_cost": "cost_percent",
            "low_cost": "2",
            "medium_cost": "10",
            "field_time": "-",
            "field_resources": "impact_resources",
            "field_risk": "impact_risk",
        }
    )
    chain = impact_from_form(chain, form, ("cost", "time", "resources", "risk"))
    assert list(chain) == ["impact", "steps"]
    loaded = load_chain(chain, field_names={"cost_percent", "impact_resources", "impact_risk"})
    assert loaded.impact.to_dict() == {
        "fields": {"cost": "cost_percent", "time": None},
        "thresholds": {"cost": {"low": 2, "medium": 10}, "time": None},
    }
