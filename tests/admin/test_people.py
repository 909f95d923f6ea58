"""People in the admin area: find, add, change, deactivate, reset a password; the roles."""

from __future__ import annotations

import html
import re

from sqlalchemy import select

from portal.accounts.models import Role, User
from portal.audit.models import TraceEntry
from portal.extensions import db
from tests.conftest import PASSWORD


def _user(app, email):
    with app.app_context():
        return db.session.scalar(select(User).where(User.email == email))


def _events(app):
    with app.app_context():
        return [e.event for e in db.session.scalars(select(TraceEntry).order_by(TraceEntry.seq))]


def test_an_admin_adds_a_client_with_a_password_made_for_them_and_shown_once(app, admin, accounts):
    org = accounts.organisation("Acme Ltd")
    made = admin.post(
        "/admin/people/new",
        {
            "name": "Dana Client",
            "email": "Dana@Acme.test",
            "role": "client",
            "organisation_id": str(org),
            "locale": "de",
            "timezone": "Europe/Berlin",
            "calendar_id": "",
            "password": "",
        },
        page="/admin/people/new",
    )
    assert made.status_code == 200, re.findall(
        r"field-error[^>]*>([^<]+)<", made.get_data(as_text=True)
    )
    page = made.get_data(as_text=True)
    password = re.search(r'id="shown-password">([^<]+)<', page).group(1)
    assert "shown this once" in page
    dana = _user(app, "dana@acme.test")
    assert (dana.name, dana.role, dana.organisation_id, dana.locale, dana.timezone) == (
        "Dana Client", "client", org, "de", "Europe/Berlin",
    )  # fmt: skip
    browser = app.test_client()
    assert accounts.login(browser, "dana@acme.test", html.unescape(password)).status_code == 302
    assert _events(app)[-1] == "user_created"
    # not shown again
    assert password not in admin.text(f"/admin/people/{dana.id}")


def test_a_mistake_is_shown_beside_its_field_and_nothing_typed_is_lost(app, admin, accounts):
    accounts.user("taken@portal.test", Role.APPROVER)
    refused = admin.post(
        "/admin/people/new",
        {"name": "Ben New", "email": "taken@portal.test", "role": "client",
         "organisation_id": "", "timezone": "", "locale": "", "calendar_id": "",
         "password": "short"},
        page="/admin/people/new",
    )  # fmt: skip
    assert refused.status_code == 422
    page = html.unescape(refused.get_data(as_text=True))
    assert re.search(r'id="error-email">[^<]*already exists', page)
    assert re.search(r'id="error-organisation_id">[^<]*belongs to an organisation', page)
    assert re.search(r'id="error-password">[^<]*at least 10 characters', page)
    assert 'value="Ben New"' in page
    assert _user(app, "ben@portal.test") is None


def test_errors_read_in_the_admins_language(app, accounts):
    accounts.user("ada@portal.test", Role.ADMIN, locale="de")
    browser = app.test_client()
    accounts.login(browser, "ada@portal.test")
    from tests.conftest import csrf_token

    token = csrf_token(browser, "/admin/people/new")
    refused = browser.post(
        "/admin/people/new",
        data={"csrf_token": token, "name": "", "email": "x@y.test", "role": "approver"},
    )
    assert refused.status_code == 422
    assert 'lang="de"' in refused.get_data(as_text=True)


def test_search_and_filters_narrow_the_list_and_htmx_gets_only_the_results(app, admin, accounts):
    acme = accounts.organisation("Acme Ltd")
    accounts.user("dana@acme.test", Role.CLIENT, acme, name="Dana Client")
    accounts.user("bo@portal.test", Role.APPROVER, name="Bo Approver")
    everyone = admin.text("/admin/people/")
    assert "Dana Client" in everyone and "Bo Approver" in everyone
    clients = admin.text("/admin/people/?role=client")
    assert "Dana Client" in clients and "Bo Approver" not in clients
    by_org = admin.text(f"/admin/people/?organisation_id={acme}")
    assert "Dana Client" in by_org and "Ada Admin" not in by_org
    fragment = admin.get("/admin/people/?q=bo", headers={"HX-Request": "true"})
    body = fragment.get_data(as_text=True)
    assert "Bo Approver" in body and "Dana Client" not in body
    assert "<html" not in body and "HX-Request" in fragment.headers["Vary"]
    assert "Nobody matches" in admin.text("/admin/people/?q=zzz&active=no")


def test_an_admin_changes_a_persons_role_and_details(app, admin, accounts):
    bo = accounts.user("bo@portal.test", Role.APPROVER, name="Bo")
    changed = admin.post(
        f"/admin/people/{bo}",
        {"name": "Bo Brown", "email": "bo@portal.test", "role": "admin", "organisation_id": "",
         "locale": "", "timezone": "Asia/Shanghai", "calendar_id": ""},
        page=f"/admin/people/{bo}",
    )  # fmt: skip
    assert changed.status_code == 302
    user = _user(app, "bo@portal.test")
    assert (user.name, user.role, user.timezone) == ("Bo Brown", "admin", "Asia/Shanghai")
    with app.app_context():
        entry = db.session.scalars(select(TraceEntry).order_by(TraceEntry.seq.desc())).first()
        assert entry.event == "user_changed"
        assert entry.before["role"] == "approver" and entry.after["role"] == "admin"
        assert "password_hash" not in entry.after


def test_an_admin_cannot_deactivate_themselves_nor_demote_the_last_admin(app, admin):
    ada = _user(app, "ada@portal.test")
    page = admin.text(f"/admin/people/{ada.id}")
    assert "You cannot deactivate your own account." in page
    refused = admin.post(f"/admin/people/{ada.id}/active", {"active": "no"}, page="/admin/people/")
    assert refused.status_code == 302
    assert _user(app, "ada@portal.test").active
    demoted = admin.post(
        f"/admin/people/{ada.id}",
        {"name": "Ada", "email": "ada@portal.test", "role": "approver", "organisation_id": "",
         "locale": "", "timezone": "", "calendar_id": ""},
        page=f"/admin/people/{ada.id}",
    )  # fmt: skip
    assert demoted.status_code == 422
    assert "You cannot take the admin role from yourself." in html.unescape(
        demoted.get_data(as_text=True)
    )
    assert _user(app, "ada@portal.test").role == "admin"


def test_a_deactivated_person_cannot_sign_in_until_reactivated(app, admin, accounts):
    bo = accounts.user("bo@portal.test", Role.APPROVER)
    assert admin.post(f"/admin/people/{bo}/active", {"active": "no"}, page="/admin/people/")
    assert not _user(app, "bo@portal.test").active
    browser = app.test_client()
    accounts.login(browser, "bo@portal.test")
    assert browser.get("/inbox").status_code == 302
    assert "is deactivated" in admin.text(f"/admin/people/{bo}") or "Deactivated" in admin.text(
        f"/admin/people/{bo}"
    )
    admin.post(f"/admin/people/{bo}/active", {"active": "yes"}, page="/admin/people/")
    assert _user(app, "bo@portal.test").active
    assert accounts.login(app.test_client(), "bo@portal.test").status_code == 302
    assert _events(app)[-2:] == ["user_deactivated", "user_reactivated"]


def test_the_last_active_admin_is_kept(app, admin, accounts):
    """With two admins one may go; the one left can be neither deactivated nor demoted."""
    from portal.accounts import people as service

    eve = accounts.user("eve@portal.test", Role.ADMIN)
    admin.post(f"/admin/people/{eve}/active", {"active": "no"}, page="/admin/people/")
    assert not _user(app, "eve@portal.test").active
    with app.test_request_context():
        ada, eve_user = _user(app, "ada@portal.test"), _user(app, "eve@portal.test")
        ada = db.session.merge(ada)
        assert "last active admin" in str(service.deactivation_problem(ada, eve_user))
        assert "last active admin" in str(service.demotion_problem(ada, "approver", eve_user))


def test_a_password_reset_shows_the_new_one_once_or_takes_the_admins(app, admin, accounts):
    bo = accounts.user("bo@portal.test", Role.APPROVER)
    made = admin.post(f"/admin/people/{bo}/password", {"password": ""}, page="/admin/people/")
    password = html.unescape(
        re.search(r'id="shown-password">([^<]+)<', made.get_data(as_text=True)).group(1)
    )
    assert accounts.login(app.test_client(), "bo@portal.test", password).status_code == 302
    assert accounts.login(app.test_client(), "bo@portal.test", PASSWORD).status_code != 302
    short = admin.post(f"/admin/people/{bo}/password", {"password": "short"}, page="/admin/")
    assert short.status_code == 422
    assert "at least 10 characters" in short.get_data(as_text=True)
    chosen = admin.post(
        f"/admin/people/{bo}/password", {"password": "a brand new one"}, page="/admin/"
    )
    assert chosen.status_code == 302
    assert accounts.login(app.test_client(), "bo@portal.test", "a brand new one").status_code == 302
    with app.app_context():
        entry = db.session.scalars(select(TraceEntry).order_by(TraceEntry.seq.desc())).first()
        assert entry.event == "password_reset" and "a brand new one" not in str(entry.data)


def test_a_person_page_shows_their_groups_and_delegations(app, admin, accounts):
    from datetime import timedelta

    from portal.approvals import directory
    from portal.database import utcnow

    bo = accounts.user("bo@portal.test", Role.APPROVER, name="Bo")
    accounts.user("chen@portal.test", Role.APPROVER, name="Chen")
    with app.app_context():
        group = directory.create_group("ccb", "Change control board", None)
        bo_user, chen_user = db.session.get(User, bo), _user(app, "chen@portal.test")
        chen_user = db.session.merge(chen_user)
        directory.add_member(group, bo_user, None)
        today = utcnow().date()
        directory.add_delegation(bo_user, chen_user, today, today + timedelta(days=3), None)
        db.session.commit()
    page = admin.text(f"/admin/people/{bo}")
    assert "Change control board" in page
    assert "Chen acts for them" in page and "(now)" in page


def test_the_roles_page_says_what_each_role_may_do_and_who_has_it(app, admin, accounts):
    accounts.user("bo@portal.test", Role.APPROVER, name="Bo Approver")
    page = admin.text("/admin/roles/")
    for role in ("Client", "Approver", "Admin"):
        assert f"<h2>{role}</h2>" in page
    assert "Work the inbox" in page and "Bo Approver" in page and "Ada Admin" in page


def test_unknown_people_are_not_found(admin):
    assert admin.get("/admin/people/999999").status_code == 404
