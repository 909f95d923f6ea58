"""Fixtures shared by the whole suite.

The schema is built once per run by the real migrations (``flask db upgrade``), on SQLite,
or on PostgreSQL when ``PORTAL_TEST_DATABASE_URL`` is set; each test then starts from empty
tables. Tests talk to the portal as a browser does: they read the CSRF token from the page
they were given and post it back.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import text

from config import TestConfig
from portal import create_app
from portal.accounts.models import Organisation, Role, User
from portal.accounts.passwords import hash_password
from portal.audit.trace import TRACE_TABLES, purge_for_tests
from portal.extensions import db

PASSWORD = "correct horse battery"
CSRF_PATTERN = re.compile(r'name="csrf_token" value="([^"]+)"')
SHIPPED_FORM = Path(__file__).resolve().parent.parent / "portal/forms/library/change-request.yaml"


def _reset_postgres(url: str) -> None:
    """Start the run from an empty schema on the test server."""
    from sqlalchemy import create_engine

    engine = create_engine("postgresql+psycopg://" + url.split("://", 1)[1])
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    instance = tmp_path_factory.mktemp("instance")
    url = os.environ.get("PORTAL_TEST_DATABASE_URL")
    if url:
        _reset_postgres(url)

    class SuiteConfig(TestConfig):
        SQLALCHEMY_DATABASE_URI = url or f"sqlite:///{instance / 'test.db'}"

    app = create_app(SuiteConfig, instance_path=str(instance))
    with app.app_context():
        upgrade()
    return app


@pytest.fixture(autouse=True)
def _empty_tables(request):
    """Every test starts with no rows (the schema stays)."""
    yield
    if "app" not in request.fixturenames:
        return
    app = request.getfixturevalue("app")
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as connection:
            purge_for_tests(connection)
            for table in reversed(db.metadata.sorted_tables):
                if table.name not in TRACE_TABLES:
                    connection.execute(table.delete())


@pytest.fixture
def app_ctx(app):
    with app.test_request_context():
        yield app
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


class Accounts:
    """Makes people and signs them in, the way the login page does."""

    def __init__(self, app):
        self.app = app

    def organisation(self, name: str = "Acme Ltd", timezone: str | None = None) -> int:
        with self.app.app_context():
            org = Organisation(name=name, timezone=timezone)
            db.session.add(org)
            db.session.commit()
            return org.id

    def user(
        self,
        email: str,
        role: Role = Role.CLIENT,
        organisation_id: int | None = None,
        *,
        name: str | None = None,
        timezone: str | None = None,
        locale: str | None = None,
    ) -> int:
        with self.app.app_context():
            user = User(
                email=email,
                name=name or email.split("@")[0].title(),
                role=role.value,
                organisation_id=organisation_id,
                password_hash=hash_password(PASSWORD),
                timezone=timezone,
                locale=locale,
            )
            db.session.add(user)
            db.session.commit()
            return user.id

    def login(self, client, email: str, password: str = PASSWORD):
        token = csrf_token(client, "/login")
        return client.post(
            "/login", data={"email": email, "password": password, "csrf_token": token}
        )


@pytest.fixture
def accounts(app):
    return Accounts(app)


def csrf_token(client, path: str) -> str:
    """The CSRF token from a page, as a browser would have it."""
    page = client.get(path)
    found = CSRF_PATTERN.search(page.get_data(as_text=True))
    assert found, f"no CSRF token on {path} (status {page.status_code})"
    return found.group(1)


@pytest.fixture
def change_request_form(app):
    """The shipped change-request form, published."""
    from portal.forms.definition import parse_definition_text
    from portal.forms.service import publish

    with app.app_context():
        version, _ = publish(parse_definition_text(SHIPPED_FORM.read_text(), str(SHIPPED_FORM)))
        db.session.commit()
        return version.id


@pytest.fixture
def client_user(accounts):
    """A signed-in client of Acme Ltd, with a browser of their own."""
    org = accounts.organisation("Acme Ltd", timezone="Europe/London")
    accounts.user("dana@acme.test", Role.CLIENT, org)
    return org
