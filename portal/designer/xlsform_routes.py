"""XLSForm in the designer: upload a spreadsheet to get a draft, download a draft as one.

The upload is read by :func:`portal.forms.xlsform.read_xlsform` (pure); here it is only
checked (present, not too large, a spreadsheet at all), turned into a draft through
``new_draft`` and shown with the list of what could not be mapped. A file that is not an
XLSForm gets its message beside the file field, never an error page.
"""

from __future__ import annotations

from pathlib import PurePath

from flask import Response, current_app, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from portal.accounts.roles import admin_required
from portal.designer import bp
from portal.designer.drafts import draft_or_404, new_draft
from portal.extensions import db
from portal.forms.service import field_rules
from portal.forms.xlsform import XLSFormError, read_xlsform, write_xlsform

DEFAULT_MAX_MB = 5
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _max_bytes() -> int:
    return int(float(current_app.config.get("XLSFORM_MAX_MB", DEFAULT_MAX_MB)) * 1024 * 1024)


@bp.route("/import-xlsform", methods=["GET", "POST"])
@admin_required
def import_xlsform():
    """The upload form; a good upload becomes a draft, shown with what was not mapped."""
    if request.method == "GET":
        return render_template("designer/import_xlsform.html", error=None, unmapped=[])
    upload = request.files.get("file")
    error = None
    unmapped: list = []
    data = b""
    filename = PurePath(upload.filename or "").name if upload else ""
    if upload is None or not filename:
        error = _("Choose an XLSForm spreadsheet (.xlsx) to upload.")
    else:
        data = upload.stream.read(_max_bytes() + 1)
        if len(data) > _max_bytes():
            error = _(
                "This file is larger than %(size)s MB; an XLSForm is far smaller. "
                "Choose the spreadsheet itself.",
                size=current_app.config.get("XLSFORM_MAX_MB", DEFAULT_MAX_MB),
            )
        elif not data:
            error = _("This file is empty.")
    if error is None:
        try:
            definition, unmapped = read_xlsform(data, filename, field_rules())
        except XLSFormError as problem:
            error, unmapped = _sentence(problem.message(_)), problem.unmapped
    if error is not None:
        return render_template(
            "designer/import_xlsform.html",
            error=error,
            unmapped=[(item, item.message(_)) for item in unmapped],
        ), 422
    draft = new_draft(definition, current_user, f"xlsform:{filename}")
    db.session.commit()
    questions = sum(1 for f in definition["fields"] if f.get("type") != "section")
    return render_template(
        "designer/xlsform_result.html",
        draft=draft,
        filename=filename,
        questions=questions,
        sections=len(definition["fields"]) - questions,
        unmapped=[(item, item.message(_)) for item in unmapped],
    )


def _sentence(text: str) -> str:
    """The reader's messages are phrases (they also follow a place in a list): beside the
    field they start with a capital."""
    return text[:1].upper() + text[1:]


@bp.get("/drafts/<int:draft_id>/xlsform")
@admin_required
def export_xlsform(draft_id: int):
    """The draft as an XLSForm spreadsheet (survey, choices and settings sheets)."""
    draft = draft_or_404(draft_id)
    data = write_xlsform(draft.definition or {})
    response = Response(data, mimetype=XLSX_TYPE)
    response.headers["Content-Disposition"] = f'attachment; filename="{draft.form_name}.xlsx"'
    response.headers["Cache-Control"] = "no-store"
    return response
