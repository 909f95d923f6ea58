"""``portal demo``: a workspace to try the portal with, made in one command.

It brings the database up to date, publishes the shipped change-request form, and adds
an admin, two approvers, a client organisation with two client users, and a few requests.
Running it again changes nothing that is already there.
"""

from __future__ import annotations

from datetime import timedelta

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade
from sqlalchemy import func, select

from portal.accounts.cli import find_or_create_organisation
from portal.accounts.models import Role, User
from portal.accounts.passwords import hash_password
from portal.database import utcnow
from portal.extensions import db
from portal.forms.definition import parse_definition_text
from portal.forms.service import publish
from portal.requests.models import ChangeRequest, RequestStatus
from portal.requests.numbering import next_number

DEMO_PASSWORD = "demo-password"
CHANGE_REQUEST_FORM = "change-request.yaml"

PEOPLE = [
    ("admin@example.com", "Ada Admin", Role.ADMIN, None, "en", "Europe/Berlin"),
    ("approver1@example.com", "Bo Approver", Role.APPROVER, None, "en", "America/New_York"),
    ("approver2@example.com", "Chen Approver", Role.APPROVER, None, "zh_Hans", "Asia/Shanghai"),
    ("client1@example.com", "Dana Client", Role.CLIENT, "Acme Ltd", "en", "Europe/London"),
    ("client2@example.com", "Eli Client", Role.CLIENT, "Acme Ltd", "de", "Europe/Berlin"),
]

SAMPLE_REQUESTS = [
    ("client1@example.com", RequestStatus.SUBMITTED, 1, {
        "title": "Add a CSV export to the monthly report",
        "description": "Finance needs the monthly report as CSV for their own tools.",
        "reason": "business",
        "business_value": "medium",
        "affected_systems": ["reporting"],
        "impact_cost": "low", "impact_time": "low", "impact_resources": "low", "impact_risk": "low",
    }),
    ("client2@example.com", RequestStatus.IN_REVIEW, 4, {
        "title": "Single sign-on with our Azure AD",
        "description": "All staff should sign in with their company account.",
        "reason": "security",
        "business_value": "high",
        "affected_systems": ["website", "crm"],
        "desired_date": "2027-02-01",
        "impact_cost": "medium", "impact_time": "medium",
        "impact_resources": "medium", "impact_risk": "medium",
    }),
    ("client1@example.com", RequestStatus.COMPLETED, 21, {
        "title": "Change the invoice footer address",
        "description": "We moved offices; the footer should show the new address.",
        "reason": "legal",
        "business_value": "low",
        "affected_systems": ["erp"],
        "impact_cost": "low", "impact_time": "low", "impact_resources": "low", "impact_risk": "low",
    }),
]  # fmt: skip


def shipped_form_text(filename: str) -> str:
    from importlib.resources import files

    return files("portal.forms.library").joinpath(filename).read_text(encoding="utf-8")


def make_demo() -> list[str]:
    """Create what is missing of the demo workspace; returns what was created."""
    created: list[str] = []
    version, new = publish(
        parse_definition_text(shipped_form_text(CHANGE_REQUEST_FORM), CHANGE_REQUEST_FORM)
    )
    if new:
        created.append(f"form {version.form.name} v{version.number}")
    users = {}
    for email, name, role, organisation, locale, zone in PEOPLE:
        user = db.session.scalar(select(User).where(func.lower(User.email) == email))
        if user is None:
            user = User(
                email=email,
                name=name,
                role=role,
                password_hash=hash_password(DEMO_PASSWORD),
                organisation=find_or_create_organisation(organisation) if organisation else None,
                locale=locale,
                timezone=zone,
            )
            db.session.add(user)
            created.append(f"user {email}")
        users[email] = user
    db.session.flush()
    if db.session.scalar(select(func.count(ChangeRequest.id))) == 0:
        for email, status, days_ago, answers in SAMPLE_REQUESTS:
            requester = users[email]
            moment = utcnow() - timedelta(days=days_ago)
            db.session.add(
                ChangeRequest(
                    number=next_number("CR"),
                    form_version=version,
                    organisation_id=requester.organisation_id,
                    requester=requester,
                    title=answers["title"],
                    answers=answers,
                    status=status.value,
                    submitted_at=moment,
                    updated_at=moment,
                )
            )
            created.append(f"request {answers['title']!r}")
    db.session.commit()
    return created


@click.command("demo")
@with_appcontext
def demo_command() -> None:
    """Bring the database up to date and fill it with a demo workspace."""
    upgrade()
    created = make_demo()
    click.echo(
        "Demo workspace ready"
        + (f" ({len(created)} things added)." if created else " (nothing new).")
    )
    click.echo(f"Database: {current_app.config['SQLALCHEMY_DATABASE_URI']}")
    click.echo(f"Sign in with any of these (password: {DEMO_PASSWORD}):")
    for email, _name, role, organisation, _locale, _zone in PEOPLE:
        where = f", {organisation}" if organisation else ""
        click.echo(f"  {email:<24} {role.value}{where}")
    click.echo("Start the portal with `portal run`, then open http://127.0.0.1:5000")
