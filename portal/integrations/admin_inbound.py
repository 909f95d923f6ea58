"""The Inbound calls page: every call Jira, Trello (or another connector) made to the
portal's webhooks, newest first, filtered by connector and outcome: when it came (in the
viewer's zone), the form setting it was matched to, the vendor's delivery id, whether the
signature held, what came of it and why. One page per call adds the body's SHA-256 (the
body itself is not kept). "Show more" brings older calls in place (htmx), or as a page."""

from __future__ import annotations

from flask import current_app, render_template, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.accounts.roles import admin_required
from portal.admin.common import newest_first, page, row_or_404
from portal.extensions import db
from portal.integrations import bp
from portal.integrations.inbound_jobs import DEFAULT_DAYS
from portal.integrations.models import ConnectorSetting, InboundReceipt

PAGE_SIZE = 200
OUTCOME_LABELS = {
    "rejected": _l("Signature refused"),
    "unknown_setting": _l("No matching setting"),
    "duplicate": _l("Already received"),
    "processing": _l("Processing"),
    "processed": _l("Processed"),
    "ignored": _l("Ignored"),
    "failed": _l("Failed"),
}
OUTCOME_HELP = {
    "rejected": _l(
        "The signature was missing or did not match the setting's webhook secret (or that "
        "secret is not set): the call was refused and changed nothing."
    ),
    "unknown_setting": _l(
        "The address names no switched-on setting of this connector: the call was refused "
        "and changed nothing."
    ),
    "duplicate": _l(
        "The same call (the same delivery id or the same body) came before: it was not "
        "processed again."
    ),
    "processing": _l(
        "The portal began processing the call and has not finished. If it stays so, the "
        "portal stopped while processing it."
    ),
    "processed": _l("The call was processed: the detail says what changed."),
    "ignored": _l(
        "The call was signed but asked for nothing the portal acts on, such as an issue "
        "that is not done yet."
    ),
    "failed": _l(
        "Processing stopped on the error shown in the detail. The tool was asked to try "
        "again later; its retry will be processed."
    ),
}
SIGNATURE_LABELS = {"valid": _l("Valid"), "refused": _l("Refused"), "unchecked": _l("Not checked")}


def _labels(texts: dict) -> dict[str, str]:
    """Lazy texts translated once for the page, not once per row."""
    return {key: str(text) for key, text in texts.items()}


def signature_state(receipt: InboundReceipt) -> str:
    """``valid``, ``refused``, or ``unchecked`` (no setting matched: there was no secret)."""
    if receipt.verified:
        return "valid"
    return "unchecked" if receipt.outcome == "unknown_setting" else "refused"


def receipts_query(connector: str | None, outcome: str | None):  # noqa: ANN201
    """Receipts newest first, with the form of the setting each was matched to."""
    query = (
        select(InboundReceipt, ConnectorSetting.form_name)
        .outerjoin(ConnectorSetting, ConnectorSetting.id == InboundReceipt.setting_id)
        .order_by(InboundReceipt.id.desc())
    )
    if connector:
        query = query.where(InboundReceipt.connector == connector)
    if outcome in OUTCOME_LABELS:
        query = query.where(InboundReceipt.outcome == outcome)
    return query


def _connector_labels() -> dict[str, str]:
    """Each installed connector's label by name (a connector switched off since shows by
    its name, and its settings page cannot be opened)."""
    connectors = current_app.extensions["portal.registries"].connectors
    return {c.name: c.label for c in connectors.values()}


@bp.get("/inbound")
@admin_required
def inbound():
    connector = request.args.get("connector") or None
    outcome = request.args.get("outcome") or None
    outcome = outcome if outcome in OUTCOME_LABELS else None
    shown = newest_first(receipts_query(connector, outcome), InboundReceipt.id, PAGE_SIZE)
    names: set[str] = set()
    if not shown.rows_only:  # the filter offers the connectors that called, and the one asked for
        names = set(db.session.scalars(select(InboundReceipt.connector).distinct()))
        names |= {connector} if connector else set()
    return page(
        "integrations/inbound.html",
        "integrations/_receipt_rows.html" if shown.rows_only else None,
        **shown.context(),
        connector=connector,
        outcome=outcome,
        connector_names=sorted(names),
        connector_labels=_connector_labels(),
        outcome_labels=_labels(OUTCOME_LABELS),
        signature_labels=_labels(SIGNATURE_LABELS),
        signature_state=signature_state,
        days=int(current_app.config.get("INBOUND_RECEIPT_DAYS", DEFAULT_DAYS)),
    )


@bp.get("/inbound/<int:receipt_id>")
@admin_required
def inbound_receipt(receipt_id: int):
    """One call: every field the portal kept about it."""
    receipt = row_or_404(InboundReceipt, receipt_id)
    setting = db.session.get(ConnectorSetting, receipt.setting_id) if receipt.setting_id else None
    return render_template(
        "integrations/inbound_receipt.html",
        receipt=receipt,
        setting=setting,
        connector_labels=_connector_labels(),
        outcome_labels=_labels(OUTCOME_LABELS),
        outcome_help=_labels(OUTCOME_HELP),
        signature_labels=_labels(SIGNATURE_LABELS),
        signature_state=signature_state,
    )
