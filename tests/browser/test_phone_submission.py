"""A client fills in the change request on a phone, in a real browser.

Each test runs on an emulated iPhone 13 and Pixel 5 (Chromium) against the portal served
from this process, and fails on any JavaScript error or Content-Security-Policy violation
the pages report (see ``phones`` in conftest.py).
"""

from __future__ import annotations

import re
import struct
import zlib
from urllib.parse import parse_qs

import pytest

expect = pytest.importorskip(
    "playwright.sync_api",
    reason="browser tests need Debian's chromium (apt-get install chromium) "
    "and the playwright package (pip install -e '.[test]')",
).expect

FORM = "/forms/change-request/new"
DRAFT_URL = "/forms/change-request/draft"
NUMBER = re.compile(r"CR-\d{4}-\d{5}")


def tiny_png(width: int = 12, height: int = 8) -> bytes:
    """A real PNG: a small red-to-blue gradient, made here with no image library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00" + b"".join(bytes((255 - 20 * x, 0, 20 * x)) for x in range(width))
        for _ in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def label(text: str) -> re.Pattern:
    """A field's label as shown, with or without the mark of a required answer."""
    return re.compile(r"^\s*" + re.escape(text) + r"(\s*\*)?\s*$")


def widths(page) -> dict:
    return page.evaluate(
        "() => ({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})"
    )


def assert_no_sideways_scroll(page, width: int) -> None:
    seen = widths(page)
    # innerWidth must be the device width: a page that overflows can widen the layout
    # viewport on a phone, which would hide the overflow from the second comparison.
    assert seen["inner"] == width, f"the layout viewport is {seen['inner']} px, not {width} px"
    assert seen["scroll"] <= seen["inner"], f"sideways scrolling at {width} px wide: {seen}"


def mark_page(page) -> None:
    """Leave a mark in the page: it is gone if the page reloads or navigates."""
    page.evaluate("() => { window.__samePage = true; }")


def assert_same_page(page) -> None:
    assert page.evaluate("() => window.__samePage === true"), "the page was reloaded"
    assert page.url.endswith(FORM), page.url


def saves(*values: str):
    """A predicate: an autosave of the draft that carries all these answers."""

    def matches(response) -> bool:
        if not response.url.endswith(DRAFT_URL) or response.request.method != "POST":
            return False
        posted = parse_qs(response.request.post_data or "")
        sent = {value for answers in posted.values() for value in answers}
        return all(value in sent for value in values)

    return matches


def draft_started(page) -> None:
    """Wait until the first autosave has made the draft on the server (a person pauses
    after their first answer; the tests do too, and check everything after it at full
    speed)."""
    expect(page.locator("#save-status")).to_contain_text("Draft saved")


def open_form(phone) -> None:
    phone.sign_in(then=FORM)
    expect(phone.page).to_have_url(re.compile(re.escape(FORM) + "$"))
    expect(phone.page.get_by_role("heading", name="Change request", level=1)).to_be_visible()


# -- 1 and 7: the page fits the phone and asks for the right keyboard ------------------------


def test_form_fits_the_phone_and_asks_for_the_right_keyboards(phones):
    phone = phones.open()
    page = phone.page
    phone.go("/login")
    assert_no_sideways_scroll(page, page.viewport_size["width"])
    phone.shot("login")

    open_form(phone)
    assert_no_sideways_scroll(page, page.viewport_size["width"])
    phone.shot("form")
    page.set_viewport_size({"width": 360, "height": page.viewport_size["height"]})
    assert_no_sideways_scroll(page, 360)
    phone.shot("form-360")

    expect(page.get_by_label(label("Title"))).to_have_attribute("type", "text")
    expect(page.locator("#input-desired_date")).to_have_attribute("type", "date")
    expect(page.get_by_label(label("Desired date"))).to_have_attribute("type", "date")
    budget = page.get_by_label(label("Budget you have in mind"))
    expect(budget).to_have_attribute("inputmode", "decimal")
    expect(budget).to_have_attribute("id", "input-budget")
    phones.assert_clean()


# -- 2: conditional fields follow the answers without a reload --------------------------------


def test_conditional_fields_appear_and_disappear_in_the_page(phones):
    phone = phones.open()
    page = phone.page
    open_form(phone)
    mark_page(page)

    other_reason = page.locator("#field-reason_other")
    expect(other_reason).to_be_hidden()
    page.get_by_label(label("Reason")).select_option("other")
    expect(other_reason).to_be_visible()
    expect(page.get_by_label(label("Which other reason?"))).to_be_visible()
    draft_started(page)
    phone.shot("other-reason")
    page.get_by_label(label("Reason")).select_option("security")
    expect(other_reason).to_be_hidden()

    other_system = page.locator("#field-affected_other")
    expect(other_system).to_be_hidden()
    systems = page.locator("#field-affected_systems")
    systems.get_by_label("Other", exact=True).check()
    expect(other_system).to_be_visible()
    expect(page.get_by_label(label("Which other system?"))).to_be_visible()
    phone.shot("other-system")
    systems.get_by_label("Other", exact=True).uncheck()
    expect(other_system).to_be_hidden()

    assert_same_page(page)
    phones.assert_clean()


# -- 3: the title is checked as it is typed ---------------------------------------------------


def test_title_is_checked_while_typing(phones):
    phone = phones.open()
    page = phone.page
    open_form(phone)
    mark_page(page)

    title = page.locator("#input-title")
    message = page.locator("#field-title #error-title")
    title.press_sequentially("ab")
    expect(message).to_have_text("Enter between 5 and 120 characters.")
    # Only what was typed is judged: untouched required fields stay quiet while typing.
    expect(page.locator("#error-description")).to_have_text("")
    phone.shot("too-short")

    title.press_sequentially("out printer")
    expect(message).to_have_text("")
    phone.shot("fixed")
    assert_same_page(page)
    phones.assert_clean()


def test_title_is_marked_invalid_together_with_its_message(phones):
    phone = phones.open()
    page = phone.page
    open_form(phone)

    title = page.locator("#input-title")
    message = page.locator("#error-title")
    title.press_sequentially("ab")
    expect(message).to_have_text("Enter between 5 and 120 characters.")
    expect(title).to_have_attribute("aria-invalid", "true", timeout=2_000)
    title.press_sequentially("out printer")
    expect(message).to_have_text("")
    expect(title).not_to_have_attribute("aria-invalid", "true", timeout=2_000)
    phones.assert_clean()


# -- 4: the draft lives on the server, not in the phone ---------------------------------------


def test_a_later_save_never_overtakes_an_earlier_one(phones):
    """On a slow network a save can still be on its way when the next answer is given. The
    page waits for it and then sends the newest answers once: were both on the wire, the
    older could reach the server last and overwrite the newer (the CRM tick was lost so)."""
    phone = phones.open("slow network")
    page = phone.page
    open_form(phone)
    page.get_by_label(label("Title")).fill("Faster login page")
    draft_started(page)
    held, sent = [], []

    def hold_the_first(route) -> None:
        sent.append(route.request.post_data or "")
        if held:
            route.continue_()
        else:
            held.append(route)  # still on its way

    page.route(re.compile(re.escape(DRAFT_URL) + "$"), hold_the_first)
    with page.expect_request(re.compile(re.escape(DRAFT_URL) + "$")):
        page.get_by_label(label("Reason")).select_option("defect")
    page.locator("#field-business_value").get_by_label(label("Medium")).check()
    page.locator("#field-affected_systems").get_by_label(label("CRM")).check()
    page.wait_for_timeout(1000)  # time enough for a second save to set off, were it sent
    assert len(sent) == 1, sent
    with page.expect_response(saves("Faster login page", "defect", "medium", "crm")) as saved:
        held[0].continue_()
    assert saved.value.ok, saved.value.status
    assert len(sent) == 2, sent  # the newest answers, once
    expect(page.locator("#save-status")).to_contain_text("Draft saved")

    other = phones.open("second browser")
    open_form(other)
    expect(other.page.locator("#field-affected_systems").get_by_label(label("CRM"))).to_be_checked()
    expect(
        other.page.locator("#field-business_value").get_by_label(label("Medium"))
    ).to_be_checked()
    phones.assert_clean()


def test_draft_is_kept_on_the_server_for_another_browser(phones):
    first = phones.open("first browser")
    page = first.page
    open_form(first)
    page.get_by_label(label("Title")).fill("Faster login page")
    draft_started(page)
    page.get_by_label(label("What should change?")).fill(
        "The login page takes ten seconds to load."
    )
    page.get_by_label(label("Reason")).select_option("defect")
    page.locator("#field-business_value").get_by_label(label("Medium")).check()
    with page.expect_response(saves("Faster login page", "defect", "medium", "crm")) as saved:
        page.locator("#field-affected_systems").get_by_label(label("CRM")).check()
    assert saved.value.ok, saved.value.status
    expect(page.locator("#save-status")).to_contain_text("Draft saved")
    first.shot("saved")

    second = phones.open("second browser")
    open_form(second)
    other = second.page
    expect(other.get_by_label(label("Title"))).to_have_value("Faster login page")
    expect(other.get_by_label(label("What should change?"))).to_have_value(
        "The login page takes ten seconds to load."
    )
    expect(other.get_by_label(label("Reason"))).to_have_value("defect")
    expect(other.locator("#field-business_value").get_by_label(label("Medium"))).to_be_checked()
    expect(other.locator("#field-affected_systems").get_by_label(label("CRM"))).to_be_checked()
    expect(other.locator("#field-affected_systems").get_by_label(label("ERP"))).not_to_be_checked()
    expect(other.locator("#save-status")).to_contain_text("Draft saved")
    second.shot("reopened")
    phones.assert_clean()


# -- 5: a photo taken on the phone is attached ------------------------------------------------


def attach_photo(page, name: str = "broken-screen.png") -> None:
    """Choose a photo in the file input, as the phone's picker does, and see it listed."""
    with page.expect_request(lambda r: "/files/attachments" in r.url) as sent:
        page.locator("#input-attachments").set_input_files(
            files=[{"name": name, "mimeType": "image/png", "buffer": tiny_png()}]
        )
    upload = sent.value
    response = upload.response()  # waits for the answer; None when the request was aborted
    assert upload.failure is None, f"the upload was cut off in the page: {upload.failure}"
    assert response is not None and response.status == 200, response and response.status
    files = page.locator("#files-attachments")
    expect(files.get_by_role("link", name=name)).to_be_visible()
    # The thumbnail is served by the portal and allowed by its policy: it really loads.
    page.wait_for_function(
        "() => { const img = document.querySelector('#files-attachments img.thumb');"
        " return img !== null && img.complete && img.naturalWidth > 0; }"
    )
    expect(page.locator("#error-attachments")).to_have_text("")


def test_photo_is_attached_and_listed(phones):
    phone = phones.open()
    page = phone.page
    open_form(phone)
    mark_page(page)
    attach_photo(page)
    phone.shot("photo")
    assert_same_page(page)

    # The file is kept with the draft: it is still listed when the form is opened again.
    phone.go(FORM)
    listed = page.locator("#files-attachments").get_by_role("link", name="broken-screen.png")
    expect(listed).to_be_visible()
    phones.assert_clean()


# -- 6 and 8: the whole request, from the phone to "My requests" ------------------------------


def test_complete_request_is_submitted_and_listed(phones):
    phone = phones.open()
    page = phone.page
    phone.sign_in()
    expect(page.get_by_role("heading", name="My requests")).to_be_visible()
    expect(page.get_by_text("No requests yet.")).to_be_visible()
    page.get_by_role("link", name="New request").first.click()
    page.get_by_role("link", name=re.compile("^Change request")).click()
    expect(page).to_have_url(re.compile(re.escape(FORM) + "$"))

    page.get_by_label(label("Title")).fill("Add a CSV export to the monthly report")
    draft_started(page)
    page.get_by_label(label("What should change?")).fill("Finance needs the report as CSV.")
    page.get_by_label(label("Reason")).select_option("other")
    page.get_by_label(label("Which other reason?")).fill("The auditors ask for it")
    page.locator("#field-business_value").get_by_label(label("High")).check()
    page.get_by_label(label("Desired date")).fill("2027-03-01")
    page.locator("#field-affected_systems").get_by_label(label("Reporting")).check()
    page.get_by_label(label("Cost")).select_option("low")
    page.get_by_label(label("Budget you have in mind")).fill("1250.50")
    page.get_by_label(label("Currency")).select_option("GBP")
    attach_photo(page, "kitchen.png")
    expect(page.locator("#save-status")).to_contain_text("Draft saved")
    phone.shot("filled")

    page.get_by_role("button", name="Submit request").click()
    expect(page.get_by_role("heading", name="Request sent")).to_be_visible()
    number = page.locator(".big-number")
    expect(number).to_have_text(NUMBER)
    request_number = number.inner_text().strip()
    assert NUMBER.fullmatch(request_number), request_number
    phone.shot("confirmation")

    page.locator("main").get_by_role("link", name="My requests").click()
    expect(page.get_by_role("heading", name="My requests")).to_be_visible()
    row = page.locator(".request-row", has_text=request_number)
    expect(row).to_have_count(1)
    expect(row.locator(".title")).to_have_text("Add a CSV export to the monthly report")
    expect(row.locator(".status")).to_have_text("In review")  # the chain started at once
    phone.shot("my-requests")

    row.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(request_number)
    expect(page.get_by_text("The auditors ask for it")).to_be_visible()
    photo = page.locator(".gallery img[alt='kitchen.png']")
    expect(photo).to_be_visible()
    assert photo.evaluate("img => img.complete && img.naturalWidth > 0")
    phone.shot("detail")
    phones.assert_clean()
