"""``portal demo``: a workspace to try the portal with, made in one command.

It brings the database up to date, publishes the shipped change-request form, and adds
an admin, two approvers, a client organisation with two client users, the change control
board (the group ``ccb``) and Acme's account approver. Then it submits sample requests and
walks each one through the seven-step chain as the demo users would in the browser,
through the same service, one committed step at a time, so that the workspace holds a
request at every step and each walk leaves its real trace.

Running it again changes nothing that is already there. A walk that was interrupted goes
on from where it stopped, unless someone has acted on the request meanwhile: then the
request is left as they left it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade
from sqlalchemy import func, insert, select

from portal.accounts.cli import find_or_create_organisation
from portal.accounts.models import Organisation, Role, User
from portal.accounts.passwords import hash_password
from portal.approvals import engine, service
from portal.approvals.models import Group, group_members, organisation_approvers
from portal.audit.trace import entries_for
from portal.extensions import db
from portal.forms.definition import parse_definition_text
from portal.forms.models import FormVersion
from portal.forms.service import form_def_of, publish
from portal.requests.models import ChangeRequest, RequestStatus
from portal.requests.numbering import next_number

DEMO_PASSWORD = "demo-password"
CHANGE_REQUEST_FORM = "change-request.yaml"

ADMIN = "admin@example.com"
APPROVER1 = "approver1@example.com"
APPROVER2 = "approver2@example.com"
CLIENT1 = "client1@example.com"
CLIENT2 = "client2@example.com"
ORGANISATION = "Acme Ltd"

PEOPLE = [
    (ADMIN, "Ada Admin", Role.ADMIN, None, "en", "Europe/Berlin"),
    (APPROVER1, "Bo Approver", Role.APPROVER, None, "en", "America/New_York"),
    (APPROVER2, "Chen Approver", Role.APPROVER, None, "zh_Hans", "Asia/Shanghai"),
    (CLIENT1, "Dana Client", Role.CLIENT, ORGANISATION, "en", "Europe/London"),
    (CLIENT2, "Eli Client", Role.CLIENT, ORGANISATION, "de", "Europe/Berlin"),
]

# The change control board of the shipped chain ({group: ccb}, two of its members decide).
GROUPS = [("ccb", "Change control board", [APPROVER1, APPROVER2, ADMIN])]
# Account approvers ({org_approvers: true}) per client organisation.
ACCOUNT_APPROVERS = [(ORGANISATION, [APPROVER1])]


@dataclass(frozen=True)
class Act:
    """One demo user's action on one step, as they would do it on the request page."""

    who: str
    step: str
    verb: str
    comment: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Sample:
    """A request a demo client submits, the walk it then takes, and where that leaves it:
    its status and the step it waits on (None once it is finished)."""

    requester: str
    answers: dict[str, Any]
    walk: tuple[Act, ...]
    status: RequestStatus
    step: str | None

    @property
    def title(self) -> str:
        return self.answers["title"]


LOW = {"impact_cost": "low", "impact_time": "low", "impact_resources": "low", "impact_risk": "low"}
MEDIUM = {
    "impact_cost": "medium",
    "impact_time": "medium",
    "impact_resources": "medium",
    "impact_risk": "medium",
}
HIGH = {"impact_cost": "high", "impact_time": "high", "impact_resources": "medium",
        "impact_risk": "medium"}  # fmt: skip

ANALYSED = Act(APPROVER1, "analysis", "done", "Assessed: content, impact and priority are clear.")
REVIEWED = Act(APPROVER2, "review", "approve", "Accepted; it fits this quarter's plan.")
CONFIRMED = Act(CLIENT1, "confirmation", "confirm", "Cost and date are fine for us.")
PLANNED = Act(APPROVER2, "plan_adjustment", "done", "Milestones and resources updated.")

# Oldest first: the list shows the newest on top.
SAMPLES = [
    Sample(
        CLIENT2,
        {
            "title": "Single sign-on with our Azure AD",
            "description": "All staff should sign in with their company account.",
            "reason": "security",
            "business_value": "high",
            "affected_systems": ["website", "crm"],
            "desired_date": "2027-02-01",
            **HIGH,
        },
        (
            ANALYSED,
            Act(APPROVER1, "ccb_review", "approve", "Worth it: fewer passwords, fewer tickets."),
            Act(ADMIN, "ccb_review", "approve", "Approved, with the rollout in two waves."),
            Act(CLIENT2, "confirmation", "confirm", "Agreed on cost and the February date."),
            PLANNED,
            Act(APPROVER1, "implementation", "done", "Live for all staff since Monday."),
            Act(CLIENT2, "feedback", "feedback", "Works well, thank you!", {"rating": 5}),
        ),
        RequestStatus.COMPLETED,
        None,
    ),
    Sample(
        CLIENT1,
        {
            "title": "Rebuild the website with a new framework",
            "description": "Our website feels dated; we would like it rebuilt from scratch.",
            "reason": "business",
            "business_value": "low",
            "affected_systems": ["website"],
            **HIGH,
        },
        (
            ANALYSED,
            Act(APPROVER2, "ccb_review", "approve", "Possible, if the budget allows."),
            Act(
                ADMIN,
                "ccb_review",
                "reject",
                "Rejected: the cost outweighs the value; a redesign of the home page is "
                "a better first step.",
            ),  # fmt: skip
        ),
        RequestStatus.REJECTED,
        None,
    ),
    Sample(
        CLIENT1,
        {
            "title": "Show the delivery status in the customer portal",
            "description": "Customers should see where their order is without calling us.",
            "reason": "business",
            "business_value": "high",
            "affected_systems": ["website", "erp"],
            **MEDIUM,
        },
        (ANALYSED, REVIEWED, CONFIRMED, PLANNED),
        RequestStatus.IN_PROGRESS,
        "implementation",
    ),
    Sample(
        CLIENT1,
        {
            "title": "Change the invoice footer address",
            "description": "We moved offices; the footer should show the new address.",
            "reason": "legal",
            "business_value": "low",
            "affected_systems": ["erp"],
            **LOW,
        },
        (ANALYSED, REVIEWED),
        RequestStatus.AWAITING_CONFIRMATION,
        "confirmation",
    ),
    Sample(
        CLIENT2,
        {
            "title": "A new field on the customer record",
            "description": "We need one more field on the customer record.",
            "reason": "business",
            "business_value": "medium",
            "affected_systems": ["crm"],
            **LOW,
        },
        (
            ANALYSED,
            Act(
                APPROVER1,
                "review",
                "send_back",
                "Which field exactly, and who fills it in? Please add its name, its type "
                "and an example value.",
            ),  # fmt: skip
        ),
        RequestStatus.SENT_BACK,
        "review",
    ),
    Sample(
        CLIENT2,
        {
            "title": "Move the ERP to a new data centre",
            "description": "Our contract with the current data centre ends next year.",
            "reason": "other",
            "reason_other": "Contract ends",
            "business_value": "high",
            "affected_systems": ["erp", "reporting"],
            "desired_date": "2027-06-30",
            **HIGH,
        },
        (ANALYSED, Act(APPROVER1, "ccb_review", "approve", "Needed; the timing is tight.")),
        RequestStatus.IN_REVIEW,
        "ccb_review",
    ),
    Sample(
        CLIENT1,
        {
            "title": "Add a CSV export to the monthly report",
            "description": "Finance needs the monthly report as CSV for their own tools.",
            "reason": "business",
            "business_value": "medium",
            "affected_systems": ["reporting"],
            **LOW,
        },
        (ANALYSED,),
        RequestStatus.IN_REVIEW,
        "review",
    ),
    Sample(
        CLIENT2,
        {
            "title": "A dark mode for the website",
            "description": "Several customers asked for a dark colour scheme.",
            "reason": "business",
            "business_value": "low",
            "affected_systems": ["website"],
            **LOW,
        },
        (),
        RequestStatus.IN_REVIEW,
        "analysis",
    ),
]


def shipped_form_text(filename: str) -> str:
    from importlib.resources import files

    return files("portal.forms.library").joinpath(filename).read_text(encoding="utf-8")


def _user(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email))


def make_demo() -> list[str]:
    """Create what is missing of the demo workspace; returns what was created."""
    created: list[str] = []
    version, new = publish(
        parse_definition_text(shipped_form_text(CHANGE_REQUEST_FORM), CHANGE_REQUEST_FORM)
    )
    if new:
        created.append(f"form {version.form.name} v{version.number}")
    for email, name, role, organisation, locale, zone in PEOPLE:
        if _user(email) is None:
            db.session.add(
                User(
                    email=email,
                    name=name,
                    role=role,
                    password_hash=hash_password(DEMO_PASSWORD),
                    organisation=find_or_create_organisation(organisation)
                    if organisation
                    else None,
                    locale=locale,
                    timezone=zone,
                )
            )
            created.append(f"user {email}")
    db.session.flush()
    created += _make_groups()
    created += _make_account_approvers()
    db.session.commit()  # the people who act must be there before a step starts
    for sample in SAMPLES:
        created += _walk_sample(sample, version.id)
    return created


def _make_groups() -> list[str]:
    created = []
    for name, title, emails in GROUPS:
        group = db.session.scalar(select(Group).where(Group.name == name))
        if group is None:
            group = Group(name=name, title=title)
            db.session.add(group)
            db.session.flush()
            created.append(f"group {name}")
        members = {user.id for user in group.members}
        for email in emails:
            user = _user(email)
            if user.id not in members:
                db.session.execute(insert(group_members).values(group_id=group.id, user_id=user.id))
                created.append(f"{email} in group {name}")
    return created


def _make_account_approvers() -> list[str]:
    created = []
    for organisation, emails in ACCOUNT_APPROVERS:
        org = db.session.scalar(select(Organisation).where(Organisation.name == organisation))
        current = set(
            db.session.scalars(
                select(organisation_approvers.c.user_id).where(
                    organisation_approvers.c.organisation_id == org.id
                )
            )
        )
        for email in emails:
            user = _user(email)
            if user.id not in current:
                db.session.execute(
                    insert(organisation_approvers).values(organisation_id=org.id, user_id=user.id)
                )
                created.append(f"{email} approves for {organisation}")
    return created


def _walk_sample(sample: Sample, version_id: int) -> list[str]:
    """Submit the sample request if it is not there yet, then take the steps of its walk
    that are still to take; each step is committed on its own, as in the browser."""
    created = []
    requester = _user(sample.requester)
    change = find_sample(sample)
    if change is None:
        version = db.session.get(FormVersion, version_id)
        change = ChangeRequest(
            number=next_number(form_def_of(version).number_prefix),
            form_version=version,
            organisation_id=requester.organisation_id,
            requester=requester,
            title=sample.title,
            answers=dict(sample.answers),
        )
        db.session.add(change)
        db.session.flush()
        service.start(change, requester)
        db.session.commit()
        created.append(f"request {sample.title!r}")
    elif change.chain_state is None:
        return created  # made before requests had a chain: leave it as it is
    for act in _still_to_do(change.id, sample.walk):
        actor = _user(act.who)
        change = db.session.get(ChangeRequest, change.id)
        try:
            service.perform(
                change.id,
                actor,
                step=act.step,
                verb=act.verb,
                revision=change.revision,
                comment=act.comment,
                data=act.data,
            )
        except engine.ActionRefused as refused:
            db.session.rollback()
            raise click.ClickException(
                f"the demo request {sample.title!r} could not go on ({act.who}, {act.step}, "
                f"{act.verb}): {refused.message()}"
            ) from None
        db.session.commit()
        created.append(f"{act.step} {act.verb} on {sample.title!r}")
    return created


def find_sample(sample: Sample) -> ChangeRequest | None:
    """The request made for ``sample``: the one of its requester with its title."""
    return db.session.scalar(
        select(ChangeRequest)
        .join(User, User.id == ChangeRequest.requester_id)
        .where(func.lower(User.email) == sample.requester, ChangeRequest.title == sample.title)
        .order_by(ChangeRequest.id)
        .limit(1)
    )


def _still_to_do(change_id: int, walk: tuple[Act, ...]) -> tuple[Act, ...]:
    """The acts of the walk after those the trace already holds. When the trace holds
    anything else (someone acted on the request in the portal), nothing is left to do."""
    emails = dict(db.session.execute(select(User.id, User.email)).all())
    actions = set(engine.ACTION_EVENTS.values())
    done = [
        (emails.get(entry.actor_id), entry.step, entry.event)
        for entry in entries_for(change_id)
        if entry.event in actions
    ]
    planned = [(act.who, act.step, engine.ACTION_EVENTS[act.verb]) for act in walk]
    if done != planned[: len(done)]:
        return ()
    return walk[len(done) :]


def where_it_stands(change: ChangeRequest) -> str | None:
    """The step a request waits on: the open one, or the one that sent it back."""
    state = service.state_of(change)
    if state is None or state.finished:
        return None
    if state.status == "sent_back":
        return state.sent_back_step
    open_steps = [n for n, st in state.steps.items() if st.status in ("active", "blocked")]
    return ", ".join(open_steps) or None


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
    click.echo(
        "The change control board (ccb): "
        + ", ".join(GROUPS[0][2])
        + f"; {APPROVER1} approves for {ORGANISATION}."
    )
    click.echo("Sample requests:")
    for sample in SAMPLES:
        change = find_sample(sample)
        if change is not None:
            step = where_it_stands(change)
            at = f" at {step}" if step else ""
            click.echo(f"  {change.number}  {change.status}{at}: {change.title}")
    click.echo("Start the portal with `portal run`, then open http://127.0.0.1:5000")
