"""Builds the plug-in manager for one app: the hook specs, the built-in plug-ins, and the
plug-ins installed through the ``portal.plugins`` entry-point group.

Each app gets its own manager (no module-level registry), so tests stay isolated. The
registries plug-ins fill are collected once here, at start-up, where a duplicate name
fails loudly.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pluggy

from portal import hookspecs
from portal.approvals.people import ApproverRule
from portal.forms.field_types import FieldType
from portal.scheduler import Job

if TYPE_CHECKING:
    from portal.notifications.service import NotificationChannel

log = logging.getLogger(__name__)

DEFAULT_PLUGINS = (
    "portal.default_plugins.field_types",
    "portal.default_plugins.email",
    "portal.default_plugins.jobs",
    "portal.default_plugins.approver_rules",
)


class RegistryError(RuntimeError):
    """A plug-in registered something twice or registered something malformed."""


@dataclass
class Registries:
    """What the plug-ins contributed, collected once when the app starts."""

    field_types: dict[str, FieldType] = field(default_factory=dict)
    notification_channels: dict[str, NotificationChannel] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)
    approver_rules: dict[str, ApproverRule] = field(default_factory=dict)


def make_plugin_manager(extra_plugins: tuple[object, ...] = ()) -> pluggy.PluginManager:
    """A fresh manager with the specs, the built-ins, installed plug-ins and ``extra_plugins``."""
    pm = pluggy.PluginManager("portal")
    pm.add_hookspecs(hookspecs)
    for name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(name), name=name)
    try:
        pm.load_setuptools_entrypoints("portal.plugins")
    except Exception:  # a broken third-party package must not take the portal down
        log.exception("loading plug-ins from the portal.plugins entry points failed")
    for plugin in extra_plugins:
        pm.register(plugin)
    return pm


def collect_registries(pm: pluggy.PluginManager) -> Registries:
    """Ask every plug-in for what it registers; refuse duplicates, naming both sources."""
    registries = Registries()
    _collect(
        pm,
        "register_field_types",
        "field type",
        "a FieldType with rules.name and make_field()",
        registries.field_types,
        _field_type_name,
    )
    _collect(
        pm,
        "register_notification_channels",
        "notification channel",
        "a notification channel with a name and a send(message) method",
        registries.notification_channels,
        _channel_name,
    )
    _collect(
        pm, "register_jobs", "scheduled job", "a portal.scheduler.Job", registries.jobs, _job_name
    )
    _collect(
        pm,
        "register_approver_rules",
        "approver rule",
        "a portal.approvals.people.ApproverRule",
        registries.approver_rules,
        _rule_name,
    )
    return registries


def _collect(pm, hook_name: str, kind: str, expected: str, registry: dict, name_of) -> None:  # noqa: ANN001
    """Call one ``register_*`` hook on every plug-in, filling ``registry`` by name."""
    owners: dict[str, str] = {}
    for impl in getattr(pm.hook, hook_name).get_hookimpls():
        source = _plugin_label(pm, impl.plugin)

        def register(item: object, _source: str = source) -> None:
            name = name_of(item)
            if not name:
                raise RegistryError(
                    f"{_source} registered a {kind} that is not {expected}: {item!r}"
                )
            if name in registry:
                raise RegistryError(
                    f"{kind} {name!r} registered twice: by {owners[name]} and by {_source}"
                )
            registry[name] = item
            owners[name] = _source

        impl.function(register=register)


def _field_type_name(field_type: object) -> str | None:
    if not callable(getattr(field_type, "make_field", None)):
        return None
    return getattr(getattr(field_type, "rules", None), "name", None)


def _channel_name(channel: object) -> str | None:
    name = getattr(channel, "name", None)
    if isinstance(name, str) and name.strip() and callable(getattr(channel, "send", None)):
        return name
    return None


def _rule_name(rule: object) -> str | None:
    return rule.name if isinstance(rule, ApproverRule) else None


def _job_name(job: object) -> str | None:
    return job.name if isinstance(job, Job) else None


def _plugin_label(pm: pluggy.PluginManager, plugin: object) -> str:
    """A plug-in's name as a person can find it: its module or entry point, else its class
    (pluggy names an unnamed instance by its id, which tells no one anything)."""
    name = pm.get_name(plugin)
    if name and not name.isdigit():
        return name
    kind = plugin if isinstance(plugin, type) else type(plugin)
    return f"{kind.__module__}.{kind.__qualname__}"
