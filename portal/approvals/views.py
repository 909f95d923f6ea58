"""What the request page and the inbox show of the approval chain, put together for the
templates: the steps and their decisions, who holds the request now, what the viewer may
do, what changed between revisions, and the timeline from the trace."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import g
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.accounts.models import User
from portal.approvals import engine
from portal.approvals.definition import ChainDef, StepDef
from portal.approvals.models import RequestRevision
from portal.approvals.service import acting_for, state_of, step_label
from portal.audit.trace import entries_for
from portal.database import utcnow
from portal.extensions import db
from portal.forms.service import chain_of, form_def_of
from portal.requests.models import ChangeRequest

EVENT_LABELS = {
    "submitted": _l("Submitted"),
    "revised": _l("Revised and sent again"),
    "approved": _l("Approved"),
    "rejected": _l("Rejected"),
    "sent_back": _l("Sent back for changes"),
    "confirmed": _l("Confirmed"),
    "declined": _l("Declined"),
    "done": _l("Marked done"),
    "feedback": _l("Gave feedback"),
    "commented": _l("Commented"),
    "reassigned": _l("Reassigned"),
    "escalated": _l("Escalated"),
    "deadline_missed": _l("Deadline missed"),
    "reminded": _l("Reminder sent"),
    "step_started": _l("Step started"),
    "step_blocked": _l("Step waiting for people"),
    "step_unblocked": _l("Step can go on"),
    "step_skipped": _l("Step skipped"),
    "step_completed": _l("Step finished"),
    "step_rejected": _l("Step rejected"),
    "step_declined": _l("Step declined"),
    "step_sent_back": _l("Step sent back"),
    "step_reopened": _l("Step reopened"),
    "step_cancelled": _l("Step cancelled"),
    "request_sent_back": _l("Sent back to the requester"),
    "completed": _l("Completed"),
    "closed_rejected": _l("Closed: rejected"),
    "closed_declined": _l("Closed: declined by the client"),
}

# Said right after someone acts, as whole sentences so every language can word them.
SAVED_MESSAGES = {
    "approved": _l("Your approval is saved."),
    "rejected": _l("Your rejection is saved."),
    "sent_back": _l("Sent back to the requester for changes."),
    "confirmed": _l("Your confirmation is saved."),
    "declined": _l("You declined the change."),
    "done": _l("Marked as done."),
    "feedback": _l("Thank you for your feedback."),
    "commented": _l("Your comment is saved."),
    "reassigned": _l("The step is reassigned."),
}

STEP_STATUS_LABELS = {
    "waiting": _l("Waiting"),
    "active": _l("Open"),
    "blocked": _l("Waiting for people"),
    "skipped": _l("Skipped"),
    "approved": _l("Approved"),
    "done": _l("Done"),
    "rejected": _l("Rejected"),
    "declined": _l("Declined"),
    "sent_back": _l("Sent back"),
    "cancelled": _l("Cancelled"),
}

KIND_LABELS = {
    "approval": _l("Approval"),
    "confirmation": _l("Client confirmation"),
    "task": _l("Task"),
    "feedback": _l("Feedback"),
}

VERB_LABELS = {
    "approve": _l("Approve"),
    "reject": _l("Reject"),
    "send_back": _l("Send back for changes"),
    "confirm": _l("Confirm"),
    "decline": _l("Decline"),
    "done": _l("Mark as done"),
    "feedback": _l("Send feedback"),
    "comment": _l("Add comment"),
}

IMPACT_LABELS = {"low": _l("Low"), "medium": _l("Medium"), "high": _l("High")}


def _names(ids) -> dict[int, User]:  # noqa: ANN001
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}


@dataclass
class StepView:
    step: StepDef
    state: engine.StepState
    label: str
    people: list[User]
    votes: list[dict]
    deadline: datetime | None
    tally: dict | None

    @property
    def status_label(self) -> str:
        return str(STEP_STATUS_LABELS.get(self.state.status, self.state.status))

    @property
    def kind_label(self) -> str:
        return str(KIND_LABELS.get(self.step.kind, self.step.kind))


@dataclass
class ActionView:
    """A step the viewer may act on now, and the verbs they have there."""

    step: StepView
    verbs: list[tuple[str, str]]
    on_behalf_of: User | None = None


@dataclass
class ChainView:
    chain: ChainDef
    state: engine.State
    steps: list[StepView]
    holders: list[User]
    actions: list[ActionView] = field(default_factory=list)
    may_revise: bool = False
    sent_back_comment: str | None = None


def chain_view(change: ChangeRequest, viewer: User) -> ChainView | None:
    chain = chain_of(change.form_version)
    state = state_of(change)
    if chain is None or state is None:
        return None
    locale = str(get_locale())
    default_language = form_def_of(change.form_version).default_language
    people = _names(
        {uid for st in state.steps.values() for uid in st.assignees}
        | {v.get("actor_id") for st in state.steps.values() for v in st.votes.values()}
        | {uid for st in state.steps.values() for uid in st.votes}
    )
    steps = []
    for step in chain.steps:
        st = state.steps[step.name]
        votes = [
            {
                "user": people.get(uid),
                "actor": people.get(vote.get("actor_id")),
                "verb": str(VERB_LABELS.get(vote["verb"], vote["verb"])),
                "at": _parse(vote.get("at")),
            }
            for uid, vote in st.votes.items()
        ]
        steps.append(
            StepView(
                step=step,
                state=st,
                label=step_label(step, locale, default_language),
                people=[people[uid] for uid in st.assignees if uid in people],
                votes=votes,
                deadline=_parse(st.deadline_at),
                tally=engine.tally(step, st) if step.kind == "approval" else None,
            )
        )
    open_pairs = engine.open_tasks(state)
    holders = list({uid: people[uid] for _s, uid in open_pairs if uid in people}.values())
    view = ChainView(chain, state, steps, holders)
    today = utcnow().date()
    for sv in steps:
        if sv.state.status != "active" or state.status != "in_progress":
            continue
        behalf = None
        if viewer.id not in sv.state.assignees or viewer.id in sv.state.votes:
            behalf_id = acting_for(viewer, sv.state, today)
            if behalf_id is None or behalf_id in sv.state.votes:
                continue
            behalf = _names([behalf_id]).get(behalf_id)
        if sv.step.kind == "approval" and viewer.id == change.requester_id:
            continue
        verbs = [(v, str(VERB_LABELS[v])) for v in engine.VERBS[sv.step.kind] if v != "comment"]
        view.actions.append(ActionView(sv, verbs, behalf))
    if state.status == "sent_back":
        view.may_revise = viewer.id == change.requester_id
        view.sent_back_comment = _last_comment(change, "sent_back")
    return view


def _parse(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _last_comment(change: ChangeRequest, kind: str) -> str | None:
    for entry in reversed(entries_for(change.id)):
        if entry.event == kind:
            return (entry.data or {}).get("comment")
    return None


@dataclass
class TimelineEntry:
    at: datetime
    label: str
    step_label: str | None
    actor: User | None
    on_behalf_of: User | None
    comment: str | None
    rating: int | None


# What the timeline shows: what people did and what became of the request. The step
# bookkeeping (started, completed...) stays in the trace, one click away for auditors.
TIMELINE_EVENTS = frozenset(
    {
        "submitted", "revised", "approved", "rejected", "sent_back", "confirmed", "declined",
        "done", "feedback", "commented", "reassigned", "escalated", "deadline_missed",
        "step_skipped", "step_blocked", "completed", "closed_rejected", "closed_declined",
    }
)  # fmt: skip


# Entries that follow from someone's action rather than being one: shown without a name.
SYSTEM_EVENTS = frozenset(
    {"step_skipped", "step_blocked", "completed", "closed_rejected", "closed_declined"}
)


def timeline(change: ChangeRequest) -> list[TimelineEntry]:
    chain = chain_of(change.form_version)
    locale = str(get_locale())
    default_language = form_def_of(change.form_version).default_language
    entries = [e for e in entries_for(change.id) if e.event in TIMELINE_EVENTS]
    people = _names({e.actor_id for e in entries} | {e.on_behalf_of_id for e in entries})
    rows = []
    for entry in entries:
        step = (
            chain.step(entry.step) if chain and entry.step and chain.has_step(entry.step) else None
        )
        data = entry.data or {}
        rows.append(
            TimelineEntry(
                at=entry.at,
                label=str(EVENT_LABELS.get(entry.event, entry.event)),
                step_label=step_label(step, locale, default_language) if step else None,
                actor=None if entry.event in SYSTEM_EVENTS else people.get(entry.actor_id),
                on_behalf_of=people.get(entry.on_behalf_of_id),
                comment=data.get("comment"),
                rating=(data.get("data") or {}).get("rating") or data.get("rating"),
            )
        )
    return rows


def staff_people() -> list[User]:
    """Approvers and admins a step can be handed to."""
    return list(
        db.session.scalars(
            select(User)
            .where(User.active.is_(True), User.role.in_(("approver", "admin")))
            .order_by(User.name)
        )
    )


def step_name(change: ChangeRequest, step: str) -> str:
    """A step's label in the viewer's language, for lists: looked up once per page for each
    form version and step, however many rows show it."""
    locale = str(get_locale())
    cache = g.setdefault("portal_step_names", {})
    key = (change.form_version_id, step, locale)
    found = cache.get(key)
    if found is None:
        chain = chain_of(change.form_version)
        if chain is None or not chain.has_step(step):
            found = step
        else:
            default_language = form_def_of(change.form_version).default_language
            found = step_label(chain.step(step), locale, default_language)
        cache[key] = found
    return found


def revisions(change: ChangeRequest) -> list[RequestRevision]:
    return list(
        db.session.scalars(
            select(RequestRevision)
            .where(RequestRevision.request_id == change.id)
            .order_by(RequestRevision.number)
        )
    )
