"""The Zoho CRM connector (API v7): one record per request, kept up to date, and a note on
the record for each decision.

The record is written with ``POST /crm/v7/{module}/upsert`` and ``duplicate_check_fields``
naming a unique custom field that holds the request number, so a retried delivery updates
the record instead of making a second one. A decision adds a note through the record's Notes
related list (``POST /crm/v7/{module}/{id}/Notes``); its title carries the portal's event
id, and the record's notes are read first, so a retry adds no second note.

Each data centre has its own pair of hosts (``accounts.zoho.eu`` and ``www.zohoapis.eu``…);
the setting names the accounts address and the API address follows from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l

from plugins.zoho_crm import tokens
from portal.integrations.connector import (
    Delivery,
    PermanentFailure,
    SettingField,
    raise_for_vendor,
)
from portal.integrations.http import send
from portal.integrations.values import (
    decision_of,
    host_of,
    mapping,
    mapping_problems,
    secret,
    secret_problem,
    url_problem,
)

LINK_KIND = "record"
DATA_CENTRES = {  # accounts host -> API host
    "accounts.zoho.com": "www.zohoapis.com",
    "accounts.zoho.eu": "www.zohoapis.eu",
    "accounts.zoho.in": "www.zohoapis.in",
    "accounts.zoho.com.au": "www.zohoapis.com.au",
    "accounts.zoho.jp": "www.zohoapis.jp",
    "accounts.zoho.com.cn": "www.zohoapis.com.cn",
    "accounts.zohocloud.ca": "www.zohoapis.ca",
    "accounts.zoho.sa": "www.zohoapis.sa",
    "accounts.zoho.uk": "www.zohoapis.uk",
}
DEFAULT_MAPPING = "title = Deal_Name\nstatus = Description"


def api_url_for(settings: Mapping[str, Any]) -> str:
    """The API address: the setting's own, else the one of the accounts' data centre."""
    given = str(settings.get("api_url") or "")
    if given:
        return given.rstrip("/")
    host = urlsplit(str(settings.get("accounts_url") or "")).hostname or ""
    if host not in DATA_CENTRES:
        raise PermanentFailure(f"{host or 'the accounts address'} is no Zoho data centre I know")
    return f"https://{DATA_CENTRES[host]}"


class ZohoCrmConnector:
    name = "zoho_crm"
    label = _l("Zoho CRM")
    default_events = ("request.submitted", "request.revised", "step.decided", "request.closed")
    settings_fields = (
        SettingField("accounts_url", _l("Zoho accounts address (your data centre)"), "url", True,
                     _l("https://accounts.zoho.eu for the EU, .com, .in, .com.au, .jp…"),
                     default="https://accounts.zoho.com"),
        SettingField("api_url", _l("Zoho API address"), "url",
                     help=_l("Empty: the one of your data centre (www.zohoapis.eu…).")),
        SettingField("client_id", _l("Client id"), "secret", True, _l("env:ZOHO_CLIENT_ID")),
        SettingField("client_secret", _l("Client secret"), "secret", True,
                     _l("env:ZOHO_CLIENT_SECRET")),
        SettingField("refresh_token", _l("Refresh token"), "secret", True,
                     _l("env:ZOHO_REFRESH_TOKEN")),
        SettingField("module", _l("Module"), "text", True, default="Deals"),
        SettingField("unique_field", _l("Unique field holding the request number"), "text",
                     True, _l("The API name of a unique custom field, such as Portal_Request."),
                     default="Portal_Request"),
        SettingField("field_mapping", _l("Fields: portal = Zoho"), "mapping",
                     _l("number, title, status, impact, priority, url or answers.<field>"),
                     default=DEFAULT_MAPPING),
    )  # fmt: skip

    def check_settings(self, settings: Mapping[str, Any]) -> dict[str, str]:
        from flask_babel import gettext as _

        problems: dict[str, str] = {}
        if problem := url_problem(settings.get("accounts_url")):
            problems["accounts_url"] = problem
        elif not settings.get("api_url"):
            host = urlsplit(str(settings["accounts_url"])).hostname or ""
            if host not in DATA_CENTRES:
                problems["accounts_url"] = _(
                    "give your data centre's accounts address, such as https://accounts.zoho.eu"
                )
        if problem := url_problem(settings.get("api_url"), required=False):
            problems["api_url"] = problem
        for name in ("client_id", "client_secret", "refresh_token"):
            if problem := secret_problem(settings.get(name)):
                problems[name] = problem
        if not str(settings.get("module") or "").replace("_", "").isalnum():
            problems["module"] = _("give the module's API name, such as Deals")
        if not str(settings.get("unique_field") or "").replace("_", "").isalnum():
            problems["unique_field"] = _("give the API name of a unique field")
        if problem := mapping_problems(settings.get("field_mapping")):
            problems["field_mapping"] = problem
        return problems

    def allowed_hosts(self, settings: Mapping[str, Any]) -> list[str]:
        return [host_of(str(settings.get("accounts_url") or "")), host_of(api_url_for(settings))]

    def deliver(self, delivery: Delivery) -> str | None:
        api = _Api(delivery)
        event, settings = delivery.event, delivery.settings
        payload = event.payload
        number = str(payload.get("number") or event.request_id)
        record = {str(settings["unique_field"]): number}
        for portal_field, zoho_field in mapping(
            settings.get("field_mapping", DEFAULT_MAPPING)
        ).items():
            record[zoho_field] = _value(payload, portal_field)
        record_id, action = api.upsert(record)
        delivery.links.remember(LINK_KIND, record_id)
        said = f"record {record_id} {action}"
        if event.name == "step.decided":
            marker = f"[portal event {event.id}]"
            if api.has_note(record_id, marker):
                return f"{said}; note already added"
            title = f"{number}: {payload.get('step')} {decision_of(payload)} {marker}"
            content = "\n".join(
                str(p)
                for p in (payload.get("actor"), payload.get("comment"), payload.get("url"))
                if p
            )
            api.add_note(record_id, title, content)
            said += "; note added"
        return said


def _value(payload: Mapping[str, Any], name: str) -> Any:
    if name.startswith("answers."):
        return (payload.get("answers") or {}).get(name.split(".", 1)[1])
    return payload.get(name)


class _Api:
    """Zoho CRM v7 for one delivery: the token, renewed once on INVALID_TOKEN."""

    def __init__(self, delivery: Delivery) -> None:
        settings = delivery.settings
        self.http = delivery.http
        self.module = str(settings.get("module") or "Deals")
        self.base = api_url_for(settings) + "/crm/v7"
        self.credentials = (
            str(settings["accounts_url"]),
            secret(settings, "client_id"),
            secret(settings, "client_secret"),
            secret(settings, "refresh_token"),
        )
        self.token = tokens.access_token(self.http, *self.credentials)

    def call(self, method: str, path: str, **kwargs: Any):  # noqa: ANN201
        for attempt in (1, 2):
            headers = {"Authorization": f"Zoho-oauthtoken {self.token}"}
            response = send(self.http, method, self.base + path, "Zoho CRM", check=False,
                            headers=headers, **kwargs)  # fmt: skip
            if (
                response.status_code == 401
                and attempt == 1
                and _code(response)
                in (
                    "INVALID_TOKEN",
                    "AUTHENTICATION_FAILURE",
                )
            ):
                self.token = tokens.access_token(self.http, *self.credentials, renew=True)
                continue
            raise_for_vendor(response, "Zoho CRM")
            return response
        raise AssertionError("unreachable")

    def upsert(self, record: dict[str, Any]) -> tuple[str, str]:
        unique = next(iter(record))
        body = {"data": [record], "duplicate_check_fields": [unique]}
        response = self.call("POST", f"/{self.module}/upsert", json=body)
        row = _first(response)
        if row.get("status") != "success":
            raise PermanentFailure(
                f"Zoho CRM refused the record: {row.get('code')}: {row.get('message')} "
                f"{row.get('details') or ''}".strip()
            )
        return str(row["details"]["id"]), str(row.get("action") or "written")

    def has_note(self, record_id: str, marker: str) -> bool:
        response = self.call("GET", f"/{self.module}/{record_id}/Notes",
                             params={"fields": "Note_Title", "per_page": "200"})  # fmt: skip
        if response.status_code == 204 or not response.content:
            return False
        notes = response.json().get("data") or []
        return any(marker in str(note.get("Note_Title") or "") for note in notes)

    def add_note(self, record_id: str, title: str, content: str) -> None:
        response = self.call("POST", f"/{self.module}/{record_id}/Notes",
                             json={"data": [{"Note_Title": title[:120],
                                             "Note_Content": content or title}]})  # fmt: skip
        row = _first(response)
        if row.get("status") != "success":
            raise PermanentFailure(f"Zoho CRM refused the note: {row.get('message')}")


def _first(response) -> dict[str, Any]:  # noqa: ANN001
    try:
        rows = response.json().get("data") or [{}]
    except ValueError:
        rows = [{}]
    return rows[0]


def _code(response) -> str:  # noqa: ANN001
    try:
        return str(response.json().get("code") or "")
    except ValueError:
        return ""


def example_settings(accounts_url: str, api_url: str, **overrides: Any) -> dict[str, Any]:
    """A complete Zoho CRM setting pointing at local addresses (tests, the demo)."""
    return {
        "accounts_url": accounts_url,
        "api_url": api_url,
        "client_id": "env:ZOHO_CLIENT_ID",
        "client_secret": "env:ZOHO_CLIENT_SECRET",
        "refresh_token": "env:ZOHO_REFRESH_TOKEN",
        "module": "Deals",
        "unique_field": "Portal_Request",
        "field_mapping": "title = Deal_Name\nstatus = Stage_Note\n"
        "answers.description = Description",
        **overrides,
    }


connector = ZohoCrmConnector()
