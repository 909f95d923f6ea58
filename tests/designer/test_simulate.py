"""The dry run of a chain: the real engine decides which steps run and who is asked."""

from __future__ import annotations

from pathlib import Path

import yaml

from portal.approvals.definition import load_chain
from portal.designer.simulate import simulate

SHIPPED = Path(__file__).resolve().parents[2] / "portal/forms/library/change-request.yaml"
PEOPLE = {("role", "approver"): [11, 12], ("group", "ccb"): [21, 22, 23], ("role", "admin"): [1]}


def shipped_chain():
    data = yaml.safe_load(SHIPPED.read_text())
    fields = {f["name"] for f in data["fields"] if f["type"] != "section"}
    return load_chain(data["chain"], field_names=fields)


def resolve(rule):
    return PEOPLE.get((rule.name, rule.params), [])


def by_name(result):
    return {run.step.name: run for run in result.steps}


def test_a_low_impact_change_goes_to_the_review_and_skips_the_board():
    result = simulate(shipped_chain(), {"impact_cost": "low"}, resolve=resolve, requester_id=5)
    runs = by_name(result)
    assert result.assessment.overall == "low"
    assert result.runs() == [
        "analysis",
        "review",
        "confirmation",
        "plan_adjustment",
        "implementation",
        "feedback",
    ]
    assert runs["ccb_review"].status == "skipped"
    assert runs["ccb_review"].when == "impact == 'high'"
    assert runs["review"].people == (11, 12)
    assert runs["confirmation"].people == (5,)
    assert result.status == "completed"


def test_a_high_impact_change_goes_to_the_board_with_its_quorum():
    answers = {"impact_risk": "high", "business_value": "low"}
    result = simulate(shipped_chain(), answers, resolve=resolve, requester_id=5)
    runs = by_name(result)
    assert (result.assessment.overall, result.assessment.priority) == ("high", "medium")
    assert runs["review"].status == "skipped"
    assert runs["ccb_review"].status == "runs"
    assert runs["ccb_review"].people == (21, 22, 23)
    assert runs["ccb_review"].needed == 2


def test_a_step_without_enough_people_shows_as_blocked_and_the_run_goes_on():
    people = {("role", "approver"): [11], ("group", "ccb"): [21]}
    result = simulate(
        shipped_chain(),
        {"impact_cost": "high"},
        resolve=lambda r: people.get((r.name, r.params), []),
    )
    runs = by_name(result)
    assert runs["ccb_review"].status == "blocked"
    assert runs["ccb_review"].reason == "quorum_unreachable"
    assert runs["ccb_review"].people == (21,)
    assert runs["feedback"].status == "runs"
    assert result.status == "completed"


def test_the_requester_is_never_asked_to_approve_their_own_request():
    result = simulate(shipped_chain(), {}, resolve=resolve, requester_id=11)
    assert by_name(result)["review"].people == (12,)
