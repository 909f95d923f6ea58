"""Fixtures for the designer's tests: a signed-in admin with a browser of their own."""

from __future__ import annotations

import pytest

from portal.accounts.models import Role
from tests.conftest import csrf_token


class Designer:
    """An admin at the designer, posting the editor the way its page does."""

    def __init__(self, app, browser):
        self.app = app
        self.browser = browser

    def token(self, path: str = "/admin/forms/") -> str:
        return csrf_token(self.browser, path)

    def create(
        self,
        name: str = "site-visit",
        title: str = "Site visit",
        prefix: str = "SV",
        language: str = "en",
    ) -> int:
        page = self.browser.post(
            "/admin/forms/new",
            data={
                "csrf_token": self.token("/admin/forms/new"),
                "name": name,
                "title": title,
                "language": language,
                "number_prefix": prefix,
            },
        )
        assert page.status_code == 302, page.get_data(as_text=True)
        return int(page.location.rstrip("/").rsplit("/", 1)[1])

    def post(self, draft_id: int, data: dict, htmx: bool = True):
        """Post the editor with these values (and the keys of the fields as they are now)."""
        from portal.designer.models import FormDraft
        from portal.extensions import db

        with self.app.app_context():
            definition = db.session.get(FormDraft, draft_id).definition
        values = {"csrf_token": self.token()}
        for index, field in enumerate(definition.get("fields", [])):
            values[f"f{index}.key"] = field.get("name")
        values.update(data)
        headers = {"HX-Request": "true"} if htmx else {}
        return self.browser.post(f"/admin/forms/drafts/{draft_id}", data=values, headers=headers)

    def definition(self, draft_id: int) -> dict:
        from portal.designer.models import FormDraft
        from portal.extensions import db

        with self.app.app_context():
            return db.session.get(FormDraft, draft_id).definition


@pytest.fixture
def designer(app, accounts):
    accounts.user("ada@portal.test", Role.ADMIN, name="Ada")
    browser = app.test_client()
    accounts.login(browser, "ada@portal.test")
    return Designer(app, browser)
