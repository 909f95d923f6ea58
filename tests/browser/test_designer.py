"""An admin builds a form in the designer on a phone, by tapping and with the keyboard,
watches the preview follow, publishes it, and a client fills it in and sends it."""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest

from portal.accounts.models import Role

expect = pytest.importorskip("playwright.sync_api", reason="browser tests need playwright").expect

ADMIN = "ada@portal.test"
DRAG = """([from, to]) => {
  const data = new DataTransfer();
  const source = document.getElementById(from), target = document.getElementById(to);
  const fire = (element, type) => element.dispatchEvent(
    new DragEvent(type, {bubbles: true, cancelable: true, dataTransfer: data}));
  fire(source, "dragstart");
  fire(target.querySelector(".row-title"), "dragover");
  fire(target.querySelector(".row-title"), "drop");
  fire(source, "dragend");
}"""


def test_an_admin_builds_and_publishes_a_form_a_client_then_sends(phones, accounts):
    accounts.user(ADMIN, Role.ADMIN, name="Ada")
    admin = phones.open("admin")
    admin.sign_in(ADMIN)
    page = admin.page
    admin.go("/admin/forms/new")
    page.get_by_label("Title").fill("Site visit")
    page.get_by_label("Name in the address").fill("site-visit")
    page.get_by_label("Request number prefix").fill("SV")
    page.get_by_role("button", name="Create the form").tap()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Site visit")
    preview = page.locator("#preview")

    # A short text question, by tapping the palette; its editor opens on the new question.
    page.get_by_role("button", name="Short text").tap()
    label = page.locator("#f0-label-en")
    expect(label).to_be_visible()
    label.fill("Which address?")
    label.press("Tab")
    expect(preview.locator("label[for=input-text]")).to_have_text("Which address?")
    page.locator("input[name='f0.required'][type=checkbox]").tap()
    expect(preview.locator("label[for=input-text] .required")).to_be_visible()

    # A choice question, its first choice renamed; the preview lists it.
    page.get_by_role("button", name="One choice").tap()
    page.locator("#f1-label-en").fill("How urgent?")
    page.locator("#f1-o0-label-en").fill("Today")
    page.locator("#f1-o0-label-en").press("Tab")
    expect(preview.locator("#field-radio")).to_contain_text("Today")
    expect(preview.locator("#field-radio legend")).to_contain_text("How urgent?")
    admin.shot("editor")

    # With the keyboard: move the choice question up; the move is announced and the focus
    # stays on the question's buttons, so a keyboard user can go on.
    up = page.get_by_role("button", name="Move How urgent? up")
    up.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#designer-status")).to_contain_text("How urgent? moved to position 1 of 2")
    expect(page.locator("#row-0 .row-title")).to_contain_text("How urgent?")
    expect(page.locator("#row-0 button[value='down:0']")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("#row-0 button[value='remove:0']")).to_be_focused()
    expect(preview.locator(".field").first).to_contain_text("How urgent?")

    # Publishing shows what is new, then makes version 1.
    page.get_by_role("link", name="Publish").tap()
    expect(page.locator(".diff")).to_contain_text("Added: radio")
    page.get_by_role("button", name="Publish").tap()
    expect(page.locator(".flashes")).to_contain_text("site-visit version 1 is published")

    client = phones.open("client")
    client.sign_in()
    client.go("/forms/site-visit/new")
    client.page.locator("#field-radio input[value=option_1]").check()
    client.page.get_by_label("Which address?").fill("1 Main Street")
    client.page.get_by_role("button", name="Submit request").tap()
    expect(client.page.locator(".big-number")).to_have_text(re.compile(r"SV-\d{4}-\d{5}"))
    phones.assert_clean()


@pytest.mark.parametrize("device", ["iPhone 13"], ids=["desk"])  # the desk is opened below
def test_an_admin_reorders_questions_by_dragging_on_a_desk(phones, accounts):
    """On a desk's screen the preview stands beside the editor and a question can be
    dragged to its place; the preview follows."""
    from tests.browser.conftest import DESKTOP

    accounts.user(ADMIN, Role.ADMIN, name="Ada")
    admin = phones.open("admin", device=DESKTOP)
    admin.sign_in(ADMIN)
    page = admin.page
    admin.go("/admin/forms/new")
    page.get_by_label("Title").fill("Desk form")
    page.get_by_label("Name in the address").fill("desk-form")
    page.get_by_role("button", name="Create the form").click()
    for kind in ("Short text", "Date", "Long text"):
        count = page.locator(".field-row").count()
        page.get_by_role("button", name=kind, exact=True).click()
        expect(page.locator(".field-row")).to_have_count(count + 1)
    preview = page.locator("#preview .field")
    expect(preview.nth(0)).to_contain_text("Question 1")
    editor_box = page.locator("#editor").bounding_box()
    preview_box = page.locator("#preview").bounding_box()
    assert preview_box["x"] > editor_box["x"] + editor_box["width"] - 1  # side by side
    assert preview_box["width"] <= 375
    # The drag gesture as the browser reports it to the page (Playwright's mouse cannot
    # start a native drag reliably in headless Chromium): dragstart, dragover, drop.
    page.evaluate(DRAG, ["row-2", "row-0"])
    expect(page.locator("#row-0 .row-title")).to_contain_text("Question 3")
    expect(preview.nth(0)).to_contain_text("Question 3")
    expect(page.locator("#designer-status")).to_contain_text("moved to position 1 of 3")
    admin.shot("dragged")
    phones.assert_clean()


def test_the_designer_pages_have_no_serious_accessibility_problems(phones, accounts):
    serious = pytest.importorskip("tests.browser.test_accessibility").serious
    accounts.user(ADMIN, Role.ADMIN, name="Ada")
    admin = phones.open("admin")
    admin.sign_in(ADMIN)
    page = admin.page
    admin.go("/admin/forms/new")
    problems = {"new form": serious(page)}
    page.get_by_label("Title").fill("Site visit")
    page.get_by_label("Name in the address").fill("site-visit")
    page.get_by_role("button", name="Create the form").tap()
    for kind in ("Short text", "One choice", "Files and photos"):
        count = page.locator(".field-row").count()
        page.get_by_role("button", name=kind, exact=True).tap()
        expect(page.locator(".field-row")).to_have_count(count + 1)
    problems["editor"] = serious(page)
    draft_path = urlparse(page.url).path.rstrip("/")  # the draft's own id, whatever the database
    for name, path in (
        ("forms", "/admin/forms/"),
        ("publish", f"{draft_path}/publish"),
        ("templates", "/admin/forms/templates"),
        ("template", "/admin/forms/templates/feature-request"),
    ):
        admin.go(path)
        problems[name] = serious(page)
    left = {name: found for name, found in problems.items() if found}
    assert not left, left


def test_an_admin_sets_default_answers_on_a_phone_and_the_preview_starts_with_them(
    phones, accounts
):
    """The default answer is set in the question's own panel, with a control that suits
    it; the preview fills it in, a default that does not fit is told beside its control,
    and the page stays free of serious accessibility problems."""
    from tests.browser.test_designer_done import settled

    serious = pytest.importorskip("tests.browser.test_accessibility").serious
    accounts.user(ADMIN, Role.ADMIN, name="Ada")
    admin = phones.open("admin")
    admin.sign_in(ADMIN)
    page = admin.page
    admin.go("/admin/forms/new")
    page.get_by_label("Title").fill("Defaults")
    page.get_by_label("Name in the address").fill("defaults")
    page.get_by_role("button", name="Create the form").tap()
    preview = page.locator("#preview")

    # One choice: the default is picked among the choices, and the preview ticks it.
    page.get_by_role("button", name="One choice", exact=True).tap()
    choice = page.locator("#f0-default")
    expect(choice).to_be_visible()
    settled(page)  # the redrawn editor is live, as it is by the time a person reads it
    choice.select_option(label="Option 2")
    expect(preview.locator("#field-radio input[value=option_2]")).to_be_checked()

    # A date: a date input, and the preview's date input holds it.
    page.get_by_role("button", name="Date", exact=True).tap()
    date = page.locator("#f1-default")
    expect(date).to_have_attribute("type", "date")
    settled(page)
    date.fill("2026-03-31")
    expect(preview.locator("#input-date")).to_have_value("2026-03-31")

    # A number that is not one: the message is beside the control, the text stays in it.
    page.get_by_role("button", name="Number", exact=True).tap()
    number = page.locator("#f2-default")
    expect(number).to_be_visible()
    settled(page)
    number.fill("ten")
    number.press("Tab")
    expect(page.locator("#p-fields-2-default")).to_contain_text("default must be a number")
    expect(number).to_have_value("ten")
    number.fill("10")
    number.press("Tab")
    expect(page.locator("#p-fields-2-default")).to_have_text("")
    expect(preview.locator("#input-number")).to_have_value("10")
    admin.shot("defaults")
    found = serious(page)
    assert not found, found
    phones.assert_clean()
