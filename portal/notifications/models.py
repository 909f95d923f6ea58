"""What people are told: one notification per person and event, one delivery per channel.

The bell counts and lists ``Notification`` rows; each channel (e-mail, or a plug-in's) gets
its own ``NotificationDelivery`` row, retried on its own until it is sent or given up.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.database import utcnow
from portal.extensions import db
from portal.requests.models import ChangeRequest


class DeliveryStatus(enum.StrEnum):
    """Where a delivery stands: waiting (first try or a retry), done, or given up."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class Notification(db.Model):
    """Something a person should know about a request; unread until they mark it read."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user_created", "user_id", "created_at"),
        Index("ix_notifications_user_read", "user_id", "read_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("change_requests.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()
    request: Mapped[ChangeRequest | None] = relationship()
    deliveries: Mapped[list[NotificationDelivery]] = relationship(
        back_populates="notification",
        cascade="all, delete-orphan",
        order_by="NotificationDelivery.id",
    )

    @property
    def is_unread(self) -> bool:
        return self.read_at is None

    def __repr__(self) -> str:
        return f"<Notification {self.id} {self.kind} user={self.user_id}>"


class NotificationDelivery(db.Model):
    """One notification on one channel: tried until sent, with backoff, at most a few times."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        UniqueConstraint("notification_id", "channel", name="uq_notification_deliveries_channel"),
        Index("ix_notification_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]

    notification: Mapped[Notification] = relationship(back_populates="deliveries")

    def __repr__(self) -> str:
        return f"<NotificationDelivery {self.id} {self.channel} {self.status}>"
