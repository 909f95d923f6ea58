"""The Trello connector against a local fake Trello that checks each call as Trello
documents it (the OAuth header with key and token, query parameters), and its signed
inbound webhook (HEAD check, X-Trello-Webhook)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from werkzeug import Response

from plugins.trello.connector import connector, example_settings
from portal.integrations.connector import PermanentFailure, RetryLater
from portal.integrations.links import RequestLinks
from portal.integrations.setup import save_setting
from tests.plugins.conftest import change_of, delivery, event_for, host, receipts

KEY, TOKEN = "trello-key", "trello-token"
AUTH = f'OAuth oauth_consumer_key="{KEY}", oauth_token="{TOKEN}"'


class FakeTrello:
    def __init__(self, server) -> None:
        self.cards: dict[str, dict] = {}
        self.plan: list = []
        self.calls: list[tuple[str, str, dict]] = []
        server.expect_request("/1/boards/board1/cards/all", method="GET").respond_with_handler(
            self.board_cards
        )
        server.expect_request("/1/cards", method="POST").respond_with_handler(self.create)
        for n in range(1, 4):
            server.expect_request(f"/1/cards/card{n}", method="PUT").respond_with_handler(
                self.update
            )

    def refused(self, request) -> Response | None:
        self.calls.append((request.method, request.path, dict(request.args)))
        if request.headers.get("Authorization") != AUTH:
            return Response("invalid token", 401, content_type="text/plain")
        if "key" in request.args or "token" in request.args:
            return Response("secrets belong in the header", 400)
        return None

    def board_cards(self, request) -> Response:
        if refused := self.refused(request):
            return refused
        assert request.args["fields"] == "name,desc,idList,shortUrl"
        return Response(json.dumps(list(self.cards.values())), 200,
                        content_type="application/json")  # fmt: skip

    def create(self, request) -> Response:
        if refused := self.refused(request):
            return refused
        step = self.plan.pop(0) if self.plan else "ok"
        if step == 429:
            return Response('{"message":"Rate limit exceeded"}', 429, {"Retry-After": "12"},
                            content_type="application/json")  # fmt: skip
        card_id = f"card{len(self.cards) + 1}"
        self.cards[card_id] = {
            "id": card_id,
            "name": request.args["name"],
            "desc": request.args["desc"],
            "idList": request.args["idList"],
            "shortUrl": f"https://trello.com/c/{card_id}",
        }
        if step == "slow":
            time.sleep(1.5)
        return Response(json.dumps(self.cards[card_id]), 200, content_type="application/json")

    def update(self, request) -> Response:
        if refused := self.refused(request):
            return refused
        card = self.cards[request.path.rsplit("/", 1)[1]]
        card["idList"] = request.args["idList"]
        return Response(json.dumps(card), 200, content_type="application/json")


@pytest.fixture(autouse=True)
def _secrets(monkeypatch):
    monkeypatch.setenv("TRELLO_API_KEY", KEY)
    monkeypatch.setenv("TRELLO_TOKEN", TOKEN)
    monkeypatch.setenv("TRELLO_API_SECRET", "trello-app-secret")


@pytest.fixture
def trello(httpserver):
    return FakeTrello(httpserver)


def deliver(app, httpserver, number, event=None):
    with app.app_context():
        event = event or event_for(number, "request.submitted")
        settings = example_settings(httpserver.url_for("/").rstrip("/"))
        return connector.deliver(delivery("trello", event, settings, [host(httpserver)]))


def test_a_request_becomes_a_card_that_follows_its_status(app, httpserver, trello, submitted):
    assert deliver(app, httpserver, submitted) == "created card card1"
    card = trello.cards["card1"]
    assert card["idList"] == "listNew"
    assert card["name"] == f"{submitted}: Add a CSV export"
    assert card["desc"].splitlines()[-1] == f"portal-{submitted}"
    assert f"http://portal.test/requests/{submitted}" in card["desc"]
    with app.app_context():
        link = RequestLinks(change_of(submitted).id, "trello").get("card")
        assert (link.key, link.url) == ("card1", "https://trello.com/c/card1")
        moved = event_for(submitted, status="in_progress")
    assert deliver(app, httpserver, submitted, moved) == "card card1 in list listDoing"
    assert trello.cards["card1"]["idList"] == "listDoing"
    assert ("PUT", "/1/cards/card1", {"idList": "listDoing"}) in trello.calls
    assert len(trello.cards) == 1


def test_a_lost_answer_is_found_on_the_board(app, httpserver, trello, submitted):
    trello.plan = ["slow"]
    with pytest.raises(RetryLater, match="did not answer in time"):
        deliver(app, httpserver, submitted)
    time.sleep(1.6)
    assert deliver(app, httpserver, submitted) == "found card card1"
    assert list(trello.cards) == ["card1"]


def test_rate_limited_and_bad_token(app, httpserver, trello, submitted, monkeypatch):
    trello.plan = [429]
    with pytest.raises(RetryLater) as caught:
        deliver(app, httpserver, submitted)
    assert caught.value.retry_after == 12
    monkeypatch.setenv("TRELLO_TOKEN", "expired")
    with pytest.raises(PermanentFailure, match="Trello answered 401: invalid token"):
        deliver(app, httpserver, submitted)
    assert not trello.cards


def test_settings_are_checked(app):
    with app.test_request_context():
        problems = connector.check_settings({"api_key": "plain", "board_id": "", "list_id": "x"})
    assert problems["api_key"].startswith("never paste the secret itself")
    assert problems["token"].startswith("name the environment variable")
    assert problems["board_id"] == "give the id Trello shows for it (letters and digits)"
    assert "list_id" not in problems
    assert connector.check_settings(example_settings("https://api.trello.com")) == {}


# -- the inbound webhook ----------------------------------------------------------------------


def moved_to(list_id: str, action_id: str = "act1") -> bytes:
    return json.dumps({
        "model": {"id": "board1"},
        "action": {"id": action_id, "type": "updateCard",
                   "memberCreator": {"fullName": "Tess Trello"},
                   "data": {"card": {"id": "card7"}, "listBefore": {"id": "listDoing"},
                            "listAfter": {"id": list_id}}},
    }).encode()  # fmt: skip


def trello_signature(body: bytes, callback: str, secret: str = "trello-app-secret") -> str:
    mac = hmac.new(secret.encode(), body + callback.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


@pytest.fixture
def trello_setting(app, waiting_on_implementation):
    number = waiting_on_implementation
    with app.app_context():
        RequestLinks(change_of(number).id, "trello").remember("card", "card7")
        setting = save_setting("trello", "change-request", example_settings("https://t.test"),
                               ["request.submitted"])  # fmt: skip
        callback = f"{app.config['BASE_URL'].rstrip('/')}/hooks/trello/{setting.id}"
        return number, setting.id, callback


def test_trellos_head_check_is_answered(client, trello_setting):
    _, setting_id, _ = trello_setting
    assert client.head(f"/hooks/trello/{setting_id}").status_code == 200


def test_a_card_in_the_done_list_marks_the_implementation_done(app, client, team,
                                                               trello_setting):  # fmt: skip
    number, setting_id, callback = trello_setting
    body = moved_to("listDone")
    headers = {"X-Trello-Webhook": trello_signature(body, callback)}
    unsigned = client.post(f"/hooks/trello/{setting_id}", data=body)
    assert unsigned.status_code == 401
    wrong_url = {"X-Trello-Webhook": trello_signature(body, "https://elsewhere.test/hook")}
    assert (
        client.post(f"/hooks/trello/{setting_id}", data=body, headers=wrong_url).status_code == 401
    )
    assert team.status(number) == "in_progress"
    first = client.post(f"/hooks/trello/{setting_id}", data=body, headers=headers)
    assert first.status_code == 200 and first.json["status"] == "processed"
    assert team.status(number) == "awaiting_feedback"
    replay = client.post(f"/hooks/trello/{setting_id}", data=body, headers=headers)
    assert replay.json["status"] == "duplicate"
    assert receipts(app) == [(False, "rejected"), (False, "rejected"), (True, "processed"),
                             (True, "duplicate")]  # fmt: skip


def test_a_move_to_another_list_changes_nothing(app, client, team, trello_setting):
    number, setting_id, callback = trello_setting
    body = moved_to("listDoing")
    headers = {"X-Trello-Webhook": trello_signature(body, callback)}
    response = client.post(f"/hooks/trello/{setting_id}", data=body, headers=headers)
    assert response.json["status"] == "ignored"
    assert team.status(number) == "in_progress"
