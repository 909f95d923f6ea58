"""Accounts: people, organisations, roles, and signing in and out."""

from flask import Blueprint, Flask

bp = Blueprint("accounts", __name__, template_folder="templates")


def init_app(app: Flask) -> None:
    from flask_babel import lazy_gettext as _l

    from portal.accounts import away, cli, profile, routes, sessions  # noqa: F401  (routes and loaders register themselves)
    from portal.extensions import login_manager

    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = _l("Please sign in to continue.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = None  # the server-side session row is the protection
    app.jinja_env.globals["language_choices"] = profile.languages
    app.register_blueprint(bp)
    app.cli.add_command(cli.users)
