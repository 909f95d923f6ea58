"""Notifications: what people are told, in the portal (the bell) and through channels
(e-mail, or any plug-in's), each in the recipient's language and zone."""

from flask import Blueprint, Flask

bp = Blueprint("notifications", __name__, template_folder="templates")


def init_app(app: Flask) -> None:
    from portal.notifications import routes  # noqa: F401  (routes register themselves)

    app.jinja_env.globals["notification_unread_count"] = routes.unread_for_current_user
    app.register_blueprint(bp)
