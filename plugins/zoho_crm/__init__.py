"""Zoho CRM: a record per change request (upserted on the request number) and a note for
each decision (docs/connectors.md)."""

from __future__ import annotations

from portal import hookimpl


@hookimpl
def register_connectors(register) -> None:  # noqa: ANN001
    from plugins.zoho_crm.connector import connector

    register(connector)
