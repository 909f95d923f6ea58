"""Inbound receipts are kept for a while, then dropped: anyone can post to a webhook
address, so the table of receipts must not grow without end. ``INBOUND_RECEIPT_DAYS``
(default 90) is longer than any vendor retries a call, so replays are still caught."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import delete

from portal import hookimpl
from portal.database import utcnow
from portal.extensions import db
from portal.integrations.models import InboundReceipt
from portal.scheduler import Job

DEFAULT_DAYS = 90


def prune_inbound_receipts() -> int:
    """Delete receipts older than the retention; how many went."""
    days = int(current_app.config.get("INBOUND_RECEIPT_DAYS", DEFAULT_DAYS))
    cutoff = utcnow() - timedelta(days=days)
    result = db.session.execute(delete(InboundReceipt).where(InboundReceipt.received_at < cutoff))
    db.session.commit()
    return result.rowcount or 0


@hookimpl(trylast=True)
def register_jobs(register) -> None:  # noqa: ANN001
    register(Job("prune_inbound_receipts", 3600, prune_inbound_receipts))
