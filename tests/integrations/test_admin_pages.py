"""The admin's Plug-ins, Connectors and Outbox pages, as an admin uses them; and what the
others get there (nothing)."""

from __future__ import annotations

import re

from sqlalchemy import select

from portal.audit.models import TraceEntry
from portal.extensions import db
from portal.integrations.models import ConnectorSetting, OutboxDelivery
from portal.integrations.worker import deliver_due
from tests.conftest import csrf_token


def _trace(app, event):
    with app.app_context():
        return db.session.scalars(select(TraceEntry).where(TraceEntry.event == event)).all()


def test_the_admin_home_and_nav_link_the_three_pages(desk):
    page = desk.browsers["ada"].get("/admin/").get_data(as_text=True)
    for path in ("/admin/plugins", "/admin/connectors", "/admin/outbox"):
        assert f'href="{path}"' in page


def test_clients_and_approvers_are_kept_out(desk):
    for who in ("dana", "bo"):
        for path in ("/admin/plugins", "/admin/connectors", "/admin/outbox",
                     "/admin/connectors/change-request/echo"):  # fmt: skip
            assert desk.browsers[who].get(path).status_code == 403


def test_the_plugins_page_lists_what_each_plugin_registers(desk):
    page = desk.browsers["ada"].get("/admin/plugins").get_data(as_text=True)
    assert "portal.default_plugins.field_types" in page.replace("<wbr>", "")  # breaks after dots
    assert "register_connectors" in page and "echo" in page
    assert "deliver_outbox" in page


def test_a_connectors_settings_are_saved_with_only_an_env_reference_for_the_secret(desk):
    ada = desk.browsers["ada"]
    path = "/admin/connectors/change-request/echo"
    token = csrf_token(ada, path)
    answer = ada.post(
        path,
        data={
            "csrf_token": token,
            "enabled": "1",
            "events": ["request.submitted", "request.closed"],
            "setting-url": "ftp://nowhere",
            "setting-token": "xoxb-real-secret-value",
            "setting-project": "OPS",
        },
    )
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert "env:VARIABLE_NAME" in page
    assert "xoxb-real-secret-value" not in page  # never echoed back
    assert "Give a full address starting with https://." in page
    with desk.app.app_context():
        assert db.session.scalar(select(ConnectorSetting)) is None

    answer = ada.post(
        path,
        data={
            "csrf_token": token,
            "enabled": "1",
            "events": ["request.submitted"],
            "setting-url": "https://echo.test/hook",
            "setting-token": "env:ECHO_TOKEN",
            "setting-project": "NOPE",
        },  # fmt: skip
    )
    assert answer.status_code == 422
    assert re.search(r'id="error-project"[^>]*>There is no project NOPE\.', answer.get_data(True))

    answer = ada.post(
        path,
        data={
            "csrf_token": token,
            "enabled": "1",
            "events": ["request.submitted"],
            "setting-url": "https://echo.test/hook",
            "setting-token": "env:ECHO_TOKEN",
            "setting-project": "OPS",
        },  # fmt: skip
    )
    assert answer.status_code == 303
    with desk.app.app_context():
        setting = db.session.scalar(select(ConnectorSetting))
        assert setting.enabled and setting.events == ["request.submitted"]
        assert setting.settings["token"] == "env:ECHO_TOKEN"
    assert _trace(desk.app, "connector_settings_saved")
    listing = ada.get("/admin/connectors").get_data(as_text=True)
    assert "A request is submitted" in listing


def test_a_post_without_csrf_is_refused(desk):
    answer = desk.browsers["ada"].post(
        "/admin/connectors/change-request/echo", data={"enabled": "1"}
    )
    assert answer.status_code == 400


def test_the_outbox_page_shows_errors_times_in_the_viewers_zone_and_retries_in_place(
    desk, httpserver, echo_app, accounts
):
    from portal.accounts.models import Role

    accounts.user("kenji@portal.test", Role.ADMIN, name="Kenji", timezone="Asia/Tokyo")
    kenji = echo_app.test_client()
    accounts.login(kenji, "kenji@portal.test")
    desk.configure(httpserver.url_for("/hook"))
    number = desk.submit()
    httpserver.expect_oneshot_request("/hook").respond_with_json(
        {"message": "slow down"}, status=429, headers={"Retry-After": "120"}
    )
    with echo_app.app_context():
        deliver_due()
    page = kenji.get("/admin/outbox").get_data(as_text=True)
    assert "Echo answered 429: slow down" in page
    assert f'href="/requests/{number}"' in page
    assert "Retrying" in page
    assert "JST" in page  # the next attempt, in Kenji's zone
    assert kenji.get("/admin/outbox?state=dead").get_data(as_text=True).count("<tr id=") == 0
    assert kenji.get("/admin/outbox?connector=echo").get_data(as_text=True).count("<tr id=") == 1

    with echo_app.app_context():
        delivery_id = db.session.scalar(select(OutboxDelivery.id))
    token = csrf_token(kenji, "/admin/outbox")
    answer = kenji.post(
        f"/admin/outbox/{delivery_id}/retry",
        data={"csrf_token": token},
        headers={"HX-Request": "true"},
    )
    fragment = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert fragment.startswith(f'<tr id="delivery-{delivery_id}">')
    assert "It will be sent again in a few seconds." in fragment
    assert "Pending" in fragment
    assert _trace(echo_app, "outbox_retried")
    detail = kenji.get(f"/admin/outbox/{delivery_id}").get_data(as_text=True)
    assert "slow down" in detail and number in detail


def test_a_delivered_one_cannot_be_retried(desk, httpserver, echo_app):
    desk.configure(httpserver.url_for("/hook"))
    desk.submit()
    httpserver.expect_request("/hook").respond_with_json({})
    with echo_app.app_context():
        deliver_due()
        delivery_id = db.session.scalar(select(OutboxDelivery.id))
    ada = desk.browsers["ada"]
    token = csrf_token(ada, "/admin/outbox")
    answer = ada.post(f"/admin/outbox/{delivery_id}/retry", data={"csrf_token": token})
    assert answer.status_code == 303
    assert "This delivery is not waiting for a retry." in ada.get("/admin/outbox").get_data(True)
    assert ada.post("/admin/outbox/99999/retry", data={"csrf_token": token}).status_code == 404


def test_older_deliveries_come_a_page_at_a_time(desk, httpserver, monkeypatch):
    from portal.integrations import admin_outbox

    desk.configure(httpserver.url_for("/hook"))
    numbers = [desk.submit() for _ in range(3)]
    monkeypatch.setattr(admin_outbox, "PAGE_SIZE", 2)
    ada = desk.browsers["ada"]
    with desk.app.app_context():
        ids = list(db.session.scalars(select(OutboxDelivery.id).order_by(OutboxDelivery.id)))
    page = ada.get("/admin/outbox").get_data(as_text=True)
    shown = re.findall(r'<tr id="delivery-(\d+)">', page)
    assert shown == [str(ids[2]), str(ids[1])]  # the newest two, then the way to the rest
    assert f'href="/admin/outbox?before={ids[1]}"' in page
    assert f'hx-get="/admin/outbox?before={ids[1]}&amp;fragment=rows"' in page
    assert "Show more" in page

    more = ada.get(f"/admin/outbox?before={ids[1]}&fragment=rows", headers={"HX-Request": "true"})
    assert "HX-Request" in more.headers["Vary"]
    fragment = more.get_data(as_text=True)
    assert fragment.lstrip().startswith(f'<tr id="delivery-{ids[0]}">')
    assert numbers[0] in fragment
    assert "<html" not in fragment and "Show more" not in fragment

    # without JavaScript the link is a page of its own, with the way back; filters are kept
    older = ada.get(f"/admin/outbox?before={ids[1]}&state=pending").get_data(as_text=True)
    assert re.findall(r'<tr id="delivery-(\d+)">', older) == [str(ids[0])]
    assert 'href="/admin/outbox?state=pending"' in older and "Back to the newest" in older
    first = ada.get("/admin/outbox?state=pending&connector=echo").get_data(as_text=True)
    assert f'href="/admin/outbox?before={ids[1]}&amp;state=pending&amp;connector=echo"' in first
    assert "No older deliveries." in ada.get(f"/admin/outbox?before={ids[0]}").get_data(True)
