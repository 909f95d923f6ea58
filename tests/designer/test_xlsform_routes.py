"""Importing an XLSForm in the browser, exporting a draft as one, and the command line.

The uploads are the LibreOffice-written spreadsheets in tests/forms/xlsform/.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from portal.accounts.models import Role
from portal.designer.models import FormDraft
from portal.extensions import db
from portal.forms.service import check_definition, field_rules, publish
from portal.forms.xlsform import read_xlsform
from tests.conftest import csrf_token

FIXTURES = Path(__file__).resolve().parents[1] / "forms" / "xlsform"
PAGE = "/admin/forms/import-xlsform"


@pytest.fixture
def admin(app, accounts):
    accounts.user("ada@portal.test", Role.ADMIN)
    browser = app.test_client()
    accounts.login(browser, "ada@portal.test")
    return browser


def upload(browser, data: bytes, filename: str, token: str | None = None):
    token = token or csrf_token(browser, PAGE)
    return browser.post(
        PAGE,
        data={"csrf_token": token, "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def field_error(page: str) -> str:
    found = re.search(r'<p class="field-error" id="error-file">(.*?)</p>', page, re.S)
    assert found, "no message slot beside the file field"
    return found.group(1).strip()


def test_the_designer_links_to_the_import_page(admin):
    page = admin.get("/admin/forms/").get_data(as_text=True)
    assert f'href="{PAGE}"' in page
    form = admin.get(PAGE).get_data(as_text=True)
    assert 'type="file" name="file"' in form and 'name="csrf_token"' in form


def test_an_admin_imports_a_spreadsheet_and_sees_what_was_not_mapped(app, admin):
    data = (FIXTURES / "change_request.xlsx").read_bytes()
    response = upload(admin, data, "change_request.xlsx")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    with app.app_context():
        draft = db.session.scalar(select(FormDraft))
        assert draft.source == "xlsform:change_request.xlsx"
        assert draft.form_name == "change-request"
        draft_id = draft.id
        questions = sum(1 for f in draft.definition["fields"] if f["type"] != "section")
    assert f'href="/admin/forms/drafts/{draft_id}"' in page
    assert f"{questions} questions from change_request.xlsx are in the draft" in page
    assert "the portal has no map or location question" in page
    assert "<td>survey sheet, row 34, column type</td><td><code>geopoint</code></td>" in page
    assert "<td>survey sheet, row 11, column choice_filter</td>" in page
    assert "country=${country}" in page
    assert f'href="/admin/forms/drafts/{draft_id}/xlsform"' in page


def test_the_imported_form_passes_the_checks_publishes_and_a_client_can_fill_it(
    app, admin, accounts
):
    upload(admin, (FIXTURES / "change_request.xlsx").read_bytes(), "change_request.xlsx")
    with app.app_context():
        draft = db.session.scalar(select(FormDraft))
        check_definition(draft.definition)
        version, created = publish(draft.definition)
        db.session.commit()
        assert created and version.number == 1
    org = accounts.organisation("Acme Ltd")
    accounts.user("dana@acme.test", Role.CLIENT, org)
    client = app.test_client()
    accounts.login(client, "dana@acme.test")
    page = client.get("/forms/change-request/new")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Which other reason?" in text
    assert "Affected systems" in text


def test_a_file_that_is_not_a_spreadsheet_gets_a_message_beside_the_field(admin):
    response = upload(admin, b"%PDF-1.7\n%binary", "form.pdf")
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True)) == (
        "This file is not an .xlsx spreadsheet; choose an XLSForm saved as .xlsx"
    )


def test_an_old_xls_file_is_refused_with_what_to_do(admin):
    response = upload(admin, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512, "form.xls")
    assert response.status_code == 422
    assert "save it as .xlsx" in field_error(response.get_data(as_text=True))


def test_an_oversized_upload_gets_a_message_beside_the_field(app, admin):
    before = app.config["XLSFORM_MAX_MB"]
    app.config["XLSFORM_MAX_MB"] = 0.01
    try:
        response = upload(admin, b"PK\x03\x04" + b"0" * 20_000, "big.xlsx")
    finally:
        app.config["XLSFORM_MAX_MB"] = before
    assert response.status_code == 422
    assert "larger than 0.01 MB" in field_error(response.get_data(as_text=True))
    with app.app_context():
        assert db.session.scalar(select(FormDraft)) is None


def test_an_upload_without_a_file_asks_for_one(admin):
    token = csrf_token(admin, PAGE)
    response = admin.post(PAGE, data={"csrf_token": token}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True)) == (
        "Choose an XLSForm spreadsheet (.xlsx) to upload."
    )


def test_a_spreadsheet_with_nothing_to_take_over_says_so(admin):
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "survey"
    book.active.append(["type", "name", "label"])
    book.active.append(["geopoint", "where", "Where?"])
    buffer = io.BytesIO()
    book.save(buffer)
    response = upload(admin, buffer.getvalue(), "where.xlsx")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_error(page) == "No question in this spreadsheet could be taken over"
    assert "the portal has no map or location question" in page


def test_an_upload_without_the_csrf_token_is_refused(app, admin):
    data = (FIXTURES / "every_type.xlsx").read_bytes()
    response = admin.post(
        PAGE,
        data={"file": (io.BytesIO(data), "every_type.xlsx")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(FormDraft)) is None


@pytest.mark.parametrize("role", [Role.APPROVER, Role.CLIENT])
def test_only_admins_import_and_export(app, accounts, admin, role):
    upload(admin, (FIXTURES / "every_type.xlsx").read_bytes(), "every_type.xlsx")
    with app.app_context():
        draft_id = db.session.scalar(select(FormDraft.id))
    org = accounts.organisation("Acme Ltd") if role == Role.CLIENT else None
    accounts.user("someone@acme.test", role, org)
    browser = app.test_client()
    accounts.login(browser, "someone@acme.test")
    token = csrf_token(browser, "/")
    assert browser.get(PAGE).status_code == 403
    data = (FIXTURES / "every_type.xlsx").read_bytes()
    posted = browser.post(
        PAGE,
        data={"csrf_token": token, "file": (io.BytesIO(data), "every_type.xlsx")},
        content_type="multipart/form-data",
    )
    assert posted.status_code == 403
    assert browser.get(f"/admin/forms/drafts/{draft_id}/xlsform").status_code == 403
    with app.app_context():
        assert db.session.scalar(select(db.func.count(FormDraft.id))) == 1


def test_a_draft_exports_as_an_xlsform_that_reads_back_the_same(app, admin):
    upload(admin, (FIXTURES / "every_type.xlsx").read_bytes(), "every_type.xlsx")
    with app.app_context():
        draft = db.session.scalar(select(FormDraft))
        draft_id, definition = draft.id, draft.definition
    response = admin.get(f"/admin/forms/drafts/{draft_id}/xlsform")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    assert 'filename="every-type.xlsx"' in response.headers["Content-Disposition"]
    with app.app_context():
        again, unmapped = read_xlsform(response.data, "every-type.xlsx", field_rules())
    assert again == definition and unmapped == []


def test_a_missing_draft_is_not_found(admin):
    assert admin.get("/admin/forms/drafts/999999/xlsform").status_code == 404


def test_the_command_line_makes_a_draft_and_prints_what_was_not_mapped(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["forms", "import-xlsform", str(FIXTURES / "every_type.xlsx")])
    assert result.exit_code == 0, result.output
    assert "Made the draft 'every-type'" in result.output
    assert "survey row 27, type: geopoint: the portal has no map or location question" in (
        result.output
    )
    with app.app_context():
        assert db.session.scalar(select(FormDraft.source)) == "xlsform:every_type.xlsx"


def test_the_command_line_refuses_a_file_that_is_not_an_xlsform(app, tmp_path):
    path = tmp_path / "notes.xlsx"
    path.write_text("just text")
    result = app.test_cli_runner().invoke(args=["forms", "import-xlsform", str(path)])
    assert result.exit_code != 0
    assert "not an .xlsx spreadsheet" in result.output


def test_text_from_the_spreadsheet_and_its_name_are_shown_as_text(admin):
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "survey"
    book.active.append(["type", "name", "label"])
    book.active.append(["text", "q", "A question"])
    book.active.append(["<script>alert(1)</script>", "x", "<img src=x onerror=alert(2)>"])
    buffer = io.BytesIO()
    book.save(buffer)
    name = "<img src=x onerror=alert(3)>.xlsx"
    page = upload(admin, buffer.getvalue(), name).get_data(as_text=True)
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    assert "onerror=alert(3)>" not in page and "&lt;img src=x onerror=alert(3)&gt;.xlsx" in page
