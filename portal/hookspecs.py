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
