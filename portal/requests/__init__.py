"""Requests: what clients submitted, where each stands, and the files that came with it."""

from flask import Blueprint, Flask

bp = Blueprint("requests", __name__, template_folder="templates")


def init_app(app: Flask) -> None:
    from portal.requests import routes  # noqa: F401  (routes register themselves)
    from portal.requests.rows import request_path

    app.jinja_env.globals["request_path"] = request_path

    app.register_blueprint(bp)
