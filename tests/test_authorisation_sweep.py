"""Every route, called by every kind of visitor: nobody reaches what is not theirs.

The sweep builds a URL for each rule of the app from real objects (a request, its file,
a notification of Acme Ltd's client) and calls it as a signed-out visitor, as a client of
another organisation, and with a missing CSRF token. A new route is swept as soon as it
exists; if the sweep cannot fill one of its parameters, the test fails and says so.
"""

from __future__ import annotations

import io
import re
from datetime import time

import pytest
from sqlalchemy import select

from portal.accounts.models import Role
from portal.designer.drafts import new_draft
from portal.extensions import db
from portal.integrations.models import InboundReceipt
from portal.integrations.setup import save_setting
from portal.notifications.models import Notification
from portal.requests.models import Attachment, ChangeRequest
from tests.conftest import csrf_token
from tests.forms.files import png

PUBLIC = {"accounts.login", "health.healthz", "static", "notifications.bell"}
# Inbound webhooks are public by nature: vendors call them without a session or a CSRF
# token. Each verifies the vendor's signature instead (401 without it, nothing changed).
WEBHOOKS = {"jira_hooks.jira_webhook", "trello_hooks.trello_webhook"}
PUBLIC |= WEBHOOKS
ANSWERS = {
    "title": "Acme's private change",
    "description": "Only Acme may read this",
    "reason": "business",
    "business_value": "medium",
    "affected_systems": ["crm"],
}


@pytest.fixture
def world(app, accounts, change_request_form):
    acme = accounts.organisation("Acme Ltd")
    globex = accounts.organisation("Globex")
    accounts.user("dana@acme.test", Role.CLIENT, acme)
    accounts.user("gus@globex.test", Role.CLIENT, globex)
    accounts.user("bo@portal.test", Role.APPROVER)
    accounts.user("ada@portal.test", Role.ADMIN)
    dana = app.test_client()
    accounts.login(dana, "dana@acme.test")
    token = csrf_token(dana, "/forms/change-request/new")
    dana.post(
        "/forms/change-request/files/attachments",
        data={"csrf_token": token, "file": [(io.BytesIO(png()), "private.png")]},
        content_type="multipart/form-data",
        headers={"HX-Request": "true"},
    )
    dana.post("/forms/change-request/submit", data={**ANSWERS, "csrf_token": token})
    with app.app_context():
        change = db.session.scalar(select(ChangeRequest))
        attachment = db.session.scalar(select(Attachment))
        notification = db.session.scalar(select(Notification))
        draft = new_draft({"name": "acme-draft", "title": {"en": "Acme's private change"}}, None)
        people = _admin_rows(db.session)
        db.session.commit()
        setting = save_setting("jira", "change-request", {"webhook_secret": "env:NOT_SET"}, [])
        values = {
            "draft_id": draft.id,
            "index": 0,
            "number": change.number,
            "attachment_id": attachment.id,
            "notification_id": notification.id if notification else 1,
            "name": "change-request",
            "field_name": "attachments",
            "filename": "css/portal.css",
            "form_name": "change-request",
            "connector_name": "webhook",
            "delivery_id": 1,
            "setting_id": setting.id,
            **people,
            "version_number": 1,
            "template_name": "feature-request",
        }
    # An unsigned call to the Jira webhook: a real receipt for the Inbound calls pages.
    assert app.test_client().post(f"/hooks/jira/{setting.id}", data=b"{}").status_code == 401
    with app.app_context():
        values["receipt_id"] = db.session.scalar(select(InboundReceipt.id))
    gus = app.test_client()
    accounts.login(gus, "gus@globex.test")
    return values, gus


def _admin_rows(session):
    """Real rows for the admin pages' parameters: a person, an organisation, a group with a
    member, a delegation and a working calendar."""
    from datetime import timedelta

    from portal.accounts.models import Organisation, User
    from portal.approvals import directory
    from portal.database import utcnow

    bo = session.scalar(select(User).where(User.email == "bo@portal.test"))
    ada = session.scalar(select(User).where(User.email == "ada@portal.test"))
    acme = session.scalar(select(Organisation).where(Organisation.name == "Acme Ltd"))
    group = directory.create_group("ccb", "Change control board", None)
    directory.add_member(group, bo, None)
    today = utcnow().date()
    delegation = directory.add_delegation(bo, ada, today, today + timedelta(days=2), None)
    calendar = directory.save_calendar(
        None, name="berlin", zone="Europe/Berlin", country="DE", subdivision=None,
        workdays=[0, 1, 2, 3, 4], starts=time(9), ends=time(17), closed_days=[], actor=None,
    )  # fmt: skip
    return {
        "user_id": bo.id,
        "organisation_id": acme.id,
        "group_id": group.id,
        "delegation_id": delegation.id,
        "calendar_id": calendar.id,
    }


def _urls(app, values):
    for rule in app.url_map.iter_rules():
        missing = [arg for arg in rule.arguments if arg not in values]
        assert not missing, f"the sweep cannot fill {missing} of {rule.rule}: add a value"
        path = rule.rule
        for arg in rule.arguments:
            path = re.sub(rf"<(?:[a-z]+:)?{arg}>", str(values[arg]), path)
        yield rule, path


def test_signed_out_visitors_reach_only_public_routes(app, world):
    values, _ = world
    visitor = app.test_client()
    for rule, path in _urls(app, values):
        if rule.endpoint in PUBLIC:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = visitor.open(path, method=method)
            if method == "GET":
                assert response.status_code == 302, (method, path, response.status_code)
                assert response.location.startswith("/login"), (method, path)
            else:  # no session, no CSRF token: refused before anything happens
                assert response.status_code in (400, 401, 302), (method, path)
                assert b"Acme's private change" not in response.data


def test_another_organisations_client_sees_nothing_of_it(app, world):
    values, gus = world
    token = csrf_token(gus, "/")
    for rule, path in _urls(app, values):
        if rule.endpoint == "accounts.logout":
            continue  # signing out would end the sweep
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            data = {"csrf_token": token} if method == "POST" else None
            response = gus.open(path, method=method, data=data, headers={"HX-Request": "true"})
            body = response.get_data(as_text=True)
            assert "Acme's private change" not in body, (method, path)
            assert "private.png" not in body, (method, path)
            if "number" in rule.arguments or "attachment_id" in rule.arguments:
                assert response.status_code in (403, 404), (method, path, response.status_code)
            assert response.status_code != 500, (method, path)


def test_only_admins_reach_the_admin_area(app, world, accounts):
    """Every admin route and fragment refuses approvers and clients, whatever the method."""
    values, gus = world
    bo = app.test_client()
    accounts.login(bo, "bo@portal.test")
    admin_rules = [(rule, path) for rule, path in _urls(app, values) if path.startswith("/admin")]
    assert admin_rules
    for client in (bo, gus):
        token = csrf_token(client, "/")
        for rule, path in admin_rules:
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                data = {"csrf_token": token} if method == "POST" else None
                response = client.open(path, method=method, data=data)
                assert response.status_code == 403, (method, path, response.status_code)


def test_every_post_needs_the_csrf_token(app, world, accounts):
    values, _ = world
    bo = app.test_client()
    accounts.login(bo, "bo@portal.test")
    for rule, path in _urls(app, values):
        if "POST" not in rule.methods:
            continue
        response = bo.post(path, data={})
        if rule.endpoint in WEBHOOKS:  # no CSRF token: the vendor's signature, or nothing
            assert response.status_code in (401, 404), (path, response.status_code)
            continue
        assert response.status_code == 400, (path, response.status_code)


def test_get_never_changes_anything(app, world, accounts):
    """Every GET, by every kind of person, leaves the data as it was (GET is safe)."""
    values, gus = world
    bo = app.test_client()
    accounts.login(bo, "bo@portal.test")
    dana = app.test_client()
    accounts.login(dana, "dana@acme.test")
    ada = app.test_client()
    accounts.login(ada, "ada@portal.test")

    def snapshot():
        with app.app_context():
            return {
                table.name: sorted(
                    tuple(str(v) for v in row) for row in db.session.execute(table.select()).all()
                )
                for table in db.metadata.sorted_tables
                if table.name not in {"user_sessions", "login_attempts"}
            }

    before = snapshot()
    for client in (bo, dana, gus, ada):
        for rule, path in _urls(app, values):
            if "GET" in rule.methods and rule.endpoint != "static":
                client.get(path)
    assert snapshot() == before
