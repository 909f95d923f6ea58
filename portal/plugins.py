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

import pluggy

from portal import hookspecs
from portal.forms.field_types import FieldType

log = logging.getLogger(__name__)

DEFAULT_PLUGINS = ("portal.default_plugins.field_types",)


class RegistryError(RuntimeError):
    """A plug-in registered something twice or registered something malformed."""


@dataclass
class Registries:
    """What the plug-ins contributed, collected once when the app starts."""

    field_types: dict[str, FieldType] = field(default_factory=dict)


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
    owners: dict[str, str] = {}

    for impl in pm.hook.register_field_types.get_hookimpls():
        source = pm.get_name(impl.plugin) or repr(impl.plugin)

        def register(field_type: FieldType, _source: str = source) -> None:
            name = field_type.rules.name
            if name in registries.field_types:
                raise RegistryError(
                    f"field type {name!r} registered twice: by {owners[name]} and by {_source}"
                )
            registries.field_types[name] = field_type
            owners[name] = _source

        impl.function(register=register)
    return registries
