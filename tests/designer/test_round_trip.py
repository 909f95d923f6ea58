"""Whatever the designer holds exports to the YAML ``portal forms import`` reads, and
nothing is lost on the way: for the shipped change-request form, every template, and a
form with a default answer of every kind (the editor's default controls post them back).

Three trips for each definition ``x`` (compared as checked, canonical definitions):
the designer's export of a draft imports back to ``x``; a published version exported and
imported with the CLI is ``x``; and the editor posted back exactly as its page shows it
(every input, as a browser would send it) leaves ``x`` unchanged.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from werkzeug.datastructures import MultiDict

from portal.designer.drafts import new_draft
from portal.extensions import db
from portal.forms.definition import parse_definition_text
from portal.forms.service import check_definition
from tests.designer.page import form_values

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = [ROOT / "portal/forms/library/change-request.yaml"]
LIBRARY = sorted((ROOT / "portal/forms/templates_library").glob("*.yaml"))
EVERY_DEFAULT = ROOT / "tests/forms/every_default.yaml"  # a default answer of every kind
DEFINITIONS = SHIPPED + [path for path in LIBRARY if path.name != "index.yaml"] + [EVERY_DEFAULT]


def canonical(app, data) -> dict:
    with app.app_context():
        return check_definition(data).to_dict()


@pytest.fixture(params=DEFINITIONS, ids=[path.stem for path in DEFINITIONS])
def definition(request):
    path = request.param
    return parse_definition_text(path.read_text(encoding="utf-8"), str(path))


def draft_of(app, data) -> int:
    with app.app_context():
        draft = new_draft(data, None, "test", keep_name=True)
        db.session.commit()
        return draft.id


def test_a_drafts_export_imports_back_to_the_same_definition(app, designer, definition):
    expected = canonical(app, definition)
    draft_id = draft_of(app, definition)
    exported = designer.browser.get(f"/admin/forms/drafts/{draft_id}/export.yaml")
    assert exported.status_code == 200
    assert exported.mimetype == "application/yaml"
    again = parse_definition_text(exported.get_data(as_text=True), "export.yaml")
    assert canonical(app, again) == expected


def test_a_published_version_exported_and_imported_by_the_cli_is_the_same(
    app, designer, definition, tmp_path
):
    expected = canonical(app, definition)
    draft_id = draft_of(app, definition)
    token = designer.token(f"/admin/forms/drafts/{draft_id}/publish")
    published = designer.browser.post(
        f"/admin/forms/drafts/{draft_id}/publish", data={"csrf_token": token}
    )
    assert published.status_code == 302, published.get_data(as_text=True)[-2000:]
    name = expected["name"]
    exported = designer.browser.get(f"/admin/forms/{name}/versions/1/export.yaml")
    assert yaml.safe_load(exported.get_data(as_text=True)) == expected
    path = tmp_path / "form.yaml"
    path.write_bytes(exported.get_data())
    result = app.test_cli_runner().invoke(args=["forms", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "is unchanged (version 1)" in result.output  # the same definition, no new version
    result = app.test_cli_runner().invoke(args=["forms", "export", name])
    assert canonical(app, yaml.safe_load(result.output)) == expected


def test_the_editor_posted_back_as_shown_changes_nothing(app, designer, definition):
    expected = canonical(app, definition)
    draft_id = draft_of(app, definition)
    page = designer.browser.get(f"/admin/forms/drafts/{draft_id}").get_data(as_text=True)
    values = MultiDict(form_values(page, "editor"))
    assert "f0.key" in values
    saved = designer.browser.post(
        f"/admin/forms/drafts/{draft_id}", data=values, headers={"HX-Request": "true"}
    )
    assert saved.status_code == 200
    assert "problem" not in saved.get_data(as_text=True).split('id="designer-status"')[1][:200]
    got = canonical(app, designer.definition(draft_id))
    for mine, theirs in zip(got["fields"], expected["fields"], strict=True):
        assert mine == theirs
    assert got == expected
