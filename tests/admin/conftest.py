"""A signed-in admin with a browser of their own, and a helper that posts a form the way
the page offers it: with the CSRF token read from the page."""

from __future__ import annotations

import html

import pytest

from portal.accounts.models import Role
from tests.conftest import csrf_token


class AdminBrowser:
    def __init__(self, client):
        self.client = client

    def get(self, path: str, **kwargs):
        return self.client.get(path, **kwargs)

    def text(self, path: str) -> str:
        page = self.client.get(path)
        assert page.status_code == 200, (path, page.status_code)
        return html.unescape(page.get_data(as_text=True))

    def post(self, path: str, data: dict, *, page: str | None = None, **kwargs):
        token = csrf_token(self.client, page or path.rsplit("/", 1)[0] + "/")
        return self.client.post(path, data={**data, "csrf_token": token}, **kwargs)


@pytest.fixture
def admin(app, accounts):
    accounts.user("ada@portal.test", Role.ADMIN, name="Ada Admin")
    browser = app.test_client()
    accounts.login(browser, "ada@portal.test")
    return AdminBrowser(browser)
