"""A connector plug-in for tests: it POSTs each event as JSON to a URL an admin set, with a
bearer token read from the environment, over the portal's guarded HTTP client."""

from __future__ import annotations

from portal import hookimpl
from portal.integrations.connector import EVENT_NAMES, SettingField, raise_for_vendor


class EchoConnector:
    name = "echo"
    label = "Echo"
    settings_fields = (
        SettingField("url", "Endpoint URL", "url", required=True),
        SettingField("token", "API token", "secret", required=True),
        SettingField("project", "Project", "text", help="Where the record goes"),
    )
    default_events = EVENT_NAMES

    def check_settings(self, settings):  # noqa: ANN001, ANN201
        problems = {}
        if not str(settings.get("url", "")).startswith(("http://", "https://")):
            problems["url"] = "Give an http:// or https:// address."
        if settings.get("project") == "NOPE":
            problems["project"] = "There is no project NOPE."
        return problems

    def deliver(self, delivery):  # noqa: ANN001, ANN201
        event = delivery.event
        answer = delivery.http.post(
            delivery.settings["url"],
            json={"event": event.name, "event_id": event.id, "payload": dict(event.payload)},
            headers={
                "Authorization": f"Bearer {delivery.settings['token']}",
                "Idempotency-Key": f"portal-{event.id}",
            },
        )
        raise_for_vendor(answer, "Echo")
        if event.name == "request.submitted":
            delivery.links.remember("record", f"ECHO-{event.request_id}", "https://echo.test/r")
        return f"posted {event.name} (attempt {delivery.attempt})"


class EchoPlugin:
    @hookimpl
    def register_connectors(self, register):  # noqa: ANN001
        register(EchoConnector())
