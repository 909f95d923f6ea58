"""Organisations and their account approvers, groups, delegations and working calendars,
managed from the admin pages: each change is made, traced, and refused with a message
beside its field when it breaks a rule the command line also applies."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta

from sqlalchemy import select

from portal.accounts.models import Organisation, Role, User
from portal.approvals.models import Calendar, Delegation, Group
from portal.audit.models import TraceEntry
from portal.database import utcnow
from portal.extensions import db


def _last_event(app):
    with app.app_context():
        return db.session.scalars(select(TraceEntry).order_by(TraceEntry.seq.desc())).first()


def _error(response, field: str) -> str:
    found = re.search(rf'id="error-{field}">([^<]*)<', response.get_data(as_text=True))
    return html.unescape(found.group(1)) if found else ""


# -- organisations ----------------------------------------------------------------------------


def test_an_admin_adds_and_renames_an_organisation(app, admin):
    made = admin.post(
        "/admin/organisations/new",
        {"name": "Globex", "timezone": "Asia/Shanghai", "calendar_id": ""},
        page="/admin/organisations/new",
    )
    assert made.status_code == 302
    with app.app_context():
        org = db.session.scalar(select(Organisation).where(Organisation.name == "Globex"))
        assert org.timezone == "Asia/Shanghai"
    assert "Globex" in admin.text("/admin/organisations/")
    assert _last_event(app).event == "organisation_created"
    twice = admin.post(
        "/admin/organisations/new",
        {"name": "globex", "timezone": "", "calendar_id": ""},
        page="/admin/organisations/new",
    )
    assert twice.status_code == 422 and "already an organisation" in _error(twice, "name")
    renamed = admin.post(
        f"/admin/organisations/{org.id}",
        {"name": "Globex Corp", "timezone": "", "calendar_id": ""},
        page=f"/admin/organisations/{org.id}",
    )
    assert renamed.status_code == 302
    entry = _last_event(app)
    assert entry.event == "organisation_changed"
    assert (entry.before["name"], entry.after["name"]) == ("Globex", "Globex Corp")


def test_account_approvers_are_added_and_removed_in_place_staff_only(app, admin, accounts):
    acme = accounts.organisation("Acme Ltd")
    bo = accounts.user("bo@portal.test", Role.APPROVER, name="Bo Approver")
    dana = accounts.user("dana@acme.test", Role.CLIENT, acme, name="Dana Client")
    page = f"/admin/organisations/{acme}"
    added = admin.post(
        f"{page}/approvers", {"user_id": str(bo)}, page=page, headers={"HX-Request": "true"}
    )
    assert added.status_code == 200
    fragment = added.get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="approvers"') and "Bo Approver" in fragment
    from portal.approvals.directory import approver_ids

    with app.app_context():
        assert approver_ids(db.session.get(Organisation, acme)) == {bo}
    refused = admin.post(f"{page}/approvers", {"user_id": str(dana)}, page=page)
    assert refused.status_code == 422
    assert _error(refused, "user_id")  # a client is no choice
    removed = admin.post(f"{page}/approvers/{bo}/remove", {}, page=page)
    assert removed.status_code == 302
    assert "No account approvers." in admin.text(page)
    assert _last_event(app).event == "account_approver_removed"


# -- groups -----------------------------------------------------------------------------------


def test_an_admin_makes_the_ccb_and_puts_approvers_in_it(app, admin, accounts):
    bo = accounts.user("bo@portal.test", Role.APPROVER, name="Bo Approver")
    acme = accounts.organisation("Acme Ltd")
    dana = accounts.user("dana@acme.test", Role.CLIENT, acme)
    bad = admin.post("/admin/groups/", {"name": "Change Board", "title": ""}, page="/admin/")
    assert bad.status_code == 422
    assert "cannot be a group name" in _error(bad, "name")
    assert _error(bad, "title")
    assert 'value="Change Board"' in bad.get_data(as_text=True)
    made = admin.post("/admin/groups/", {"name": "ccb", "title": "Change board"}, page="/admin/")
    assert made.status_code == 302
    with app.app_context():
        group_id = db.session.scalar(select(Group.id).where(Group.name == "ccb"))
    taken = admin.post("/admin/groups/", {"name": "ccb", "title": "Again"}, page="/admin/")
    assert "already a group" in _error(taken, "name")

    page = f"/admin/groups/{group_id}"
    admin.post(page, {"title": "Change control board"}, page=page)
    member = admin.post(
        f"{page}/members", {"user_id": str(bo)}, page=page, headers={"HX-Request": "true"}
    )
    assert member.status_code == 200 and "Bo Approver" in member.get_data(as_text=True)
    client = admin.post(f"{page}/members", {"user_id": str(dana)}, page=page)
    assert client.status_code == 422
    with app.app_context():
        group = db.session.get(Group, group_id)
        assert group.title == "Change control board"
        assert [u.email for u in group.members] == ["bo@portal.test"]
    events = [e.event for e in _events(app)]
    assert events[-3:] == ["group_created", "group_changed", "group_member_added"]
    admin.post(f"{page}/members/{bo}/remove", {}, page=page)
    assert "No members yet." in admin.text(page)


def _events(app):
    with app.app_context():
        return db.session.scalars(select(TraceEntry).order_by(TraceEntry.seq)).all()


# -- delegations ------------------------------------------------------------------------------


def test_an_admin_sets_a_delegation_and_ends_it_early(app, admin, accounts):
    bo = accounts.user("bo@portal.test", Role.APPROVER, name="Bo Approver")
    chen = accounts.user("chen@portal.test", Role.APPROVER, name="Chen Approver")
    today = utcnow().date()
    form = {"user_id": str(bo), "delegate_id": str(chen),
            "starts_on": (today - timedelta(days=2)).isoformat(),
            "ends_on": (today + timedelta(days=5)).isoformat()}  # fmt: skip
    made = admin.post("/admin/delegations/", form, page="/admin/")
    assert made.status_code == 302
    page = admin.text("/admin/delegations/")
    now = page.split("<h2>Under way</h2>", 1)[1].split("<h2>", 1)[0]
    assert "Bo Approver" in now and "Chen Approver" in now
    again = admin.post("/admin/delegations/", form, page="/admin/")
    assert again.status_code == 422 and "already there" in _error(again, "delegate_id")
    with app.app_context():
        delegation_id = db.session.scalar(select(Delegation.id))
    admin.post(f"/admin/delegations/{delegation_id}/end", {}, page="/admin/")
    with app.app_context():
        assert db.session.get(Delegation, delegation_id).ends_on == today - timedelta(days=1)
    entry = _last_event(app)
    assert entry.event == "delegation_ended"
    assert entry.before["ends_on"] == form["ends_on"]
    over = admin.text("/admin/delegations/").split("<h2>Over</h2>", 1)[1]
    assert "Bo Approver" in over


def test_a_delegation_that_breaks_the_rules_is_refused_beside_its_fields(app, admin, accounts):
    bo = accounts.user("bo@portal.test", Role.APPROVER)
    today = utcnow().date()
    refused = admin.post(
        "/admin/delegations/",
        {"user_id": str(bo), "delegate_id": str(bo),
         "starts_on": today.isoformat(), "ends_on": (today - timedelta(days=1)).isoformat()},
        page="/admin/",
    )  # fmt: skip
    assert refused.status_code == 422
    assert "cannot delegate to themselves" in _error(refused, "delegate") or (
        "cannot delegate to themselves" in _error(refused, "delegate_id")
    )
    assert "is before the start" in _error(refused, "ends_on")
    blank = admin.post("/admin/delegations/", {"user_id": "", "starts_on": "x"}, page="/admin/")
    assert blank.status_code == 422 and _error(blank, "user_id") and _error(blank, "starts_on")
    with app.app_context():
        assert db.session.scalar(select(Delegation)) is None


def test_an_upcoming_delegation_cancelled_is_removed(app, admin, accounts):
    bo = accounts.user("bo@portal.test", Role.APPROVER)
    chen = accounts.user("chen@portal.test", Role.APPROVER)
    start = utcnow().date() + timedelta(days=3)
    admin.post(
        "/admin/delegations/",
        {"user_id": str(bo), "delegate_id": str(chen), "starts_on": start.isoformat(),
         "ends_on": (start + timedelta(days=1)).isoformat()},
        page="/admin/",
    )  # fmt: skip
    with app.app_context():
        delegation_id = db.session.scalar(select(Delegation.id))
    admin.post(f"/admin/delegations/{delegation_id}/end", {}, page="/admin/")
    with app.app_context():
        assert db.session.get(Delegation, delegation_id) is None
    assert _last_event(app).event == "delegation_removed"


# -- calendars --------------------------------------------------------------------------------

CALENDAR = {"name": "berlin", "zone": "Europe/Berlin", "workdays": ["0", "1", "2", "3"],
            "day_starts": "08:00", "day_ends": "16:30", "country": "DE", "subdivision": "by",
            "closed_days": "2026-12-24\n2026-12-31"}  # fmt: skip


def test_an_admin_makes_a_calendar_and_gives_it_to_an_organisation(app, admin, accounts):
    acme = accounts.organisation("Acme Ltd")
    made = admin.post("/admin/calendars/new", CALENDAR, page="/admin/calendars/new")
    assert made.status_code == 302, _error(made, "country")
    with app.app_context():
        calendar = db.session.scalar(select(Calendar))
        working = calendar.working_calendar()
        assert working.workdays == frozenset({0, 1, 2, 3})
        assert (calendar.country, calendar.subdivision) == ("DE", "BY")
        assert not working.is_working_day(date(2026, 12, 24))  # a Thursday, closed
        assert not working.is_working_day(date(2026, 11, 27))  # a Friday
        assert working.is_working_day(date(2026, 11, 26))
    listing = admin.text("/admin/calendars/")
    assert "mon, tue, wed, thu 08:00-16:30 Europe/Berlin, holidays of DE-BY" in listing
    page = admin.text(f"/admin/calendars/{calendar.id}")
    assert "2026-12-24" in page and "Nobody yet." in page

    admin.post(
        f"/admin/organisations/{acme}",
        {"name": "Acme Ltd", "timezone": "", "calendar_id": str(calendar.id)},
        page="/admin/",
    )
    assert "Acme Ltd" in admin.text(f"/admin/calendars/{calendar.id}")
    with app.app_context():
        assert db.session.get(Organisation, acme).calendar_id == calendar.id


def test_a_calendar_with_mistakes_is_refused_field_by_field(app, admin):
    bad = {**CALENDAR, "zone": "Mars/Base", "workdays": [], "day_starts": "17:00",
           "day_ends": "09:00", "country": "DE", "subdivision": "XX",
           "closed_days": "24.12.2026"}  # fmt: skip
    refused = admin.post("/admin/calendars/new", bad, page="/admin/calendars/new")
    assert refused.status_code == 422
    assert _error(refused, "zone")
    assert "at least one working day" in _error(refused, "workdays")
    assert "must end after they start" in _error(refused, "day_ends")
    assert "no public holidays are known for DE-XX" in _error(refused, "country")
    assert "24.12.2026" in _error(refused, "closed_days")
    assert "24.12.2026</textarea>" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Calendar)) is None


def test_a_calendar_keeps_its_name_unique_and_can_be_edited(app, admin):
    admin.post("/admin/calendars/new", CALENDAR, page="/admin/calendars/new")
    twice = admin.post("/admin/calendars/new", CALENDAR, page="/admin/calendars/new")
    assert "already a calendar" in _error(twice, "name")
    with app.app_context():
        calendar_id = db.session.scalar(select(Calendar.id))
    edited = admin.post(
        f"/admin/calendars/{calendar_id}",
        {**CALENDAR, "workdays": ["0", "1", "2", "3", "4"], "closed_days": ""},
        page="/admin/calendars/new",
    )
    assert edited.status_code == 302
    with app.app_context():
        calendar = db.session.get(Calendar, calendar_id)
        assert calendar.workdays == "0,1,2,3,4" and calendar.closed_days == ""
    assert _last_event(app).before["closed_days"] == "2026-12-24,2026-12-31"


def test_a_person_is_given_a_calendar_on_their_page(app, admin, accounts):
    bo = accounts.user("bo@portal.test", Role.APPROVER, name="Bo")
    admin.post("/admin/calendars/new", CALENDAR, page="/admin/calendars/new")
    with app.app_context():
        calendar_id = db.session.scalar(select(Calendar.id))
    admin.post(
        f"/admin/people/{bo}",
        {"name": "Bo", "email": "bo@portal.test", "role": "approver", "organisation_id": "",
         "locale": "", "timezone": "", "calendar_id": str(calendar_id)},
        page="/admin/",
    )  # fmt: skip
    with app.app_context():
        assert db.session.get(User, bo).calendar_id == calendar_id
    assert "Bo" in admin.text(f"/admin/calendars/{calendar_id}")


def test_a_calendar_is_given_to_people_and_organisations_from_its_page(app, admin, accounts):
    acme = accounts.organisation("Acme Ltd")
    bo = accounts.user("bo@portal.test", Role.APPROVER, name="Bo")
    admin.post("/admin/calendars/new", CALENDAR, page="/admin/calendars/new")
    with app.app_context():
        calendar_id = db.session.scalar(select(Calendar.id))
    page = f"/admin/calendars/{calendar_id}"
    given = admin.post(
        f"{page}/assign", {"user_id": str(bo), "organisation_id": str(acme)}, page=page
    )
    assert given.status_code == 302
    assert "Bo, Acme Ltd now count in berlin." in admin.text(page)
    with app.app_context():
        assert db.session.get(User, bo).calendar_id == calendar_id
        assert db.session.get(Organisation, acme).calendar_id == calendar_id
    assert _last_event(app).event == "calendar_assigned"
