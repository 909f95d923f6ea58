"""The standard change process walked through in a real browser by its people.

Dana, a client, works on a Pixel 5; Bo, an approver, at a desk (1280x800); Chen, an
approver, on an iPhone 13. Each has a browser context of their own and signs in through
the login page. Decisions are taken on the request page, whose body htmx replaces in place:
the tests check that the page is not reloaded. The pages must report no JavaScript error
and no Content-Security-Policy violation, and the phone pages must not scroll sideways.
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

from tests.browser.conftest import CLIENT_EMAIL, DESKTOP  # noqa: E402
from tests.browser.test_phone_submission import (  # noqa: E402
    FORM,
    NUMBER,
    assert_no_sideways_scroll,
    draft_started,
    label,
    mark_page,
)

BO = "bo@portal.test"
CHEN = "chen@portal.test"
ADA = "ada@portal.test"
TITLE = "Add a CSV export to the monthly report"
NEW_TITLE = "Add a CSV export to the monthly sales report"


@pytest.fixture
def device() -> str:
    """The client's phone (the harness's `device`, fixed: one walk, not one per phone)."""
    return "Pixel 5"


@pytest.fixture
def team(app, accounts, client_user):
    """Bo and Chen (approvers) and Ada (an admin) beside Dana; the three of them are the
    change control board, group "ccb"."""
    ids = {
        "bo": accounts.user(BO, Role.APPROVER, name="Bo"),
        "chen": accounts.user(CHEN, Role.APPROVER, name="Chen"),
        "ada": accounts.user(ADA, Role.ADMIN, name="Ada"),
    }
    with app.app_context():
        board = Group(name="ccb", title="Change control board")
        board.members = [db.session.get(User, ids[k]) for k in ("bo", "chen", "ada")]
        db.session.add(board)
        db.session.commit()
    return ids


# -- what people do ------------------------------------------------------------------------


def person(phones, name: str, email: str, device: str | None = None):
    """A browser context of their own, signed in through the login page."""
    someone = phones.open(name, device=device)
    someone.sign_in(email)
    return someone


def screen(someone, step: str) -> None:
    """A screenshot; on a phone, first the check that the page does not scroll sideways."""
    page = someone.page
    if someone.device != DESKTOP:
        assert_no_sideways_scroll(page, page.viewport_size["width"])
    someone.shot(step)


def choose_starting(page, field: str, start: str) -> None:
    """Choose the option of a select whose shown text starts so ("Low" for "Low: under…")."""
    select = page.get_by_label(label(field))
    option = select.locator("option").filter(has_text=re.compile("^" + re.escape(start)))
    expect(option).to_have_count(1)
    select.select_option(option.get_attribute("value"))


def submit(client, title: str, impact: str) -> str:
    """The client fills in the change request with every impact at `impact`; its number."""
    page = client.page
    page.get_by_role("link", name="New request").first.click()
    page.get_by_role("link", name=re.compile("^Change request")).click()
    expect(page).to_have_url(re.compile(re.escape(FORM) + "$"))
    page.get_by_label(label("Title")).fill(title)
    draft_started(page)
    page.get_by_label(label("What should change?")).fill("Finance needs the report as CSV.")
    page.get_by_label(label("Reason")).select_option("business")
    page.locator("#field-business_value").get_by_label(label("Medium")).check()
    page.locator("#field-affected_systems").get_by_label(label("Reporting")).check()
    for field in ("Cost", "Time", "Resources", "Risk"):
        choose_starting(page, field, impact)
    screen(client, f"form-{impact.lower()}")
    page.get_by_role("button", name="Submit request").click()
    expect(page.get_by_role("heading", name="Request sent")).to_be_visible()
    number = page.locator(".big-number")
    expect(number).to_have_text(NUMBER)
    return number.inner_text().strip()


def open_from_inbox(approver, number: str, shot: str = "") -> None:
    """The approver follows "Inbox" in the menu, finds the request there and opens it."""
    page = approver.page
    page.get_by_role("navigation").get_by_role("link", name="Inbox").click()
    expect(page.get_by_role("heading", name="Waiting on me")).to_be_visible()
    row = page.locator(".request-row", has_text=number)
    expect(row).to_have_count(1)
    if shot:
        screen(approver, shot)
    row.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(number)


def open_mine(client, number: str) -> None:
    page = client.page
    page.get_by_role("navigation").get_by_role("link", name="My requests").click()
    page.locator(".request-row", has_text=number).get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(number)


def act(someone, step: str, verb: str, saved: str, comment: str = "", rating: int = 0) -> None:
    """Press a verb in the step's action panel; the body is replaced through htmx, in the
    same page (no reload), and says what was saved."""
    page = someone.page
    panel = page.get_by_role("region", name=step, exact=True)
    expect(panel).to_be_visible()
    if rating:
        panel.get_by_role("radio", name=re.compile(rf"\b{rating} of 5$")).check()
    if comment:
        panel.get_by_label("Comment").fill(comment)
    mark_page(page)
    url = page.url
    with page.expect_response(lambda r: r.url.endswith("/act")) as answered:
        panel.get_by_role("button", name=verb, exact=True).click()
    response = answered.value
    assert response.request.method == "POST" and response.status == 200, response.status
    assert response.request.headers.get("hx-request") == "true", "not sent through htmx"
    expect(page.locator("#request-body .flash")).to_have_text(saved)
    assert page.evaluate("() => window.__samePage === true"), "the page was reloaded"
    assert page.url == url, page.url


def panel(page, heading: str):
    """A panel of the request page, by its heading."""
    return page.locator("section.panel").filter(
        has=page.get_by_role("heading", name=heading, exact=True)
    )


def expect_answer(page, question: str, value: str) -> None:
    term = panel(page, "Answers").locator("dt").filter(has_text=re.compile(rf"^{question}$"))
    expect(term.locator("xpath=following-sibling::dd[1]")).to_have_text(value)


def step_row(page, step: str):
    name = page.locator(".step-head strong").filter(has_text=re.compile(rf"^{step}$"))
    return page.locator("ol.steps > li").filter(has=name)


def expect_step(page, step: str, status: str) -> None:
    expect(step_row(page, step).locator(".status")).to_have_text(status)


def expect_status(page, status: str) -> None:
    expect(page.locator("#request-body .facts .status")).to_have_text(status)


# -- the walk ----------------------------------------------------------------------------------

# What the timeline shows once the request is completed: the event, its step, who did it.
WALKED = [
    ("Submitted", None, "Dana"),
    ("Marked done", "Analysis", "Bo"),
    ("Sent back for changes", "Review", "Chen"),
    ("Revised and sent again", None, "Dana"),
    ("Approved", "Review", "Chen"),
    ("Step skipped", "Change control board", None),
    ("Confirmed", "Your confirmation", "Dana"),
    ("Marked done", "Plan adjustment", "Bo"),
    ("Marked done", "Implementation", "Chen"),
    ("Gave feedback", "Your feedback", "Dana"),
    ("Completed", None, None),
]


def timeline(page) -> list[dict]:
    return page.locator(".timeline > li").evaluate_all(
        """items => items.map(li => ({
            label: li.querySelector("strong").textContent.trim(),
            actor: (li.querySelector(".muted") || {textContent: ""}).textContent.trim(),
            text: li.textContent.replace(/\\s+/g, " ").trim(),
        }))"""
    )


def assert_timeline(page, expected) -> list[dict]:
    """Each expected entry, in this order (other entries may come between); the ones found."""
    items = timeline(page)
    found, rest = [], iter(items)
    for event, step, actor in expected:
        for item in rest:
            if (
                item["label"] == event
                and (step is None or f"{event} · {step}" in item["text"])
                and (actor is None or item["actor"] == actor)
            ):
                found.append(item)
                break
        else:
            raise AssertionError(f"no {(event, step, actor)} in order in the timeline: {items}")
    return found


def test_seven_steps_walked_by_their_people(phones, team):
    dana = person(phones, "Dana", CLIENT_EMAIL)
    bo = person(phones, "Bo", BO, DESKTOP)
    chen = person(phones, "Chen", CHEN, "iPhone 13")

    # 1. Dana asks for the change.
    number = submit(dana, TITLE, "Low")
    screen(dana, "submitted")

    # 2. Bo finds it in his inbox and does the analysis.
    open_from_inbox(bo, number, shot="inbox")
    expect_status(bo.page, "In review")
    expect_step(bo.page, "Analysis", "Open")
    screen(bo, "analysis")
    act(bo, "Analysis", "Mark as done", "Marked as done.", comment="Small change, one report.")
    expect_step(bo.page, "Analysis", "Done")
    expect_step(bo.page, "Review", "Open")
    screen(bo, "analysis-done")

    # 3. Chen, on his phone, sends it back; Dana changes the title and sends it again.
    open_from_inbox(chen, number, shot="inbox")
    act(
        chen,
        "Review",
        "Send back for changes",
        "Sent back to the requester for changes.",
        "Which report exactly?",
    )
    expect_status(chen.page, "Sent back for changes")
    screen(chen, "sent-back")

    open_mine(dana, number)
    page = dana.page
    expect_status(page, "Sent back for changes")
    asked = panel(page, "Changes asked for")
    expect(asked.locator("blockquote")).to_have_text("Which report exactly?")
    screen(dana, "sent-back")
    asked.get_by_role("link", name="Change my answers and send again").click()
    expect(page.get_by_role("heading", name="Change your answers")).to_be_visible()
    expect(page.get_by_label(label("Title"))).to_have_value(TITLE)
    page.get_by_label(label("Title")).fill(NEW_TITLE)
    screen(dana, "revise")
    page.get_by_role("button", name="Send again").click()
    expect(page.get_by_text("Your changes are sent.")).to_be_visible()
    expect_answer(page, "Title", NEW_TITLE)
    expect_status(page, "In review")

    open_from_inbox(chen, number)
    changed = panel(chen.page, "Changed in revision 2")
    expect(changed.locator("tbody tr")).to_have_count(1)
    expect(changed.locator("tbody th")).to_have_text("Title")
    expect(changed.locator("del")).to_have_text(TITLE)
    expect(changed.locator("ins")).to_have_text(NEW_TITLE)
    screen(chen, "revision-2")
    act(chen, "Review", "Approve", "Your approval is saved.")
    expect_step(chen.page, "Review", "Approved")
    expect_step(chen.page, "Change control board", "Skipped")  # the impact is low
    expect_status(chen.page, "Awaiting the client's confirmation")

    # 4. Dana confirms; Bo plans, Chen implements; Dana gives her feedback.
    open_mine(dana, number)
    screen(dana, "confirm")
    act(dana, "Your confirmation", "Confirm", "Your confirmation is saved.")
    expect_status(dana.page, "In progress")

    open_from_inbox(bo, number)
    act(bo, "Plan adjustment", "Mark as done", "Marked as done.")
    expect_step(bo.page, "Plan adjustment", "Done")
    open_from_inbox(chen, number)
    act(chen, "Implementation", "Mark as done", "Marked as done.")
    expect_step(chen.page, "Implementation", "Done")
    expect_status(chen.page, "Awaiting the client's feedback")

    open_mine(dana, number)
    screen(dana, "feedback")
    act(
        dana,
        "Your feedback",
        "Send feedback",
        "Thank you for your feedback.",
        "Works well, thank you",
        rating=5,
    )
    page = dana.page
    expect_status(page, "Completed")
    for step, status in [
        ("Analysis", "Done"),
        ("Review", "Approved"),
        ("Change control board", "Skipped"),
        ("Your confirmation", "Done"),
        ("Plan adjustment", "Done"),
        ("Implementation", "Done"),
        ("Your feedback", "Done"),
    ]:
        expect_step(page, step, status)
    expect(page.locator(".action-panel")).to_have_count(0)  # nothing is left to do
    found = assert_timeline(page, WALKED)
    feedback = found[WALKED.index(("Gave feedback", "Your feedback", "Dana"))]
    assert "Rating: 5 of 5" in feedback["text"] and "Works well, thank you" in feedback["text"]
    assert "Small change, one report." in found[1]["text"]
    assert "Which report exactly?" in found[2]["text"]
    screen(dana, "completed")
    phones.assert_clean()


def test_the_board_decides_a_high_impact_change_with_two_approvals(phones, team):
    dana = person(phones, "Dana", CLIENT_EMAIL)
    bo = person(phones, "Bo", BO, DESKTOP)
    chen = person(phones, "Chen", CHEN, "iPhone 13")

    number = submit(dana, "Replace the reporting server", "High")
    open_from_inbox(bo, number)
    act(bo, "Analysis", "Mark as done", "Marked as done.")
    expect_step(bo.page, "Review", "Skipped")  # the impact is high: the board decides
    expect_step(bo.page, "Change control board", "Open")
    board = bo.page.get_by_role("region", name="Change control board", exact=True)
    expect(board).to_contain_text("Approvals so far: 0 of the 2 needed.")
    screen(bo, "board")

    act(bo, "Change control board", "Approve", "Your approval is saved.")
    expect_status(bo.page, "In review")

    open_from_inbox(chen, number)
    board = chen.page.get_by_role("region", name="Change control board", exact=True)
    expect(board).to_contain_text("Approvals so far: 1 of the 2 needed.")
    screen(chen, "board-1-of-2")
    act(chen, "Change control board", "Approve", "Your approval is saved.")
    expect_step(chen.page, "Change control board", "Approved")
    expect_status(chen.page, "Awaiting the client's confirmation")
    votes = step_row(chen.page, "Change control board").locator(".votes li")
    expect(votes).to_have_count(2)
    expect(votes.filter(has_text=re.compile(r"^Approve: Bo\b"))).to_have_count(1)
    expect(votes.filter(has_text=re.compile(r"^Approve: Chen\b"))).to_have_count(1)
    screen(chen, "board-approved")

    open_mine(dana, number)
    expect(dana.page.get_by_role("region", name="Your confirmation", exact=True)).to_be_visible()
    screen(dana, "confirm")
    phones.assert_clean()


def test_a_revised_title_is_the_request_s_title(phones, team):
    dana = person(phones, "Dana", CLIENT_EMAIL)
    bo = person(phones, "Bo", BO, DESKTOP)
    number = submit(dana, TITLE, "Low")
    open_from_inbox(bo, number)
    act(bo, "Analysis", "Mark as done", "Marked as done.")
    act(
        bo,
        "Review",
        "Send back for changes",
        "Sent back to the requester for changes.",
        "Which report exactly?",
    )

    open_mine(dana, number)
    page = dana.page
    page.get_by_role("link", name="Change my answers and send again").click()
    page.get_by_label(label("Title")).fill(NEW_TITLE)
    page.get_by_role("button", name="Send again").click()
    expect(page.get_by_text("Your changes are sent.")).to_be_visible()
    expect_answer(page, "Title", NEW_TITLE)  # the answers have it ...
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text(f"{number} {NEW_TITLE}", timeout=1_000)  # ... the heading not
    page.get_by_role("navigation").get_by_role("link", name="My requests").click()
    row = page.locator(".request-row", has_text=number)
    expect(row.locator(".title")).to_have_text(NEW_TITLE, timeout=1_000)
    open_from_inbox(bo, number)  # nor Bo's inbox
    expect(bo.page.get_by_role("heading", level=1)).to_contain_text(NEW_TITLE, timeout=1_000)
