"""The designer through the test client, with CSRF tokens, the way its pages post."""

from __future__ import annotations

import yaml
from sqlalchemy import select

from portal.accounts.models import Role
from portal.audit.models import TraceEntry
from portal.designer.models import FormDraft
from portal.extensions import db
from portal.forms.models import Form
from tests.conftest import csrf_token


def test_a_new_form_needs_a_free_valid_name_and_a_title(designer, change_request_form):
    token = designer.token("/admin/forms/new")
    page = designer.browser.post(
        "/admin/forms/new",
        data={"csrf_token": token, "name": "Change Request!", "title": "", "language": "en"},
    )
    body = page.get_data(as_text=True)
    assert page.status_code == 422
    assert "Use 2 to 63 lower-case letters" in body
    assert "Give the form a title." in body
    assert 'value="Change Request!"' in body  # what was typed stays
    page = designer.browser.post(
        "/admin/forms/new",
        data={"csrf_token": token, "name": "change-request", "title": "Again", "language": "en"},
    )
    assert "Another form already has this name." in page.get_data(as_text=True)


def test_the_index_lists_drafts_and_published_forms(designer, change_request_form):
    designer.create("site-visit", "Site visit")
    page = designer.browser.get("/admin/forms/").get_data(as_text=True)
    assert "Site visit" in page and "site-visit" in page
    assert "Change request" in page and "version 1" in page


def test_a_typed_label_is_saved_and_the_preview_follows(designer):
    draft = designer.create()
    designer.post(draft, {"op": "add:text"})
    answer = designer.post(
        draft, {"f0.label.en": "Which address?", "f0.label.de": "Welche Adresse?"}
    )
    body = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "HX-Retarget" not in answer.headers  # a typed text redraws no input
    assert 'id="preview"' in body and "Which address?" in body
    assert designer.definition(draft)["fields"][0]["label"] == {
        "en": "Which address?",
        "de": "Welche Adresse?",
    }


def test_a_structural_change_redraws_the_editor(designer):
    draft = designer.create()
    answer = designer.post(draft, {"op": "add:select"})
    assert answer.headers["HX-Retarget"] == "#editor"
    assert answer.headers["HX-Reswap"] == "outerHTML"
    body = answer.get_data(as_text=True)
    assert 'name="f0.o1.value"' in body
    assert "Question 1 added at the end." in body


def slot(body: str, slot_id: str) -> str:
    """The message in one slot of the editor (the text beside one input)."""
    return body.split(f'id="{slot_id}"', 1)[1].split(">", 1)[1].split("</p>", 1)[0]


def test_mistakes_are_shown_beside_their_input_and_nothing_typed_is_lost(designer):
    draft = designer.create()
    designer.post(draft, {"op": "add:number"})
    answer = designer.post(draft, {"f0.min": "10", "f0.max": "1", "f0.name": "Bad Name"})
    body = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "max (1) is smaller than min (10)" in slot(body, "p-fields-0-max")
    assert "is not a valid field name" in slot(body, "p-fields-0-name")
    assert "The preview comes back once the problems" in body
    field = designer.definition(draft)["fields"][0]
    assert (field["min"], field["max"], field["name"]) == (10, 1, "Bad Name")
    page = designer.browser.get(f"/admin/forms/drafts/{draft}").get_data(as_text=True)
    assert 'value="Bad Name"' in page


def test_without_javascript_the_editor_saves_and_comes_back(designer):
    draft = designer.create()
    answer = designer.post(draft, {"op": "add:text"}, htmx=False)
    assert answer.status_code == 302
    assert answer.location.endswith(f"/admin/forms/drafts/{draft}")
    assert len(designer.definition(draft)["fields"]) == 1


def test_publishing_shows_the_difference_then_makes_a_version_and_a_trace(app, designer, accounts):
    draft = designer.create()
    designer.post(draft, {"op": "add:text"})
    designer.post(draft, {"f0.label.en": "Which address?"})
    review = designer.browser.get(f"/admin/forms/drafts/{draft}/publish").get_data(as_text=True)
    assert "A new form" in review and "Added: text" in review
    assert "no approval chain yet" in review
    token = designer.token(f"/admin/forms/drafts/{draft}/publish")
    done = designer.browser.post(f"/admin/forms/drafts/{draft}/publish", data={"csrf_token": token})
    assert done.location.endswith("/admin/forms/site-visit/versions")
    page = designer.browser.get(done.location).get_data(as_text=True)
    assert "site-visit version 1 is published." in page
    with app.app_context():
        form = db.session.scalar(select(Form).where(Form.name == "site-visit"))
        assert form.published.number == 1
        assert db.session.scalar(select(FormDraft)) is None  # the draft is closed
        entry = db.session.scalar(select(TraceEntry).where(TraceEntry.event == "form_published"))
        assert entry.data["form"] == "site-visit" and entry.data["version"] == 1
    org = accounts.organisation("Acme Ltd")
    accounts.user("dana@acme.test", Role.CLIENT, org)
    client = app.test_client()
    accounts.login(client, "dana@acme.test")
    assert "Which address?" in client.get("/forms/site-visit/new").get_data(as_text=True)


def test_a_draft_with_problems_is_not_published(app, designer):
    draft = designer.create()  # no questions yet
    review = designer.browser.get(f"/admin/forms/drafts/{draft}/publish").get_data(as_text=True)
    assert "Fix these first" in review and "fields must be a list with at least one field" in review
    token = designer.token(f"/admin/forms/drafts/{draft}/publish")
    refused = designer.browser.post(
        f"/admin/forms/drafts/{draft}/publish", data={"csrf_token": token}
    )
    assert refused.status_code == 422
    with app.app_context():
        assert db.session.scalar(select(Form)) is None


def publish(designer, draft: int):
    token = designer.token(f"/admin/forms/drafts/{draft}/publish")
    return designer.browser.post(f"/admin/forms/drafts/{draft}/publish", data={"csrf_token": token})


def open_draft(designer, name: str) -> int:
    token = designer.token(f"/admin/forms/{name}/versions")
    answer = designer.browser.post(f"/admin/forms/{name}/edit", data={"csrf_token": token})
    return int(answer.location.rsplit("/", 1)[1])


def test_edit_changes_and_restore_make_new_versions_that_never_change(app, designer):
    draft = designer.create()
    designer.post(draft, {"op": "add:text"})
    designer.post(draft, {"f0.label.en": "First wording"})
    publish(designer, draft)
    draft = open_draft(designer, "site-visit")
    assert designer.definition(draft)["fields"][0]["label"] == "First wording"
    designer.post(draft, {"f0.label.en": "Second wording", "f0.required": "1"})
    review = designer.browser.get(f"/admin/forms/drafts/{draft}/publish").get_data(as_text=True)
    assert "What changes from version 1" in review
    assert "Changed: text" in review and "<code>label</code>" in review
    assert "<code>required</code>" in review
    publish(designer, draft)
    versions = designer.browser.get("/admin/forms/site-visit/versions").get_data(as_text=True)
    assert "Version 2" in versions and "Restore as a draft" in versions
    token = designer.token("/admin/forms/site-visit/versions")
    restored = designer.browser.post(
        "/admin/forms/site-visit/versions/1/restore", data={"csrf_token": token}
    )
    draft = int(restored.location.rsplit("/", 1)[1])
    refused = designer.browser.post(
        "/admin/forms/site-visit/versions/1/restore", data={"csrf_token": token}
    )
    assert "already has a draft" in designer.browser.get(refused.location).get_data(as_text=True)
    publish(designer, draft)
    with app.app_context():
        form = db.session.scalar(select(Form).where(Form.name == "site-visit"))
        labels = [v.definition["fields"][0]["label"] for v in form.versions]
        assert labels == ["First wording", "Second wording", "First wording"]


def test_a_published_form_keeps_its_name_in_the_designer(designer):
    draft = designer.create()
    designer.post(draft, {"op": "add:text"})
    publish(designer, draft)
    draft = open_draft(designer, "site-visit")
    page = designer.browser.get(f"/admin/forms/drafts/{draft}").get_data(as_text=True)
    assert 'name="form.name" value="site-visit"' in page and "readonly" in page


def test_archiving_hides_a_form_from_clients_and_bringing_it_back_shows_it(app, designer, accounts):
    draft = designer.create()
    designer.post(draft, {"op": "add:text"})
    publish(designer, draft)
    org = accounts.organisation("Acme Ltd")
    accounts.user("dana@acme.test", Role.CLIENT, org)
    client = app.test_client()
    accounts.login(client, "dana@acme.test")
    token = designer.token("/admin/forms/site-visit/versions")
    designer.browser.post(
        "/admin/forms/site-visit/archive", data={"csrf_token": token, "archived": "1"}
    )
    assert client.get("/forms/site-visit/new").status_code == 404
    designer.browser.post(
        "/admin/forms/site-visit/archive", data={"csrf_token": token, "archived": "0"}
    )
    assert client.get("/forms/site-visit/new").status_code == 200


def test_a_draft_with_problems_still_exports_what_it_holds(designer):
    draft = designer.create()
    exported = designer.browser.get(f"/admin/forms/drafts/{draft}/export.yaml")
    assert "attachment" in exported.headers["Content-Disposition"]
    assert yaml.safe_load(exported.get_data(as_text=True))["name"] == "site-visit"


def test_a_discarded_draft_is_gone(app, designer):
    draft = designer.create()
    token = csrf_token(designer.browser, f"/admin/forms/drafts/{draft}")
    designer.browser.post(f"/admin/forms/drafts/{draft}/discard", data={"csrf_token": token})
    assert designer.browser.get(f"/admin/forms/drafts/{draft}").status_code == 404


def test_the_preview_shows_the_form_in_the_language_picked(designer):
    draft = designer.create()
    designer.post(draft, {"op": "add:text"})
    answer = designer.post(
        draft,
        {"f0.label.en": "Which address?", "f0.label.de": "Welche Adresse?", "preview_lang": "de"},
    )
    preview = answer.get_data(as_text=True).split('id="preview"', 1)[1]
    assert "Welche Adresse?" in preview and "Which address?" not in preview
    assert 'lang="de"' in preview


def test_removing_a_question_says_so_and_leaves_the_others(designer):
    draft = designer.create()
    designer.post(draft, {"op": "add:text"})
    designer.post(draft, {"op": "add:date"})
    designer.post(draft, {"f0.label.en": "Which address?"})
    answer = designer.post(draft, {"op": "remove:0"}).get_data(as_text=True)
    assert "Which address? removed." in answer
    assert [f["type"] for f in designer.definition(draft)["fields"]] == ["date"]
