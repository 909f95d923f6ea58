"""Odd input, typed or tampered with, anywhere in the portal: a number too large for any id
in an address is not found, a NUL character is dropped from what was typed and the rest is
kept, and neither is ever a server error, on SQLite and PostgreSQL alike.

The address sweep reuses the authorisation sweep's world (a request, its file, a
notification, an admin's rows), so a new route with an ``<int:…>`` part is swept as soon as
it exists.
"""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from portal.accounts.models import LoginAttempt, User, UserSession
from portal.extensions import db
from portal.requests.models import ChangeRequest, Draft
from tests.approvals.test_chain_at_work import LOW
from tests.conftest import csrf_token
from tests.test_authorisation_sweep import _urls
from tests.test_authorisation_sweep import world as world  # noqa: F401  (the fixture)

HUGE_IDS = (10**20, 2**31)
INT_PART = re.compile(r"<int(?:\([^)]*\))?:(\w+)>")
ROLES = {"client": "dana@acme.test", "approver": "bo@portal.test", "admin": "ada@portal.test"}


def signed_in(app, accounts, role: str):
    browser = app.test_client()
    accounts.login(browser, ROLES[role])
    return browser


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def status_of(browser, path: str, method: str = "GET", **kwargs) -> int:
    """The status a person would see; an error the test client lets through counts as the
    500 it would have been, so one run lists every broken address."""
    try:
        return browser.open(path, method=method, **kwargs).status_code
    except Exception:  # noqa: BLE001
        return 500


def _huge_id_urls(app, values):
    """Each rule with a number in its address, once for each number part and huge value,
    the other parts filled from real rows."""
    for rule in app.url_map.iter_rules():
        numbered = INT_PART.findall(rule.rule)
        for arg in numbered:
            for huge in HUGE_IDS:
                path = rule.rule
                for name in rule.arguments:
                    value = huge if name == arg else values[name]
                    path = re.sub(rf"<(?:[a-z]+(?:\([^)]*\))?:)?{name}>", str(value), path)
                yield rule, path


def test_the_sweep_finds_the_numbered_addresses(app, world):
    values, _ = world
    paths = {path for _, path in _huge_id_urls(app, values)}
    assert f"/notifications/{10**20}/read" in paths
    assert f"/admin/forms/drafts/{values['draft_id']}/chain/steps/{2**31}" in paths


@pytest.mark.parametrize("role", ROLES)
def test_a_huge_id_in_an_address_is_not_found(app, world, accounts, role):
    """Every route with an id, as every kind of person, every method: never a 500."""
    values, _ = world
    browser = signed_in(app, accounts, role)
    token = csrf_token(browser, "/")
    answers = []
    for rule, path in _huge_id_urls(app, values):
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            data = {"csrf_token": token} if method == "POST" else None
            answers.append((status_of(browser, path, method, data=data), method, path))
    assert answers
    wrong = [answer for answer in answers if answer[0] not in (403, 404, 405)]
    assert not wrong, wrong
    assert [code for code, method, _ in answers if method == "GET"].count(404) > 10


def test_the_largest_id_the_database_holds_is_still_looked_up(app, world, accounts):
    """2**31 - 1 reaches the route (and finds nothing), 2**31 never does."""
    ada = signed_in(app, accounts, "admin")
    assert ada.get(f"/admin/people/{2**31 - 1}").status_code == 404
    assert ada.get(f"/admin/people/{world[0]['user_id']}").status_code == 200
    token = csrf_token(ada, "/")
    for number in (2**31 - 1, 0):
        response = ada.post(f"/notifications/{number}/read", data={"csrf_token": token})
        assert response.status_code == 404, (number, response.status_code)


def _text_part_urls(app, values):
    """Each rule with a text part in its address, that part holding a NUL character."""
    for rule in app.url_map.iter_rules():
        for arg in rule.arguments:
            if re.search(rf"<int(?:\([^)]*\))?:{arg}>", rule.rule):
                continue
            path = rule.rule
            for name in rule.arguments:
                value = "change%00request" if name == arg else values[name]
                path = re.sub(rf"<(?:[a-z]+(?:\([^)]*\))?:)?{name}>", str(value), path)
            yield rule, path


@pytest.mark.parametrize("role", ROLES)
def test_a_nul_in_a_name_in_an_address_is_not_found(app, world, accounts, role):
    values, _ = world
    browser = signed_in(app, accounts, role)
    token = csrf_token(browser, "/")
    answers = []
    for rule, path in _text_part_urls(app, values):
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            data = {"csrf_token": token} if method == "POST" else None
            answers.append((status_of(browser, path, method, data=data), method, path))
    assert len(answers) > 20
    wrong = [answer for answer in answers if answer[0] not in (403, 404, 405)]
    assert not wrong, wrong


@pytest.mark.parametrize("role", ROLES)
def test_a_huge_number_in_a_query_string_is_no_number(app, world, accounts, role):
    """A page or an organisation no INTEGER holds is read as no number: the first page,
    every organisation."""
    values, _ = world
    browser = signed_in(app, accounts, role)
    broken = []
    for huge in HUGE_IDS:
        query = f"?page={huge}&organisation={huge}&organisation_id={huge}&requester={huge}"
        for rule, path in _urls(app, values):
            if "GET" in rule.methods and rule.endpoint != "static":
                status = status_of(browser, path + query)
                if status >= 500:
                    broken.append((status, path + query))
        assert values["number"] in text_of(browser.get(f"/?page={huge}"))
    assert not broken, broken


def test_a_huge_person_in_a_reassignment_is_refused(app, world, accounts):
    values, _ = world
    ada = signed_in(app, accounts, "admin")
    number = values["number"]
    for huge in HUGE_IDS:
        token = csrf_token(ada, f"/requests/{number}")
        data = {"step": "analysis", "from_user": values["user_id"], "to_user": huge}
        response = ada.post(
            f"/requests/{number}/reassign",
            data={**data, "csrf_token": token},
            headers={"HX-Request": "true"},
        )
        assert response.status_code in (400, 409, 422), (huge, response.status_code)
        assert "choose an active approver or admin" in text_of(response).lower()


@pytest.mark.parametrize("role", ROLES)
def test_nul_characters_in_query_strings_never_break_a_page(app, world, accounts, role):
    """Every page, as every kind of person, with a NUL in every filter and search box."""
    values, _ = world
    browser = signed_in(app, accounts, role)
    query = "?q=a%00b&status=in_%00review&kind=%00&organisation=1%00&page=%00&next=/%00"
    broken = []
    for rule, path in _urls(app, values):
        if "GET" in rule.methods and rule.endpoint != "static":
            status = status_of(browser, path + query)
            if status >= 500:
                broken.append((status, path))
    assert not broken, broken


def test_a_nul_in_an_autosaved_answer_is_dropped_and_the_rest_kept(
    app, client_user, accounts, change_request_form
):
    dana = signed_in(app, accounts, "client")
    token = csrf_token(dana, "/forms/change-request/new")
    saved = dana.post(
        "/forms/change-request/draft",
        data={"title": "Add a\x00bc export", "description": "Fin\x00ance"},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    assert saved.status_code == 200, saved.status_code
    with app.app_context():
        draft = db.session.scalar(select(Draft))
        assert draft.answers["title"] == "Add abc export"
        assert draft.answers["description"] == "Finance"
    page = text_of(dana.get("/forms/change-request/new"))
    assert 'value="Add abc export"' in page
    assert ">Finance</textarea>" in page


def test_a_nul_in_a_submitted_answer_is_dropped_and_the_request_sent(
    app, client_user, accounts, change_request_form
):
    dana = signed_in(app, accounts, "client")
    token = csrf_token(dana, "/forms/change-request/new")
    answers = {**LOW, "title": "Add a CSV\x00 export", "description": "\x00Monthly\x00 report"}
    sent = dana.post("/forms/change-request/submit", data={**answers, "csrf_token": token})
    assert sent.status_code == 302, text_of(sent)
    page = text_of(dana.get(sent.location.replace("/submitted", "")))
    assert "Add a CSV export" in page
    assert "Monthly report" in page
    with app.app_context():
        assert db.session.scalar(select(ChangeRequest.title)) == "Add a CSV export"


def test_a_nul_in_a_decision_comment_is_dropped(app, world, accounts):
    bo = signed_in(app, accounts, "approver")
    number = world[0]["number"]
    page = bo.get(f"/requests/{number}").get_data(as_text=True)
    revision = re.search(r'name="revision" value="(\d+)"', page)
    decided = bo.post(
        f"/requests/{number}/act",
        data={
            "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page).group(1),
            "step": "analysis",
            "verb": "d\x00one",
            "revision": revision.group(1) if revision else "1",
            "comment": "Small\x00 change, low\x00 risk",
        },
        headers={"HX-Request": "true"},
    )
    assert decided.status_code == 200, decided.status_code
    assert "Small change, low risk" in text_of(bo.get(f"/requests/{number}"))


def test_a_nul_in_the_sign_in_form_is_dropped(app, client_user, accounts):
    browser = app.test_client()
    token = csrf_token(browser, "/login")
    wrong = browser.post(
        "/login",
        data={"email": "nobody\x00@acme.test", "password": "x\x00", "csrf_token": token},
    )
    assert wrong.status_code == 401
    assert "That e-mail address and password do not match." in text_of(wrong)
    assert 'value="nobody@acme.test"' in text_of(wrong)
    right = browser.post(
        "/login?next=/inbox%00",
        data={
            "email": "dana@acme\x00.test",
            "password": "correct horse battery",
            "csrf_token": token,
        },
    )
    assert right.status_code == 302, right.status_code
    assert right.location == "/inbox"
    assert "Sign in" not in text_of(browser.get("/"))


def test_a_nul_in_a_header_is_dropped_at_sign_in(app, client_user, accounts):
    """The browser's name (User-Agent) is kept with each sign-in and each attempt; a NUL in
    it, or in any other header, is dropped like a typed one (gunicorn refuses such a
    header, but not every server in front of the portal does)."""
    browser = app.test_client()
    token = csrf_token(browser, "/login")
    odd = {"User-Agent": "Phone\x00Browser/1.0", "Referer": "http://x/\x00"}
    wrong = browser.post(
        "/login",
        data={"email": "dana@acme.test", "password": "wrong", "csrf_token": token},
        headers=odd,
    )
    assert wrong.status_code == 401
    assert "That e-mail address and password do not match." in text_of(wrong)
    right = browser.post(
        "/login",
        data={"email": "dana@acme.test", "password": "correct horse battery", "csrf_token": token},
        headers=odd,
    )
    assert right.status_code == 302, right.status_code
    assert "Sign in" not in text_of(browser.get("/", headers=odd))
    with app.app_context():
        kept = db.session.scalars(
            select(UserSession.user_agent).join(User).where(User.email == "dana@acme.test")
        ).all()
        tried = db.session.scalars(
            select(LoginAttempt.user_agent).where(LoginAttempt.email == "dana@acme.test")
        ).all()
    assert "PhoneBrowser/1.0" in kept
    assert tried.count("PhoneBrowser/1.0") == 2


def test_a_nul_in_ones_settings_is_dropped(app, client_user, accounts):
    dana = signed_in(app, accounts, "client")
    token = csrf_token(dana, "/profile")
    saved = dana.post(
        "/profile",
        data={"locale": "d\x00e", "timezone": "Europe/Ber\x00lin", "csrf_token": token},
    )
    assert saved.status_code == 302, saved.status_code
    page = text_of(dana.get("/profile"))
    assert '<option value="Europe/Berlin" selected>' in page
    with app.app_context():
        dana_row = db.session.scalar(select(User).where(User.email == "dana@acme.test"))
        assert (dana_row.locale, dana_row.timezone) == ("de", "Europe/Berlin")


def test_a_nul_in_an_out_of_office_is_refused_with_a_message(app, world, accounts):
    bo = signed_in(app, accounts, "approver")
    token = csrf_token(bo, "/profile")
    response = bo.post(
        "/profile/away",
        data={"delegate_id": "1\x00", "starts_on": "20\x0026-01-01", "ends_on": "\x00",
              "csrf_token": token},
    )  # fmt: skip
    assert response.status_code == 422, response.status_code
    assert 'class="field-error"' in response.get_data(as_text=True)


def test_a_nul_in_a_search_box_is_dropped_and_the_search_done(app, world, accounts):
    ada = signed_in(app, accounts, "admin")
    found = text_of(ada.get("/admin/people/?q=b%00o%40portal", headers={"HX-Request": "true"}))
    assert "bo@portal.test" in found
    assert "dana@acme.test" not in found


def test_a_nul_in_the_list_and_inbox_filters_is_dropped(app, world, accounts):
    values, _ = world
    dana = signed_in(app, accounts, "client")
    listed = text_of(dana.get("/?status=in_%00review&mine=1%00"))
    assert values["number"] in listed
    assert '<option value="in_review" selected>' in listed
    none = text_of(dana.get("/?status=comp%00leted"))
    assert values["number"] not in none
    bo = signed_in(app, accounts, "approver")
    inbox = text_of(bo.get("/inbox?kind=ta%00sk&organisation=%00"))
    assert '<option value="task" selected>' in inbox
    assert values["number"] in inbox
