"""Photos and files: accepted by what they are, not by what they are called; limited in size
and count; kept with the draft; and an oversized upload answered with 413 and a message."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select

from portal.accounts.models import Role
from portal.extensions import db
from portal.forms.uploads import detect_type
from portal.requests.models import Attachment, ChangeRequest
from tests.conftest import csrf_token
from tests.forms.files import EXE, HTML, PDF, SVG, png


@pytest.fixture
def dana(client, accounts, change_request_form):
    org = accounts.organisation()
    accounts.user("dana@acme.test", Role.CLIENT, org)
    accounts.login(client, "dana@acme.test")
    return client


def upload(client, files, field="attachments", form="change-request", htmx=True):
    token = csrf_token(client, f"/forms/{form}/new")
    data = {"csrf_token": token, "file": [(io.BytesIO(content), name) for name, content in files]}
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(
        f"/forms/{form}/files/{field}",
        data=data,
        headers=headers,
        content_type="multipart/form-data",
    )


def test_content_decides_the_type():
    assert detect_type(png()) == "image/png"
    assert detect_type(PDF) == "application/pdf"
    assert detect_type(b"plain words\n") == "text/plain"
    assert detect_type(HTML) is None
    assert detect_type(SVG) is None
    assert detect_type(EXE) is None


def test_a_photo_is_kept_with_the_draft_and_shown_in_the_list(app, dana):
    response = upload(dana, [("kitchen.png", png())])
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "kitchen.png" in html
    assert 'id="files-attachments"' in html
    with app.app_context():
        attachment = db.session.scalar(select(Attachment))
        assert attachment.content_type == "image/png"
        assert attachment.draft_id is not None and attachment.request_id is None
    page = dana.get("/forms/change-request/new").get_data(as_text=True)
    assert "kitchen.png" in page  # still there when the form is opened again


def test_a_file_named_like_a_photo_but_that_is_a_web_page_is_refused(app, dana):
    response = upload(dana, [("photo.jpg", HTML)])
    assert response.status_code == 422
    assert "photo.jpg is not a kind of file this question accepts." in response.get_data(
        as_text=True
    )
    with app.app_context():
        assert db.session.scalar(select(Attachment)) is None


def test_a_pdf_named_png_is_stored_as_what_it_is(app, dana):
    assert upload(dana, [("scan.png", PDF)]).status_code == 200
    with app.app_context():
        assert db.session.scalar(select(Attachment)).content_type == "application/pdf"


def test_an_executable_is_refused(dana):
    response = upload(dana, [("setup.pdf", EXE)])
    assert "setup.pdf is not a kind of file this question accepts." in response.get_data(
        as_text=True
    )


def test_a_file_over_the_per_file_limit_gets_a_message(app, dana, monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_MAX_FILE_MB", 1)
    big = png() + b"\x00" * (1024 * 1024)
    response = upload(dana, [("huge.png", big)])
    assert response.status_code == 422
    assert "huge.png is larger than 1 MB." in response.get_data(as_text=True)


def test_at_most_max_files(app, dana):
    files = [(f"p{i}.png", png()) for i in range(6)]
    response = upload(dana, files)
    assert "p5.png was not added: at most 5 files." in response.get_data(as_text=True)
    with app.app_context():
        assert len(db.session.scalars(select(Attachment)).all()) == 5


def test_an_oversized_request_is_413_with_a_message_and_the_draft_is_kept(app, dana, monkeypatch):
    token = csrf_token(dana, "/forms/change-request/new")
    dana.post(
        "/forms/change-request/draft",
        data={"title": "Keep me please"},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 64 * 1024)
    response = upload(dana, [("huge.png", png() + b"\x00" * 100_000)])
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert "The upload is larger than" in html
    assert response.headers["HX-Retarget"] == "#error-attachments"
    # Without htmx: a page that says so, not a bare error.
    response = upload(dana, [("huge.png", png() + b"\x00" * 100_000)], htmx=False)
    assert response.status_code == 413
    assert "Nothing you typed is lost" in response.get_data(as_text=True)
    monkeypatch.undo()
    page = dana.get("/forms/change-request/new").get_data(as_text=True)
    assert 'value="Keep me please"' in page


def test_removing_a_file(app, dana):
    upload(dana, [("a.png", png()), ("b.png", png())])
    with app.app_context():
        first = db.session.scalars(select(Attachment).order_by(Attachment.id)).first()
    token = csrf_token(dana, "/forms/change-request/new")
    response = dana.post(
        f"/forms/change-request/files/attachments/{first.id}/remove",
        data={"csrf_token": token},
        headers={"HX-Request": "true"},
    )
    html = response.get_data(as_text=True)
    assert "a.png" not in html and "b.png" in html


def test_files_move_to_the_request_on_submit_and_download_as_stored(app, dana):
    upload(dana, [("kitchen.png", png())])
    token = csrf_token(dana, "/forms/change-request/new")
    response = dana.post(
        "/forms/change-request/submit",
        data={
            "csrf_token": token,
            "title": "New tap",
            "description": "The tap drips",
            "reason": "defect",
            "business_value": "low",
            "affected_systems": ["other"],
        },
    )
    assert response.status_code == 302
    with app.app_context():
        change = db.session.scalar(select(ChangeRequest))
        attachment = change.attachments[0]
        assert attachment.draft_id is None
        assert change.answers["attachments"][0]["filename"] == "kitchen.png"
    detail = dana.get(f"/requests/{change.number}").get_data(as_text=True)
    link = re.search(r'href="(/files/\d+)"', detail).group(1)
    download = dana.get(link)
    assert download.status_code == 200
    assert download.data == png()
    assert download.headers["Content-Type"] == "image/png"
    assert download.headers["X-Content-Type-Options"] == "nosniff"


def test_upload_to_a_field_that_is_not_a_file_field_is_404(dana):
    assert upload(dana, [("a.png", png())], field="title").status_code == 404
