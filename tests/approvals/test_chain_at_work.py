"""The standard change process walked through the portal by its people, as they would:
the client submits, the team analyses and reviews (or the board decides), the client
confirms, the change is planned and done, the client gives feedback. Every step leaves
its trace; decisions are refused clearly when they cannot be taken."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.accounts.models import Role, User
from portal.approvals.models import Delegation, Group, Task
from portal.audit.trace import entries_for, verify
from portal.database import utcnow
from portal.extensions import db
from portal.notifications.models import Notification
from portal.requests.models import ChangeRequest
from tests.conftest import csrf_token

LOW = {
    "title": "Add a CSV export",
    "description": "Finance needs the monthly report as CSV.",
    "reason": "business",
    "business_value": "medium",
    "affected_systems": ["reporting"],
    "impact_cost": "low",
    "impact_time": "low",
    "impact_resources": "low",
    "impact_risk": "low",
}
HIGH = {**LOW, "title": "Replace the ERP", "impact_cost": "high"}


class Team:
    """The demo's people, each with a browser of their own."""

    def __init__(self, app, accounts):
        self.app = app
        acme = accounts.organisation("Acme Ltd", timezone="Europe/London")
        people = {
            "dana": ("dana@acme.test", Role.CLIENT, acme),
            "bo": ("bo@portal.test", Role.APPROVER, None),
            "chen": ("chen@portal.test", Role.APPROVER, None),
            "ada": ("ada@portal.test", Role.ADMIN, None),
        }
        self.ids = {}
        self.browsers = {}
        for key, (email, role, org) in people.items():
            self.ids[key] = accounts.user(email, role, org, name=key.title())
            self.browsers[key] = app.test_client()
            accounts.login(self.browsers[key], email)
        with app.app_context():
            board = Group(name="ccb", title="Change control board")
            board.members = [db.session.get(User, self.ids[k]) for k in ("bo", "chen", "ada")]
            db.session.add(board)
            db.session.commit()

    def submit(self, answers: dict) -> str:
        dana = self.browsers["dana"]
        token = csrf_token(dana, "/forms/change-request/new")
        response = dana.post("/forms/change-request/submit", data={**answers, "csrf_token": token})
        assert response.status_code == 302, response.get_data(as_text=True)
        return response.location.split("/")[2]

    def act(self, who: str, number: str, step: str, verb: str, *, htmx=True, **extra):
        browser = self.browsers[who]
        page = browser.get(f"/requests/{number}").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        revision = re.search(r'name="revision" value="(\d+)"', page)
        data = {
            "csrf_token": token,
            "step": step,
            "verb": verb,
            "revision": extra.pop("revision", revision.group(1) if revision else "1"),
            **extra,
        }
        headers = {"HX-Request": "true"} if htmx else {}
        return browser.post(f"/requests/{number}/act", data=data, headers=headers)

    def request(self, number: str) -> ChangeRequest:
        return db.session.scalar(select(ChangeRequest).where(ChangeRequest.number == number))

    def status(self, number: str) -> str:
        with self.app.app_context():
            return self.request(number).status

    def events(self, number: str) -> list[str]:
        with self.app.app_context():
            return [e.event for e in entries_for(self.request(number).id)]


@pytest.fixture
def team(app, accounts, change_request_form):
    return Team(app, accounts)


def test_all_seven_steps_walked_by_their_people(app, team):
    number = team.submit(LOW)
    assert team.status(number) == "in_review"
    page = team.browsers["bo"].get(f"/requests/{number}").get_data(as_text=True)
    assert "Analysis" in page and "Mark as done" in page
    assert "Waiting on" in page

    assert team.act("bo", number, "analysis", "done", comment="Small change").status_code == 200
    html = team.act("chen", number, "review", "approve").get_data(as_text=True)
    assert "Your approval is saved." in html
    assert team.status(number) == "awaiting_confirmation"
    client_page = team.browsers["dana"].get(f"/requests/{number}").get_data(as_text=True)
    assert "Please confirm the change as assessed" in client_page
    assert team.act("dana", number, "confirmation", "confirm").status_code == 200
    assert team.status(number) == "in_progress"
    assert team.act("bo", number, "plan_adjustment", "done").status_code == 200
    assert team.act("chen", number, "implementation", "done").status_code == 200
    assert team.status(number) == "awaiting_feedback"
    response = team.act("dana", number, "feedback", "feedback", rating="5", comment="Great")
    assert response.status_code == 200
    assert team.status(number) == "completed"

    events = team.events(number)
    assert events[0] == "submitted"
    for kind in ("done", "approved", "confirmed", "feedback", "completed", "step_skipped"):
        assert kind in events, kind
    with app.app_context():
        assert verify().ok
        change = team.request(number)
        assert change.closed_at is not None
        assert not db.session.scalars(select(Task).where(Task.open.is_(True))).all()
    timeline = team.browsers["dana"].get(f"/requests/{number}").get_data(as_text=True)
    assert "Rating: 5 of 5" in timeline and "Great" in timeline
    # A finished request takes no more decisions.
    late = team.act("bo", number, "implementation", "done")
    assert late.status_code == 409


def test_a_high_impact_change_goes_to_the_board_with_a_quorum_of_two(app, team):
    number = team.submit(HIGH)
    team.act("bo", number, "analysis", "done")
    page = team.browsers["chen"].get(f"/requests/{number}").get_data(as_text=True)
    assert "Change control board" in page and "Approvals so far: 0 of the 2 needed." in page
    assert team.act("chen", number, "ccb_review", "approve").status_code == 200
    assert team.status(number) == "in_review"
    assert team.act("ada", number, "ccb_review", "approve").status_code == 200
    assert team.status(number) == "awaiting_confirmation"
    events = team.events(number)
    assert events.count("approved") == 2 and "step_skipped" in events  # review skipped


def test_a_board_veto_rejects_the_request(app, team):
    number = team.submit(HIGH)
    team.act("bo", number, "analysis", "done")
    team.act("chen", number, "ccb_review", "approve")
    response = team.act("ada", number, "ccb_review", "reject", comment="Too risky this year")
    assert response.status_code == 200
    assert team.status(number) == "rejected"
    assert "closed_rejected" in team.events(number)


def test_reject_and_send_back_need_a_reason(team):
    number = team.submit(LOW)
    team.act("bo", number, "analysis", "done")
    response = team.act("chen", number, "review", "reject")
    assert response.status_code == 400
    assert "Say why in a comment" in response.get_data(as_text=True)
    assert team.status(number) == "in_review"


def test_send_back_revise_and_see_the_difference(app, team):
    number = team.submit(LOW)
    team.act("bo", number, "analysis", "done")
    response = team.act("chen", number, "review", "send_back", comment="Which report exactly?")
    assert response.status_code == 200
    assert team.status(number) == "sent_back"
    dana = team.browsers["dana"]
    page = dana.get(f"/requests/{number}").get_data(as_text=True)
    assert "Which report exactly?" in page and "Change my answers and send again" in page

    form = dana.get(f"/requests/{number}/revise").get_data(as_text=True)
    assert 'value="Add a CSV export"' in form  # the answers as they were
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    revised = {**LOW, "title": "Add a CSV export to the monthly sales report", "csrf_token": token}
    bad = dana.post(f"/requests/{number}/revise", data={**revised, "title": "ab"})
    assert bad.status_code == 422 and "Enter between 5 and 120 characters." in bad.get_data(
        as_text=True
    )

    def told(who: str) -> int:
        with app.app_context():
            return len(
                db.session.scalars(
                    select(Notification).where(
                        Notification.user_id == team.ids[who], Notification.kind == "action_needed"
                    )
                ).all()
            )

    before = told("chen")
    response = dana.post(f"/requests/{number}/revise", data=revised)
    assert response.status_code == 302
    assert team.status(number) == "in_review"
    assert told("chen") == before + 1  # the review is back with Chen, who is told so

    page = team.browsers["chen"].get(f"/requests/{number}").get_data(as_text=True)
    assert "Changed in revision 2" in page
    assert "<del>Add a CSV export</del>" in page
    assert "<ins>Add a CSV export to the monthly sales report</ins>" in page
    # The old revision's approval form is stale now.
    stale = team.act("chen", number, "review", "approve", revision="1")
    assert stale.status_code == 409 and "reload it and decide again" in stale.get_data(as_text=True)
    assert team.act("chen", number, "review", "approve").status_code == 200
    with app.app_context():
        revised_entry = [e for e in entries_for(team.request(number).id) if e.event == "revised"]
        assert revised_entry[0].after["answers"] == {"title": revised["title"]}


def test_a_delegate_acts_on_behalf_of_the_assignee(app, team, accounts):
    number = team.submit(LOW)
    team.act("bo", number, "analysis", "done")
    # Chen is away; Ada (an admin, not on the step herself) stands in for Chen.
    with app.app_context():
        today = utcnow().date()
        db.session.add(
            Delegation(user_id=team.ids["chen"], delegate_id=team.ids["ada"],
                       starts_on=today - timedelta(days=1), ends_on=today + timedelta(days=1))
        )  # fmt: skip
        db.session.commit()
    page = team.browsers["ada"].get(f"/requests/{number}").get_data(as_text=True)
    assert "You act on behalf of Chen." in page
    assert team.act("ada", number, "review", "approve").status_code == 200
    timeline = team.browsers["dana"].get(f"/requests/{number}").get_data(as_text=True)
    assert "Ada on behalf of Chen" in timeline
    with app.app_context():
        entry = [e for e in entries_for(team.request(number).id) if e.event == "approved"][0]
        assert (entry.actor_id, entry.on_behalf_of_id) == (team.ids["ada"], team.ids["chen"])


def test_nobody_approves_their_own_request_and_outsiders_cannot_act(app, team, accounts):
    number = team.submit(LOW)
    team.act("bo", number, "analysis", "done")
    own = team.act("dana", number, "review", "approve")
    assert own.status_code == 403
    outsider_org = accounts.organisation("Globex")
    accounts.user("gus@globex.test", Role.CLIENT, outsider_org)
    gus = app.test_client()
    accounts.login(gus, "gus@globex.test")
    token = csrf_token(gus, "/")
    response = gus.post(
        f"/requests/{number}/act",
        data={"csrf_token": token, "step": "review", "verb": "approve", "revision": "1"},
    )
    assert response.status_code == 404
    assert team.status(number) == "in_review"


def test_the_inbox_lists_what_waits_on_me_soonest_first(app, team):
    first = team.submit(LOW)
    second = team.submit({**LOW, "title": "Second change"})
    with app.app_context():  # the second is due sooner
        task = db.session.scalar(
            select(Task)
            .join(ChangeRequest)
            .where(ChangeRequest.number == second, Task.user_id == team.ids["bo"])
        )
        task.due_at = utcnow() - timedelta(hours=1)
        db.session.commit()
    inbox = team.browsers["bo"].get("/inbox").get_data(as_text=True)
    assert inbox.index(second) < inbox.index(first)
    assert "Overdue since" in inbox
    overdue_only = team.browsers["bo"].get("/inbox?overdue=1").get_data(as_text=True)
    assert second in overdue_only and first not in overdue_only
    assert "Nothing waits on you." in team.browsers["dana"].get("/inbox").get_data(as_text=True)


def test_two_approvers_at_the_same_moment_make_one_decision(app, team):
    """Real threads, each with its own browser and database connection."""
    number = team.submit(LOW)
    team.act("bo", number, "analysis", "done")
    pages = {
        k: team.browsers[k].get(f"/requests/{number}").get_data(as_text=True)
        for k in ("bo", "chen")
    }
    results: dict[str, int] = {}
    barrier = threading.Barrier(2)

    def press(who: str) -> None:
        token = re.search(r'name="csrf_token" value="([^"]+)"', pages[who]).group(1)
        barrier.wait()
        response = team.browsers[who].post(
            f"/requests/{number}/act",
            data={"csrf_token": token, "step": "review", "verb": "approve", "revision": "1"},
            headers={"HX-Request": "true"},
        )
        results[who] = response.status_code

    threads = [threading.Thread(target=press, args=(who,)) for who in ("bo", "chen")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results.values()) == [200, 409]
    assert team.events(number).count("approved") == 1
    assert team.status(number) == "awaiting_confirmation"
    with app.app_context():
        assert verify().ok


def test_notifications_go_to_the_next_people(app, team):
    number = team.submit(LOW)
    bell = team.browsers["bo"].get("/notifications").get_data(as_text=True)
    assert number in bell
    team.act("bo", number, "analysis", "done")
    team.act("chen", number, "review", "approve")
    dana = team.browsers["dana"].get("/notifications").get_data(as_text=True)
    assert number in dana


def test_an_admin_reassigns_a_step(app, team, accounts):
    number = team.submit(LOW)
    dee = accounts.user("dee@portal.test", Role.APPROVER, name="Dee")
    ada = team.browsers["ada"]
    page = ada.get(f"/requests/{number}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = ada.post(
        f"/requests/{number}/reassign",
        data={"csrf_token": token, "step": "analysis", "from_user": team.ids["bo"], "to_user": dee},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "The step is reassigned." in response.get_data(as_text=True)
    with app.app_context():
        open_people = {
            t.user_id for t in db.session.scalars(select(Task).where(Task.open.is_(True)))
        }
        assert dee in open_people and team.ids["bo"] not in open_people
    assert "reassigned" in team.events(number)
    # Only admins may.
    bo = team.browsers["bo"]
    token = csrf_token(bo, f"/requests/{number}")
    denied = bo.post(
        f"/requests/{number}/reassign",
        data={"csrf_token": token, "step": "analysis", "to_user": team.ids["bo"]},
    )
    assert denied.status_code == 403
