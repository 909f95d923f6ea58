"""Seven languages, complete: every shipped catalogue translated, none fuzzy, each compiles,
and the main pages in each language leave no interface text in English."""

from __future__ import annotations

import html
import re
from io import BytesIO

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from portal.accounts.models import Role
from portal.translate import catalogue_files, catalogue_problems
from tests.conftest import csrf_token

LANGUAGES = ("zh_Hans", "de", "fr", "es", "ja", "ar")
TAGS = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.S)


def test_every_language_ships():
    shipped = {path.parent.parent.name for path in catalogue_files()}
    assert shipped == set(LANGUAGES)


@pytest.mark.parametrize("path", catalogue_files(), ids=lambda p: p.parent.parent.name)
def test_catalogue_is_complete_and_compiles(path):
    assert catalogue_problems(path) == []
    with path.open("rb") as handle:
        catalogue = read_po(handle)
    write_mo(BytesIO(), catalogue)  # raises when it cannot compile


def english_phrases(language: str) -> set[str]:
    """Interface phrases whose translation differs from the English (two words or more,
    without placeholders): none may appear on a page shown in that language."""
    path = next(p for p in catalogue_files() if p.parent.parent.name == language)
    with path.open("rb") as handle:
        catalogue = read_po(handle)
    phrases = set()
    for message in catalogue:
        if not message.id or isinstance(message.id, tuple) or "%" in message.id:
            continue
        if " " in message.id.strip() and message.string and message.string != message.id:
            phrases.add(message.id)
    return phrases


def visible_text(page: str) -> str:
    return html.unescape(TAGS.sub(" ", page))


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_main_page_is_in_the_chosen_language(app, accounts, change_request_form, language):
    org = accounts.organisation("Acme Ltd")
    accounts.user("dana@acme.test", Role.CLIENT, org, locale=language)
    accounts.user("bo@portal.test", Role.APPROVER, locale=language)
    dana, bo = app.test_client(), app.test_client()
    accounts.login(dana, "dana@acme.test")
    accounts.login(bo, "bo@portal.test")
    token = csrf_token(dana, "/forms/change-request/new")
    submitted = dana.post(
        "/forms/change-request/submit",
        data={"csrf_token": token, "title": "", "description": ""},
    )
    assert submitted.status_code == 422  # the messages beside the fields, in the language
    pages = {"form with messages": submitted.get_data(as_text=True)}
    response = dana.post(
        "/forms/change-request/submit",
        data={
            "csrf_token": token,
            "title": "Report export",
            "description": "CSV please",
            "reason": "business",
            "business_value": "low",
            "affected_systems": ["crm"],
        },
    )
    number = response.location.split("/")[2]
    visitor = app.test_client()
    visitor.post(
        "/language", data={"locale": language, "csrf_token": csrf_token(visitor, "/login")}
    )
    pages["sign-in"] = visitor.get("/login").get_data(as_text=True)
    for path in ("/", "/forms/", "/forms/change-request/new", f"/requests/{number}",
                 f"/requests/{number}/submitted", "/notifications", "/profile"):  # fmt: skip
        pages[f"client {path}"] = dana.get(path).get_data(as_text=True)
    for path in ("/inbox", f"/requests/{number}", "/"):
        pages[f"approver {path}"] = bo.get(path).get_data(as_text=True)
    pages["not found"] = dana.get("/no/such/page").get_data(as_text=True)

    phrases = english_phrases(language)
    for name, page in pages.items():
        assert f'lang="{language.replace("_", "-")}"' in page, name
        text = visible_text(page)
        left = sorted(p for p in phrases if p in text)
        assert not left, f"{language} {name}: still in English: {left[:5]}"


def test_arabic_pages_read_right_to_left(app, client):
    client.post("/language", data={"locale": "ar", "csrf_token": csrf_token(client, "/login")})
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in page


def test_the_switcher_is_on_the_sign_in_page_and_remembers(app, client, accounts):
    page = client.get("/login").get_data(as_text=True)
    assert 'name="locale"' in page and "Deutsch" in page and "العربية" in page
    client.post("/language", data={"locale": "de", "csrf_token": csrf_token(client, "/login")})
    assert '<html lang="de"' in client.get("/login").get_data(as_text=True)
    accounts.user("bo@portal.test", Role.APPROVER)
    accounts.login(client, "bo@portal.test")  # signing in keeps the choice
    assert '<html lang="de"' in client.get("/").get_data(as_text=True)
    client.post("/language", data={"locale": "ja", "csrf_token": csrf_token(client, "/")})
    assert '<html lang="ja"' in client.get("/").get_data(as_text=True)
    from portal.accounts.models import User
    from portal.extensions import db

    with app.app_context():  # signed in, the switch is kept in the profile too
        assert db.session.query(User).one().locale == "ja"
