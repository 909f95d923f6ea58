"""Accessibility: axe-core finds no serious or critical violation on the main pages, and a
request can be filled in and sent with the keyboard alone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from portal.accounts.models import Role
from tests.browser.test_phone_submission import FORM

axe_module = pytest.importorskip("axe_playwright_python.sync_playwright")

APPROVER = "bo@portal.test"


def serious(page) -> list[str]:
    """The serious and critical violations axe-core finds on the page, one line each."""
    results = axe_module.Axe().run(page)
    found = []
    for violation in results.response["violations"]:
        if violation["impact"] in ("serious", "critical"):
            targets = [", ".join(node["target"]) for node in violation["nodes"][:3]]
            found.append(f"{violation['id']} ({violation['impact']}): {targets}")
    return found


def submit_one(phone) -> str:
    page = phone.page
    phone.go(FORM)
    page.locator("#input-title").fill("Add a CSV export")
    page.locator("#input-description").fill("Finance needs it.")
    page.locator("#input-reason").select_option("business")
    page.locator("#field-business_value input[value=low]").check()
    page.locator("#field-affected_systems input[value=crm]").check()
    page.locator("button[type=submit].primary").click()
    expect(page.locator(".big-number")).to_have_text(re.compile(r"CR-\d{4}-\d{5}"))
    return page.locator(".big-number").inner_text().strip()


def test_the_main_pages_have_no_serious_accessibility_problems(phones, accounts):
    accounts.user(APPROVER, Role.APPROVER, name="Bo")
    client = phones.open("client")
    client.go("/login")
    problems = {"sign-in": serious(client.page)}
    client.sign_in()
    number = submit_one(client)
    for name, path in (
        ("my requests", "/"),
        ("new request", "/forms/"),
        ("form", FORM),
        ("request", f"/requests/{number}"),
        ("settings", "/profile"),
        ("notifications", "/notifications"),
    ):
        client.go(path)
        problems[name] = serious(client.page)
    approver = phones.open("approver")
    approver.sign_in(APPROVER)
    for name, path in (("inbox", "/inbox"), ("request to decide", f"/requests/{number}")):
        approver.go(path)
        problems[name] = serious(approver.page)
    left = {name: found for name, found in problems.items() if found}
    assert not left, left
    phones.assert_clean()


def tab_to(page, selector: str, limit: int = 12) -> None:
    """Press Tab until the element is focused, as a keyboard user moves through the form."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} was not reached with Tab")


def test_a_request_sent_with_the_keyboard_alone(phones):
    phone = phones.open("keyboard")
    phone.sign_in()
    phone.go(FORM)
    page = phone.page
    page.locator("#input-title").focus()
    page.keyboard.type("Keyboard only request")
    page.keyboard.press("Tab")
    page.keyboard.type("Typed without a mouse.")
    tab_to(page, "#input-reason")
    page.keyboard.press("ArrowDown")  # the first reason
    tab_to(page, "#field-business_value input[type=radio]")
    page.keyboard.press("Space")
    tab_to(page, "#field-affected_systems input[value=website]")
    page.keyboard.press("Space")
    tab_to(page, "button[type=submit].primary")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Request sent")).to_be_visible()
    phones.assert_clean()


def test_errors_are_announced_beside_their_fields(phones):
    phone = phones.open("errors")
    phone.sign_in()
    phone.go(FORM)
    page = phone.page
    page.locator("button[type=submit].primary").click()
    title = page.locator("#input-title")
    expect(title).to_have_attribute("aria-invalid", "true")
    described = title.get_attribute("aria-describedby").split()
    assert "error-title" in described
    message = page.locator("#error-title")
    expect(message).to_have_text("This field is required.")
    assert message.get_attribute("aria-live") == "polite"
    # The browser logs the 422 that carries the messages back: that one is expected.
    phones.problems = [p for p in phones.problems if "status of 422" not in p]
    phones.assert_clean()
