"""Checking an admin's connector settings, without an app: each kind of setting."""

from __future__ import annotations

from portal.integrations.connector import SettingField
from portal.integrations.settings_form import SECRET_MESSAGE, check_submission

FIELDS = (
    SettingField("site", "Site", "url", required=True),
    SettingField("token", "Token", "secret"),
    SettingField("priority", "Priority", "choice", choices=(("high", "High"), ("low", "Low"))),
    SettingField("fields", "Field mapping", "mapping"),
)


def _check(**form):
    return check_submission(FIELDS, {f"setting-{k}": v for k, v in form.items()}, ["step.decided"])


def test_good_settings_pass_and_keep_only_the_env_reference():
    checked = _check(site="https://x.atlassian.net", token="env:JIRA_TOKEN", priority="high",
                     fields="title = summary\n\n description = description ")  # fmt: skip
    assert checked.errors == {}
    assert checked.settings["token"] == "env:JIRA_TOKEN"
    assert checked.settings["fields"] == "title = summary\ndescription = description"
    assert checked.events == ["step.decided"]


def test_each_problem_is_beside_its_setting_and_a_typed_secret_is_dropped():
    checked = _check(site="", token="abc123", priority="urgent", fields="title summary")
    assert checked.errors["site"] == ["This setting is required."]
    assert checked.errors["token"] == [SECRET_MESSAGE]
    assert checked.settings["token"] == ""
    assert checked.errors["priority"] == ["Choose one of the offered values."]
    assert checked.errors["fields"] == ["Line 1: write portal_field = remote_field."]


def test_unknown_events_are_refused():
    checked = check_submission(FIELDS, {"setting-site": "https://a.test"}, ["request.deleted"])
    assert checked.errors["events"] == ["Unknown events: request.deleted"]
