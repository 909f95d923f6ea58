"""``portal demo`` walks sample requests through the real chain, and ``portal groups`` /
``organisations`` / ``delegations`` keep who acts on a step."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal import demo
from portal.accounts.models import Organisation, Role, User
from portal.approvals import engine, service
from portal.approvals.cli import delegations, groups, organisations
from portal.approvals.models import Delegation, Group, Task, organisation_approvers
from portal.audit.models import TraceEntry
from portal.audit.trace import entries_for, verify
from portal.database import utcnow
from portal.demo import demo_command
from portal.extensions import db
from portal.notifications.models import Notification
from portal.requests.models import ChangeRequest
from tests.approvals.test_chain_at_work import HIGH

# title: (status, the step it waits on, what the client reads on "/")
EXPECTED = {
    "A dark mode for the website": ("in_review", "analysis", "In review"),
    "Add a CSV export to the monthly report": ("in_review", "review", "In review"),
    "Move the ERP to a new data centre": ("in_review", "ccb_review", "In review"),
    "A new field on the customer record": ("sent_back", "review", "Sent back for changes"),
    "Change the invoice footer address": (
        "awaiting_confirmation", "confirmation", "Awaiting the client's confirmation",
    ),
    "Show the delivery status in the customer portal": (
        "in_progress", "implementation", "In progress",
    ),
    "Single sign-on with our Azure AD": ("completed", None, "Completed"),
    "Rebuild the website with a new framework": ("rejected", None, "Rejected"),
}  # fmt: skip
ROW = re.compile(
    r'<span class="title">(?P<title>[^<]*)</span>\s*'
    r'<span class="status status--(?P<status>\w+)">(?P<label>[^<]*)</span>'
)


def run_demo(app):
    result = app.test_cli_runner().invoke(demo_command)
    assert result.exit_code == 0, result.output
    return result.output


def by_title(title: str) -> ChangeRequest:
    return db.session.scalar(select(ChangeRequest).where(ChangeRequest.title == title))


def actions(change: ChangeRequest) -> list[tuple[str, str, str, dict]]:
    """(who, step, what, data) for each decision in the request's trace."""
    emails = dict(db.session.execute(select(User.id, User.email)).all())
    kinds = set(engine.ACTION_EVENTS.values())
    return [
        (emails[e.actor_id].split("@")[0], e.step, e.event, e.data or {})
        for e in entries_for(change.id)
        if e.event in kinds
    ]


def counts() -> dict[str, int]:
    return {
        model.__name__: db.session.scalar(select(func.count()).select_from(model))
        for model in (User, ChangeRequest, TraceEntry, Task, Notification, Group, Delegation)
    } | {"approvers": db.session.scalar(select(func.count()).select_from(organisation_approvers))}


# -- portal demo ------------------------------------------------------------------------------


def test_demo_puts_a_request_at_every_step_by_walking_the_chain(app):
    output = run_demo(app)
    assert "admin@example.com" in output and "http://127.0.0.1:5000" in output
    assert "in_review at ccb_review: Move the ERP to a new data centre" in output
    with app.app_context():
        assert db.session.scalar(select(func.count(ChangeRequest.id))) == len(EXPECTED)
        for title, (status, step, _label) in EXPECTED.items():
            change = by_title(title)
            assert (change.status, demo.where_it_stands(change)) == (status, step), title
            assert [e.event for e in entries_for(change.id)][0] == "submitted"

        board = db.session.scalar(select(Group).where(Group.name == "ccb"))
        assert board.title == "Change control board"
        assert sorted(u.email for u in board.members) == [
            "admin@example.com", "approver1@example.com", "approver2@example.com",
        ]  # fmt: skip
        acme = db.session.scalar(select(Organisation).where(Organisation.name == "Acme Ltd"))
        assert db.session.execute(
            select(User.email)
            .join(organisation_approvers, organisation_approvers.c.user_id == User.id)
            .where(organisation_approvers.c.organisation_id == acme.id)
        ).scalars().all() == ["approver1@example.com"]

        # The board has one of the two approvals it needs; the others still have it to do.
        erp = by_title("Move the ERP to a new data centre")
        assert erp.impact == "high"
        state = service.state_of(erp)
        assert engine.tally(service.chain_of(erp.form_version).step("ccb_review"),
                            state.steps["ccb_review"])["approvals"] == 1  # fmt: skip
        assert state.steps["review"].status == "skipped"
        waiting = db.session.scalars(
            select(User.email)
            .join(Task, Task.user_id == User.id)
            .where(Task.request_id == erp.id, Task.open.is_(True))
            .order_by(User.email)
        ).all()
        assert waiting == ["admin@example.com", "approver2@example.com"]

        low = by_title("Add a CSV export to the monthly report")
        assert low.impact == "low"
        review = service.state_of(low).steps["review"]
        assert review.status == "active" and review.votes == {}

        sent_back = actions(by_title("A new field on the customer record"))
        assert sent_back[-1][:3] == ("approver1", "review", "sent_back")
        assert "Which field exactly" in sent_back[-1][3]["comment"]

        completed = actions(by_title("Single sign-on with our Azure AD"))
        assert [(who, step, what) for who, step, what, _ in completed] == [
            ("approver1", "analysis", "done"),
            ("approver1", "ccb_review", "approved"),
            ("admin", "ccb_review", "approved"),
            ("client2", "confirmation", "confirmed"),
            ("approver2", "plan_adjustment", "done"),
            ("approver1", "implementation", "done"),
            ("client2", "feedback", "feedback"),
        ]
        assert completed[-1][3]["data"] == {"rating": 5}
        assert by_title("Single sign-on with our Azure AD").closed_at is not None

        rejected = by_title("Rebuild the website with a new framework")
        assert actions(rejected)[-1][:3] == ("admin", "ccb_review", "rejected")
        assert service.state_of(rejected).steps["ccb_review"].status == "rejected"

        result = verify()
        assert result.ok and result.checked > 50


def test_running_the_demo_again_adds_nothing(app):
    run_demo(app)
    with app.app_context():
        before = counts()
    output = run_demo(app)
    assert "(nothing new)" in output
    with app.app_context():
        assert counts() == before
        assert before["ChangeRequest"] == len(EXPECTED) and before["User"] == 5
        assert verify().ok


def test_an_interrupted_walk_goes_on_where_it_stopped(app, monkeypatch):
    halfway = [replace(s, walk=s.walk[: len(s.walk) // 2]) for s in demo.SAMPLES]
    monkeypatch.setattr(demo, "SAMPLES", halfway)
    run_demo(app)
    with app.app_context():
        assert by_title("Single sign-on with our Azure AD").status == "awaiting_confirmation"
    monkeypatch.undo()
    run_demo(app)
    with app.app_context():
        for title, (status, step, _label) in EXPECTED.items():
            change = by_title(title)
            assert (change.status, demo.where_it_stands(change)) == (status, step), title
        assert verify().ok


def test_a_request_someone_acted_on_is_left_as_they_left_it(app, monkeypatch):
    csv = "Add a CSV export to the monthly report"
    monkeypatch.setattr(
        demo, "SAMPLES", [replace(s, walk=()) if s.title == csv else s for s in demo.SAMPLES]
    )
    run_demo(app)
    monkeypatch.undo()
    with app.app_context():
        change = by_title(csv)
        chen = db.session.scalar(select(User).where(User.email == "approver2@example.com"))
        service.perform(change.id, chen, step="analysis", verb="done", revision=1)
        service.perform(change.id, chen, step="review", verb="approve", revision=1)
        db.session.commit()
    output = run_demo(app)
    assert "(nothing new)" in output
    with app.app_context():
        change = by_title(csv)
        assert change.status == "awaiting_confirmation"
        assert [who for who, *_ in actions(change)] == ["approver2", "approver2"]


def test_a_demo_client_sees_their_organisations_requests_and_where_they_stand(
    app, client, accounts
):
    run_demo(app)
    response = accounts.login(client, "client1@example.com", demo.DEMO_PASSWORD)
    assert response.status_code == 302
    listing = client.get("/").get_data(as_text=True)
    rows = {html.unescape(m["title"]): (m["status"], html.unescape(m["label"]).strip())
            for m in ROW.finditer(listing)}  # fmt: skip
    assert rows == {title: (status, label) for title, (status, _, label) in EXPECTED.items()}

    with app.app_context():
        number = by_title("A new field on the customer record").number
    page = html.unescape(client.get(f"/requests/{number}").get_data(as_text=True))
    assert "Which field exactly, and who fills it in?" in page

    other = accounts.organisation("Other Co")
    accounts.user("olga@other.test", Role.CLIENT, other)
    outsider = app.test_client()
    accounts.login(outsider, "olga@other.test")
    assert not ROW.search(outsider.get("/").get_data(as_text=True))


def test_demo_approvers_find_their_part_in_the_inbox_and_carry_on(app, accounts):
    run_demo(app)
    chen = app.test_client()
    assert accounts.login(chen, "approver2@example.com", demo.DEMO_PASSWORD).status_code == 302
    inbox = html.unescape(chen.get("/inbox").get_data(as_text=True))
    for title in (
        "Move the ERP to a new data centre",
        "Add a CSV export to the monthly report",
        "A dark mode for the website",
        "Show the delivery status in the customer portal",
    ):
        assert title in inbox, title  # fmt: skip
    assert "Single sign-on with our Azure AD" not in inbox

    with app.app_context():
        number = by_title("Move the ERP to a new data centre").number
    page = chen.get(f"/requests/{number}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = chen.post(
        f"/requests/{number}/act",
        data={"csrf_token": token, "step": "ccb_review", "verb": "approve", "revision": "1"},
    )
    assert response.status_code == 302
    with app.app_context():
        change = by_title("Move the ERP to a new data centre")
        assert (change.status, demo.where_it_stands(change)) == (
            "awaiting_confirmation", "confirmation",
        )  # fmt: skip
        assert verify().ok


# -- portal groups ----------------------------------------------------------------------------


def invoke(app, group, *args):
    return app.test_cli_runner().invoke(group, list(args))


@pytest.fixture
def staff(accounts):
    org = accounts.organisation("Acme Ltd")
    return {
        "bo": accounts.user("bo@portal.test", Role.APPROVER),
        "chen": accounts.user("chen@portal.test", Role.APPROVER),
        "ada": accounts.user("ada@portal.test", Role.ADMIN),
        "dana": accounts.user("dana@acme.test", Role.CLIENT, org),
        "org": org,
    }


def members(app, name: str) -> list[str]:
    with app.app_context():
        group = db.session.scalar(select(Group).where(Group.name == name))
        return sorted(u.email for u in group.members)


def test_groups_create_add_remove_and_list(app, staff):
    made = invoke(app, groups, "create", "ccb", "--title", "Change control board")
    assert made.exit_code == 0 and "Created the group ccb" in made.output
    again = invoke(app, groups, "create", "ccb", "--title", "Change control board")
    assert again.exit_code == 0 and "already there (nothing changed)" in again.output
    retitled = invoke(app, groups, "create", "ccb", "--title", "The board")
    assert "its title changed from 'Change control board'" in retitled.output

    added = invoke(app, groups, "add", "ccb", "bo@portal.test", "Chen@Portal.test")
    assert added.exit_code == 0, added.output
    assert members(app, "ccb") == ["bo@portal.test", "chen@portal.test"]
    twice = invoke(app, groups, "add", "ccb", "bo@portal.test", "ada@portal.test")
    assert "bo@portal.test is already in ccb." in twice.output
    assert members(app, "ccb") == ["ada@portal.test", "bo@portal.test", "chen@portal.test"]

    removed = invoke(app, groups, "remove", "ccb", "ada@portal.test", "ada@portal.test")
    assert removed.exit_code == 0 and "Removed ada@portal.test from ccb." in removed.output
    gone = invoke(app, groups, "remove", "ccb", "ada@portal.test")
    assert gone.exit_code == 0 and "ada@portal.test was not in ccb." in gone.output

    listing = invoke(app, groups, "list").output
    assert "ccb: The board (2 members)" in listing
    assert "bo@portal.test (Bo, approver)" in listing


def test_groups_refuse_bad_input_and_change_nothing(app, staff):
    bad_name = invoke(app, groups, "create", "Change Board", "--title", "")
    assert bad_name.exit_code == 1
    assert "'Change Board' cannot be a group name" in bad_name.output
    assert "the title needs 1 to 200 characters" in bad_name.output
    unknown = invoke(app, groups, "add", "ccb", "bo@portal.test")
    assert unknown.exit_code == 1 and "there is no group called 'ccb' (groups: none)" in (
        unknown.output
    )

    invoke(app, groups, "create", "ccb", "--title", "Change control board")
    refused = invoke(
        app, groups, "add", "ccb", "bo@portal.test", "nobody@portal.test", "dana@acme.test"
    )
    assert refused.exit_code == 1
    assert "nothing was changed" in refused.output
    assert "no user has the address nobody@portal.test" in refused.output
    assert (
        "dana@acme.test is a Client; only approvers and admins can be group members"
        in refused.output
    )
    assert members(app, "ccb") == []  # bo was not added either


def test_a_group_made_on_the_command_line_is_the_board_a_request_goes_to(
    app, staff, change_request_form
):
    invoke(app, groups, "create", "ccb", "--title", "Change control board")
    invoke(app, groups, "add", "ccb", "bo@portal.test", "chen@portal.test", "ada@portal.test")
    with app.app_context():
        dana = db.session.get(User, staff["dana"])
        change = ChangeRequest(
            number="CR-TEST-1",
            form_version_id=change_request_form,
            organisation_id=staff["org"],
            requester=dana,
            title=HIGH["title"],
            answers=HIGH,
        )
        db.session.add(change)
        db.session.flush()
        service.start(change, dana)
        bo = db.session.get(User, staff["bo"])
        service.perform(change.id, bo, step="analysis", verb="done", revision=1)
        db.session.commit()
        state = service.state_of(change)
        assert state.steps["ccb_review"].status == "active"
        assert sorted(state.steps["ccb_review"].assignees) == sorted(
            [staff["bo"], staff["chen"], staff["ada"]]
        )


# -- portal organisations approvers -----------------------------------------------------------


def test_organisation_approvers_add_remove_list(app, staff):
    added = invoke(app, organisations, "approvers", "add", "Acme Ltd", "bo@portal.test")
    assert added.exit_code == 0 and "bo@portal.test now approves for Acme Ltd." in added.output
    again = invoke(app, organisations, "approvers", "add", "Acme Ltd", "bo@portal.test")
    assert "bo@portal.test already approves for Acme Ltd." in again.output
    listing = invoke(app, organisations, "approvers", "list").output
    assert "Acme Ltd:" in listing and "bo@portal.test (Bo, approver)" in listing

    with app.app_context():
        from portal.default_plugins.approver_rules import by_organisation

        change = ChangeRequest(organisation_id=staff["org"])
        assert by_organisation(True, change) == {staff["bo"]}

    removed = invoke(app, organisations, "approvers", "remove", "Acme Ltd", "bo@portal.test")
    assert "bo@portal.test no longer approves for Acme Ltd." in removed.output
    listing = invoke(app, organisations, "approvers", "list", "Acme Ltd").output
    assert "Acme Ltd: no account approvers" in listing


def test_organisation_approvers_refuse_bad_input(app, staff):
    unknown = invoke(app, organisations, "approvers", "add", "Acme", "bo@portal.test")
    assert unknown.exit_code == 1
    assert "there is no organisation called 'Acme' (organisations: Acme Ltd)" in unknown.output
    client = invoke(app, organisations, "approvers", "add", "Acme Ltd", "dana@acme.test")
    assert client.exit_code == 1
    assert "only approvers and admins can be account approvers" in client.output
    nobody = invoke(app, organisations, "approvers", "remove", "Acme Ltd", "x@nowhere.test")
    assert nobody.exit_code == 1 and "no user has the address x@nowhere.test" in nobody.output


# -- portal delegations -----------------------------------------------------------------------


def test_delegations_add_list_remove(app, staff):
    today = utcnow().date()
    start, end = str(today), str(today + timedelta(days=6))
    args = ["add", "--from", "bo@portal.test", "--to", "chen@portal.test", "--start", start,
            "--end", end]  # fmt: skip
    made = invoke(app, delegations, *args)
    assert made.exit_code == 0, made.output
    assert f"chen@portal.test acts for bo@portal.test from {start} to {end}." in made.output
    again = invoke(app, delegations, *args)
    assert again.exit_code == 0 and "already there" in again.output
    with app.app_context():
        assert db.session.scalar(select(func.count(Delegation.id))) == 1
        delegation_id = db.session.scalar(select(Delegation.id))

    listing = invoke(app, delegations, "list").output
    assert f"#{delegation_id} chen@portal.test for bo@portal.test: {start} to {end} (now)" in (
        listing
    )
    removed = invoke(app, delegations, "remove", str(delegation_id))
    assert removed.exit_code == 0 and f"Removed delegation #{delegation_id}" in removed.output
    assert "No delegations now or to come." in invoke(app, delegations, "list").output
    missing = invoke(app, delegations, "remove", str(delegation_id))
    assert missing.exit_code == 1 and f"there is no delegation #{delegation_id}" in missing.output
    with app.app_context():  # both left their trace
        from portal.audit.models import TraceEntry

        trace = db.session.scalars(select(TraceEntry).order_by(TraceEntry.seq)).all()
        assert [e.event for e in trace][-2:] == ["delegated", "delegation_removed"]
        assert trace[-2].after["starts_on"] == start and trace[-2].after["ends_on"] == end


def test_a_delegate_named_on_the_command_line_decides_on_behalf(app, staff, change_request_form):
    today = str(utcnow().date())
    invoke(app, delegations, "add", "--from", "bo@portal.test", "--to", "ada@portal.test",
           "--start", today, "--end", today)  # fmt: skip
    with app.app_context():
        dana = db.session.get(User, staff["dana"])
        change = ChangeRequest(
            number="CR-TEST-2",
            form_version_id=change_request_form,
            organisation_id=staff["org"],
            requester=dana,
            title="Delegated",
            answers={**HIGH, "title": "Delegated", "impact_cost": "low"},
        )
        db.session.add(change)
        db.session.flush()
        service.start(change, dana)
        ada = db.session.get(User, staff["ada"])  # an admin: not an assignee of analysis
        service.perform(change.id, ada, step="analysis", verb="done", revision=1)
        db.session.commit()
        done = [e for e in entries_for(change.id) if e.event == "done"]
        assert [(e.actor_id, e.on_behalf_of_id) for e in done] == [(staff["ada"], staff["bo"])]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--to": "bo@portal.test"}, "a person cannot delegate to themselves"),
        ({"--end": "2020-01-01"}, "the end (2020-01-01) is before the start"),
        ({"--start": "2020-01-01", "--end": "2020-01-31"}, "would be over already"),
        ({"--to": "dana@acme.test"},
         "dana@acme.test is a Client; only approvers and admins delegate or act for others"),
        ({"--from": "who@portal.test"}, "no user has the address who@portal.test"),
        ({"--start": "1 May"}, "'1 May' does not match the format '%Y-%m-%d'"),
    ],
)  # fmt: skip
def test_delegations_refuse_bad_input(app, staff, change, message):
    today = utcnow().date()
    options = {
        "--from": "bo@portal.test",
        "--to": "chen@portal.test",
        "--start": str(today),
        "--end": str(today + timedelta(days=3)),
    } | change
    result = invoke(app, delegations, "add", *[x for pair in options.items() for x in pair])
    assert result.exit_code != 0
    assert message in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count(Delegation.id))) == 0
