"""The portal in the reader's language and zone, in a real browser: a Chinese client in
Shanghai reads Chinese and Shanghai times, an Arabic reader gets a right-to-left page
that still fits the phone, and the language switcher works from the sign-in page."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.test_phone_submission import FORM, assert_no_sideways_scroll

CLIENT = "dana@acme.test"


def sign_in_by_fields(phone) -> None:
    """Sign in through the page's fields, whatever language its labels are in."""
    phone.go("/login")
    phone.page.locator("#email").fill(CLIENT)
    phone.page.locator("#password").fill(phone.owner.password)
    phone.page.locator("main button[type=submit]").click()
    phone.page.wait_for_load_state()
    assert "/login" not in phone.page.url


def test_a_chinese_client_in_shanghai_reads_chinese_and_local_times(phones):
    phone = phones.open("shanghai", locale="zh-CN", timezone_id="Asia/Shanghai")
    page = phone.page
    phone.go("/login")
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    expect(page.get_by_role("heading", level=1)).to_have_text("登录")
    sign_in_by_fields(phone)
    expect(page.get_by_role("heading", level=1)).to_have_text("我的申请")
    phone.go(FORM)
    expect(page.get_by_role("heading", level=1)).to_have_text("变更申请单")  # the form's own text
    page.locator("#input-title").fill("月度报表增加 CSV 导出")
    expect(page.locator("#save-status")).to_contain_text(re.compile(r"CST"))  # Shanghai time
    assert_no_sideways_scroll(page, page.viewport_size["width"])
    phone.shot("zh-form")
    phones.assert_clean()


def test_an_arabic_reader_gets_a_right_to_left_page_that_fits_the_phone(phones):
    phone = phones.open("arabic", locale="ar", timezone_id="Asia/Riyadh")
    page = phone.page
    phone.go("/login")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    sign_in_by_fields(phone)
    expect(page.get_by_role("heading", level=1)).to_have_text("طلباتي")
    phone.go(FORM)
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    # The title's label sits at the right edge of the page, where Arabic starts.
    box = page.locator("label[for=input-title]").bounding_box()
    width = page.viewport_size["width"]
    assert box["x"] + box["width"] > width * 0.7, box
    page.set_viewport_size({"width": 360, "height": 740})
    assert_no_sideways_scroll(page, 360)
    phone.shot("ar-form")
    phones.assert_clean()


def test_the_language_switcher_works_from_the_sign_in_page(phones):
    phone = phones.open("switcher")
    page = phone.page
    phone.go("/login")
    expect(page.locator("html")).to_have_attribute("lang", "en-GB")
    page.locator("#language-switch").select_option("de")  # no button needed with scripts
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.get_by_role("heading", level=1)).to_have_text("Anmelden")
    page.locator("#language-switch").select_option("ja")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    phones.assert_clean()
