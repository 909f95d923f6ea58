"""The delivery worker against a real local HTTP server that fails in every way a vendor
does: 500, 429 with Retry-After, a timeout, a closed port, 401. And several workers at once
(each its own connection) deliver each event exactly once; a dead worker's claim is taken
over when its lease runs out."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from werkzeug import Response

from portal.database import utcnow
from portal.extensions import db
from portal.integrations import outbox
from portal.integrations.models import OutboxAttempt, OutboxDelivery, OutboxEvent
from portal.integrations.worker import backoff_seconds, claim, deliver_due, retry

ROOT = Path(__file__).resolve().parents[2]


def _delivery(app):
    with app.app_context():
        d = db.session.scalar(select(OutboxDelivery).order_by(OutboxDelivery.id))
        db.session.expunge(d)
        return d


def _make_due(app):
    with app.app_context():
        db.session.execute(update(OutboxDelivery).values(next_attempt_at=utcnow()))
        db.session.commit()


def _run(app):
    with app.app_context():
        return deliver_due()


def test_backoff_grows_with_full_jitter_and_honours_retry_after():
    assert backoff_seconds(1, rng=lambda: 1.0) == 30
    assert backoff_seconds(3, rng=lambda: 1.0) == 120
    assert backoff_seconds(30, rng=lambda: 1.0) == 3600
    assert backoff_seconds(3, rng=lambda: 0.0) == 1  # full jitter, but never a busy loop
    assert backoff_seconds(1, retry_after=120, rng=lambda: 0.5) == 120


def test_a_500_then_a_timeout_then_success_is_retried_and_every_attempt_is_kept(
    desk, httpserver, echo_app
):
    desk.configure(httpserver.url_for("/hook"))
    desk.submit()
    httpserver.expect_ordered_request("/hook").respond_with_json(
        {"errorMessages": ["the database is restarting"]}, status=500
    )
    httpserver.expect_ordered_request("/hook").respond_with_handler(
        lambda request: (time.sleep(1.5), Response("late"))[1]
    )
    httpserver.expect_ordered_request("/hook").respond_with_json({"id": 7})
    assert _run(echo_app).retrying == 1
    first = _delivery(echo_app)
    assert first.state == "retrying"
    assert first.last_error == "Echo answered 500: the database is restarting"
    assert first.next_attempt_at > utcnow()
    _make_due(echo_app)
    echo_app.config["OUTBOX_TIMEOUT_SECONDS"] = 0.5
    try:
        assert _run(echo_app).retrying == 1
    finally:
        echo_app.config.pop("OUTBOX_TIMEOUT_SECONDS")
    assert _delivery(echo_app).last_error.startswith("timed out")
    time.sleep(1.2)  # let the slow answer finish before the next request
    _make_due(echo_app)
    assert _run(echo_app).delivered == 1
    with echo_app.app_context():
        attempts = db.session.scalars(select(OutboxAttempt).order_by(OutboxAttempt.number)).all()
        assert [(a.number, a.outcome) for a in attempts] == [
            (1, "retrying"),
            (2, "retrying"),
            (3, "delivered"),
        ]
        assert attempts[2].message == "posted request.submitted (attempt 3)"


def test_429_waits_at_least_as_long_as_retry_after(desk, httpserver, echo_app):
    desk.configure(httpserver.url_for("/hook"))
    desk.submit()
    httpserver.expect_request("/hook").respond_with_json(
        {"message": "rate limit"}, status=429, headers={"Retry-After": "600"}
    )
    before = utcnow()
    _run(echo_app)
    delivery = _delivery(echo_app)
    assert delivery.state == "retrying"
    assert "429" in delivery.last_error and "rate limit" in delivery.last_error
    assert delivery.next_attempt_at >= before + timedelta(seconds=600)


def test_a_closed_port_is_retried_and_dead_after_the_last_attempt(desk, echo_app):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    desk.configure(f"http://127.0.0.1:{port}/hook")
    desk.submit()
    for _ in range(3):  # OUTBOX_MAX_ATTEMPTS is 3 in the echo app
        _run(echo_app)
        _make_due(echo_app)
    delivery = _delivery(echo_app)
    assert delivery.state == "dead"
    assert delivery.attempts == 3
    assert delivery.last_error.startswith("could not reach the service")


def test_401_is_dead_at_once_with_the_vendors_message_and_an_admin_retry_sends_it(
    desk, httpserver, echo_app
):
    desk.configure(httpserver.url_for("/hook"))
    desk.submit()
    httpserver.expect_oneshot_request("/hook").respond_with_json(
        {"message": "token expired"}, status=401
    )
    _run(echo_app)
    delivery = _delivery(echo_app)
    assert delivery.state == "dead"
    assert delivery.last_error == "Echo answered 401: token expired"
    httpserver.expect_oneshot_request("/hook").respond_with_json({"id": 1})
    with echo_app.app_context():
        assert retry(delivery.id) is not None
        db.session.commit()
    assert _run(echo_app).delivered == 1


def test_a_secret_missing_from_the_environment_is_dead_and_says_which(
    desk, httpserver, echo_app, monkeypatch
):
    monkeypatch.delenv("ECHO_TOKEN")
    desk.configure(httpserver.url_for("/hook"))
    desk.submit()
    _run(echo_app)
    delivery = _delivery(echo_app)
    assert delivery.state == "dead"
    assert delivery.last_error == "the environment variable ECHO_TOKEN is not set"
    assert httpserver.log == []


def _many_events(desk, count: int) -> None:
    number = desk.submit()
    request_id = desk.request_id(number)
    with desk.app.app_context():
        for i in range(count - 1):
            outbox.record("step.decided", request_id, {"number": number, "i": i},
                          form_name="change-request")  # fmt: skip
        db.session.commit()


def test_several_workers_deliver_each_of_many_events_exactly_once(desk, httpserver, echo_app):
    seen: list[int] = []
    lock = threading.Lock()

    def handler(request):
        with lock:
            seen.append(json.loads(request.get_data())["event_id"])
        time.sleep(0.01)
        return Response("{}", content_type="application/json")

    httpserver.expect_request("/hook").respond_with_handler(handler)
    desk.configure(httpserver.url_for("/hook"))
    _many_events(desk, 40)
    errors = []

    def unsettled() -> int:
        count = db.session.scalar(
            select(func.count(OutboxDelivery.id)).where(OutboxDelivery.state != "delivered")
        )
        db.session.commit()  # deliver_due starts outside any transaction
        return count

    def work(n):
        # One request's deliveries go out one after another (in the order of their
        # events), so the workers take turns until all are out.
        deadline = time.monotonic() + 60
        try:
            with echo_app.app_context():
                while unsettled() and time.monotonic() < deadline:
                    deliver_due(limit=5, worker=f"worker-{n}")
        except Exception as error:  # pragma: no cover - shown by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with echo_app.app_context():
        event_ids = db.session.scalars(select(OutboxEvent.id)).all()
        states = db.session.scalars(select(OutboxDelivery.state)).all()
        workers = set(db.session.scalars(select(OutboxAttempt.worker)))
    assert sorted(seen) == sorted(event_ids)  # each once, none twice
    assert set(states) == {"delivered"}
    if echo_app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        assert len(workers) > 1  # they really worked side by side


def test_a_killed_workers_delivery_is_delivered_by_another_after_its_lease(
    desk, httpserver, echo_app, tmp_path
):
    calls = []

    def handler(request):
        calls.append(time.monotonic())
        if len(calls) == 1:
            time.sleep(3)  # the first worker is killed while it waits for this answer
        return Response('{"id": 1}', content_type="application/json")

    httpserver.expect_request("/hook").respond_with_handler(handler)
    desk.configure(httpserver.url_for("/hook"))
    desk.submit()
    script = (
        "from config import TestConfig\n"
        "from portal import create_app\n"
        "from portal.integrations.worker import deliver_due\n"
        "from tests.integrations.echo import EchoPlugin\n"
        "class C(TestConfig):\n"
        f"    SQLALCHEMY_DATABASE_URI = {echo_app.config['SQLALCHEMY_DATABASE_URI']!r}\n"
        "    OUTBOX_LEASE_SECONDS = 2\n"
        f"app = create_app(C, instance_path={echo_app.instance_path!r}, plugins=(EchoPlugin(),))\n"
        "with app.app_context():\n"
        "    deliver_due(worker='doomed')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ECHO_TOKEN": "s3cret-token"}
    doomed = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 30
        while not calls and time.monotonic() < deadline:
            time.sleep(0.05)
        assert calls, "the first worker never called the service"
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(10)
    finally:
        if doomed.poll() is None:
            doomed.kill()
    claimed = _delivery(echo_app)
    assert claimed.state == "pending" and claimed.claim_token.startswith("doomed/")
    assert _run(echo_app).handled == 0  # its lease still holds
    time.sleep(3.2)  # the lease (2 s) runs out; the server is free again
    assert _run(echo_app).delivered == 1
    delivery = _delivery(echo_app)
    assert delivery.state == "delivered"
    assert delivery.attempts == 2
    assert len(calls) == 2


def test_a_claim_is_not_taken_twice(desk, httpserver, echo_app):
    desk.configure(httpserver.url_for("/hook"))
    desk.submit()
    with echo_app.app_context():
        assert claim("a") is not None
        assert claim("b") is None
        assert db.session.scalar(select(func.count(OutboxAttempt.id))) == 0


@pytest.mark.parametrize("state", ["delivered"])
def test_a_delivered_delivery_cannot_be_retried(desk, httpserver, echo_app, state):
    httpserver.expect_request("/hook").respond_with_json({"id": 1})
    desk.configure(httpserver.url_for("/hook"))
    desk.submit()
    _run(echo_app)
    with echo_app.app_context():
        assert retry(_delivery(echo_app).id) is None


def test_the_outbox_command_lists_retries_and_delivers(desk, httpserver, echo_app):
    desk.configure(httpserver.url_for("/hook"))
    number = desk.submit()
    httpserver.expect_oneshot_request("/hook").respond_with_json(
        {"message": "bad token"}, status=401
    )
    runner = echo_app.test_cli_runner()
    assert "delivered 0, retrying 0, dead 1" in runner.invoke(args=["outbox", "deliver"]).output
    listed = runner.invoke(args=["outbox", "list", "--state", "dead"]).output
    assert number in listed and "Echo answered 401: bad token" in listed
    assert (
        "1 delivery(ies) will be sent again."
        in runner.invoke(args=["outbox", "retry", "--all-dead"]).output
    )
    httpserver.expect_oneshot_request("/hook").respond_with_json({})
    assert "delivered 1" in runner.invoke(args=["outbox", "deliver"]).output
    refused = runner.invoke(args=["outbox", "retry", "1", "999999"])
    assert refused.exit_code == 1 and "999999" in refused.output


class FixedHostConnector:
    """A vendor API at a fixed address, not in any setting (as Trello's is)."""

    name = "fixed"
    label = "Fixed"
    settings_fields = ()
    default_events = ("request.submitted",)
    address = ""
    declare = True

    def check_settings(self, settings):  # noqa: ANN001, ANN201
        return {}

    def allowed_hosts(self, settings):  # noqa: ANN001, ANN201
        return [self.address.split("/")[2]] if self.declare else []

    def deliver(self, delivery):  # noqa: ANN001, ANN201
        delivery.http.post(self.address, json={"n": delivery.event.payload["number"]})
        return "sent"


def test_a_connector_reaches_hosts_it_declares_and_no_other(app, desk, httpserver):
    from config import TestConfig
    from portal import create_app, hookimpl
    from portal.integrations.models import ConnectorSetting

    fixed = FixedHostConnector()
    fixed.address = httpserver.url_for("/api")

    class Plugin:
        @hookimpl
        def register_connectors(self, register):  # noqa: ANN001
            register(fixed)

    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = app.config["SQLALCHEMY_DATABASE_URI"]

    portal = create_app(Config, instance_path=app.instance_path, plugins=(Plugin(),))
    httpserver.expect_request("/api").respond_with_json({})
    with portal.app_context():
        db.session.add(ConnectorSetting(connector="fixed", form_name="change-request",
                                        enabled=True, events=["request.submitted"],
                                        settings={}))  # fmt: skip
        db.session.commit()
    desk.submit()
    assert _run(portal).delivered == 1
    fixed.declare = False
    desk.submit()
    assert _run(portal).dead == 1
    with portal.app_context():
        dead = db.session.scalar(select(OutboxDelivery).where(OutboxDelivery.state == "dead"))
        assert "is not a configured host for this connector" in dead.last_error
    assert len(httpserver.log) == 1


def test_a_requests_deliveries_go_out_in_the_order_of_their_events(desk, httpserver, echo_app):
    """The second event waits while the first is retrying, then both go, in order."""
    seen: list[str] = []

    def handler(request):
        name = json.loads(request.get_data())["event"]
        seen.append(name)
        if name == "request.submitted" and seen.count(name) == 1:
            return Response('{"message": "busy"}', 500, content_type="application/json")
        return Response("{}", content_type="application/json")

    httpserver.expect_request("/hook").respond_with_handler(handler)
    desk.configure(httpserver.url_for("/hook"))
    number = desk.submit()
    assert desk.act("bo", number, "analysis", "done").status_code in (200, 302)
    report = _run(echo_app)
    assert (report.retrying, report.delivered) == (1, 0)  # the decision waits its turn
    assert seen == ["request.submitted"]
    _make_due(echo_app)
    assert _run(echo_app).delivered == 2
    assert seen == ["request.submitted", "request.submitted", "step.decided"]
