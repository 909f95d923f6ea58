"""The default answer in the designer: a control that suits each kind of question, the
loader's checks shown beside it, the preview and a client's new request starting with it,
and the difference before publishing naming it.

Every edit posts the editor as its page draws it (``form_values``), with the default
control changed the way an admin changes it, so the names and values the page really
uses are the ones tested.
"""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from portal.accounts.models import Role
from portal.designer.drafts import new_draft
from portal.extensions import db
from tests.designer.page import form_values, text_of
from tests.designer.test_routes import open_draft, publish, slot


def editor_values(designer, draft: int) -> MultiDict:
    page = designer.browser.get(f"/admin/forms/drafts/{draft}").get_data(as_text=True)
    return MultiDict(form_values(page, "editor"))


def edit(designer, draft: int, changes: dict):
    """Post the editor as shown, with ``changes`` (a list sets every value of a name)."""
    values = editor_values(designer, draft)
    for key, value in changes.items():
        values.setlist(key, value if isinstance(value, list) else [value])
    return designer.browser.post(
        f"/admin/forms/drafts/{draft}", data=values, headers={"HX-Request": "true"}
    )


def said(html: str, slot_id: str) -> str:
    """The message beside one control, as the admin reads it."""
    return text_of(slot(html, slot_id))


def preview_values(html: str) -> MultiDict:
    """What the preview's controls hold (it is drawn as the fill form, read-only)."""
    preview = html.split('id="preview"', 1)[1]
    return MultiDict(form_values(f'<form id="p">{preview}</form>', "p"))


def new_question(designer, kind: str) -> int:
    draft = designer.create()
    designer.post(draft, {"op": f"add:{kind}"})
    return draft


@pytest.mark.parametrize(
    "kind, posted, stored, shown",
    [
        ("text", ["Printer on floor 2"], "Printer on floor 2", ["Printer on floor 2"]),
        ("textarea", ["First line\r\nsecond line"], "First line\nsecond line",
         ["First line\nsecond line"]),
        ("email", ["it@acme.com"], "it@acme.com", ["it@acme.com"]),
        ("phone", ["+44 20 7946 0958"], "+44 20 7946 0958", ["+44 20 7946 0958"]),
        ("url", ["https://acme.com"], "https://acme.com", ["https://acme.com"]),
        ("number", ["12,5"], 12.5, ["12.5"]),
        ("percent", ["40"], 40, ["40"]),
        ("money", ["1250.50"], 1250.5, ["1250.5"]),
        ("date", ["2026-03-31"], "2026-03-31", ["2026-03-31"]),
        ("datetime", ["2026-03-02T09:30"], "2026-03-02T09:30", ["2026-03-02T09:30"]),
        ("select", ["option_2"], "option_2", ["option_2"]),
        ("radio", ["option_1"], "option_1", ["option_1"]),
        ("multiselect", ["option_1", "option_2"], ["option_1", "option_2"],
         ["option_1", "option_2"]),
        ("checkbox", ["yes"], True, ["y"]),
        ("checkbox", ["no"], False, []),
    ],
)  # fmt: skip
def test_each_kind_of_default_is_set_in_its_control_and_shown_in_the_preview(
    designer, kind, posted, stored, shown
):
    draft = new_question(designer, kind)
    answer = edit(designer, draft, {"f0.default": posted})
    assert answer.status_code == 200
    assert designer.definition(draft)["fields"][0]["default"] == stored
    assert preview_values(answer.get_data(as_text=True)).getlist(kind) == shown
    page = designer.browser.get(f"/admin/forms/drafts/{draft}").get_data(as_text=True)
    assert preview_values(page).getlist(kind) == shown
    edit(designer, draft, {})  # the editor posted back as it shows the default keeps it
    assert designer.definition(draft)["fields"][0]["default"] == stored


@pytest.mark.parametrize(
    "kind, control",
    [
        ("text", '<input id="f0-default" name="f0.default"'),
        ("textarea", '<textarea id="f0-default" name="f0.default"'),
        ("number", 'inputmode="decimal"'),
        ("money", "Default amount (in the currency chosen at the start)"),
        ("date", 'type="date"'),
        ("datetime", 'type="datetime-local"'),
        ("select", '<option value="">No default</option>'),
        ("radio", '<option value="">No default</option>'),
        ("multiselect", "Ticked at the start"),
        ("checkbox", '<option value="">No default (not ticked)</option>'),
    ],
)
def test_the_control_suits_the_kind_of_answer(designer, kind, control):
    draft = new_question(designer, kind)
    page = designer.browser.get(f"/admin/forms/drafts/{draft}").get_data(as_text=True)
    block = page.split('name="f0.default_kind"', 1)[1].split("</details>", 1)[0]
    assert control in block
    assert 'aria-describedby="p-fields-0-default"' in block


@pytest.mark.parametrize("kind", ["file", "section"])
def test_files_and_sections_have_no_default_control(designer, kind):
    draft = new_question(designer, kind)
    page = designer.browser.get(f"/admin/forms/drafts/{draft}").get_data(as_text=True)
    assert 'name="f0.default' not in page
    assert "Default answer" not in page


@pytest.mark.parametrize(
    "kind, posted",
    [
        ("text", [""]),
        ("number", ["  "]),
        ("date", [""]),
        ("select", [""]),
        ("multiselect", []),
        ("checkbox", [""]),
    ],
)
def test_clearing_the_control_removes_the_default(designer, kind, posted):
    draft = new_question(designer, kind)
    first = {"text": "x", "number": "5", "date": "2026-01-31", "select": "option_1",
             "multiselect": ["option_1"], "checkbox": "yes"}[kind]  # fmt: skip
    edit(designer, draft, {"f0.default": first})
    assert "default" in designer.definition(draft)["fields"][0]
    answer = edit(designer, draft, {"f0.default": posted})
    assert "default" not in designer.definition(draft)["fields"][0]
    assert preview_values(answer.get_data(as_text=True)).getlist(kind) in ([], [""])


@pytest.mark.parametrize(
    "kind, setup, posted, message",
    [
        ("number", {}, "about ten", "default must be a number"),
        ("number", {"f0.max": "10"}, "50", "the default 50 is above max (10)"),
        ("money", {"f0.min": "0"}, "-5", "the default -5 is below min (0)"),
        ("percent", {"f0.max": "100"}, "150", "the default 150 is above max (100)"),
        ("date", {}, "2026-02-30", "default must be a date like 2026-01-31"),
        ("date", {"f0.min": "2026-01-01"}, "2025-12-31",
         "the default 2025-12-31 is below min (2026-01-01)"),
        ("datetime", {}, "next monday", "default must be a date and time like 2026-01-31T09:00"),
        ("text", {"f0.max_length": "3"}, "abcd", "the default is longer than max_length (3)"),
        ("text", {"f0.min_length": "3"}, "ab", "the default is shorter than min_length (3)"),
        ("text", {"f0.pattern_preset": "digits"}, "abc", "the default does not match the pattern"),
        ("select", {}, "option_9",
         "the default 'option_9' is not one of the options (option_1, option_2)"),
        ("checkbox", {}, "maybe", "the default of a checkbox field must be true or false"),
    ],
)  # fmt: skip
def test_a_default_that_does_not_fit_is_told_beside_its_control_and_nothing_is_lost(
    designer, kind, setup, posted, message
):
    draft = new_question(designer, kind)
    if setup:
        edit(designer, draft, setup)
    answer = edit(designer, draft, {"f0.default": posted, "f0.label.en": "Typed with it"})
    body = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert message in said(body, "p-fields-0-default")
    assert "The preview comes back once the problems" in body
    field = designer.definition(draft)["fields"][0]
    assert field["label"] == {"en": "Typed with it"}
    assert str(field["default"]) == posted  # kept as typed, to be corrected
    page = designer.browser.get(f"/admin/forms/drafts/{draft}").get_data(as_text=True)
    assert message in said(page, "p-fields-0-default")
    assert editor_values(designer, draft)["f0.default"] == posted  # still in its control


def test_the_message_is_in_the_admins_language(app, accounts):
    accounts.user("ute@portal.test", Role.ADMIN, name="Ute", locale="de")
    browser = app.test_client()
    accounts.login(browser, "ute@portal.test")
    from tests.designer.conftest import Designer

    designer = Designer(app, browser)
    draft = new_question(designer, "number")
    body = edit(designer, draft, {"f0.default": "zehn"}).get_data(as_text=True)
    assert "default muss eine Zahl sein" in said(body, "p-fields-0-default")
    page = designer.browser.get(f"/admin/forms/drafts/{draft}").get_data(as_text=True)
    assert "Standardantwort" in page


@pytest.mark.parametrize(
    "change",
    [{"f0.o0.value": "first"}, {"op": "opt_remove:0:0"}],
    ids=["renamed", "removed"],
)
def test_a_default_naming_a_choice_that_was_renamed_or_removed_is_caught(designer, change):
    draft = new_question(designer, "select")
    edit(designer, draft, {"f0.default": "option_1"})
    answer = edit(designer, draft, change)
    body = answer.get_data(as_text=True)
    assert "the default 'option_1' is not one of the options" in said(body, "p-fields-0-default")
    assert designer.definition(draft)["fields"][0]["default"] == "option_1"
    page = designer.browser.get(f"/admin/forms/drafts/{draft}").get_data(as_text=True)
    assert "option_1 (no longer a choice)" in text_of(page)
    assert editor_values(designer, draft)["f0.default"] == "option_1"  # still chosen, shown
    edit(designer, draft, {"f0.default": "option_2"})  # the admin picks another
    assert designer.definition(draft)["fields"][0]["default"] == "option_2"
    page = designer.browser.get(f"/admin/forms/drafts/{draft}").get_data(as_text=True)
    assert said(page, "p-fields-0-default") == ""


def test_a_ticked_choice_that_was_removed_is_caught_for_several_choices(designer):
    draft = new_question(designer, "multiselect")
    edit(designer, draft, {"f0.default": ["option_1", "option_2"]})
    body = edit(designer, draft, {"op": "opt_remove:0:1"}).get_data(as_text=True)
    assert said(body, "p-fields-0-default") == (
        "the default 'option_2' is not one of the options (option_1)"
    )
    assert editor_values(designer, draft).getlist("f0.default") == ["option_1", "option_2"]


@pytest.mark.parametrize(
    "before, after, default, kept",
    [
        ("select", "multiselect", ["option_2"], ["option_2"]),
        ("select", "radio", ["option_2"], "option_2"),
        ("multiselect", "select", ["option_1"], "option_1"),
        ("multiselect", "radio", ["option_1", "option_2"], None),
        ("text", "textarea", ["Hello"], "Hello"),
        ("text", "number", ["Hello"], None),
        ("number", "money", ["5"], 5),
        ("date", "file", ["2026-01-31"], None),
    ],
)
def test_a_new_type_keeps_the_default_only_where_it_means_the_same(
    designer, before, after, default, kept
):
    draft = new_question(designer, before)
    edit(designer, draft, {"f0.default": default})
    answer = edit(designer, draft, {"f0.type": after})
    assert answer.status_code == 200
    field = designer.definition(draft)["fields"][0]
    assert field["type"] == after
    assert field.get("default") == kept
    assert said(answer.get_data(as_text=True), "p-fields-0-default") == ""


def test_a_default_a_file_question_cannot_have_can_be_removed(app, designer):
    with app.app_context():
        draft = new_draft(
            {
                "name": "with-file",
                "title": "With a file",
                "fields": [{"name": "photo", "type": "file", "label": "Photo", "default": "a.pdf"}],
            },
            None,
            keep_name=True,
        )
        db.session.commit()
        draft_id = draft.id
    page = designer.browser.get(f"/admin/forms/drafts/{draft_id}").get_data(as_text=True)
    assert "a file field cannot have a default" in said(page, "p-fields-0-default")
    assert "Remove the default answer" in page
    designer.post(draft_id, {"op": "no_default:0"})
    assert "default" not in designer.definition(draft_id)["fields"][0]


def test_the_difference_before_publishing_names_a_changed_default(designer):
    draft = new_question(designer, "select")
    edit(designer, draft, {"f0.default": "option_1"})
    publish(designer, draft)
    draft = open_draft(designer, "site-visit")
    edit(designer, draft, {"f0.default": "option_2"})
    review = designer.browser.get(f"/admin/forms/drafts/{draft}/publish").get_data(as_text=True)
    assert "Changed: select" in review and "<code>default</code>" in review
    assert "Default answer: option_1 → option_2" in " ".join(text_of(review).split())
    edit(designer, draft, {"f0.default": ""})
    review = designer.browser.get(f"/admin/forms/drafts/{draft}/publish").get_data(as_text=True)
    assert "Default answer: option_1 → none" in " ".join(text_of(review).split())


def test_a_clients_new_request_starts_with_the_default_set_in_the_designer(app, designer, accounts):
    draft = new_question(designer, "number")
    designer.post(draft, {"op": "add:multiselect"})
    edit(designer, draft, {"f0.default": "42", "f1.default": ["option_2"]})
    assert publish(designer, draft).status_code == 302
    org = accounts.organisation("Acme Ltd")
    accounts.user("dana@acme.test", Role.CLIENT, org)
    client = app.test_client()
    accounts.login(client, "dana@acme.test")
    page = client.get("/forms/site-visit/new").get_data(as_text=True)
    values = MultiDict(form_values(page, "entry"))
    assert values["number"] == "42"
    assert values.getlist("multiselect") == ["option_2"]
