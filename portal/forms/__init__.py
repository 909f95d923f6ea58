"""Forms: definitions as configuration, their published versions, and filling them in."""

from flask import Blueprint, Flask

bp = Blueprint("forms", __name__, template_folder="templates", url_prefix="/forms")


def init_app(app: Flask) -> None:
    from portal.forms import cli, routes  # noqa: F401  (routes register themselves)
    from portal.forms.uploads import accept_hint

    app.jinja_env.filters["accept_hint"] = accept_hint
    app.register_blueprint(bp)
    app.cli.add_command(cli.forms)
