"""Plug-ins that break on import or on registration are listed and left out while the portal
keeps working; an admin switches a plug-in off; request panels show only to who may see."""

from __future__ import annotations

import textwrap

import pytest
from sqlalchemy import select

import plugins
from config import TestConfig
from portal import create_app, hookimpl
from portal.audit.models import TraceEntry
from portal.extensions import db
from tests.conftest import csrf_token
from tests.integrations.echo import EchoPlugin

PANEL_PLUGIN = """
from markupsafe import Markup
from portal import hookimpl


class _Panel:
    title = "Budget check"
    html = Markup("<p>Within budget</p>")


@hookimpl
def request_panels(change, user):
    return _Panel()
"""


@pytest.fixture
def plugin_folder(tmp_path, monkeypatch):
    """An extra folder scanned as part of ``plugins/``."""
    folder = tmp_path / "more_plugins"
    folder.mkdir()
    monkeypatch.setattr(plugins, "__path__", [*plugins.__path__, str(folder)])
    yield folder
    import sys

    for name in [n for n in sys.modules if n.startswith("plugins.zz_")]:
        del sys.modules[name]


def _app(app, *extra):
    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = app.config["SQLALCHEMY_DATABASE_URI"]

    return create_app(Config, instance_path=app.instance_path, plugins=(EchoPlugin(), *extra))


class RaisesOnRegistration:
    @hookimpl
    def register_field_types(self, register):  # noqa: ANN001
        from tests.test_hooks import TicketRefType

        register(TicketRefType())

    @hookimpl
    def register_connectors(self, register):  # noqa: ANN001
        raise RuntimeError("missing licence file")

    @hookimpl
    def request_panels(self, change, user):  # noqa: ANN001
        raise AssertionError("a plug-in that failed to register is left out entirely")


def test_a_plugin_that_fails_on_import_or_registration_is_listed_and_the_portal_works(
    app, plugin_folder, desk
):
    (plugin_folder / "zz_broken.py").write_text("raise ImportError('needs the jira package')\n")
    broken = _app(app, RaisesOnRegistration())
    failures = {f.plugin: f.error for f in broken.extensions["portal.plugin_load_failures"]}
    assert failures["plugins.zz_broken"] == "ImportError: needs the jira package"
    assert any("missing licence file" in error for error in failures.values())
    assert "echo" in broken.extensions["portal.registries"].connectors
    assert "ticket_ref" not in broken.extensions["portal.registries"].field_types

    from tests.conftest import PASSWORD

    ada = broken.test_client()
    token = csrf_token(ada, "/login")
    ada.post("/login", data={"email": "ada@portal.test", "password": PASSWORD,
                             "csrf_token": token})  # fmt: skip
    page = ada.get("/admin/plugins").get_data(as_text=True)
    assert "plugins.zz_broken" in page and "needs the jira package" in page
    assert "missing licence file" in page
    dana = broken.test_client()
    token = csrf_token(dana, "/login")
    dana.post("/login", data={"email": "dana@acme.test", "password": PASSWORD,
                              "csrf_token": token})  # fmt: skip
    token = csrf_token(dana, "/forms/change-request/new")
    from tests.integrations.conftest import ANSWERS

    answer = dana.post("/forms/change-request/submit", data={**ANSWERS, "csrf_token": token})
    assert answer.status_code == 302
    assert dana.get(answer.location).status_code == 200


def test_an_admin_switches_a_plugin_off_and_after_a_restart_its_hooks_are_not_called(
    app, plugin_folder, desk
):
    (plugin_folder / "zz_budget.py").write_text(textwrap.dedent(PANEL_PLUGIN))
    first = _app(app)
    number = desk.submit()
    from tests.conftest import PASSWORD

    def signed_in(portal, email):
        browser = portal.test_client()
        token = csrf_token(browser, "/login")
        browser.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
        return browser

    ada = signed_in(first, "ada@portal.test")
    assert "Within budget" in ada.get(f"/requests/{number}").get_data(as_text=True)
    token = csrf_token(ada, "/admin/plugins")
    assert "plugins.zz_budget" in ada.get("/admin/plugins").get_data(as_text=True)
    answer = ada.post("/admin/plugins", data={"csrf_token": token, "plugin": "plugins.zz_budget",
                                              "enabled": "0"})  # fmt: skip
    assert answer.status_code == 303
    assert "switched off from the next restart" in ada.get("/admin/plugins").get_data(True)
    built_in = {"csrf_token": token, "enabled": "0", "plugin": "portal.default_plugins.email"}
    refused = ada.post("/admin/plugins", data=built_in)
    assert refused.status_code == 303
    assert "Built-in plug-ins cannot be switched off." in ada.get("/admin/plugins").get_data(True)
    with first.app_context():
        entry = db.session.scalar(select(TraceEntry).where(TraceEntry.event == "plugin_disabled"))
        assert entry.data == {"plugin": "plugins.zz_budget"}

    restarted = _app(app)
    assert restarted.extensions["portal.plugins"].get_plugin("plugins.zz_budget") is None
    ada = signed_in(restarted, "ada@portal.test")
    assert "Within budget" not in ada.get(f"/requests/{number}").get_data(as_text=True)
    page = ada.get("/admin/plugins").get_data(as_text=True)
    assert "plugins.zz_budget" in page and "Switch on" in page


def test_the_records_in_other_tools_show_to_staff_and_not_to_clients(desk, httpserver, echo_app):
    from portal.integrations.worker import deliver_due

    httpserver.expect_request("/hook").respond_with_json({})
    desk.configure(httpserver.url_for("/hook"))
    number = desk.submit()
    with echo_app.app_context():
        deliver_due()
    staff_page = desk.browsers["bo"].get(f"/requests/{number}").get_data(as_text=True)
    assert "In other tools" in staff_page
    assert 'href="https://echo.test/r"' in staff_page and "Echo: ECHO-" in staff_page
    client_page = desk.browsers["dana"].get(f"/requests/{number}").get_data(as_text=True)
    assert "In other tools" not in client_page and "ECHO-" not in client_page


class BrokenPanel:
    @hookimpl
    def request_panels(self, change, user):  # noqa: ANN001
        raise RuntimeError("panel bug")


class EscapingPanel:
    @hookimpl
    def request_panels(self, change, user):  # noqa: ANN001
        return type("P", (), {"title": "<b>Notes</b>", "html": "<script>x()</script>"})()


def test_a_broken_panel_leaves_the_page_working_and_plain_text_is_escaped(desk):
    number = desk.submit()
    pm = desk.app.extensions["portal.plugins"]
    pm.register(BrokenPanel(), name="broken-panel")
    pm.register(EscapingPanel(), name="escaping-panel")
    try:
        answer = desk.browsers["dana"].get(f"/requests/{number}")
    finally:
        pm.unregister(name="broken-panel")
        pm.unregister(name="escaping-panel")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "&lt;script&gt;x()&lt;/script&gt;" in page and "<script>x()" not in page
    assert "&lt;b&gt;Notes&lt;/b&gt;" in page


def test_a_plugin_added_by_the_application_can_be_switched_off_too(app, desk):
    from portal.integrations.plugin_states import set_enabled

    with desk.app.app_context():
        set_enabled("tests.integrations.echo.EchoPlugin", False, None)
        db.session.commit()
    restarted = _app(app)
    assert "echo" not in restarted.extensions["portal.registries"].connectors
