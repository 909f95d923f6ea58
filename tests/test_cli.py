"""The ``portal`` command line: forms validate / import / export, users create, demo."""

from __future__ import annotations

import json

import yaml
from sqlalchemy import func, select

from portal.accounts.models import User
from portal.extensions import db
from portal.forms.models import FormVersion
from portal.requests.models import ChangeRequest
from tests.conftest import SHIPPED_FORM

BROKEN = """
name: Bad Name
title: {en: Broken}
colour: blue
fields:
  - {name: title, type: text, label: Title, min_length: 9, max_length: 3}
  - {name: title, type: wobble, label: Again}
  - {name: pick, type: select, label: Pick}
  - {name: code, type: text, label: Code, pattern: '(a+)+$'}
"""


def test_validate_lists_every_problem_with_its_path(app, tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN)
    result = app.test_cli_runner().invoke(args=["forms", "validate", str(path)])
    assert result.exit_code == 1
    output = result.output
    expected = [
        "name: 'Bad Name' is not a valid form name",
        "colour: unknown key 'colour'",
        "fields[0].max_length: max_length (3) is smaller than min_length (9)",
        "fields[1].name: the name 'title' is already used by fields[0]",
        "fields[1].type: unknown field type 'wobble'",
        "fields[2]: a select field needs options",
        "fields[3].pattern: nested repetition",
    ]
    lines = [line.strip() for line in output.splitlines()[1:]]
    assert len(lines) == len(expected)
    for line, start in zip(lines, expected, strict=True):
        assert line.startswith(start), line
    assert "nothing was changed" in output


def test_validate_accepts_the_shipped_form(app):
    result = app.test_cli_runner().invoke(args=["forms", "validate", str(SHIPPED_FORM)])
    assert result.exit_code == 0
    assert "the form 'change-request' is valid" in result.output


def test_import_publishes_and_a_broken_file_imports_nothing(app, tmp_path):
    runner = app.test_cli_runner()
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN)
    assert runner.invoke(args=["forms", "import", str(path)]).exit_code == 1
    result = runner.invoke(args=["forms", "import", str(SHIPPED_FORM)])
    assert "Published 'change-request' version 1." in result.output
    result = runner.invoke(args=["forms", "import", str(SHIPPED_FORM)])
    assert "'change-request' is unchanged (version 1)." in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count(FormVersion.id))) == 1


def test_export_gives_back_what_import_reads(app, tmp_path):
    runner = app.test_cli_runner()
    runner.invoke(args=["forms", "import", str(SHIPPED_FORM)])
    exported = runner.invoke(args=["forms", "export", "change-request"]).output
    again = tmp_path / "again.yaml"
    again.write_text(exported)
    result = runner.invoke(args=["forms", "import", str(again)])
    assert "is unchanged (version 1)" in result.output
    as_json = runner.invoke(args=["forms", "export", "change-request", "--format", "json"]).output
    assert json.loads(as_json) == yaml.safe_load(exported)
    missing = runner.invoke(args=["forms", "export", "nope"])
    assert missing.exit_code != 0 and "no published form is called 'nope'" in missing.output


def test_users_create(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["users", "create", "--email", "New@Acme.test", "--name", "New", "--role", "client",
              "--organisation", "Acme Ltd", "--password", "long enough secret"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(select(User))
        assert user.email == "new@acme.test" and user.organisation.name == "Acme Ltd"
    again = runner.invoke(
        args=["users", "create", "--email", "new@acme.test", "--name", "x",
              "--password", "long enough secret", "--organisation", "Acme Ltd"]
    )  # fmt: skip
    assert again.exit_code != 0 and "already exists" in again.output
    no_org = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "b@x.test",
            "--name",
            "b",
            "--password",
            "long enough secret",
        ]
    )
    assert no_org.exit_code != 0 and "belongs to an organisation" in no_org.output
    short = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "c@x.test",
            "--name",
            "c",
            "--role",
            "admin",
            "--password",
            "short",
        ]
    )
    assert short.exit_code != 0 and "at least 10 characters" in short.output


def test_demo_makes_a_workspace_once(app, client):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    assert "client1@example.com" in first.output and "http://127.0.0.1:5000" in first.output
    second = runner.invoke(args=["demo"])
    assert "(nothing new)" in second.output
    with app.app_context():
        assert db.session.scalar(select(func.count(User.id))) == 5
        assert db.session.scalar(select(func.count(ChangeRequest.id))) == 8
    token_page = client.get("/login").get_data(as_text=True)
    token = token_page.split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post(
        "/login",
        data={"email": "client1@example.com", "password": "demo-password", "csrf_token": token},
    )
    assert response.status_code == 302
    listing = client.get("/").get_data(as_text=True)
    assert "Add a CSV export to the monthly report" in listing
    assert "In review" in listing and "Completed" in listing


def test_validate_lists_the_texts_still_to_translate(app, tmp_path):
    path = tmp_path / "two-languages.yaml"
    path.write_text(
        "name: two-languages\n"
        "title: {en: Two, de: Zwei}\n"
        "fields:\n"
        "  - {name: title, type: text, label: {en: Title, de: Titel}}\n"
        "  - {name: colour, type: select, label: {en: Colour},\n"
        "     options: [{value: r, label: {en: Red}}]}\n"
    )
    result = app.test_cli_runner().invoke(args=["forms", "validate", str(path)])
    assert result.exit_code == 0
    assert (
        "de: 2 text(s) not translated yet: fields[1].label, fields[1].options[0].label"
        in result.output
    )
