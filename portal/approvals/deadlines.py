"""Deadlines at work: a reminder before a step's deadline, escalation after it.

Run by the scheduler (the ``deadlines`` job) every minute, perhaps in several processes at
once. Each reminder and each escalation is a transaction of its own that begins the way
every decision on a request begins, by taking the request's row (``service.lock``): the
scheduler and an approver who acts at that moment then take their locks in the same order
and never deadlock, and one waits for the other. Inside, a guarded UPDATE claims the task
rows (``reminded_at`` or ``escalated_at`` still empty): the caller whose UPDATE changed a
row does the work, any other finds it done and leaves it. A task tells the inbox its
deadline, so it is what is read here; a blocked step has no task (nobody can act on it,
which is what escalation is for), so those steps are found in the chain state.

``now`` is the scheduler's clock (``portal.database.utcnow``); tests pass a fixed one.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import func, select, update

from portal.approvals import engine, service
from portal.approvals.models import Task
from portal.audit.trace import record
from portal.database import utcnow
from portal.extensions import db
from portal.forms.service import chain_of
from portal.notifications.service import notify
from portal.requests.models import ChangeRequest

log = logging.getLogger(__name__)


def run_deadlines(now: datetime | None = None) -> tuple[int, int]:
    """The scheduled job: send the reminders that are due, then escalate what is overdue."""
    now = now or utcnow()
    reminded, escalated = send_reminders(now), escalate_missed(now)
    if reminded or escalated:
        log.info("deadlines: %s reminders sent, %s missed deadlines handled", reminded, escalated)
    return reminded, escalated


def send_reminders(now: datetime | None = None) -> int:
    """Remind each person whose open task has reached its ``remind_at``, once; return how
    many were reminded. Each reminder is a notification and a "reminded" trace entry."""
    now = now or utcnow()
    due = db.session.execute(
        select(Task.id, Task.request_id)
        .where(Task.open.is_(True), Task.remind_at <= now, Task.reminded_at.is_(None))
        .order_by(Task.remind_at, Task.id)
    ).all()
    db.session.commit()  # end the read: each reminder is a transaction of its own
    sent = 0
    for task_id, request_id in due:
        sent += _each(_remind, task_id, request_id, now)
    return sent


def escalate_missed(now: datetime | None = None) -> int:
    """Handle each open step whose deadline has passed, once: "deadline_missed" in the
    trace, and the step's ``escalate_to`` people added to it when it has any (see
    ``service.escalate_overdue``). Returns how many steps were handled; a step the engine
    refuses to escalate, or one on a finished request, is left quietly."""
    now = now or utcnow()
    overdue = db.session.execute(
        select(Task.request_id, Task.step)
        .where(Task.open.is_(True), Task.due_at <= now, Task.escalated_at.is_(None))
        .group_by(Task.request_id, Task.step)
        .order_by(func.min(Task.due_at), Task.request_id, Task.step)
    ).all()
    blocked = _blocked_overdue(now)
    db.session.commit()  # end the reads: each escalation is a transaction of its own
    handled = 0
    for request_id, step in overdue:
        handled += _each(_escalate_step, request_id, step, now)
    for request_id, step in blocked:
        handled += _each(_escalate_blocked, request_id, step)
    return handled


# -- one item, in one transaction ----------------------------------------------------------------


def _each(work, *args) -> int:  # noqa: ANN001
    """Run one item's work and commit it (1), or roll it back when it did nothing or
    failed (0). A failing item is logged and never stops the others."""
    try:
        done = work(*args)
    except Exception:
        db.session.rollback()
        log.exception("deadlines: %s%r failed; it is tried again on the next run", work.__name__,
                      args)  # fmt: skip
        return 0
    if done:
        db.session.commit()
        return 1
    db.session.rollback()
    return 0


def _remind(task_id: int, request_id: int, now: datetime) -> bool:
    change = service.lock(request_id)
    claimed = db.session.execute(
        update(Task)
        .where(
            Task.id == task_id,
            Task.reminded_at.is_(None),
            Task.open.is_(True),
            Task.remind_at <= now,
        )
        .values(reminded_at=now)
        .execution_options(synchronize_session=False)
    )
    if change is None or claimed.rowcount != 1:
        return False  # another worker reminded them, or the task closed meanwhile
    task = db.session.get(Task, task_id, populate_existing=True)
    notify([task.user_id], "reminder", change, step_label=_label(change, task.step),
           deadline_at=task.due_at)  # fmt: skip
    record(
        event="reminded",
        request_id=change.id,
        step=task.step,
        data={"user_id": task.user_id, "deadline_at": _iso(task.due_at)},
    )
    return True


def _escalate_step(request_id: int, step: str, now: datetime) -> bool:
    """Claim the step's overdue open tasks, then let the service escalate it. The claim is
    kept even when the service leaves the step (a refusal, a finished request), so that the
    next run does not try again."""
    if service.lock(request_id) is None:
        return False
    claimed = db.session.execute(
        update(Task)
        .where(
            Task.request_id == request_id,
            Task.step == step,
            Task.open.is_(True),
            Task.escalated_at.is_(None),
            Task.due_at <= now,
        )
        .values(escalated_at=now)
        .execution_options(synchronize_session=False)
    )
    if not claimed.rowcount:
        return False  # another worker handled it, or it was decided meanwhile
    if service.escalate_overdue(request_id, step) is None:
        db.session.commit()  # keep the claim; nothing else to count
        return False
    return True


def _escalate_blocked(request_id: int, step: str) -> bool:
    """A blocked step has no task to claim: the request's row, taken by the service, and the
    step's ``escalated_at`` in the chain state, checked under it, are the claim."""
    return service.escalate_overdue(request_id, step) is not None


def _blocked_overdue(now: datetime) -> list[tuple[int, str]]:
    """Blocked steps of running requests whose deadline has passed and that were not yet
    escalated since they started."""
    rows = db.session.execute(
        select(ChangeRequest.id, ChangeRequest.chain_state)
        .where(ChangeRequest.closed_at.is_(None))
        .order_by(ChangeRequest.id)
    ).all()
    found = []
    for request_id, data in rows:
        if not data:
            continue
        state = engine.State.from_json(data)
        if state.status != "in_progress":
            continue
        for name, st in state.steps.items():
            if st.status == "blocked" and st.deadline_at and not st.escalated_at:
                if datetime.fromisoformat(st.deadline_at) <= now:
                    found.append((request_id, name))
    return found


# -- helpers -------------------------------------------------------------------------------------


def _label(change: ChangeRequest, step_name: str) -> dict[str, str] | str:
    """The step's label in every language it has (the message picks the recipient's)."""
    chain = chain_of(change.form_version)
    if chain is None or not chain.has_step(step_name):
        return step_name
    step = chain.step(step_name)
    return dict(step.label) or step.name


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None
