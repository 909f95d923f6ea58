"""The approval state machine: where a request stands in its chain, and what an action does.

Pure functions over plain data.  Each takes a :class:`~portal.approvals.definition.ChainDef`,
the request's :class:`State` and a :class:`Context` (what the caller knows: the requester,
the answers, how to turn a rule into user ids, the time), and returns an :class:`Outcome`:
a *new* state and the events to write to the trace.  The state passed in is never changed,
and a refused action raises :class:`ActionRefused` having changed nothing.

Statuses
--------
The request: ``in_progress``, ``sent_back`` (back with the requester for changes), and the
finished ``completed``, ``rejected``, ``declined``.  A finished request accepts nothing.

A step: ``waiting`` (its stage has not started), ``active`` (people can act), ``blocked``
(its stage started but it has nobody, or fewer people than its quorum: an admin must
assign someone, or the escalation adds people), ``skipped`` (its ``when`` was false when
its stage started), ``approved`` or ``done`` (finished), ``rejected``, ``declined``,
``sent_back``, ``cancelled`` (a sibling in its parallel group ended the request).

Events
------
Each successful call returns events; every change of a status -- of the request or of
one step -- has exactly one *transition event*, whose ``before``/``after`` hold the old and
new status (see :data:`STEP_TRANSITIONS` and :data:`REQUEST_TRANSITIONS`).  One call may
make several: an approval can complete its step, start the next stage, skip a step there
and complete the request; submitting a chain where nothing applies is ``submitted`` then
``completed``.  Besides, every successful :func:`act` adds exactly one *action event*
(``approved``, ``rejected``, ``sent_back``, ``confirmed``, ``declined``, ``done``,
``feedback``, ``commented``) that comes first and carries the actor and the comment;
:func:`reassign` and :func:`escalate` add one ``reassigned`` or ``escalated`` event.
Transition events carry the actor of the call that caused them (None for the scheduler).
A comment changes no state: its one event is all it does.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from portal.approvals.definition import ChainDef, StepDef
from portal.approvals.impact import Assessment, assess
from portal.approvals.rules import Rule
from portal.forms.definition import N_

REQUEST_STATUSES = ("in_progress", "sent_back", "completed", "rejected", "declined")
FINISHED = frozenset({"completed", "rejected", "declined"})
STEP_STATUSES = (
    "waiting",
    "active",
    "blocked",
    "skipped",
    "approved",
    "done",
    "rejected",
    "declined",
    "sent_back",
    "cancelled",
)
STEP_PASSED = frozenset({"approved", "done", "skipped"})
"""Step statuses that let the chain move on to the next stage."""
OPEN_STEP = frozenset({"active", "blocked", "sent_back"})

VERBS = {
    "approval": ("approve", "reject", "send_back", "comment"),
    "confirmation": ("confirm", "decline", "comment"),
    "task": ("done", "comment"),
    "feedback": ("feedback", "comment"),
}
ACTION_EVENTS = {
    "approve": "approved",
    "reject": "rejected",
    "send_back": "sent_back",
    "confirm": "confirmed",
    "decline": "declined",
    "done": "done",
    "feedback": "feedback",
    "comment": "commented",
}
STEP_TRANSITIONS = {
    "step_started": ("waiting", "active"),
    "step_blocked": ("waiting", "blocked"),
    "step_unblocked": ("blocked", "active"),
    "step_skipped": ("waiting", "skipped"),
    "step_completed": ("active", "approved|done"),
    "step_rejected": ("active", "rejected"),
    "step_declined": ("active", "declined"),
    "step_sent_back": ("active", "sent_back"),
    "step_reopened": ("sent_back", "active"),
    "step_cancelled": ("active|blocked|sent_back", "cancelled"),
}
"""The transition events of a step: kind -> (status before, status after)."""
REQUEST_TRANSITIONS = {
    "submitted": (None, "in_progress"),
    "request_sent_back": ("in_progress", "sent_back"),
    "revised": ("sent_back", "in_progress"),
    "completed": ("in_progress", "completed"),
    "closed_rejected": ("in_progress", "rejected"),
    "closed_declined": ("in_progress", "declined"),
}
"""The transition events of the request: kind -> (status before, status after)."""
TRANSITION_KINDS = frozenset(STEP_TRANSITIONS) | frozenset(REQUEST_TRANSITIONS)
OTHER_EVENTS = frozenset({"reassigned", "escalated"})

RATINGS = range(1, 6)


# --- data types ------------------------------------------------------------------------


class ActionRefused(Exception):
    """An action that cannot be done; nothing was changed.

    ``code`` is one of ``closed`` (the request or step is not open: already decided, or
    finished), ``not_allowed``, ``own_request``, ``stale``, ``unknown_step``, ``invalid``;
    ``msgid`` and ``params`` make the translatable message.
    """

    def __init__(self, code: str, msgid: str, params: Mapping | None = None):
        self.code = code
        self.msgid = msgid
        self.params = dict(params or {})
        super().__init__(f"{code}: {msgid % self.params}")

    def message(self, gettext: Callable[[str], str] = lambda s: s) -> str:
        return gettext(self.msgid) % self.params


@dataclass(frozen=True)
class Event:
    """One entry for the trace (留痕).  ``before``/``after`` say what changed."""

    kind: str
    step: str | None = None
    actor_id: int | None = None
    on_behalf_of_id: int | None = None
    before: dict | None = None
    after: dict | None = None
    data: dict = field(default_factory=dict)

    @property
    def is_transition(self) -> bool:
        return self.kind in TRANSITION_KINDS

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "step": self.step,
            "actor_id": self.actor_id,
            "on_behalf_of_id": self.on_behalf_of_id,
            "before": self.before,
            "after": self.after,
            "data": self.data,
        }


@dataclass(kw_only=True)
class Context:
    """What the caller knows when it calls the engine.

    ``resolve(rule)`` returns the user ids a rule names *now* (the engine resolves the
    ``requester`` rule itself, and never lets the requester approve their own request).
    ``assessment`` is computed from the answers with the chain's matrix when left out.
    ``revision`` is the revision of ``answers``; ``now`` an aware datetime.
    """

    requester_id: int
    answers: Mapping[str, Any] = field(default_factory=dict)
    resolve: Callable[[Rule], Iterable[int]]
    assessment: Assessment | None = None
    revision: int = 1
    now: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(kw_only=True)
class Action:
    """Someone acting on a step.  With ``on_behalf_of_id`` the actor acts for that
    assignee (a delegation the caller has checked): the decision counts for the assignee."""

    step: str
    verb: str
    actor_id: int
    on_behalf_of_id: int | None = None
    revision: int
    comment: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class StepState:
    """Where one step stands.  ``votes`` maps an assignee's id to
    ``{"verb", "revision", "actor_id", "at"}`` (actor_id differs when delegated);
    ``deadline_at`` and ``reminded_at`` are filled by the caller, the engine clears them
    when the step (re)starts."""

    name: str
    status: str = "waiting"
    assignees: list[int] = field(default_factory=list)
    votes: dict[int, dict] = field(default_factory=dict)
    started_at: str | None = None
    finished_at: str | None = None
    deadline_at: str | None = None
    reminded_at: str | None = None
    escalated_at: str | None = None

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "status": self.status,
            "assignees": list(self.assignees),
            "votes": [{"user_id": uid, **vote} for uid, vote in self.votes.items()],
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "deadline_at": self.deadline_at,
            "reminded_at": self.reminded_at,
            "escalated_at": self.escalated_at,
        }

    @classmethod
    def from_json(cls, data: Mapping) -> StepState:
        votes = {}
        for vote in data.get("votes", []):
            vote = dict(vote)
            votes[int(vote.pop("user_id"))] = vote
        return cls(
            name=data["name"],
            status=data["status"],
            assignees=[int(uid) for uid in data.get("assignees", [])],
            votes=votes,
            started_at=data.get("started_at"),
            finished_at=data.get("finished_at"),
            deadline_at=data.get("deadline_at"),
            reminded_at=data.get("reminded_at"),
            escalated_at=data.get("escalated_at"),
        )


@dataclass
class State:
    """Where a request stands in its chain; stored as JSON on the request."""

    status: str
    revision: int
    stage: int
    steps: dict[str, StepState]
    sent_back_step: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def step(self, name: str) -> StepState:
        return self.steps[name]

    def to_json(self) -> dict:
        """Plain data for a JSON column (lists, not objects, wherever order matters)."""
        return {
            "status": self.status,
            "revision": self.revision,
            "stage": self.stage,
            "sent_back_step": self.sent_back_step,
            "steps": [step.to_json() for step in self.steps.values()],
        }

    @classmethod
    def from_json(cls, data: Mapping | str) -> State:
        if isinstance(data, str):
            data = json.loads(data)
        steps = [StepState.from_json(item) for item in data["steps"]]
        return cls(
            status=data["status"],
            revision=int(data["revision"]),
            stage=int(data["stage"]),
            steps={step.name: step for step in steps},
            sent_back_step=data.get("sent_back_step"),
        )


@dataclass
class Outcome:
    """The new state and the events that led to it, in order."""

    state: State
    events: list[Event]


# --- the public functions --------------------------------------------------------------


def start(chain: ChainDef, ctx: Context) -> Outcome:
    """Submit: the first stage whose steps apply starts (steps whose ``when`` is false are
    skipped, each with an event); a chain where nothing applies completes at once."""
    state = State(
        status="in_progress",
        revision=ctx.revision,
        stage=0,
        steps={step.name: StepState(step.name) for step in chain.steps},
    )
    run = _Run(chain, state, ctx, actor_id=ctx.requester_id)
    run.emit(
        "submitted",
        before={"status": None},
        after={"status": "in_progress", "revision": ctx.revision},
        assessment=run.assessment.to_dict(),
    )
    run.enter_stage(0)
    return run.outcome()


def act(chain: ChainDef, state: State, action: Action, ctx: Context) -> Outcome:
    """Apply one person's action on one step; raise :class:`ActionRefused` if it cannot be."""
    _refuse_if_finished(state)
    step, st = _find_step(chain, state, action.step)
    if action.verb not in VERBS[step.kind]:
        raise ActionRefused(
            "invalid",
            N_("'%(verb)s' is not possible on a %(kind)s step"),
            {"verb": action.verb, "kind": step.kind},
        )
    if action.revision != state.revision:
        raise ActionRefused(
            "stale",
            N_(
                "the request has changed since you opened it (you saw revision %(seen)s, "
                "it is now at %(current)s); reload it and decide again"
            ),
            {"seen": action.revision, "current": state.revision},
        )
    behalf = action.on_behalf_of_id
    if behalf == action.actor_id:
        behalf = None
    assignee = behalf if behalf is not None else action.actor_id
    if action.verb == "comment":
        return _comment(chain, state, step, st, action, ctx, assignee, behalf)
    if state.status == "sent_back":
        raise ActionRefused(
            "closed",
            N_("the request is back with the requester for changes; wait for the new revision"),
        )
    _refuse_unless_active(st)
    if step.kind == "approval" and ctx.requester_id in (action.actor_id, assignee):
        raise ActionRefused("own_request", N_("nobody can decide on their own request"))
    if assignee not in st.assignees:
        raise ActionRefused(
            "not_allowed",
            N_("user %(user)s is not among the people who act on this step"),
            {"user": assignee},
        )
    if assignee in st.votes:
        raise ActionRefused(
            "closed", N_("a decision by this person on this step is already recorded")
        )
    if action.verb == "feedback":
        rating = action.data.get("rating")
        if isinstance(rating, bool) or rating not in RATINGS:
            raise ActionRefused("invalid", N_("give a rating from 1 to 5"))

    new = copy.deepcopy(state)
    run = _Run(chain, new, ctx, actor_id=action.actor_id, on_behalf_of_id=behalf)
    new_st = new.steps[step.name]
    new_st.votes[assignee] = {
        "verb": action.verb,
        "revision": new.revision,
        "actor_id": action.actor_id,
        "at": run.now,
    }
    data: dict[str, Any] = {"revision": new.revision}
    if action.comment:
        data["comment"] = action.comment
    if action.data:
        data["data"] = dict(action.data)
    run.emit(ACTION_EVENTS[action.verb], step.name, after={"vote": action.verb}, **data)
    if action.verb in ("approve", "reject"):
        run.decide(step)
    elif action.verb == "send_back":
        run.set_step(new_st, "sent_back", "step_sent_back")
        new.sent_back_step = step.name
        run.set_request("sent_back", "request_sent_back")
    elif action.verb == "decline":
        run.end_request(step, "declined", "step_declined", "declined", "closed_declined")
    else:  # confirm, done, feedback
        run.finish_step(step, "done")
    return run.outcome()


def resubmit(chain: ChainDef, state: State, ctx: Context) -> Outcome:
    """The requester sends the revised request back (``ctx`` carries the new revision and
    its answers).  The sent-back step opens again; no step before it runs again.

    Every open step of the current stage forgets its rejections and send-backs; its
    approvals stand only when it has ``keep_approvals_on_send_back``.  Their deadlines are
    cleared (``deadline_at`` is None) so that the caller sets new ones.  ``when`` conditions
    of later stages see the new answers (they are evaluated when their stage starts)."""
    _refuse_if_finished(state)
    if state.status != "sent_back":
        raise ActionRefused(
            "invalid", N_("the request was not sent back, so there is nothing to resubmit")
        )
    if ctx.revision <= state.revision:
        raise ActionRefused(
            "stale",
            N_("the new revision must come after revision %(current)s"),
            {"current": state.revision},
        )
    new = copy.deepcopy(state)
    run = _Run(chain, new, ctx, actor_id=ctx.requester_id)
    old_revision = new.revision
    new.revision = ctx.revision
    new.status = "in_progress"
    run.emit(
        "revised",
        before={"status": "sent_back", "revision": old_revision},
        after={"status": "in_progress", "revision": new.revision},
        assessment=run.assessment.to_dict(),
    )
    for step in chain.stages[new.stage].steps:
        st = new.steps[step.name]
        if st.status not in OPEN_STEP:
            continue
        keep = step.keep_approvals_on_send_back
        st.votes = {
            uid: vote for uid, vote in st.votes.items() if keep and vote["verb"] == "approve"
        }
        st.deadline_at = st.reminded_at = st.escalated_at = None
        if st.status == "sent_back":
            run.set_step(st, "active", "step_reopened", kept_approvals=sorted(st.votes))
    new.sent_back_step = None
    # Dropping votes can neither complete a step nor make its quorum unreachable (an
    # approval dropped is a person who may vote again), so nothing else can change here.
    return run.outcome()


def reassign(
    chain: ChainDef,
    state: State,
    step: str,
    from_user: int | None,
    to_user: int,
    ctx: Context,
    by_admin_id: int,
) -> Outcome:
    """An admin hands ``from_user``'s part of an open step to ``to_user`` (with
    ``from_user`` None: adds ``to_user``).  A blocked step that can now decide starts."""
    _refuse_if_finished(state)
    step_def, st = _find_step(chain, state, step)
    if st.status not in OPEN_STEP:
        _refuse_unless_active(st)
    if from_user is not None and from_user not in st.assignees:
        raise ActionRefused(
            "invalid",
            N_("user %(user)s is not among the people who act on this step"),
            {"user": from_user},
        )
    if from_user is not None and from_user in st.votes:
        raise ActionRefused(
            "invalid",
            N_("user %(user)s has already decided on this step; the decision stands"),
            {"user": from_user},
        )
    if to_user in st.assignees:
        raise ActionRefused(
            "invalid",
            N_("user %(user)s already acts on this step"),
            {"user": to_user},
        )
    if step_def.kind == "approval" and to_user == ctx.requester_id:
        raise ActionRefused("own_request", N_("nobody can decide on their own request"))
    new = copy.deepcopy(state)
    run = _Run(chain, new, ctx, actor_id=by_admin_id)
    new_st = new.steps[step]
    before = list(new_st.assignees)
    if from_user is None:
        new_st.assignees.append(to_user)
    else:
        new_st.assignees[new_st.assignees.index(from_user)] = to_user
    run.emit(
        "reassigned",
        step,
        before={"assignees": before},
        after={"assignees": list(new_st.assignees)},
        from_user=from_user,
        to_user=to_user,
    )
    # Swapping someone who has not voted, or adding someone, can neither complete an
    # active step nor make it fail; it can only make a blocked step reachable.
    run.unblock(step_def)
    return run.outcome()


def escalate(chain: ChainDef, state: State, step: str, ctx: Context) -> Outcome:
    """The deadline passed: the step's ``escalate_to`` people become assignees too (once
    per start of the step).  A blocked step that can now decide starts."""
    _refuse_if_finished(state)
    step_def, st = _find_step(chain, state, step)
    if step_def.escalate_to is None:
        raise ActionRefused("invalid", N_("this step has no escalate_to"))
    if state.status == "sent_back":
        raise ActionRefused(
            "closed",
            N_("the request is back with the requester for changes; wait for the new revision"),
        )
    if st.status not in ("active", "blocked"):
        _refuse_unless_active(st)
    if st.escalated_at is not None:
        raise ActionRefused("closed", N_("this step was escalated already"))
    new = copy.deepcopy(state)
    run = _Run(chain, new, ctx)
    new_st = new.steps[step]
    before = list(new_st.assignees)
    added = [uid for uid in run.resolve((step_def.escalate_to,), step_def) if uid not in before]
    new_st.assignees.extend(added)
    new_st.escalated_at = run.now
    run.emit(
        "escalated",
        step,
        before={"assignees": before},
        after={"assignees": list(new_st.assignees)},
        rule=step_def.escalate_to.to_data(),
        added=added,
    )
    run.unblock(step_def)
    return run.outcome()


def open_tasks(state: State) -> list[tuple[str, int]]:
    """Who must act now: ``(step name, user id)`` for every assignee of an active step who
    has not acted on it, in chain order.  Empty unless the request is in progress (when it
    is sent back, the requester must revise it; that is not a task of a step)."""
    if state.status != "in_progress":
        return []
    return [
        (name, uid)
        for name, st in state.steps.items()
        if st.status == "active"
        for uid in st.assignees
        if uid not in st.votes
    ]


def tally(step: StepDef, st: StepState) -> dict:
    """The count of an approval step: approvals, rejections, pending, eligible, needed."""
    votes = [vote["verb"] for uid, vote in st.votes.items() if uid in st.assignees]
    eligible = len(st.assignees)
    return {
        "approvals": votes.count("approve"),
        "rejections": votes.count("reject"),
        "pending": eligible - len(votes),
        "eligible": eligible,
        "needed": step.decide.needed(eligible),
    }


# --- helpers ---------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def _refuse_if_finished(state: State) -> None:
    if state.status in FINISHED:
        raise ActionRefused(
            "closed",
            N_("this request is finished (%(status)s); nothing can change any more"),
            {"status": state.status},
        )


def _find_step(chain: ChainDef, state: State, name: str) -> tuple[StepDef, StepState]:
    if not chain.has_step(name) or name not in state.steps:
        raise ActionRefused(
            "unknown_step", N_("there is no step named '%(step)s' in this chain"), {"step": name}
        )
    return chain.step(name), state.steps[name]


_NOT_OPEN = {
    "waiting": N_("this step has not started yet"),
    "skipped": N_("this step was skipped"),
    "blocked": N_("nobody can act on this step until an admin assigns people to it"),
    "sent_back": N_("this step was sent back; it opens again with the new revision"),
    "cancelled": N_("this step was cancelled"),
}


def _refuse_unless_active(st: StepState) -> None:
    if st.status != "active":
        msgid = _NOT_OPEN.get(st.status, N_("this step was already decided"))
        raise ActionRefused("closed", msgid, {"status": st.status})


def _comment(chain, state, step, st, action, ctx, assignee, behalf) -> Outcome:
    if st.status not in OPEN_STEP:
        _refuse_unless_active(st)
    if not action.comment.strip():
        raise ActionRefused("invalid", N_("write a comment"))
    if assignee not in st.assignees and action.actor_id != ctx.requester_id:
        raise ActionRefused(
            "not_allowed",
            N_("user %(user)s is not among the people who act on this step"),
            {"user": assignee},
        )
    new = copy.deepcopy(state)
    run = _Run(chain, new, ctx, actor_id=action.actor_id, on_behalf_of_id=behalf)
    run.emit("commented", step.name, comment=action.comment, revision=new.revision)
    return run.outcome()


class _Run:
    """One call's work on a (copied) state: changes it and records the events."""

    def __init__(self, chain, state, ctx, actor_id=None, on_behalf_of_id=None):
        self.chain: ChainDef = chain
        self.state: State = state
        self.ctx: Context = ctx
        self.actor_id = actor_id
        self.on_behalf_of_id = on_behalf_of_id
        self.events: list[Event] = []
        self.now = _iso(ctx.now)
        self.assessment = ctx.assessment or assess(chain.impact, ctx.answers)

    def outcome(self) -> Outcome:
        return Outcome(self.state, self.events)

    def emit(self, kind, step=None, before=None, after=None, **data) -> None:
        self.events.append(
            Event(kind, step, self.actor_id, self.on_behalf_of_id, before, after, data)
        )

    def set_step(self, st: StepState, status: str, kind: str, **data) -> None:
        before = st.status
        st.status = status
        self.emit(kind, st.name, {"status": before}, {"status": status}, **data)

    def set_request(self, status: str, kind: str) -> None:
        before = self.state.status
        self.state.status = status
        self.emit(kind, None, {"status": before}, {"status": status})

    def resolve(self, rules: Iterable[Rule], step: StepDef) -> list[int]:
        ids: set[int] = set()
        for rule in rules:
            if rule.name == "requester":
                ids.add(int(self.ctx.requester_id))
            else:
                ids.update(int(uid) for uid in self.ctx.resolve(rule))
        if step.kind == "approval":
            ids.discard(int(self.ctx.requester_id))
        return sorted(ids)

    # --- stages and steps

    def enter_stage(self, index: int) -> None:
        """Start the first stage from ``index`` on that has a step that applies."""
        names = {**self.ctx.answers, **self.assessment.names()}
        stages = self.chain.stages
        while index < len(stages):
            self.state.stage = index
            applicable = []
            for step in stages[index].steps:
                if step.when is not None and not step.when.evaluate(names):
                    st = self.state.steps[step.name]
                    st.started_at = st.finished_at = self.now
                    self.set_step(st, "skipped", "step_skipped", when=step.when.source)
                else:
                    applicable.append(step)
            if applicable:
                for step in applicable:
                    self.start_step(step)
                return
            index += 1
        self.state.stage = len(stages)
        self.set_request("completed", "completed")

    def start_step(self, step: StepDef) -> None:
        st = self.state.steps[step.name]
        st.assignees = self.resolve(step.assignees, step)
        st.votes = {}
        st.started_at, st.finished_at = self.now, None
        st.deadline_at = st.reminded_at = st.escalated_at = None
        blocked = self.why_blocked(step, st)
        if blocked:
            self.set_step(st, "blocked", "step_blocked", **blocked)
        else:
            self.set_step(st, "active", "step_started", assignees=list(st.assignees))

    def why_blocked(self, step: StepDef, st: StepState) -> dict | None:
        eligible = len(st.assignees)
        needed = step.decide.needed(eligible) if step.kind == "approval" else 1
        if eligible == 0:
            return {"reason": "no_assignees", "needed": max(needed, 1), "eligible": 0}
        if needed > eligible:
            return {"reason": "quorum_unreachable", "needed": needed, "eligible": eligible}
        return None

    def unblock(self, step: StepDef) -> None:
        st = self.state.steps[step.name]
        if st.status == "blocked" and not self.why_blocked(step, st):
            self.set_step(st, "active", "step_unblocked", assignees=list(st.assignees))

    def decide(self, step: StepDef) -> None:
        """After a vote on an approval step: complete it, reject it, or wait."""
        count = tally(step, self.state.steps[step.name])
        if count["approvals"] >= count["needed"]:
            self.finish_step(step, "approved", **count)
        elif count["rejections"] and step.veto:
            self.end_request(step, "rejected", "step_rejected", "rejected", "closed_rejected")
        elif count["approvals"] + count["pending"] < count["needed"]:
            self.end_request(step, "rejected", "step_rejected", "rejected", "closed_rejected")

    def finish_step(self, step: StepDef, status: str, **data) -> None:
        st = self.state.steps[step.name]
        st.finished_at = self.now
        self.set_step(st, status, "step_completed", **data)
        stage = self.chain.stages[self.state.stage]
        if all(self.state.steps[s.name].status in STEP_PASSED for s in stage.steps):
            self.enter_stage(self.state.stage + 1)

    def end_request(self, step, step_status, step_kind, status, kind) -> None:
        """A step ends the whole request: it closes, so do its open siblings."""
        st = self.state.steps[step.name]
        st.finished_at = self.now
        self.set_step(st, step_status, step_kind)
        for sibling in self.chain.stages[self.state.stage].steps:
            other = self.state.steps[sibling.name]
            if other.status in OPEN_STEP:
                other.finished_at = self.now
                self.set_step(other, "cancelled", "step_cancelled")
        self.set_request(status, kind)
