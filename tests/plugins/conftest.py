"""What every connector test needs: a real request submitted by a client and walked by its
team (tests/approvals), events as the outbox hands them, and a delivery built the way the
outbox builds one (the only HTTP client, the request's links)."""

from __future__ import annotations

import itertools

import httpx
import pytest
from sqlalchemy import select

from portal.database import utcnow
from portal.extensions import db
from portal.integrations.connector import Delivery, Event
from portal.integrations.http import client_for
from portal.integrations.links import RequestLinks
from portal.requests.models import ChangeRequest
from tests.approvals.test_chain_at_work import LOW, Team

_ids = itertools.count(1)
FAST = httpx.Timeout(1.0, connect=1.0)


@pytest.fixture
def team(app, accounts, change_request_form):
    return Team(app, accounts)


@pytest.fixture
def submitted(app, team):
    """A low-impact request, analysed: it waits on its review."""
    number = team.submit(LOW)
    assert team.act("bo", number, "analysis", "done").status_code == 200
    return number


@pytest.fixture
def waiting_on_implementation(app, team, submitted):
    """The request approved, confirmed and planned: it waits on its implementation."""
    assert team.act("chen", submitted, "review", "approve").status_code == 200
    assert team.act("dana", submitted, "confirmation", "confirm").status_code == 200
    assert team.act("bo", submitted, "plan_adjustment", "done").status_code == 200
    assert team.status(submitted) == "in_progress"
    return submitted


def receipts(app) -> list[tuple[bool, str]]:
    """(verified, outcome) of every inbound call, oldest first."""
    from portal.integrations.models import InboundReceipt

    with app.app_context():
        rows = db.session.scalars(select(InboundReceipt).order_by(InboundReceipt.id))
        return [(r.verified, r.outcome) for r in rows]


def change_of(number: str) -> ChangeRequest:
    return db.session.scalar(select(ChangeRequest).where(ChangeRequest.number == number))


def event_for(number: str, name: str = "step.decided", **extra) -> Event:
    """An event about the request as it now stands, shaped as the contract documents."""
    change = change_of(number)
    payload = {
        "number": change.number,
        "title": change.title,
        "form": "change-request",
        "status": change.status,
        "impact": change.impact,
        "priority": change.priority,
        "answers": change.answers,
        "url": f"http://portal.test/requests/{change.number}",
    }
    if name == "step.decided":
        payload.update(step="review", decision="approved", actor="Chen", comment="Go ahead")
    payload.update(extra)
    return Event(next(_ids), name, change.id, utcnow(), payload)


def delivery(connector: str, event: Event, settings: dict, hosts, timeout=FAST) -> Delivery:
    return Delivery(
        event=event,
        settings=settings,
        http=client_for(hosts, timeout=timeout),
        links=RequestLinks(event.request_id, connector),
        request_url=str(event.payload.get("url") or ""),
    )


def host(httpserver) -> str:
    return f"{httpserver.host}:{httpserver.port}"


def down_url() -> str:
    """An address where nothing listens."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"
