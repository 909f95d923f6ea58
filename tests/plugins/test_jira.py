"""The Jira connector against a local fake Jira that checks each call as Atlassian documents
it (method, path, auth header, body), and answers as Jira would: created, found, 429, 500,
too late, not at all."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time

import pytest
from werkzeug import Response

from plugins.jira.connector import connector, example_settings
from portal.audit.trace import entries_for
from portal.extensions import db
from portal.integrations.connector import PermanentFailure, RetryLater
from portal.integrations.http import RefusedDestination
from portal.integrations.links import RequestLinks
from portal.integrations.models import InboundReceipt
from portal.integrations.setup import save_setting
from tests.plugins.conftest import change_of, delivery, down_url, event_for, host, receipts

TOKEN = "jira-api-token-123"
BASIC = "Basic " + base64.b64encode(f"bot@example.com:{TOKEN}".encode()).decode()


class FakeJira:
    """Enough of Jira's REST API for the connector: create issue, JQL search by label."""

    def __init__(self, server, cloud: bool = True) -> None:
        self.server = server
        self.cloud = cloud
        self.issues: dict[str, dict] = {}
        self.plan: list = []  # what the next create does: "ok", "slow", 500, 429
        self.calls: list[tuple[str, str]] = []
        version = "3" if cloud else "2"
        search = "/rest/api/3/search/jql" if cloud else "/rest/api/2/search"
        server.expect_request(f"/rest/api/{version}/issue", method="POST").respond_with_handler(
            self.create
        )
        server.expect_request(search, method="GET").respond_with_handler(self.search)

    def auth_ok(self, request) -> bool:
        expected = BASIC if self.cloud else f"Bearer {TOKEN}"
        return request.headers.get("Authorization") == expected

    def unauthorised(self) -> Response:
        return Response(json.dumps({"errorMessages": ["Client must be authenticated to "
                        "access this resource."], "errors": {}}), 401,
                        content_type="application/json")  # fmt: skip

    def create(self, request) -> Response:
        self.calls.append(("create", request.path))
        if not self.auth_ok(request):
            return self.unauthorised()
        fields = request.get_json()["fields"]
        problems = {}
        for name in ("project", "issuetype", "summary", "description"):
            if name not in fields:
                problems[name] = f"Field '{name}' is required."
        if self.cloud and not (
            isinstance(fields.get("description"), dict)
            and fields["description"].get("type") == "doc"
            and fields["description"].get("version") == 1
        ):
            problems["description"] = "Operation value must be an Atlassian Document."
        if problems:
            return Response(json.dumps({"errorMessages": [], "errors": problems}), 400,
                            content_type="application/json")  # fmt: skip
        step = self.plan.pop(0) if self.plan else "ok"
        if step == 429:
            return Response(
                '{"errorMessages":["Rate limit exceeded."]}',
                429,
                {"Retry-After": "30"},
                content_type="application/json",
            )
        key = f"{fields['project']['key']}-{len(self.issues) + 1}"
        if step == 500:  # made, then failed to answer
            self.issues[key] = fields
            return Response(
                '{"errorMessages":["Internal server error"]}', 500, content_type="application/json"
            )
        self.issues[key] = fields
        if step == "slow":  # made, but the answer comes after the client gave up
            time.sleep(1.5)
        body = {"id": str(10000 + len(self.issues)), "key": key,
                "self": f"{request.host_url}rest/api/3/issue/{key}"}  # fmt: skip
        return Response(json.dumps(body), 201, content_type="application/json")

    def search(self, request) -> Response:
        self.calls.append(("search", request.query_string.decode()))
        if not self.auth_ok(request):
            return self.unauthorised()
        found = re.fullmatch(r'labels = "([^"]+)"', request.args.get("jql", ""))
        if not found:
            return Response(
                '{"errorMessages":["Error in the JQL Query"]}', 400, content_type="application/json"
            )
        issues = [{"id": "1", "key": key} for key, f in self.issues.items()
                  if found.group(1) in f.get("labels", [])]  # fmt: skip
        body = {"issues": issues[: int(request.args.get("maxResults", 50))]}
        if not self.cloud:
            body.update(total=len(issues), startAt=0)
        return Response(json.dumps(body), 200, content_type="application/json")


@pytest.fixture(autouse=True)
def _secrets(monkeypatch):
    monkeypatch.setenv("JIRA_API_TOKEN", TOKEN)
    monkeypatch.setenv("JIRA_WEBHOOK_SECRET", "hook-secret")


@pytest.fixture
def jira(httpserver):
    return FakeJira(httpserver)


def deliver(app, httpserver, number, settings=None, event=None, hosts=None):
    with app.app_context():
        event = event or event_for(number)
        settings = settings or example_settings(httpserver.url_for("/").rstrip("/"))
        return connector.deliver(delivery("jira", event, settings, hosts or [host(httpserver)]))


def test_an_approved_change_becomes_one_issue_in_cloud(app, httpserver, jira, submitted):
    said = deliver(app, httpserver, submitted)
    assert said == "created OPS-1"
    fields = jira.issues["OPS-1"]
    assert fields["project"] == {"key": "OPS"} and fields["issuetype"] == {"name": "Task"}
    assert fields["summary"] == f"{submitted}: Add a CSV export"
    assert fields["labels"] == [f"portal-{submitted}", "change-portal"]
    assert fields["priority"] == {"name": "Low"}
    doc = fields["description"]
    assert doc["content"][0] == {"type": "paragraph", "content": [
        {"type": "text", "text": "Finance needs the monthly report as CSV."}]}  # fmt: skip
    link = doc["content"][-1]["content"][0]
    assert link["marks"] == [{"type": "link", "attrs": {
        "href": f"http://portal.test/requests/{submitted}"}}]  # fmt: skip
    with app.app_context():
        found = RequestLinks(change_of(submitted).id, "jira").get("issue")
        assert found.key == "OPS-1" and found.url.endswith("/browse/OPS-1")
    # The search came first, by the marker label, exactly as JQL wants it.
    assert jira.calls[0] == ("search", f"jql=labels+%3D+%22portal-{submitted}%22"
                             "&fields=key&maxResults=1")  # fmt: skip
    # Delivered again: the link is known, Jira is not even asked.
    assert deliver(app, httpserver, submitted) == "issue OPS-1 already made"
    assert len(jira.issues) == 1


def test_data_center_gets_wiki_markup_and_a_bearer_token(app, httpserver, submitted):
    jira = FakeJira(httpserver, cloud=False)
    settings = example_settings(httpserver.url_for("/").rstrip("/"), deployment="datacenter")
    assert deliver(app, httpserver, submitted, settings) == "created OPS-1"
    description = jira.issues["OPS-1"]["description"]
    assert description.startswith("Finance needs the monthly report as CSV.")
    assert description.endswith(f"in the change portal|http://portal.test/requests/{submitted}]")


def test_a_lost_answer_is_found_by_its_label_not_made_twice(app, httpserver, jira, submitted):
    jira.plan = ["slow"]
    with pytest.raises(RetryLater, match="did not answer in time"):
        deliver(app, httpserver, submitted)
    assert list(jira.issues) == ["OPS-1"]  # Jira made it; the portal never heard
    time.sleep(1.6)
    assert deliver(app, httpserver, submitted) == "found OPS-1"
    assert list(jira.issues) == ["OPS-1"]
    with app.app_context():
        assert RequestLinks(change_of(submitted).id, "jira").get("issue").key == "OPS-1"


def test_a_500_after_creating_is_retried_and_finds_the_issue(app, httpserver, jira, submitted):
    jira.plan = [500]
    with pytest.raises(RetryLater, match="Jira answered 500: Internal server error"):
        deliver(app, httpserver, submitted)
    assert deliver(app, httpserver, submitted) == "found OPS-1"
    assert len(jira.issues) == 1


def test_rate_limited_waits_as_jira_says(app, httpserver, jira, submitted):
    jira.plan = [429]
    with pytest.raises(RetryLater) as caught:
        deliver(app, httpserver, submitted)
    assert caught.value.retry_after == 30
    assert "Rate limit exceeded." in caught.value.message
    assert deliver(app, httpserver, submitted) == "created OPS-1"


def test_a_bad_token_fails_for_good_with_jiras_message(app, httpserver, jira, submitted,
                                                       monkeypatch):  # fmt: skip
    monkeypatch.setenv("JIRA_API_TOKEN", "wrong")
    with pytest.raises(PermanentFailure, match="Jira answered 401: Client must be authenticated"):
        deliver(app, httpserver, submitted)
    assert not jira.issues


def test_jira_down_is_a_passing_failure(app, submitted):
    settings = example_settings(down_url())
    with app.app_context(), pytest.raises(RetryLater, match="could not be reached"):
        connector.deliver(delivery("jira", event_for(submitted), settings,
                                   [down_url().split("//")[1], "127.0.0.1"]))  # fmt: skip


def test_only_the_configured_host_and_no_redirect(app, httpserver, submitted):
    settings = example_settings(httpserver.url_for("/").rstrip("/"))
    with pytest.raises(RefusedDestination):
        deliver(app, httpserver, submitted, settings, hosts=["jira.example.com"])
    httpserver.expect_request("/rest/api/3/search/jql").respond_with_data(
        "", 302, {"Location": "http://169.254.169.254/latest/meta-data/"}
    )
    with pytest.raises(PermanentFailure, match="Jira answered 302"):
        deliver(app, httpserver, submitted, settings)


def test_other_steps_and_decisions_make_nothing(app, httpserver, jira, submitted):
    with app.app_context():
        event = event_for(submitted, step="analysis", decision="done")
    assert deliver(app, httpserver, submitted, event=event).startswith("nothing to do")
    with app.app_context():
        event = event_for(submitted, step="review", decision="rejected")
    assert deliver(app, httpserver, submitted, event=event).startswith("nothing to do")
    assert not jira.calls


def test_a_board_members_vote_that_leaves_the_step_open_makes_nothing(
    app, httpserver, jira, submitted
):
    with app.app_context():
        first = event_for(submitted, step="ccb_review", decision="approved", step_status="active")
    assert deliver(app, httpserver, submitted, event=first).startswith("nothing to do")
    assert not jira.calls
    with app.app_context():
        second = event_for(submitted, step="ccb_review", decision="approved",
                           step_status="approved")  # fmt: skip
    assert deliver(app, httpserver, submitted, event=second) == "created OPS-1"


def test_settings_are_checked_with_clear_messages(app):
    with app.test_request_context():
        problems = connector.check_settings({"base_url": "ftp://x", "api_token": "abc",
                                             "project_key": "", "deployment": "cloud"})  # fmt: skip
    assert problems["base_url"] == "give an address that starts with https://"
    assert problems["api_token"].startswith("never paste the secret itself")
    assert problems["email"].startswith("Jira Cloud needs the e-mail")
    assert problems["project_key"] == "give the project key, such as OPS"
    assert connector.check_settings(example_settings("https://acme.atlassian.net")) == {}


# -- the inbound webhook ----------------------------------------------------------------------


def signed(body: bytes, secret: str = "hook-secret") -> dict:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature": f"sha256={digest}", "Content-Type": "application/json",
            "X-Atlassian-Webhook-Identifier": "wh-1"}  # fmt: skip


def done_event(key: str = "OPS-1", category: str = "done") -> bytes:
    return json.dumps({
        "webhookEvent": "jira:issue_updated",
        "timestamp": 1764700000000,
        "user": {"displayName": "Jane Jira"},
        "issue": {"key": key, "fields": {"status": {
            "name": "Done", "statusCategory": {"key": category, "name": "Done"}}}},
    }).encode()  # fmt: skip


@pytest.fixture
def in_implementation(app, waiting_on_implementation):
    """The request waits on its implementation; its Jira issue is OPS-1."""
    number = waiting_on_implementation
    with app.app_context():
        RequestLinks(change_of(number).id, "jira").remember("issue", "OPS-1")
        setting = save_setting(
            "jira", "change-request", example_settings("https://j.test"), ["step.decided"]
        )
        return number, setting.id


def test_a_done_issue_marks_the_implementation_done(app, client, team, in_implementation):
    number, setting_id = in_implementation
    body = done_event()
    response = client.post(f"/hooks/jira/{setting_id}", data=body, headers=signed(body))
    assert response.status_code == 200 and response.json["status"] == "processed"
    assert team.status(number) == "awaiting_feedback"
    with app.app_context():
        done = [e for e in entries_for(change_of(number).id) if e.event == "done"][-1]
        assert done.step == "implementation"
        assert done.data["comment"] == (
            "Marked done by Jira on behalf of Bo: OPS-1 is done (changed by Jane Jira)."
        )
        assert done.data["data"]["via"] == "jira"
    page = team.browsers["dana"].get(f"/requests/{number}").get_data(as_text=True)
    assert "Marked done by Jira on behalf of Bo" in page
    # The same call again (Jira retries): recorded, processed once.
    again = client.post(f"/hooks/jira/{setting_id}", data=body, headers=signed(body))
    assert again.status_code == 200 and again.json["status"] == "duplicate"
    assert receipts(app) == [(True, "processed"), (True, "duplicate")]


def test_unsigned_or_altered_calls_are_refused_and_change_nothing(app, client, team,
                                                                  in_implementation):  # fmt: skip
    number, setting_id = in_implementation
    body = done_event()
    unsigned = client.post(f"/hooks/jira/{setting_id}", data=body,
                           headers={"Content-Type": "application/json"})  # fmt: skip
    assert unsigned.status_code == 401
    headers = signed(done_event(category="indeterminate"))
    altered = client.post(f"/hooks/jira/{setting_id}", data=body, headers=headers)
    assert altered.status_code == 401
    wrong_key = client.post(f"/hooks/jira/{setting_id}", data=body, headers=signed(body, "guess"))
    assert wrong_key.status_code == 401
    assert team.status(number) == "in_progress"
    assert receipts(app) == [(False, "rejected")] * 3
    assert client.post("/hooks/jira/999999", data=body, headers=signed(body)).status_code == 404


def test_a_replayed_body_under_a_new_delivery_id_is_processed_once(app, client, team,
                                                                   in_implementation):  # fmt: skip
    number, setting_id = in_implementation
    body = done_event()
    first = client.post(f"/hooks/jira/{setting_id}", data=body, headers=signed(body))
    other_id = {**signed(body), "X-Atlassian-Webhook-Identifier": "wh-2"}
    replay = client.post(f"/hooks/jira/{setting_id}", data=body, headers=other_id)
    assert (first.json["status"], replay.json["status"]) == ("processed", "duplicate")
    with app.app_context():
        assert [e.event for e in entries_for(change_of(number).id)].count("done") == 3


def test_an_issue_not_yet_done_changes_nothing(app, client, team, in_implementation):
    number, setting_id = in_implementation
    body = done_event(category="indeterminate")
    response = client.post(f"/hooks/jira/{setting_id}", data=body, headers=signed(body))
    assert response.status_code == 200 and response.json["status"] == "ignored"
    assert team.status(number) == "in_progress"


def test_a_call_already_claimed_elsewhere_is_a_duplicate(app, client, team, in_implementation):
    """Two workers receive the same delivery at once: the second finds the first's claim."""
    number, setting_id = in_implementation
    with app.app_context():
        db.session.add(InboundReceipt(connector="jira", setting_id=setting_id, delivery_id="wh-1",
                       body_hash="0" * 64, verified=True, outcome="processing",
                       dedup_key=f"{setting_id}:id:wh-1"))  # fmt: skip
        db.session.commit()
    body = done_event()
    response = client.post(f"/hooks/jira/{setting_id}", data=body, headers=signed(body))
    assert response.json["status"] == "duplicate"
    assert team.status(number) == "in_progress"


def test_a_signed_call_is_checked_over_its_bytes_as_sent_nul_and_all(
    app, client, team, in_implementation
):
    """The portal drops NUL characters from form fields, never from a webhook's body: the
    signature is over the bytes Jira sent."""
    number, setting_id = in_implementation
    body = done_event().replace(b"Jane Jira", b"Jane\\u0000 Jira")
    response = client.post(f"/hooks/jira/{setting_id}", data=body, headers=signed(body))
    assert response.status_code == 200 and response.json["status"] == "processed"
    assert team.status(number) == "awaiting_feedback"
