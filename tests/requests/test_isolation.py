"""A client sees their own organisation's requests and files, on every page, fragment and
download; another organisation's request is 404, exactly like one that does not exist."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select

from portal.accounts.models import Role
from portal.extensions import db
from portal.requests.models import Attachment, ChangeRequest
from tests.conftest import csrf_token
from tests.forms.files import png

ANSWERS = {
    "description": "Details",
    "reason": "business",
    "business_value": "medium",
    "affected_systems": ["crm"],
}


def file_request(client, title: str) -> str:
    """Submit a request with a photo as the signed-in client; return its number."""
    token = csrf_token(client, "/forms/change-request/new")
    client.post(
        "/forms/change-request/files/attachments",
        data={"csrf_token": token, "file": [(io.BytesIO(png()), f"{title}.png")]},
        content_type="multipart/form-data",
        headers={"HX-Request": "true"},
    )
    response = client.post(
        "/forms/change-request/submit", data={**ANSWERS, "title": title, "csrf_token": token}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.location.split("/")[2]


@pytest.fixture
def two_organisations(app, accounts, change_request_form):
    acme = accounts.organisation("Acme Ltd")
    globex = accounts.organisation("Globex")
    accounts.user("dana@acme.test", Role.CLIENT, acme)
    accounts.user("eli@acme.test", Role.CLIENT, acme)
    accounts.user("gus@globex.test", Role.CLIENT, globex)
    accounts.user("bo@portal.test", Role.APPROVER)
    clients = {}
    for email in ("dana@acme.test", "eli@acme.test", "gus@globex.test", "bo@portal.test"):
        clients[email] = app.test_client()
        accounts.login(clients[email], email)
    numbers = {
        "acme": file_request(clients["dana@acme.test"], "Acme change"),
        "globex": file_request(clients["gus@globex.test"], "Globex change"),
    }
    with app.app_context():
        files = {c.number: c.attachments[0].id for c in db.session.scalars(select(ChangeRequest))}
    return clients, numbers, files


def test_list_shows_only_the_own_organisations_requests(two_organisations):
    clients, numbers, _ = two_organisations
    eli = clients["eli@acme.test"].get("/").get_data(as_text=True)
    assert "Acme change" in eli  # a colleague's request
    assert "Globex change" not in eli and numbers["globex"] not in eli
    gus = clients["gus@globex.test"].get("/").get_data(as_text=True)
    assert "Globex change" in gus and "Acme change" not in gus
    staff = clients["bo@portal.test"].get("/").get_data(as_text=True)
    assert "Acme change" in staff and "Globex change" in staff


def test_only_mine_filter(two_organisations, app, accounts):
    clients, _, _ = two_organisations
    eli = clients["eli@acme.test"].get("/?mine=1").get_data(as_text=True)
    assert "Acme change" not in eli
    assert "No requests yet." in eli


@pytest.mark.parametrize("path", ["/requests/{n}", "/requests/{n}/submitted"])
def test_another_organisations_request_is_404(two_organisations, path):
    clients, numbers, _ = two_organisations
    gus = clients["gus@globex.test"]
    assert gus.get(path.format(n=numbers["acme"])).status_code == 404
    assert gus.get(path.format(n="CR-2026-99999")).status_code == 404
    assert gus.get(path.format(n=numbers["globex"])).status_code == 200
    assert clients["eli@acme.test"].get(path.format(n=numbers["acme"])).status_code == 200
    assert clients["bo@portal.test"].get(path.format(n=numbers["globex"])).status_code == 200


def test_another_organisations_file_is_404(two_organisations):
    clients, numbers, files = two_organisations
    acme_file = files[numbers["acme"]]
    assert clients["gus@globex.test"].get(f"/files/{acme_file}").status_code == 404
    assert clients["eli@acme.test"].get(f"/files/{acme_file}").status_code == 200
    assert clients["bo@portal.test"].get(f"/files/{acme_file}").status_code == 200


def test_someone_elses_draft_file_is_404_even_in_the_same_organisation(app, two_organisations):
    clients, _, _ = two_organisations
    dana = clients["dana@acme.test"]
    token = csrf_token(dana, "/forms/change-request/new")
    dana.post(
        "/forms/change-request/files/attachments",
        data={"csrf_token": token, "file": [(io.BytesIO(png()), "draft.png")]},
        content_type="multipart/form-data",
        headers={"HX-Request": "true"},
    )
    with app.app_context():
        draft_file = db.session.scalar(select(Attachment).where(Attachment.draft_id.is_not(None)))
    assert dana.get(f"/files/{draft_file.id}").status_code == 200
    assert clients["eli@acme.test"].get(f"/files/{draft_file.id}").status_code == 404
    # Nor can a colleague remove it.
    eli = clients["eli@acme.test"]
    token = csrf_token(eli, "/forms/change-request/new")
    response = eli.post(
        f"/forms/change-request/files/attachments/{draft_file.id}/remove",
        data={"csrf_token": token},
    )
    assert response.status_code == 404


def test_list_fragment_is_filtered_too(two_organisations):
    clients, _, _ = two_organisations
    fragment = clients["gus@globex.test"].get(
        "/?fragment=rows&page=1", headers={"HX-Request": "true"}
    )
    html = fragment.get_data(as_text=True)
    assert "<html" not in html
    assert "Globex change" in html and "Acme change" not in html


def test_signed_out_visitors_are_sent_to_sign_in(client, two_organisations):
    _, numbers, files = two_organisations
    for path in (
        "/",
        f"/requests/{numbers['acme']}",
        f"/files/{files[numbers['acme']]}",
        "/forms/",
    ):
        response = client.get(path)
        assert response.status_code == 302
        assert re.match(r"/login\?next=", response.location)


def test_the_csv_export_holds_only_what_the_reader_may_see_in_their_zone(app, two_organisations):
    clients, numbers, _ = two_organisations
    clients["gus@globex.test"].set_cookie("tz", "Asia/Tokyo")
    response = clients["gus@globex.test"].get("/requests.csv")
    assert response.headers["Content-Type"].startswith("text/csv")
    text = response.get_data(as_text=True).lstrip("\ufeff")
    header, *rows = text.strip().splitlines()
    assert "Submitted (Asia/Tokyo)" in header
    assert numbers["globex"] in text and numbers["acme"] not in text
    assert len(rows) == 1
    staff = clients["bo@portal.test"].get("/requests.csv").get_data(as_text=True)
    assert numbers["globex"] in staff and numbers["acme"] in staff
