"""Change requests, the drafts they start as, their attached files, and their numbers."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import Organisation, User
from portal.database import utcnow
from portal.extensions import db
from portal.forms.models import Form, FormVersion


class RequestStatus(enum.StrEnum):
    """Where a request stands, in the words of the standard change process."""

    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    SENT_BACK = "sent_back"
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    IN_PROGRESS = "in_progress"
    AWAITING_FEEDBACK = "awaiting_feedback"
    COMPLETED = "completed"
    REJECTED = "rejected"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        from portal.i18n import translated

        return translated(STATUS_LABELS[self])


STATUS_LABELS = {
    RequestStatus.SUBMITTED: _l("Submitted"),
    RequestStatus.IN_REVIEW: _l("In review"),
    RequestStatus.SENT_BACK: _l("Sent back for changes"),
    RequestStatus.AWAITING_CONFIRMATION: _l("Awaiting the client's confirmation"),
    RequestStatus.IN_PROGRESS: _l("In progress"),
    RequestStatus.AWAITING_FEEDBACK: _l("Awaiting the client's feedback"),
    RequestStatus.COMPLETED: _l("Completed"),
    RequestStatus.REJECTED: _l("Rejected"),
    RequestStatus.DECLINED: _l("Declined by the client"),
    RequestStatus.WITHDRAWN: _l("Withdrawn"),
}


class ChangeRequest(db.Model):
    """A submitted request: its answers as given, against the form version they were given for."""

    __tablename__ = "change_requests"
    __table_args__ = (
        Index("ix_change_requests_org_submitted", "organisation_id", "submitted_at"),
        Index("ix_change_requests_status_submitted", "status", "submitted_at"),
        # The list shows the newest first: without this, every page sorts all requests.
        Index("ix_change_requests_submitted_id", "submitted_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    # The draft it was sent from: unique, so one draft never becomes two requests.
    draft_nonce: Mapped[str | None] = mapped_column(String(32), unique=True)
    form_version_id: Mapped[int] = mapped_column(ForeignKey("form_versions.id"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    answers: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(32), default=RequestStatus.SUBMITTED.value)
    # The approval chain's state (portal.approvals.engine), the revision of the answers it
    # works on, and a version counter that makes concurrent decisions take turns.
    chain_state: Mapped[dict[str, Any] | None]
    state_version: Mapped[int] = mapped_column(default=0)
    revision: Mapped[int] = mapped_column(default=1)
    impact: Mapped[str | None] = mapped_column(String(10))
    priority: Mapped[str | None] = mapped_column(String(10))
    closed_at: Mapped[datetime | None]
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    form_version: Mapped[FormVersion] = relationship()
    organisation: Mapped[Organisation] = relationship()
    requester: Mapped[User] = relationship()
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="request", order_by="Attachment.id"
    )

    @property
    def status_label(self) -> str:
        return RequestStatus(self.status).label


class Draft(db.Model):
    """Answers a person is still typing, kept on the server so nothing is lost.

    One draft per person and form; it is pinned to the version it was started on.
    """

    __tablename__ = "drafts"
    __table_args__ = (UniqueConstraint("user_id", "form_id", name="uq_drafts_user_form"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"))
    form_version_id: Mapped[int] = mapped_column(ForeignKey("form_versions.id"))
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    nonce: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    user: Mapped[User] = relationship()
    form: Mapped[Form] = relationship()
    form_version: Mapped[FormVersion] = relationship()
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="draft", order_by="Attachment.id"
    )


class Attachment(db.Model):
    """An uploaded file. It belongs to a draft while the form is filled in, then to the request.

    The stored name is random; the type is the one found in the content, not the one claimed.
    """

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("change_requests.id", ondelete="CASCADE"), index=True
    )
    draft_id: Mapped[int | None] = mapped_column(
        ForeignKey("drafts.id", ondelete="SET NULL"), index=True
    )
    field_name: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    storage_key: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    request: Mapped[ChangeRequest | None] = relationship(back_populates="attachments")
    draft: Mapped[Draft | None] = relationship(back_populates="attachments")
    uploaded_by: Mapped[User] = relationship()

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


class RequestCounter(db.Model):
    """The last number given out per prefix and year (CR-2026-00042)."""

    __tablename__ = "request_counters"

    prefix: Mapped[str] = mapped_column(String(8), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    last: Mapped[int] = mapped_column(default=0)
