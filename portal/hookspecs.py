"""Every hook a plug-in can implement, and nothing else.

Hooks are called with keyword arguments. A spec may gain arguments over time, never lose
them, so a plug-in written today keeps working.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from collections.abc import Callable

    from portal.forms.field_types import FieldType

hookspec = pluggy.HookspecMarker("portal")
hookimpl = pluggy.HookimplMarker("portal")


# -- Forms --------------------------------------------------------------------------------


@hookspec
def register_field_types(register: Callable[[FieldType], None]) -> None:
    """Register field types by calling ``register(field_type)`` once for each.

    A field type names itself (``field_type.rules.name``); two plug-ins registering the same
    name stop the portal at start-up with both plug-ins named.
    """


# -- Approvals ----------------------------------------------------------------------------

if TYPE_CHECKING:
    from portal.approvals.people import ApproverRule


@hookspec
def register_approver_rules(register: Callable[[ApproverRule], None]) -> None:
    """Register "who acts" rules by calling ``register(ApproverRule(spec, people))``.

    ``spec`` (``portal.approvals.rules.RuleSpec``) names the rule and checks its parameters
    when a chain is loaded; ``people(params, request)`` returns the user ids it names for a
    request. A chain then writes ``{rule_name: params}`` under ``assignees``.
    """


# -- Notifications ------------------------------------------------------------------------

if TYPE_CHECKING:
    from portal.notifications.service import NotificationChannel


@hookspec
def register_notification_channels(register: Callable[[NotificationChannel], None]) -> None:
    """Register notification channels by calling ``register(channel)`` once for each.

    A channel has a ``name`` and ``send(message: OutgoingMessage) -> None``, which raises with
    a message an admin can read when it could not send; the portal retries it later. Two
    plug-ins registering the same name stop the portal at start-up with both plug-ins named.
    """


# -- Scheduled work -----------------------------------------------------------------------

if TYPE_CHECKING:
    from portal.scheduler import Job


@hookspec
def register_jobs(register: Callable[[Job], None]) -> None:
    """Register periodic jobs by calling ``register(Job(name, every_seconds, function))``.

    ``portal run`` runs them in the web process and ``portal worker`` in its own; several
    processes may run the same job at once, so a job claims its rows in the database.
    """


# -- Connectors and the web -----------------------------------------------------------------

if TYPE_CHECKING:
    from flask import Blueprint

    from portal.accounts.models import User
    from portal.integrations.connector import Connector, Event
    from portal.requests.models import ChangeRequest


@hookspec
def register_connectors(register: Callable[[Connector], None]) -> None:
    """Register connectors to other tools by calling ``register(connector)`` once for each.

    A connector (``portal.integrations.connector.Connector``) names itself, lists the settings
    an admin gives it per form, and delivers outbox events. Two plug-ins registering the same
    name stop the portal at start-up with both plug-ins named.
    """


@hookspec
def register_blueprints(register: Callable[[Blueprint], None]) -> None:
    """Add pages or endpoints (an inbound webhook, an admin screen) by calling
    ``register(blueprint)``; the portal registers each on the app at start-up."""


@hookspec
def request_panels(change: ChangeRequest, user: User) -> object | None:
    """An extra panel for the request page, or ``None``: an object with ``title`` (text) and
    ``html`` (``markupsafe.Markup``, escaped by the plug-in). Called only for a person who may
    see the request."""


@hookspec
def event_committed(event: Event) -> None:
    """Called after the change that recorded ``event`` is committed (submitted, revised, step
    decided, request closed). A failing implementation never undoes the change: its failure is
    logged where an admin sees it."""
