"""A form's default answers, as a client meets them: a new request starts with every one
filled in, sending it untouched stores them, and what the person changed or cleared (in
the page, in a saved draft) is never replaced by a default again."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from portal.extensions import db
from portal.forms.definition import parse_definition_text
from portal.forms.service import publish
from portal.requests.models import ChangeRequest, Draft
from tests.conftest import csrf_token
from tests.designer.page import form_values
from tests.forms.test_filling import dana as dana  # noqa: F401  (the fixture)

EVERY_DEFAULT = Path(__file__).with_name("every_default.yaml")


@pytest.fixture
def every_default(app):
    with app.app_context():
        publish(parse_definition_text(EVERY_DEFAULT.read_text(), str(EVERY_DEFAULT)))
        db.session.commit()


def shown(client) -> MultiDict:
    """What the new-request page would send as it stands."""
    page = client.get("/forms/every-default/new")
    assert page.status_code == 200
    return MultiDict(form_values(page.get_data(as_text=True), "entry"))


def test_a_new_request_starts_with_every_default_filled_in(dana, every_default):
    values = shown(dana)
    assert values["title"] == "Printer on floor 2"
    assert values["code"] == "AB-1234"
    assert values["notes"] == "First line\nsecond line"
    assert values["count"] == "3"
    assert (values["budget"], values["budget__currency"]) == ("1250.5", "USD")
    assert values["share"] == "40"
    assert values["due"] == "2026-03-31"
    assert values["meeting"] == "2026-03-02T09:30"
    assert values["email"] == "it@acme.com"
    assert values["phone"] == "+44 20 7946 0958"
    assert values["site"] == "https://acme.test/printers"
    assert values["colour"] == "green"
    assert values["size"] == "large"
    assert values.getlist("extras") == ["wifi", "coffee"]
    assert values.getlist("agree") == ["y"]
    assert values.getlist("newsletter") == []


def test_sending_the_defaults_untouched_stores_them(app, dana, every_default):
    values = shown(dana)
    values["csrf_token"] = csrf_token(dana, "/forms/every-default/new")
    response = dana.post("/forms/every-default/submit", data=values)
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    with app.app_context():
        stored = db.session.scalar(select(ChangeRequest)).answers
    assert stored == {
        "title": "Printer on floor 2",
        "code": "AB-1234",
        "notes": "First line\nsecond line",
        "count": 3,
        "budget": {"amount": "1250.5", "currency": "USD"},
        "share": 40,
        "due": "2026-03-31",
        "meeting": "2026-03-02T08:30:00Z",  # 09:30 where Dana is (Berlin)
        "email": "it@acme.com",
        "phone": "+44 20 7946 0958",
        "site": "https://acme.test/printers",
        "colour": "green",
        "size": "large",
        "extras": ["wifi", "coffee"],
        "agree": True,
        "newsletter": False,
    }


def test_a_default_given_with_a_time_zone_shows_in_the_persons_own_time(app, dana):
    data = {
        "name": "meeting",
        "title": "Meeting",
        "fields": [
            {"name": "at", "type": "datetime", "label": "At", "default": "2026-07-01T07:00Z"}
        ],
    }
    with app.app_context():
        publish(data)
        db.session.commit()
    page = dana.get("/forms/meeting/new").get_data(as_text=True)
    assert dict(form_values(page, "entry"))["at"] == "2026-07-01T09:00"  # summer in Berlin


def test_what_the_person_changed_or_cleared_is_kept_over_the_default(app, dana, every_default):
    values = shown(dana)
    values["title"] = ""
    values["count"] = "7"
    values["colour"] = ""
    values.setlist("extras", [])
    values.setlist("agree", [])
    token = csrf_token(dana, "/forms/every-default/new")
    saved = dana.post(
        "/forms/every-default/draft",
        data=values,
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    assert saved.status_code == 200
    again = shown(dana)  # the page opens on the saved draft
    assert again["title"] == ""
    assert again["count"] == "7"
    assert again["colour"] == ""
    assert again.getlist("extras") == []
    assert again.getlist("agree") == []
    assert again["due"] == "2026-03-31"  # left as it was: still the default


def test_a_question_a_saved_draft_has_no_answer_for_stays_empty(app, dana, every_default):
    """A draft (or a request sent back for changes) holds every answer there is: one it
    does not hold was left empty, and is not filled with the default when it opens."""
    token = csrf_token(dana, "/forms/every-default/new")
    saved = dana.post(
        "/forms/every-default/draft",
        data={"title": "Only a title"},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    assert saved.status_code == 200
    with app.app_context():
        assert db.session.scalar(select(Draft)).answers["title"] == "Only a title"
    again = shown(dana)
    assert again["title"] == "Only a title"
    for name in ("count", "budget", "due", "meeting", "code"):
        assert again[name] == "", name
    assert again["colour"] == ""
    assert again.getlist("extras") == [] and again.getlist("agree") == []
