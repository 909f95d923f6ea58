"""The approval chain at work on stored requests: the glue between the pure engine and
the database.

Every change of a request's chain happens here, in one transaction with everything that
follows from it: the new state on the request, its status, the inbox tasks, deadlines,
the trace entries and the notifications. Decisions on one request take turns: the first
statement of an action takes the request row's lock (an UPDATE), so of two approvers who
press the button at the same moment one decides and the other is told it is decided.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app, request
from sqlalchemy import bindparam, insert, select, update

from portal.accounts.models import User
from portal.approvals import engine
from portal.approvals.calendar import WorkingCalendar, add_working_hours, due_after
from portal.approvals.definition import ChainDef, Duration, StepDef
from portal.approvals.impact import assess
from portal.approvals.models import Delegation, RequestRevision, Task
from portal.approvals.people import resolver_for
from portal.audit.trace import record, record_many
from portal.database import utcnow
from portal.extensions import db
from portal.forms.definition import N_, localize
from portal.forms.entry import request_title
from portal.forms.service import chain_of, form_def_of
from portal.integrations import outbox
from portal.notifications.service import tell_about
from portal.requests.models import ChangeRequest, RequestStatus

REFUSAL_STATUS = {
    "closed": 409,
    "stale": 409,
    "not_allowed": 403,
    "own_request": 403,
    "unknown_step": 404,
    "invalid": 400,
}


# -- reading ----------------------------------------------------------------------------------


def state_of(change: ChangeRequest) -> engine.State | None:
    return engine.State.from_json(change.chain_state) if change.chain_state else None


def context_for(change: ChangeRequest, chain: ChainDef, now: datetime | None = None):  # noqa: ANN201
    return engine.Context(
        requester_id=change.requester_id,
        answers=change.answers,
        resolve=resolver_for(change),
        assessment=assess(chain.impact, change.answers),
        revision=change.revision,
        now=now or utcnow(),
    )


def status_for(state: engine.State, chain: ChainDef) -> RequestStatus:
    """The request's status as people read it, from where its chain stands."""
    if state.status != "in_progress":
        return {
            "sent_back": RequestStatus.SENT_BACK,
            "completed": RequestStatus.COMPLETED,
            "rejected": RequestStatus.REJECTED,
            "declined": RequestStatus.DECLINED,
        }[state.status]
    active = [chain.step(n) for n, st in state.steps.items() if st.status in ("active", "blocked")]
    kinds = {step.kind for step in active}
    if "confirmation" in kinds:
        return RequestStatus.AWAITING_CONFIRMATION
    if "feedback" in kinds:
        return RequestStatus.AWAITING_FEEDBACK
    if "approval" in kinds:
        return RequestStatus.IN_REVIEW
    decided = any(
        chain.step(n).kind in ("approval", "confirmation") and st.status in ("approved", "done")
        for n, st in state.steps.items()
    )
    return RequestStatus.IN_PROGRESS if decided else RequestStatus.IN_REVIEW


def step_label(step: StepDef, locale: str = "en", default_language: str = "en") -> str:
    return localize(step.label, locale, default_language) or step.name.replace("_", " ")


def acting_for(user: User, step: engine.StepState, today: date) -> int | None:
    """Whom ``user`` acts for on this step: themselves (None), or an assignee who has
    delegated to them for today; None too when neither applies (the engine then refuses)."""
    if user.id in step.assignees:
        return None
    delegations = db.session.scalars(
        select(Delegation).where(
            Delegation.delegate_id == user.id,
            Delegation.starts_on <= today,
            Delegation.ends_on >= today,
            Delegation.user_id.in_(step.assignees or [-1]),
        )
    ).all()
    pending = [d.user_id for d in delegations if d.user_id not in step.votes]
    if pending:
        return pending[0]
    return delegations[0].user_id if delegations else None


# -- changing ---------------------------------------------------------------------------------


@dataclass
class Applied:
    change: ChangeRequest
    events: list[engine.Event]


def start(change: ChangeRequest, actor: User) -> Applied | None:
    """The request was just submitted (and flushed): start its chain, if its form has one."""
    chain = chain_of(change.form_version)
    # The chain starts first: finding its people queries the database, which would flush a
    # revision added before it on its own.
    outcome = engine.start(chain, context_for(change, chain)) if chain is not None else None
    db.session.add(
        RequestRevision(
            request_id=change.id, number=1, answers=change.answers, created_by_id=actor.id
        )
    )
    if chain is None:
        record(event="submitted", request_id=change.id, actor_id=actor.id, ip_address=_ip(),
               after={"status": change.status, "revision": 1})  # fmt: skip
        outbox.record_engine_events(change, [engine.Event("submitted", actor_id=actor.id)])
        return None
    return _apply(change, chain, outcome, new_request=True)


def lock(change_id: int) -> ChangeRequest | None:
    """Take the request's row for this transaction and read it afresh.

    The UPDATE comes first on purpose: it waits for whoever holds the row (PostgreSQL's row
    lock, SQLite's write lock) instead of reading a state that is about to change.
    """
    db.session.execute(_TAKE_ROW, {"change_id": change_id})
    return db.session.get(ChangeRequest, change_id, populate_existing=True)


# Built once: every decision runs it.
_requests = ChangeRequest.__table__
_TAKE_ROW = (
    update(_requests)
    .where(_requests.c.id == bindparam("change_id"))
    .values(state_version=_requests.c.state_version + 1)
)


def perform(
    change_id: int,
    actor: User,
    *,
    step: str,
    verb: str,
    revision: int,
    comment: str = "",
    data: Mapping[str, Any] | None = None,
) -> Applied:
    """One person's action on one step; raises ``engine.ActionRefused`` with nothing changed.
    The caller commits (or rolls back on a refusal)."""
    change = lock(change_id)
    chain = chain_of(change.form_version)
    state = state_of(change)
    if chain is None or state is None:
        raise engine.ActionRefused("invalid", N_("this request has no approval chain"))
    step_state = state.steps.get(step)
    on_behalf = acting_for(actor, step_state, utcnow().date()) if step_state else None
    action = engine.Action(
        step=step,
        verb=verb,
        actor_id=actor.id,
        on_behalf_of_id=on_behalf,
        revision=revision,
        comment=comment,
        data=dict(data or {}),
    )
    outcome = engine.act(chain, state, action, context_for(change, chain))
    return _apply(change, chain, outcome, comment=comment)


def revise(change_id: int, actor: User, answers: dict[str, Any]) -> Applied:
    """The requester sends a sent-back request again with new answers: a new revision."""
    change = lock(change_id)
    chain = chain_of(change.form_version)
    state = state_of(change)
    if chain is None or state is None or state.status != "sent_back":
        raise engine.ActionRefused("closed", N_("the request is not waiting for changes"))
    if actor.id != change.requester_id:
        raise engine.ActionRefused("not_allowed", N_("only the requester revises a request"))
    before = change.answers
    change.revision += 1
    change.answers = answers
    change.title = request_title(form_def_of(change.form_version), answers)
    db.session.add(
        RequestRevision(
            request_id=change.id, number=change.revision, answers=answers, created_by_id=actor.id
        )
    )
    changed = sorted(k for k in set(before) | set(answers) if before.get(k) != answers.get(k))
    outcome = engine.resubmit(chain, state, context_for(change, chain))
    # The trace of the revision says what changed, answer by answer.
    outcome.events = [
        replace(
            event,
            actor_id=actor.id,
            before={**(event.before or {}), "answers": {k: before.get(k) for k in changed}},
            after={**(event.after or {}), "answers": {k: answers.get(k) for k in changed}},
        )
        if event.kind == "revised"
        else event
        for event in outcome.events
    ]
    return _apply(change, chain, outcome)


def reassign(
    change_id: int, admin: User, *, step: str, from_user_id: int | None, to_user_id: int
) -> Applied:
    """An admin hands one person's part of an open step to another (or adds someone)."""
    if not admin.is_admin:
        raise engine.ActionRefused("not_allowed", N_("only an admin reassigns a step"))
    change = lock(change_id)
    chain = chain_of(change.form_version)
    state = state_of(change)
    if chain is None or state is None:
        raise engine.ActionRefused("invalid", N_("this request has no approval chain"))
    to_user = db.session.get(User, to_user_id)
    if to_user is None or not to_user.active or not to_user.is_staff:
        raise engine.ActionRefused("invalid", N_("choose an active approver or admin"))
    outcome = engine.reassign(
        chain, state, step, from_user_id, to_user_id, context_for(change, chain), admin.id
    )
    return _apply(change, chain, outcome)


def escalate_overdue(change_id: int, step: str) -> Applied | None:
    """A step's deadline has passed: say so in the trace, and escalate when the chain says to."""
    change = lock(change_id)
    chain = chain_of(change.form_version)
    state = state_of(change)
    if chain is None or state is None or step not in state.steps:
        return None
    st = state.steps[step]
    if state.finished or st.status not in ("active", "blocked") or st.escalated_at:
        return None
    record(event="deadline_missed", request_id=change.id, step=step, ip_address=None,
           data={"deadline_at": st.deadline_at})  # fmt: skip
    if chain.step(step).escalate_to is None:
        st.escalated_at = utcnow().isoformat()
        change.chain_state = state.to_json()
        return Applied(change, [])
    try:
        outcome = engine.escalate(chain, state, step, context_for(change, chain))
    except engine.ActionRefused:
        return None
    return _apply(change, chain, outcome)


def _ip() -> str | None:
    try:
        return request.remote_addr
    except RuntimeError:  # outside a request: the scheduler
        return None


def _apply(
    change: ChangeRequest,
    chain: ChainDef,
    outcome: engine.Outcome,
    comment: str = "",
    *,
    new_request: bool = False,
) -> Applied:
    """Store the outcome with everything that follows from it, in the current transaction.
    ``new_request``: the request was submitted in this transaction, so it has no tasks yet."""
    state = outcome.state
    now = utcnow()
    _set_deadlines(change, chain, state, now)
    change.chain_state = state.to_json()
    change.status = status_for(state, chain).value
    assessment = assess(chain.impact, change.answers)
    change.impact, change.priority = assessment.overall, assessment.priority
    change.updated_at = now
    if state.finished and change.closed_at is None:
        change.closed_at = now
    new_tasks = _sync_tasks(change, chain, state, new_request=new_request)
    _tell(change, chain, state, outcome.events, new_tasks, comment)
    # The trace last, all entries in one batch: the trace head's lock, which every writer
    # of the portal waits for, is then held only from here to the commit.
    ip = _ip()
    entries = []
    for event in outcome.events:
        data = dict(event.data)
        if comment and event.kind in engine.ACTION_EVENTS.values():
            data.setdefault("comment", comment)
        entries.append(
            {
                "event": event.kind,
                "request_id": change.id,
                "step": event.step,
                "actor_id": event.actor_id,
                "on_behalf_of_id": event.on_behalf_of_id,
                "ip_address": ip,
                "before": event.before,
                "after": event.after,
                "data": data or None,
                "at": now,
            }
        )
    outbox.record_engine_events(change, outcome.events, comment)
    record_many(entries)
    return Applied(change, outcome.events)


def calendar_for(user: User | None) -> WorkingCalendar:
    """The working calendar a person's deadlines are counted in: their own, else their
    organisation's, else the portal's default (Monday to Friday, 09:00 to 17:00, in their
    zone, with the public holidays of PORTAL_HOLIDAY_COUNTRY when set)."""
    from portal.approvals.models import Calendar

    organisation = user.organisation if user else None
    calendar_id = (user.calendar_id if user else None) or (
        organisation.calendar_id if organisation else None
    )
    if calendar_id:
        found = db.session.get(Calendar, calendar_id)
        if found is not None:
            return found.working_calendar()
    zone = (user.timezone if user else None) or (organisation.timezone if organisation else None)
    config = current_app.config
    return WorkingCalendar(
        zone=zone or config["BABEL_DEFAULT_TIMEZONE"],
        country=config.get("HOLIDAY_COUNTRY"),
        subdivision=config.get("HOLIDAY_SUBDIVISION"),
    )


def _due(start: datetime, duration: Duration, calendar: WorkingCalendar) -> datetime:
    return due_after(start, duration.amount, duration.unit, duration.working, calendar)


def _reminder(start: datetime, step: StepDef, due: datetime, calendar: WorkingCalendar):  # noqa: ANN202
    """When to remind: ``remind_before`` ahead of the deadline, counted in working time when
    the deadline is."""
    if step.remind_before is None:
        return None
    if step.deadline.working and step.remind_before.working:
        per_day = calendar.hours_per_day()
        hours = step.deadline.hours(per_day) - step.remind_before.hours(per_day)
        return add_working_hours(start, max(hours, 0), calendar)
    return due - timedelta(hours=step.remind_before.hours())


def _set_deadlines(change, chain, state, now) -> None:  # noqa: ANN001
    """A step that has just started gets its deadline (counted from now, in the calendar of
    the portal; each task also gets one in its assignee's own calendar)."""
    for name, st in state.steps.items():
        step = chain.step(name)
        if step.deadline is None or st.status not in ("active", "blocked") or st.deadline_at:
            continue
        st.deadline_at = _due(now, step.deadline, calendar_for(None)).isoformat()


def _sync_tasks(change, chain, state, *, new_request: bool = False) -> list[Task]:  # noqa: ANN001
    """Open a task for each (step, person) who must act now; close the others.

    Returns the tasks that have just opened (new, or open again after a revision): their
    people are the ones to tell. New tasks are written at once and are not held by the
    session (see ``_insert_tasks``).
    """
    wanted = set(engine.open_tasks(state))
    tasks = (
        []
        if new_request
        else db.session.scalars(select(Task).where(Task.request_id == change.id)).all()
    )
    existing = {(t.step, t.user_id): t for t in tasks}
    now = utcnow()
    created = []
    for key, task in existing.items():
        if key in wanted and not task.open:  # its step opened again: so does its clock
            _start_clock(task, chain.step(task.step), task.user, now)
            created.append(task)
        task.open = key in wanted
    new = sorted(wanted - set(existing))
    with db.session.no_autoflush:  # the people are not what this transaction changes
        people = {  # one query for everyone who gets a task, not one each
            user.id: user
            for user in db.session.scalars(
                select(User).where(User.id.in_({uid for _s, uid in new}))
            )
        }
    opened = []
    for step_name, user_id in new:
        step = chain.step(step_name)
        task = Task(request_id=change.id, step=step_name, kind=step.kind, user_id=user_id)
        if user_id in people:  # kept with the task, so telling them needs no query
            task.user = people[user_id]
        _start_clock(task, step, people.get(user_id), now)
        opened.append(task)
    _insert_tasks(opened, now)
    return created + opened


def _insert_tasks(tasks: list[Task], now: datetime) -> None:
    """Write new tasks in one statement. They are written as they stand, not added to the
    session: nothing in this transaction changes them again, and the unit of work would cost
    more than the rest of opening them."""
    if not tasks:
        return
    db.session.execute(
        insert(Task.__table__),
        [
            {
                "request_id": t.request_id,
                "step": t.step,
                "kind": t.kind,
                "user_id": t.user_id,
                "open": True,
                "created_at": now,
                "due_at": t.due_at,
                "remind_at": t.remind_at,
                "reminded_at": None,
                "escalated_at": None,
            }
            for t in tasks
        ],
    )


def _start_clock(task: Task, step: StepDef, user: User | None, now: datetime) -> None:
    """The task's deadline and reminder, from ``now`` in its assignee's calendar; not yet
    reminded or escalated."""
    task.due_at = task.remind_at = task.reminded_at = task.escalated_at = None
    if step.deadline is not None:
        calendar = calendar_for(user)
        task.due_at = _due(now, step.deadline, calendar)
        task.remind_at = _reminder(now, step, task.due_at, calendar)


def _tell(change, chain, state, events, new_tasks, comment) -> None:  # noqa: ANN001
    """The next people to act are told; the requester hears when it comes back to them.

    Everyone told the same thing (same kind, step and deadline) gets one message, and all
    messages are written together: one look-up of the people and two statements, however
    many they are.
    """
    told: dict[str, tuple[str, dict, list[int]]] = {}

    def tell(user_id: int, kind: str, **params: Any) -> None:
        key = json.dumps([kind, params], sort_keys=True, default=str)
        told.setdefault(key, (kind, params, []))[2].append(user_id)

    kinds = {event.kind for event in events}
    for task in new_tasks:
        if task.kind in ("confirmation", "feedback"):
            continue  # told below, as the requester
        step = chain.step(task.step)
        if "escalated" in kinds:
            tell(task.user_id, "escalated", step_label=dict(step.label) or step.name)
        else:
            tell(task.user_id, "action_needed", step_label=dict(step.label) or step.name,
                 deadline_at=task.due_at)  # fmt: skip
    requester = change.requester_id
    for task in new_tasks:
        if task.kind in ("confirmation", "feedback") and task.user_id == change.requester_id:
            step = chain.step(task.step)
            tell(requester, "action_needed", step_label=dict(step.label) or step.name,
                 deadline_at=task.due_at)  # fmt: skip
    if "request_sent_back" in kinds:
        step = chain.step(state.sent_back_step) if state.sent_back_step else None
        label = (dict(step.label) or step.name) if step else ""
        tell(requester, "sent_back", step_label=label, comment=comment)
    if "completed" in kinds:
        tell(requester, "completed")
    for kind, outcome in (("closed_rejected", "rejected"), ("closed_declined", "declined")):
        if kind in kinds:
            step = next((chain.step(e.step) for e in events if e.kind == kind and e.step), None)
            tell(requester, "decided", outcome=outcome,
                 step_label=(dict(step.label) or step.name) if step else "")  # fmt: skip
    tell_about(change, [(user_ids, kind, params) for kind, params, user_ids in told.values()])
