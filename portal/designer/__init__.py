"""The no-code designer: admins build forms and their approval chains in the browser.

Work happens on a draft (``FormDraft``), a definition dict of the same shape the YAML files
have; clients see nothing of it until it is published as a new immutable ``FormVersion``.
"""

from flask import Blueprint, Flask

bp = Blueprint("designer", __name__, url_prefix="/admin/forms", template_folder="templates")


def init_app(app: Flask) -> None:
    import portal.designer.chain_routes  # noqa: F401  (the chain designer's routes)
    import portal.designer.xlsform_routes  # noqa: F401  (XLSForm import and export)
    from portal.designer import routes  # noqa: F401  (routes register themselves)

    app.register_blueprint(bp)
