"""The Connectors page: per form and connector, whether it is on, which events it hears,
and the connector's own settings. Secrets are accepted only as ``env:NAME`` references;
the connector's ``check_settings`` answers appear beside their fields."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal.accounts.roles import admin_required
from portal.audit.trace import record
from portal.database import utcnow
from portal.extensions import db
from portal.forms.models import Form
from portal.integrations import bp
from portal.integrations.connector import EVENT_NAMES
from portal.integrations.models import ConnectorSetting
from portal.integrations.settings_form import add_connector_problems, check_submission

EVENT_LABELS = {
    "request.submitted": "A request is submitted",
    "request.revised": "A request is revised after a send-back",
    "step.decided": "A step is decided (approved, rejected, sent back, done, confirmed…)",
    "request.closed": "A request is closed (completed, rejected, declined)",
}


def _connectors() -> dict:
    return current_app.extensions["portal.registries"].connectors


def _setting(form_name: str, connector: str) -> ConnectorSetting | None:
    return db.session.scalar(
        select(ConnectorSetting).where(
            ConnectorSetting.form_name == form_name, ConnectorSetting.connector == connector
        )
    )


def _event_labels() -> dict[str, str]:
    return {name: _(EVENT_LABELS[name]) for name in EVENT_NAMES}


@bp.get("/connectors")
@admin_required
def connectors():
    forms = db.session.scalars(
        select(Form).where(Form.archived.is_(False)).order_by(Form.name)
    ).all()
    settings = {(s.form_name, s.connector): s for s in db.session.scalars(select(ConnectorSetting))}
    return render_template(
        "integrations/connectors.html",
        forms=forms,
        connectors=sorted(_connectors().values(), key=lambda c: c.name),
        settings=settings,
        event_labels=_event_labels(),
    )


def _form_or_404(form_name: str) -> Form:
    form = db.session.scalar(select(Form).where(Form.name == form_name))
    if form is None:
        abort(404)
    return form


@bp.route("/connectors/<form_name>/<connector_name>", methods=["GET", "POST"])
@admin_required
def connector_setting(form_name: str, connector_name: str):
    form = _form_or_404(form_name)
    connector = _connectors().get(connector_name)
    if connector is None:
        abort(404)
    fields = list(getattr(connector, "settings_fields", ()))
    stored = _setting(form.name, connector.name)
    if request.method == "GET":
        values = dict(stored.settings) if stored else {f.name: f.default for f in fields}
        return render_template(
            "integrations/connector_setting.html",
            form=form,
            connector=connector,
            fields=fields,
            values=values,
            enabled=stored.enabled if stored else False,
            events=list(stored.events) if stored else list(connector.default_events),
            errors={},
            event_labels=_event_labels(),
        )
    checked = check_submission(fields, request.form, request.form.getlist("events"), _)
    if not checked.errors:
        try:
            problems = connector.check_settings(checked.settings) or {}
        except Exception as error:  # a plug-in's bug is shown, not a 500
            problems = {"": f"{type(error).__name__}: {error}"}
        add_connector_problems(checked, problems, {f.name for f in fields})
    if checked.errors:
        page = render_template(
            "integrations/connector_setting.html",
            form=form,
            connector=connector,
            fields=fields,
            values=checked.settings,
            enabled=checked.enabled,
            events=checked.events,
            errors=checked.errors,
            event_labels=_event_labels(),
        )
        return page, 422
    before = (
        {"enabled": stored.enabled, "events": stored.events, "settings": stored.settings}
        if stored
        else None
    )
    if stored is None:
        stored = ConnectorSetting(connector=connector.name, form_name=form.name)
        db.session.add(stored)
    stored.enabled = checked.enabled
    stored.events = checked.events
    stored.settings = checked.settings
    stored.updated_at = utcnow()
    stored.updated_by_id = current_user.id
    record(
        event="connector_settings_saved",
        actor_id=current_user.id,
        ip_address=request.remote_addr,
        before=before,
        after={
            "enabled": checked.enabled,
            "events": checked.events,
            "settings": checked.settings,
        },  # fmt: skip
        data={"form": form.name, "connector": connector.name},
    )
    db.session.commit()
    flash(_("The settings of %(connector)s for %(form)s are saved.",
            connector=connector.label, form=form.name), "info")  # fmt: skip
    return redirect(url_for("integrations.connectors")), 303
