"""Inbound webhooks (Jira, Trello…): every call is recorded, only a signed one acts, and a
replayed one acts once.

A connector's blueprint hands each call to ``receive`` with two functions of its own:
``verify(setting, body, headers)`` says whether the vendor's signature holds, ``process(setting,
payload)`` does the work and returns ``(outcome, detail)``. ``receive`` answers 404 for an
unknown setting, 401 for an unsigned or altered call (nothing changed), 200 for a replay
(recorded as ``duplicate``, not processed again). The receipt of a signed call claims its
``dedup_key`` (the vendor's delivery id, else the body's SHA-256) before processing, so of two
identical calls arriving together only one is processed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from flask import Request, jsonify
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.integrations.connector import DeliveryFailed
from portal.integrations.models import ConnectorSetting, InboundReceipt

log = logging.getLogger(__name__)

Verify = Callable[[ConnectorSetting, bytes, Mapping[str, str]], bool]
Process = Callable[[ConnectorSetting, Any], tuple[str, str]]


def same_signature(expected: str, given: str | None) -> bool:
    """Compare two signatures in constant time."""
    return bool(given) and hmac.compare_digest(expected.encode(), given.strip().encode())


def receive(
    connector: str,
    setting_id: int,
    request: Request,
    *,
    verify: Verify,
    process: Process,
    delivery_id: str | None = None,
):  # noqa: ANN201  (a Flask response)
    """Record, verify, deduplicate and process one inbound call."""
    body = request.get_data(cache=True)
    body_hash = hashlib.sha256(body).hexdigest()
    delivery_id = (delivery_id or "").strip()[:255] or None
    setting = db.session.get(ConnectorSetting, setting_id)
    if setting is None or setting.connector != connector or not setting.enabled:
        # Said for the admin's Inbound calls page (a wrong address in the tool), not the caller.
        if setting is None:
            why = f"setting {setting_id} does not exist"
        elif setting.connector != connector:
            why = f"setting {setting_id} belongs to {setting.connector}"
        else:
            why = f"setting {setting_id} is switched off"
        _store(connector, None, delivery_id, body_hash, False, "unknown_setting", why)
        return jsonify(error=_("No such webhook.")), 404
    try:
        verified = verify(setting, body, request.headers)
        why = None if verified else "bad or missing signature"
    except DeliveryFailed as error:  # the secret's variable is not set, say
        verified, why = False, error.message
    if not verified:
        _store(connector, setting.id, delivery_id, body_hash, False, "rejected", why)
        return jsonify(error=_("The signature is missing or does not match.")), 401

    if _seen_body(connector, setting.id, body_hash):
        _store(connector, setting.id, delivery_id, body_hash, True, "duplicate", None)
        return jsonify(status="duplicate"), 200
    key = f"{setting.id}:{'id:' + delivery_id if delivery_id else 'sha256:' + body_hash}"
    receipt = _store(connector, setting.id, delivery_id, body_hash, True, "processing", None, key)
    if receipt is None:  # someone else holds this key: the same call, replayed
        _store(connector, setting.id, delivery_id, body_hash, True, "duplicate", None)
        return jsonify(status="duplicate"), 200
    receipt_id = receipt.id
    try:
        payload = json.loads(body or b"null")
        outcome, detail = process(setting, payload)
    except ValueError as error:
        db.session.rollback()
        _finish(receipt_id, "ignored", f"not JSON: {error}"[:1000])
        return jsonify(status="ignored"), 200
    except Exception as error:
        db.session.rollback()
        log.exception("an inbound %s webhook failed", connector)
        # Let the vendor's own retry through: the key is released.
        _finish(receipt_id, "failed", f"{type(error).__name__}: {error}"[:1000], release=True)
        return jsonify(error=_("The call could not be processed; try again later.")), 503
    _finish(receipt_id, outcome, detail[:1000] if detail else None)
    return jsonify(status=outcome), 200


def _seen_body(connector: str, setting_id: int, body_hash: str) -> bool:
    """A signed call with this very body was already processed (or is being processed)."""
    return (
        db.session.scalar(
            select(InboundReceipt.id)
            .where(
                InboundReceipt.connector == connector,
                InboundReceipt.setting_id == setting_id,
                InboundReceipt.body_hash == body_hash,
                InboundReceipt.dedup_key.is_not(None),
            )
            .limit(1)
        )
        is not None
    )


def _store(connector, setting_id, delivery_id, body_hash, verified, outcome, detail, key=None):  # noqa: ANN001, ANN202
    """Commit one receipt now, whatever happens next; None when ``key`` is already taken."""
    db.session.rollback()
    receipt = InboundReceipt(
        connector=connector,
        setting_id=setting_id,
        delivery_id=delivery_id,
        body_hash=body_hash,
        verified=verified,
        outcome=outcome,
        detail=detail,
        dedup_key=key,
    )
    db.session.add(receipt)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return None
    return receipt


def _finish(receipt_id: int, outcome: str, detail: str | None, release: bool = False) -> None:
    receipt = db.session.get(InboundReceipt, receipt_id)
    receipt.outcome, receipt.detail = outcome, detail
    if release:
        receipt.dedup_key = None
    db.session.commit()
