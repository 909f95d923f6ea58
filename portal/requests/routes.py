"""Following requests: the list with statuses, one request, its files."""

from __future__ import annotations

import csv
import io
from zoneinfo import ZoneInfo

from flask import abort, current_app, make_response, render_template, request, send_file, url_for
from flask_babel import get_locale, get_timezone
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy.orm import load_only, selectinload

from portal.extensions import db
from portal.forms import uploads
from portal.forms.field_types import DisplayContext
from portal.forms.service import field_types, form_def_of
from portal.requests import bp
from portal.requests.access import attachment_or_404, request_or_404, visible_requests
from portal.requests.models import ChangeRequest, RequestStatus
from portal.requests.rows import status_labels

PAGE_SIZE = 50
# What a row of the list shows: the answers and the chain's state (a few KB of JSON each)
# stay in the database.
LIST_COLUMNS = (
    ChangeRequest.number,
    ChangeRequest.title,
    ChangeRequest.status,
    ChangeRequest.organisation_id,
    ChangeRequest.submitted_at,
)


@bp.get("/")
@login_required
def index():
    """My requests (clients: their organisation's) or all requests (staff), newest first."""
    user = current_user._get_current_object()
    query, status, mine = _filtered(user)
    page = max(request.args.get("page", 1, type=int), 1)
    rows = db.session.scalars(
        query.options(selectinload(ChangeRequest.organisation), load_only(*LIST_COLUMNS))
        .order_by(ChangeRequest.submitted_at.desc(), ChangeRequest.id.desc())
        .limit(PAGE_SIZE + 1)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    fragment = request.htmx and request.args.get("fragment") == "rows"
    template = "requests/_rows.html" if fragment else "requests/index.html"
    return render_template(
        template,
        rows=rows[:PAGE_SIZE],
        has_more=len(rows) > PAGE_SIZE,
        page=page,
        status=status,
        mine=mine,
        statuses=list(RequestStatus),
        status_labels=status_labels(),
    )


def _filtered(user):  # noqa: ANN001, ANN202
    """The requests the user may see, with the list's filters from the query string."""
    query = visible_requests(user)
    status = request.args.get("status", "")
    if status in {s.value for s in RequestStatus}:
        query = query.where(ChangeRequest.status == status)
    mine = request.args.get("mine") == "1"
    if mine:
        query = query.where(ChangeRequest.requester_id == user.id)
    return query, status, mine


@bp.get("/requests.csv")
@login_required
def export():
    """The list as CSV, with times in the reader's zone, named in the header."""
    user = current_user._get_current_object()
    query, _status, _mine = _filtered(user)
    zone = str(get_timezone())
    rows = db.session.scalars(
        query.options(
            selectinload(ChangeRequest.organisation), selectinload(ChangeRequest.requester)
        )
        .order_by(ChangeRequest.submitted_at.desc(), ChangeRequest.id.desc())
        .limit(10_000)
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([
        _("Number"), _("Title"), _("Status"), _("Organisation"), _("Requested by"),
        _("Submitted (%(zone)s)", zone=zone), _("Impact"), _("Priority"),
    ])  # fmt: skip
    tz = ZoneInfo(zone)
    from portal.approvals.views import IMPACT_LABELS

    impact_labels = {level: str(label) for level, label in IMPACT_LABELS.items()}
    for change in rows:
        writer.writerow([
            change.number, _safe_cell(change.title), change.status_label, change.organisation.name,
            change.requester.name, change.submitted_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
            impact_labels.get(change.impact, ""), impact_labels.get(change.priority, ""),
        ])  # fmt: skip
    response = make_response("\ufeff" + out.getvalue())
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = "attachment; filename=requests.csv"
    return response


def _safe_cell(text: str) -> str:
    """A cell a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def display_context() -> DisplayContext:
    return DisplayContext(
        locale=str(get_locale()),
        default_language="en",
        timezone=ZoneInfo(str(get_timezone())),
        file_url=lambda attachment_id: url_for("requests.download", attachment_id=attachment_id),
    )


def answer_groups(change: ChangeRequest) -> list[dict]:
    """The answers grouped under their sections: ``{"section": field or None, "rows": [...]}``,
    leaving out sections with nothing answered."""
    groups: list[dict] = [{"section": None, "rows": []}]
    for row in answer_rows(change):
        if "section" in row:
            groups.append({"section": row["section"], "rows": []})
        else:
            groups[-1]["rows"].append(row)
    return [group for group in groups if group["rows"]]


def answer_rows(change: ChangeRequest) -> list[dict]:
    """The answers as label/value pairs, read through the version they were given for.

    Answers whose field the version does not know (data imported or written by a newer
    tool) are still shown, under their stored name: nothing given is ever hidden.
    """
    form_def = form_def_of(change.form_version)
    types = field_types()
    ctx = display_context()
    ctx = DisplayContext(ctx.locale, form_def.default_language, ctx.timezone, ctx.file_url)
    rows, seen = [], set()
    for field in form_def.fields:
        if not field.has_value:
            rows.append({"section": field})
            continue
        seen.add(field.name)
        if field.name not in change.answers:
            continue
        value = types[field.type].display(change.answers[field.name], field, ctx)
        rows.append({"field": field, "value": value})
    for name, value in change.answers.items():
        if name not in seen:
            rows.append({"name": name, "value": types["text"].display(value, None, ctx)})
    # A section with nothing answered under it is left out.
    kept = []
    for row in rows:
        if "section" in row and kept and "section" in kept[-1]:
            kept.pop()
        kept.append(row)
    if kept and "section" in kept[-1]:
        kept.pop()
    return kept


def answer_diff(change: ChangeRequest, before: dict, after: dict) -> list[dict]:
    """The answers that differ between two revisions, each as it reads before and after."""
    form_def = form_def_of(change.form_version)
    types = field_types()
    ctx = display_context()
    ctx = DisplayContext(ctx.locale, form_def.default_language, ctx.timezone, ctx.file_url)
    rows = []
    for field in form_def.fields:
        if not field.has_value or before.get(field.name) == after.get(field.name):
            continue
        display = types[field.type].display
        rows.append(
            {
                "field": field,
                "before": display(before.get(field.name), field, ctx),
                "after": display(after.get(field.name), field, ctx),
            }
        )
    return rows


@bp.get("/requests/<number>")
@login_required
def detail(number: str):
    change = request_or_404(current_user, number)
    return render_detail(change)


def render_detail(change: ChangeRequest, *, notice=None, error=None, fragment=False):  # noqa: ANN001, ANN201
    """The request page (or, for htmx, its body): everything needed to decide on one screen."""
    from portal.approvals.views import chain_view, revisions, timeline
    from portal.integrations.panels import panels_for

    user = current_user._get_current_object()
    versions = revisions(change)
    diff = (
        answer_diff(change, versions[-2].answers, versions[-1].answers) if len(versions) > 1 else []
    )
    template = "requests/_body.html" if fragment else "requests/detail.html"
    return render_template(
        template,
        change=change,
        form_def=form_def_of(change.form_version),
        groups=answer_groups(change),
        chain=chain_view(change, user),
        timeline=timeline(change),
        diff=diff,
        revision_count=len(versions),
        notice=notice,
        error=error,
        panels=panels_for(change, user),
    )


@bp.get("/requests/<number>/submitted")
@login_required
def submitted(number: str):
    change = request_or_404(current_user, number)
    return render_template("requests/submitted.html", change=change)


@bp.get("/files/<int:attachment_id>")
@login_required
def download(attachment_id: int):
    attachment = attachment_or_404(current_user, attachment_id)
    path = uploads.path_of(current_app.config["UPLOAD_FOLDER"], attachment.storage_key)
    if not path.is_file():
        abort(404)
    inline = attachment.content_type in uploads.SAFE_INLINE and request.args.get("download") != "1"
    response = send_file(
        path,
        mimetype=attachment.content_type,
        as_attachment=not inline,
        download_name=attachment.filename,
        max_age=0,
    )
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
