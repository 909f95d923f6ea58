"""Whatever is typed or tampered with, the admin pages answer with a message or a 404,
never a server error."""

from __future__ import annotations

import pytest

HUGE = "9" * 30


@pytest.mark.parametrize(
    "path",
    [
        f"/admin/people/{HUGE}",
        f"/admin/people/?organisation_id={HUGE}&role=nobody&active=maybe&q=%00",
        f"/admin/organisations/{HUGE}",
        f"/admin/groups/{HUGE}",
        f"/admin/calendars/{HUGE}",
    ],
)
def test_odd_addresses_are_not_found_or_ignored(admin, path):
    assert admin.get(path).status_code in (200, 404)


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/admin/people/new", {"role": "boss", "organisation_id": HUGE, "email": "x"}),
        ("/admin/people/new", {"organisation_id": "abc", "timezone": "Nowhere/Land"}),
        ("/admin/delegations/", {"user_id": HUGE, "delegate_id": "x", "starts_on": "soon"}),
        ("/admin/calendars/new", {"workdays": ["9", "x"], "day_starts": "25:00", "zone": "x"}),
        ("/admin/organisations/new", {"name": "", "calendar_id": HUGE}),
        ("/admin/groups/", {"name": "x" * 500, "title": "t" * 500}),
    ],
)
def test_tampered_forms_are_refused_with_messages(admin, path, data):
    response = admin.post(path, data, page="/admin/")
    assert response.status_code == 422, response.status_code
    assert 'class="field-error"' in response.get_data(as_text=True)


def test_tampered_ids_in_posts_are_refused(app, admin, accounts):
    org = accounts.organisation()
    for path in (
        f"/admin/organisations/{org}/approvers",
        f"/admin/people/{HUGE}/active",
        f"/admin/delegations/{HUGE}/end",
        f"/admin/organisations/{org}/approvers/{HUGE}/remove",
    ):
        response = admin.post(path, {"user_id": HUGE}, page="/admin/")
        assert response.status_code in (404, 422), (path, response.status_code)
    away = admin.post(f"/profile/away/{HUGE}/end", {}, page="/admin/")
    assert away.status_code == 404


def test_a_nul_character_typed_into_a_name_is_dropped(app, admin):
    from sqlalchemy import select

    from portal.accounts.models import Organisation
    from portal.extensions import db

    made = admin.post(
        "/admin/organisations/new",
        {"name": "Ac\x00me", "timezone": "", "calendar_id": ""},
        page="/admin/",
    )
    assert made.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Organisation.name)) == "Acme"
    assert (
        admin.post("/admin/groups/", {"name": "c\x00cb", "title": "B\x00oard"}).status_code == 302
    )
