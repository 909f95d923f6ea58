"""The Zoho CRM connector against a local fake Zoho (accounts and CRM v7) that checks each
call as Zoho documents it: the refresh-token grant, ``Authorization: Zoho-oauthtoken …``,
the upsert body with ``duplicate_check_fields``, the record's Notes related list."""

from __future__ import annotations

import json
import re
import time

import pytest
from werkzeug import Response

from plugins.zoho_crm import tokens
from plugins.zoho_crm.connector import api_url_for, connector, example_settings
from portal.integrations.connector import PermanentFailure, RetryLater
from portal.integrations.links import RequestLinks
from tests.plugins.conftest import change_of, delivery, event_for, host

CLIENT_ID, CLIENT_SECRET, REFRESH = "1000.CLIENT", "client-secret", "1000.refresh"


def _json(body, status=200) -> Response:
    return Response(json.dumps(body), status, content_type="application/json")


class FakeZoho:
    def __init__(self, server) -> None:
        self.records: dict[str, dict] = {}
        self.notes: dict[str, list[dict]] = {}
        self.live_tokens: set[str] = set()
        self.token_grants = 0
        self.plan: list = []
        server.expect_request("/oauth/v2/token", method="POST").respond_with_handler(self.token)
        server.expect_request("/crm/v7/Deals/upsert", method="POST").respond_with_handler(
            self.upsert
        )
        notes = re.compile(r"^/crm/v7/Deals/\d+/Notes$")
        server.expect_request(notes, method="GET").respond_with_handler(self.list_notes)
        server.expect_request(notes, method="POST").respond_with_handler(self.add_note)

    def token(self, request) -> Response:
        form = request.form
        if (form.get("grant_type"), form.get("client_id"), form.get("client_secret")) != (
            "refresh_token",
            CLIENT_ID,
            CLIENT_SECRET,
        ) or form.get("refresh_token") != REFRESH:
            return _json({"error": "invalid_code"})  # Zoho says so with a 200
        self.token_grants += 1
        token = f"1000.access{self.token_grants}"
        self.live_tokens.add(token)
        return _json({"access_token": token, "api_domain": "https://www.zohoapis.com",
                      "token_type": "Bearer", "expires_in": 3600})  # fmt: skip

    def refused(self, request) -> Response | None:
        found = re.fullmatch(r"Zoho-oauthtoken (\S+)", request.headers.get("Authorization", ""))
        if not found or found.group(1) not in self.live_tokens:
            return _json({"code": "INVALID_TOKEN", "details": {},
                          "message": "invalid oauth token", "status": "error"}, 401)  # fmt: skip
        return None

    def upsert(self, request) -> Response:
        if refused := self.refused(request):
            return refused
        body = request.get_json()
        assert body["duplicate_check_fields"] == ["Portal_Request"]
        (record,) = body["data"]
        step = self.plan.pop(0) if self.plan else "ok"
        if step == 500:
            return _json({"code": "INTERNAL_ERROR", "message": "Internal Server Error"}, 500)
        found = next((i for i, r in self.records.items()
                      if r["Portal_Request"] == record["Portal_Request"]), None)  # fmt: skip
        action = "update" if found else "insert"
        record_id = found or str(5725767000000400000 + len(self.records) + 1)
        self.records[record_id] = {**self.records.get(record_id, {}), **record}
        if step == "slow":
            time.sleep(1.5)
        return _json({"data": [{"code": "SUCCESS", "duplicate_field": "Portal_Request" if found
                      else None, "action": action, "details": {"id": record_id},
                      "message": "record updated" if found else "record added",
                      "status": "success"}]}, 200 if found else 201)  # fmt: skip

    def list_notes(self, request) -> Response:
        if refused := self.refused(request):
            return refused
        assert request.args["fields"] == "Note_Title"
        notes = self.notes.get(request.path.split("/")[4], [])
        if not notes:
            return Response(status=204)
        return _json({"data": notes, "info": {"per_page": 200, "count": len(notes)}})

    def add_note(self, request) -> Response:
        if refused := self.refused(request):
            return refused
        (note,) = request.get_json()["data"]
        assert set(note) == {"Note_Title", "Note_Content"}
        record_id = request.path.split("/")[4]
        self.notes.setdefault(record_id, []).append({**note, "id": str(len(self.notes) + 1)})
        return _json({"data": [{"code": "SUCCESS", "details": {"id": "1"},
                      "message": "record added", "status": "success"}]}, 201)  # fmt: skip


@pytest.fixture(autouse=True)
def _secrets(monkeypatch):
    monkeypatch.setenv("ZOHO_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("ZOHO_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("ZOHO_REFRESH_TOKEN", REFRESH)
    tokens.forget_all()
    yield
    tokens.forget_all()


@pytest.fixture
def zoho(httpserver):
    return FakeZoho(httpserver)


def deliver(app, httpserver, number, event=None):
    base = httpserver.url_for("/").rstrip("/")
    with app.app_context():
        event = event or event_for(number, "request.submitted")
        return connector.deliver(
            delivery("zoho_crm", event, example_settings(base, base), [host(httpserver)])
        )


def test_one_record_per_request_and_a_note_per_decision(app, httpserver, zoho, submitted):
    said = deliver(app, httpserver, submitted)
    assert re.fullmatch(r"record \d+ insert", said)
    (record_id,) = zoho.records
    record = zoho.records[record_id]
    assert record == {"Portal_Request": submitted, "Deal_Name": "Add a CSV export",
                      "Stage_Note": "in_review",
                      "Description": "Finance needs the monthly report as CSV."}  # fmt: skip
    with app.app_context():
        assert RequestLinks(change_of(submitted).id, "zoho_crm").get("record").key == record_id
        decided = event_for(submitted, status="awaiting_confirmation")
    said = deliver(app, httpserver, submitted, decided)
    assert said == f"record {record_id} update; note added"
    assert zoho.records[record_id]["Stage_Note"] == "awaiting_confirmation"
    (note,) = zoho.notes[record_id]
    assert note["Note_Title"] == f"{submitted}: review approved [portal event {decided.id}]"
    assert "Go ahead" in note["Note_Content"]
    # The same event again: the record is upserted, no second note.
    assert deliver(app, httpserver, submitted, decided).endswith("note already added")
    assert len(zoho.notes[record_id]) == 1 and len(zoho.records) == 1
    assert zoho.token_grants == 1  # the access token was kept between deliveries


def test_a_lost_answer_updates_instead_of_making_a_second_record(app, httpserver, zoho,
                                                                 submitted):  # fmt: skip
    zoho.plan = ["slow"]
    with pytest.raises(RetryLater, match="did not answer in time"):
        deliver(app, httpserver, submitted)
    time.sleep(1.6)
    assert deliver(app, httpserver, submitted).endswith(" update")
    assert len(zoho.records) == 1


def test_a_500_is_retried(app, httpserver, zoho, submitted):
    zoho.plan = [500]
    with pytest.raises(RetryLater, match="Zoho CRM answered 500: Internal Server Error"):
        deliver(app, httpserver, submitted)
    assert deliver(app, httpserver, submitted).endswith(" insert")


def test_an_expired_token_is_renewed_once(app, httpserver, zoho, submitted):
    deliver(app, httpserver, submitted)
    zoho.live_tokens.clear()  # Zoho expired it early
    assert deliver(app, httpserver, submitted).endswith(" update")
    assert zoho.token_grants == 2


def test_a_bad_refresh_token_fails_for_good(app, httpserver, zoho, submitted, monkeypatch):
    monkeypatch.setenv("ZOHO_REFRESH_TOKEN", "revoked")
    with pytest.raises(PermanentFailure, match="refused the refresh token: invalid_code"):
        deliver(app, httpserver, submitted)
    assert not zoho.records


def test_each_data_centre_has_its_api_host(app):
    assert api_url_for({"accounts_url": "https://accounts.zoho.eu"}) == "https://www.zohoapis.eu"
    assert api_url_for({"accounts_url": "https://accounts.zoho.com.au"}) == (
        "https://www.zohoapis.com.au"
    )
    settings = example_settings("https://accounts.zoho.in", "")
    assert connector.allowed_hosts(settings) == ["accounts.zoho.in", "www.zohoapis.in"]
    assert connector.check_settings(settings) == {}
    with app.test_request_context():
        problems = connector.check_settings({**settings, "accounts_url": "https://zoho.example"})
        assert problems["accounts_url"].startswith("give your data centre's accounts address")
        problems = connector.check_settings({**settings, "refresh_token": "1000.abc"})
        assert problems["refresh_token"].startswith("never paste the secret itself")
