"""The bare Flask + SQLAlchemy app the portal is measured against.

It does what the portal's two busiest pages do, and nothing else: a form page and an
insert of a change-request-like row (its answers in a JSON column), and the list of the
newest 50 with a join on the organisation. No sign-in, no CSRF, no validation beyond
reading the fields, no trace, no notifications, no compression, no translations: the
cost of a request in Flask and SQLAlchemy alone, on the same database kind, under the
same gunicorn settings. It is written as a careful developer would write it bare, so the
column the list sorts on has an index.

    BASELINE_DATABASE_URL=sqlite:////tmp/b.db gunicorn 'bench.baseline_app:create_app()'
"""

from __future__ import annotations

import os
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, redirect, render_template_string, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import JSON, ForeignKey, String, event, func, insert, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class Organisation(db.Model):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)


class ChangeRequest(db.Model):
    __tablename__ = "change_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    title: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(32), default="submitted")
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    submitted_at: Mapped[datetime] = mapped_column(index=True)

    organisation: Mapped[Organisation] = relationship()


FIELDS = (
    "title",
    "description",
    "reason",
    "business_value",
    "desired_date",
    "impact_cost",
    "impact_time",
    "impact_resources",
    "impact_risk",
)

FORM_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>New change request</title></head><body><h1>New change request</h1>
<form method="post" action="/submit">
{% for name in fields %}<p><label for="{{ name }}">{{ name|replace('_', ' ')|capitalize }}</label>
<input id="{{ name }}" name="{{ name }}"></p>{% endfor %}
<p><label><input type="checkbox" name="affected_systems" value="website"> Website</label>
<label><input type="checkbox" name="affected_systems" value="erp"> ERP</label></p>
<button type="submit">Submit</button></form></body></html>"""

LIST_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Requests</title></head><body><h1>Requests</h1><ul>
{% for change, organisation in rows %}<li><a href="/requests/{{ change.number }}">
<span>{{ change.number }}</span> <span>{{ change.title }}</span> <span>{{ change.status }}</span>
<span>{{ organisation }} · <time datetime="{{ change.submitted_at.isoformat() }}">
{{ change.submitted_at.strftime('%Y-%m-%d %H:%M') }}</time></span></a></li>
{% endfor %}</ul></body></html>"""


def database_url(url: str) -> str:
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def create_app(url: str | None = None) -> Flask:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url(url or os.environ["BASELINE_DATABASE_URL"])
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":  # the portal's settings, for a fair match

            @event.listens_for(db.engine, "connect")
            def _pragmas(connection, _record):  # noqa: ANN001
                cursor = connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA busy_timeout=5000")
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.close()

    @app.get("/new")
    def new():
        return render_template_string(FORM_PAGE, fields=FIELDS)

    @app.post("/submit")
    def submit():
        answers: dict[str, Any] = {name: request.form.get(name, "") for name in FIELDS}
        answers["affected_systems"] = request.form.getlist("affected_systems")
        change = ChangeRequest(
            number=f"BL-{uuid.uuid4().hex[:16]}",
            organisation_id=request.form.get("organisation_id", 1, type=int),
            title=answers["title"][:300],
            answers=answers,
            submitted_at=datetime.now(UTC).replace(tzinfo=None),
        )
        db.session.add(change)
        db.session.commit()
        return redirect(f"/requests/{change.number}")

    @app.get("/")
    def index():
        rows = db.session.execute(
            select(ChangeRequest, Organisation.name)
            .join(Organisation, Organisation.id == ChangeRequest.organisation_id)
            .order_by(ChangeRequest.submitted_at.desc(), ChangeRequest.id.desc())
            .limit(50)
        ).all()
        return render_template_string(LIST_PAGE, rows=rows)

    return app


def seed_baseline(url: str, requests: int, organisations: int = 200, seed: int = 7) -> None:
    """The baseline's schema and ``requests`` rows like the portal's (JSON answers of the
    same shape and size), with bulk inserts."""
    from bench.seed import TITLE_OBJECTS, TITLE_VERBS

    rng = random.Random(seed)
    app = create_app(url)
    with app.app_context():
        db.create_all()
        with db.engine.begin() as conn:
            first = (conn.scalar(select(func.max(Organisation.id))) or 0) + 1
            conn.execute(
                insert(Organisation),
                [
                    {"id": first + i, "name": f"Client {i + 1:03d} Ltd"}
                    for i in range(organisations)
                ],
            )
        now = datetime.now(UTC).replace(tzinfo=None)
        for start in range(0, requests, 5000):
            rows = []
            for i in range(start, min(start + 5000, requests)):
                title = f"{rng.choice(TITLE_VERBS)} {rng.choice(TITLE_OBJECTS)}"
                answers = {
                    "title": title,
                    "description": "Describe what you see today and what you would like instead.",
                    "reason": rng.choice(["business", "legal", "security", "defect"]),
                    "business_value": rng.choice(["high", "medium", "low"]),
                    "affected_systems": rng.sample(["website", "erp", "crm", "reporting"], 2),
                    "impact_cost": "low",
                    "impact_time": "medium",
                    "impact_resources": "low",
                    "impact_risk": "low",
                }
                rows.append(
                    {
                        "number": f"BL-{i + 1:06d}",
                        "organisation_id": first + rng.randrange(organisations),
                        "title": title,
                        "status": rng.choice(["completed", "completed", "in_review", "rejected"]),
                        "answers": answers,
                        "submitted_at": now - timedelta(seconds=rng.uniform(0, 730 * 86400)),
                    }
                )
            with db.engine.begin() as conn:
                conn.execute(insert(ChangeRequest), rows)
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
        db.engine.dispose()
