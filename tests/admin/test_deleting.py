"""Deleting a group, a working calendar or an organisation, from its admin page or with
``portal ... delete``: the page first says what goes; the post deletes it and leaves a
trace entry; while something still needs it, both say what, and nothing changes."""

from __future__ import annotations

import html
import re

from sqlalchemy import func, select

from portal.accounts.models import Organisation, Role, User
from portal.approvals import directory
from portal.approvals.cli import calendars, groups, organisations
from portal.approvals.models import Calendar, Group, group_members, organisation_approvers
from portal.audit.models import TraceEntry
from portal.designer.drafts import new_draft
from portal.extensions import db
from portal.forms.definition import parse_definition_text
from portal.forms.service import publish
from tests.admin.conftest import AdminBrowser
from tests.approvals.test_chain_at_work import HIGH, LOW, Team
from tests.conftest import SHIPPED_FORM, csrf_token


def _events(app, kind: str) -> list[TraceEntry]:
    with app.app_context():
        return db.session.scalars(
            select(TraceEntry).where(TraceEntry.event == kind).order_by(TraceEntry.seq)
        ).all()


def _refusal(response) -> str:
    found = re.search(r'id="delete-refused">(.*?)</div>', response.get_data(as_text=True), re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))) if found else ""


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(model.id)))


def _make_group(
    app, name: str = "ccb", members: tuple[int, ...] = (), title: str = "Change control board"
) -> int:
    with app.app_context():
        group = directory.create_group(name, title, None)
        for user_id in members:
            directory.add_member(group, db.session.get(User, user_id), None)
        db.session.commit()
        return group.id


def _make_calendar(app, name: str = "berlin") -> int:
    from datetime import time

    with app.app_context():
        calendar = directory.save_calendar(
            None, name=name, zone="Europe/Berlin", country="DE", subdivision=None,
            workdays=[0, 1, 2, 3, 4], starts=time(9), ends=time(17), closed_days=[], actor=None,
        )  # fmt: skip
        db.session.commit()
        return calendar.id


def _shipped_form(**replace_ccb_assignees) -> dict:
    data = parse_definition_text(SHIPPED_FORM.read_text(), str(SHIPPED_FORM))
    if replace_ccb_assignees:
        (step,) = [s for s in data["chain"]["steps"] if s["name"] == "ccb_review"]
        step.update(replace_ccb_assignees)
    return data


# -- groups -----------------------------------------------------------------------------------


def test_an_unused_group_is_deleted_after_its_confirmation(app, admin, accounts):
    bo = accounts.user("bo@portal.test", Role.APPROVER, name="Bo Approver")
    group_id = _make_group(app, "board", (bo,), "Release board")
    page = admin.text(f"/admin/groups/{group_id}")
    assert "Delete" in page and f"/admin/groups/{group_id}/delete" in page

    confirm = admin.text(f"/admin/groups/{group_id}/delete")
    assert "Delete the group Release board" in confirm
    assert "the group board (Release board)" in confirm
    assert "its members: Bo Approver (bo@portal.test)" in confirm
    assert "Yes, delete it" in confirm
    assert _count(app, Group) == 1  # looking at the confirmation changes nothing

    done = admin.post(f"/admin/groups/{group_id}/delete", {}, page=f"/admin/groups/{group_id}")
    assert done.status_code == 302 and done.location.endswith("/admin/groups/")
    listing = admin.text("/admin/groups/")
    assert "The group board is deleted." in listing
    assert "Release board" not in listing
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(group_members)) == 0
    (entry,) = _events(app, "group_deleted")
    assert entry.before == {
        "group_id": group_id,
        "name": "board",
        "title": "Release board",
        "members": [bo],
    }
    assert entry.actor_id is not None and entry.after is None
    assert admin.get(f"/admin/groups/{group_id}/delete").status_code == 404


def test_a_group_a_published_chain_or_a_draft_names_is_not_deleted(app, admin, change_request_form):
    group_id = _make_group(app)
    with app.app_context():
        new_draft({**_shipped_form(), "name": "it-change"}, None, keep_name=True)
        db.session.commit()
    confirm = admin.get(f"/admin/groups/{group_id}/delete")
    assert confirm.status_code == 200
    reason = _refusal(confirm)
    assert "published version of these forms names the group ccb" in reason
    assert "change-request" in reason
    assert "draft of these forms in the designer names the group ccb in a step: it-change" in (
        reason
    )
    assert "Yes, delete it" not in confirm.get_data(as_text=True)

    refused = admin.post(f"/admin/groups/{group_id}/delete", {}, page=f"/admin/groups/{group_id}")
    assert refused.status_code == 409
    assert "change-request" in _refusal(refused)
    assert _count(app, Group) == 1 and not _events(app, "group_deleted")


def test_a_draft_that_does_not_load_yet_still_counts(app, admin):
    group_id = _make_group(app)
    with app.app_context():
        broken = {"name": "half-done", "fields": "not a list", "chain": {"steps": [
            {"name": "board", "kind": "approval", "assignees": [{"group": "ccb"}], "decide": 7},
        ]}}  # fmt: skip
        new_draft(broken, None, keep_name=True)
        db.session.commit()
    reason = _refusal(admin.get(f"/admin/groups/{group_id}/delete"))
    assert "in the designer names the group ccb in a step: half-done" in reason


def test_an_open_request_keeps_its_board_until_it_is_past_that_step(app, accounts):
    with app.app_context():
        publish(_shipped_form())
        db.session.commit()
    team = Team(app, accounts)
    admin = AdminBrowser(team.browsers["ada"])
    number = team.submit(LOW)
    with app.app_context():  # the form no longer names the board: only the request does
        publish(_shipped_form(assignees={"role": "approver"}))
        db.session.commit()
        group_id = db.session.scalar(select(Group.id).where(Group.name == "ccb"))
    page = f"/admin/groups/{group_id}"
    reason = _refusal(admin.get(f"{page}/delete"))
    assert f"open requests still need the group ccb for a step that has not finished: {number}" in (
        reason
    )
    assert "published version" not in reason
    assert admin.post(f"{page}/delete", {}, page=page).status_code == 409

    # The request moves on: analysed, reviewed; the board's step is skipped (low impact).
    assert team.act("bo", number, "analysis", "done").status_code == 200
    assert team.act("chen", number, "review", "approve").status_code == 200
    assert _refusal(admin.get(f"{page}/delete")) == ""
    assert admin.post(f"{page}/delete", {}, page=page).status_code == 302
    assert _count(app, Group) == 0


def test_a_step_already_open_keeps_its_people_so_the_board_can_go(app, accounts):
    with app.app_context():
        publish(_shipped_form())
        db.session.commit()
    team = Team(app, accounts)
    admin = AdminBrowser(team.browsers["ada"])
    number = team.submit(HIGH)
    assert team.act("bo", number, "analysis", "done").status_code == 200
    with app.app_context():  # the board's step is open: its members were looked up
        publish(_shipped_form(assignees={"role": "approver"}))
        db.session.commit()
        group_id = db.session.scalar(select(Group.id).where(Group.name == "ccb"))
    assert _refusal(admin.get(f"/admin/groups/{group_id}/delete")) == ""


def test_the_board_a_step_may_still_escalate_to_is_needed(app, accounts):
    with app.app_context():
        publish(_shipped_form(assignees={"role": "approver"}, escalate_to={"group": "ccb"}))
        db.session.commit()
    team = Team(app, accounts)
    admin = AdminBrowser(team.browsers["ada"])
    number = team.submit(HIGH)
    assert team.act("bo", number, "analysis", "done").status_code == 200
    with app.app_context():
        publish(_shipped_form(assignees={"role": "approver"}))
        db.session.commit()
        group_id = db.session.scalar(select(Group.id).where(Group.name == "ccb"))
    assert number in _refusal(admin.get(f"/admin/groups/{group_id}/delete"))


# -- working calendars ------------------------------------------------------------------------


def test_an_unused_calendar_is_deleted_after_its_confirmation(app, admin):
    calendar_id = _make_calendar(app)
    page = f"/admin/calendars/{calendar_id}"
    assert f"{page}/delete" in admin.text(page)
    confirm = admin.text(f"{page}/delete")
    assert "Delete the working calendar berlin" in confirm and "Yes, delete it" in confirm
    done = admin.post(f"{page}/delete", {}, page=page)
    assert done.status_code == 302 and done.location.endswith("/admin/calendars/")
    listing = admin.text("/admin/calendars/")
    assert "The calendar berlin is deleted." in listing
    assert f'{page}"' not in listing
    (entry,) = _events(app, "calendar_deleted")
    assert entry.before["name"] == "berlin" and entry.before["zone"] == "Europe/Berlin"
    assert _count(app, Calendar) == 0


def test_a_calendar_someone_counts_in_is_not_deleted(app, admin, accounts):
    calendar_id = _make_calendar(app)
    acme = accounts.organisation("Acme Ltd")
    bo = accounts.user("bo@portal.test", Role.APPROVER, name="Bo Approver")
    with app.app_context():
        calendar = db.session.get(Calendar, calendar_id)
        db.session.get(Organisation, acme).calendar_id = calendar.id
        db.session.get(User, bo).calendar_id = calendar.id
        db.session.commit()
    page = f"/admin/calendars/{calendar_id}"
    reason = _refusal(admin.get(f"{page}/delete"))
    assert "These organisations count their deadlines in the calendar berlin: Acme Ltd" in reason
    assert "These people count their deadlines in the calendar berlin: Bo Approver" in reason
    refused = admin.post(f"{page}/delete", {}, page=page)
    assert refused.status_code == 409 and "Acme Ltd" in _refusal(refused)
    assert _count(app, Calendar) == 1 and not _events(app, "calendar_deleted")


# -- organisations ----------------------------------------------------------------------------


def test_an_empty_organisation_is_deleted_with_its_account_approvers(app, admin, accounts):
    globex = accounts.organisation("Globex")
    bo = accounts.user("bo@portal.test", Role.APPROVER, name="Bo Approver")
    with app.app_context():
        org, user = db.session.get(Organisation, globex), db.session.get(User, bo)
        directory.add_account_approver(org, user, None)
        db.session.commit()
    page = f"/admin/organisations/{globex}"
    assert f"{page}/delete" in admin.text(page)
    confirm = admin.text(f"{page}/delete")
    assert "Delete the organisation Globex" in confirm
    assert "its account approvers (the people themselves stay): Bo Approver" in confirm
    done = admin.post(f"{page}/delete", {}, page=page)
    assert done.status_code == 302 and done.location.endswith("/admin/organisations/")
    listing = admin.text("/admin/organisations/")
    assert "The organisation Globex is deleted." in listing
    with app.app_context():
        assert db.session.get(Organisation, globex) is None
        assert db.session.get(User, bo).active  # the approver stays
        assert db.session.scalar(select(func.count()).select_from(organisation_approvers)) == 0
    (entry,) = _events(app, "organisation_deleted")
    assert entry.before["name"] == "Globex" and entry.before["account_approvers"] == [bo]


def test_an_organisation_with_people_or_requests_is_not_deleted(app, admin, accounts):
    acme = accounts.organisation("Acme Ltd")
    accounts.user("dana@acme.test", Role.CLIENT, acme)
    page = f"/admin/organisations/{acme}"
    reason = _refusal(admin.get(f"{page}/delete"))
    assert "The organisation Acme Ltd still has people (1) and requests (0)" in reason
    assert "Its people can be deactivated instead" in reason
    refused = admin.post(f"{page}/delete", {}, page=page)
    assert refused.status_code == 409 and "deactivated instead" in _refusal(refused)
    assert _count(app, Organisation) == 1 and not _events(app, "organisation_deleted")


# -- the rules around the pages ---------------------------------------------------------------


def test_deleting_needs_the_csrf_token(app, admin, accounts):
    group_id = _make_group(app)
    calendar_id = _make_calendar(app)
    org = accounts.organisation("Globex")
    for path in (
        f"/admin/groups/{group_id}/delete",
        f"/admin/calendars/{calendar_id}/delete",
        f"/admin/organisations/{org}/delete",
    ):
        assert admin.client.post(path, data={}).status_code == 400, path
    assert (_count(app, Group), _count(app, Calendar), _count(app, Organisation)) == (1, 1, 1)


def test_only_admins_delete(app, accounts):
    group_id = _make_group(app)
    calendar_id = _make_calendar(app)
    org = accounts.organisation("Globex")
    acme = accounts.organisation("Acme Ltd")
    accounts.user("bo@portal.test", Role.APPROVER)
    accounts.user("dana@acme.test", Role.CLIENT, acme)
    for email in ("bo@portal.test", "dana@acme.test"):
        browser = app.test_client()
        accounts.login(browser, email)
        data = {"csrf_token": csrf_token(browser, "/")}
        for path in (
            f"/admin/groups/{group_id}/delete",
            f"/admin/calendars/{calendar_id}/delete",
            f"/admin/organisations/{org}/delete",
        ):
            assert browser.get(path).status_code == 403, (email, path)
            assert browser.post(path, data=data).status_code == 403, (email, path)
    assert (_count(app, Group), _count(app, Calendar), _count(app, Organisation)) == (1, 1, 2)


def test_unknown_ids_are_not_found(admin):
    for kind in ("groups", "calendars", "organisations"):
        assert admin.get(f"/admin/{kind}/999999/delete").status_code == 404


# -- the command line -------------------------------------------------------------------------


def test_the_command_line_deletes_by_the_same_rules(app, accounts, change_request_form):
    runner = app.test_cli_runner()
    _make_group(app, "ccb")
    _make_group(app, "board")
    _make_calendar(app, "berlin")
    acme = accounts.organisation("Acme Ltd")
    accounts.organisation("Globex")
    accounts.user("dana@acme.test", Role.CLIENT, acme)

    refused = runner.invoke(groups, ["delete", "ccb"])
    assert refused.exit_code != 0
    assert "nothing was changed" in refused.output
    assert "published version of these forms names the group ccb" in refused.output
    assert "change-request" in refused.output
    done = runner.invoke(groups, ["delete", "board"])
    assert done.exit_code == 0 and "Deleted the group board." in done.output
    unknown = runner.invoke(groups, ["delete", "board"])
    assert unknown.exit_code != 0 and "there is no group called 'board'" in unknown.output

    refused = runner.invoke(organisations, ["delete", "Acme Ltd"])
    assert refused.exit_code != 0
    assert "still has people (1) and requests (0)" in refused.output
    assert "deactivated instead" in refused.output
    done = runner.invoke(organisations, ["delete", "Globex"])
    assert done.exit_code == 0 and "Deleted the organisation Globex." in done.output

    assert (
        runner.invoke(calendars, ["assign", "berlin", "--organisation", "Acme Ltd"]).exit_code == 0
    )
    refused = runner.invoke(calendars, ["delete", "berlin"])
    assert refused.exit_code != 0
    assert "These organisations count their deadlines in the calendar berlin: Acme Ltd" in (
        refused.output
    )
    with app.app_context():
        db.session.get(Organisation, acme).calendar_id = None
        db.session.commit()
    done = runner.invoke(calendars, ["delete", "berlin"])
    assert done.exit_code == 0 and "Deleted the calendar berlin." in done.output

    with app.app_context():
        names = set(db.session.scalars(select(Group.name)))
        assert names == {"ccb"}
        assert set(db.session.scalars(select(Organisation.name))) == {"Acme Ltd"}
        assert db.session.scalar(select(func.count(Calendar.id))) == 0
    assert [e.actor_id for e in _events(app, "group_deleted")] == [None]
    assert len(_events(app, "organisation_deleted")) == 1
    assert len(_events(app, "calendar_deleted")) == 1


def test_files_a_former_member_uploaded_keep_the_organisation(
    app, admin, accounts, change_request_form
):
    import io

    from tests.forms.files import png

    acme = accounts.organisation("Acme Ltd")
    globex = accounts.organisation("Globex")
    dana = accounts.user("dana@acme.test", Role.CLIENT, acme)
    browser = app.test_client()
    accounts.login(browser, "dana@acme.test")
    uploaded = browser.post(
        "/forms/change-request/files/attachments",
        data={
            "csrf_token": csrf_token(browser, "/forms/change-request/new"),
            "file": [(io.BytesIO(png()), "sketch.png")],
        },
        content_type="multipart/form-data",
        headers={"HX-Request": "true"},
    )
    assert uploaded.status_code == 200
    with app.app_context():  # Dana moves to Globex before sending her request
        db.session.get(User, dana).organisation_id = globex
        db.session.commit()
    page = f"/admin/organisations/{acme}"
    reason = _refusal(admin.get(f"{page}/delete"))
    assert "The organisation Acme Ltd still has files (1) uploaded by people" in reason
    assert admin.post(f"{page}/delete", {}, page=page).status_code == 409
    assert _count(app, Organisation) == 2
