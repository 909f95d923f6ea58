"""The template gallery: every template opens, previews, becomes an editable copy and
publishes from the designer."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.designer.models import FormDraft
from portal.extensions import db
from portal.forms.models import Form
from portal.forms.templates_library import list_templates
from tests.designer.page import text_of

CARDS = list_templates()


def test_the_gallery_shows_every_card_in_the_readers_language(app, accounts, designer):
    page = text_of(designer.browser.get("/admin/forms/templates").get_data(as_text=True))
    assert page.count("Use this template") == len(CARDS) >= 15
    for card in CARDS:
        assert card.title_in("en") in page and card.summary_in("en") in page
    with app.app_context():
        from portal.accounts.models import User

        ada = db.session.scalar(select(User).where(User.email == "ada@portal.test"))
        ada.locale = "zh_Hans"
        db.session.commit()
    page = text_of(designer.browser.get("/admin/forms/templates").get_data(as_text=True))
    assert CARDS[0].title_in("zh_Hans") in page and CARDS[0].category_in("zh_Hans") in page


@pytest.mark.parametrize("card", CARDS, ids=[card.name for card in CARDS])
def test_each_template_opens_previews_and_publishes(app, designer, card):
    preview = designer.browser.get(f"/admin/forms/templates/{card.name}")
    body = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert card.title_in("en") in text_of(body) and 'class="preview-form"' in body
    token = designer.token(f"/admin/forms/templates/{card.name}")
    used = designer.browser.post(
        f"/admin/forms/templates/{card.name}/use", data={"csrf_token": token}
    )
    draft_id = int(used.location.rsplit("/", 1)[1])
    editor = designer.browser.get(used.location).get_data(as_text=True)
    assert "your copy of the template" in editor
    assert 'class="preview-form"' in editor  # the copy is valid: its preview is drawn
    with app.app_context():
        draft = db.session.get(FormDraft, draft_id)
        assert draft.source == f"template:{card.name}"
        name = draft.form_name
    token = designer.token(f"/admin/forms/drafts/{draft_id}/publish")
    published = designer.browser.post(
        f"/admin/forms/drafts/{draft_id}/publish", data={"csrf_token": token}
    )
    assert published.status_code == 302
    with app.app_context():
        form = db.session.scalar(select(Form).where(Form.name == name))
        assert form.published.number == 1
        assert ("chain" in form.published.definition) == ("chain" in (card_definition(card)))


def card_definition(card) -> dict:
    from portal.forms.templates_library import load_template

    return load_template(card.name)


def test_using_a_template_twice_makes_two_copies(designer):
    name = CARDS[0].name
    token = designer.token("/admin/forms/templates")
    first = designer.browser.post(f"/admin/forms/templates/{name}/use", data={"csrf_token": token})
    second = designer.browser.post(f"/admin/forms/templates/{name}/use", data={"csrf_token": token})
    assert first.location != second.location


def test_an_unknown_template_is_not_found(designer):
    assert designer.browser.get("/admin/forms/templates/no-such-thing").status_code == 404
