"""The four shipped connectors load from plugins/, each complete and documented."""

from __future__ import annotations

from pathlib import Path

from portal.integrations.connector import EVENT_NAMES

DOCS = Path(__file__).resolve().parents[2] / "docs" / "connectors.md"


def test_the_shipped_connectors_are_registered_whole(app):
    connectors = app.extensions["portal.registries"].connectors
    assert {"jira", "trello", "zoho_crm", "webhook"} <= set(connectors)
    assert not app.extensions["portal.plugin_load_failures"]
    docs = DOCS.read_text()
    for name in ("jira", "trello", "zoho_crm", "webhook"):
        connector = connectors[name]
        assert set(connector.default_events) <= set(EVENT_NAMES), name
        fields = {field.name: field for field in connector.settings_fields}
        assert len(fields) == len(connector.settings_fields), f"{name}: a setting named twice"
        for field in fields.values():
            if field.kind == "secret" and field.default:
                assert field.default.startswith("env:"), (name, field.name)
        assert f"`{name}`" in docs, f"docs/connectors.md says nothing of {name}"


def test_inbound_webhooks_answer_only_at_their_paths(app):
    rules = {rule.endpoint: rule for rule in app.url_map.iter_rules()}
    assert rules["jira_hooks.jira_webhook"].rule == "/hooks/jira/<int:setting_id>"
    assert rules["trello_hooks.trello_webhook"].methods >= {"HEAD", "POST"}


def test_old_inbound_receipts_are_dropped(app):
    from datetime import timedelta

    from sqlalchemy import select

    from portal.database import utcnow
    from portal.extensions import db
    from portal.integrations.inbound_jobs import prune_inbound_receipts
    from portal.integrations.models import InboundReceipt

    assert "prune_inbound_receipts" in app.extensions["portal.registries"].jobs
    with app.app_context():
        for age in (1, 89, 91, 400):
            db.session.add(InboundReceipt(connector="jira", body_hash="0" * 64, outcome="rejected",
                                          received_at=utcnow() - timedelta(days=age)))  # fmt: skip
        db.session.commit()
        assert prune_inbound_receipts() == 2
        kept = db.session.scalars(select(InboundReceipt.received_at)).all()
        assert all(utcnow() - at < timedelta(days=90) for at in kept) and len(kept) == 2
