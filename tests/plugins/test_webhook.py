"""The outgoing webhook against a local receiver that checks it as a receiver should: the
``t=…,v1=…`` signature over ``t.body``, a fresh timestamp, and the delivery id it drops
duplicates by."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from werkzeug import Response

from plugins.webhook.connector import connector, example_settings
from portal.integrations.connector import PermanentFailure, RetryLater
from tests.plugins.conftest import delivery, event_for, host

SECRET = "whsec-shared"


class Receiver:
    """A receiver written from the docs: verify, refuse stale, drop duplicates."""

    def __init__(self, server) -> None:
        self.handled: dict[str, dict] = {}
        self.answer = 200
        server.expect_request("/portal-events", method="POST").respond_with_handler(self.handle)

    def handle(self, request) -> Response:
        if self.answer != 200:
            return Response("busy", self.answer, {"Retry-After": "5"})
        parts = dict(p.split("=", 1) for p in request.headers["Portal-Signature"].split(","))
        body = request.get_data()
        expected = hmac.new(SECRET.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256)
        if not hmac.compare_digest(expected.hexdigest(), parts["v1"]):
            return Response("bad signature", 401)
        if abs(time.time() - int(parts["t"])) > 300:
            return Response("stale", 401)
        if request.headers["Content-Type"] != "application/json":
            return Response("json please", 415)
        delivery_id = request.headers["Portal-Delivery"]
        if delivery_id not in self.handled:
            self.handled[delivery_id] = json.loads(body)
        return Response("ok", 200)


@pytest.fixture(autouse=True)
def _secret(monkeypatch):
    monkeypatch.setenv("PORTAL_WEBHOOK_SECRET", SECRET)


def deliver(app, httpserver, number, event=None, settings=None):
    with app.app_context():
        event = event or event_for(number, "request.submitted")
        settings = settings or example_settings(httpserver.url_for("/portal-events"))
        return connector.deliver(delivery("webhook", event, settings, [host(httpserver)]))


def test_an_event_arrives_signed_and_a_retry_is_a_duplicate(app, httpserver, submitted):
    receiver = Receiver(httpserver)
    with app.app_context():
        event = event_for(submitted, "step.decided")
    assert deliver(app, httpserver, submitted, event) == "delivered (200)"
    assert deliver(app, httpserver, submitted, event) == "delivered (200)"
    assert list(receiver.handled) == [str(event.id)]
    got = receiver.handled[str(event.id)]
    assert got["event"] == "step.decided" and got["data"]["number"] == submitted
    assert got["data"]["decision"] == "approved"
    request, _ = httpserver.log[0]
    assert request.headers["Portal-Event"] == "step.decided"


def test_a_wrong_secret_is_refused_by_the_receiver(app, httpserver, submitted, monkeypatch):
    Receiver(httpserver)
    monkeypatch.setenv("PORTAL_WEBHOOK_SECRET", "not-the-shared-one")
    with pytest.raises(PermanentFailure, match="The receiver answered 401: bad signature"):
        deliver(app, httpserver, submitted)


def test_a_busy_receiver_is_retried_a_gone_one_is_not(app, httpserver, submitted):
    receiver = Receiver(httpserver)
    receiver.answer = 503
    with pytest.raises(RetryLater) as caught:
        deliver(app, httpserver, submitted)
    assert caught.value.retry_after == 5
    receiver.answer = 410
    with pytest.raises(PermanentFailure, match="answered 410"):
        deliver(app, httpserver, submitted)


def test_a_redirect_is_not_followed(app, httpserver, submitted):
    httpserver.expect_request("/moved").respond_with_data(
        "", 307, {"Location": "http://169.254.169.254/latest/meta-data/"}
    )
    settings = example_settings(httpserver.url_for("/moved"))
    with pytest.raises(PermanentFailure, match="answered 307"):
        deliver(app, httpserver, submitted, settings=settings)
    assert len(httpserver.log) == 1


def test_settings_are_checked(app):
    with app.test_request_context():
        problems = connector.check_settings({"url": "", "secret": "whsec-123"})
    assert problems == {
        "url": "give the address",
        "secret": "never paste the secret itself; name its environment variable: env:NAME",
    }
