"""The Plug-ins page: every loaded plug-in with what it registers, those that failed to
load and why, the ones an admin switched off, and recent ``event_committed`` failures."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal.accounts.roles import admin_required
from portal.audit.trace import record
from portal.extensions import db
from portal.integrations import bp
from portal.integrations.models import OutboxEvent
from portal.integrations.plugin_states import set_enabled, stored_states
from portal.plugins import DEFAULT_PLUGINS, _plugin_label, folder_plugin_names


@dataclass
class PluginRow:
    name: str
    origin: str
    hooks: list[str] = field(default_factory=list)
    registers: dict[str, list[str]] = field(default_factory=dict)
    enabled: bool = True
    running: bool = True

    @property
    def built_in(self) -> bool:
        return self.name in DEFAULT_PLUGINS


def _origin(name: str) -> str:
    from importlib.metadata import entry_points

    if name in DEFAULT_PLUGINS:
        return _("built in")
    if name.startswith("plugins."):
        return _("plugins/ folder")
    if name in {entry.name for entry in entry_points(group="portal.plugins")}:
        return _("installed package")
    return _("added when the portal was built")


def plugin_rows() -> list[PluginRow]:
    """The running plug-ins and the switched-off ones, with what each registered."""
    pm = current_app.extensions["portal.plugins"]
    sources = current_app.extensions["portal.registries"].sources
    states = stored_states()
    rows: dict[str, PluginRow] = {}
    for _name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        label = _plugin_label(pm, plugin)
        row = rows.setdefault(label, PluginRow(label, _origin(label)))
        row.hooks = sorted(impl.name for impl in pm.get_hookcallers(plugin) or ())
        row.enabled = states.get(label, True)
    for hook, owners in sources.items():
        for registered, owner in owners.items():
            if owner in rows:
                rows[owner].registers.setdefault(hook, []).append(registered)
    known = set(folder_plugin_names())
    for name, enabled in states.items():
        if name not in rows and (not enabled or name in known):
            rows[name] = PluginRow(name, _origin(name), enabled=enabled, running=False)
    return sorted(rows.values(), key=lambda r: (not r.built_in, r.name))


@bp.get("/plugins")
@admin_required
def plugins():
    failing_events = db.session.scalars(
        select(OutboxEvent)
        .where(OutboxEvent.hook_errors.is_not(None))
        .order_by(OutboxEvent.id.desc())
        .limit(20)
    ).all()
    return render_template(
        "integrations/plugins.html",
        rows=plugin_rows(),
        failures=current_app.extensions["portal.plugin_load_failures"],
        disabled_at_start=current_app.extensions.get("portal.plugins_disabled", frozenset()),
        failing_events=failing_events,
    )


@bp.post("/plugins")
@admin_required
def set_plugin():
    """Switch a plug-in on or off; it takes effect when the portal restarts."""
    name = (request.form.get("plugin") or "").strip()
    enabled = request.form.get("enabled") == "1"
    names = {row.name for row in plugin_rows()} | {
        f.plugin for f in current_app.extensions["portal.plugin_load_failures"]
    }
    if not name or name not in names:
        flash(_("There is no plug-in of that name."), "error")
        return redirect(url_for("integrations.plugins")), 303
    if name in DEFAULT_PLUGINS:
        flash(_("Built-in plug-ins cannot be switched off."), "error")
        return redirect(url_for("integrations.plugins")), 303
    set_enabled(name, enabled, current_user.id)
    record(
        event="plugin_enabled" if enabled else "plugin_disabled",
        actor_id=current_user.id,
        ip_address=request.remote_addr,
        data={"plugin": name},
    )
    db.session.commit()
    if enabled:
        flash(_("%(name)s is switched on from the next restart.", name=name), "info")
    else:
        flash(_("%(name)s is switched off from the next restart.", name=name), "info")
    return redirect(url_for("integrations.plugins")), 303
