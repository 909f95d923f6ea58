"""The example plug-in package outside portal/ (examples/portal-chat-notifier): installed
with pip, found through its entry point, and a notification reaches a local chat server."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from config import TestConfig
from portal import create_app
from portal.accounts.models import Role
from portal.extensions import db
from portal.notifications.models import NotificationDelivery
from portal.notifications.service import deliver_pending
from tests.conftest import csrf_token
from tests.integrations.conftest import ANSWERS

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "portal-chat-notifier"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(EXAMPLE),
        ],  # fmt: skip
        check=True,
    )
    sys.path.insert(0, str(target))
    importlib.invalidate_caches()
    yield target
    sys.path.remove(str(target))
    sys.modules.pop("portal_chat_notifier", None)
    importlib.invalidate_caches()


def test_pip_installed_chat_plugin_posts_a_notification_to_the_chat_room(
    installed, app, accounts, change_request_form, httpserver, monkeypatch
):
    monkeypatch.setenv("PORTAL_CHAT_WEBHOOK_URL", httpserver.url_for("/hooks/room"))
    httpserver.expect_request("/hooks/room", method="POST").respond_with_data("ok")

    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = app.config["SQLALCHEMY_DATABASE_URI"]

    portal = create_app(Config, instance_path=app.instance_path)
    assert "chat" in portal.extensions["portal.registries"].notification_channels
    assert portal.extensions["portal.plugins"].get_plugin("chat_notifier") is not None

    acme = accounts.organisation("Acme Ltd")
    accounts.user("dana@acme.test", Role.CLIENT, acme)
    accounts.user("bo@portal.test", Role.APPROVER, name="Bo")
    dana = portal.test_client()
    accounts.login(dana, "dana@acme.test")
    token = csrf_token(dana, "/forms/change-request/new")
    sent = dana.post("/forms/change-request/submit", data={**ANSWERS, "csrf_token": token})
    number = sent.location.split("/")[2]
    with portal.app_context():
        deliver_pending()
        chat = db.session.scalars(
            select(NotificationDelivery).where(NotificationDelivery.channel == "chat")
        ).all()
        assert chat and {d.status for d in chat} == {"sent"}
    texts = [json.loads(request.get_data())["text"] for request, _ in httpserver.log]
    assert any(text.startswith("**Bo**:") and number in text for text in texts)

    ada = portal.test_client()
    accounts.user("ada@portal.test", Role.ADMIN)
    accounts.login(ada, "ada@portal.test")
    page = ada.get("/admin/plugins").get_data(as_text=True)
    assert "chat_notifier" in page and "register_notification_channels" in page
