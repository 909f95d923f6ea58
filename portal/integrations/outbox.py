"""The transactional outbox: each event is written in the transaction of the change that
caused it, with one delivery row per connector of the request's form that listens to it.

Nothing leaves the portal here. The rows commit with the change or not at all; the delivery
worker (``portal.integrations.worker``) sends them later, and ``event_committed`` plug-ins
hear of them once the commit has happened (``announce_after_commit``).

The cost on the path of a submission is one INSERT for the event and one INSERT … SELECT for
its deliveries (the form's connector settings are read by the database, not by Python).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from urllib.parse import quote

from flask import current_app
from sqlalchemy import (
    Integer,
    String,
    and_,
    bindparam,
    cast,
    event,
    exists,
    func,
    insert,
    literal,
    literal_column,
    select,
    update,
)
from sqlalchemy.orm import Session

from portal.database import UTCDateTime, utcnow
from portal.extensions import db
from portal.integrations.connector import EVENT_NAMES, Event
from portal.integrations.models import ConnectorSetting, OutboxDelivery, OutboxEvent

log = logging.getLogger(__name__)

#: The trace's words for a person's decision on a step, as the decision in ``step.decided``.
DECISIONS = {
    "approved": "approved",
    "rejected": "rejected",
    "sent_back": "sent_back",
    "confirmed": "confirmed",
    "declined": "declined",
    "done": "done",
    "feedback": "feedback",
}
#: The engine's words for the end of a request, as the outcome in ``request.closed``.
CLOSINGS = {
    "completed": "completed",
    "closed_rejected": "rejected",
    "closed_declined": "declined",
    "withdrawn": "withdrawn",
}
PENDING_KEY = "portal.outbox.pending"


def events_for(engine_events: Iterable[Any]) -> list[tuple[str, dict[str, Any]]]:
    """The outbox events (name, extra payload) that a list of engine events makes."""
    engine_events = list(engine_events)
    step_status = _step_statuses(engine_events)
    found: list[tuple[str, dict[str, Any]]] = []
    for item in engine_events:
        kind = item.kind
        if kind == "submitted":
            found.append(("request.submitted", {}))
        elif kind == "revised":
            found.append(("request.revised", {}))
        elif kind in DECISIONS:
            found.append(
                (
                    "step.decided",
                    {
                        "step": item.step,
                        "decision": DECISIONS[kind],
                        "step_status": step_status.get(item.step, "active"),
                        "actor_id": item.actor_id,
                    },
                )
            )
        elif kind in CLOSINGS:
            found.append(("request.closed", {"outcome": CLOSINGS[kind], "step": item.step}))
    return found


def _step_statuses(engine_events: list[Any]) -> dict[str, str]:
    """Each step's status after the action, from the step transitions it made.

    One person's vote does not always decide the step (a board that needs two approvals
    stays ``active`` after the first): ``step_status`` lets a connector act only on the
    step's outcome (Jira makes its issue when the step is ``approved``, not at each vote).
    """
    found: dict[str, str] = {}
    for item in engine_events:
        after = getattr(item, "after", None) or {}
        if item.step and item.kind.startswith("step_") and after.get("status"):
            found[item.step] = str(after["status"])
    return found


def base_payload(change: Any) -> dict[str, Any]:
    """What every event says about its request (read from the loaded row: no query)."""
    base_url = str(current_app.config.get("BASE_URL") or "http://127.0.0.1:5000").rstrip("/")
    return {
        "number": change.number,
        "title": change.title,
        "form": change.form_version.form.name,
        "form_version": change.form_version.number,
        "status": change.status,
        "impact": change.impact,
        "priority": change.priority,
        "revision": change.revision,
        "answers": change.answers,
        "url": f"{base_url}/requests/{quote(change.number, safe='')}",
    }


def record_engine_events(change: Any, engine_events: Iterable[Any], comment: str = "") -> None:
    """Record the outbox events an action made, in the caller's transaction."""
    found = events_for(engine_events)
    if not found:
        return
    payload = base_payload(change)
    for name, extra in found:
        actor_id = extra.pop("actor_id", None)
        if name == "step.decided":
            actor = _user(actor_id)
            extra.update(
                actor=actor.name if actor else None,
                actor_email=actor.email if actor else None,
                comment=comment or None,
            )
        record(name, change.id, {**payload, **extra}, form_name=payload["form"])


def record(
    name: str,
    request_id: int,
    payload: dict[str, Any],
    *,
    form_name: str,
    at: datetime | None = None,
) -> int:
    """Write one event and its deliveries in the caller's transaction; returns the event id.

    The deliveries are one INSERT … SELECT over the form's enabled connector settings that
    list ``name`` among their events.
    """
    if name not in EVENT_NAMES:
        raise ValueError(f"unknown outbox event {name!r}; expected one of {EVENT_NAMES}")
    now = at or utcnow()
    event_id = db.session.execute(
        _INSERT_EVENT,
        {"name": name, "request_id": request_id, "occurred_at": now, "payload": payload},
    ).scalar_one()
    dialect = db.session.get_bind().dialect.name
    db.session.execute(
        _deliveries_for(dialect),
        {"event_id": event_id, "event_name": name, "form_name": form_name, "now": now},
    )
    pending = db.session.info.setdefault(PENDING_KEY, [])
    pending.append(Event(event_id, name, request_id, now, payload))
    return event_id


# Built once: every submission and decision runs them, and building a statement (above all
# the INSERT … SELECT over the settings' JSON) costs more than running it.
_INSERT_EVENT = insert(OutboxEvent.__table__).returning(OutboxEvent.__table__.c.id)


@functools.cache
def _deliveries_for(dialect: str):  # noqa: ANN202
    """INSERT … SELECT: one pending delivery per enabled connector setting of the form that
    lists the event among its ``events``."""
    S = ConnectorSetting.__table__.c
    now = bindparam("now", type_=UTCDateTime())
    chosen = select(
        bindparam("event_id", type_=Integer()),
        S.connector,
        S.id,
        literal("pending"),
        literal(0),
        now,
        now,
        now,
    ).where(
        S.form_name == bindparam("form_name"),
        S.enabled.is_(True),
        _listens_to(dialect, bindparam("event_name", type_=String())),
    )
    return insert(OutboxDelivery.__table__).from_select(
        [
            "event_id",
            "connector",
            "setting_id",
            "state",
            "attempts",
            "next_attempt_at",
            "created_at",
            "updated_at",
        ],
        chosen,
    )


def _listens_to(dialect: str, name: Any):  # noqa: ANN202
    """A SQL condition: the setting's ``events`` (a JSON list) holds ``name``."""
    events = ConnectorSetting.__table__.c.events
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import JSONB

        return func.jsonb_exists(cast(events, JSONB), name)
    if dialect == "sqlite":
        each = func.json_each(events).table_valued("value")
        return exists(select(literal_column("1")).select_from(each).where(each.c.value == name))
    return cast(events, db.String).contains(name)  # pragma: no cover


def _user(user_id: int | None):  # noqa: ANN202
    if user_id is None:
        return None
    from portal.accounts.models import User

    return db.session.get(User, user_id)  # the actor is already loaded: no query


# -- after the commit ---------------------------------------------------------------------------


def announce_after_commit(session_target: Any) -> None:
    """Call ``event_committed`` for each event once its transaction has committed, and
    forget the events of a transaction rolled back. Installed once per process."""
    if event.contains(session_target, "after_commit", _after_commit):
        return
    event.listen(session_target, "after_commit", _after_commit)
    event.listen(session_target, "after_soft_rollback", _after_soft_rollback)


def _after_soft_rollback(session: Session, previous_transaction: Any) -> None:
    if not previous_transaction.nested:
        session.info.pop(PENDING_KEY, None)


def _after_commit(session: Session) -> None:
    events = session.info.pop(PENDING_KEY, None)
    if not events:
        return
    try:
        app = current_app._get_current_object()
    except RuntimeError:  # pragma: no cover - the portal's sessions live in an app context
        return
    pm = app.extensions.get("portal.plugins")
    if pm is None:
        return
    for item in events:
        errors = call_event_committed(pm, item)
        if errors:
            _keep_hook_errors(item.id, errors)


def call_event_committed(pm: Any, item: Event) -> list[dict[str, str]]:
    """Call every ``event_committed`` implementation on its own; return their failures."""
    errors: list[dict[str, str]] = []
    for impl in pm.hook.event_committed.get_hookimpls():
        try:
            impl.function(event=item)
        except Exception as error:  # a plug-in never breaks the request it hears about
            plugin = pm.get_name(impl.plugin) or repr(impl.plugin)
            log.exception("event_committed of %s failed on event %s", plugin, item.id)
            errors.append(
                {
                    "plugin": plugin,
                    "error": f"{type(error).__name__}: {error}"[:1000],
                    "at": utcnow().isoformat(),
                }  # fmt: skip
            )
    return errors


def _keep_hook_errors(event_id: int, errors: list[dict[str, str]]) -> None:
    """Store the failures on the event, in a transaction of their own (the caller's session
    is between transactions and may not be used)."""
    try:
        with Session(db.engine) as session, session.begin():
            session.execute(
                update(OutboxEvent)
                .where(and_(OutboxEvent.id == event_id))
                .values(hook_errors=errors)
                .execution_options(synchronize_session=False)
            )
    except Exception:  # the failure is in the log already
        log.exception("could not record the event_committed failures of event %s", event_id)
