"""Approval chains: the steps a request walks once it is submitted."""

from flask import Blueprint, Flask

bp = Blueprint("approvals", __name__, template_folder="templates")


def init_app(app: Flask) -> None:
    from portal.approvals import routes  # noqa: F401  (routes register themselves)
    from portal.approvals.views import IMPACT_LABELS, KIND_LABELS, staff_people, step_name

    app.jinja_env.globals["impact_label"] = lambda level: str(IMPACT_LABELS.get(level, level or ""))
    app.jinja_env.globals["step_name"] = step_name
    app.jinja_env.globals["staff_people"] = staff_people
    app.jinja_env.globals["kind_labels"] = KIND_LABELS
    app.register_blueprint(bp)
