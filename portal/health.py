"""``GET /healthz``: is the portal up, and does its database answer."""

from __future__ import annotations

from flask import Blueprint, Flask, jsonify
from sqlalchemy import text

from portal.extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
        database = {"ok": True}
    except Exception as error:  # the answer must come even when the database does not
        db.session.rollback()
        database = {"ok": False, "error": error.__class__.__name__}
    return jsonify(status="ok" if database["ok"] else "degraded", database=database)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
