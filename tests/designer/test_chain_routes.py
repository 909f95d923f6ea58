"""The chain designer in the browser's place: an admin builds a chain step by step, sees
each mistake beside its input, and simulates it; nobody else reaches it."""

from __future__ import annotations

import copy
from html.parser import HTMLParser

import pytest
import yaml
from sqlalchemy import func, select

from portal.accounts.models import Role, User
from portal.approvals.definition import load_chain
from portal.approvals.models import Group
from portal.designer import chain_editing as edit
from portal.designer.chain_forms import escalation_choice
from portal.designer.drafts import new_draft
from portal.designer.models import FormDraft
from portal.extensions import db
from portal.i18n import available_locales
from portal.requests.models import ChangeRequest
from tests.conftest import SHIPPED_FORM, csrf_token

HX = {"HX-Request": "true"}


def shipped():
    return yaml.safe_load(SHIPPED_FORM.read_text())


def field_names(definition):
    return {f["name"] for f in definition["fields"] if f["type"] != "section"}


@pytest.fixture
def admin(app, accounts):
    accounts.user("ada@portal.test", Role.ADMIN, name="Ada Admin")
    browser = app.test_client()
    accounts.login(browser, "ada@portal.test")
    return browser


def make_draft(app, chain=None, fields=None):
    definition = shipped()
    definition.pop("chain")
    if fields is not None:
        definition["fields"] = fields
    if chain is not None:
        definition["chain"] = chain
    with app.app_context():
        draft = new_draft(definition, None)
        db.session.commit()
        return draft.id


def url(draft_id, rest=""):
    return f"/admin/forms/drafts/{draft_id}/chain{rest}"


def post(browser, draft_id, rest, data):
    token = csrf_token(browser, url(draft_id))
    return browser.post(url(draft_id, rest), data={**data, "csrf_token": token}, headers=HX)


def saved_chain(app, draft_id):
    with app.app_context():
        return copy.deepcopy(db.session.get(FormDraft, draft_id).definition.get("chain"))


def step_form(step: dict) -> dict:
    """What an admin sets in the step's pickers to make ``step`` (as the shipped file has it)."""
    data = {"name": step["name"], "kind": step["kind"], "when_before": "", "when_text": ""}
    for lang, text in step.get("label", {}).items():
        data[f"label_{lang}"] = text
    if step["kind"] not in edit.REQUESTER_KINDS:
        data["pickers"] = "1"
        rule = step["assignees"]
        ((name, value),) = rule.items()
        data[{"role": "roles", "group": "groups"}[name]] = value
    decide = step.get("decide", "any")
    if isinstance(decide, dict):
        ((mode, count),) = decide.items()
        data.update(decide=mode, decide_count=str(count))
    else:
        data["decide"] = decide
    if step.get("veto"):
        data["veto"] = "1"
    if step.get("keep_approvals_on_send_back"):
        data["keep_approvals"] = "1"
    if step.get("when"):
        field, op, value = edit.condition_parts(step["when"])
        data.update(when_field=field, when_op=op, when_value=value)
    for key, prefix in (("deadline", "deadline"), ("remind_before", "remind")):
        if step.get(key):
            amount, unit, working = edit.duration_parts(step[key])
            data.update(
                {
                    f"{prefix}_amount": amount,
                    f"{prefix}_unit": unit,
                    f"{prefix}_time": "working" if working else "calendar",
                }
            )
    data["escalate"], data["escalate_user"] = escalation_choice(step.get("escalate_to"))
    return data


def test_an_admin_builds_the_standard_seven_step_chain_from_an_empty_one(app, admin):
    draft_id = make_draft(app)
    page = admin.get(url(draft_id)).get_data(as_text=True)
    assert "No steps yet" in page
    target = shipped()["chain"]
    assert set(available_locales()) >= set(target["steps"][0]["label"])
    for index, step in enumerate(target["steps"]):
        added = post(admin, draft_id, "/steps", {"kind": step["kind"]})
        assert added.status_code == 200
        assert added.headers["HX-Trigger"] == "chain-changed"
        saved = post(admin, draft_id, f"/steps/{index}", step_form(step))
        assert saved.status_code == 200, saved.get_data(as_text=True)
    impact = {}
    for dimension in ("cost", "time", "resources", "risk"):
        impact[f"field_{dimension}"] = f"impact_{dimension}"
        bounds = target["impact"]["thresholds"].get(dimension)
        impact[f"low_{dimension}"] = bounds["low"] if bounds else ""
        impact[f"medium_{dimension}"] = bounds["medium"] if bounds else ""
    response = post(admin, draft_id, "/impact", impact)
    body = response.get_data(as_text=True)
    assert "problem" not in body  # the chain loads: no problem is listed
    names = field_names(shipped())
    built = load_chain(saved_chain(app, draft_id), field_names=names)
    assert built.to_dict() == load_chain(target, field_names=names).to_dict()
    assert [s.name for s in built.steps] == [
        "analysis",
        "review",
        "ccb_review",
        "confirmation",
        "plan_adjustment",
        "implementation",
        "feedback",
    ]


def test_steps_move_up_and_down_and_are_removed(app, admin):
    draft_id = make_draft(app)
    for kind in ("task", "approval", "feedback"):
        post(admin, draft_id, "/steps", {"kind": kind})
    page = post(admin, draft_id, "/steps/2/move", {"direction": "up"}).get_data(as_text=True)
    assert [e.step["name"] for e in edit.flatten(saved_chain(app, draft_id))] == [
        "task",
        "feedback",
        "approval",
    ]
    assert 'aria-label="Move step 2 up"' in page
    post(admin, draft_id, "/steps/0/move", {"to": "2"})
    assert [e.step["name"] for e in edit.flatten(saved_chain(app, draft_id))] == [
        "feedback",
        "approval",
        "task",
    ]
    post(admin, draft_id, "/steps/1/remove", {})
    assert [e.step["name"] for e in edit.flatten(saved_chain(app, draft_id))] == [
        "feedback",
        "task",
    ]
    gone = post(admin, draft_id, "/steps/7/remove", {})
    assert gone.status_code == 409
    assert "no longer in the chain" in gone.get_data(as_text=True)


def test_each_mistake_shows_beside_its_input_and_what_was_typed_stays(app, admin):
    draft_id = make_draft(app)
    post(admin, draft_id, "/steps", {"kind": "approval"})
    response = post(
        admin,
        draft_id,
        "/steps/0",
        {
            "name": "Review!",
            "kind": "approval",
            "pickers": "1",
            "roles": "approver",
            "decide": "quorum",
            "decide_count": "two",
            "when_before": "",
            "when_text": "colour == 'red'",
            "deadline_amount": "2",
            "deadline_unit": "days",
            "deadline_time": "working",
            "remind_amount": "3",
            "remind_unit": "days",
            "remind_time": "working",
        },
    )
    assert response.status_code == 200
    page = Page.parse(response.get_data(as_text=True))
    assert "is not a valid step name" in page.text_of("s0-err-name")
    assert "quorum must be a whole number" in page.text_of("s0-err-decide")
    assert "there is no field named 'colour'" in page.text_of("s0-err-when")
    assert "must be shorter than the deadline" in page.text_of("s0-err-remind")
    assert page.value_of("s0-name") == "Review!"
    assert page.value_of("s0-count") == "two"
    assert page.value_of("s0-when-text") == "colour == 'red'"
    # nobody to act: the message sits beside the "who acts" pickers
    response = post(
        admin, draft_id, "/steps/0", {"name": "review", "kind": "approval", "pickers": "1"}
    )
    page = Page.parse(response.get_data(as_text=True))
    assert "needs assignees" in page.text_of("s0-err-assignees")


def test_people_are_found_by_name_among_the_staff_only(app, admin, accounts):
    org = accounts.organisation()
    accounts.user("bo@portal.test", Role.APPROVER, name="Bo Berg")
    accounts.user("bob@acme.test", Role.CLIENT, org, name="Bob Client")
    draft_id = make_draft(app)
    post(admin, draft_id, "/steps", {"kind": "approval"})
    found = admin.get(url(draft_id, "/people?step=0&q=bo"), headers=HX).get_data(as_text=True)
    assert "Bo Berg" in found
    assert "Bob Client" not in found
    assert admin.get(url(draft_id, "/people?step=5&q=bo")).status_code == 404
    post(
        admin,
        draft_id,
        "/steps/0",
        {"name": "review", "kind": "approval", "pickers": "1", "users": "bo@portal.test"},
    )
    assert saved_chain(app, draft_id)["steps"][0]["assignees"] == {"user": "bo@portal.test"}
    page = admin.get(url(draft_id)).get_data(as_text=True)
    assert "Bo Berg &lt;bo@portal.test&gt;" in page


@pytest.fixture
def people(app, accounts):
    """An approver, a board of three and a client of Acme Ltd."""
    org = accounts.organisation("Acme Ltd")
    dana = accounts.user("dana@acme.test", Role.CLIENT, org, name="Dana Client")
    accounts.user("bo@portal.test", Role.APPROVER, name="Bo Approver")
    board = [
        accounts.user(f"ccb{i}@portal.test", Role.APPROVER, name=f"Board Member {i}")
        for i in (1, 2, 3)
    ]
    with app.app_context():
        members = [db.session.get(User, uid) for uid in board]
        db.session.add(Group(name="ccb", title="Change control board", members=members))
        db.session.commit()
    return {"dana": dana, "org": org}


def test_the_simulation_shows_the_steps_that_run_and_the_people_asked(app, admin, people):
    draft_id = make_draft(app, chain=shipped()["chain"])
    with app.app_context():
        before = copy.deepcopy(db.session.get(FormDraft, draft_id).definition)
    low = admin.get(
        url(draft_id, f"/simulate?requester={people['dana']}&a_impact_cost=low"), headers=HX
    )
    assert low.status_code == 200
    page = Page.parse(low.get_data(as_text=True))
    review = page.text_of_step("review")
    assert "runs" in review and "Bo Approver" in review and "Board Member" in review
    assert "skipped: the condition impact == 'high' does not hold" in page.text_of_step(
        "ccb_review"
    )
    assert "Dana Client" in page.text_of_step("confirmation")
    assert "Impact: low" in page.text
    high = admin.get(
        url(draft_id, "/simulate?a_impact_risk=high&a_business_value=high"), headers=HX
    )
    page = Page.parse(high.get_data(as_text=True))
    board = page.text_of_step("ccb_review")
    assert "Board Member 1" in board and "Bo Approver" not in board
    assert "2 approvals needed" in board
    assert "skipped" in page.text_of_step("review")
    assert "Priority: high" in page.text
    # the whole page works without htmx too, and a dry run stores nothing
    full = admin.get(url(draft_id, "/simulate?a_impact_cost=high")).get_data(as_text=True)
    assert "Simulate" in full and "Board Member 1" in full
    with app.app_context():
        assert db.session.get(FormDraft, draft_id).definition == before
        assert db.session.scalar(select(func.count()).select_from(ChangeRequest)) == 0


def test_the_simulation_waits_for_a_chain_that_loads(app, admin):
    draft_id = make_draft(app, chain={"steps": [{"name": "x", "kind": "aproval"}]})
    page = admin.get(url(draft_id)).get_data(as_text=True)
    assert "unknown step kind" in page
    assert "fix the chain" in page
    fragment = admin.get(url(draft_id, "/simulate"), headers=HX)
    assert fragment.status_code == 200


@pytest.mark.parametrize("path", ["", "/simulate", "/people?step=0&q=a"])
def test_only_admins_open_the_chain_designer(app, accounts, path):
    org = accounts.organisation()
    accounts.user("dana@acme.test", Role.CLIENT, org)
    accounts.user("bo@portal.test", Role.APPROVER)
    draft_id = make_draft(app, chain=shipped()["chain"])
    for email in ("dana@acme.test", "bo@portal.test"):
        browser = app.test_client()
        accounts.login(browser, email)
        assert browser.get(url(draft_id, path)).status_code == 403


@pytest.mark.parametrize(
    "rest", ["/steps", "/steps/0", "/steps/0/move", "/steps/0/remove", "/impact"]
)
def test_only_admins_change_a_chain(app, accounts, rest):
    org = accounts.organisation()
    accounts.user("dana@acme.test", Role.CLIENT, org)
    accounts.user("bo@portal.test", Role.APPROVER)
    chain = shipped()["chain"]
    draft_id = make_draft(app, chain=chain)
    for email in ("dana@acme.test", "bo@portal.test"):
        browser = app.test_client()
        accounts.login(browser, email)
        token = csrf_token(browser, "/")
        response = browser.post(
            url(draft_id, rest), data={"csrf_token": token, "direction": "down"}
        )
        assert response.status_code == 403
    assert saved_chain(app, draft_id) == chain


def test_a_post_without_the_csrf_token_changes_nothing(app, admin):
    draft_id = make_draft(app)
    assert admin.post(url(draft_id, "/steps"), data={"kind": "task"}).status_code == 400
    assert saved_chain(app, draft_id) is None


PAYLOADS = [
    "<script>alert(1)</script>",
    '" onmouseover="alert(1)',
    "<img src=x onerror=alert(1)>",
    '" hx-get="/admin/" hx-trigger="load',
    "' autofocus onfocus='alert(1)",
]


def test_admin_text_reaches_the_page_as_text_only(app, admin, accounts):
    accounts.user("x@portal.test", Role.APPROVER, name=PAYLOADS[2])
    draft_id = make_draft(app)
    post(admin, draft_id, "/steps", {"kind": "approval"})
    for payload in PAYLOADS:
        data = {
            "name": payload,
            "kind": "approval",
            "pickers": "1",
            "roles": "approver",
            "users": "x@portal.test",
            "groups": payload,
            "when_before": "",
            "when_text": payload,
            "other_rules": payload,
            "escalate": "user",
            "escalate_user": payload,
            "deadline_amount": payload,
        }
        for lang in available_locales():
            data[f"label_{lang}"] = payload
        for body in (
            post(admin, draft_id, "/steps/0", data).get_data(as_text=True),
            admin.get(url(draft_id)).get_data(as_text=True),
            admin.get(url(draft_id, "/people?step=0&q=x@"), headers=HX).get_data(as_text=True),
        ):
            Page.parse(body).assert_safe()
    chain = {
        "steps": [
            {"name": "task", "kind": "task", "assignees": {"role": "approver"}, "label": {"en": p}}
            for p in ["a"]
        ]
    }
    chain["steps"][0]["label"]["en"] = PAYLOADS[0]
    other = make_draft(app, chain=chain)
    body = admin.get(url(other, "/simulate"), headers=HX).get_data(as_text=True)
    assert "&lt;script&gt;" in body
    Page.parse(body).assert_safe()


class Page(HTMLParser):
    """The parts of a page the tests look at: tags, attributes, texts by id."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags = []
        self.values = {}
        self.texts = {}
        self.steps = {}
        self.text = ""
        self._open = []  # (tag, id or step key) whose text is collected

    @classmethod
    def parse(cls, body):
        page = cls()
        page.feed(body)
        page.text = " ".join(page.text.split())
        return page

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if attrs.get("id") and "value" in attrs:
            self.values[attrs["id"]] = attrs["value"]
        if tag in ("div", "li") and (attrs.get("id") or attrs.get("data-step")):
            key = attrs.get("id") or "step:" + attrs["data-step"]
            self._open.append([tag, key, 0])
        elif self._open and tag == self._open[-1][0]:
            self._open[-1][2] += 1

    def handle_endtag(self, tag):
        if self._open and tag == self._open[-1][0]:
            if self._open[-1][2]:
                self._open[-1][2] -= 1
            else:
                self._open.pop()

    def handle_data(self, data):
        self.text += data
        for _, key, _depth in self._open:
            self.texts[key] = self.texts.get(key, "") + data

    def text_of(self, element_id):
        return " ".join(self.texts.get(element_id, "").split())

    def text_of_step(self, name):
        return self.text_of("step:" + name)

    def value_of(self, element_id):
        return self.values.get(element_id)

    def assert_safe(self):
        for tag, attrs in self.tags:
            assert tag != "img", attrs
            if tag == "script":
                assert attrs.get("src", "").startswith("/static/"), attrs
            for name, value in attrs.items():
                assert not name.startswith("on"), (tag, attrs)
                assert name != "autofocus", (tag, attrs)
                if name.startswith("hx-") and name not in (
                    "hx-target",
                    "hx-swap",
                    "hx-trigger",
                    "hx-include",
                    "hx-headers",
                ):
                    assert value != "/admin/", (tag, name, value)  # the payload's
                    assert value.startswith(("/admin/forms/drafts/", "/notifications/")), value
                if name == "hx-trigger":
                    assert value != "load", (tag, attrs)
