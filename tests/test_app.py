"""The app as a whole: health check, security headers on every kind of response, the
schema built by migrations matching the models, the secret key, and page weight."""

from __future__ import annotations

import gzip
import re
import stat
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from config import TestConfig
from portal import create_app
from portal.accounts.models import Role
from portal.extensions import db


def test_healthz_says_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": {"ok": True}}


def test_healthz_says_when_the_database_does_not_answer(tmp_path):
    class Broken(TestConfig):
        SQLALCHEMY_DATABASE_URI = "postgresql://127.0.0.1:1/nowhere"

    app = create_app(Broken, instance_path=str(tmp_path))
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.json["status"] == "degraded"
    assert response.json["database"]["ok"] is False


def test_security_headers_on_pages_fragments_files_and_errors(client, accounts):
    accounts.user("bo@portal.test", Role.APPROVER)
    accounts.login(client, "bo@portal.test")
    for path, headers in [
        ("/login", {}),
        ("/", {}),
        ("/?fragment=rows", {"HX-Request": "true"}),
        ("/no/such/page", {}),
        ("/healthz", {}),
        ("/static/js/portal.js", {}),
    ]:
        response = client.get(path, headers=headers)
        csp = response.headers.get("Content-Security-Policy", "")
        assert (
            "script-src 'self'" in csp and "'unsafe-inline'" not in csp and "unsafe-eval" not in csp
        ), path
        assert "frame-ancestors 'none'" in csp, path
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.headers["Referrer-Policy"] == "same-origin", path


def test_hsts_only_over_https(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers
    secure = client.get("/login", base_url="https://portal.test")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")


def test_no_inline_script_in_pages(client):
    html = client.get("/login").get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert not re.search(r"\son[a-z]+=", html)


def test_migrations_build_exactly_the_models(app):
    with app.app_context():
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_secret_key_is_generated_once_and_kept_private(tmp_path):
    class NoKey(TestConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path / 'k.db'}"
        SECRET_KEY = None

    first = create_app(NoKey, instance_path=str(tmp_path)).config["SECRET_KEY"]
    second = create_app(NoKey, instance_path=str(tmp_path)).config["SECRET_KEY"]
    assert first == second and len(first) >= 64
    key_file = tmp_path / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path):
    class Lite(TestConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path / 'wal.db'}"

    app = create_app(Lite, instance_path=str(tmp_path))
    with app.app_context():
        with db.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000


def test_the_form_page_weighs_under_50_kb_as_sent(app, client, accounts, change_request_form):
    """The bytes a phone receives for the form page and everything it loads, images aside."""
    org = accounts.organisation()
    accounts.user("dana@acme.test", Role.CLIENT, org)
    accounts.login(client, "dana@acme.test")
    gzip_please = {"Accept-Encoding": "gzip"}
    page = client.get("/forms/change-request/new", headers=gzip_please)
    assert page.headers["Content-Encoding"] == "gzip"
    total = len(page.data)
    html = gzip.decompress(page.data)
    for asset in re.findall(rb'(?:src|href)="(/static/[^"]+)"', html):
        if asset.endswith(b".svg"):
            continue  # the icon is an image
        response = client.get(asset.decode(), headers=gzip_please)
        assert response.headers.get("Content-Encoding") == "gzip", asset
        total += len(response.data)
    assert total < 50 * 1024, f"{total} bytes as sent"


def test_htmx_is_served_by_the_portal(client):
    html = client.get("/login").get_data(as_text=True)
    assert 'src="/static/vendor/htmx-2.0.11.min.js"' in html
    assert "//" not in re.sub(
        r"https?://www\.w3\.org", "", "".join(re.findall(r'(?:src|href)="([^"]+)"', html))
    )
    assert client.get("/static/vendor/htmx-2.0.11.min.js").status_code == 200
    assert (
        Path(__file__)
        .resolve()
        .parent.parent.joinpath("portal/static/vendor/htmx-LICENSE.txt")
        .exists()
    )
