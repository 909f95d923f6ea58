"""A dry run of a chain: which steps would run for some sample answers, which are skipped
(and by which condition), the computed impact and priority, and who would be asked.

It runs the real engine (``portal.approvals.engine``) on the loaded ``ChainDef``: the
request is submitted, then every step that starts is passed the way its people would pass
it (enough approvals, the task done, the requester's confirmation and feedback), so that
each later stage starts and checks its ``when`` exactly as it will for a real request.  A
step that would be blocked (nobody, or fewer people than its quorum) is shown as blocked;
to go on, stand-ins (negative ids, never shown) are added to it.

Pure: no Flask, no database.  ``resolve(rule)`` turns a rule into user ids; the caller
passes one that only reads.  Nothing is stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from portal.approvals import engine
from portal.approvals.definition import ChainDef, StepDef
from portal.approvals.impact import Assessment, assess
from portal.approvals.rules import Rule

SAMPLE_REQUESTER = 0
"""The requester's id when the admin picked no sample requester."""


@dataclass(frozen=True)
class StepRun:
    """What would happen to one step.

    ``status`` is ``runs`` (people are asked), ``blocked`` (too few people: nobody is
    asked until an admin adds some), ``skipped`` (its ``when`` was false: ``when`` holds
    it) or ``not_reached`` (the chain ended before it).  ``people`` are the user ids
    asked (the requester's id for a confirmation or feedback); ``needed`` how many
    approvals an approval step needs with them.
    """

    step: StepDef
    stage: int
    status: str
    people: tuple[int, ...] = ()
    needed: int | None = None
    when: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Simulation:
    assessment: Assessment
    steps: tuple[StepRun, ...]
    status: str
    """How the dry run ended: ``completed`` when every step could be passed."""

    def runs(self) -> list[str]:
        return [run.step.name for run in self.steps if run.status in ("runs", "blocked")]

    def skipped(self) -> list[str]:
        return [run.step.name for run in self.steps if run.status == "skipped"]


def simulate(
    chain: ChainDef,
    answers: Mapping[str, Any],
    *,
    resolve: Callable[[Rule], Iterable[int]],
    requester_id: int | None = None,
    now: datetime | None = None,
) -> Simulation:
    """Walk ``chain`` for ``answers`` with the engine; see the module docstring."""
    requester = SAMPLE_REQUESTER if requester_id is None else int(requester_id)
    ctx = engine.Context(
        requester_id=requester,
        answers=dict(answers),
        resolve=resolve,
        now=now or datetime.now(UTC),
    )
    state = engine.start(chain, ctx).state
    seen: dict[str, StepRun] = {}
    stand_in = -1
    for _ in range(4 * len(chain.steps) + 4):  # each round passes or unblocks a step
        if state.status != "in_progress":
            break
        open_steps = [
            chain.step(name)
            for name, st in state.steps.items()
            if st.status in ("active", "blocked")
        ]
        if not open_steps:
            break
        step = open_steps[0]
        st = state.steps[step.name]
        if step.name not in seen:
            seen[step.name] = _first_sight(chain, step, st)
        if st.status == "blocked":
            state = engine.reassign(
                chain, state, step.name, None, stand_in, ctx, by_admin_id=0
            ).state
            stand_in -= 1
            continue
        state = _pass(chain, state, step, ctx)
    runs = []
    for step in chain.steps:
        st = state.steps[step.name]
        if step.name in seen:
            runs.append(seen[step.name])
        elif st.status == "skipped":
            runs.append(StepRun(step, chain.stage_of(step.name), "skipped", when=step.when.source))
        else:
            runs.append(StepRun(step, chain.stage_of(step.name), "not_reached"))
    return Simulation(
        assessment=assess(chain.impact, answers), steps=tuple(runs), status=state.status
    )


def _first_sight(chain: ChainDef, step: StepDef, st: engine.StepState) -> StepRun:
    people = tuple(uid for uid in st.assignees if uid >= 0)
    needed = engine.tally(step, st)["needed"] if step.kind == "approval" else None
    reason = None
    if st.status == "blocked":
        reason = "no_assignees" if not people else "quorum_unreachable"
    return StepRun(
        step,
        chain.stage_of(step.name),
        "blocked" if st.status == "blocked" else "runs",
        people=people,
        needed=needed,
        when=step.when.source if step.when is not None else None,
        reason=reason,
    )


def _pass(chain: ChainDef, state: engine.State, step: StepDef, ctx: engine.Context):
    """The state after the step's people pass it: approvals enough, or the one action."""
    st = state.steps[step.name]
    if step.kind == "approval":
        needed = engine.tally(step, st)["needed"]
        voters = [uid for uid in st.assignees if uid not in st.votes][:needed]
        for uid in voters:
            if state.steps[step.name].status != "active":
                break
            state = engine.act(chain, state, _action(step, "approve", uid, state), ctx).state
        return state
    verb = {"task": "done", "confirmation": "confirm", "feedback": "feedback"}[step.kind]
    actor = st.assignees[0]
    data = {"rating": 5} if verb == "feedback" else {}
    return engine.act(chain, state, _action(step, verb, actor, state, data), ctx).state


def _action(step: StepDef, verb: str, actor: int, state: engine.State, data=None):  # noqa: ANN001
    return engine.Action(
        step=step.name, verb=verb, actor_id=actor, revision=state.revision, data=data or {}
    )
