"""Trello tells the portal about a card: ``HEAD`` and ``POST /hooks/trello/<setting_id>``.

Trello checks the address with a HEAD request when the webhook is made (answered 200). Each
POST carries ``X-Trello-Webhook``: base64 of HMAC-SHA1, keyed with the application's API
secret, over the raw body followed by the callback URL exactly as registered. An unsigned
or altered call is refused with 401 and recorded; a replay (the same action id) is
processed once. A card moved into the setting's *done* list marks the step done.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, current_app, request

from plugins.trello.connector import LINK_KIND
from portal.extensions import csrf
from portal.integrations.inbound import receive, same_signature
from portal.integrations.models import ConnectorSetting
from portal.integrations.steps import complete_linked_step
from portal.integrations.values import secret

bp = Blueprint("trello_hooks", __name__)
csrf.exempt(bp)  # Trello cannot send a CSRF token: the signature stands in for it


def signature(api_secret: str, body: bytes, callback_url: str) -> str:
    """What Trello sends in ``X-Trello-Webhook``."""
    digest = hmac.new(api_secret.encode(), body + callback_url.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def callback_url(setting: ConnectorSetting) -> str:
    """The address Trello signs: the setting's, else the portal's own for this setting."""
    given = str(setting.settings.get("callback_url") or "")
    if given:
        return given
    base = str(current_app.config.get("BASE_URL") or "").rstrip("/")
    return f"{base}/hooks/trello/{setting.id}"


def _verify(setting: ConnectorSetting, body: bytes, headers: Mapping[str, str]) -> bool:
    if not setting.settings.get("api_secret"):
        return False
    expected = signature(secret(setting.settings, "api_secret"), body, callback_url(setting))
    return same_signature(expected, headers.get("X-Trello-Webhook"))


def _process(setting: ConnectorSetting, payload: Any) -> tuple[str, str]:
    action = payload.get("action") if isinstance(payload, dict) else None
    if not isinstance(action, dict):
        return "ignored", "not a Trello action"
    data = action.get("data") or {}
    card_id = str((data.get("card") or {}).get("id") or "")
    list_after = str((data.get("listAfter") or {}).get("id") or "")
    done_list = str(setting.settings.get("done_list") or "")
    if action.get("type") != "updateCard" or not list_after or list_after != done_list:
        return "ignored", f"{action.get('type')}: not a move into the done list"
    who = (action.get("memberCreator") or {}).get("fullName") or ""
    return complete_linked_step(
        setting, "trello", LINK_KIND, card_id, tool="Trello", remote_actor=str(who)
    )


def _action_id(body: bytes) -> str | None:
    """Trello's action id names the call (read before the signature is checked: it only
    chooses the receipt's key, nothing is done with it)."""
    try:
        found = json.loads(body).get("action", {}).get("id")
    except (ValueError, AttributeError):
        return None
    return str(found) if found else None


@bp.route("/hooks/trello/<int:setting_id>", methods=["HEAD", "POST"])
def trello_webhook(setting_id: int):  # noqa: ANN201
    """Trello's address check (HEAD) or one call from Trello (POST)."""
    if request.method == "HEAD":
        return "", 200
    return receive(
        "trello",
        setting_id,
        request,
        verify=_verify,
        process=_process,
        delivery_id=_action_id(request.get_data(cache=True)),
    )
