"""Hand-offs to other tools (Jira, Trello, a CRM, any webhook): what a connector plug-in
implements (``connector``), the only HTTP client it may use (``http``), and the outbox that
delivers each event exactly once, after the change that made it is committed. The admin
pages (plug-ins, connectors, outbox, inbound calls) live here too."""

from flask import Blueprint, Flask

bp = Blueprint("integrations", __name__, url_prefix="/admin", template_folder="templates")


def init_app(app: Flask) -> None:
    from portal.integrations import (  # noqa: F401  (routes register themselves)
        admin_connectors,
        admin_inbound,
        admin_outbox,
        admin_plugins,
        cli,
    )

    app.register_blueprint(bp)
    app.cli.add_command(cli.outbox)
