"""The admin area: one home page linking every admin screen (forms, chains, templates,
people, plug-ins, deliveries). Each area registers its own blueprint; this one holds the
home page and the shared layout ``admin/layout.html``."""

from flask import Blueprint, Flask

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")


def init_app(app: Flask) -> None:
    from portal.admin import (  # noqa: F401  (routes register themselves)
        calendars,
        delegations,
        groups,
        organisations,
        people,
        routes,
    )

    app.register_blueprint(bp)
