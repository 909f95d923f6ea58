"""Drafts: a form and its chain while an admin works on them, before publishing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.database import utcnow
from portal.extensions import db


class FormDraft(db.Model):
    """An editable definition (form and ``chain:``), one per form name.

    ``definition`` has the shape of a definition file, so it exports to the YAML that
    ``portal forms import`` reads and publishes through the same check. ``source`` says where
    it came from: ``blank``, ``template:<name>``, ``xlsform:<file name>`` or ``version:<n>``.
    """

    __tablename__ = "form_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    form_name: Mapped[str] = mapped_column(String(64), unique=True)
    definition: Mapped[dict[str, Any]]
    source: Mapped[str] = mapped_column(String(200), default="blank")
    based_on_version_id: Mapped[int | None] = mapped_column(ForeignKey("form_versions.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    based_on = relationship("FormVersion")
    updated_by = relationship("User")
