"""The Jira connector: one issue per request, made when the change is approved.

Cloud speaks REST v3 (``POST /rest/api/3/issue``, the description in Atlassian Document
Format, basic auth with the account's e-mail and an API token; search by
``GET /rest/api/3/search/jql``). Data Center speaks REST v2 (``/rest/api/2/issue``, wiki
markup, a personal access token as a bearer token; search by ``GET /rest/api/2/search``).

A delivery may run twice (the answer to a create was lost). So before creating, the
connector looks at what it remembered for the request, then searches Jira for the request's
marker label (``portal-CR-2026-00042``); only when neither knows the issue does it create
one, and it remembers the key at once.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l

from plugins.jira.adf import adf_document, wiki_markup
from portal.integrations.connector import Delivery, PermanentFailure, SettingField
from portal.integrations.http import send
from portal.integrations.values import (
    decision_of,
    host_of,
    mapping,
    mapping_problems,
    marker_for,
    names,
    secret,
    secret_problem,
    url_problem,
)

LINK_KIND = "issue"
DEFAULT_PRIORITIES = "high = High\nmedium = Medium\nlow = Low"


class JiraConnector:
    name = "jira"
    label = _l("Jira")
    default_events = ("step.decided",)
    settings_fields = (
        SettingField("base_url", _l("Jira address"), "url", True,
                     _l("https://your-site.atlassian.net, or your Data Center's address")),
        SettingField("deployment", _l("Jira kind"), "choice", True,
                     choices=(("cloud", _l("Jira Cloud")), ("datacenter", _l("Jira Data Center"))),
                     default="cloud"),
        SettingField("email", _l("Account e-mail (Cloud)"), "text",
                     help=_l("The Atlassian account the API token belongs to.")),
        SettingField("api_token", _l("API token (Cloud) or personal access token (Data Center)"),
                     "secret", True, _l("env:JIRA_API_TOKEN")),
        SettingField("project_key", _l("Project key"), "text", True, _l("For example OPS.")),
        SettingField("issue_type", _l("Issue type"), "text", True, default="Task"),
        SettingField("trigger_steps", _l("Create the issue when these steps are approved"),
                     "text", help=_l("Step names, separated by commas."),
                     default="review, ccb_review"),
        SettingField("trigger_decisions", _l("Decisions that create the issue"), "text",
                     default="approved"),
        SettingField("priority_mapping", _l("Priority: portal = Jira"), "mapping",
                     default=DEFAULT_PRIORITIES),
        SettingField("labels", _l("Other labels"), "text",
                     help=_l("Separated by commas; the request's marker label is always added.")),
        SettingField("webhook_secret", _l("Webhook secret"), "secret",
                     help=_l("The secret of the Jira webhook that reports issues as done.")),
        SettingField("done_step", _l("Step marked done when the issue is done"), "text",
                     default="implementation"),
        SettingField("act_as", _l("Portal person Jira acts for (e-mail)"), "text",
                     help=_l("Empty: the first person the step is assigned to.")),
    )  # fmt: skip

    # -- settings --------------------------------------------------------------------------

    def check_settings(self, settings: Mapping[str, Any]) -> dict[str, str]:
        from flask_babel import gettext as _

        problems: dict[str, str] = {}
        if problem := url_problem(settings.get("base_url")):
            problems["base_url"] = problem
        deployment = settings.get("deployment") or "cloud"
        if deployment not in ("cloud", "datacenter"):
            problems["deployment"] = _("choose Jira Cloud or Jira Data Center")
        if deployment == "cloud" and "@" not in str(settings.get("email") or ""):
            problems["email"] = _("Jira Cloud needs the e-mail of the account the token is for")
        if problem := secret_problem(settings.get("api_token")):
            problems["api_token"] = problem
        if problem := secret_problem(settings.get("webhook_secret"), required=False):
            problems["webhook_secret"] = problem
        key = str(settings.get("project_key") or "")
        if not key or not key.replace("_", "").isalnum() or not key[0].isalpha():
            problems["project_key"] = _("give the project key, such as OPS")
        if not str(settings.get("issue_type") or "").strip():
            problems["issue_type"] = _("give an issue type, such as Task")
        if problem := mapping_problems(settings.get("priority_mapping")):
            problems["priority_mapping"] = problem
        return problems

    def allowed_hosts(self, settings: Mapping[str, Any]) -> list[str]:
        """The only host a delivery may call."""
        return [host_of(str(settings.get("base_url") or ""))]

    # -- delivery --------------------------------------------------------------------------

    def deliver(self, delivery: Delivery) -> str | None:
        settings, event = delivery.settings, delivery.event
        if not self._triggers(settings, event.name, event.payload):
            return f"nothing to do for {event.name} {event.payload.get('step', '')}".strip()
        found = delivery.links.get(LINK_KIND)
        if found:
            return f"issue {found.key} already made"
        api = _Api(delivery)
        number = str(event.payload.get("number") or event.request_id)
        key = api.find(marker_for(number))
        if key:
            delivery.links.remember(LINK_KIND, key, api.browse(key))
            return f"found {key}"
        key = api.create(self._fields(settings, event.payload, delivery.request_url))
        delivery.links.remember(LINK_KIND, key, api.browse(key))
        return f"created {key}"

    @staticmethod
    def _triggers(settings: Mapping[str, Any], name: str, payload: Mapping[str, Any]) -> bool:
        """A ``step.decided`` event creates the issue only for the chosen steps and
        decisions, once the step itself is decided (``step_status``); any other event the
        admin chose creates it outright."""
        if name != "step.decided":
            return True
        steps = names(settings.get("trigger_steps", "review, ccb_review"))
        decisions = names(settings.get("trigger_decisions", "approved"))
        if payload.get("step") not in steps or decision_of(payload) not in decisions:
            return False
        # One vote of several leaves the step open: wait for the vote that decides it.
        return payload.get("step_status") not in ("active", "blocked")

    def _fields(self, settings, payload, request_url) -> dict[str, Any]:  # noqa: ANN001
        number = str(payload.get("number") or "")
        title = str(payload.get("title") or number)
        answers = payload.get("answers") or {}
        url = str(payload.get("url") or request_url or "")
        paragraphs = [
            str(answers.get("description") or ""),
            f"Impact: {payload.get('impact') or '-'}; priority: {payload.get('priority') or '-'}",
        ]
        link_text = f"{number} in the change portal"
        cloud = (settings.get("deployment") or "cloud") == "cloud"
        labels = [marker_for(number)] + [
            label.replace(" ", "-") for label in names(settings.get("labels"))
        ]
        fields: dict[str, Any] = {
            "project": {"key": settings["project_key"]},
            "issuetype": {"name": settings.get("issue_type") or "Task"},
            "summary": f"{number}: {title}"[:255],
            "description": adf_document(paragraphs, link_text, url)
            if cloud
            else wiki_markup(paragraphs, link_text, url),
            "labels": labels,
        }
        priorities = mapping(settings.get("priority_mapping", DEFAULT_PRIORITIES))
        priority = priorities.get(str(payload.get("priority") or ""))
        if priority:
            fields["priority"] = {"name": priority}
        return fields


class _Api:
    """Jira's REST API for one delivery: the right version, auth and paths."""

    def __init__(self, delivery: Delivery) -> None:
        settings = delivery.settings
        self.http = delivery.http
        self.base = str(settings["base_url"]).rstrip("/")
        self.cloud = (settings.get("deployment") or "cloud") == "cloud"
        token = secret(settings, "api_token")
        if self.cloud:
            email = str(settings.get("email") or "")
            if not email:
                raise PermanentFailure("Jira Cloud needs the account's e-mail")
            basic = base64.b64encode(f"{email}:{token}".encode()).decode()
            self.headers = {"Authorization": f"Basic {basic}"}
        else:
            self.headers = {"Authorization": f"Bearer {token}"}
        self.headers["Accept"] = "application/json"

    def find(self, label: str) -> str | None:
        """The key of the issue that carries ``label``, if Jira knows one."""
        path = "/rest/api/3/search/jql" if self.cloud else "/rest/api/2/search"
        params = {"jql": f'labels = "{label}"', "fields": "key", "maxResults": "1"}
        response = send(self.http, "GET", self.base + path, "Jira", headers=self.headers,
                        params=params)  # fmt: skip
        issues = response.json().get("issues") or []
        return str(issues[0]["key"]) if issues else None

    def create(self, fields: dict[str, Any]) -> str:
        path = "/rest/api/3/issue" if self.cloud else "/rest/api/2/issue"
        response = send(self.http, "POST", self.base + path, "Jira", headers=self.headers,
                        json={"fields": fields})  # fmt: skip
        key = response.json().get("key")
        if not key:
            raise PermanentFailure(f"Jira made no issue key: {response.text[:300]}")
        return str(key)

    def browse(self, key: str) -> str:
        return f"{self.base}/browse/{key}"


def example_settings(base_url: str, **overrides: Any) -> dict[str, Any]:
    """A complete Jira Cloud setting pointing at ``base_url`` (tests, the demo)."""
    return {
        "base_url": base_url,
        "deployment": "cloud",
        "email": "bot@example.com",
        "api_token": "env:JIRA_API_TOKEN",
        "project_key": "OPS",
        "issue_type": "Task",
        "trigger_steps": "review, ccb_review",
        "trigger_decisions": "approved",
        "priority_mapping": DEFAULT_PRIORITIES,
        "labels": "change-portal",
        "webhook_secret": "env:JIRA_WEBHOOK_SECRET",
        "done_step": "implementation",
        "act_as": "",
        **overrides,
    }


connector = JiraConnector()
