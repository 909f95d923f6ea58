"""Which plug-ins an admin switched off. Read once when the portal starts: the plug-in
manager blocks them, so none of their hooks runs (registries are built at start-up, so a
change takes effect when the portal restarts, in every process alike)."""

from __future__ import annotations

import logging

from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from portal.extensions import db
from portal.integrations.models import PluginState

log = logging.getLogger(__name__)


def disabled_plugins(app: Flask) -> frozenset[str]:
    """The names of the switched-off plug-ins; none while the schema is not built yet."""
    with app.app_context():
        try:
            with db.engine.connect() as connection:
                rows = connection.execute(
                    select(PluginState.name).where(PluginState.enabled.is_(False))
                )
                return frozenset(rows.scalars())
        except SQLAlchemyError:  # no table yet (before `portal db upgrade`): all enabled
            log.debug("plug-in states not readable yet; every plug-in is enabled")
            return frozenset()
        finally:
            db.session.remove()


def set_enabled(name: str, enabled: bool, user_id: int | None) -> PluginState:
    """Store an admin's choice for a plug-in, in the caller's transaction."""
    from portal.database import utcnow

    state = db.session.get(PluginState, name)
    if state is None:
        state = PluginState(name=name)
        db.session.add(state)
    state.enabled = enabled
    state.updated_at = utcnow()
    state.updated_by_id = user_id
    return state


def stored_states() -> dict[str, bool]:
    return {s.name: s.enabled for s in db.session.scalars(select(PluginState))}
