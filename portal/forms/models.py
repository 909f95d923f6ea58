"""Forms and their published versions.

A published ``FormVersion`` never changes: each submission points at the version it was
filled against, so its answers stay readable after the form is edited, fields renamed or
removed. A new definition is a new version.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint, event
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from portal.database import utcnow
from portal.extensions import db


class Form(db.Model):
    """A request form, known by its name (``change-request``)."""

    __tablename__ = "forms"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    archived: Mapped[bool] = mapped_column(default=False)

    versions: Mapped[list[FormVersion]] = relationship(
        back_populates="form", order_by="FormVersion.number"
    )

    @property
    def published(self) -> FormVersion | None:
        """The newest published version: the one clients fill in now."""
        return self.versions[-1] if self.versions else None


class FormVersion(db.Model):
    """One immutable, published definition of a form."""

    __tablename__ = "form_versions"
    __table_args__ = (UniqueConstraint("form_id", "number", name="uq_form_versions_form_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"))
    number: Mapped[int]
    # Deferred: pages find the parsed definition by checksum (forms.service.definition_of),
    # so the JSON is read only the first time a process meets a version.
    definition: Mapped[dict[str, Any]] = mapped_column(deferred=True)
    checksum: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    form: Mapped[Form] = relationship(back_populates="versions")


class ImmutableVersionError(RuntimeError):
    """Raised when code tries to change or delete a published form version."""


@event.listens_for(Session, "before_flush")
def _refuse_changes_to_published_versions(session: Session, _context, _instances) -> None:
    for obj in list(session.dirty):
        if isinstance(obj, FormVersion) and session.is_modified(obj, include_collections=False):
            raise ImmutableVersionError(f"form version {obj.id} is published and cannot change")
    for obj in session.deleted:
        if isinstance(obj, FormVersion):
            raise ImmutableVersionError(f"form version {obj.id} is published and cannot be deleted")
