"""The approval engine: what each action does to a request, and what it refuses."""

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from portal.approvals.definition import load_chain
from portal.approvals.engine import (
    ACTION_EVENTS,
    TRANSITION_KINDS,
    Action,
    ActionRefused,
    Context,
    Event,
    State,
    act,
    escalate,
    open_tasks,
    reassign,
    resubmit,
    start,
    tally,
)
from portal.approvals.impact import assess

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ROOT / "portal" / "forms" / "library"
FORM = yaml.safe_load((LIBRARY / "change-request.yaml").read_text("utf-8"))
FIELDS = {f["name"] for f in FORM["fields"] if f["type"] != "section"} | {"flag"}
SHIPPED = yaml.safe_load((LIBRARY / "change-request.yaml").read_text("utf-8"))["chain"]

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
REQUESTER = 1
ADMIN = 99
DELEGATE = 50
PEOPLE = {
    ("role", "approver"): {10, 11, 12},
    ("role", "admin"): {ADMIN},
    ("group", "ccb"): {20, 21, 22},
    ("group", "ccb5"): {20, 21, 22, 23, 24},
    ("group", "pair"): {20, 21},
    ("group", "empty"): set(),
    ("group", "with_requester"): {REQUESTER, 10},
    ("group", "managers"): {30, 31},
}
LOW = {"impact_cost": "low", "impact_time": "low", "business_value": "medium"}
HIGH = {"impact_cost": "high", "impact_time": "low", "business_value": "high"}


def resolve(rule):
    if rule.name == "user":
        return {int(email.split("@")[0][1:]) for email in rule.params}  # u10@example.com -> 10
    return set(PEOPLE.get((rule.name, rule.params), set()))


def make_chain(*steps, **extra):
    return load_chain({"steps": list(steps), **extra}, field_names=FIELDS)


def approval(name="review", assignees=None, **kwargs):
    return {
        "name": name,
        "kind": "approval",
        "assignees": assignees or {"role": "approver"},
        **kwargs,
    }


def task(name="work", assignees=None, **kwargs):
    return {"name": name, "kind": "task", "assignees": assignees or {"role": "approver"}, **kwargs}


def context(answers=None, revision=1, now=NOW):
    return Context(
        requester_id=REQUESTER, answers=answers or LOW, resolve=resolve, revision=revision, now=now
    )


def kinds(events):
    return [(e.kind, e.step) for e in events]


class Walk:
    """One request walked through a chain, keeping the whole trace."""

    def __init__(self, chain, answers=None):
        self.chain = chain
        self.ctx = context(answers)
        outcome = start(chain, self.ctx)
        self.state = outcome.state
        self.trace = list(outcome.events)
        self.last = list(outcome.events)

    def _take(self, outcome):
        self.state = outcome.state
        self.last = list(outcome.events)
        self.trace += outcome.events
        return self.last

    def action(self, step, verb, actor, **kwargs):
        kwargs.setdefault("revision", self.state.revision)
        return Action(step=step, verb=verb, actor_id=actor, **kwargs)

    def act(self, step, verb, actor, **kwargs):
        return self._take(
            act(self.chain, self.state, self.action(step, verb, actor, **kwargs), self.ctx)
        )

    def refused(self, step, verb, actor, **kwargs):
        before = copy.deepcopy(self.state.to_json())
        with pytest.raises(ActionRefused) as caught:
            act(self.chain, self.state, self.action(step, verb, actor, **kwargs), self.ctx)
        assert self.state.to_json() == before
        return caught.value

    def resubmit(self, answers=None):
        self.ctx = context(answers or self.ctx.answers, revision=self.state.revision + 1)
        return self._take(resubmit(self.chain, self.state, self.ctx))

    def reassign(self, step, from_user, to_user):
        return self._take(
            reassign(self.chain, self.state, step, from_user, to_user, self.ctx, ADMIN)
        )

    def escalate(self, step):
        return self._take(escalate(self.chain, self.state, step, self.ctx))

    def status(self, step):
        return self.state.steps[step].status


# --- starting ----------------------------------------------------------------------------


def test_submitting_starts_the_first_step_and_says_who_must_act():
    walk = Walk(make_chain(approval(), task()))
    assert kinds(walk.trace) == [("submitted", None), ("step_started", "review")]
    assert walk.state.status == "in_progress"
    assert walk.state.stage == 0
    assert walk.status("work") == "waiting"
    assert open_tasks(walk.state) == [("review", 10), ("review", 11), ("review", 12)]
    submitted = walk.trace[0]
    assert submitted.actor_id == REQUESTER
    assert submitted.after == {"status": "in_progress", "revision": 1}
    assert submitted.data["assessment"]["overall"] == "low"
    started = walk.trace[1]
    assert started.before == {"status": "waiting"} and started.after == {"status": "active"}
    assert started.data == {"assignees": [10, 11, 12]}
    assert walk.state.steps["review"].started_at == NOW.isoformat()


def test_the_requester_is_never_an_assignee_of_an_approval_step():
    walk = Walk(make_chain(approval(assignees={"group": "with_requester"})))
    assert walk.state.steps["review"].assignees == [10]


def test_a_task_may_include_the_requester():
    walk = Walk(make_chain(task(assignees={"group": "with_requester"})))
    assert walk.state.steps["work"].assignees == [REQUESTER, 10]


def test_the_engine_computes_the_assessment_when_not_given_and_uses_a_given_one():
    chain = make_chain(approval(when="impact == 'high'"), task())
    assert Walk(chain, HIGH).status("review") == "active"
    given = assess(chain.impact, HIGH)
    ctx = Context(requester_id=1, answers=LOW, assessment=given, resolve=resolve, now=NOW)
    assert start(chain, ctx).state.steps["review"].status == "active"


def test_naive_times_are_taken_as_utc_and_others_converted():
    chain = make_chain(task())
    naive = start(chain, context(now=datetime(2026, 3, 2, 9, 0)))
    assert naive.state.steps["work"].started_at == "2026-03-02T09:00:00+00:00"
    beijing = start(
        chain, context(now=datetime(2026, 3, 2, 17, 0, tzinfo=timezone(timedelta(hours=8))))
    )
    assert beijing.state.steps["work"].started_at == "2026-03-02T09:00:00+00:00"


# --- how an approval step decides --------------------------------------------------------


def test_any_the_first_approval_completes_the_step_and_the_next_starts():
    walk = Walk(make_chain(approval(), task()))
    events = walk.act("review", "approve", 11, comment="fine by me")
    assert kinds(events) == [
        ("approved", "review"),
        ("step_completed", "review"),
        ("step_started", "work"),
    ]
    assert events[0].actor_id == 11 and events[0].data == {"revision": 1, "comment": "fine by me"}
    assert events[1].after == {"status": "approved"}
    assert walk.state.steps["review"].finished_at == NOW.isoformat()
    assert walk.state.steps["review"].votes == {
        11: {"verb": "approve", "revision": 1, "actor_id": 11, "at": NOW.isoformat()}
    }
    assert open_tasks(walk.state) == [("work", 10), ("work", 11), ("work", 12)]


def test_any_a_reject_rejects_the_request():
    walk = Walk(make_chain(approval(), task()))
    events = walk.act("review", "reject", 10, comment="out of scope")
    assert kinds(events) == [
        ("rejected", "review"),
        ("step_rejected", "review"),
        ("closed_rejected", None),
    ]
    assert walk.state.status == "rejected"
    assert walk.status("work") == "waiting"
    assert open_tasks(walk.state) == []


def test_all_needs_every_assignee():
    walk = Walk(make_chain(approval(decide="all"), task()))
    walk.act("review", "approve", 10)
    walk.act("review", "approve", 12)
    assert walk.status("review") == "active"
    assert open_tasks(walk.state) == [("review", 11)]
    events = walk.act("review", "approve", 11)
    assert kinds(events)[1:] == [("step_completed", "review"), ("step_started", "work")]


def test_all_one_reject_rejects():
    walk = Walk(make_chain(approval(decide="all")))
    walk.act("review", "approve", 10)
    walk.act("review", "reject", 11)
    assert walk.state.status == "rejected"
    assert walk.status("review") == "rejected"


def test_quorum_n_approvals_complete_the_step():
    walk = Walk(make_chain(approval(assignees={"group": "ccb"}, decide={"quorum": 2}), task()))
    walk.act("review", "approve", 20)
    assert walk.status("review") == "active"
    events = walk.act("review", "approve", 22)
    assert ("step_completed", "review") in kinds(events)
    assert events[1].data == {
        "approvals": 2,
        "rejections": 0,
        "pending": 1,
        "eligible": 3,
        "needed": 2,
    }
    assert [name for name, _ in open_tasks(walk.state)] == ["work"] * 3  # 21 is no longer asked


def test_quorum_without_veto_a_reject_counts_against_until_the_quorum_is_out_of_reach():
    walk = Walk(make_chain(approval(assignees={"group": "ccb"}, decide={"quorum": 2})))
    walk.act("review", "reject", 20)
    assert walk.status("review") == "active"  # 21 and 22 can still make two
    assert tally(walk.chain.step("review"), walk.state.steps["review"]) == {
        "approvals": 0,
        "rejections": 1,
        "pending": 2,
        "eligible": 3,
        "needed": 2,
    }
    walk.act("review", "approve", 21)
    events = walk.act("review", "reject", 22)
    assert kinds(events) == [
        ("rejected", "review"),
        ("step_rejected", "review"),
        ("closed_rejected", None),
    ]


def test_quorum_without_veto_reached_despite_a_reject():
    walk = Walk(make_chain(approval(assignees={"group": "ccb"}, decide={"quorum": 2})))
    walk.act("review", "reject", 20)
    walk.act("review", "approve", 21)
    walk.act("review", "approve", 22)
    assert walk.state.status == "completed"


def test_quorum_with_veto_one_reject_rejects():
    walk = Walk(make_chain(approval(assignees={"group": "ccb"}, decide={"quorum": 2}, veto=True)))
    walk.act("review", "approve", 20)
    walk.act("review", "reject", 21)
    assert walk.state.status == "rejected"


def test_percent_rounds_up():
    walk = Walk(make_chain(approval(assignees={"group": "ccb5"}, decide={"percent": 60})))
    walk.act("review", "approve", 20)
    walk.act("review", "approve", 21)
    assert walk.status("review") == "active"  # 60 % of 5 is 3
    walk.act("review", "approve", 24)
    assert walk.state.status == "completed"


def test_percent_without_veto_fails_when_the_share_is_out_of_reach():
    walk = Walk(make_chain(approval(assignees={"group": "ccb5"}, decide={"percent": 60})))
    walk.act("review", "reject", 20)
    walk.act("review", "reject", 21)
    assert walk.status("review") == "active"  # 3 of the 3 left can still approve
    walk.act("review", "reject", 22)
    assert walk.state.status == "rejected"


def test_percent_with_veto():
    walk = Walk(
        make_chain(approval(assignees={"group": "ccb5"}, decide={"percent": 60}, veto=True))
    )
    walk.act("review", "reject", 23)
    assert walk.state.status == "rejected"


# --- who may act -------------------------------------------------------------------------


def test_the_requester_may_not_approve_their_own_request():
    walk = Walk(make_chain(approval(assignees={"group": "with_requester"})))
    for verb in ("approve", "reject", "send_back"):
        refused = walk.refused("review", verb, REQUESTER)
        assert refused.code == "own_request"
        assert refused.message() == "nobody can decide on their own request"


def test_the_requester_may_not_approve_their_own_request_through_a_delegation():
    walk = Walk(make_chain(approval()))
    assert walk.refused("review", "approve", REQUESTER, on_behalf_of_id=10).code == "own_request"


def test_someone_who_is_not_an_assignee_is_not_allowed():
    walk = Walk(make_chain(approval()))
    refused = walk.refused("review", "approve", 77)
    assert refused.code == "not_allowed"
    assert refused.message() == "user 77 is not among the people who act on this step"
    assert walk.refused("review", "approve", DELEGATE, on_behalf_of_id=77).code == "not_allowed"


def test_a_delegate_acts_on_behalf_of_the_assignee_and_the_vote_counts_once_for_them():
    walk = Walk(make_chain(approval(decide="all"), task()))
    events = walk.act("review", "approve", DELEGATE, on_behalf_of_id=10, comment="for Ana")
    assert events[0].actor_id == DELEGATE and events[0].on_behalf_of_id == 10
    assert walk.state.steps["review"].votes[10]["actor_id"] == DELEGATE
    assert DELEGATE not in walk.state.steps["review"].votes
    assert ("review", 10) not in open_tasks(walk.state)
    assert walk.refused("review", "approve", 10).code == "closed"  # already decided for 10
    assert walk.refused("review", "approve", DELEGATE, on_behalf_of_id=10).code == "closed"
    walk.act("review", "approve", 11)
    events = walk.act("review", "approve", DELEGATE, on_behalf_of_id=12)
    completed = dict(kinds(events))
    assert completed["step_completed"] == "review"
    assert all(e.actor_id == DELEGATE and e.on_behalf_of_id == 12 for e in events)


def test_acting_on_behalf_of_oneself_is_acting_directly():
    walk = Walk(make_chain(approval(), task()))
    events = walk.act("review", "approve", 10, on_behalf_of_id=10)
    assert events[0].on_behalf_of_id is None


def test_deciding_twice_is_refused_as_already_decided():
    walk = Walk(make_chain(approval(decide="all")))
    walk.act("review", "approve", 10)
    refused = walk.refused("review", "reject", 10)
    assert refused.code == "closed"
    assert refused.message() == "a decision by this person on this step is already recorded"


# --- refusals ----------------------------------------------------------------------------


def test_an_action_on_a_decided_step_is_closed():
    walk = Walk(make_chain(approval(), task()))
    walk.act("review", "approve", 10)
    refused = walk.refused("review", "approve", 11)
    assert refused.code == "closed"
    assert refused.message() == "this step was already decided"


def test_an_action_on_a_step_that_has_not_started_is_closed():
    walk = Walk(make_chain(approval(), task()))
    refused = walk.refused("work", "done", 10)
    assert (refused.code, refused.message()) == ("closed", "this step has not started yet")


def test_a_stale_revision_is_refused():
    walk = Walk(make_chain(approval()))
    refused = walk.refused("review", "approve", 10, revision=0)
    assert refused.code == "stale"
    assert refused.message() == (
        "the request has changed since you opened it (you saw revision 0, it is now at 1); "
        "reload it and decide again"
    )


def test_an_unknown_step_is_refused():
    walk = Walk(make_chain(approval()))
    refused = walk.refused("nope", "approve", 10)
    assert refused.code == "unknown_step"
    assert refused.message() == "there is no step named 'nope' in this chain"


@pytest.mark.parametrize(
    "step, verb",
    [("review", "done"), ("review", "confirm"), ("review", "bless"), ("work", "approve")],
)
def test_a_verb_the_step_kind_does_not_know_is_invalid(step, verb):
    walk = Walk(make_chain(approval(), task()))
    if step == "work":
        walk.act("review", "approve", 10)
    assert walk.refused(step, verb, 10).code == "invalid"


def test_a_finished_request_accepts_nothing_and_never_changes():
    walk = Walk(make_chain(approval(deadline="1 day", escalate_to={"role": "admin"})))
    walk.act("review", "approve", 10)
    assert walk.state.status == "completed"
    frozen = copy.deepcopy(walk.state.to_json())
    for verb in ("approve", "reject", "send_back", "comment"):
        refused = walk.refused("review", verb, 11, comment="x")
        assert refused.code == "closed"
        assert (
            refused.message() == "this request is finished (completed); nothing can change any more"
        )
    calls = [
        lambda: resubmit(walk.chain, walk.state, context(revision=5)),
        lambda: reassign(walk.chain, walk.state, "review", 11, 12, walk.ctx, ADMIN),
        lambda: escalate(walk.chain, walk.state, "review", walk.ctx),
    ]
    for call in calls:
        with pytest.raises(ActionRefused) as caught:
            call()
        assert caught.value.code == "closed"
    assert walk.state.to_json() == frozen


def test_the_state_passed_in_is_never_changed():
    walk = Walk(make_chain(approval(), task()))
    before = walk.state
    snapshot = copy.deepcopy(before.to_json())
    after = act(walk.chain, before, walk.action("review", "approve", 10), walk.ctx).state
    assert before.to_json() == snapshot
    assert after.status == "in_progress" and after.steps["review"].status == "approved"


# --- send back and revision --------------------------------------------------------------


def send_back_chain(keep):
    return make_chain(
        task("analysis"),
        approval(
            assignees={"group": "ccb"}, decide={"quorum": 2}, keep_approvals_on_send_back=keep
        ),
        task("plan"),
    )


def test_send_back_returns_the_request_to_the_requester():
    walk = Walk(send_back_chain(keep=False))
    walk.act("analysis", "done", 10)
    walk.act("review", "approve", 20)
    events = walk.act("review", "send_back", 21, comment="which systems?")
    assert kinds(events) == [
        ("sent_back", "review"),
        ("step_sent_back", "review"),
        ("request_sent_back", None),
    ]
    assert walk.state.status == "sent_back"
    assert walk.state.sent_back_step == "review"
    assert walk.status("review") == "sent_back"
    assert open_tasks(walk.state) == []
    refused = walk.refused("review", "approve", 22)
    assert refused.code == "closed"
    assert refused.message() == (
        "the request is back with the requester for changes; wait for the new revision"
    )


def test_comments_are_still_possible_while_sent_back():
    walk = Walk(send_back_chain(keep=False))
    walk.act("analysis", "done", 10)
    walk.act("review", "send_back", 21)
    before = walk.state.to_json()
    events = walk.act("review", "comment", REQUESTER, comment="I will add the systems")
    assert kinds(events) == [("commented", "review")]
    assert walk.state.to_json() == before


def test_resubmit_without_keeping_approvals_asks_everyone_again():
    walk = Walk(send_back_chain(keep=False))
    walk.act("analysis", "done", 10)
    walk.act("review", "approve", 20)
    walk.act("review", "send_back", 21)
    events = walk.resubmit({**LOW, "affected_systems": ["erp"]})
    assert kinds(events) == [("revised", None), ("step_reopened", "review")]
    assert events[0].before == {"status": "sent_back", "revision": 1}
    assert events[0].after == {"status": "in_progress", "revision": 2}
    assert events[0].actor_id == REQUESTER
    assert events[1].data == {"kept_approvals": []}
    assert walk.state.revision == 2 and walk.state.status == "in_progress"
    assert walk.status("analysis") == "done"  # no step before the sent-back one runs again
    assert walk.state.steps["review"].votes == {}
    assert open_tasks(walk.state) == [("review", 20), ("review", 21), ("review", 22)]
    walk.act("review", "approve", 21)
    assert walk.status("review") == "active"


def test_resubmit_keeping_approvals():
    walk = Walk(send_back_chain(keep=True))
    walk.act("analysis", "done", 10)
    walk.act("review", "approve", 20)
    walk.act("review", "send_back", 21)
    events = walk.resubmit()
    assert events[1].data == {"kept_approvals": [20]}
    assert open_tasks(walk.state) == [("review", 21), ("review", 22)]
    walk.act("review", "approve", 21)
    assert walk.status("review") == "approved"
    assert walk.status("plan") == "active"


def test_rejections_are_forgotten_on_a_new_revision():
    walk = Walk(send_back_chain(keep=True))
    walk.act("analysis", "done", 10)
    walk.act("review", "reject", 20)
    walk.act("review", "send_back", 21)
    walk.resubmit()
    assert walk.state.steps["review"].votes == {}


def test_an_action_on_the_old_revision_is_stale_after_a_resubmit():
    walk = Walk(send_back_chain(keep=False))
    walk.act("analysis", "done", 10)
    walk.act("review", "send_back", 21)
    walk.resubmit()
    assert walk.refused("review", "approve", 20, revision=1).code == "stale"
    walk.act("review", "approve", 20, revision=2)


def test_resubmit_refusals():
    walk = Walk(send_back_chain(keep=False))
    with pytest.raises(ActionRefused) as caught:
        resubmit(walk.chain, walk.state, context(revision=2))
    assert caught.value.code == "invalid"
    walk.act("analysis", "done", 10)
    walk.act("review", "send_back", 21)
    with pytest.raises(ActionRefused) as caught:
        resubmit(walk.chain, walk.state, context(revision=1))
    assert caught.value.code == "stale"


def test_only_approval_steps_send_back():
    walk = Walk(send_back_chain(keep=False))
    assert walk.refused("analysis", "send_back", 10).code == "invalid"


def test_a_new_revision_reroutes_the_stages_still_to_come():
    chain = make_chain(
        approval(),
        approval("ccb_review", assignees={"group": "ccb"}, when="impact == 'high'"),
        task("plan"),
    )
    walk = Walk(chain, LOW)
    walk.act("review", "send_back", 10)
    walk.resubmit(HIGH)
    walk.act("review", "approve", 10)
    assert walk.status("ccb_review") == "active"  # when is read when the stage starts


def test_the_deadline_is_cleared_when_a_step_opens_again():
    walk = Walk(send_back_chain(keep=False))
    walk.act("analysis", "done", 10)
    walk.state.steps["review"].deadline_at = "2026-03-04T09:00:00+00:00"  # the caller sets it
    walk.act("review", "approve", 20)
    assert walk.state.steps["review"].deadline_at == "2026-03-04T09:00:00+00:00"  # kept
    walk.act("review", "send_back", 21)
    walk.resubmit()
    assert walk.state.steps["review"].deadline_at is None


# --- the requester's steps and tasks -----------------------------------------------------


def requester_chain():
    return make_chain(
        {"name": "confirmation", "kind": "confirmation"},
        task("implementation"),
        {"name": "feedback", "kind": "feedback"},
    )


def test_the_requester_confirms():
    walk = Walk(requester_chain())
    assert open_tasks(walk.state) == [("confirmation", REQUESTER)]
    assert walk.refused("confirmation", "confirm", 10).code == "not_allowed"
    events = walk.act("confirmation", "confirm", REQUESTER, comment="ok for 3 days")
    assert kinds(events) == [
        ("confirmed", "confirmation"),
        ("step_completed", "confirmation"),
        ("step_started", "implementation"),
    ]
    assert walk.status("confirmation") == "done"


def test_a_delegate_of_the_requester_may_confirm_for_them():
    walk = Walk(requester_chain())
    events = walk.act("confirmation", "confirm", DELEGATE, on_behalf_of_id=REQUESTER)
    assert events[0].on_behalf_of_id == REQUESTER


def test_declining_the_confirmation_ends_the_request_as_declined():
    walk = Walk(requester_chain())
    events = walk.act("confirmation", "decline", REQUESTER, comment="too expensive")
    assert kinds(events) == [
        ("declined", "confirmation"),
        ("step_declined", "confirmation"),
        ("closed_declined", None),
    ]
    assert walk.state.status == "declined"


def test_a_task_is_done_by_any_one_assignee_and_feedback_ends_the_chain():
    walk = Walk(requester_chain())
    walk.act("confirmation", "confirm", REQUESTER)
    walk.act("implementation", "done", 12, comment="deployed")
    assert walk.status("implementation") == "done"
    assert walk.refused("feedback", "feedback", REQUESTER, data={"rating": 6}).code == "invalid"
    assert walk.refused("feedback", "feedback", REQUESTER).code == "invalid"
    assert walk.refused("feedback", "feedback", REQUESTER, data={"rating": True}).code == "invalid"
    events = walk.act("feedback", "feedback", REQUESTER, data={"rating": 5}, comment="great")
    assert kinds(events) == [
        ("feedback", "feedback"),
        ("step_completed", "feedback"),
        ("completed", None),
    ]
    assert events[0].data == {"revision": 1, "comment": "great", "data": {"rating": 5}}
    assert walk.state.status == "completed"
    assert walk.state.stage == 3


# --- routing -----------------------------------------------------------------------------


def test_a_step_whose_when_is_false_is_skipped_with_an_event():
    chain = make_chain(
        approval(when="impact != 'high'"),
        approval("ccb_review", assignees={"group": "ccb"}, when="impact == 'high'"),
        task("plan"),
    )
    low = Walk(chain, LOW)
    low.act("review", "approve", 10)
    assert kinds(low.last) == [
        ("approved", "review"),
        ("step_completed", "review"),
        ("step_skipped", "ccb_review"),
        ("step_started", "plan"),
    ]
    assert low.last[2].data == {"when": "impact == 'high'"}
    high = Walk(chain, HIGH)
    assert kinds(high.trace) == [
        ("submitted", None),
        ("step_skipped", "review"),
        ("step_started", "ccb_review"),
    ]


def test_a_chain_where_nothing_applies_completes_at_once():
    walk = Walk(make_chain(approval(when="flag"), task(when="flag")), {"flag": False})
    assert kinds(walk.trace) == [
        ("submitted", None),
        ("step_skipped", "review"),
        ("step_skipped", "work"),
        ("completed", None),
    ]
    assert walk.state.status == "completed" and walk.state.stage == 2


def test_when_reads_the_answers_too():
    chain = make_chain(approval(when="reason == 'legal' or budget > 5000"), task())
    assert Walk(chain, {"reason": "legal"}).status("review") == "active"
    assert Walk(chain, {"budget": "6000"}).status("review") == "active"
    assert Walk(chain, {"reason": "business"}).status("review") == "skipped"


# --- parallel groups ---------------------------------------------------------------------


def parallel_chain(**security):
    return make_chain(
        {
            "parallel": [
                approval("security", assignees={"group": "ccb"}, **security),
                approval("finance", assignees={"group": "managers"}),
            ]
        },
        task("plan"),
    )


def test_a_parallel_group_runs_at_once_and_waits_for_all():
    walk = Walk(parallel_chain())
    assert walk.status("security") == walk.status("finance") == "active"
    assert {step for step, _ in open_tasks(walk.state)} == {"security", "finance"}
    walk.act("finance", "approve", 30)
    assert walk.status("plan") == "waiting"
    events = walk.act("security", "approve", 20)
    assert kinds(events)[-1] == ("step_started", "plan")


def test_a_reject_in_a_parallel_group_cancels_the_other_steps():
    walk = Walk(parallel_chain())
    events = walk.act("security", "reject", 21)
    assert kinds(events) == [
        ("rejected", "security"),
        ("step_rejected", "security"),
        ("step_cancelled", "finance"),
        ("closed_rejected", None),
    ]
    assert walk.status("finance") == "cancelled"


def test_a_step_of_a_group_can_be_skipped():
    walk = Walk(parallel_chain(when="impact == 'high'"), LOW)
    assert walk.status("security") == "skipped"
    walk.act("finance", "approve", 31)
    assert walk.status("plan") == "active"


def test_a_send_back_in_a_group_pauses_the_other_steps_until_the_new_revision():
    walk = Walk(parallel_chain(keep_approvals_on_send_back=True, decide="all"))
    walk.act("security", "approve", 20)
    walk.act("finance", "send_back", 30)
    assert open_tasks(walk.state) == []
    assert walk.refused("security", "approve", 21).code == "closed"
    walk.resubmit()
    assert walk.status("security") == "active" and walk.status("finance") == "active"
    assert set(walk.state.steps["security"].votes) == {20}  # kept
    assert ("finance", 30) in open_tasks(walk.state)


# --- blocked steps, reassignment, escalation ---------------------------------------------


def test_a_step_whose_quorum_exceeds_its_people_is_blocked_when_it_starts():
    walk = Walk(make_chain(approval(assignees={"group": "pair"}, decide={"quorum": 3})))
    assert kinds(walk.trace)[-1] == ("step_blocked", "review")
    assert walk.trace[-1].data == {"reason": "quorum_unreachable", "needed": 3, "eligible": 2}
    assert open_tasks(walk.state) == []
    refused = walk.refused("review", "approve", 20)
    assert refused.code == "closed"
    assert refused.message() == "nobody can act on this step until an admin assigns people to it"
    events = walk.reassign("review", None, 40)
    assert kinds(events) == [("reassigned", "review"), ("step_unblocked", "review")]
    assert events[0].actor_id == ADMIN
    assert open_tasks(walk.state) == [("review", 20), ("review", 21), ("review", 40)]


def test_a_step_nobody_holds_is_blocked_and_escalation_unblocks_it():
    chain = make_chain(
        task(assignees={"group": "empty"}, deadline="1 day", escalate_to={"group": "managers"})
    )
    walk = Walk(chain)
    assert walk.trace[-1].data == {"reason": "no_assignees", "needed": 1, "eligible": 0}
    events = walk.escalate("work")
    assert kinds(events) == [("escalated", "work"), ("step_unblocked", "work")]
    assert events[0].actor_id is None
    assert events[0].data == {"rule": {"group": "managers"}, "added": [30, 31]}


def test_a_blocked_step_stays_blocked_until_enough_people_are_added():
    walk = Walk(make_chain(approval(assignees={"group": "empty"}, decide="all")))
    events = walk.reassign("review", None, 40)
    assert kinds(events) == [("reassigned", "review"), ("step_unblocked", "review")]
    walk = Walk(make_chain(approval(assignees={"group": "empty"}, decide={"quorum": 2})))
    assert kinds(walk.reassign("review", None, 40)) == [("reassigned", "review")]
    assert walk.status("review") == "blocked"


def test_reassign_hands_a_part_to_someone_else():
    walk = Walk(make_chain(approval(decide="all")))
    events = walk.reassign("review", 11, 40)
    assert events[0].before == {"assignees": [10, 11, 12]}
    assert events[0].after == {"assignees": [10, 40, 12]}
    assert events[0].data == {"from_user": 11, "to_user": 40}
    assert walk.refused("review", "approve", 11).code == "not_allowed"
    walk.act("review", "approve", 40)


@pytest.mark.parametrize(
    "from_user, to_user, code",
    [
        (77, 40, "invalid"),  # not an assignee
        (10, 11, "invalid"),  # already one
        (11, REQUESTER, "own_request"),
        (10, 40, "invalid"),  # 10 has decided already
    ],
)
def test_reassign_refusals(from_user, to_user, code):
    walk = Walk(make_chain(approval(decide="all")))
    walk.act("review", "approve", 10)
    with pytest.raises(ActionRefused) as caught:
        reassign(walk.chain, walk.state, "review", from_user, to_user, walk.ctx, ADMIN)
    assert caught.value.code == code


def test_escalation_adds_the_escalate_to_people_once():
    chain = make_chain(approval(deadline="2 working days", escalate_to={"role": "admin"}))
    walk = Walk(chain)
    events = walk.escalate("review")
    assert kinds(events) == [("escalated", "review")]
    assert events[0].after == {"assignees": [10, 11, 12, ADMIN]}
    assert walk.state.steps["review"].escalated_at == NOW.isoformat()
    with pytest.raises(ActionRefused) as caught:
        escalate(walk.chain, walk.state, "review", walk.ctx)
    assert caught.value.code == "closed"
    walk.act("review", "approve", ADMIN)
    assert walk.state.status == "completed"


def test_escalating_a_step_without_escalate_to_is_invalid():
    walk = Walk(make_chain(approval()))
    with pytest.raises(ActionRefused) as caught:
        escalate(walk.chain, walk.state, "review", walk.ctx)
    assert caught.value.code == "invalid"


# --- comments ----------------------------------------------------------------------------


def test_a_comment_leaves_a_trace_and_changes_nothing_else():
    walk = Walk(make_chain(approval()))
    before = walk.state.to_json()
    events = walk.act("review", "comment", 11, comment="Can you attach the quote?")
    assert kinds(events) == [("commented", "review")]
    assert events[0].data == {"comment": "Can you attach the quote?", "revision": 1}
    assert walk.state.to_json() == before
    walk.act("review", "comment", REQUESTER, comment="Attached.")
    assert walk.refused("review", "comment", 11, comment="  ").code == "invalid"
    assert walk.refused("review", "comment", 77, comment="hi").code == "not_allowed"


# --- the trace and storage ---------------------------------------------------------------


def test_state_round_trips_through_json():
    walk = Walk(parallel_chain(decide={"quorum": 2}))
    walk.act("security", "approve", DELEGATE, on_behalf_of_id=20)
    text = json.dumps(walk.state.to_json())
    assert State.from_json(text) == walk.state
    assert State.from_json(json.loads(text)) == walk.state
    data = json.loads(text)
    assert [step["name"] for step in data["steps"]] == ["security", "finance", "plan"]
    assert data["steps"][0]["votes"] == [
        {
            "user_id": 20,
            "verb": "approve",
            "revision": 1,
            "actor_id": DELEGATE,
            "at": NOW.isoformat(),
        }
    ]


def test_events_are_plain_data():
    walk = Walk(parallel_chain())
    walk.act("security", "reject", 21, comment="no")
    text = json.dumps([event.to_dict() for event in walk.trace])
    assert json.loads(text)[0]["kind"] == "submitted"
    assert all(isinstance(event, Event) for event in walk.trace)


def test_every_action_event_kind_is_distinct_from_the_transition_kinds():
    assert not set(ACTION_EVENTS.values()) & TRANSITION_KINDS


# --- the standard seven-step process -----------------------------------------------------


def seven_steps():
    return load_chain(SHIPPED, field_names=FIELDS)


def test_the_seven_step_process_end_to_end_for_a_low_impact_change():
    walk = Walk(seven_steps(), LOW)
    walk.act("analysis", "done", 10, comment="impact confirmed: low")
    walk.act("review", "approve", 11)
    walk.act("confirmation", "confirm", REQUESTER)
    walk.act("plan_adjustment", "done", 12)
    walk.act("implementation", "done", 10)
    walk.act("feedback", "feedback", REQUESTER, data={"rating": 4})
    assert walk.state.status == "completed"
    assert kinds(walk.trace) == [
        ("submitted", None),
        ("step_started", "analysis"),
        ("done", "analysis"),
        ("step_completed", "analysis"),
        ("step_started", "review"),
        ("approved", "review"),
        ("step_completed", "review"),
        ("step_skipped", "ccb_review"),
        ("step_started", "confirmation"),
        ("confirmed", "confirmation"),
        ("step_completed", "confirmation"),
        ("step_started", "plan_adjustment"),
        ("done", "plan_adjustment"),
        ("step_completed", "plan_adjustment"),
        ("step_started", "implementation"),
        ("done", "implementation"),
        ("step_completed", "implementation"),
        ("step_started", "feedback"),
        ("feedback", "feedback"),
        ("step_completed", "feedback"),
        ("completed", None),
    ]
    statuses = {name: st.status for name, st in walk.state.steps.items()}
    assert statuses == {
        "analysis": "done",
        "review": "approved",
        "ccb_review": "skipped",
        "confirmation": "done",
        "plan_adjustment": "done",
        "implementation": "done",
        "feedback": "done",
    }


def test_the_seven_step_process_sends_a_high_impact_change_to_the_board():
    walk = Walk(seven_steps(), HIGH)
    walk.act("analysis", "done", 10)
    assert walk.status("review") == "skipped"
    assert open_tasks(walk.state) == [("ccb_review", 20), ("ccb_review", 21), ("ccb_review", 22)]
    walk.act("ccb_review", "approve", 20)
    walk.act("ccb_review", "send_back", 21, comment="split it in two")
    walk.resubmit()
    assert set(walk.state.steps["ccb_review"].votes) == {20}  # the board keeps approvals
    walk.act("ccb_review", "approve", 22, revision=2)
    assert walk.status("confirmation") == "active"
    walk.act("confirmation", "decline", REQUESTER, comment="too late for us")
    assert walk.state.status == "declined"
