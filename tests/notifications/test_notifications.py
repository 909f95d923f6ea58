"""Notifications: the next people to act are told by e-mail (a real SMTP server on localhost)
and by the bell, each in their own language and zone; sends are retried with backoff, never
doubled by two senders, and any plug-in channel gets the same messages."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from flask import render_template_string
from flask_login import login_user
from sqlalchemy import select, update

from config import TestConfig
from portal import create_app, hookimpl, notifications
from portal.accounts.models import Role, User
from portal.database import utcnow
from portal.extensions import db
from portal.notifications.models import Notification, NotificationDelivery
from portal.notifications.service import (
    MAX_ATTEMPTS,
    DeliveryError,
    deliver_pending,
    notify,
    retry_delay,
)
from portal.plugins import RegistryError
from portal.requests.models import ChangeRequest
from tests.conftest import csrf_token
from tests.notifications.smtp import free_port, html_of, smtp_server, text_of

BASE_URL = "https://portal.example.test"
NUMBER = "CR-2026-00042"
TITLE = "New logo on the invoice"
REQUEST_URL = f"{BASE_URL}/requests/{NUMBER}"
COMMENT = re.compile(r"Comment \d+\.")
DEADLINE = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)  # a Monday morning in Europe


def build_app(suite_app, plugins: tuple[object, ...] = ()):
    """An app on the suite's database (its schema built by the real migrations), with the
    notifications area wired in as create_app will do once the lead adds it."""

    class NotificationsConfig(TestConfig):
        SQLALCHEMY_DATABASE_URI = suite_app.config["SQLALCHEMY_DATABASE_URI"]
        BASE_URL = "https://portal.example.test/"  # a trailing slash is forgiven

    app = create_app(NotificationsConfig, instance_path=suite_app.instance_path, plugins=plugins)
    if "notifications" not in app.blueprints:
        notifications.init_app(app)
    return app


@pytest.fixture(scope="module")
def app(app):
    """Overrides the suite's ``app`` for this module: same database, notifications wired."""
    return build_app(app)


@dataclass
class People:
    ana: int  # approver in Shanghai, English
    bert: int  # approver in Berlin, German
    cleo: int  # approver in Berlin, British English
    dana: int  # the client who asked
    request_id: int


@pytest.fixture
def people(app, accounts, change_request_form) -> People:
    org = accounts.organisation("Acme Ltd", timezone="Europe/London")
    ids = {
        "ana": accounts.user(
            "ana@portal.test", Role.APPROVER, timezone="Asia/Shanghai", locale="en"
        ),
        "bert": accounts.user(
            "bert@portal.test", Role.APPROVER, timezone="Europe/Berlin", locale="de"
        ),
        "cleo": accounts.user(
            "cleo@portal.test", Role.APPROVER, timezone="Europe/Berlin", locale="en_GB"
        ),
        "dana": accounts.user("dana@acme.test", Role.CLIENT, org),
    }
    with app.app_context():
        change = ChangeRequest(
            number=NUMBER,
            form_version_id=change_request_form,
            organisation_id=org,
            requester_id=ids["dana"],
            title=TITLE,
            answers={"description": "Please use the new logo."},
        )
        db.session.add(change)
        db.session.commit()
        return People(request_id=change.id, **ids)


@pytest.fixture
def smtp(app, monkeypatch):
    """A real SMTP server on localhost, and the portal pointed at it."""
    with smtp_server() as inbox:
        monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
        monkeypatch.setitem(app.config, "MAIL_PORT", inbox.port)
        yield inbox


def tell(app, user_ids, kind="action_needed", **params):
    if kind == "action_needed" and not params:
        params = {"step_label": "Review", "deadline_at": DEADLINE}
    with app.app_context():
        change = db.session.scalar(select(ChangeRequest).where(ChangeRequest.number == NUMBER))
        made = notify(user_ids, kind, change, **params)
        db.session.commit()
        return made


def deliveries(app) -> list[NotificationDelivery]:
    with app.app_context():
        rows = db.session.scalars(select(NotificationDelivery).order_by(NotificationDelivery.id))
        return list(rows)


def make_due(app) -> None:
    """Let time pass: every pending delivery is due now."""
    with app.app_context():
        db.session.execute(
            update(NotificationDelivery).values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()


def deliver(app, **kwargs):
    with app.app_context():
        return deliver_pending(**kwargs)


# -- e-mail ------------------------------------------------------------------------------------


def test_each_person_gets_one_email_naming_the_request_and_linking_to_it(app, people, smtp):
    tell(app, [people.ana, people.cleo, people.ana])  # ana named twice: told once

    report = deliver(app)

    assert (report.sent, report.retrying, report.failed) == (2, 0, 0)
    assert len(smtp.messages) == 2
    (mail,) = smtp.to("ana@portal.test")
    assert mail["Subject"] == f"Action needed: {NUMBER} {TITLE}"
    assert mail["To"] == "Ana <ana@portal.test>"
    assert mail["From"] == app.config["MAIL_SENDER"]
    assert mail["Auto-Submitted"] == "auto-generated"
    text, html = text_of(mail), html_of(mail)
    assert f"{NUMBER} “{TITLE}” is waiting for you at the step “Review”." in text
    assert f"Open the request: {REQUEST_URL}" in text
    assert f'href="{REQUEST_URL}"' in html and NUMBER in html
    assert [(d.status, d.attempts, d.channel) for d in deliveries(app)] == [
        ("sent", 1, "email"),
        ("sent", 1, "email"),
    ]
    assert all(d.sent_at is not None and d.last_error is None for d in deliveries(app))
    assert deliver(app).attempted == 0  # nothing is sent twice
    assert len(smtp.messages) == 2


def test_nothing_is_sent_when_the_callers_transaction_rolls_back(app, people, smtp):
    with app.app_context():
        change = db.session.get(ChangeRequest, people.request_id)
        notify([people.ana], "completed", change)
        db.session.rollback()

    assert deliver(app).attempted == 0
    assert smtp.messages == [] and deliveries(app) == []


@pytest.mark.parametrize(
    ("kind", "params", "subject", "sentence"),
    [
        ("reminder", {"step_label": "Review", "deadline_at": DEADLINE}, "Reminder: action needed",
         "is still waiting for you at the step “Review”."),
        ("escalated", {"step_label": "Review"}, "Escalated to you",
         "has passed its deadline and has been escalated to you."),
        ("sent_back", {"step_label": "Review", "comment": "Which logo?"}, "Sent back for changes",
         "Which logo?"),
        ("decided", {"outcome": "rejected", "step_label": "CCB"}, "Rejected", "was rejected."),
        ("completed", {}, "Completed", "is completed."),
        ("comment", {"comment": "Looks good <b>to me</b>"}, "New comment",
         "Looks good <b>to me</b>"),
    ],
)  # fmt: skip
def test_every_kind_has_its_subject_and_body(app, people, smtp, kind, params, subject, sentence):
    tell(app, [people.ana], kind, **params)
    deliver(app)

    (mail,) = smtp.messages
    assert mail["Subject"] == f"{subject}: {NUMBER} {TITLE}"
    assert sentence in text_of(mail) and REQUEST_URL in text_of(mail)
    assert "<b>to me</b>" not in html_of(mail)  # what people typed is escaped in HTML


def test_bad_calls_to_notify_are_refused(app, people):
    with app.app_context():
        change = db.session.get(ChangeRequest, people.request_id)
        with pytest.raises(ValueError, match="unknown notification kind 'approved'"):
            notify([people.ana], "approved", change)
        with pytest.raises(ValueError, match="missing 'step_label'.*unexpected 'step'"):
            notify([people.ana], "escalated", change, step="Review")
        with pytest.raises(ValueError, match="outcome must be one of"):
            notify([people.ana], "decided", change, outcome="maybe")
        with pytest.raises(ValueError, match="deadline_at"):
            notify([people.ana], "reminder", change, step_label="R", deadline_at=datetime.now())
        with pytest.raises(ValueError, match="no user with id 999999"):
            notify([people.ana, 999999], "completed", change)
        with pytest.raises(ValueError, match="a request is needed"):
            notify([people.ana], "completed", None)
        db.session.rollback()


# -- language and zone -----------------------------------------------------------------------------


def test_each_recipient_reads_their_own_language_and_zone_not_the_senders(app, people, smtp):
    step = {"en": "Review", "de": "Prüfung"}  # an admin's label, in the languages they gave
    tell(app, [people.ana, people.bert, people.cleo], step_label=step, deadline_at=DEADLINE)

    # Sent while a French visitor in New York is being served: none of that may leak in.
    headers = {"Accept-Language": "fr", "Cookie": "tz=America/New_York"}
    with app.test_request_context(headers=headers):
        assert deliver_pending().sent == 3

    ana, bert, cleo = (smtp.to(f"{n}@portal.test")[0] for n in ("ana", "bert", "cleo"))
    # 09:30 UTC is 17:30 in Shanghai (+08, no daylight saving) and 10:30 in Berlin (CET).
    assert "Please act by Nov 23, 2026, 5:30:00\u202fPM CST." in text_of(ana)
    assert "Please act by 23 Nov 2026, 10:30:00 CET." in text_of(cleo)
    # Rendered under the recipient's locale: German words and the German shape of the date.
    assert "23.11.2026, 10:30:00 CET" in text_of(bert)
    assert text_of(bert).startswith("Hallo Bert,")
    assert '<html lang="de"' in html_of(bert) and '<html lang="en"' in html_of(ana)
    assert "wartet im Schritt „Prüfung“ auf Sie" in text_of(bert)
    assert "at the step “Review”" in text_of(ana)
    assert bert["Content-Language"] == "de" and cleo["Content-Language"] == "en-GB"


# -- failures and retries ------------------------------------------------------------------------


def test_smtp_down_leaves_the_delivery_pending_and_it_is_sent_once_the_server_is_up(
    app, people, monkeypatch
):
    port = free_port()  # nothing listens here
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", port)
    tell(app, [people.ana])

    before = utcnow()
    report = deliver(app)

    assert (report.sent, report.retrying) == (0, 1)
    (row,) = deliveries(app)
    assert (row.status, row.attempts) == ("pending", 1)
    assert f"could not connect to the mail server 127.0.0.1:{port}" in row.last_error
    assert "refused" in row.last_error.lower()
    assert before + timedelta(seconds=45) < row.next_attempt_at <= utcnow() + timedelta(minutes=1)
    assert deliver(app).attempted == 0  # not due yet

    with smtp_server(port) as inbox:
        make_due(app)
        assert deliver(app).sent == 1

    assert len(inbox.messages) == 1
    (row,) = deliveries(app)
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)


def test_after_eight_failures_the_delivery_is_given_up_with_its_error(app, people, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", free_port())
    tell(app, [people.ana])

    waits = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        make_due(app)
        moment = utcnow()
        report = deliver(app)
        (row,) = deliveries(app)
        assert row.attempts == attempt
        if attempt < MAX_ATTEMPTS:
            assert (report.retrying, row.status) == (1, "pending")
            waits.append(row.next_attempt_at - moment)
    assert (report.failed, row.status) == (1, "failed")
    assert "could not connect to the mail server" in row.last_error
    assert waits == sorted(waits) and waits[-1] <= timedelta(hours=1)  # backing off, capped
    make_due(app)
    assert deliver(app).attempted == 0  # given up means given up


def test_backoff_doubles_from_a_minute_to_an_hour_with_jitter():
    longest = [retry_delay(n, rng=lambda: 0.0) for n in range(1, 9)]
    assert longest == [timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32, 60, 60)]
    shortest = retry_delay(3, rng=lambda: 1.0)
    assert shortest == timedelta(minutes=4) * 0.8


def test_two_senders_at_once_send_each_message_exactly_once(app, people, smtp):
    for i in range(12):
        tell(app, [people.ana, people.bert, people.cleo], "comment", comment=f"Comment {i}.")
    start = threading.Barrier(2)
    reports, errors = [], []

    def sender():
        with app.app_context():
            start.wait()
            try:
                reports.append(deliver_pending())
            except Exception as error:  # surfaced below, in the test's own thread
                errors.append(error)

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert len(reports) == 2 and all(r.sent > 0 for r in reports)  # both took a share
    assert sum(r.sent for r in reports) == 36
    seen = [(mail["To"], COMMENT.search(text_of(mail)).group()) for mail in smtp.messages]
    assert len(seen) == 36 and len(set(seen)) == 36
    assert {(d.status, d.attempts) for d in deliveries(app)} == {("sent", 1)}


# -- plug-in channels ----------------------------------------------------------------------------


class RecordingChannel:
    """A plug-in that is itself a channel: it keeps what it is given, or fails."""

    def __init__(self, name: str = "recorder", fail: str | None = None):
        self.name = name
        self.fail = fail
        self.messages = []

    @hookimpl
    def register_notification_channels(self, register):
        register(self)

    def send(self, message) -> None:
        if self.fail:
            raise DeliveryError(self.fail)
        self.messages.append(message)


@pytest.fixture
def app_with(app):
    made = []

    def make(*plugins):
        made.append(build_app(app, plugins=plugins))
        return made[-1]

    yield make
    for other in made:
        with other.app_context():
            db.engine.dispose()


def test_a_plugin_channel_gets_the_same_messages_as_email(app_with, people, smtp, monkeypatch):
    recorder = RecordingChannel()
    plugged = app_with(recorder)
    monkeypatch.setitem(plugged.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(plugged.config, "MAIL_PORT", smtp.port)
    tell(plugged, [people.bert])

    assert deliver(plugged).sent == 2

    assert sorted(d.channel for d in deliveries(plugged)) == ["email", "recorder"]
    (mail,), (message,) = smtp.messages, recorder.messages
    assert message.subject == mail["Subject"]
    assert message.text.strip() == text_of(mail).strip()
    assert message.html.strip() == html_of(mail).strip()
    assert message.url == REQUEST_URL
    assert message.kind == "action_needed"
    assert (message.recipient.email, message.recipient.locale) == ("bert@portal.test", "de")
    assert message.recipient.timezone == "Europe/Berlin"


def test_a_failing_plugin_channel_does_not_stop_the_email(app_with, people, smtp, monkeypatch):
    plugged = app_with(RecordingChannel("webhook", fail="the webhook answered 502"))
    monkeypatch.setitem(plugged.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(plugged.config, "MAIL_PORT", smtp.port)
    tell(plugged, [people.ana])

    report = deliver(plugged)

    assert (report.sent, report.retrying) == (1, 1)
    assert len(smtp.messages) == 1
    rows = {d.channel: d for d in deliveries(plugged)}
    assert rows["email"].status == "sent"
    assert (rows["webhook"].status, rows["webhook"].last_error) == (
        "pending",
        "the webhook answered 502",
    )


def test_a_duplicate_channel_name_stops_start_up_naming_both_plugins(app):
    with pytest.raises(RegistryError) as caught:
        build_app(app, plugins=(RecordingChannel("email"),))
    message = str(caught.value)
    assert "notification channel 'email' registered twice" in message
    assert "portal.default_plugins.email" in message
    assert "test_notifications.RecordingChannel" in message


def test_a_channel_without_a_name_stops_start_up(app):
    with pytest.raises(RegistryError, match="not a notification channel with a name"):
        build_app(app, plugins=(RecordingChannel(""),))


# -- the bell and the list ----------------------------------------------------------------------


def bell(client) -> str:
    response = client.get("/notifications/bell")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_bell_counts_unread_and_marking_read_clears_it(app, accounts, people, client):
    tell(app, [people.ana])
    tell(app, [people.ana], "comment", comment="Is the colour right?")
    accounts.login(client, "ana@portal.test")

    html = bell(client)
    assert 'aria-label="2 unread notifications"' in html
    assert 'hx-get="/notifications/bell"' in html and 'hx-trigger="every 60s"' in html
    assert 'href="/notifications"' in html

    page = client.get("/notifications").get_data(as_text=True)
    assert page.count(f'href="/requests/{NUMBER}"') == 2
    assert f"New comment: {TITLE}" in page and f"Action needed: {TITLE}" in page
    assert page.count(">Unread<") == 2 and "Mark all read" in page
    assert 'aria-label="2 unread notifications"' in bell(client)  # looking is not reading

    refused = client.post("/notifications/read")  # no CSRF token
    assert refused.status_code == 400
    assert 'aria-label="2 unread notifications"' in bell(client)

    done = client.post(
        "/notifications/read", data={"csrf_token": csrf_token(client, "/notifications")}
    )
    assert done.status_code == 302 and done.location.endswith("/notifications")
    assert 'aria-label="No unread notifications"' in bell(client)
    page = client.get("/notifications").get_data(as_text=True)
    assert ">Unread<" not in page and "Nothing unread." in page and "Mark all read" not in page


def test_past_99_unread_the_bell_says_99_plus_and_the_list_gives_the_number(
    app, accounts, people, client
):
    """The bell on every page counts no further than it shows; the list gives the number."""
    with app.app_context():
        change = db.session.scalar(select(ChangeRequest).where(ChangeRequest.number == NUMBER))
        db.session.add_all(
            Notification(user_id=people.ana, request=change, kind="completed", params={})
            for _ in range(130)
        )
        db.session.commit()
    accounts.login(client, "ana@portal.test")
    html = bell(client)
    assert 'aria-label="More than 99 unread notifications"' in html
    assert '<span class="badge">99+</span>' in html
    page = client.get("/notifications").get_data(as_text=True)
    assert "130 unread" in page
    assert '<span class="badge">99+</span>' in page  # the bell in the page's header


def test_with_htmx_marking_read_answers_with_the_bell_or_the_row(app, accounts, people, client):
    first, second = tell(app, [people.ana]) + tell(app, [people.ana], "completed")
    accounts.login(client, "ana@portal.test")
    token = csrf_token(client, "/notifications")
    htmx = {"HX-Request": "true", "X-CSRFToken": token}

    row = client.post(f"/notifications/{first}/read", headers=htmx).get_data(as_text=True)
    assert f'id="notification-{first}"' in row and ">Unread<" not in row
    assert 'hx-swap-oob="outerHTML"' in row and 'aria-label="1 unread notification"' in row

    response = client.post("/notifications/read", headers=htmx)
    assert response.status_code == 200
    fragment = response.get_data(as_text=True)
    assert fragment.lstrip().startswith('<a id="notification-bell"')
    assert 'aria-label="No unread notifications"' in fragment and "<html" not in fragment


def test_a_user_sees_only_their_own_notifications(app, accounts, people, client):
    (anas,) = tell(app, [people.ana])
    tell(app, [people.bert], "comment", comment="Nur für Bert.")
    accounts.login(client, "bert@portal.test")
    token = csrf_token(client, "/notifications")

    page = client.get("/notifications").get_data(as_text=True)
    assert "Neuer Kommentar" in page and "Aktion erforderlich" not in page  # Bert reads German
    assert client.post(f"/notifications/{anas}/read", data={"csrf_token": token}).status_code == 404
    client.post("/notifications/read", data={"csrf_token": token})  # bert's only

    with app.app_context():
        assert db.session.get(Notification, anas).read_at is None


def test_the_bell_can_be_included_in_any_page_as_is(app, people):
    tell(app, [people.ana])
    include = '<nav>{% include "notifications/_bell.html" %}</nav>'
    with app.test_request_context("/"):
        assert 'aria-label="No unread notifications"' in render_template_string(include)
        login_user(db.session.get(User, people.ana))
        html = render_template_string(include)
    assert 'aria-label="1 unread notification"' in html and "hx-swap-oob" not in html


def test_signed_out_the_bell_and_the_list_ask_for_nothing(client, app):
    assert client.get("/notifications/bell").status_code == 204  # polling swaps nothing in
    response = client.get("/notifications")
    assert response.status_code == 302 and "/login" in response.location


def test_without_an_smtp_server_notifications_stay_in_the_bell(app, accounts, people, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_SERVER", None)
    tell(app, [people.ana])
    assert deliveries(app) == []  # nothing queued for a server that does not exist
    with app.app_context():
        assert db.session.scalar(select(Notification)).user_id == people.ana
