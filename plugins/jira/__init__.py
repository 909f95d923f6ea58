"""Jira: an issue for each approved change request, and the implementation step marked done
when the issue is done (docs/connectors.md)."""

from __future__ import annotations

from portal import hookimpl


@hookimpl
def register_connectors(register) -> None:  # noqa: ANN001
    from plugins.jira.connector import connector

    register(connector)


@hookimpl
def register_blueprints(register) -> None:  # noqa: ANN001
    from plugins.jira.webhook import bp

    register(bp)
