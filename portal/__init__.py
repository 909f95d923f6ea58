"""The change-request portal: ``create_app`` builds it; ``hookimpl`` is all a plug-in needs."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask

from config import Config
from portal.hookspecs import hookimpl

__all__ = ["create_app", "hookimpl"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(
    config_class: type = Config,
    *,
    instance_path: str | None = None,
    plugins: tuple[object, ...] = (),
) -> Flask:
    """Build a portal app. ``plugins`` are registered on top of the installed ones (tests)."""
    app = Flask(
        __name__,
        instance_path=instance_path or os.environ.get("PORTAL_INSTANCE_PATH") or None,
        instance_relative_config=True,
    )
    app.config.from_object(config_class)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    _fill_instance_settings(app)

    # models: imported for the schema
    from portal import assets, extensions, http_input, i18n, models, security  # noqa: F401
    from portal.plugins import collect_registries, make_plugin_manager, register_blueprints

    extensions.db.init_app(app)
    with app.app_context():
        from portal.database import configure_sqlite

        configure_sqlite(extensions.db.engine, app.config["SQLITE_BUSY_TIMEOUT_MS"])
    extensions.migrate.init_app(app, extensions.db, directory=str(PROJECT_ROOT / "migrations"))
    extensions.csrf.init_app(app)
    extensions.htmx.init_app(app)
    extensions.compress.init_app(app)
    assets.init_app(app)
    i18n.init_app(app)
    security.init_app(app)
    http_input.init_app(app)  # after htmx, whose request it extends; before any route

    load_failures: list = []
    from portal.integrations.plugin_states import disabled_plugins

    disabled = disabled_plugins(app)
    app.extensions["portal.plugins_disabled"] = disabled
    pm = make_plugin_manager(plugins, load_failures, disabled)
    app.extensions["portal.plugins"] = pm
    app.extensions["portal.plugin_load_failures"] = load_failures
    app.extensions["portal.registries"] = collect_registries(pm, load_failures)
    from portal.integrations.outbox import announce_after_commit

    announce_after_commit(extensions.db.session)

    from portal import accounts, admin, approvals, designer, errors, health, notifications, requests
    from portal import forms as forms_area

    accounts.init_app(app)
    forms_area.init_app(app)
    requests.init_app(app)
    notifications.init_app(app)
    approvals.init_app(app)
    admin.init_app(app)
    designer.init_app(app)
    from portal import integrations

    integrations.init_app(app)
    health.init_app(app)
    errors.init_app(app)
    register_blueprints(app, pm)

    from portal import translate
    from portal.approvals import cli as approvals_cli
    from portal.audit import cli as audit_cli
    from portal.demo import demo_command

    app.cli.add_command(demo_command)
    app.cli.add_command(audit_cli.audit)
    app.cli.add_command(translate.translate)
    translate.compile_catalogues()
    approvals_cli.init_app(app)
    return app


def _fill_instance_settings(app: Flask) -> None:
    """Settings whose defaults live in the instance folder: database, secret key, uploads."""
    instance = Path(app.instance_path)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'portal.db'}"
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith(("postgresql://", "postgres://")):
        # psycopg 3 is the driver we ship; SQLAlchemy would otherwise look for psycopg2.
        app.config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://" + url.split("://", 1)[1]
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(instance / "secret_key")
    if not app.config.get("UPLOAD_FOLDER"):
        app.config["UPLOAD_FOLDER"] = str(instance / "uploads")
    Path(app.config["UPLOAD_FOLDER"]).mkdir(parents=True, exist_ok=True)
    app.config["MAX_CONTENT_LENGTH"] = app.config["UPLOAD_MAX_REQUEST_MB"] * 1024 * 1024
    # Answers are form fields too; let a long description through, within the body limit.
    app.config.setdefault("MAX_FORM_MEMORY_SIZE", 2 * 1024 * 1024)


def _instance_secret(path: Path) -> str:
    """The installation's secret key: made once, readable by its owner only."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32))
    return path.read_text().strip()
