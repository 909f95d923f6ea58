"""What the portal keeps about hand-offs: each form's connector settings, and the records
connectors made in other tools for a request."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.database import utcnow
from portal.extensions import db


class ConnectorSetting(db.Model):
    """How one form hands its requests to one connector: which events, and the connector's
    settings (project, board, module, field mapping). Secrets are kept only as ``env:NAME``
    references, never as values."""

    __tablename__ = "connector_settings"
    __table_args__ = (
        UniqueConstraint("connector", "form_name", name="uq_connector_settings_connector_form"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    connector: Mapped[str] = mapped_column(String(64))
    form_name: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(default=True)
    events: Mapped[list[Any]]
    settings: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class ExternalLink(db.Model):
    """A record a connector made for a request (a Jira issue, a Trello card, a Zoho record):
    one per request, connector and kind, so a retried delivery finds it instead of making
    a second one, and an inbound webhook finds the request by the remote key."""

    __tablename__ = "external_links"
    __table_args__ = (
        UniqueConstraint(
            "request_id", "connector", "kind", name="uq_external_links_request_connector_kind"
        ),
        Index("ix_external_links_connector_key", "connector", "key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("change_requests.id"))
    connector: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    url: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxEvent(db.Model):
    """One event (submitted, revised, step decided, closed), written in the transaction of the
    change that caused it. ``hook_errors`` lists ``event_committed`` implementations that
    failed on it after the commit, for the admin's Plug-ins page."""

    __tablename__ = "outbox_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    request_id: Mapped[int] = mapped_column(ForeignKey("change_requests.id"), index=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    payload: Mapped[dict[str, Any]]
    hook_errors: Mapped[list[Any] | None] = mapped_column(JSON)


class OutboxDelivery(db.Model):
    """One event handed to one connector of the event's form.

    ``state``: ``pending`` (not tried yet), ``retrying`` (failed, tried again at
    ``next_attempt_at``), ``delivered``, ``dead`` (given up; an admin may retry it). A worker
    claims a due row by setting ``claimed_until`` (its lease) and ``claim_token``; a worker
    that dies leaves the lease to run out, and another one takes the row again.
    """

    __tablename__ = "outbox_deliveries"
    __table_args__ = (
        Index("ix_outbox_deliveries_state_next_attempt_at", "state", "next_attempt_at"),
        # The worker's in-order check looks for unsent deliveries of the same setting.
        Index("ix_outbox_deliveries_setting_state", "setting_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("outbox_events.id"), index=True)
    connector: Mapped[str] = mapped_column(String(64))
    setting_id: Mapped[int | None] = mapped_column(ForeignKey("connector_settings.id"))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_until: Mapped[datetime | None]
    claim_token: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[str | None] = mapped_column(String(500))
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    event: Mapped[OutboxEvent] = relationship()


class OutboxAttempt(db.Model):
    """One try of a delivery: when, by which worker, and what came back (the vendor's error
    text, or the connector's result line)."""

    __tablename__ = "outbox_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("outbox_deliveries.id"), index=True)
    number: Mapped[int]
    worker: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(16))
    message: Mapped[str | None] = mapped_column(Text)


class PluginState(db.Model):
    """An admin's choice to switch a plug-in off (``enabled`` False); read when the portal
    starts, so a disabled plug-in's hooks are never called."""

    __tablename__ = "plugin_states"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class InboundReceipt(db.Model):
    """Every call a vendor made to an inbound webhook, signed or not: who sent it (connector
    and form setting), the vendor's delivery id and the body's SHA-256, whether its signature
    held and what came of it. A verified receipt claims its ``dedup_key`` (one per setting:
    the delivery id, else the body hash), so a replayed call is processed once."""

    __tablename__ = "inbound_receipts"
    __table_args__ = (
        UniqueConstraint("connector", "dedup_key", name="uq_inbound_receipts_connector_dedup"),
        Index("ix_inbound_receipts_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    connector: Mapped[str] = mapped_column(String(64))
    setting_id: Mapped[int | None] = mapped_column(
        ForeignKey("connector_settings.id", ondelete="SET NULL")
    )
    delivery_id: Mapped[str | None] = mapped_column(String(255))
    body_hash: Mapped[str] = mapped_column(String(64))
    #: Set on verified receipts only: the key a replay would claim again.
    dedup_key: Mapped[str | None] = mapped_column(String(400))
    verified: Mapped[bool] = mapped_column(default=False)
    #: ``rejected`` (bad or missing signature), ``unknown_setting``, ``duplicate``,
    #: ``processing``, ``processed``, ``ignored`` or ``failed``.
    outcome: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(String(1000))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
