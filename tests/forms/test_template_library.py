"""The template gallery's content: every ready template loads and passes the full check,
speaks every shipped language, carries an approval chain, publishes, opens for a client in
their own language, and can be filled in and submitted so that its chain starts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from markupsafe import escape
from sqlalchemy import select

import portal.forms.templates_library as library
from portal.accounts.models import Role, User
from portal.approvals import engine
from portal.approvals.models import Group, Task, organisation_approvers
from portal.extensions import db
from portal.forms.definition import parse_definition_text
from portal.forms.service import check_definition, publish
from portal.forms.templates_library import (
    LANGUAGES,
    list_templates,
    load_template,
    template_text,
)
from portal.requests.models import ChangeRequest
from tests.conftest import csrf_token

FOLDER = Path(library.__file__).parent
SHIPPED_FORMS = Path(library.__file__).parent.parent / "library"
NAMED = {
    "change-request-template",
    "feature-request",
    "bug-report",
    "access-request",
    "data-export-request",
    "scope-change",
    "cost-approval",
    "schedule-change",
    "incident-follow-up",
    "client-onboarding",
    "client-offboarding",
    "contract-amendment",
    "release-approval",
    "purchase-request",
    "satisfaction-survey",
}
CARDS = {card.name: card for card in list_templates()}
NAMES = sorted(CARDS)


# --- the gallery as a whole ----------------------------------------------------------------


def test_the_gallery_holds_the_fifteen_named_templates_once_each():
    names = [card.name for card in list_templates()]
    assert NAMED <= set(names)
    assert len(names) == len(set(names))


def test_every_template_file_has_a_card_and_every_card_a_file():
    files = {path.name for path in FOLDER.glob("*.yaml")} - {library.INDEX_FILE}
    assert {card.file for card in list_templates()} == files
    for card in list_templates():
        assert Path(card.path).is_file()


def test_no_template_takes_the_name_of_a_shipped_form():
    shipped = {
        parse_definition_text(path.read_text("utf-8"), path.name)["name"]
        for path in SHIPPED_FORMS.glob("*.yaml")
    }
    assert "change-request" in shipped
    assert not shipped & set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_the_card_speaks_every_language(name):
    card = CARDS[name]
    for texts in (card.title, card.summary, card.category_label):
        assert set(texts) == set(LANGUAGES)
        assert all(text.strip() for text in texts.values())
    assert card.title_in("de") == load_template(name)["title"]["de"]
    assert card.summary_in("zh_Hans_CN") == card.summary["zh_Hans"]


def test_load_template_gives_a_fresh_copy_to_change():
    first = load_template("bug-report")
    first["name"] = "our-bugs"
    first["fields"].clear()
    again = load_template("bug-report")
    assert again["name"] == "bug-report" and again["fields"]


def test_an_unknown_template_is_refused_with_the_known_names():
    with pytest.raises(KeyError, match="feature-request"):
        load_template("no-such-template")


# --- each template ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_the_file_starts_by_saying_what_the_template_is_for(name):
    first_line = template_text(name).splitlines()[0]
    assert first_line.startswith("# Template: ")
    assert len(first_line) > len("# Template: ") + 20


@pytest.mark.parametrize("name", NAMES)
def test_the_template_passes_the_full_check_and_has_a_chain(app_ctx, name):
    definition = check_definition(load_template(name))
    assert definition.form.name == name
    assert definition.chain is not None
    assert len(definition.chain.steps) >= 1
    assert any(f.has_value for f in definition.form.fields)


@pytest.mark.parametrize("name", NAMES)
def test_every_text_is_in_every_shipped_language(app_ctx, name):
    definition = check_definition(load_template(name))
    form = definition.form
    # Titles, descriptions, labels, help, placeholders and options: what `portal forms
    # validate` would list as still to translate.
    assert form.missing_translations(LANGUAGES) == {}
    assert set(form.languages) == set(LANGUAGES)
    assert form.description, "a template says in a sentence what the form is for"
    # The labels of the chain's steps, which requesters and approvers read too.
    for step in definition.chain.steps:
        assert set(step.label) == set(LANGUAGES), step.name
        assert all(text.strip() for text in step.label.values()), step.name


@pytest.mark.parametrize("name", NAMES)
def test_every_example_fits_its_pattern(app_ctx, name):
    """A placeholder beside a pattern is the example requesters copy: it must be accepted."""
    form = check_definition(load_template(name)).form
    for f in form.fields:
        if f.pattern and f.placeholder:
            for language, example in f.placeholder.items():
                assert re.fullmatch(f.pattern, example), (f.name, language, example)


# --- publishing, opening and submitting it -----------------------------------------------


@pytest.fixture
def workspace(app, accounts):
    """A client organisation with its account approver, the team and the change control
    board: every rule the templates name finds someone."""
    acme = accounts.organisation("Acme Ltd", timezone="Europe/London")
    ids = {
        "dana": accounts.user("dana@acme.test", Role.CLIENT, acme),
        "olga": accounts.user("olga@acme.test", Role.CLIENT, acme),
        "bo": accounts.user("bo@portal.test", Role.APPROVER),
        "chen": accounts.user("chen@portal.test", Role.APPROVER),
        "ada": accounts.user("ada@portal.test", Role.ADMIN),
    }
    with app.app_context():
        board = Group(name="ccb", title="Change control board")
        board.members = [db.session.get(User, ids[key]) for key in ("bo", "chen", "ada")]
        db.session.add(board)
        db.session.execute(
            organisation_approvers.insert().values(organisation_id=acme, user_id=ids["olga"])
        )
        db.session.commit()
    return ids


def _publish(app, name: str) -> None:
    with app.app_context():
        version, created = publish(load_template(name))
        db.session.commit()
        assert created and version.number == 1


@pytest.mark.parametrize("name", NAMES)
def test_it_publishes_and_each_client_sees_it_in_their_language(
    app, client, accounts, workspace, name
):
    _publish(app, name)
    accounts.login(client, "dana@acme.test")
    title = CARDS[name].title
    first_label = load_template(name)["fields"][0]["label"]
    for language in LANGUAGES:
        with app.app_context():
            db.session.get(User, workspace["dana"]).locale = language
            db.session.commit()
        page = client.get(f"/forms/{name}/new")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert f"<h1>{escape(title[language])}</h1>" in html, language
        assert str(escape(first_label[language])) in html, language


def _sample(field: dict) -> dict:
    """A valid answer for one field, as a phone's browser would post it."""
    kind, name = field["type"], field["name"]
    if kind in ("section", "file"):
        return {}
    if field.get("pattern"):
        return {name: field["placeholder"]["en"]}
    if kind in ("select", "radio"):
        return {name: field["options"][0]["value"]}
    if kind == "multiselect":
        return {name: [field["options"][0]["value"]]}
    if kind == "checkbox":
        return {name: "y"}
    if kind in ("number", "percent", "money"):
        low, high = field.get("min", 1), field.get("max", 10**9)
        answer = {name: str(min(max(low, 3), high))}
        if kind == "money":
            answer[f"{name}__currency"] = field.get("default_currency", "EUR")
        return answer
    if kind == "date":
        return {name: "2030-06-03"}
    if kind == "datetime":
        return {name: "2030-06-03T09:30"}
    text = {
        "email": "someone@acme.com",
        "phone": "+44 20 7946 0958",
        "url": "https://acme.com/page",
    }.get(kind, "A sample answer that is long enough for any minimum length asked here. " * 2)
    return {name: text[: field.get("max_length", len(text))]}


@pytest.mark.parametrize("name", NAMES)
def test_a_client_submits_it_and_its_chain_starts(app, client, accounts, workspace, name):
    _publish(app, name)
    definition = load_template(name)
    assert not any(f.get("required") for f in definition["fields"] if f["type"] == "file")
    answers = {}
    for field in definition["fields"]:
        answers.update(_sample(field))
    accounts.login(client, "dana@acme.test")
    token = csrf_token(client, f"/forms/{name}/new")
    response = client.post(f"/forms/{name}/submit", data={**answers, "csrf_token": token})
    assert response.status_code == 302, re.findall(
        r'class="field-error"[^>]*>([^<]+)<', response.get_data(as_text=True)
    )
    with app.app_context():
        change = db.session.scalar(select(ChangeRequest))
        assert change.number.startswith(definition["number_prefix"] + "-")
        tasks = db.session.scalars(select(Task).where(Task.request_id == change.id)).all()
    # The first step is the team's (or the client organisation's): someone has it in their
    # inbox, and it is not the requester.
    assert tasks and all(task.open for task in tasks)
    assert workspace["dana"] not in {task.user_id for task in tasks}
    first = definition["chain"]["steps"][0]
    assert {task.step for task in tasks} <= {s["name"] for s in first.get("parallel", [first])}


# --- each chain fits its process -------------------------------------------------------------

PEOPLE = {
    ("role", "approver"): [10, 11],
    ("role", "admin"): [12],
    ("group", "ccb"): [10, 11, 12],
    ("org_approvers", True): [20],
}
VERB = {"approval": "approve", "task": "done", "confirmation": "confirm", "feedback": "feedback"}


def walk(name: str, answers: dict) -> list[str]:
    """The steps a request with these answers goes through when everyone says yes, in
    order, with the pure engine: the route the chain takes."""
    chain = check_definition(load_template(name)).chain
    ctx = engine.Context(
        requester_id=1, answers=answers, resolve=lambda rule: PEOPLE[(rule.name, rule.params)]
    )
    outcome = engine.start(chain, ctx)
    route = []
    for _ in range(200):
        route += [e.step for e in outcome.events if e.kind == "step_started"]
        assert not [e for e in outcome.events if e.kind == "step_blocked"], route
        state = outcome.state
        if state.finished:
            assert state.status == "completed"
            return route
        name_, step = next(
            (n, st) for n, st in state.steps.items() if st.status == "active" and st.assignees
        )
        kind = chain.step(name_).kind
        who = next(a for a in step.assignees if a not in step.votes)
        action = engine.Action(
            step=name_,
            verb=VERB[kind],
            actor_id=who,
            revision=state.revision,
            data={"rating": 5} if kind == "feedback" else {},
        )
        outcome = engine.act(chain, state, action, ctx)
    raise AssertionError(f"the chain did not finish: {route}")


STANDARD = ["analysis", "review", "confirmation", "plan_adjustment", "implementation", "feedback"]
ROUTES = [
    # The standard seven-step process: a high impact goes to the board instead of one reviewer.
    ("change-request-template", {"impact_cost": "low"}, STANDARD),
    (
        "change-request-template",
        {"impact_risk": "high"},
        ["analysis", "ccb_review", *STANDARD[2:]],
    ),
    ("scope-change", {"impact_time": "medium"}, STANDARD),
    ("scope-change", {"impact_cost": "high"}, ["analysis", "ccb_review", *STANDARD[2:]]),
    (
        "feature-request",
        {"business_value": "high"},
        ["analysis", "review", "confirmation", "planning", "development", "feedback"],
    ),
    # A critical bug in production needs an emergency go-ahead; others do not.
    (
        "bug-report",
        {"severity": "critical", "environment": "production"},
        ["triage", "emergency_fix", "fix", "verification", "feedback"],
    ),
    (
        "bug-report",
        {"severity": "critical", "environment": "test"},
        ["triage", "fix", "verification", "feedback"],
    ),
    # Manager, then security, then the grant.
    (
        "access-request",
        {"access_level": "read"},
        ["manager_approval", "security_approval", "grant_access", "access_check"],
    ),
    # Personal data (or maybe personal data) needs a data protection review.
    (
        "data-export-request",
        {"personal_data": "unsure"},
        ["data_owner_approval", "privacy_review", "export", "receipt"],
    ),
    (
        "data-export-request",
        {"personal_data": "no"},
        ["data_owner_approval", "export", "receipt"],
    ),
    # The cost's share of the budget routes it: over 15 % or unbudgeted goes to the board.
    (
        "cost-approval",
        {"budget_share": "4", "budgeted": "yes"},
        ["finance_check", "approval", "booking"],
    ),
    (
        "cost-approval",
        {"budget_share": "16", "budgeted": "yes"},
        ["finance_check", "board_approval", "booking"],
    ),
    (
        "cost-approval",
        {"budget_share": "2", "budgeted": "no"},
        ["finance_check", "board_approval", "booking"],
    ),
    # Weeks moved: three or less stays with the reviewer, more goes to the board.
    (
        "schedule-change",
        {"shift_weeks": 3},
        ["analysis", "review", "confirmation", "plan_adjustment"],
    ),
    (
        "schedule-change",
        {"shift_weeks": 5},
        ["analysis", "ccb_review", "confirmation", "plan_adjustment"],
    ),
    (
        "incident-follow-up",
        {"requested": ["root_cause", "service_credit"]},
        [
            "root_cause_analysis",
            "report_sign_off",
            "service_credit",
            "report_acceptance",
            "corrective_actions",
            "feedback",
        ],
    ),
    (
        "incident-follow-up",
        {"requested": ["root_cause"]},
        [
            "root_cause_analysis",
            "report_sign_off",
            "report_acceptance",
            "corrective_actions",
            "feedback",
        ],
    ),
    (
        "client-onboarding",
        {"data_migration": True},
        [
            "contract_check",
            "account_setup",
            "billing_setup",
            "migration",
            "kick_off",
            "ready",
            "feedback",
        ],
    ),
    (
        "client-onboarding",
        {"data_migration": False},
        ["contract_check", "account_setup", "billing_setup", "kick_off", "ready", "feedback"],
    ),
    # Nothing is deleted before the client confirms they have their copy.
    (
        "client-offboarding",
        {"data_handling": "return_then_delete", "reason": "new_provider", "handover": True},
        [
            "organisation_approval",
            "data_export",
            "final_invoice",
            "handover",
            "data_received",
            "access_removal",
            "data_deletion",
            "feedback",
        ],
    ),
    (
        "client-offboarding",
        {"data_handling": "keep_archive", "reason": "cost"},
        ["organisation_approval", "final_invoice", "access_removal", "feedback"],
    ),
    (
        "contract-amendment",
        {"value_change": "none", "amendment_types": ["scope"]},
        ["commercial_review", "legal_review", "client_signature", "countersign"],
    ),
    (
        "contract-amendment",
        {"value_change": "none", "amendment_types": ["price"]},
        ["commercial_review", "legal_review", "board_approval", "client_signature", "countersign"],
    ),
    (
        "release-approval",
        {"impact_risk": "medium", "downtime": "short"},
        ["readiness_check", "release_approval", "window_confirmation", "deployment", "feedback"],
    ),
    (
        "release-approval",
        {"impact_risk": "low", "downtime": "planned"},
        ["readiness_check", "ccb_approval", "window_confirmation", "deployment", "feedback"],
    ),
    (
        "purchase-request",
        {"size": "medium", "budgeted": "yes"},
        ["budget_holder_approval", "ordering", "delivery_confirmation"],
    ),
    (
        "purchase-request",
        {"size": "large", "budgeted": "yes"},
        ["budget_holder_approval", "finance_approval", "ordering", "delivery_confirmation"],
    ),
    ("satisfaction-survey", {"overall": "2"}, ["acknowledgement"]),
]


@pytest.mark.parametrize(
    ("name", "answers", "route"), ROUTES, ids=[f"{r[0]}-{i}" for i, r in enumerate(ROUTES)]
)
def test_the_chain_routes_as_the_process_asks(app_ctx, name, answers, route):
    assert walk(name, answers) == route


def test_every_template_has_a_route_checked():
    assert {route[0] for route in ROUTES} == set(NAMES)
