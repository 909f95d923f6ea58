"""Each ``register_*`` hook, used by a plug-in the way the docs describe: a field type a form
uses, an approver rule a chain names, a scheduled job, a blueprint. (The connector, panel and
event hooks are tested in tests/integrations.)"""

from __future__ import annotations

import pytest
from flask import Blueprint
from sqlalchemy import select

from config import TestConfig
from portal import create_app, hookimpl
from portal.accounts.models import Role
from portal.approvals.models import Task
from portal.approvals.people import ApproverRule
from portal.approvals.rules import RuleSpec
from portal.default_plugins.field_types import TextType
from portal.extensions import db
from portal.forms.definition import FieldTypeRules
from portal.plugins import RegistryError
from portal.scheduler import Job, Scheduler
from tests.conftest import csrf_token

RAN = []


class TicketRefType(TextType):
    """A reference to a ticket, such as OPS-123."""

    rules = FieldTypeRules("ticket_ref", text=True)


def duty_manager(params, change):  # noqa: ANN001
    from portal.accounts.models import User

    return set(db.session.scalars(select(User.id).where(User.email == "duty@portal.test")))


hello = Blueprint("hello", __name__, url_prefix="/hello")


@hello.get("/")
def say_hello():
    return "hello from a plug-in"


class TeamPlugin:
    @hookimpl
    def register_field_types(self, register):  # noqa: ANN001
        register(TicketRefType())

    @hookimpl
    def register_approver_rules(self, register):  # noqa: ANN001
        register(ApproverRule(RuleSpec("duty_manager"), duty_manager))

    @hookimpl
    def register_jobs(self, register):  # noqa: ANN001
        register(Job("count_runs", 60, lambda: RAN.append("ran")))

    @hookimpl
    def register_blueprints(self, register):  # noqa: ANN001
        register(hello)


FORM = {
    "name": "incident",
    "number_prefix": "INC",
    "title": {"en": "Incident"},
    "fields": [
        {"name": "title", "type": "text", "label": {"en": "Title"}, "required": True},
        {
            "name": "ticket",
            "type": "ticket_ref",
            "label": {"en": "Ticket"},
            "pattern": "[A-Z]+-[0-9]+",
        },
    ],
    "chain": {
        "steps": [
            {
                "name": "triage",
                "kind": "task",
                "label": {"en": "Triage"},
                "assignees": {"duty_manager": True},
            }
        ]
    },  # fmt: skip
}


@pytest.fixture
def team_app(app):
    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = app.config["SQLALCHEMY_DATABASE_URI"]

    return create_app(Config, instance_path=app.instance_path, plugins=(TeamPlugin(),))


def test_a_plugins_field_type_and_approver_rule_work_in_a_published_form(team_app, accounts):
    from portal.forms.service import publish

    acme = accounts.organisation("Acme Ltd")
    accounts.user("dana@acme.test", Role.CLIENT, acme)
    duty = accounts.user("duty@portal.test", Role.APPROVER)
    with team_app.app_context():
        publish(FORM)
        db.session.commit()
    dana = team_app.test_client()
    accounts.login(dana, "dana@acme.test")
    token = csrf_token(dana, "/forms/incident/new")
    refused = dana.post("/forms/incident/submit",
                        data={"csrf_token": token, "title": "Down", "ticket": "ops 1"})  # fmt: skip
    assert refused.status_code == 422
    sent = dana.post("/forms/incident/submit",
                     data={"csrf_token": token, "title": "Down", "ticket": "OPS-1"})  # fmt: skip
    assert sent.status_code == 302
    with team_app.app_context():
        task = db.session.scalar(select(Task))
        assert (task.step, task.user_id) == ("triage", duty)


def test_a_plugins_job_runs_in_the_scheduler_and_its_blueprint_answers(team_app):
    scheduler = Scheduler(team_app)
    assert "count_runs" in [job.name for job in scheduler.jobs]
    RAN.clear()
    scheduler.run_due({}, now=1_000_000.0)
    assert RAN == ["ran"]
    assert team_app.test_client().get("/hello/").get_data(as_text=True) == "hello from a plug-in"


class Duplicate:
    @hookimpl
    def register_field_types(self, register):  # noqa: ANN001
        register(TicketRefType())


def test_two_plugins_registering_one_name_stop_the_start_naming_both(app):
    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = app.config["SQLALCHEMY_DATABASE_URI"]

    with pytest.raises(RegistryError, match="field type 'ticket_ref' registered twice"):
        create_app(Config, instance_path=app.instance_path, plugins=(TeamPlugin(), Duplicate()))
