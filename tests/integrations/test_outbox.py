"""Events go into the outbox with the change that made them, and only then out."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from portal import hookimpl
from portal.extensions import db
from portal.integrations.connector import EVENT_NAMES
from portal.integrations.models import OutboxDelivery, OutboxEvent
from portal.integrations.worker import deliver_due
from tests.conftest import csrf_token
from tests.integrations.conftest import ANSWERS


def _events(app):
    with app.app_context():
        return [
            (e.name, e.payload)
            for e in db.session.scalars(select(OutboxEvent).order_by(OutboxEvent.id))
        ]


def test_a_submission_and_a_decision_are_recorded_with_one_delivery_each(desk, httpserver):
    desk.configure(httpserver.url_for("/hook"))
    number = desk.submit()
    response = desk.act("bo", number, "analysis", "done", comment="Looked at it")
    assert response.status_code in (200, 302)
    events = _events(desk.app)
    names = [name for name, _ in events]
    assert names[:2] == ["request.submitted", "step.decided"]
    submitted, decided = events[0][1], events[1][1]
    assert submitted["number"] == number
    assert submitted["form"] == "change-request"
    assert submitted["answers"]["title"] == "Add a CSV export"
    assert submitted["url"].endswith(f"/requests/{number}")
    assert submitted["impact"] == "low"
    assert decided["step"] == "analysis"
    assert decided["decision"] == "done"
    assert decided["actor"] == "Bo"
    assert decided["comment"] == "Looked at it"
    with desk.app.app_context():
        deliveries = db.session.scalars(select(OutboxDelivery)).all()
        assert sorted(d.event.name for d in deliveries) == ["request.submitted", "step.decided"]
        assert {d.state for d in deliveries} == {"pending"}


def test_only_events_the_setting_listens_to_and_only_enabled_settings_get_deliveries(
    desk, httpserver
):
    desk.configure(httpserver.url_for("/hook"), events=["request.closed"])
    desk.submit()
    with desk.app.app_context():
        assert db.session.scalar(select(func.count(OutboxEvent.id))) == 1
        assert db.session.scalar(select(func.count(OutboxDelivery.id))) == 0


def test_a_refused_action_records_no_event(desk, httpserver):
    desk.configure(httpserver.url_for("/hook"))
    number = desk.submit()
    desk.act("dana", number, "analysis", "done")  # a client may not do the team's task
    assert [name for name, _ in _events(desk.app)] == ["request.submitted"]


def test_delivered_once_with_the_secret_from_the_environment(desk, httpserver):
    desk.configure(httpserver.url_for("/hook"))
    httpserver.expect_oneshot_request(
        "/hook", method="POST", headers={"Authorization": "Bearer s3cret-token"}
    ).respond_with_json({"id": 1})
    number = desk.submit()
    with desk.app.app_context():
        report = deliver_due()
        assert report.delivered == 1
        delivery = db.session.scalar(select(OutboxDelivery))
        assert delivery.state == "delivered"
        assert delivery.result == "posted request.submitted (attempt 1)"
        with desk.app.app_context():
            assert deliver_due().handled == 0  # nothing is sent twice
    body = json.loads(httpserver.log[0][0].get_data())
    assert body["payload"]["number"] == number
    httpserver.check_assertions()


class Listener:
    def __init__(self):
        self.heard = []

    @hookimpl
    def event_committed(self, event):  # noqa: ANN001
        self.heard.append((event.name, event.payload["number"]))


class Broken:
    @hookimpl
    def event_committed(self, event):  # noqa: ANN001
        raise RuntimeError("the chat server is down")


def test_event_committed_is_called_after_the_commit_and_a_failing_plugin_breaks_nothing(
    desk, httpserver
):
    listener = Listener()
    pm = desk.app.extensions["portal.plugins"]
    pm.register(listener, name="listener")
    pm.register(Broken(), name="broken-listener")
    try:
        number = desk.submit()
    finally:
        pm.unregister(name="listener")
        pm.unregister(name="broken-listener")
    assert listener.heard == [("request.submitted", number)]
    with desk.app.app_context():
        event = db.session.scalar(select(OutboxEvent))
        assert event.hook_errors[0]["plugin"] == "broken-listener"
        assert "the chat server is down" in event.hook_errors[0]["error"]
    page = desk.browsers["ada"].get("/admin/plugins").get_data(as_text=True)
    assert "the chat server is down" in page


def test_a_send_back_a_revision_and_a_rejection_make_their_events(desk, httpserver):
    desk.configure(httpserver.url_for("/hook"), events=list(EVENT_NAMES))
    number = desk.submit()
    desk.act("bo", number, "analysis", "done")
    desk.act("bo", number, "review", "send_back", comment="Which report?")
    dana = desk.browsers["dana"]
    token = csrf_token(dana, f"/requests/{number}/revise")
    revised = dana.post(
        f"/requests/{number}/revise",
        data={**ANSWERS, "description": "The monthly finance report, as CSV.", "csrf_token": token},
    )
    assert revised.status_code == 302
    desk.act("bo", number, "review", "reject", comment="Not this quarter")
    events = _events(desk.app)
    assert [name for name, _ in events] == [
        "request.submitted",
        "step.decided",
        "step.decided",
        "request.revised",
        "step.decided",
        "request.closed",
    ]
    assert (events[2][1]["step"], events[2][1]["decision"]) == ("review", "sent_back")
    assert events[2][1]["comment"] == "Which report?"
    assert events[3][1]["answers"]["description"] == "The monthly finance report, as CSV."
    assert events[3][1]["revision"] == 2
    assert events[4][1]["decision"] == "rejected"
    assert events[5][1]["outcome"] == "rejected"
    assert events[5][1]["status"] == "rejected"
    with desk.app.app_context():  # every event reached the connector that listens to all
        assert db.session.scalar(select(func.count(OutboxDelivery.id))) == 6


def test_a_submission_costs_the_outbox_two_statements(desk, httpserver):
    from sqlalchemy import event as sa_event

    desk.configure(httpserver.url_for("/hook"))
    with desk.app.app_context():
        engine = db.engine
    seen = []

    def count(conn, cursor, statement, *args):  # noqa: ANN001
        if "outbox_" in statement or "connector_settings" in statement:
            seen.append(statement.split()[0])

    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        desk.submit()
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)
    assert seen == ["INSERT", "INSERT"]  # the event, then its deliveries in one INSERT … SELECT


def test_the_scheduled_job_delivers_in_process(desk, httpserver, echo_app):
    from portal.scheduler import Scheduler

    httpserver.expect_request("/hook").respond_with_json({})
    desk.configure(httpserver.url_for("/hook"))
    desk.submit()
    scheduler = Scheduler(echo_app)
    assert "deliver_outbox" in [job.name for job in scheduler.jobs]
    scheduler.run_due({}, now=1_000_000.0)
    with echo_app.app_context():
        assert db.session.scalar(select(OutboxDelivery.state)) == "delivered"


def test_a_vote_says_whether_it_decided_its_step():
    """The first of a board's two approvals leaves the step active; the second approves it."""
    from portal.approvals.engine import Event as EngineEvent
    from portal.integrations.outbox import events_for

    def vote(kind, step="ccb_review"):
        return EngineEvent(kind, step, 7, None, None, {"vote": "approve"}, {})

    first = events_for([vote("approved")])
    assert first == [("step.decided", {"step": "ccb_review", "decision": "approved",
                                       "step_status": "active", "actor_id": 7})]  # fmt: skip
    completed = EngineEvent("step_completed", "ccb_review", 7, None, {"status": "active"},
                            {"status": "approved"}, {})  # fmt: skip
    started = EngineEvent("step_started", "confirmation", 7, None, {"status": "waiting"},
                          {"status": "active"}, {})  # fmt: skip
    second = events_for([vote("approved"), completed, started])
    assert second[0][1]["step_status"] == "approved"
