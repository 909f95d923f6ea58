"""Publishing makes immutable versions; a request keeps the version it was filled against,
and its answers stay readable after the form changes."""

from __future__ import annotations

import copy

import pytest
import yaml
from sqlalchemy import select

from portal.accounts.models import Role
from portal.extensions import db
from portal.forms.definition import DefinitionError
from portal.forms.models import Form, FormVersion, ImmutableVersionError
from portal.forms.service import publish
from portal.requests.models import ChangeRequest
from tests.conftest import SHIPPED_FORM, csrf_token

ANSWERS = {
    "title": "Pinned request",
    "description": "Filled against version 1",
    "reason": "business",
    "business_value": "medium",
    "affected_systems": ["crm"],
}


def version_two() -> dict:
    """The shipped form with the title field renamed and the reason field removed."""
    data = yaml.safe_load(SHIPPED_FORM.read_text())
    data = copy.deepcopy(data)
    for field in data["fields"]:
        if field["name"] == "title":
            field["name"] = "headline"
            field["label"] = {"en": "Headline"}
    data["fields"] = [f for f in data["fields"] if f["name"] not in ("reason", "reason_other")]
    return data


@pytest.fixture
def dana(client, accounts, change_request_form):
    org = accounts.organisation()
    accounts.user("dana@acme.test", Role.CLIENT, org)
    accounts.login(client, "dana@acme.test")
    return client


def test_publishing_the_same_definition_twice_makes_one_version(app, change_request_form):
    with app.app_context():
        version, created = publish(yaml.safe_load(SHIPPED_FORM.read_text()))
        assert not created and version.number == 1
        second, created = publish(version_two())
        assert created and second.number == 2
        db.session.commit()
        assert [v.number for v in db.session.scalar(select(Form)).versions] == [1, 2]


def test_a_published_version_cannot_change(app, change_request_form):
    with app.app_context():
        version = db.session.get(FormVersion, change_request_form)
        version.definition = {**version.definition, "name": "changed"}
        with pytest.raises(ImmutableVersionError):
            db.session.commit()
        db.session.rollback()
        with pytest.raises(ImmutableVersionError):
            db.session.delete(db.session.get(FormVersion, change_request_form))
            db.session.commit()


def test_old_answers_stay_readable_after_fields_are_renamed_or_removed(app, dana):
    token = csrf_token(dana, "/forms/change-request/new")
    response = dana.post("/forms/change-request/submit", data={**ANSWERS, "csrf_token": token})
    number = response.location.split("/")[2]
    with app.app_context():
        publish(version_two())
        db.session.commit()
    page = dana.get(f"/requests/{number}").get_data(as_text=True)
    assert "version 1" in page
    assert "Title" in page and "Pinned request" in page  # the old label for the old answer
    assert "Reason" in page and "A business need" in page  # a field version 2 removed
    new_form = dana.get("/forms/change-request/new").get_data(as_text=True)
    assert "Headline" in new_form and 'name="reason"' not in new_form


def test_a_draft_stays_on_the_version_it_was_started_on(app, dana):
    token = csrf_token(dana, "/forms/change-request/new")
    dana.post(
        "/forms/change-request/draft",
        data={"title": "Started on v1"},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    with app.app_context():
        publish(version_two())
        db.session.commit()
    page = dana.get("/forms/change-request/new").get_data(as_text=True)
    assert 'value="Started on v1"' in page and "Headline" not in page
    response = dana.post("/forms/change-request/submit", data={**ANSWERS, "csrf_token": token})
    assert response.status_code == 302
    with app.app_context():
        change = db.session.scalar(select(ChangeRequest))
        assert change.form_version.number == 1
        assert change.answers["title"] == "Pinned request"


def test_a_definition_with_errors_is_refused_whole(app, change_request_form):
    broken = version_two()
    broken["fields"][1]["type"] = "no-such-type"
    broken["fields"][2]["options"] = "not a list"
    with app.app_context():
        with pytest.raises(DefinitionError) as caught:
            publish(broken)
        assert len(caught.value.problems) >= 2
        db.session.rollback()
        assert len(db.session.scalars(select(FormVersion)).all()) == 1
