"""The records connectors made for a request, read and written the same way by every
connector, by the outbox worker and by inbound webhooks."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.integrations import connector as contract
from portal.integrations.models import ExternalLink


class RequestLinks:
    """``Links`` for one request and one connector.

    ``remember`` commits at once: the worker delivers outside any open transaction (its claim
    is a lease, not a held lock), so a crash right after the remote side answered still
    leaves the key behind for the next attempt.
    """

    def __init__(self, request_id: int, connector: str) -> None:
        self.request_id = request_id
        self.connector = connector

    def get(self, kind: str) -> contract.ExternalLink | None:
        row = self._row(kind)
        return _public(row) if row else None

    def remember(self, kind: str, key: str, url: str | None = None) -> contract.ExternalLink:
        row = self._row(kind)
        if row is None:
            row = ExternalLink(
                request_id=self.request_id, connector=self.connector, kind=kind, key=key, url=url
            )
            db.session.add(row)
        else:
            row.key, row.url = key, url
        try:
            db.session.commit()
        except IntegrityError:  # another worker remembered it first: theirs stands
            db.session.rollback()
            row = self._row(kind)
        return _public(row)

    def _row(self, kind: str) -> ExternalLink | None:
        return db.session.scalar(
            select(ExternalLink).where(
                ExternalLink.request_id == self.request_id,
                ExternalLink.connector == self.connector,
                ExternalLink.kind == kind,
            )
        )


def request_for_key(connector: str, key: str, kind: str | None = None) -> int | None:
    """The request a connector's remote record belongs to (for inbound webhooks)."""
    query = select(ExternalLink.request_id).where(
        ExternalLink.connector == connector, ExternalLink.key == key
    )
    if kind:
        query = query.where(ExternalLink.kind == kind)
    return db.session.scalar(query.limit(1))


def links_of(request_id: int) -> list[ExternalLink]:
    """Every record made for a request, for its page."""
    return list(
        db.session.scalars(
            select(ExternalLink)
            .where(ExternalLink.request_id == request_id)
            .order_by(ExternalLink.connector, ExternalLink.kind)
        )
    )


def _public(row: ExternalLink) -> contract.ExternalLink:
    return contract.ExternalLink(row.connector, row.kind, row.key, row.url)
