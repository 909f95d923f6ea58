"""Loading approval chains: what an admin sees for a good chain and for a bad one."""

import ast
import copy
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from portal.approvals.definition import (
    ChainDef,
    DecidePolicy,
    DefinitionError,
    Duration,
    Rule,
    StageDef,
    StepDef,
    load_chain,
)
from portal.approvals.impact import ImpactMatrix
from portal.approvals.rules import BUILT_IN_RULES, RuleSpec, check_rule_params

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ROOT / "portal" / "forms" / "library"
FORM = yaml.safe_load((LIBRARY / "change-request.yaml").read_text("utf-8"))
FIELDS = {f["name"] for f in FORM["fields"] if f["type"] != "section"}
SHIPPED = {"chain": yaml.safe_load((LIBRARY / "change-request.yaml").read_text("utf-8"))["chain"]}


def load(data, **kwargs):
    kwargs.setdefault("field_names", FIELDS | {"reviewer", "feasibility"})
    return load_chain(data, **kwargs)


def problems(data, **kwargs):
    with pytest.raises(DefinitionError) as caught:
        load(data, **kwargs)
    return [(p.path, p.message()) for p in caught.value.problems]


def one_step(**step):
    step.setdefault("name", "review")
    step.setdefault("kind", "approval")
    if step["kind"] in ("approval", "task"):
        step.setdefault("assignees", {"role": "approver"})
    return {"steps": [step]}


def step_problems(**step):
    return problems(one_step(**step))


# --- good chains -------------------------------------------------------------------------


def test_the_shipped_seven_step_chain_loads():
    chain = load(SHIPPED["chain"], field_names=FIELDS)
    assert [s.name for s in chain.steps] == [
        "analysis",
        "review",
        "ccb_review",
        "confirmation",
        "plan_adjustment",
        "implementation",
        "feedback",
    ]
    assert [s.kind for s in chain.steps] == [
        "task",
        "approval",
        "approval",
        "confirmation",
        "task",
        "task",
        "feedback",
    ]
    assert chain.step("review").when.source == "impact != 'high'"
    assert chain.step("ccb_review").decide == DecidePolicy("quorum", 2)
    assert chain.step("ccb_review").assignees == (Rule("group", "ccb"),)
    assert chain.step("confirmation").assignees == (Rule("requester", True),)
    assert chain.step("analysis").deadline == Duration(3, "days", working=True)
    assert chain.step("review").label["zh_Hans"] == "变更评审"
    assert chain.impact == ImpactMatrix()


def test_the_shipped_chain_names_only_fields_of_the_shipped_form():
    load(SHIPPED["chain"], field_names=FIELDS, rule_names=BUILT_IN_RULES)


def test_a_minimal_chain_gets_the_documented_defaults():
    chain = load(
        {
            "steps": [
                {"name": "review", "kind": "approval", "assignees": {"role": "approver"}},
                {"name": "confirm", "kind": "confirmation"},
            ]
        }
    )
    review = chain.step("review")
    assert review.decide == DecidePolicy("any")
    assert review.veto is True  # under any, one reject rejects
    assert review.when is None and review.deadline is None and review.escalate_to is None
    assert review.keep_approvals_on_send_back is False
    assert review.label == {}
    assert chain.step("confirm").assignees == (Rule("requester", True),)
    assert len(chain.stages) == 2 and not chain.stages[0].parallel
    assert chain.stage_of("confirm") == 1


RICH = {
    "impact": {
        "fields": {"cost": "budget_share", "risk": None},
        "thresholds": {"cost": {"low": 2, "medium": 10.5}, "time": None},
    },
    "steps": [
        {
            "name": "analysis",
            "kind": "task",
            "label": "Analysis",
            "assignees": [{"role": "approver"}, {"user": "lead@example.com"}],
            "deadline": "3 working days",
            "remind_before": "4 working hours",
            "escalate_to": {"role": "admin"},
        },
        {
            "parallel": [
                {
                    "name": "security",
                    "kind": "approval",
                    "label": {"en": "Security", "zh_Hans": "安全评审"},
                    "assignees": {"user": ["ana@example.com", "bo@example.com"]},
                    "decide": "all",
                },
                {
                    "name": "board",
                    "kind": "approval",
                    "assignees": {"group": "ccb"},
                    "decide": {"percent": 60},
                    "veto": True,
                    "when": "impact == 'high' or priority == 'high'",
                    "keep_approvals_on_send_back": True,
                },
                {
                    "name": "finance",
                    "kind": "approval",
                    "assignees": [{"org_approvers": True}, {"field": "reviewer"}],
                    "decide": {"quorum": 2},
                    "deadline": "2 days",
                    "remind_before": "12 hours",
                },
            ]
        },
        {"name": "confirm", "kind": "confirmation", "assignees": {"requester": True}},
        {"name": "rate", "kind": "feedback", "deadline": "1 day"},
    ],
}


def rich_fields():
    return FIELDS | {"budget_share", "reviewer"}


def test_a_rich_chain_loads_into_the_documented_dataclasses():
    chain = load(RICH, field_names=rich_fields())
    assert isinstance(chain, ChainDef)
    assert [len(stage.steps) for stage in chain.stages] == [1, 3, 1, 1]
    assert chain.stages[1].parallel
    assert chain.step("analysis").assignees == (
        Rule("role", "approver"),
        Rule("user", ("lead@example.com",)),
    )
    assert chain.step("analysis").label == {"en": "Analysis"}
    assert chain.step("security").assignees == (
        Rule("user", ("ana@example.com", "bo@example.com")),
    )
    assert chain.step("security").veto is True  # all: one reject rejects
    assert chain.step("board").decide == DecidePolicy("percent", 60)
    assert chain.step("board").veto is True
    assert chain.step("finance").veto is False  # quorum without veto: a reject only counts
    assert chain.step("finance").remind_before == Duration(12, "hours")
    assert chain.impact.fields == {
        "cost": "budget_share",
        "time": "impact_time",
        "resources": "impact_resources",
    }
    assert chain.impact.thresholds == {"cost": {"low": 2, "medium": 10.5}}


def test_to_dict_round_trips_through_load_chain_and_json():
    chain = load(RICH, field_names=rich_fields())
    data = json.loads(json.dumps(chain.to_dict(), ensure_ascii=False))
    assert load(data, field_names=rich_fields()) == chain
    assert data["steps"][2] == {"name": "confirm", "kind": "confirmation"}
    assert data["steps"][0]["assignees"][1] == {"user": "lead@example.com"}
    assert data["impact"] == {
        "fields": {"cost": "budget_share", "risk": None},
        "thresholds": {"cost": {"low": 2, "medium": 10.5}, "time": None},
    }


def test_the_shipped_chain_round_trips_and_is_already_canonical_but_for_defaults():
    chain = load(SHIPPED["chain"], field_names=FIELDS)
    data = chain.to_dict()
    assert "impact" not in data  # the shipped matrix is the default one
    assert load(yaml.safe_load(yaml.safe_dump(data, allow_unicode=True))) == chain


def test_dataclasses_are_frozen():
    chain = load(RICH, field_names=rich_fields())
    with pytest.raises(AttributeError):
        chain.stages = ()
    with pytest.raises(AttributeError):
        chain.step("board").veto = False
    assert isinstance(chain.stages[0], StageDef) and isinstance(chain.steps[0], StepDef)


def test_an_unknown_step_name_is_a_key_error():
    with pytest.raises(KeyError):
        load(one_step()).step("nope")


# --- every problem at once ---------------------------------------------------------------

BAD = """
steps:
  - name: review
    kind: aproval
  - name: ccb
    kind: approval
    assignees: {group: ccb}
    decide: {quorum: 3}
    veto: maybe
  - name: board
    kind: approval
    assignees: {user: [ana@example.com, bo@example.com]}
    decide: {quorum: 3}
  - parallel:
      - name: security
        kind: approval
        asignees: {role: approver}
      - name: finance
        kind: approval
        assignees: [{role: approver}, {teams: finance}]
        when: "budget > 5000 and colour == 'red'"
        deadline: 2 working days
        remind_before: 3 working days
  - name: review
    kind: task
"""

BAD_PROBLEMS = [
    (
        "chain.steps[0].kind",
        "unknown step kind 'aproval'; use one of approval, confirmation, task, feedback",
    ),
    ("chain.steps[1].veto", "veto must be true or false"),
    (
        "chain.steps[2].decide",
        "decide asks for 3 approvals, but the assignees name only 2 people",
    ),
    (
        "chain.steps[3].parallel[0]",
        "this approval step needs assignees: who acts on it, like {role: approver}",
    ),
    (
        "chain.steps[3].parallel[0].asignees",
        "unknown key 'asignees'; did you mean 'assignees'?",
    ),
    (
        "chain.steps[3].parallel[1].assignees[1]",
        "unknown rule 'teams'; known rules are field, group, org_approvers, requester, role, user",
    ),
    ("chain.steps[3].parallel[1].when", "there is no field named 'colour'"),
    (
        "chain.steps[3].parallel[1].remind_before",
        "remind_before (3 working days) must be shorter than the deadline (2 working days)",
    ),
    ("chain.steps[4]", "this task step needs assignees: who acts on it, like {role: approver}"),
    ("chain.steps[4].name", "the name 'review' is already used by chain.steps[0]"),
]


def test_every_problem_is_reported_at_once_in_document_order():
    assert problems(yaml.safe_load(BAD)) == BAD_PROBLEMS


def test_the_error_lists_every_problem_with_its_path():
    with pytest.raises(DefinitionError) as caught:
        load(yaml.safe_load(BAD))
    text = str(caught.value)
    assert text.startswith("10 problems in the form definition:\n")
    assert "  chain.steps[3].parallel[1].when: there is no field named 'colour'" in text


def test_the_path_prefix_follows_the_caller():
    assert problems({"steps": []}, path="forms[2].chain") == [
        ("forms[2].chain.steps", "steps must be a list with at least one step")
    ]


# --- the chain and its steps -------------------------------------------------------------


@pytest.mark.parametrize(
    "data, expected",
    [
        (
            ["a"],
            [("chain", "a chain must be a mapping with a list of steps: {steps: [...]}")],
        ),
        ({}, [("chain", "steps is required: a list of the chain's steps")]),
        ({"steps": []}, [("chain.steps", "steps must be a list with at least one step")]),
        ({"steps": "review"}, [("chain.steps", "steps must be a list with at least one step")]),
        (
            {
                "steps": [{"name": "a", "kind": "task", "assignees": {"role": "approver"}}],
                "stps": 1,
            },
            [("chain.stps", "unknown key 'stps'; did you mean 'steps'?")],
        ),
        (
            {"steps": ["review"]},
            [("chain.steps[0]", "each step must be a mapping with at least name and kind")],
        ),
        (
            {"steps": [{"kind": "task", "assignees": {"role": "approver"}}]},
            [("chain.steps[0]", "name is required")],
        ),
        (
            {"steps": [{"name": "a"}]},
            [("chain.steps[0]", "kind is required: one of approval, confirmation, task, feedback")],
        ),
    ],
)
def test_chain_shape_problems(data, expected):
    assert problems(data) == expected


@pytest.mark.parametrize("name", ["Review", "1st", "with-hyphen", "a" * 64, 7, ""])
def test_a_step_name_must_be_a_lower_case_identifier(name):
    assert step_problems(name=name) == [
        (
            "chain.steps[0].name",
            f"'{name}' is not a valid step name: start with a lower-case letter, then use "
            "lower-case letters, digits and _ (at most 63)",
        )
    ]


def test_names_are_unique_across_parallel_groups_too():
    data = {
        "steps": [
            {"name": "a", "kind": "task", "assignees": {"role": "approver"}},
            {
                "parallel": [
                    {"name": "b", "kind": "task", "assignees": {"role": "approver"}},
                    {"name": "a", "kind": "confirmation"},
                ]
            },
        ]
    }
    assert problems(data) == [
        ("chain.steps[1].parallel[1].name", "the name 'a' is already used by chain.steps[0]")
    ]


def test_too_many_steps():
    steps = [{"name": f"s{i}", "kind": "confirmation"} for i in range(51)]
    assert problems({"steps": steps}) == [
        ("chain.steps", "a chain can have at most 50 steps; this one has 51")
    ]


@pytest.mark.parametrize(
    "group, expected",
    [
        (
            {"parallel": [{"name": "a", "kind": "confirmation"}]},
            [
                (
                    "chain.steps[0].parallel",
                    "a parallel group needs a list of at least two steps; write a single "
                    "step without parallel",
                )
            ],
        ),
        (
            {"parallel": "a, b"},
            [
                (
                    "chain.steps[0].parallel",
                    "a parallel group needs a list of at least two steps; write a single "
                    "step without parallel",
                )
            ],
        ),
        (
            {
                "parallel": [
                    {"name": "a", "kind": "confirmation"},
                    {"parallel": [{"name": "b", "kind": "confirmation"}]},
                ]
            },
            [
                (
                    "chain.steps[0].parallel[1]",
                    "parallel groups cannot be nested; list all their steps in one group",
                )
            ],
        ),
        (
            {
                "parallel": [
                    {"name": "a", "kind": "confirmation"},
                    {"name": "b", "kind": "feedback"},
                ],
                "name": "both",
            },
            [
                (
                    "chain.steps[0].name",
                    "a parallel group has only the key parallel: the list of its steps",
                )
            ],
        ),
    ],
)
def test_parallel_group_problems(group, expected):
    assert problems({"steps": [group]}) == expected


def test_a_key_of_another_step_kind_is_named_as_such():
    assert step_problems(kind="task", veto=True, keep_approvals_on_send_back=True) == [
        ("chain.steps[0].veto", "veto is not allowed for a task step"),
        (
            "chain.steps[0].keep_approvals_on_send_back",
            "keep_approvals_on_send_back is not allowed for a task step",
        ),
    ]


def test_an_unknown_key_without_a_close_match_lists_the_allowed_keys():
    assert step_problems(kind="feedback", colour="red") == [
        (
            "chain.steps[0].colour",
            "unknown key 'colour'; allowed keys are name, kind, label, assignees, decide, "
            "when, deadline, remind_before, escalate_to",
        )
    ]


@pytest.mark.parametrize(
    "label, expected",
    [
        ("  ", [("chain.steps[0].label", "label is empty")]),
        (
            ["Review"],
            [
                (
                    "chain.steps[0].label",
                    "label must be text, or a mapping of language codes to text like "
                    "{en: Reason, zh_Hans: 原因}",
                )
            ],
        ),
        (
            {"zh-Hans": "评审"},
            [
                (
                    "chain.steps[0].label.zh-Hans",
                    "'zh-Hans' is not a language code like en, de, zh_Hans or pt_BR",
                )
            ],
        ),
        ({"en": ""}, [("chain.steps[0].label.en", "the en text must not be empty")]),
    ],
)
def test_label_problems(label, expected):
    assert step_problems(label=label) == expected


def test_a_plain_label_is_in_the_forms_default_language():
    chain = load_chain(one_step(label="Prüfung"), field_names=FIELDS, default_language="de")
    assert chain.step("review").label == {"de": "Prüfung"}
    assert chain.to_dict()["steps"][0]["label"] == "Prüfung"


# --- who acts ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "assignees, expected",
    [
        (
            {"rol": "approver"},
            "unknown rule 'rol'; did you mean 'role'?",
        ),
        (
            {"role": "auditor"},
            "unknown role 'auditor'; use one of client, approver, admin",
        ),
        ({"user": "ana"}, "'ana' is not an e-mail address"),
        (
            {"user": []},
            "user needs an e-mail address, or a list of them: {user: ana@example.com}",
        ),
        ({"group": ""}, "group needs the name of a group, like {group: ccb}"),
        ({"org_approvers": "yes"}, "write this rule as {org_approvers: true}"),
        ({"field": "colour"}, "there is no field named 'colour'"),
        (
            {"field": "Reviewer"},
            "field needs the name of a field of the form, like {field: reviewer}",
        ),
        (
            {"role": "approver", "group": "ccb"},
            "a rule is a mapping with one key, like {role: approver}, {group: ccb} or "
            "{user: ana@example.com}",
        ),
        (
            "approver",
            "a rule is a mapping with one key, like {role: approver}, {group: ccb} or "
            "{user: ana@example.com}",
        ),
        ([], "assignees must name at least one rule"),
        (
            {"requester": True},
            "the requester cannot approve their own request; remove {requester: true}",
        ),
    ],
)
def test_rule_problems_are_reported_on_the_rule(assignees, expected):
    assert step_problems(assignees=assignees) == [("chain.steps[0].assignees", expected)]


def test_rule_problems_in_a_list_name_the_item():
    assert step_problems(
        assignees=[{"role": "approver"}, {"user": ["a@example.com", "A@example.com"]}]
    ) == [("chain.steps[0].assignees[1]", "the address A@example.com is listed twice")]


def test_a_rule_listed_twice():
    assert step_problems(assignees=[{"role": "approver"}, {"role": "approver"}]) == [
        ("chain.steps[0].assignees[1]", "this rule is listed twice")
    ]


@pytest.mark.parametrize("kind", ["approval", "task"])
def test_a_step_nobody_can_act_on_is_refused(kind):
    assert problems({"steps": [{"name": "a", "kind": kind}]}) == [
        (
            "chain.steps[0]",
            f"this {kind} step needs assignees: who acts on it, like {{role: approver}}",
        )
    ]


@pytest.mark.parametrize("kind", ["confirmation", "feedback"])
def test_the_requester_acts_on_confirmation_and_feedback(kind):
    assert load(one_step(kind=kind)).step("review").assignees == (Rule("requester", True),)
    assert load(one_step(kind=kind, assignees={"requester": True})) == load(one_step(kind=kind))
    assert step_problems(kind=kind, assignees={"role": "approver"}) == [
        (
            "chain.steps[0].assignees",
            f"a {kind} step is acted on by the requester; leave assignees out "
            "(or write {requester: true})",
        )
    ]


def test_a_task_may_go_to_the_requester():
    chain = load(one_step(kind="task", assignees={"requester": True}))
    assert chain.step("review").assignees == (Rule("requester", True),)


def test_a_plug_in_rule_is_known_by_name_and_checked_by_its_spec():
    def check(params, field_names):
        if not isinstance(params, str):
            return [("a Jira project key, like {jira_watchers: OPS}", {})]
        return []

    spec = RuleSpec("jira_watchers", check, normalize=str.upper)
    chain = load(
        one_step(assignees={"jira_watchers": "ops"}),
        rule_names={"jira_watchers"},
        rule_specs={"jira_watchers": spec},
    )
    assert chain.step("review").assignees == (Rule("jira_watchers", "OPS"),)
    assert step_problems(assignees={"jira_watchers": "ops"}) == [
        (
            "chain.steps[0].assignees",
            "unknown rule 'jira_watchers'; known rules are field, group, org_approvers, "
            "requester, role, user",
        )
    ]
    assert problems(
        one_step(assignees={"jira_watchers": 5}),
        rule_names={"jira_watchers"},
        rule_specs={"jira_watchers": spec},
    ) == [("chain.steps[0].assignees", "a Jira project key, like {jira_watchers: OPS}")]


def test_a_rule_known_only_by_name_accepts_any_parameters():
    chain = load(one_step(assignees={"crm_owner": {"pipeline": "x"}}), rule_names={"crm_owner"})
    assert chain.step("review").assignees == (Rule("crm_owner", {"pipeline": "x"}),)
    assert load(chain.to_dict(), rule_names={"crm_owner"}) == chain


def test_check_rule_params_is_usable_on_its_own():
    assert check_rule_params("role", "approver", field_names=()) == []
    assert check_rule_params("field", "x", field_names=()) == [
        ("there is no field named '%(name)s'", {"name": "x"})
    ]
    assert check_rule_params("anything", 1, field_names=()) == []


def test_escalate_to_problems():
    assert step_problems(escalate_to={"role": "admin"}) == [
        (
            "chain.steps[0].escalate_to",
            "escalate_to needs a deadline: the step is escalated when it passes",
        )
    ]
    assert step_problems(deadline="1 day", escalate_to=[{"role": "admin"}]) == [
        ("chain.steps[0].escalate_to", "escalate_to is one rule, like {role: admin}")
    ]
    assert step_problems(deadline="1 day", escalate_to={"requester": True}) == [
        ("chain.steps[0].escalate_to", "a step cannot be escalated to the requester")
    ]
    assert step_problems(deadline="1 day", escalate_to={"role": "boss"}) == [
        ("chain.steps[0].escalate_to", "unknown role 'boss'; use one of client, approver, admin")
    ]


# --- how a step decides ------------------------------------------------------------------


@pytest.mark.parametrize(
    "decide, policy",
    [
        ("any", DecidePolicy("any")),
        ("all", DecidePolicy("all")),
        ({"quorum": 2}, DecidePolicy("quorum", 2)),
        ({"percent": 60}, DecidePolicy("percent", 60)),
        ({"percent": 100}, DecidePolicy("percent", 100)),
    ],
)
def test_decide_modes(decide, policy):
    assert load(one_step(decide=decide)).step("review").decide == policy


WRONG_DECIDE = "decide must be any, all, {quorum: N} (N approvals) or {percent: P} (P % of them)"


@pytest.mark.parametrize(
    "decide, expected",
    [
        ("most", ("chain.steps[0].decide", WRONG_DECIDE)),
        ({"quorum": 2, "percent": 50}, ("chain.steps[0].decide", WRONG_DECIDE)),
        ({"majority": True}, ("chain.steps[0].decide", WRONG_DECIDE)),
        (
            {"quorum": 0},
            (
                "chain.steps[0].decide.quorum",
                "quorum must be a whole number of approvals, 1 or more",
            ),
        ),
        (
            {"quorum": 1.5},
            (
                "chain.steps[0].decide.quorum",
                "quorum must be a whole number of approvals, 1 or more",
            ),
        ),
        (
            {"percent": 0},
            ("chain.steps[0].decide.percent", "percent must be a whole number from 1 to 100"),
        ),
        (
            {"percent": 101},
            ("chain.steps[0].decide.percent", "percent must be a whole number from 1 to 100"),
        ),
        (
            {"percent": "60"},
            ("chain.steps[0].decide.percent", "percent must be a whole number from 1 to 100"),
        ),
        (
            {"percent": True},
            ("chain.steps[0].decide.percent", "percent must be a whole number from 1 to 100"),
        ),
    ],
)
def test_decide_problems(decide, expected):
    assert step_problems(decide=decide) == [expected]


@pytest.mark.parametrize("kind", ["task", "confirmation", "feedback"])
def test_only_approval_steps_decide_by_more_than_one(kind):
    assert load(one_step(kind=kind, decide="any")).step("review").decide == DecidePolicy()
    assert step_problems(kind=kind, decide="all") == [
        (
            "chain.steps[0].decide",
            "only approval steps decide by all, a quorum or a percentage; "
            f"a {kind} step is done when one person acts",
        )
    ]


def test_an_impossible_quorum_over_explicit_people_is_refused():
    assert step_problems(
        assignees=[{"user": ["a@example.com", "b@example.com"]}, {"user": "A@example.com"}],
        decide={"quorum": 3},
    ) == [
        (
            "chain.steps[0].decide",
            "decide asks for 3 approvals, but the assignees name only 2 people",
        )
    ]


def test_a_quorum_over_a_role_or_group_is_checked_when_the_step_starts():
    chain = load(
        one_step(assignees=[{"user": "a@example.com"}, {"group": "ccb"}], decide={"quorum": 5})
    )
    assert chain.step("review").decide.count == 5


def test_veto_applies_to_quorum_and_percent_only():
    assert load(one_step(decide={"quorum": 2}, veto=True)).step("review").veto is True
    assert load(one_step(decide={"percent": 50}, veto=False)).step("review").veto is False
    assert load(one_step(decide={"percent": 50})).step("review").veto is False
    message = (
        "veto applies only to decide: quorum or percent; under any and all one reject "
        "already rejects the step"
    )
    assert step_problems(veto=True) == [("chain.steps[0].veto", message)]
    assert step_problems(decide="all", veto=False) == [("chain.steps[0].veto", message)]


@pytest.mark.parametrize(
    "policy, eligible, needed",
    [
        (DecidePolicy("any"), 5, 1),
        (DecidePolicy("all"), 5, 5),
        (DecidePolicy("all"), 0, 0),
        (DecidePolicy("quorum", 2), 5, 2),
        (DecidePolicy("quorum", 3), 2, 3),
        (DecidePolicy("percent", 60), 5, 3),
        (DecidePolicy("percent", 50), 3, 2),
        (DecidePolicy("percent", 50), 4, 2),
        (DecidePolicy("percent", 100), 4, 4),
        (DecidePolicy("percent", 1), 4, 1),
        (DecidePolicy("percent", 34), 3, 2),
        (DecidePolicy("percent", 33), 3, 1),
        (DecidePolicy("percent", 60), 0, 1),
    ],
)
def test_needed_approvals(policy, eligible, needed):
    assert policy.needed(eligible) == needed


# --- when --------------------------------------------------------------------------------


def test_when_sees_answers_and_the_computed_impact():
    chain = load(one_step(when="impact == 'high' and priority != 'low' and impact_risk and reason"))
    assert chain.step("review").when.names == {"impact", "priority", "impact_risk", "reason"}


@pytest.mark.parametrize(
    "when, message",
    [
        ("colour == 'red'", "there is no field named 'colour'"),
        (
            "impact = 'high'",
            "this is not a valid condition: use == to compare, not = (impact = 'high')",
        ),
        ("len(reason) > 3", "function calls like len(reason) are not allowed in a condition"),
        ("", "the condition is empty"),
        (5, "a condition must be text, like: reason == 'legal'"),
    ],
)
def test_when_problems(when, message):
    assert step_problems(when=when) == [("chain.steps[0].when", message)]


# --- deadlines ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, duration, canonical",
    [
        ("2 working days", Duration(2, "days", True), "2 working days"),
        ("1 working day", Duration(1, "days", True), "1 working day"),
        ("4 working hours", Duration(4, "hours", True), "4 working hours"),
        ("3 days", Duration(3, "days"), "3 days"),
        ("1 hour", Duration(1, "hours"), "1 hour"),
        ("  8 Hours ", Duration(8, "hours"), "8 hours"),
        ("1000 days", Duration(1000, "days"), "1000 days"),
    ],
)
def test_durations(text, duration, canonical):
    assert Duration.parse(text) == duration
    assert str(duration) == canonical


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "2 weeks",
            "write a duration like '2 working days', '4 working hours', '3 days' or '8 hours'",
        ),
        (
            "two days",
            "write a duration like '2 working days', '4 working hours', '3 days' or '8 hours'",
        ),
        (2, "write a duration like '2 working days', '4 working hours', '3 days' or '8 hours'"),
        (
            "2.5 days",
            "write a duration like '2 working days', '4 working hours', '3 days' or '8 hours'",
        ),
        ("0 hours", "a duration must be from 1 to 1000 hours or days"),
        ("1001 days", "a duration must be from 1 to 1000 hours or days"),
    ],
)
def test_duration_problems(text, message):
    assert step_problems(deadline=text) == [("chain.steps[0].deadline", message)]


def test_calendar_durations_have_a_length_working_time_does_not():
    assert str(Duration(2, "days").as_timedelta()) == "2 days, 0:00:00"
    assert Duration(2, "days", True).as_timedelta() is None


@pytest.mark.parametrize(
    "remind, deadline, fine",
    [
        ("4 hours", "2 working days", True),
        ("4 working hours", "1 working day", True),
        ("8 working hours", "1 working day", False),  # a working day counts 8 working hours
        ("1 working day", "1 working day", False),
        ("23 hours", "1 day", True),
        ("24 hours", "1 day", False),
        ("1 day", "2 working days", True),  # mixed: days count 24 hours
        ("2 days", "2 working days", False),
        ("3 working days", "2 days", False),
    ],
)
def test_remind_before_must_be_shorter_than_the_deadline(remind, deadline, fine):
    found = step_problems(deadline=deadline, remind_before=remind) if not fine else []
    if fine:
        load(one_step(deadline=deadline, remind_before=remind))
    else:
        assert found == [
            (
                "chain.steps[0].remind_before",
                f"remind_before ({remind}) must be shorter than the deadline ({deadline})",
            )
        ]


def test_remind_before_needs_a_deadline():
    assert step_problems(remind_before="1 hour") == [
        ("chain.steps[0].remind_before", "remind_before needs a deadline to count back from")
    ]


def test_keep_approvals_must_be_true_or_false():
    assert step_problems(keep_approvals_on_send_back="yes") == [
        (
            "chain.steps[0].keep_approvals_on_send_back",
            "keep_approvals_on_send_back must be true or false",
        )
    ]


# --- the impact matrix -------------------------------------------------------------------


@pytest.mark.parametrize(
    "impact, expected",
    [
        ("high", [("chain.impact", "impact must be a mapping with fields and thresholds")]),
        (
            {"field": {}},
            [("chain.impact.field", "unknown key 'field'; did you mean 'fields'?")],
        ),
        (
            {"fields": {"money": "budget"}},
            [
                (
                    "chain.impact.fields.money",
                    "unknown dimension 'money'; the dimensions are cost, time, resources, risk",
                )
            ],
        ),
        (
            {"fields": {"cost": "colour"}},
            [("chain.impact.fields.cost", "there is no field named 'colour'")],
        ),
        (
            {"fields": ["cost"]},
            [
                (
                    "chain.impact.fields",
                    "fields must be a mapping of the dimensions cost, time, resources, risk",
                )
            ],
        ),
        (
            {"thresholds": {"cost": {"low": 5}}},
            [
                (
                    "chain.impact.thresholds.cost",
                    "write the bounds of cost as {low: 5, medium: 15}",
                )
            ],
        ),
        (
            {"thresholds": {"time": {"low": 3, "medium": 1}}},
            [
                (
                    "chain.impact.thresholds.time",
                    "the medium bound (1) is below the low bound (3)",
                )
            ],
        ),
        (
            {"thresholds": {"time": {"low": -1, "medium": "3"}}},
            [("chain.impact.thresholds.time", "the bounds must be numbers, 0 or more")],
        ),
    ],
)
def test_impact_problems(impact, expected):
    assert problems({"impact": impact, **one_step()}) == expected


def test_impact_settings_merge_over_the_defaults():
    chain = load({"impact": {"thresholds": {"cost": {"low": 3, "medium": 10}}}, **one_step()})
    assert chain.impact.thresholds == {
        "cost": {"low": 3, "medium": 10},
        "time": {"low": 1, "medium": 3},
    }
    assert chain.impact.fields == ImpactMatrix().fields


# --- purity ------------------------------------------------------------------------------


def test_the_approval_modules_import_no_web_framework():
    """Runs in a fresh interpreter; the packages above them are stubbed, so only what these
    modules themselves import is counted (portal/__init__.py builds the Flask app)."""
    script = textwrap.dedent(
        f"""
        import sys, types
        for name, path in (
            ("portal", "portal"),
            ("portal.forms", "portal/forms"),
            ("portal.approvals", "portal/approvals"),
        ):
            package = types.ModuleType(name)
            package.__path__ = [{str(ROOT)!r} + "/" + path]
            sys.modules[name] = package
        import portal.approvals.definition, portal.approvals.engine
        import portal.approvals.impact, portal.approvals.rules
        print("\\n".join(sorted(sys.modules)))
        """
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    modules = completed.stdout.split()
    assert "portal.approvals.engine" in modules
    web = [
        m
        for m in modules
        if m.split(".")[0]
        in {
            "flask",
            "flask_babel",
            "flask_wtf",
            "flask_login",
            "wtforms",
            "sqlalchemy",
            "flask_sqlalchemy",
            "werkzeug",
            "jinja2",
        }
    ]
    assert web == []


# --- the admin guide ---------------------------------------------------------------------

GUIDE = (ROOT / "docs" / "approvals.md").read_text("utf-8")


def guide_blocks(language):
    return [block.split("```", 1)[0] for block in GUIDE.split(f"```{language}\n")[1:]]


def test_every_chain_in_the_admin_guide_loads():
    chains = [block for block in guide_blocks("yaml") if block.startswith("chain:")]
    assert len(chains) == 3
    for block in chains:
        load(yaml.safe_load(block)["chain"], field_names=FIELDS | {"cost_percent"})


def test_the_guide_shows_the_shipped_chain():
    """The same chain, step for step; the guide shows the labels in three of its languages."""
    shown = yaml.safe_load(guide_blocks("yaml")[0])["chain"]
    shipped = copy.deepcopy(SHIPPED["chain"])
    for step in shipped["steps"]:
        step["label"] = {k: v for k, v in step["label"].items() if k in ("en", "zh_Hans", "de")}
    assert load(shown, field_names=FIELDS) == load(shipped, field_names=FIELDS)


def test_the_guide_shows_the_real_error_listing():
    with pytest.raises(DefinitionError) as caught:
        load(yaml.safe_load(BAD))
    listing = next(b for b in guide_blocks("text") if "problems in the form definition" in b)
    assert listing.rstrip("\n") == str(caught.value)


def msgids(*paths):
    """Every message marked with N_ in these modules."""
    found = []
    for path in paths:
        for node in ast.walk(ast.parse((ROOT / path).read_text("utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "N_":
                found.append(node.args[0].value)
    return found


def test_every_other_message_in_the_guide_is_one_the_loader_gives():
    section = GUIDE.split("Other messages you may meet:", 1)[1].split("\n\n", 2)[1]
    quoted = [line.split("`")[1] for line in section.splitlines() if line.startswith("- `")]
    assert len(quoted) >= 15
    patterns = [
        re.compile(re.sub(r"%\\\(\w+\\\)[sd]", ".+", re.escape(msgid.replace("%%", "%"))) + "$")
        for msgid in msgids(
            "portal/approvals/definition.py",
            "portal/approvals/rules.py",
            "portal/forms/conditions.py",
        )
    ]
    for message in quoted:
        assert any(pattern.match(message) for pattern in patterns), message
