"""The admin's Inbound calls page: the calls Jira and Trello made to the portal, as an admin
reads them after "Jira says the issue is done but the request did not move"; and what the
others get there (nothing)."""

from __future__ import annotations

import hashlib
import hmac
import json
from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from plugins.jira.connector import example_settings as jira_settings
from plugins.trello.connector import example_settings as trello_settings
from portal.accounts.models import Role
from portal.extensions import db
from portal.integrations.links import RequestLinks
from portal.integrations.models import InboundReceipt
from portal.integrations.setup import save_setting
from tests.admin.test_xss_sweep import PAYLOADS, check
from tests.approvals.test_chain_at_work import LOW, Team
from tests.plugins.conftest import change_of


def jira_body(key: str = "OPS-1", category: str = "done", status: str = "Done") -> bytes:
    return json.dumps({
        "webhookEvent": "jira:issue_updated",
        "user": {"displayName": "Jane Jira"},
        "issue": {"key": key, "fields": {"status": {
            "name": status, "statusCategory": {"key": category}}}},
    }).encode()  # fmt: skip


def jira_headers(body: bytes, delivery: str, secret: str = "hook-secret") -> dict:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature": f"sha256={digest}", "Content-Type": "application/json",
            "X-Atlassian-Webhook-Identifier": delivery}  # fmt: skip


class Rows(HTMLParser):
    """The cells' text of each row of the page's table body, and each row's links."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self.links: list[list[str]] = []
        self._in_body = False
        self._cell: list[str] | None = None
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        if tag == "tbody":
            self._in_body = True
        elif self._in_body and tag == "tr":
            self.rows.append([])
            self.links.append([])
        elif self._in_body and tag == "td":
            self._cell = []
        elif self._in_body and tag == "a" and self.links:
            self.links[-1].append(dict(attrs)["href"])

    def handle_endtag(self, tag):
        if tag == "tbody":
            self._in_body = False
        elif tag == "td" and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def rows(browser, path: str) -> list[list[str]]:
    return Rows(browser.get(path).get_data(as_text=True)).rows


@pytest.fixture
def calls(app, accounts, change_request_form, monkeypatch):
    """A request waiting on its implementation, linked to Jira issue OPS-1 and Trello card
    card7; then, in this order: an unsigned Jira call, the issue done (processed), Jira's
    retry of it, another issue still in progress, a call to a setting that does not exist,
    and an unsigned Trello call."""
    monkeypatch.setenv("JIRA_WEBHOOK_SECRET", "hook-secret")
    monkeypatch.setenv("TRELLO_API_SECRET", "trello-app-secret")
    team = Team(app, accounts)
    number = team.submit(LOW)
    for who, step, verb in (("bo", "analysis", "done"), ("chen", "review", "approve"),
                            ("dana", "confirmation", "confirm"),
                            ("bo", "plan_adjustment", "done")):  # fmt: skip
        assert team.act(who, number, step, verb).status_code == 200
    with app.app_context():
        RequestLinks(change_of(number).id, "jira").remember("issue", "OPS-1")
        jira = save_setting("jira", "change-request", jira_settings("https://j.test"), []).id
        trello = save_setting("trello", "change-request", trello_settings("https://t.test"), []).id
    tool = app.test_client()
    done = jira_body()
    answers = [
        tool.post(f"/hooks/jira/{jira}", data=done, headers={"X-Atlassian-Webhook-Identifier":
                                                             "wh-unsigned"}),
        tool.post(f"/hooks/jira/{jira}", data=done, headers=jira_headers(done, "wh-1")),
        tool.post(f"/hooks/jira/{jira}", data=done, headers=jira_headers(done, "wh-1")),
        tool.post(f"/hooks/jira/{jira}", data=jira_body("OPS-2", "indeterminate", "In Progress"),
                  headers=jira_headers(jira_body("OPS-2", "indeterminate", "In Progress"),
                                       "wh-2")),
        tool.post("/hooks/jira/999999", data=done, headers=jira_headers(done, "wh-3")),
        tool.post(f"/hooks/trello/{trello}", data=b'{"action": {"id": "act9"}}'),
    ]  # fmt: skip
    assert [a.status_code for a in answers] == [401, 200, 200, 200, 404, 401]
    assert team.status(number) == "awaiting_feedback"
    team.done_body = done
    team.settings = {"jira": jira, "trello": trello}
    return team


def test_the_admin_sees_every_call_newest_first_with_what_came_of_it(calls):
    ada = calls.browsers["ada"]
    page = ada.get("/admin/inbound")
    assert page.status_code == 200
    table = Rows(page.get_data(as_text=True))
    # received, connector, form setting, delivery id, signature, outcome, detail
    assert [row[1:] for row in table.rows] == [
        ["Trello", "change-request", "act9", "Refused", "Signature refused",
         "bad or missing signature"],
        ["Jira", "", "wh-3", "Not checked", "No matching setting",
         "setting 999999 does not exist"],
        ["Jira", "change-request", "wh-2", "Valid", "Ignored", "OPS-2 is In Progress"],
        ["Jira", "change-request", "wh-1", "Valid", "Already received", ""],
        ["Jira", "change-request", "wh-1", "Valid", "Processed",
         "implementation done for OPS-1"],
        ["Jira", "change-request", "wh-unsigned", "Refused", "Signature refused",
         "bad or missing signature"],
    ]  # fmt: skip
    assert all(row[0] for row in table.rows)  # when each was received
    with calls.app.app_context():
        ids = db.session.scalars(select(InboundReceipt.id).order_by(InboundReceipt.id.desc()))
        ids = list(ids)
    # each row opens its call; a matched one links its form's setting
    assert table.links[0] == [f"/admin/inbound/{ids[0]}", "/admin/connectors/change-request/trello"]
    assert table.links[1] == [f"/admin/inbound/{ids[1]}"]
    assert table.links[4] == [f"/admin/inbound/{ids[4]}", "/admin/connectors/change-request/jira"]


def test_filters_by_connector_and_outcome(calls):
    ada = calls.browsers["ada"]
    assert [r[1] for r in rows(ada, "/admin/inbound?connector=trello")] == ["Trello"]
    assert [r[5] for r in rows(ada, "/admin/inbound?outcome=rejected")] == ["Signature refused"] * 2
    assert [(r[1], r[3]) for r in rows(ada, "/admin/inbound?connector=jira&outcome=rejected")] == [
        ("Jira", "wh-unsigned")
    ]
    assert [r[3] for r in rows(ada, "/admin/inbound?outcome=processed")] == ["wh-1"]
    assert len(rows(ada, "/admin/inbound?outcome=no-such-outcome")) == 6  # an unknown one: all
    page = ada.get("/admin/inbound?connector=zoho_crm").get_data(as_text=True)
    assert "No call matches." in page and "<tbody>" not in page
    page = ada.get("/admin/inbound?connector=jira").get_data(as_text=True)
    assert '<option value="jira" selected>Jira</option>' in page
    assert '<option value="trello">Trello</option>' in page


def test_one_call_shows_every_field_and_the_bodys_hash_never_a_secret(calls):
    ada = calls.browsers["ada"]
    with calls.app.app_context():
        processed = db.session.scalar(
            select(InboundReceipt.id).where(InboundReceipt.outcome == "processed")
        )
        unknown = db.session.scalar(
            select(InboundReceipt.id).where(InboundReceipt.outcome == "unknown_setting")
        )
    page = ada.get(f"/admin/inbound/{processed}").get_data(as_text=True)
    text = check(page, "processed call")
    assert f"Inbound call {processed}" in text
    assert hashlib.sha256(calls.done_body).hexdigest() in text
    assert "The body itself is not kept" in text
    for shown in ("Jira", "wh-1", "Valid", "Processed", "implementation done for OPS-1",
                  "The call was processed: the detail says what changed."):  # fmt: skip
        assert shown in text, shown
    assert 'href="/admin/connectors/change-request/jira"' in page
    assert 'href="/admin/inbound"' in page
    assert "hook-secret" not in page and "JIRA_WEBHOOK_SECRET" not in page

    text = check(ada.get(f"/admin/inbound/{unknown}").get_data(as_text=True), "unknown")
    assert "No matching setting" in text and "Not checked" in text
    assert "No setting matched this call." in text
    assert "setting 999999 does not exist" in text


def test_times_in_the_viewers_zone_and_labels_in_their_language(calls, accounts, app):
    accounts.user("kenji@portal.test", Role.ADMIN, name="Kenji", timezone="Asia/Tokyo")
    accounts.user("greta@portal.test", Role.ADMIN, name="Greta", locale="de",
                  timezone="Europe/Berlin")  # fmt: skip
    kenji, greta = app.test_client(), app.test_client()
    accounts.login(kenji, "kenji@portal.test")
    accounts.login(greta, "greta@portal.test")
    assert all("JST" in row[0] for row in rows(kenji, "/admin/inbound"))
    with app.app_context():
        first = db.session.scalar(select(InboundReceipt.id).order_by(InboundReceipt.id))
    assert "JST" in kenji.get(f"/admin/inbound/{first}").get_data(as_text=True)
    page = greta.get("/admin/inbound").get_data(as_text=True)
    assert "Eingehende Aufrufe" in page and "Signatur abgelehnt" in page
    assert "Signature refused" not in page
    assert all(row[0].endswith(("CET", "CEST")) for row in Rows(page).rows)


def test_nothing_received_yet_says_where_to_set_the_webhook_up(app, accounts):
    accounts.user("ada@portal.test", Role.ADMIN)
    ada = app.test_client()
    accounts.login(ada, "ada@portal.test")
    page = ada.get("/admin/inbound").get_data(as_text=True)
    assert "No call has been received yet." in page
    assert "docs/connectors.md" in page and 'href="/admin/connectors"' in page
    assert "<table" not in page


def test_older_calls_come_a_page_at_a_time(calls, monkeypatch):
    from portal.integrations import admin_inbound

    monkeypatch.setattr(admin_inbound, "PAGE_SIZE", 4)
    ada = calls.browsers["ada"]
    page = ada.get("/admin/inbound").get_data(as_text=True)
    table = Rows(page)
    assert len(table.rows) == 5 and table.rows[-1] == ["Show more"]  # four calls, then more
    with calls.app.app_context():
        ids = list(db.session.scalars(select(InboundReceipt.id).order_by(InboundReceipt.id)))
    assert f'href="/admin/inbound?before={ids[2]}"' in page
    assert f'hx-get="/admin/inbound?before={ids[2]}&amp;fragment=rows"' in page
    more = ada.get(f"/admin/inbound?before={ids[2]}&fragment=rows", headers={"HX-Request": "true"})
    assert "HX-Request" in more.headers["Vary"]
    fragment = more.get_data(as_text=True)
    assert fragment.lstrip().startswith(f'<tr id="receipt-{ids[1]}">')
    assert "<html" not in fragment and "Show more" not in fragment
    assert f'id="receipt-{ids[0]}"' in fragment
    # without JavaScript, the link is a page of its own, with the way back
    older = ada.get(f"/admin/inbound?before={ids[2]}").get_data(as_text=True)
    assert [r[3] for r in Rows(older).rows] == ["wh-1", "wh-unsigned"]
    assert "Back to the newest calls" in older
    # filters are kept from page to page
    monkeypatch.setattr(admin_inbound, "PAGE_SIZE", 1)
    page = ada.get("/admin/inbound?connector=jira&outcome=rejected").get_data(as_text=True)
    assert "Show more" not in page
    page = ada.get("/admin/inbound?outcome=rejected").get_data(as_text=True)
    assert f'href="/admin/inbound?before={ids[5]}&amp;outcome=rejected"' in page


def test_clients_and_approvers_are_kept_out(calls):
    with calls.app.app_context():
        receipt = db.session.scalar(select(InboundReceipt.id))
    for who in ("dana", "bo", "chen"):
        browser = calls.browsers[who]
        for path in ("/admin/inbound", f"/admin/inbound/{receipt}",
                     "/admin/inbound?outcome=rejected&fragment=rows"):  # fmt: skip
            answer = browser.get(path, headers={"HX-Request": "true"})
            assert answer.status_code == 403, (who, path)
            assert "wh-1" not in answer.get_data(as_text=True)


def test_signed_out_visitors_go_to_sign_in(app):
    answer = app.test_client().get("/admin/inbound")
    assert answer.status_code == 302 and answer.location.startswith("/login")


def test_unknown_or_huge_ids_are_not_found(calls):
    ada = calls.browsers["ada"]
    for path in ("/admin/inbound/0", "/admin/inbound/2147483647", "/admin/inbound/2147483648",
                 "/admin/inbound/99999999999999999999999", "/admin/inbound/-1",
                 "/admin/inbound/abc"):  # fmt: skip
        assert ada.get(path).status_code == 404, path
    for query in ("before=99999999999999999999999", "before=-5", "before=abc", "before=0"):
        answer = ada.get(f"/admin/inbound?{query}")
        assert answer.status_code == 200, query
        assert len(Rows(answer.get_data(as_text=True)).rows) == 6, query


def test_what_a_tool_sent_shows_as_text(app, accounts, monkeypatch):
    """A delivery id and a status name are the vendor's words: anyone who can post to the
    webhook chooses them, signed or not."""
    accounts.user("ada@portal.test", Role.ADMIN)
    ada = app.test_client()
    accounts.login(ada, "ada@portal.test")
    with app.app_context():
        jira = save_setting("jira", "change-request", jira_settings("https://j.test"), []).id
    monkeypatch.setenv("JIRA_WEBHOOK_SECRET", "hook-secret")
    tool = app.test_client()
    for n, payload in enumerate(PAYLOADS):
        tool.post(f"/hooks/jira/{jira}", data=b"{}",
                  headers={"X-Atlassian-Webhook-Identifier": payload})  # fmt: skip
        body = jira_body(f"OPS-{n}", "indeterminate", payload)
        signed = tool.post(f"/hooks/jira/{jira}", data=body,
                           headers=jira_headers(body, f"signed-{n}"))  # fmt: skip
        assert signed.json["status"] == "ignored"
    text = check(ada.get("/admin/inbound").get_data(as_text=True), "/admin/inbound")
    for n, payload in enumerate(PAYLOADS):
        assert payload in text and f"OPS-{n} is {payload}" in text, payload
    with app.app_context():
        ids = db.session.scalars(select(InboundReceipt.id)).all()
    for receipt in ids:
        check(ada.get(f"/admin/inbound/{receipt}").get_data(as_text=True), f"call {receipt}")
    for payload in PAYLOADS[:3]:  # a filter value is shown back as text too
        answer = ada.get("/admin/inbound", query_string={"connector": payload})
        check(answer.get_data(as_text=True), f"filter {payload}")


def test_the_admin_home_nav_outbox_and_connectors_link_the_page(app, accounts):
    accounts.user("ada@portal.test", Role.ADMIN)
    ada = app.test_client()
    accounts.login(ada, "ada@portal.test")
    for path in ("/admin/", "/admin/outbox", "/admin/connectors", "/admin/people/"):
        assert 'href="/admin/inbound"' in ada.get(path).get_data(as_text=True), path
    page = ada.get("/admin/inbound").get_data(as_text=True)
    assert 'href="/admin/inbound" aria-current="page"' in page
