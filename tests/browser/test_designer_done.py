"""The designer's "done when", in a real Chromium: an admin who has never seen YAML builds a
change-request form and its seven-step chain from an empty page, publishes it, a client
fills it in on a phone and sends it, and the people of the first step find it waiting.

Ada (admin) works at a desk; Dana (client) on the harness's phone; Bo (approver) at a desk.
"""

from __future__ import annotations

import re

import pytest

from portal.accounts.models import Role, User
from portal.approvals.models import Group
from portal.extensions import db

expect = pytest.importorskip(
    "playwright.sync_api",
    reason="browser tests need Debian's chromium (apt-get install chromium) "
    "and the playwright package (pip install -e '.[test]')",
).expect

from tests.browser.conftest import DESKTOP  # noqa: E402
from tests.browser.test_phone_submission import label  # noqa: E402

ADA = "ada@portal.test"
BO = "bo@portal.test"
CHEN = "chen@portal.test"
LEVELS = (("Low", "low"), ("Medium", "medium"), ("High", "high"))


@pytest.fixture
def device() -> str:
    """The client's phone (one walk, not one per phone)."""
    return "Pixel 5"


@pytest.fixture
def team(app, accounts):
    ids = {
        "ada": accounts.user(ADA, Role.ADMIN, name="Ada"),
        "bo": accounts.user(BO, Role.APPROVER, name="Bo Berg"),
        "chen": accounts.user(CHEN, Role.APPROVER, name="Chen Wu"),
    }
    with app.app_context():
        board = Group(name="ccb", title="Change control board")
        board.members = [db.session.get(User, ids[k]) for k in ("bo", "chen")]
        db.session.add(board)
        db.session.commit()
    return ids


# -- the form --------------------------------------------------------------------------------


def settled(page) -> None:
    """Wait until the saves under way are answered and drawn: a person reads the page
    before going on, and the form designer redraws a question (closing its editor) when
    the answer to an earlier save arrives."""
    idle = "() => !document.querySelector('.htmx-request, .htmx-settling, .htmx-swapping')"
    for _ in range(2):
        page.wait_for_timeout(60)
        page.wait_for_function(idle)


def open_row(page, index: int) -> None:
    """Open the editor of question ``index`` if a redraw closed it."""
    settled(page)
    editor = page.locator(f"#row-{index} details.field-editor")
    if editor.get_attribute("open") is None:
        editor.locator("summary").first.click()
    expect(editor).to_have_attribute("open", "")


def add_question(page, kind: str, index: int, name: str, text: str) -> None:
    """Add a question from the palette, then name it and word it."""
    settled(page)
    page.get_by_role("button", name=kind, exact=True).press("Enter")
    box = page.locator(f"#f{index}-label-en")
    expect(box).to_be_visible()
    box.fill(text)
    box.press("Tab")
    settled(page)
    open_row(page, index)
    page.locator(f"#f{index}-name").fill(name)
    page.locator(f"#f{index}-name").press("Tab")
    expect(page.locator(f"#row-{index} .row-title")).to_contain_text(text)


def set_choices(page, index: int, choices) -> None:
    """Word the choices of question ``index`` (adding rows as needed), with their values."""
    for j, (text, value) in enumerate(choices):
        if j >= 2:
            settled(page)
            page.locator(f"#row-{index}").get_by_role("button", name="Add a choice").click()
            expect(page.locator(f"#f{index}-o{j}-label-en")).to_be_visible()
        open_row(page, index)
        page.locator(f"#f{index}-o{j}-label-en").fill(text)
        page.locator(f"#f{index}-o{j}-label-en").press("Tab")
        settled(page)
        open_row(page, index)
        page.locator(f"#f{index}-o{j}-value").fill(value)
        page.locator(f"#f{index}-o{j}-value").press("Tab")
        settled(page)
        expect(page.locator(f"#f{index}-o{j}-value")).to_have_value(value)


def build_form(page) -> None:
    page.get_by_label("Title").fill("Change request")
    page.get_by_label("Name in the address").fill("web-change")
    page.get_by_label("Request number prefix").fill("WC")
    page.get_by_role("button", name="Create the form").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Change request")
    add_question(page, "Short text", 0, "title", "Title")
    add_question(page, "Long text", 1, "description", "What should change?")
    add_question(page, "Drop-down list", 2, "reason", "Reason")
    set_choices(page, 2, (("A business need", "business"), ("Law or regulation", "legal")))
    add_question(page, "Drop-down list", 3, "impact_cost", "Cost")
    set_choices(page, 3, LEVELS)
    add_question(page, "Drop-down list", 4, "impact_risk", "Risk")
    set_choices(page, 4, LEVELS)


# -- the chain -------------------------------------------------------------------------------


def add_step(page, index: int, kind: str, name: str, text: str) -> None:
    page.get_by_label("Kind of the new step").select_option(kind)
    page.get_by_role("button", name="Add a step").click()
    expect(page.locator(f"#step-{index}")).to_be_visible()
    page.locator(f"#s{index}-label-en").fill(text)
    page.locator(f"#s{index}-name").fill(name)
    page.locator(f"#s{index}-name").press("Tab")
    expect(page.locator(f"#step-{index} .step-title")).to_have_text(text)


def when(page, index: int, name: str, op: str, value: str) -> None:
    page.locator(f"#s{index}-when-field").select_option(name)
    expect(page.locator(f"#s{index}-when-op")).to_be_visible()
    page.locator(f"#s{index}-when-op").select_option(op)
    page.locator(f"#s{index}-when-value").select_option(value)
    expect(page.locator(f"#s{index}-when-text")).to_have_value(f"{name} {op} '{value}'")


def deadline(page, index: int, amount: str, unit: str) -> None:
    page.locator(f"#s{index}-deadline-amount").fill(amount)
    page.locator(f"#s{index}-deadline-unit").select_option(unit)
    expect(page.locator(f"#s{index}-deadline-unit")).to_have_value(unit)


def build_chain(page) -> None:
    add_step(page, 0, "task", "analysis", "Analysis")
    deadline(page, 0, "3", "days")
    add_step(page, 1, "approval", "review", "Review")
    when(page, 1, "impact", "!=", "high")
    add_step(page, 2, "approval", "ccb_review", "Change control board")
    page.locator("#s2-role-approver").uncheck()
    page.locator("#step-2").get_by_label("Change control board (ccb)").check()
    expect(page.locator("#step-2").get_by_label("Change control board (ccb)")).to_be_checked()
    page.locator("#s2-decide").select_option("quorum")
    page.locator("#s2-count").fill("2")
    page.locator("#s2-count").press("Tab")
    page.locator("#s2-veto").check()
    expect(page.locator("#s2-veto")).to_be_checked()
    when(page, 2, "impact", "==", "high")
    add_step(page, 3, "confirmation", "confirmation", "Your confirmation")
    add_step(page, 4, "task", "plan_adjustment", "Plan adjustment")
    add_step(page, 5, "task", "implementation", "Implementation")
    add_step(page, 6, "feedback", "feedback", "Your feedback")
    expect(page.locator(".chain-problems")).to_have_count(0)


def test_an_admin_builds_the_change_request_and_its_chain_and_a_client_sends_it(phones, team, app):
    ada = phones.open("ada", device=DESKTOP)
    ada.sign_in(ADA)
    page = ada.page
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Administration").click()
    page.get_by_role("link", name="Forms and chains").first.click()
    ada.go("/admin/forms/new")
    build_form(page)
    ada.shot("form")

    page.get_by_role("link", name="Chain", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Approval chain")
    expect(page.get_by_text("No steps yet")).to_be_visible()
    build_chain(page)

    # the simulate panel: a high risk goes to the board of Bo and Chen, the review is skipped
    panel = page.locator("#simulate")
    settled(page)  # the panel is drawn again after the last edit of the chain
    panel.get_by_label("Risk").select_option("high")
    expect(panel.locator("[data-step=review]")).to_contain_text("skipped")
    board = panel.locator("[data-step=ccb_review]")
    expect(board).to_contain_text("Bo Berg")
    expect(board).to_contain_text("Chen Wu")
    ada.shot("chain")

    page.get_by_role("link", name="Publish", exact=True).click()
    page.get_by_role("button", name="Publish").click()
    expect(page.locator(".flashes")).to_contain_text("version 1 is published")

    # Dana sends a low-risk change from her phone
    dana = phones.open("dana")
    dana.sign_in()
    dana.go("/forms/web-change/new")
    form = dana.page
    form.get_by_label(label("Title")).fill("Add a CSV export")
    form.get_by_label(label("What should change?")).fill("Finance needs the report as CSV.")
    form.get_by_label(label("Reason")).select_option("business")
    form.get_by_label(label("Cost")).select_option("low")
    form.get_by_label(label("Risk")).select_option("low")
    form.get_by_role("button", name="Submit request").click()
    number = form.locator(".big-number")
    expect(number).to_have_text(re.compile(r"WC-\d{4}-\d{5}"))
    sent = number.inner_text().strip()
    dana.shot("sent")

    # the first step's people (the approvers) find it in their inbox
    bo = phones.open("bo", device=DESKTOP)
    bo.sign_in(BO)
    bo.page.get_by_role("navigation").get_by_role("link", name="Inbox").click()
    row = bo.page.locator(".request-row", has_text=sent)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Analysis")
    phones.assert_clean()
