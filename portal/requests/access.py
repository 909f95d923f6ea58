"""Who may see which request and which file: the one place that decides.

Clients see their own organisation's requests and files and nothing else; approvers and
admins see all. Everything that shows a request, a fragment of one or one of its files
goes through here; anything else answers 404, so another organisation's numbers are not
even confirmed to exist.
"""

from __future__ import annotations

from flask import abort
from sqlalchemy import Select, select

from portal.accounts.models import User
from portal.extensions import db
from portal.requests.models import Attachment, ChangeRequest


def visible_requests(user: User) -> Select:
    query = select(ChangeRequest)
    if not user.is_staff:
        query = query.where(ChangeRequest.organisation_id == user.organisation_id)
    return query


def request_or_404(user: User, number: str) -> ChangeRequest:
    found = db.session.scalar(visible_requests(user).where(ChangeRequest.number == number))
    if found is None:
        abort(404)
    return found


def attachment_or_404(user: User, attachment_id: int) -> Attachment:
    """A file the user may open: on a request they may see, or in their own draft."""
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None:
        abort(404)
    if attachment.request is not None:
        if user.is_staff or attachment.request.organisation_id == user.organisation_id:
            return attachment
    elif attachment.draft is not None and attachment.draft.user_id == user.id:
        return attachment
    abort(404)
