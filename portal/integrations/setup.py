"""Saving a form's connector setting from code: for tests, the demo and scripts (the admin
pages save the same row through their own form)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from portal.extensions import db
from portal.integrations.models import ConnectorSetting


def save_setting(
    connector: str,
    form_name: str,
    settings: dict[str, Any],
    events: Sequence[str],
    *,
    enabled: bool = True,
) -> ConnectorSetting:
    """Create or replace the setting of ``connector`` for ``form_name``, committed."""
    row = db.session.scalar(
        select(ConnectorSetting).where(
            ConnectorSetting.connector == connector, ConnectorSetting.form_name == form_name
        )
    )
    if row is None:
        row = ConnectorSetting(connector=connector, form_name=form_name)
        db.session.add(row)
    row.settings, row.events, row.enabled = dict(settings), list(events), enabled
    db.session.commit()
    return row
