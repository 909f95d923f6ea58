"""The chain designer in a real browser: an admin adds steps with the keyboard, picks who
acts and when, reorders them, and sees the simulate panel follow every edit."""

from __future__ import annotations

import re

import pytest
import yaml

from portal.accounts.models import Role, User
from portal.approvals.models import Group
from portal.designer.drafts import new_draft
from portal.extensions import db
from tests.conftest import SHIPPED_FORM

expect = pytest.importorskip(
    "playwright.sync_api",
    reason="browser tests need Debian's chromium (apt-get install chromium) "
    "and the playwright package (pip install -e '.[test]')",
).expect

from tests.browser.conftest import DESKTOP  # noqa: E402
from tests.browser.test_designer_done import settled  # noqa: E402

ADA = "ada@portal.test"


@pytest.fixture
def device() -> str:
    """The harness's device (the admin opens a desk's screen of their own)."""
    return "Pixel 5"


@pytest.fixture
def draft_id(app, accounts):
    """A draft of the change-request form without a chain; Ada (admin), Bo (approver)
    and a board of two."""
    accounts.user(ADA, Role.ADMIN, name="Ada")
    bo = accounts.user("bo@portal.test", Role.APPROVER, name="Bo Berg")
    chen = accounts.user("chen@portal.test", Role.APPROVER, name="Chen Wu")
    definition = yaml.safe_load(SHIPPED_FORM.read_text())
    definition.pop("chain")
    with app.app_context():
        board = Group(name="ccb", title="Change control board")
        board.members = [db.session.get(User, uid) for uid in (bo, chen)]
        db.session.add(board)
        draft = new_draft(definition, None)
        db.session.commit()
        return draft.id


def test_an_admin_designs_a_chain_and_simulates_it(phones, draft_id):
    ada = phones.open("ada", device=DESKTOP)
    ada.sign_in(ADA)
    ada.go(f"/admin/forms/drafts/{draft_id}/chain")
    page = ada.page
    expect(page.get_by_role("heading", name=re.compile("^Approval chain"))).to_be_visible()

    # a task, by keyboard: choose the kind, press the button
    page.get_by_label("Kind of the new step").select_option("task")
    page.get_by_role("button", name="Add a step").press("Enter")
    step1 = page.locator("#step-0")
    expect(step1).to_be_visible()
    step1.get_by_label("Name (for reports and the trace)").fill("analysis")
    step1.get_by_label("en", exact=True).fill("Analysis")
    step1.get_by_label("zh_Hans", exact=True).fill("需求分析")
    step1.get_by_label("zh_Hans", exact=True).press("Tab")
    expect(page.locator("#step-0 .step-title")).to_have_text("Analysis")

    # the board: an approval of the group, quorum 2 with veto, only for a high impact
    page.get_by_label("Kind of the new step").select_option("approval")
    page.get_by_role("button", name="Add a step").click()
    step2 = page.locator("#step-1")
    expect(step2).to_be_visible()
    step2.get_by_label("Name (for reports and the trace)").fill("ccb_review")
    step2.get_by_label("Name (for reports and the trace)").press("Tab")
    expect(page.locator("#s1-name")).to_have_value("ccb_review")
    page.locator("#s1-role-approver").uncheck()
    expect(page.locator("#s1-role-approver")).not_to_be_checked()
    page.locator("#step-1").get_by_label("Change control board (ccb)").check()
    expect(page.locator("#s1-err-assignees")).to_be_empty()
    page.locator("#s1-decide").select_option("quorum")
    expect(page.locator("#s1-count")).to_be_visible()
    page.locator("#s1-count").fill("2")
    page.locator("#s1-count").press("Tab")
    page.locator("#step-1").get_by_label("Veto: one rejection rejects the step").check()
    page.locator("#s1-when-field").select_option("impact")
    expect(page.locator("#s1-when-value")).to_be_visible()
    page.locator("#s1-when-value").select_option("high")
    expect(page.locator("#s1-when-text")).to_have_value("impact == 'high'")

    # a mistake shows beside its input, and what was typed stays
    page.locator("#s1-deadline-amount").fill("2")
    page.locator("#s1-remind-amount").fill("3")
    page.locator("#s1-remind-amount").press("Tab")
    expect(page.locator("#s1-err-remind")).to_contain_text("must be shorter than the deadline")
    expect(page.locator("#s1-remind-amount")).to_have_value("3")
    page.locator("#s1-remind-amount").fill("4")
    page.locator("#s1-remind-unit").select_option("hours")
    expect(page.locator("#s1-err-remind")).to_be_empty()

    # the simulate panel follows: a high impact goes to the board, where Bo and Chen are asked
    panel = page.locator("#simulate")
    settled(page)  # the panel is drawn again after the last edit of the chain
    expect(panel.locator("[data-step=ccb_review]")).to_contain_text("skipped")
    panel.get_by_label("Risk").select_option("high")
    board = panel.locator("[data-step=ccb_review]")
    expect(board).to_contain_text("runs")
    expect(board).to_contain_text("Bo Berg")
    expect(board).to_contain_text("Chen Wu")
    expect(board).to_contain_text("2 approvals needed")

    # reorder by keyboard: the board first, then back
    page.get_by_role("button", name="Move step 2 up").press("Enter")
    expect(page.locator("#s0-name")).to_have_value("ccb_review")
    page.get_by_role("button", name="Move step 1 down").click()
    expect(page.locator("#s0-name")).to_have_value("analysis")
    # or by dragging the board onto the first step
    # (the drag events as the browser sends them: Chromium's own drag needs a real mouse)
    carried = page.evaluate_handle("() => new DataTransfer()")
    page.locator("#step-1").dispatch_event("dragstart", {"dataTransfer": carried})
    page.locator("#step-0 h3").dispatch_event("dragover", {"dataTransfer": carried})
    page.locator("#step-0 h3").dispatch_event("drop", {"dataTransfer": carried})
    page.locator("#step-1").dispatch_event("dragend", {"dataTransfer": carried})
    expect(page.locator("#s0-name")).to_have_value("ccb_review")
    expect(page.locator("#s1-name")).to_have_value("analysis")
    ada.shot("designed")
    serious = pytest.importorskip("tests.browser.test_accessibility").serious
    assert not serious(page)
    phones.assert_clean()
