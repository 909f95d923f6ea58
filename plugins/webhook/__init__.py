"""Outgoing webhook: every chosen event POSTed as signed JSON to an address (docs/connectors.md)."""

from __future__ import annotations

from portal import hookimpl


@hookimpl
def register_connectors(register) -> None:  # noqa: ANN001
    from plugins.webhook.connector import connector

    register(connector)
