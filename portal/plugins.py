"""Builds the plug-in manager for one app: the hook specs, the built-in plug-ins, the
plug-ins shipped in the ``plugins/`` folder and those installed through the
``portal.plugins`` entry-point group.

A plug-in that fails to import or to register is logged, listed in ``load_failures`` and
left out; the portal starts without it.

Each app gets its own manager (no module-level registry), so tests stay isolated. The
registries plug-ins fill are collected once here, at start-up, where a duplicate name
fails loudly.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pluggy

from portal import hookspecs
from portal.approvals.people import ApproverRule
from portal.forms.field_types import FieldType
from portal.scheduler import Job

if TYPE_CHECKING:
    from portal.integrations.connector import Connector
    from portal.notifications.service import NotificationChannel

log = logging.getLogger(__name__)

DEFAULT_PLUGINS = (
    "portal.default_plugins.field_types",
    "portal.default_plugins.email",
    "portal.default_plugins.jobs",
    "portal.default_plugins.approver_rules",
    "portal.default_plugins.external_links",
    "portal.default_plugins.outbox",
    "portal.integrations.inbound_jobs",
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
    connectors: dict[str, Connector] = field(default_factory=dict)
    #: Who registered what: hook name -> registered name -> plug-in (for the admin page).
    sources: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadFailure:
    """A plug-in left out at start-up, and why."""

    plugin: str
    error: str


def folder_plugin_names() -> list[str]:
    """The modules and packages in the ``plugins/`` folder, as importable names."""
    import plugins

    return sorted(
        f"plugins.{info.name}"
        for info in pkgutil.iter_modules(plugins.__path__)
        if not info.name.startswith("_")
    )


def make_plugin_manager(
    extra_plugins: tuple[object, ...] = (),
    failures: list[LoadFailure] | None = None,
    disabled: frozenset[str] | set[str] = frozenset(),
) -> pluggy.PluginManager:
    """A fresh manager with the specs, the built-ins, the ``plugins/`` folder, installed
    plug-ins and ``extra_plugins``; what fails to load is appended to ``failures``.

    ``disabled`` names plug-ins an admin switched off: they are blocked, never imported, so
    none of their hooks is called. Built-in plug-ins cannot be switched off."""
    failures = failures if failures is not None else []
    pm = pluggy.PluginManager("portal")
    pm.add_hookspecs(hookspecs)
    for name in disabled:
        if name not in DEFAULT_PLUGINS:
            pm.set_blocked(name)
    for name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(name), name=name)
    for name in folder_plugin_names():
        if pm.is_blocked(name):
            continue
        try:
            pm.register(importlib.import_module(name), name=name)
        except Exception as error:  # a broken plug-in must not take the portal down
            log.exception("the plug-in %s failed to load and is left out", name)
            failures.append(LoadFailure(name, f"{type(error).__name__}: {error}"))
    _load_entry_points(pm, failures)
    for plugin in extra_plugins:
        if _plugin_label(pm, plugin) in disabled:
            continue
        pm.register(plugin)
    return pm


def _load_entry_points(pm: pluggy.PluginManager, failures: list[LoadFailure]) -> None:
    """Register each ``portal.plugins`` entry point on its own, so one broken package
    leaves the others working."""
    from importlib.metadata import entry_points

    for entry in entry_points(group="portal.plugins"):
        if pm.get_plugin(entry.name) is not None or pm.is_blocked(entry.name):
            continue
        try:
            plugin = entry.load()
            if pm.is_registered(plugin):
                continue
            pm.register(plugin, name=entry.name)
        except Exception as error:
            log.exception("the plug-in %s failed to load and is left out", entry.name)
            failures.append(LoadFailure(entry.name, f"{type(error).__name__}: {error}"))


def collect_registries(
    pm: pluggy.PluginManager, failures: list[LoadFailure] | None = None
) -> Registries:
    """Ask every plug-in for what it registers; refuse duplicates, naming both sources.

    A plug-in whose ``register_*`` raises is listed in ``failures`` and unregistered, with
    whatever it had registered; the portal starts without it."""
    registries = Registries()
    _collect(
        failures,
        registries.sources,
        pm,
        "register_field_types",
        "field type",
        "a FieldType with rules.name and make_field()",
        registries.field_types,
        _field_type_name,
    )
    _collect(
        failures,
        registries.sources,
        pm,
        "register_notification_channels",
        "notification channel",
        "a notification channel with a name and a send(message) method",
        registries.notification_channels,
        _channel_name,
    )
    _collect(
        failures,
        registries.sources,
        pm,
        "register_jobs",
        "scheduled job",
        "a portal.scheduler.Job",
        registries.jobs,
        _job_name,
    )
    _collect(
        failures,
        registries.sources,
        pm,
        "register_approver_rules",
        "approver rule",
        "a portal.approvals.people.ApproverRule",
        registries.approver_rules,
        _rule_name,
    )
    _collect(
        failures,
        registries.sources,
        pm,
        "register_connectors",
        "connector",
        "a connector with a name, settings_fields and a deliver(delivery) method",
        registries.connectors,
        _connector_name,
    )
    _drop_failed(registries, failures)
    return registries


REGISTRY_OF_HOOK = {
    "register_field_types": "field_types",
    "register_notification_channels": "notification_channels",
    "register_jobs": "jobs",
    "register_approver_rules": "approver_rules",
    "register_connectors": "connectors",
}


def _drop_failed(registries: Registries, failures: list[LoadFailure] | None) -> None:
    """A plug-in that failed in one ``register_*`` hook is left out of every registry, not
    only of the one it failed in."""
    failed = {failure.plugin for failure in failures or ()}
    for hook, owners in registries.sources.items():
        registry = getattr(registries, REGISTRY_OF_HOOK[hook])
        for name, owner in list(owners.items()):
            if owner in failed:
                registry.pop(name, None)
                owners.pop(name)


def register_blueprints(app, pm: pluggy.PluginManager) -> None:  # noqa: ANN001
    """Put every blueprint the plug-ins offer on the app."""
    pm.hook.register_blueprints(register=app.register_blueprint)


def _collect(
    failures, sources, pm, hook_name: str, kind: str, expected: str, registry: dict, name_of
) -> None:  # noqa: ANN001, E501
    """Call one ``register_*`` hook on every plug-in, filling ``registry`` by name."""
    owners: dict[str, str] = sources.setdefault(hook_name, {})
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

        if failures is None:
            impl.function(register=register)
            continue
        try:
            impl.function(register=register)
        except RegistryError:
            raise
        except Exception as error:  # a broken plug-in must not take the portal down
            log.exception("the plug-in %s failed to register and is left out", source)
            failures.append(LoadFailure(source, f"{type(error).__name__}: {error}"))
            for key in [k for k, owner in owners.items() if owner == source]:
                registry.pop(key, None)
                owners.pop(key, None)
            pm.unregister(impl.plugin)


def _field_type_name(field_type: object) -> str | None:
    if not callable(getattr(field_type, "make_field", None)):
        return None
    return getattr(getattr(field_type, "rules", None), "name", None)


def _channel_name(channel: object) -> str | None:
    name = getattr(channel, "name", None)
    if isinstance(name, str) and name.strip() and callable(getattr(channel, "send", None)):
        return name
    return None


def _connector_name(connector: object) -> str | None:
    name = getattr(connector, "name", None)
    if isinstance(name, str) and name.strip() and callable(getattr(connector, "deliver", None)):
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
