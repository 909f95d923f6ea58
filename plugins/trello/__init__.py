"""Trello: a card for each change request, moved between lists as it advances, and the
implementation step marked done when the card reaches the done list (docs/connectors.md)."""

from __future__ import annotations

from portal import hookimpl


@hookimpl
def register_connectors(register) -> None:  # noqa: ANN001
    from plugins.trello.connector import connector

    register(connector)


@hookimpl
def register_blueprints(register) -> None:  # noqa: ANN001
    from plugins.trello.webhook import bp

    register(bp)
