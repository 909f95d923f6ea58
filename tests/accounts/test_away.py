"""Out of office on one's own settings page: an approver picks a colleague and the days;
they see it, end it early; a client has no such section and is refused the routes."""

from __future__ import annotations

import html
from datetime import timedelta

from sqlalchemy import select

from portal.accounts.models import Role
from portal.approvals.models import Delegation
from portal.audit.models import TraceEntry
from portal.database import utcnow
from portal.extensions import db
from tests.conftest import csrf_token


def test_an_approver_sets_their_own_out_of_office_and_ends_it(app, accounts):
    bo = accounts.user("bo@portal.test", Role.APPROVER, name="Bo")
    chen = accounts.user("chen@portal.test", Role.APPROVER, name="Chen")
    browser = app.test_client()
    accounts.login(browser, "bo@portal.test")
    page = html.unescape(browser.get("/profile").get_data(as_text=True))
    assert "Out of office" in page and "Chen (chen@portal.test)" in page
    assert "Bo (bo@portal.test)" not in page  # not oneself
    today = utcnow().date()
    token = csrf_token(browser, "/profile")
    refused = browser.post(
        "/profile/away",
        data={"csrf_token": token, "delegate_id": str(chen), "starts_on": today.isoformat(),
              "ends_on": (today - timedelta(days=1)).isoformat()},
    )  # fmt: skip
    assert refused.status_code == 422
    assert "is before the start" in html.unescape(refused.get_data(as_text=True))
    made = browser.post(
        "/profile/away",
        data={"csrf_token": token, "delegate_id": str(chen), "starts_on": today.isoformat(),
              "ends_on": (today + timedelta(days=4)).isoformat()},
    )  # fmt: skip
    assert made.status_code == 302
    page = html.unescape(browser.get("/profile").get_data(as_text=True))
    assert "Chen acts for you from" in page
    with app.app_context():
        delegation = db.session.scalar(select(Delegation))
        assert (delegation.user_id, delegation.delegate_id) == (bo, chen)
        entry = db.session.scalars(select(TraceEntry).order_by(TraceEntry.seq.desc())).first()
        assert entry.event == "delegated" and entry.actor_id == bo
        delegation_id = delegation.id
    browser.post(f"/profile/away/{delegation_id}/end", data={"csrf_token": token})
    with app.app_context():
        assert db.session.get(Delegation, delegation_id) is None  # it began today: removed
    assert "acts for you from" not in browser.get("/profile").get_data(as_text=True)


def test_nobody_ends_someone_elses_out_of_office_and_clients_have_none(app, accounts):
    from portal.accounts.models import User
    from portal.approvals import directory

    bo = accounts.user("bo@portal.test", Role.APPROVER)
    chen = accounts.user("chen@portal.test", Role.APPROVER)
    org = accounts.organisation()
    accounts.user("dana@acme.test", Role.CLIENT, org)
    today = utcnow().date()
    with app.app_context():
        delegation = directory.add_delegation(
            db.session.get(User, bo), db.session.get(User, chen), today, today, None
        )
        db.session.commit()
        delegation_id = delegation.id
    chen_browser = app.test_client()
    accounts.login(chen_browser, "chen@portal.test")
    token = csrf_token(chen_browser, "/profile")
    other = chen_browser.post(f"/profile/away/{delegation_id}/end", data={"csrf_token": token})
    assert other.status_code == 404
    dana = app.test_client()
    accounts.login(dana, "dana@acme.test")
    assert "Out of office" not in dana.get("/profile").get_data(as_text=True)
    token = csrf_token(dana, "/profile")
    assert dana.post("/profile/away", data={"csrf_token": token}).status_code == 403
    with app.app_context():
        assert db.session.get(Delegation, delegation_id) is not None
