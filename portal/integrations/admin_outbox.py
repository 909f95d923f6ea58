"""The Outbox page: every delivery with its event, request, connector, state, attempts, next
attempt (in the viewer's zone), last error and result, newest first; filtered by state and
connector; a Retry button for dead or failing ones that updates the row in place (htmx).
"Show more" brings older deliveries in place (htmx), or as a page of their own."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from portal.accounts.roles import admin_required
from portal.admin.common import newest_first, page
from portal.audit.trace import record
from portal.extensions import db
from portal.integrations import bp
from portal.integrations.models import OutboxAttempt, OutboxDelivery, OutboxEvent
from portal.integrations.worker import STATES, retry
from portal.requests.models import ChangeRequest

PAGE_SIZE = 200
STATE_LABELS = {
    "pending": _l("Pending"),
    "retrying": _l("Retrying"),
    "delivered": _l("Delivered"),
    "dead": _l("Dead: given up"),
}


def deliveries_query(state: str | None, connector: str | None):  # noqa: ANN201
    """Deliveries newest first, with their event and request number (one query)."""
    query = (
        select(OutboxDelivery, OutboxEvent, ChangeRequest.number)
        .join(OutboxEvent, OutboxEvent.id == OutboxDelivery.event_id)
        .join(ChangeRequest, ChangeRequest.id == OutboxEvent.request_id)
        .order_by(OutboxDelivery.id.desc())
    )
    if state in STATES:
        query = query.where(OutboxDelivery.state == state)
    if connector:
        query = query.where(OutboxDelivery.connector == connector)
    return query


@bp.get("/outbox")
@admin_required
def outbox():
    state = request.args.get("state") or None
    state = state if state in STATES else None
    connector = request.args.get("connector") or None
    shown = newest_first(deliveries_query(state, connector), OutboxDelivery.id, PAGE_SIZE)
    names: list[str] = []
    if not shown.rows_only:
        names = sorted(
            set(current_app.extensions["portal.registries"].connectors)
            | set(db.session.scalars(select(OutboxDelivery.connector).distinct()))
        )
    return page(
        "integrations/outbox.html",
        "integrations/_delivery_rows.html" if shown.rows_only else None,
        **shown.context(),
        states=STATES,
        state=state,
        connector=connector,
        connector_names=names,
        state_labels=STATE_LABELS,
    )


def _row(delivery_id: int):  # noqa: ANN202
    found = db.session.execute(
        deliveries_query(None, None).where(OutboxDelivery.id == delivery_id)
    ).first()
    if found is None:
        abort(404)
    return found


@bp.get("/outbox/<int:delivery_id>")
@admin_required
def outbox_delivery(delivery_id: int):
    """One delivery: its event's payload and every attempt."""
    row = _row(delivery_id)
    attempts = db.session.scalars(
        select(OutboxAttempt)
        .where(OutboxAttempt.delivery_id == delivery_id)
        .order_by(OutboxAttempt.id)
    ).all()
    return render_template(
        "integrations/outbox_delivery.html", row=row, attempts=attempts, state_labels=STATE_LABELS
    )


@bp.post("/outbox/<int:delivery_id>/retry")
@admin_required
def outbox_retry(delivery_id: int):
    _row(delivery_id)
    delivery = retry(delivery_id)
    if delivery is None:
        message, category = _("This delivery is not waiting for a retry."), "error"
        db.session.rollback()
    else:
        record(
            event="outbox_retried",
            actor_id=current_user.id,
            ip_address=request.remote_addr,
            data={"delivery": delivery_id, "connector": delivery.connector},
        )
        db.session.commit()
        message, category = _("It will be sent again in a few seconds."), "info"
    if request.headers.get("HX-Request"):
        response = current_app.make_response(
            render_template(
                "integrations/_delivery_row.html",
                row=_row(delivery_id),
                notice=message,
                state_labels=STATE_LABELS,
            )
        )
        response.headers["Vary"] = "HX-Request"
        return response
    flash(message, category)
    return redirect(request.referrer or url_for("integrations.outbox")), 303
