"""An app with the test connector installed, on the suite's database; and helpers that
submit a request and configure the connector for the change-request form."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal import create_app
from portal.accounts.models import Role
from portal.extensions import db
from portal.integrations.models import ConnectorSetting
from portal.requests.models import ChangeRequest
from tests.conftest import csrf_token
from tests.integrations.echo import EchoPlugin

ANSWERS = {
    "title": "Add a CSV export",
    "description": "Finance needs the monthly report as CSV.",
    "reason": "business",
    "business_value": "medium",
    "affected_systems": ["reporting"],
    "impact_cost": "low",
    "impact_time": "low",
    "impact_resources": "low",
    "impact_risk": "low",
}


@pytest.fixture(scope="session")
def echo_app(app):
    """A second app on the same (migrated) database, with the Echo connector plugged in."""
    from config import TestConfig

    class EchoConfig(TestConfig):
        SQLALCHEMY_DATABASE_URI = app.config["SQLALCHEMY_DATABASE_URI"].replace(
            "postgresql+psycopg://", "postgresql://"
        )
        OUTBOX_MAX_ATTEMPTS = 3

    return create_app(EchoConfig, instance_path=app.instance_path, plugins=(EchoPlugin(),))


class Desk:
    """The people of a small team, with their browsers on the echo app."""

    def __init__(self, echo_app, accounts):
        self.app = echo_app
        acme = accounts.organisation("Acme Ltd", timezone="Europe/London")
        self.ids = {
            "dana": accounts.user("dana@acme.test", Role.CLIENT, acme, name="Dana"),
            "bo": accounts.user("bo@portal.test", Role.APPROVER, name="Bo", timezone="Asia/Tokyo"),
            "ada": accounts.user("ada@portal.test", Role.ADMIN, name="Ada"),
        }
        self.browsers = {}
        for key, email in (("dana", "dana@acme.test"), ("bo", "bo@portal.test"),
                           ("ada", "ada@portal.test")):  # fmt: skip
            self.browsers[key] = echo_app.test_client()
            accounts.login(self.browsers[key], email)

    def configure(self, url: str, events=("request.submitted", "step.decided"), **settings):
        with self.app.app_context():
            db.session.add(
                ConnectorSetting(
                    connector="echo",
                    form_name="change-request",
                    enabled=True,
                    events=list(events),
                    settings={"url": url, "token": "env:ECHO_TOKEN", **settings},
                )
            )
            db.session.commit()

    def submit(self, **answers) -> str:
        dana = self.browsers["dana"]
        token = csrf_token(dana, "/forms/change-request/new")
        response = dana.post(
            "/forms/change-request/submit", data={**ANSWERS, **answers, "csrf_token": token}
        )
        assert response.status_code == 302, response.get_data(as_text=True)
        return response.location.split("/")[2]

    def act(self, who: str, number: str, step: str, verb: str, comment: str = ""):
        import re

        browser = self.browsers[who]
        page = browser.get(f"/requests/{number}").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        revision = re.search(r'name="revision" value="(\d+)"', page)
        return browser.post(
            f"/requests/{number}/act",
            data={
                "csrf_token": token,
                "step": step,
                "verb": verb,
                "comment": comment,
                "revision": revision.group(1) if revision else "1",
            },  # fmt: skip
        )

    def request_id(self, number: str) -> int:
        with self.app.app_context():
            return db.session.scalar(select(ChangeRequest.id).where(ChangeRequest.number == number))


@pytest.fixture
def desk(echo_app, accounts, change_request_form, monkeypatch):
    monkeypatch.setenv("ECHO_TOKEN", "s3cret-token")
    return Desk(echo_app, accounts)
