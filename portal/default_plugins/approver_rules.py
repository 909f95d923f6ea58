"""The built-in "who acts" rules: a named user, a role, a group, the account approvers of
the requester's organisation, and a person named in a form field."""

from __future__ import annotations

from sqlalchemy import func, select

from portal import hookimpl
from portal.accounts.models import User
from portal.approvals.models import Group, group_members, organisation_approvers
from portal.approvals.people import ApproverRule
from portal.approvals.rules import BUILT_IN_SPECS
from portal.extensions import db


def _active(query):  # noqa: ANN001, ANN202
    return set(db.session.scalars(query.where(User.active.is_(True))))


def by_email(params, change) -> set[int]:  # noqa: ANN001
    emails = [params] if isinstance(params, str) else list(params)
    return _active(select(User.id).where(func.lower(User.email).in_([e.lower() for e in emails])))


def by_role(params, change) -> set[int]:  # noqa: ANN001
    return _active(select(User.id).where(User.role == params))


def by_group(params, change) -> set[int]:  # noqa: ANN001
    return _active(
        select(User.id)
        .join(group_members, group_members.c.user_id == User.id)
        .join(Group, Group.id == group_members.c.group_id)
        .where(Group.name == params)
    )


def by_organisation(params, change) -> set[int]:  # noqa: ANN001
    return _active(
        select(User.id)
        .join(organisation_approvers, organisation_approvers.c.user_id == User.id)
        .where(organisation_approvers.c.organisation_id == change.organisation_id)
    )


def by_field(params, change) -> set[int]:  # noqa: ANN001
    """The person whose e-mail address the requester gave in that field."""
    answer = (change.answers or {}).get(params)
    if not isinstance(answer, str) or "@" not in answer:
        return set()
    return by_email(answer, change)


def the_requester(params, change) -> set[int]:  # noqa: ANN001
    return {change.requester_id}


LOOK_UPS = {
    "user": by_email,
    "role": by_role,
    "group": by_group,
    "org_approvers": by_organisation,
    "field": by_field,
    "requester": the_requester,
}


@hookimpl(trylast=True)
def register_approver_rules(register) -> None:  # noqa: ANN001
    for name, people in LOOK_UPS.items():
        register(ApproverRule(BUILT_IN_SPECS[name], people))
