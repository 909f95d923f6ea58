"""The admin area: admins reach it, nobody else does."""

from __future__ import annotations

import pytest

from portal.accounts.models import Role
from portal.extensions import db


@pytest.mark.parametrize("path", ["/admin/", "/admin/forms/"])
def test_a_client_and_an_approver_are_refused_the_admin_area(app, accounts, path):
    org = accounts.organisation()
    accounts.user("client@acme.test", Role.CLIENT, org)
    accounts.user("approver@portal.test", Role.APPROVER)
    for email in ("client@acme.test", "approver@portal.test"):
        browser = app.test_client()
        accounts.login(browser, email)
        page = browser.get(path)
        assert page.status_code == 403
        assert "Not allowed" in page.get_data(as_text=True)


def test_a_signed_out_visitor_is_sent_to_sign_in(client):
    page = client.get("/admin/")
    assert page.status_code == 302
    assert "/login" in page.headers["Location"]


def test_an_admin_finds_the_admin_area_from_every_page(app, accounts, client):
    accounts.user("admin@portal.test", Role.ADMIN)
    accounts.login(client, "admin@portal.test")
    home = client.get("/").get_data(as_text=True)
    assert 'href="/admin/"' in home
    page = client.get("/admin/").get_data(as_text=True)
    assert "Forms and chains" in page


def test_a_draft_gets_a_form_name_nobody_uses(app_ctx, change_request_form):
    from portal.designer.drafts import new_draft

    first = new_draft({"name": "change-request", "fields": []}, None, "template:change-request")
    second = new_draft({"name": "Change Request", "fields": []}, None)
    db.session.commit()
    assert first.form_name == "change-request-2"
    assert second.form_name == "change-request-3"
    assert first.definition["name"] == "change-request-2"
