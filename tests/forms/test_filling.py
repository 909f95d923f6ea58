"""Filling in a form through the portal, as a phone browser does: every field type's
checks with the message beside the field, nothing else lost, visible_if applied on the
server, drafts saved as you type and recovered after the session ends."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from portal.accounts.models import Role, UserSession
from portal.extensions import db
from portal.forms.definition import parse_definition_text
from portal.forms.service import publish
from portal.requests.models import ChangeRequest, Draft
from tests.conftest import csrf_token

EVERY_TYPE = Path(__file__).with_name("every_type.yaml")
VALID = {
    "title": "New printer",
    "agree": "y",
}


def errors_in(html: str) -> dict[str, str]:
    """The message shown beside each field, by field name."""
    found = re.findall(r'<p class="field-error" id="error-([a-z_]+)"[^>]*>([^<]*)</p>', html)
    return {name: message.strip() for name, message in found if message.strip()}


def value_of(html: str, name: str) -> str | None:
    match = re.search(rf'<(?:input|textarea)[^>]*name="{name}"[^>]*value="([^"]*)"', html)
    return match.group(1) if match else None


@pytest.fixture
def every_type(app):
    with app.app_context():
        publish(parse_definition_text(EVERY_TYPE.read_text(), str(EVERY_TYPE)))
        db.session.commit()


@pytest.fixture
def dana(client, accounts):
    org = accounts.organisation("Acme Ltd", timezone="Europe/London")
    accounts.user("dana@acme.test", Role.CLIENT, org, timezone="Europe/Berlin")
    accounts.login(client, "dana@acme.test")
    return client


def submit(client, form: str, answers: dict, *, htmx: bool = False):
    token = csrf_token(client, f"/forms/{form}/new")
    headers = {"HX-Request": "true", "X-CSRFToken": token} if htmx else {}
    data = {**answers} if htmx else {**answers, "csrf_token": token}
    path = f"/forms/{form}/draft" if htmx else f"/forms/{form}/submit"
    return client.post(path, data=data, headers=headers)


CASES = [
    ("title", "ab", "Enter between 3 and 20 characters."),
    ("title", "x" * 21, "Enter between 3 and 20 characters."),
    ("code", "ab-12", "Enter a value in the expected format."),
    ("notes", "n" * 51, "Enter at most 50 characters."),
    ("count", "11", "Enter a number from 1 to 10."),
    ("count", "0", "Enter a number from 1 to 10."),
    ("count", "many", "Not a valid decimal value."),
    ("budget", "-5", "Enter a number of at least 0."),
    ("budget", "12.3.4", "Enter an amount, such as 1250.50."),
    ("share", "101", "Enter a number from 0 to 100."),
    ("due", "2025-12-31", "Enter a date on or after 2026-01-01."),
    ("due", "31/12/2026", "Not a valid date value."),
    ("meeting", "tomorrow", "Not a valid datetime value."),
    ("email", "dana@", "Enter an e-mail address like name@example.com."),
    ("phone", "call me", "Enter a phone number, such as +44 20 7946 0958."),
    ("site", "not a site", "Enter a web address starting with https://."),
    ("colour", "blue", "Not a valid choice."),
    ("size", "huge", "Not a valid choice."),
]


@pytest.mark.parametrize(
    ("field", "bad", "message"), CASES, ids=[f"{c[0]}-{c[1][:8]}" for c in CASES]
)
def test_invalid_answer_gets_its_message_beside_its_field_and_nothing_else_is_lost(
    dana, every_type, field, bad, message
):
    answers = {**VALID, "notes": "Keep this note", field: bad}
    response = submit(dana, "every-type", answers)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert errors_in(html) == {field: message}
    if field != "notes":
        assert "Keep this note" in html
    assert value_of(html, "title") == answers["title"] or field == "title"


def test_required_fields_are_named_on_submit(dana, every_type):
    response = submit(dana, "every-type", {"notes": "only a note"})
    errors = errors_in(response.get_data(as_text=True))
    assert errors == {"title": "This field is required.", "agree": "Tick this box to continue."}


def test_a_valid_submission_stores_typed_answers(app, dana, every_type):
    answers = {
        **VALID,
        "code": "AB-1234",
        "count": "7",
        "budget": "1250,50",
        "budget__currency": "USD",
        "share": "12.5",
        "due": "2027-03-01",
        "meeting": "2027-03-01T09:30",
        "email": "dana@acme.com",
        "phone": "+49 30 1234567",
        "site": "https://acme.test/page",
        "colour": "green",
        "size": "large",
        "extras": ["wifi", "parking"],
    }
    response = submit(dana, "every-type", answers)
    assert response.status_code == 302, errors_in(response.get_data(as_text=True))
    with app.app_context():
        stored = db.session.scalar(select(ChangeRequest)).answers
    assert stored == {
        "title": "New printer",
        "code": "AB-1234",
        "count": 7,
        "budget": {"amount": "1250.5", "currency": "USD"},
        "share": "12.5",
        "due": "2027-03-01",
        "meeting": "2027-03-01T08:30:00Z",  # 09:30 in Berlin, Dana's zone, is 08:30 UTC
        "email": "dana@acme.com",
        "phone": "+49 30 1234567",
        "site": "https://acme.test/page",
        "colour": "green",
        "size": "large",
        "extras": ["wifi", "parking"],
        "agree": True,
    }


def test_the_request_number_and_my_requests(app, dana, every_type):
    first = submit(dana, "every-type", VALID)
    second = submit(dana, "every-type", {**VALID, "title": "Second one"})
    assert re.fullmatch(r"/requests/ET-\d{4}-00001/submitted", first.location)
    assert re.fullmatch(r"/requests/ET-\d{4}-00002/submitted", second.location)
    confirmation = dana.get(second.location).get_data(as_text=True)
    number = second.location.split("/")[2]
    assert number in confirmation
    listing = dana.get("/").get_data(as_text=True)
    assert "New printer" in listing and "Second one" in listing
    assert listing.count("Submitted") >= 2
    assert listing.index("Second one") < listing.index("New printer")  # newest first


def test_hidden_fields_are_neither_required_nor_kept(app, dana, change_request_form):
    base = {
        "title": "Export the report",
        "description": "As CSV",
        "business_value": "low",
        "affected_systems": ["erp"],
    }
    # Reason "other" makes "Which other reason?" visible and required.
    response = submit(dana, "change-request", {**base, "reason": "other"})
    assert errors_in(response.get_data(as_text=True)) == {"reason_other": "This field is required."}
    # With another reason it is hidden: not required, and a stale answer is not kept.
    response = submit(dana, "change-request", {**base, "reason": "legal", "reason_other": "stale"})
    assert response.status_code == 302
    with app.app_context():
        answers = db.session.scalar(select(ChangeRequest)).answers
    assert "reason_other" not in answers
    assert answers["reason"] == "legal"


def test_hidden_fields_render_hidden_and_carry_their_rule(dana, change_request_form):
    html = dana.get("/forms/change-request/new").get_data(as_text=True)
    block = re.search(r'<div class="field[^"]*" id="field-reason_other"[^>]*>', html).group(0)
    assert " hidden" in block
    assert "data-visible-if" in block and "&#34;other&#34;" in block


def test_autosave_keeps_the_draft_and_reports_messages_as_you_type(app, dana, every_type):
    response = submit(dana, "every-type", {"title": "ab", "count": "3"}, htmx=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="error-title"' in html and "hx-swap-oob" in html
    assert errors_in(html) == {
        "title": "Enter between 3 and 20 characters."
    }  # no "required" nagging
    assert "Draft saved" in html
    with app.app_context():
        draft = db.session.scalar(select(Draft))
        assert draft.answers["title"] == "ab"
        assert draft.answers["count"] == "3"
    page = dana.get("/forms/every-type/new").get_data(as_text=True)
    assert value_of(page, "title") == "ab"
    assert value_of(page, "count") == "3"


def test_autosave_needs_the_csrf_header(dana, every_type):
    response = dana.post(
        "/forms/every-type/draft", data={"title": "x"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 400


def test_draft_survives_an_expired_session(app, client, accounts, change_request_form):
    org = accounts.organisation()
    accounts.user("dana@acme.test", Role.CLIENT, org)
    accounts.login(client, "dana@acme.test")
    page = client.get("/forms/change-request/new").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    draft_token = re.search(r'name="draft_token" value="([^"]+)"', page).group(1)

    with app.app_context():  # the sign-in session ends while Dana is typing
        for row in db.session.scalars(select(UserSession)):
            row.last_seen_at -= timedelta(days=2)
        db.session.commit()

    answers = {"title": "Typed after the session ended", "description": "Nothing may be lost"}
    response = client.post(
        "/forms/change-request/submit",
        data={**answers, "csrf_token": token, "draft_token": draft_token},
    )
    assert response.status_code == 302
    assert response.location.startswith("/login?next=")
    accounts.login(client, "dana@acme.test")
    page = client.get("/forms/change-request/new").get_data(as_text=True)
    assert value_of(page, "title") == "Typed after the session ended"
    assert "Nothing may be lost" in page


def test_a_forged_draft_token_saves_nothing(app, client, accounts, change_request_form):
    org = accounts.organisation()
    accounts.user("dana@acme.test", Role.CLIENT, org)
    token = csrf_token(client, "/login")
    response = client.post(
        "/forms/change-request/draft",
        data={"title": "x", "draft_token": "eyJ1IjoxLCJmIjoxfQ.forged.sig"},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    assert response.status_code == 401
    with app.app_context():
        assert db.session.scalar(select(Draft)) is None


def test_staff_see_a_preview_and_cannot_submit(client, accounts, change_request_form):
    accounts.user("bo@portal.test", Role.APPROVER)
    accounts.login(client, "bo@portal.test")
    page = client.get("/forms/change-request/new").get_data(as_text=True)
    assert "This is a preview" in page
    response = submit(client, "change-request", {"title": "x"})
    assert response.status_code == 403


def test_unknown_form_is_404(dana):
    assert dana.get("/forms/no-such-form/new").status_code == 404
    assert dana.get("/no/such/page").status_code == 404


def _page_tokens(client, form: str) -> tuple[str, str]:
    page = client.get(f"/forms/{form}/new").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    draft = re.search(r'name="draft_token" value="([^"]+)"', page).group(1)
    return csrf, draft


def test_a_second_tap_on_submit_does_not_make_a_second_request(app, dana, every_type):
    csrf, draft = _page_tokens(dana, "every-type")
    data = {**VALID, "csrf_token": csrf, "draft_token": draft}
    first = dana.post("/forms/every-type/submit", data=data)
    second = dana.post("/forms/every-type/submit", data=data)
    assert first.status_code == second.status_code == 302
    assert first.location == second.location
    with app.app_context():
        assert len(db.session.scalars(select(ChangeRequest)).all()) == 1


def test_a_save_arriving_after_the_submit_does_not_bring_the_draft_back(app, dana, every_type):
    csrf, draft = _page_tokens(dana, "every-type")
    dana.post("/forms/every-type/submit", data={**VALID, "csrf_token": csrf, "draft_token": draft})
    late = dana.post(
        "/forms/every-type/draft",
        data={**VALID, "draft_token": draft},
        headers={"HX-Request": "true", "X-CSRFToken": csrf},
    )
    assert "This request has been sent." in late.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Draft)) is None
    page = dana.get("/forms/every-type/new").get_data(as_text=True)
    assert value_of(page, "title") == ""  # a fresh form, not the sent one


def test_two_first_saves_at_once_share_one_draft(app, dana, every_type):
    """Two overlapping first saves: the second finds the draft the first made (no 500)."""
    import threading

    csrf, draft = _page_tokens(dana, "every-type")
    cookie = dana.get_cookie("portal_session").value
    results = []

    def save(title: str) -> None:
        browser = app.test_client()
        browser.set_cookie("portal_session", cookie)
        response = browser.post(
            "/forms/every-type/draft",
            data={"title": title, "draft_token": draft},
            headers={"HX-Request": "true", "X-CSRFToken": csrf},
        )
        results.append(response.status_code)

    threads = [threading.Thread(target=save, args=(f"title {i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * 6
    with app.app_context():
        assert len(db.session.scalars(select(Draft)).all()) == 1


def test_a_save_overtaken_by_the_submit_says_the_request_was_sent(app, dana, every_type):
    """The save read the draft; before it could write, another tap sent the request and the
    draft went away. The save answers "sent" instead of failing."""
    import threading

    from sqlalchemy import event
    from sqlalchemy.orm import Session

    csrf, draft = _page_tokens(dana, "every-type")
    dana.post(
        "/forms/every-type/draft",
        data={"title": "first words", "draft_token": draft},
        headers={"HX-Request": "true", "X-CSRFToken": csrf},
    )
    cookie = dana.get_cookie("portal_session").value
    other_tab = app.test_client()
    other_tab.set_cookie("portal_session", cookie)

    fired: list[bool] = []

    def submit_first(session, flush_context, instances):  # noqa: ANN001
        if not fired and any(isinstance(obj, Draft) for obj in session.dirty):
            fired.append(True)
            sent = []
            tap = threading.Thread(  # another request: its own thread, session and transaction
                target=lambda: sent.append(
                    other_tab.post(
                        "/forms/every-type/submit",
                        data={**VALID, "csrf_token": csrf, "draft_token": draft},
                    ).status_code
                )
            )
            tap.start()
            tap.join()
            assert sent == [302]

    event.listen(Session, "before_flush", submit_first)
    try:
        late = dana.post(
            "/forms/every-type/draft",
            data={**VALID, "draft_token": draft},
            headers={"HX-Request": "true", "X-CSRFToken": csrf},
        )
    finally:
        event.remove(Session, "before_flush", submit_first)
    assert fired
    assert late.status_code == 200
    assert "This request has been sent." in late.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Draft)) is None


def test_a_first_save_crossing_the_submit_leaves_no_sent_answers_behind(app, dana, every_type):
    """The page's first save (no draft yet) and the submission cross: the submission sends
    the answers straight to a request, the save then writes a draft under the same page.
    Opening the form again gives a fresh form, not the answers already sent."""
    import threading

    from sqlalchemy import event
    from sqlalchemy.orm import Session

    csrf, draft = _page_tokens(dana, "every-type")
    cookie = dana.get_cookie("portal_session").value
    other_tab = app.test_client()
    other_tab.set_cookie("portal_session", cookie)
    fired: list[int] = []

    def submit_first(session, flush_context, instances):  # noqa: ANN001
        if not fired and any(isinstance(obj, Draft) for obj in session.new):
            fired.append(0)
            tap = threading.Thread(
                target=lambda: fired.append(
                    other_tab.post(
                        "/forms/every-type/submit",
                        data={**VALID, "csrf_token": csrf, "draft_token": draft},
                    ).status_code
                )
            )
            tap.start()
            tap.join()

    event.listen(Session, "before_flush", submit_first)
    try:
        save = dana.post(
            "/forms/every-type/draft",
            data={"title": "New printer", "draft_token": draft},
            headers={"HX-Request": "true", "X-CSRFToken": csrf},
        )
    finally:
        event.remove(Session, "before_flush", submit_first)
    assert fired == [0, 302] and save.status_code == 200
    page = dana.get("/forms/every-type/new").get_data(as_text=True)
    assert value_of(page, "title") == ""  # a fresh form
    with app.app_context():
        assert db.session.scalar(select(Draft)) is None
        assert len(db.session.scalars(select(ChangeRequest)).all()) == 1


def test_a_failure_while_sending_keeps_every_answer_in_the_draft(
    app, dana, every_type, monkeypatch
):
    """Valid answers go to the request in one transaction. When something fails on the way
    (here the approval chain's start), that transaction is undone and the answers are kept
    in the person's draft: opening the form again shows them, and no request was made."""
    from portal.approvals import service

    def broken(change, actor):  # noqa: ANN001, ARG001
        raise RuntimeError("the chain could not start")

    monkeypatch.setattr(service, "start", broken)
    csrf, draft = _page_tokens(dana, "every-type")
    answers = {**VALID, "title": "Kept printer", "notes": "Keep this note"}
    with pytest.raises(RuntimeError):
        dana.post(
            "/forms/every-type/submit", data={**answers, "csrf_token": csrf, "draft_token": draft}
        )
    page = dana.get("/forms/every-type/new").get_data(as_text=True)
    assert value_of(page, "title") == "Kept printer"
    assert "Keep this note" in page
    with app.app_context():
        assert db.session.scalar(select(ChangeRequest)) is None
