"""The Trello connector: one card per request, moved from list to list as the request
advances.

Calls carry the key and token in Trello's documented header form
``Authorization: OAuth oauth_consumer_key="…", oauth_token="…"`` (never in the URL, where logs
would keep them). The card's description carries the request's marker (``portal-CR-…``): a
delivery that lost the answer to its create finds the card on the board by that marker
(``GET /1/boards/{id}/cards``) instead of making a second one. Trello's search is left aside
on purpose: it indexes new cards late, the board's list of cards does not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l

from portal.integrations.connector import Delivery, PermanentFailure, SettingField
from portal.integrations.http import send
from portal.integrations.values import (
    host_of,
    mapping,
    mapping_problems,
    marker_for,
    secret,
    secret_problem,
    url_problem,
)

LINK_KIND = "card"
API = "https://api.trello.com"


class TrelloConnector:
    name = "trello"
    label = _l("Trello")
    default_events = ("request.submitted", "request.revised", "step.decided", "request.closed")
    settings_fields = (
        SettingField("base_url", _l("Trello API address"), "url", True, default=API),
        SettingField("api_key", _l("API key"), "secret", True, _l("env:TRELLO_API_KEY")),
        SettingField("token", _l("Token"), "secret", True, _l("env:TRELLO_TOKEN")),
        SettingField("api_secret", _l("API secret (checks Trello's webhook calls)"), "secret",
                     help=_l("env:TRELLO_API_SECRET")),
        SettingField("board_id", _l("Board id"), "text", True),
        SettingField("list_id", _l("List for new cards (id)"), "text", True),
        SettingField("status_lists", _l("Lists by status: status = list id"), "mapping",
                     help=_l("in_progress = 64f…, completed = 64a…")),
        SettingField("done_list", _l("List that means done (id)"), "text",
                     help=_l("A card moved here marks the step below done.")),
        SettingField("done_step", _l("Step marked done"), "text", default="implementation"),
        SettingField("act_as", _l("Portal person Trello acts for (e-mail)"), "text"),
        SettingField("callback_url", _l("Webhook address as registered in Trello"), "url",
                     help=_l("Empty: the portal's address and /hooks/trello/<setting id>.")),
    )  # fmt: skip

    def check_settings(self, settings: Mapping[str, Any]) -> dict[str, str]:
        from flask_babel import gettext as _

        problems: dict[str, str] = {}
        if problem := url_problem(settings.get("base_url") or API):
            problems["base_url"] = problem
        for name in ("api_key", "token"):
            if problem := secret_problem(settings.get(name)):
                problems[name] = problem
        if problem := secret_problem(settings.get("api_secret"), required=False):
            problems["api_secret"] = problem
        for name in ("board_id", "list_id"):
            value = str(settings.get(name) or "")
            if not value.isalnum():
                problems[name] = _("give the id Trello shows for it (letters and digits)")
        if problem := mapping_problems(settings.get("status_lists")):
            problems["status_lists"] = problem
        if problem := url_problem(settings.get("callback_url"), required=False):
            problems["callback_url"] = problem
        return problems

    def allowed_hosts(self, settings: Mapping[str, Any]) -> list[str]:
        return [host_of(str(settings.get("base_url") or API))]

    def deliver(self, delivery: Delivery) -> str | None:
        settings, payload = delivery.settings, delivery.event.payload
        api = _Api(delivery)
        number = str(payload.get("number") or delivery.event.request_id)
        marker = marker_for(number)
        link = delivery.links.get(LINK_KIND)
        said = []
        if link is None:
            card = api.find(str(settings["board_id"]), marker)
            if card is None:
                card = api.create(str(settings["list_id"]), payload, marker, delivery.request_url)
                said.append(f"created card {card['id']}")
            else:
                said.append(f"found card {card['id']}")
            link = delivery.links.remember(LINK_KIND, card["id"], card.get("shortUrl"))
        target = mapping(settings.get("status_lists")).get(str(payload.get("status") or ""))
        if target:
            api.move(link.key, target)
            said.append(f"card {link.key} in list {target}")
        return "; ".join(said) or f"card {link.key} already made"


class _Api:
    def __init__(self, delivery: Delivery) -> None:
        settings = delivery.settings
        self.http = delivery.http
        self.base = str(settings.get("base_url") or API).rstrip("/")
        key, token = secret(settings, "api_key"), secret(settings, "token")
        self.headers = {
            "Authorization": f'OAuth oauth_consumer_key="{key}", oauth_token="{token}"',
            "Accept": "application/json",
        }

    def find(self, board_id: str, marker: str) -> dict[str, Any] | None:
        """The board's card whose description carries ``marker`` (open or archived)."""
        response = send(self.http, "GET", f"{self.base}/1/boards/{board_id}/cards/all",
                        "Trello", headers=self.headers,
                        params={"fields": "name,desc,idList,shortUrl"})  # fmt: skip
        for card in response.json():
            if marker in str(card.get("desc") or "").split():
                return card
        return None

    def create(self, list_id: str, payload: Mapping[str, Any], marker: str, url: str) -> dict:
        number = str(payload.get("number") or "")
        description = str((payload.get("answers") or {}).get("description") or "")
        link = str(payload.get("url") or url or "")
        desc = "\n\n".join(p for p in (description, link, marker) if p)
        params = {"idList": list_id, "name": f"{number}: {payload.get('title') or ''}"[:512],
                  "desc": desc[:16000], "pos": "bottom"}  # fmt: skip
        response = send(self.http, "POST", f"{self.base}/1/cards", "Trello",
                        headers=self.headers, params=params)  # fmt: skip
        card = response.json()
        if not card.get("id"):
            raise PermanentFailure(f"Trello made no card: {response.text[:300]}")
        return card

    def move(self, card_id: str, list_id: str) -> None:
        send(self.http, "PUT", f"{self.base}/1/cards/{card_id}", "Trello",
             headers=self.headers, params={"idList": list_id})  # fmt: skip


def example_settings(base_url: str, **overrides: Any) -> dict[str, Any]:
    """A complete Trello setting pointing at ``base_url`` (tests, the demo)."""
    return {
        "base_url": base_url,
        "api_key": "env:TRELLO_API_KEY",
        "token": "env:TRELLO_TOKEN",
        "api_secret": "env:TRELLO_API_SECRET",
        "board_id": "board1",
        "list_id": "listNew",
        "status_lists": "in_progress = listDoing\ncompleted = listDone",
        "done_list": "listDone",
        "done_step": "implementation",
        "act_as": "",
        "callback_url": "",
        **overrides,
    }


connector = TrelloConnector()
