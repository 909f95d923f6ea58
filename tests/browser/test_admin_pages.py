"""An admin runs the team from a phone: adds a client and an approver, puts the approver on
the change control board (in place, with htmx) and sets a delegation, in a real Chromium on
a phone-size screen, with no JavaScript error, no CSP violation and no sideways scrolling."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from portal.accounts.models import Role, User
from portal.approvals.models import Delegation, Group
from portal.database import utcnow
from portal.extensions import db

expect = pytest.importorskip(
    "playwright.sync_api",
    reason="browser tests need Debian's chromium (apt-get install chromium) "
    "and the playwright package (pip install -e '.[test]')",
).expect

from tests.browser.test_phone_submission import assert_no_sideways_scroll, mark_page  # noqa: E402

ADA = "ada@portal.test"


@pytest.fixture
def device() -> str:
    return "Pixel 5"


def test_an_admin_adds_people_a_board_member_and_a_delegation_on_a_phone(app, accounts, phones):
    accounts.user(ADA, Role.ADMIN, name="Ada Admin")
    phone = phones.open("ada")
    phone.sign_in(ADA, then="/admin/")
    page = phone.page
    width = page.viewport_size["width"]

    # a client of Acme Ltd, with a password made for them
    page.get_by_role("link", name="People", exact=True).first.click()
    assert_no_sideways_scroll(page, width)
    page.get_by_role("link", name="Add a person").click()
    page.get_by_label("Name").fill("Carla Client")
    page.get_by_label("E-mail address").fill("carla@acme.test")
    page.get_by_label("Role").select_option("client")
    page.get_by_label("Organisation").select_option(label="Acme Ltd")
    assert_no_sideways_scroll(page, width)
    page.get_by_role("button", name="Add").click()
    expect(page.locator("#shown-password")).to_have_text(re.compile(r"\S{12,}"))
    phone.shot("client-password")

    # an approver, with a mistake first: nothing typed is lost
    phone.go("/admin/people/new")
    page.get_by_label("Name").fill("Omar Approver")
    page.get_by_label("E-mail address").fill("omar@portal")
    page.get_by_label("Role").select_option("approver")
    page.get_by_label("Initial password").fill("omar's own password")
    page.get_by_role("button", name="Add").click()
    expect(page.locator("#error-email")).to_contain_text("Enter an e-mail address")
    expect(page.get_by_label("Name")).to_have_value("Omar Approver")
    # the browser logs the 422 that carries the messages back: that one is expected
    phones.problems = [p for p in phones.problems if "status of 422" not in p]
    page.get_by_label("E-mail address").fill("omar@portal.test")
    page.get_by_label("Initial password").fill("omar's own password")
    page.get_by_role("button", name="Add").click()
    expect(page.locator(".flash")).to_contain_text("Omar Approver can now sign in.")

    # the list narrows as the admin types, without leaving the page
    phone.go("/admin/people/")
    mark_page(page)
    page.get_by_label("Name or e-mail").fill("carla")
    expect(page.locator("#people-results")).not_to_contain_text("Omar Approver")
    expect(page.locator("#people-results")).to_contain_text("Carla Client")
    page.get_by_label("Role").select_option("approver")
    expect(page.locator("#people-results")).to_contain_text("Nobody matches.")
    assert page.evaluate("() => window.__samePage === true"), "the page was reloaded"
    assert "role=approver" in page.url  # the address keeps the filters

    # the change control board, and Omar on it, added in place
    phone.go("/admin/groups/")
    page.get_by_label("Name").fill("ccb")
    page.get_by_label("Title").fill("Change control board")
    page.get_by_role("button", name="Make the group").click()
    expect(page.get_by_role("heading", name="Change control board")).to_be_visible()
    mark_page(page)
    page.get_by_label("Person").select_option(label="Omar Approver (omar@portal.test)")
    page.get_by_role("button", name="Add a member").click()
    expect(page.locator("#members")).to_contain_text("Omar Approver")
    assert page.evaluate("() => window.__samePage === true"), "the page was reloaded"
    assert_no_sideways_scroll(page, width)
    phone.shot("board")

    # Omar stands in for Ada this week
    today = utcnow().date()
    phone.go("/admin/delegations/")
    page.get_by_label("Who is away").select_option(label="Ada Admin (ada@portal.test)")
    page.get_by_label("Who acts for them").select_option(label="Omar Approver (omar@portal.test)")
    page.get_by_label("From").fill(today.isoformat())
    page.get_by_label("Until (included)").fill(today.isoformat())
    page.get_by_role("button", name="Add the delegation").click()
    expect(page.locator(".flash")).to_contain_text("Omar Approver acts for Ada Admin")
    assert_no_sideways_scroll(page, width)
    phone.shot("delegation")

    with app.app_context():
        carla = db.session.scalar(select(User).where(User.email == "carla@acme.test"))
        assert carla.role == "client" and carla.organisation.name == "Acme Ltd"
        board = db.session.scalar(select(Group).where(Group.name == "ccb"))
        assert [u.email for u in board.members] == ["omar@portal.test"]
        delegation = db.session.scalar(select(Delegation))
        assert (delegation.user.email, delegation.delegate.email) == (ADA, "omar@portal.test")
    phones.assert_clean()


def test_the_admin_pages_have_no_serious_accessibility_problems(app, accounts, phones):
    from tests.browser.test_accessibility import serious

    accounts.user(ADA, Role.ADMIN, name="Ada Admin")
    bo = accounts.user("bo@portal.test", Role.APPROVER, name="Bo")
    with app.app_context():
        from portal.accounts.models import Organisation

        acme = db.session.scalar(select(Organisation.id))
    # a call to a webhook that names no setting: a row on the Inbound calls page
    app.test_client().post("/hooks/jira/999999", data=b"{}",
                           headers={"X-Atlassian-Webhook-Identifier": "wh-1"})  # fmt: skip
    with app.app_context():
        from portal.integrations.models import InboundReceipt

        receipt = db.session.scalar(select(InboundReceipt.id))
    phone = phones.open("ada")
    phone.sign_in(ADA, then="/admin/")
    problems = {}
    for path in ("/admin/", "/admin/people/", "/admin/people/new", f"/admin/people/{bo}",
                 "/admin/roles/", "/admin/organisations/", f"/admin/organisations/{acme}",
                 "/admin/groups/", "/admin/delegations/", "/admin/calendars/",
                 "/admin/calendars/new", "/admin/inbound", f"/admin/inbound/{receipt}",
                 "/admin/plugins", "/admin/connectors", "/admin/outbox",
                 "/profile"):  # fmt: skip
        phone.go(path)
        assert_no_sideways_scroll(phone.page, phone.page.viewport_size["width"])
        phone.shot(re.sub(r"\W+", "-", path).strip("-"))
        problems[path] = serious(phone.page)
    left = {path: found for path, found in problems.items() if found}
    assert not left, left
    phones.assert_clean()
