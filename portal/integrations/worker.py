"""The delivery worker: hands each outbox delivery to its connector, exactly once.

A worker claims one due delivery at a time with a lease: one UPDATE picks the row (``FOR
UPDATE SKIP LOCKED`` on PostgreSQL, so several workers never wait on nor take the same row;
SQLite has one writer at a time) and sets ``claimed_until`` and a claim token, then commits.
The connector is called OUTSIDE any transaction (it commits the records it made through
``RequestLinks`` at once). The outcome is written only while the claim is still ours. A
worker that dies leaves its lease to run out; the next worker takes the row again, and the
connector finds what the dead one made (``links``, the vendor's own keys) instead of making
it twice.

A request's deliveries to one connector go out in the order of their events: a delivery
waits while an older one of the same setting and request is still to be sent.

Failures: ``RetryLater`` (429, 5xx, timeouts, a closed port) waits with exponential backoff
and full jitter, never less than the vendor's ``Retry-After``; ``PermanentFailure`` (a 4xx,
a missing secret) dead-letters at once; after ``PORTAL_OUTBOX_MAX_ATTEMPTS`` attempts the
delivery is dead too. Every attempt is kept, with the vendor's message or the result line.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from flask import current_app
from sqlalchemy import exists, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import aliased

from portal.database import utcnow
from portal.extensions import db
from portal.integrations.connector import (
    Connector,
    Delivery,
    Event,
    PermanentFailure,
    RetryLater,
    is_secret_reference,
    resolve_secret,
)
from portal.integrations.http import DEFAULT_TIMEOUT, client_for
from portal.integrations.links import RequestLinks
from portal.integrations.models import (
    ConnectorSetting,
    OutboxAttempt,
    OutboxDelivery,
    OutboxEvent,
)

log = logging.getLogger(__name__)

DUE_STATES = ("pending", "retrying")
STATES = ("pending", "retrying", "delivered", "dead")
DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_LEASE_SECONDS = 300  # longer than any connector's timeouts together
FIRST_BACKOFF_SECONDS = 30.0
LONGEST_BACKOFF_SECONDS = 3600.0


@dataclass
class Report:
    delivered: int = 0
    retrying: int = 0
    dead: int = 0

    @property
    def handled(self) -> int:
        return self.delivered + self.retrying + self.dead


def backoff_seconds(
    attempts: int,
    retry_after: float | None = None,
    rng: Callable[[], float] = random.random,
    first: float = FIRST_BACKOFF_SECONDS,
    longest: float = LONGEST_BACKOFF_SECONDS,
) -> float:
    """How long to wait after the ``attempts``-th failure: exponential backoff with full
    jitter (anything from 1 s up to 30 s, 60 s, 120 s … at most an hour), and never less than
    what the vendor asked for in ``Retry-After``."""
    ceiling = min(first * 2 ** max(attempts - 1, 0), longest)
    wait = max(1.0, ceiling * rng())
    if retry_after is not None:
        wait = max(wait, float(retry_after))
    return wait


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _config(name: str, default: int) -> int:
    try:
        return int(current_app.config.get(name) or default)
    except (TypeError, ValueError):
        return default


def _timeout() -> httpx.Timeout:
    """The connectors' HTTP timeout: PORTAL_OUTBOX_TIMEOUT_SECONDS, else the client's own."""
    seconds = current_app.config.get("OUTBOX_TIMEOUT_SECONDS")
    return httpx.Timeout(float(seconds)) if seconds else DEFAULT_TIMEOUT


def deliver_due(limit: int = 50, worker: str | None = None) -> Report:
    """Deliver up to ``limit`` due deliveries, one claim at a time; safe in many processes.

    Must run outside any open transaction of the caller (it commits as it goes).
    """
    report = Report()
    worker = worker or worker_name()
    try:
        if not _any_due():  # a plain read: an idle worker takes no write lock
            return report
        for _round in range(limit):
            claimed = claim(worker)
            if claimed is None:
                break
            outcome = attempt(*claimed, worker=worker)
            setattr(report, outcome, getattr(report, outcome) + 1)
    except OperationalError:  # SQLite still locked after its busy timeout; next run goes on
        db.session.rollback()
        log.warning("outbox: delivery run stopped early; trying later", exc_info=True)
    return report


def _due_condition(now: datetime):  # noqa: ANN202
    D = OutboxDelivery
    return (
        D.state.in_(DUE_STATES),
        D.next_attempt_at <= now,
        or_(D.claimed_until.is_(None), D.claimed_until <= now),
        ~_earlier_unsettled(),
    )


def _earlier_unsettled():  # noqa: ANN202
    """A SQL condition: an older delivery of the same setting for the same request is still
    to be sent (pending, retrying, or claimed).

    A request's deliveries to one connector go out in the order of their events: were the
    approval's delivery to wait for its retry while the next event's went through, the
    retry would move a Trello card back to the list of a status the request has left. A
    dead delivery blocks nothing (it waits for an admin, not for time).
    """
    D = OutboxDelivery
    earlier, earlier_event, this_event = (
        aliased(OutboxDelivery), aliased(OutboxEvent), aliased(OutboxEvent)
    )  # fmt: skip
    return exists(
        select(earlier.id)
        .join(earlier_event, earlier_event.id == earlier.event_id)
        .where(
            this_event.id == D.event_id,  # D: the outer query's row, correlated
            earlier.setting_id == D.setting_id,
            earlier.id < D.id,
            earlier.state.in_(DUE_STATES),
            earlier_event.request_id == this_event.request_id,
        )
    )


def _any_due() -> bool:
    found = db.session.scalar(select(OutboxDelivery.id).where(*_due_condition(utcnow())).limit(1))
    db.session.commit()  # end the read, so that the claim starts a transaction of its own
    return found is not None


def claim(worker: str, now: datetime | None = None) -> tuple[int, int, str] | None:
    """Take the next due delivery for a lease; returns (id, attempt number, claim token)."""
    now = now or utcnow()
    D = OutboxDelivery
    due = select(D.id).where(*_due_condition(now)).order_by(D.next_attempt_at, D.id).limit(1)
    if db.session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    token = f"{worker}/{uuid.uuid4().hex[:12]}"
    lease = timedelta(seconds=_config("OUTBOX_LEASE_SECONDS", DEFAULT_LEASE_SECONDS))
    row = db.session.execute(
        update(D)
        .where(D.id == due.scalar_subquery(), *_due_condition(now))
        .values(
            claimed_until=now + lease,
            claim_token=token,
            attempts=D.attempts + 1,
            updated_at=now,
        )
        .returning(D.id, D.attempts)
        .execution_options(synchronize_session=False)
    ).first()
    db.session.commit()
    return (row[0], row[1], token) if row else None


def attempt(delivery_id: int, number: int, token: str, *, worker: str) -> str:
    """One attempt of a claimed delivery; returns ``delivered``, ``retrying`` or ``dead``."""
    started = utcnow()
    result: str | None = None
    error: str | None = None
    retry_after: float | None = None
    permanent = False
    try:
        connector, delivery_args = _prepare(delivery_id, number)
        db.session.commit()  # hold no transaction while the connector talks to the world
        with client_for(delivery_args.pop("hosts"), timeout=_timeout()) as http:
            result = connector.deliver(Delivery(http=http, **delivery_args))
    except PermanentFailure as failure:
        error, permanent = failure.message, True
    except RetryLater as failure:
        error, retry_after = failure.message, failure.retry_after
    except httpx.TimeoutException as failure:
        error = f"timed out: {failure or type(failure).__name__}"
    except httpx.TransportError as failure:
        error = f"could not reach the service: {failure or type(failure).__name__}"
    except Exception as failure:  # any other failure passes: try again later
        log.exception("outbox: delivery %s failed", delivery_id)
        error = f"{type(failure).__name__}: {failure}"
    db.session.rollback()
    return _finish(
        delivery_id, number, token, worker, started, result, error, retry_after, permanent
    )


def _prepare(delivery_id: int, number: int) -> tuple[Connector, dict[str, Any]]:
    """Everything the connector needs, read before the connector is called."""
    delivery = db.session.get(OutboxDelivery, delivery_id)
    connector = current_app.extensions["portal.registries"].connectors.get(delivery.connector)
    if connector is None:
        raise PermanentFailure(
            f"no connector named {delivery.connector!r} is installed and enabled"
        )
    setting = db.session.get(ConnectorSetting, delivery.setting_id) if delivery.setting_id else None
    if setting is None:
        raise PermanentFailure("the form's settings for this connector were removed")
    if not setting.enabled:
        raise PermanentFailure("the connector is switched off for this form; switch it on, retry")
    fields = {f.name: f for f in getattr(connector, "settings_fields", ())}
    settings = resolved_settings(setting.settings or {}, fields)
    stored: OutboxEvent = delivery.event
    event = Event(
        stored.id, stored.name, stored.request_id, stored.occurred_at, dict(stored.payload)
    )
    hosts = hosts_of(setting.settings or {}, fields)
    extra = getattr(connector, "allowed_hosts", None)
    if callable(extra):
        hosts += [str(host) for host in extra(settings) or ()]
    return connector, {
        "hosts": hosts,
        "event": event,
        "settings": settings,
        "links": RequestLinks(stored.request_id, connector.name),
        "attempt": number,
        "request_url": str(stored.payload.get("url") or ""),
    }


def resolved_settings(settings: Mapping[str, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    """The settings with each secret read from the environment (``env:NAME``)."""
    resolved = dict(settings)
    for name, value in settings.items():
        kind = getattr(fields.get(name), "kind", None)
        if kind == "secret" or (kind is None and is_secret_reference(value)):
            resolved[name] = resolve_secret(value) if value else ""
    return resolved


def hosts_of(settings: Mapping[str, Any], fields: Mapping[str, Any]) -> list[str]:
    """The hosts the connector may call: those of its settings' URL fields (host:port too)."""
    hosts: list[str] = []
    for name, value in settings.items():
        if getattr(fields.get(name), "kind", None) != "url" or not value:
            continue
        parts = urlsplit(str(value))
        if parts.hostname:
            hosts.append(parts.hostname)
            if parts.port:
                hosts.append(f"{parts.hostname}:{parts.port}")
    return hosts


def _finish(
    delivery_id: int,
    number: int,
    token: str,
    worker: str,
    started: datetime,
    result: str | None,
    error: str | None,
    retry_after: float | None,
    permanent: bool,
) -> str:
    """Write the attempt and the delivery's new state, if the claim is still ours."""
    now = utcnow()
    max_attempts = _config("OUTBOX_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS)
    values: dict[str, Any] = {"claimed_until": None, "claim_token": None, "updated_at": now}
    if error is None:
        outcome = "delivered"
        values.update(state="delivered", delivered_at=now, last_error=None,
                      result=(result or "")[:500] or None)  # fmt: skip
    elif permanent or number >= max_attempts:
        outcome = "dead"
        values.update(state="dead", last_error=error[:4000])
    else:
        outcome = "retrying"
        wait = backoff_seconds(number, retry_after)
        values.update(
            state="retrying",
            last_error=error[:4000],
            next_attempt_at=now + timedelta(seconds=wait),
        )
    db.session.add(
        OutboxAttempt(
            delivery_id=delivery_id,
            number=number,
            worker=worker[:100],
            started_at=started,
            finished_at=now,
            outcome=outcome,
            message=(error if error is not None else result or "")[:4000] or None,
        )
    )
    db.session.execute(
        update(OutboxDelivery)
        .where(OutboxDelivery.id == delivery_id, OutboxDelivery.claim_token == token)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if outcome == "dead":
        log.error("outbox: delivery %s is dead after %s attempts: %s", delivery_id, number, error)
    return outcome


def retry(delivery_id: int) -> OutboxDelivery | None:
    """An admin's Retry: a dead or retrying delivery is due now, with a fresh set of
    attempts. The caller commits. Returns None for a delivery that is delivered or unknown."""
    delivery = db.session.get(OutboxDelivery, delivery_id)
    if delivery is None or delivery.state not in ("dead", "retrying"):
        return None
    delivery.state = "pending"
    delivery.attempts = 0
    delivery.next_attempt_at = utcnow()
    delivery.updated_at = utcnow()
    return delivery
