"""Error pages: a clear message in the person's language, never a stack trace.

htmx requests get the message as a fragment for the element that asked, so a failed
inline action says what went wrong where it happened.
"""

from __future__ import annotations

from flask import Flask, current_app, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from portal.extensions import db


def _messages() -> dict[int, tuple[str, str]]:
    limit = current_app.config["UPLOAD_MAX_REQUEST_MB"]
    return {
        400: (
            _("Something in that request was not right"),
            _("Go back, reload the page and try again."),
        ),
        401: (_("Please sign in"), _("Your session has ended. Sign in again to continue.")),
        403: (_("Not allowed"), _("Your account may not do this.")),
        404: (_("Not found"), _("There is nothing here, or it is not yours to see.")),
        405: (_("Not allowed"), _("This address does not accept that kind of request.")),
        413: (
            _("Too large"),
            _(
                "The upload is larger than %(size)s MB. Nothing you typed is lost: "
                "go back and choose a smaller file.",
                size=limit,
            ),
        ),
        429: (_("Too many attempts"), _("Wait a few minutes, then try again.")),
        500: (
            _("Something went wrong on our side"),
            _("Your answers are kept. Try again in a moment."),
        ),
    }


def render_error(code: int, detail: str | None = None):  # noqa: ANN201
    title, message = _messages().get(code, _messages()[400 if code < 500 else 500])
    message = detail or message
    template = "errors/_message.html" if request.headers.get("HX-Request") else "errors/page.html"
    response = current_app.make_response(
        (render_template(template, code=code, title=title, message=message), code)
    )
    if code == 413 and request.headers.get("HX-Request") and request.view_args:
        field = request.view_args.get("field_name")
        if field:  # put the message beside the file field that was too large
            response.headers["HX-Retarget"] = f"#error-{field}"
            response.headers["HX-Reswap"] = "innerHTML"
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return render_error(
            400, _("This page had expired. Reload it and try again; a saved draft is kept.")
        )

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(error):
        return render_error(413)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code in (301, 302, 303, 307, 308):
            return error
        return render_error(error.code or 500)

    @app.errorhandler(500)
    def server_error(error):
        db.session.rollback()
        return render_error(500)
