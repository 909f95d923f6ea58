"""Jira tells the portal that an issue is done: ``POST /hooks/jira/<setting_id>``.

Register it in Jira (System → WebHooks) with a secret; Jira then signs each call's raw body
with HMAC-SHA256 and sends ``X-Hub-Signature: sha256=<hex>``, and names the call in
``X-Atlassian-Webhook-Identifier``. An unsigned or altered call is refused with 401 and
recorded; a replayed one is processed once (``portal.integrations.inbound``). When the issue's
status category is *done*, the request's implementation step is marked done.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, request

from plugins.jira.connector import LINK_KIND
from portal.extensions import csrf
from portal.integrations.inbound import receive, same_signature
from portal.integrations.models import ConnectorSetting
from portal.integrations.steps import complete_linked_step
from portal.integrations.values import secret

bp = Blueprint("jira_hooks", __name__)
csrf.exempt(bp)  # Jira cannot send a CSRF token: the signature stands in for it


def signature(secret_value: str, body: bytes) -> str:
    """What Jira sends in ``X-Hub-Signature`` for ``body``."""
    return "sha256=" + hmac.new(secret_value.encode(), body, hashlib.sha256).hexdigest()


def _verify(setting: ConnectorSetting, body: bytes, headers: Mapping[str, str]) -> bool:
    if not setting.settings.get("webhook_secret"):
        return False  # no secret configured: nothing can be trusted
    expected = signature(secret(setting.settings, "webhook_secret"), body)
    return same_signature(expected, headers.get("X-Hub-Signature"))


def _process(setting: ConnectorSetting, payload: Any) -> tuple[str, str]:
    if not isinstance(payload, dict):
        return "ignored", "not a Jira event"
    issue = payload.get("issue") or {}
    key = str(issue.get("key") or "")
    status = (issue.get("fields") or {}).get("status") or {}
    category = (status.get("statusCategory") or {}).get("key")
    if not key:
        return "ignored", f"{payload.get('webhookEvent') or 'event'} without an issue"
    if category != "done":
        return "ignored", f"{key} is {status.get('name') or category or 'not done'}"
    who = (payload.get("user") or {}).get("displayName") or ""
    return complete_linked_step(setting, "jira", LINK_KIND, key, tool="Jira", remote_actor=str(who))


@bp.post("/hooks/jira/<int:setting_id>")
def jira_webhook(setting_id: int):  # noqa: ANN201
    """One call from Jira."""
    return receive(
        "jira",
        setting_id,
        request,
        verify=_verify,
        process=_process,
        delivery_id=request.headers.get("X-Atlassian-Webhook-Identifier"),
    )
