"""Issue #4's "Done when", end to end: the demo workspace, local fake Jira, Trello and Zoho
servers (the fakes of tests/plugins, which check method, path, auth and body as each vendor
documents them), connector settings saved by an admin on the Connectors page, people acting
in their browsers, and the real delivery worker (the job ``portal run`` runs) driven round
after round while a clock moves on, until every delivery has settled.

The clock: the worker reads the time through ``portal.integrations.worker.utcnow``; the tests
move that clock forward (as the hours passing would) and touch nothing else the worker owns.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from datetime import timedelta

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import func, select
from werkzeug import Response

from plugins.jira.connector import example_settings as jira_settings
from plugins.trello.connector import example_settings as trello_settings
from plugins.zoho_crm import tokens
from plugins.zoho_crm.connector import example_settings as zoho_settings
from portal.accounts.models import User
from portal.approvals import service
from portal.approvals.models import Task
from portal.default_plugins.outbox import deliver_outbox
from portal.demo import DEMO_PASSWORD
from portal.extensions import db
from portal.integrations import worker
from portal.integrations.models import ConnectorSetting, InboundReceipt, OutboxDelivery
from portal.requests.models import ChangeRequest
from tests.conftest import csrf_token
from tests.plugins.test_jira import TOKEN as JIRA_TOKEN
from tests.plugins.test_jira import FakeJira
from tests.plugins.test_trello import KEY as TRELLO_KEY
from tests.plugins.test_trello import TOKEN as TRELLO_TOKEN
from tests.plugins.test_trello import FakeTrello
from tests.plugins.test_zoho_crm import CLIENT_ID, CLIENT_SECRET, REFRESH, FakeZoho
from tests.test_demo import run_demo

CSV_EXPORT = "Add a CSV export to the monthly report"
JIRA_HOOK_SECRET = "jira-hook-secret"
LISTS = "awaiting_confirmation = listConfirm\nin_progress = listDoing\ncompleted = listDone"


def _server_error() -> Response:
    return Response('{"message":"Internal Server Error"}', 500, content_type="application/json")


class Jira(FakeJira):
    """The fake Jira, whose create may first fail outright (500, nothing made)."""

    errors: list

    def create(self, request):  # noqa: ANN001, ANN201
        if self.errors and self.auth_ok(request):
            self.errors.pop(0)
            self.calls.append(("create", request.path))
            return _server_error()
        return super().create(request)


class Trello(FakeTrello):
    """The fake Trello, whose card create may first fail outright (500, nothing made)."""

    errors: list

    def create(self, request):  # noqa: ANN001, ANN201
        if self.errors:
            self.errors.pop(0)
            return _server_error()
        return super().create(request)


class Clock:
    """The worker's clock, moved forward by the tests as time passing would."""

    def __init__(self, monkeypatch) -> None:
        self.offset = timedelta(0)
        real = worker.utcnow
        monkeypatch.setattr(worker, "utcnow", lambda: real() + self.offset)

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


class Handoff:
    """The demo workspace, its people's browsers, the three fake vendors and the worker."""

    def __init__(self, app, servers, clock) -> None:
        self.app, self.clock = app, clock
        jira_server, trello_server, zoho_server = servers
        self.jira, self.trello, self.zoho = (
            Jira(jira_server), Trello(trello_server), FakeZoho(zoho_server)
        )  # fmt: skip
        self.jira.errors, self.trello.errors = [], []
        self.urls = {name: s.url_for("/").rstrip("/") for name, s in
                     zip(("jira", "trello", "zoho"), servers, strict=True)}  # fmt: skip
        self.browsers: dict[str, object] = {}

    def browser(self, email: str):
        if email not in self.browsers:
            browser = self.app.test_client()
            token = csrf_token(browser, "/login")
            browser.post("/login", data={"email": email, "password": DEMO_PASSWORD,
                                         "csrf_token": token})  # fmt: skip
            self.browsers[email] = browser
        return self.browsers[email]

    def admin(self):
        return self.browser("admin@example.com")

    def save_settings(self, connector: str, settings: dict, events) -> None:  # noqa: ANN001
        """As an admin does it: the Connectors page, its CSRF token, the connector's fields."""
        path = f"/admin/connectors/change-request/{connector}"
        page = self.admin().get(path).get_data(as_text=True)
        for name in settings:  # the page offers every one of the connector's settings
            assert f'name="setting-{name}"' in page, (connector, name)
        data = {"csrf_token": csrf_token(self.admin(), path), "enabled": "1",
                "events": list(events)}  # fmt: skip
        data.update({f"setting-{name}": value for name, value in settings.items()})
        response = self.admin().post(path, data=data)
        assert response.status_code == 303, response.get_data(as_text=True)

    def configure(self) -> None:
        self.save_settings(
            "jira",
            jira_settings(self.urls["jira"], webhook_secret="env:JIRA_WEBHOOK_SECRET"),
            ["step.decided"],
        )
        self.save_settings(
            "trello",
            trello_settings(self.urls["trello"], status_lists=LISTS),
            ["request.submitted", "request.revised", "step.decided", "request.closed"],
        )
        self.save_settings(
            "zoho_crm",
            zoho_settings(self.urls["zoho"], self.urls["zoho"]),
            ["request.submitted", "request.revised", "step.decided", "request.closed"],
        )

    # -- the request and its people --------------------------------------------------------

    def number(self, title: str = CSV_EXPORT) -> str:
        with self.app.app_context():
            return db.session.scalar(
                select(ChangeRequest.number).where(ChangeRequest.title == title)
            )

    def assignee(self, number: str, step: str) -> str:
        with self.app.app_context():
            return db.session.scalars(
                select(User.email)
                .join(Task, Task.user_id == User.id)
                .join(ChangeRequest, ChangeRequest.id == Task.request_id)
                .where(ChangeRequest.number == number, Task.step == step, Task.open.is_(True))
                .order_by(User.email)
            ).first()

    def act(self, number: str, step: str, verb: str, comment: str = "") -> None:
        """The person the step waits on decides it on the request page."""
        who = self.assignee(number, step)
        assert who, f"nobody is asked to act on {step}"
        browser = self.browser(who)
        page = browser.get(f"/requests/{number}").get_data(as_text=True)
        revision = re.search(r'name="revision" value="(\d+)"', page)
        response = browser.post(f"/requests/{number}/act", data={
            "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page).group(1),
            "step": step, "verb": verb, "comment": comment,
            "revision": revision.group(1) if revision else "1",
        })  # fmt: skip
        assert response.status_code in (200, 302, 303), response.get_data(as_text=True)

    def step_status(self, number: str, step: str) -> str:
        with self.app.app_context():
            change = db.session.scalar(select(ChangeRequest).where(ChangeRequest.number == number))
            return service.state_of(change).steps[step].status

    def status(self, number: str) -> str:
        with self.app.app_context():
            return db.session.scalar(
                select(ChangeRequest.status).where(ChangeRequest.number == number)
            )

    # -- the worker --------------------------------------------------------------------------

    def unsettled(self) -> int:
        with self.app.app_context():
            return db.session.scalar(
                select(func.count(OutboxDelivery.id)).where(
                    OutboxDelivery.state.in_(worker.DUE_STATES)
                )
            )

    def deliver_until_settled(self, rounds: int = 12) -> int:
        """Run the worker's job, then let an hour pass, until nothing is left to send."""
        for done in range(1, rounds + 1):
            with self.app.app_context():
                deliver_outbox()
            if not self.unsettled():
                return done
            self.clock.advance(worker.LONGEST_BACKOFF_SECONDS + 1)
        raise AssertionError(f"{self.unsettled()} deliveries still unsettled after {rounds}")

    def deliveries(self) -> list[tuple[str, str, str, str]]:
        with self.app.app_context():
            rows = db.session.scalars(select(OutboxDelivery).order_by(OutboxDelivery.id))
            return [(d.connector, d.event.name, d.state, d.result or "") for d in rows]

    def setting_id(self, connector: str) -> int:
        with self.app.app_context():
            return db.session.scalar(
                select(ConnectorSetting.id).where(ConnectorSetting.connector == connector)
            )


@pytest.fixture
def vendors():
    """Three fake vendors, each on its own threaded server (a slow answer blocks no other)."""
    servers = [HTTPServer(host="127.0.0.1", port=0, threaded=True) for _ in range(3)]
    for server in servers:
        server.start()
    yield servers
    for server in servers:
        server.clear()
        if server.is_running():
            server.stop()


@pytest.fixture
def handoff(app, vendors, monkeypatch):
    monkeypatch.setenv("JIRA_API_TOKEN", JIRA_TOKEN)
    monkeypatch.setenv("JIRA_WEBHOOK_SECRET", JIRA_HOOK_SECRET)
    monkeypatch.setenv("TRELLO_API_KEY", TRELLO_KEY)
    monkeypatch.setenv("TRELLO_TOKEN", TRELLO_TOKEN)
    monkeypatch.setenv("TRELLO_API_SECRET", "trello-app-secret")
    monkeypatch.setenv("ZOHO_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("ZOHO_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("ZOHO_REFRESH_TOKEN", REFRESH)
    monkeypatch.setitem(app.config, "OUTBOX_TIMEOUT_SECONDS", "1")  # the fakes' "slow" is 1.5 s
    tokens.forget_all()
    run_demo(app)
    handoff = Handoff(app, vendors, Clock(monkeypatch))
    handoff.configure()
    yield handoff
    tokens.forget_all()


def approve_the_csv_export(handoff: Handoff) -> str:
    number = handoff.number()
    handoff.act(number, "review", "approve", "Accepted for this quarter.")
    assert handoff.status(number) == "awaiting_confirmation"
    return number


def jira_done(key: str, identifier: str = "hook-1") -> tuple[bytes, dict[str, str]]:
    """A Jira "issue updated" call for ``key`` now Done, signed as Jira signs it."""
    body = json.dumps({
        "timestamp": 1764700000000,
        "webhookEvent": "jira:issue_updated",
        "user": {"displayName": "Jo Engineer"},
        "issue": {"key": key, "fields": {"status": {
            "name": "Done", "statusCategory": {"key": "done", "name": "Done"}}}},
    }).encode()  # fmt: skip
    digest = hmac.new(JIRA_HOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return body, {
        "Content-Type": "application/json",
        "X-Hub-Signature": f"sha256={digest}",
        "X-Atlassian-Webhook-Identifier": identifier,
    }


# -- the cases --------------------------------------------------------------------------------


def test_an_approved_change_makes_one_issue_one_card_one_record_through_500s_and_timeouts(
    handoff,
):
    # Each vendor first answers 500 (nothing made), then makes the record but answers too late.
    handoff.jira.errors, handoff.jira.plan = [500], ["slow"]
    handoff.trello.errors, handoff.trello.plan = [500], ["slow"]
    handoff.zoho.plan = [500, "slow"]

    number = approve_the_csv_export(handoff)
    rounds = handoff.deliver_until_settled()

    assert rounds >= 3  # a 500, a timeout, then the answer that finds what was made
    assert len(handoff.jira.issues) == 1
    assert len(handoff.trello.cards) == 1
    assert len(handoff.zoho.records) == 1
    (fields,) = handoff.jira.issues.values()
    assert fields["summary"] == f"{number}: {CSV_EXPORT}"
    assert f"portal-{number}" in fields["labels"]
    (record,) = handoff.zoho.records.values()
    assert record["Portal_Request"] == number and record["Deal_Name"] == CSV_EXPORT
    assert {state for _c, _e, state, _r in handoff.deliveries()} == {"delivered"}
    jira_results = [r for c, _e, _s, r in handoff.deliveries() if c == "jira"]
    assert jira_results == ["found OPS-1"]

    # The request keeps the issue key, shown to staff in the "In other tools" panel.
    page = handoff.admin().get(f"/requests/{number}").get_data(as_text=True)
    assert "In other tools" in page and "Jira: OPS-1" in page
    assert f'href="{handoff.urls["jira"]}/browse/OPS-1"' in page


def test_a_signed_jira_done_webhook_advances_the_request_once(handoff):
    number = approve_the_csv_export(handoff)
    handoff.act(number, "confirmation", "confirm", "Fine for us.")
    handoff.act(number, "plan_adjustment", "done", "Planned.")
    handoff.deliver_until_settled()
    assert handoff.step_status(number, "implementation") == "active"
    hook = f"/hooks/jira/{handoff.setting_id('jira')}"
    jira = handoff.app.test_client()  # Jira has no session and no CSRF token

    body, headers = jira_done("OPS-1")
    unsigned = {k: v for k, v in headers.items() if k != "X-Hub-Signature"}
    assert jira.post(hook, data=body, headers=unsigned).status_code == 401
    altered = body.replace(b'"Jo Engineer"', b'"Mallory"')
    assert jira.post(hook, data=altered, headers=headers).status_code == 401
    assert handoff.step_status(number, "implementation") == "active"

    assert jira.post(hook, data=body, headers=headers).status_code == 200
    assert handoff.step_status(number, "implementation") == "done"
    replay = jira.post(hook, data=body, headers=headers)
    assert (replay.status_code, replay.get_json()) == (200, {"status": "duplicate"})
    with handoff.app.app_context():
        outcomes = db.session.execute(
            select(InboundReceipt.verified, InboundReceipt.outcome).order_by(InboundReceipt.id)
        ).all()
    assert [tuple(o) for o in outcomes] == [
        (False, "rejected"), (False, "rejected"), (True, "processed"), (True, "duplicate"),
    ]  # fmt: skip
    page = handoff.admin().get(f"/requests/{number}").get_data(as_text=True)
    assert page.count("Marked done by Jira") == 1


def test_the_outbox_page_shows_each_attempt_and_a_dead_delivery_comes_back_on_retry(
    handoff, monkeypatch
):
    handoff.jira.errors, handoff.jira.plan = [500], ["slow"]
    number = approve_the_csv_export(handoff)
    handoff.deliver_until_settled()
    admin = handoff.admin()

    listing = admin.get("/admin/outbox").get_data(as_text=True)
    ids = [int(i) for i in re.findall(r'id="delivery-(\d+)"', listing)]
    assert len(ids) == len(handoff.deliveries()) and ids
    assert listing.count("Delivered") >= len(ids)
    assert "found OPS-1" in listing and number in listing
    with handoff.app.app_context():
        jira_id = db.session.scalar(
            select(OutboxDelivery.id).where(
                OutboxDelivery.connector == "jira", OutboxDelivery.result == "found OPS-1"
            )
        )
    detail = admin.get(f"/admin/outbox/{jira_id}").get_data(as_text=True)
    assert "Jira answered 500: Internal Server Error" in detail
    assert "Jira did not answer in time" in detail
    assert "found OPS-1" in detail

    # A bad token: Jira says 401, the delivery dies at once with Jira's own words.
    monkeypatch.setenv("JIRA_API_TOKEN", "revoked-token")
    second = handoff.number("Move the ERP to a new data centre")
    handoff.act(second, "ccb_review", "approve", "Agreed.")
    handoff.deliver_until_settled()
    with handoff.app.app_context():
        dead = db.session.scalar(select(OutboxDelivery).where(OutboxDelivery.state == "dead"))
        dead_id = dead.id
        assert dead.connector == "jira"
    listing = admin.get("/admin/outbox?state=dead").get_data(as_text=True)
    assert "Jira answered 401: Client must be authenticated to access this resource." in listing
    assert "Retry" in listing
    assert len(handoff.jira.issues) == 1

    # The token is fixed; the admin presses Retry; the next round delivers it.
    monkeypatch.setenv("JIRA_API_TOKEN", JIRA_TOKEN)
    token = csrf_token(admin, "/admin/outbox?state=dead")
    retried = admin.post(f"/admin/outbox/{dead_id}/retry", data={"csrf_token": token},
                         headers={"HX-Request": "true"})  # fmt: skip
    assert retried.status_code == 200 and "sent again" in retried.get_data(as_text=True)
    handoff.deliver_until_settled()
    assert len(handoff.jira.issues) == 2
    listing = admin.get("/admin/outbox").get_data(as_text=True)
    assert "created OPS-2" in listing
    assert "delivery-state--dead" not in listing


def test_the_trello_card_follows_the_request_and_zoho_notes_each_decision_once(handoff):
    number = approve_the_csv_export(handoff)
    handoff.deliver_until_settled()
    (card,) = handoff.trello.cards.values()
    assert card["idList"] == "listConfirm"

    handoff.act(number, "confirmation", "confirm", "Fine for us.")
    handoff.deliver_until_settled()
    handoff.act(number, "plan_adjustment", "done", "Planned.")
    handoff.deliver_until_settled()
    assert handoff.status(number) == "in_progress"
    assert card["idList"] == "listDoing"
    assert len(handoff.trello.cards) == 1

    (record_id,) = handoff.zoho.records
    titles = [note["Note_Title"] for note in handoff.zoho.notes[record_id]]
    assert [t.split(" [")[0] for t in titles] == [
        f"{number}: review approved",
        f"{number}: confirmation confirmed",
        f"{number}: plan_adjustment done",
    ]
    # Delivering again (nothing due) adds nothing.
    handoff.clock.advance(7200)
    handoff.deliver_until_settled()
    assert len(handoff.zoho.notes[record_id]) == 3


def test_a_card_that_failed_to_move_never_moves_back_behind_a_later_event(handoff):
    """Trello fails while the request moves on twice: its deliveries still land in order,
    so the card ends in the list of the request's latest status."""
    handoff.trello.errors = [500]
    number = approve_the_csv_export(handoff)
    with handoff.app.app_context():
        deliver_outbox()  # Trello answers 500: the approval's delivery waits for its retry
    handoff.act(number, "confirmation", "confirm", "Fine for us.")
    handoff.act(number, "plan_adjustment", "done", "Planned.")
    handoff.deliver_until_settled()
    assert handoff.status(number) == "in_progress"
    (card,) = handoff.trello.cards.values()
    assert card["idList"] == "listDoing"
