"""Working the chain: the inbox of what waits on me, acting on a step, and revising a
request that was sent back."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import and_, nulls_last, select
from sqlalchemy.orm import load_only, selectinload

from portal.accounts.models import Organisation
from portal.approvals import bp, engine, service
from portal.approvals.models import Delegation, Task
from portal.database import utcnow
from portal.extensions import db
from portal.forms.entry import check, entry_context, formdata_of, open_entry, stored_answers
from portal.forms.service import form_def_of
from portal.requests.access import request_or_404
from portal.requests.models import ChangeRequest
from portal.requests.routes import render_detail
from portal.requests.rows import status_labels

MAX_COMMENT = 4000
INBOX_LIMIT = 50  # rows per page; "Show more" brings the next ones
# What an inbox row shows of its request: its answers and chain state stay in the database.
INBOX_COLUMNS = (
    ChangeRequest.number,
    ChangeRequest.title,
    ChangeRequest.status,
    ChangeRequest.organisation_id,
    ChangeRequest.form_version_id,
)


@bp.get("/inbox")
@login_required
def inbox():
    """What waits on me (and on those I stand in for today), soonest deadline first."""
    user = current_user._get_current_object()
    today = utcnow().date()
    # The people I stand in for today, looked up first: a plain list of ids lets the
    # database use its (user, open, due) index instead of scanning every task.
    standing_in_for = db.session.scalars(
        select(Delegation.user_id).where(
            Delegation.delegate_id == user.id,
            Delegation.starts_on <= today,
            Delegation.ends_on >= today,
        )
    ).all()
    query = (
        select(Task, ChangeRequest)
        .join(ChangeRequest, ChangeRequest.id == Task.request_id)
        .where(Task.open.is_(True))
        .where(Task.user_id.in_([user.id, *standing_in_for]))
    )
    kind = request.args.get("kind", "")
    if kind in engine.VERBS:
        query = query.where(Task.kind == kind)
    overdue = request.args.get("overdue") == "1"
    if overdue:
        query = query.where(and_(Task.due_at.is_not(None), Task.due_at < utcnow()))
    organisation = request.args.get("organisation", type=int)
    if organisation:
        query = query.where(ChangeRequest.organisation_id == organisation)
    if not user.is_staff:  # a client's own steps are on their own organisation's requests
        query = query.where(ChangeRequest.organisation_id == user.organisation_id)
    page = max(request.args.get("page", 1, type=int), 1)
    query = (
        query.options(
            selectinload(Task.user),
            load_only(*INBOX_COLUMNS),
            selectinload(ChangeRequest.organisation),
            selectinload(ChangeRequest.form_version),
        )
        .order_by(nulls_last(Task.due_at), Task.created_at, Task.id)
        .limit(INBOX_LIMIT + 1)
        .offset((page - 1) * INBOX_LIMIT)
    )
    rows = db.session.execute(query).all()
    filters = {
        "kind": kind or None,
        "overdue": "1" if overdue else None,
        "organisation": organisation or None,
    }
    page_data = {
        "rows": rows[:INBOX_LIMIT],
        "has_more": len(rows) > INBOX_LIMIT,
        "page": page,
        "filters": filters,
        "now": utcnow(),
        "status_labels": status_labels(),
    }
    if request.htmx and request.args.get("fragment") == "rows":
        return render_template("approvals/_inbox_rows.html", **page_data)
    organisations = (
        db.session.scalars(select(Organisation).order_by(Organisation.name)).all()
        if user.is_staff
        else []
    )
    return render_template(
        "approvals/inbox.html",
        kind=kind,
        overdue=overdue,
        organisation=organisation,
        organisations=organisations,
        **page_data,
    )


@bp.post("/requests/<number>/act")
@login_required
def act(number: str):
    """Approve, reject, send back, confirm, decline, mark done, give feedback, or comment."""
    user = current_user._get_current_object()
    change = request_or_404(user, number)
    verb = request.form.get("verb", "")
    comment = (request.form.get("comment") or "").strip()[:MAX_COMMENT]
    data = {}
    if verb == "feedback":
        rating = request.form.get("rating", type=int)
        data["rating"] = rating
        if rating not in engine.RATINGS:
            return _refusal_page(change, 400, _("Choose a rating from 1 to 5."))
    if verb in ("reject", "send_back", "decline") and not comment:
        return _refusal_page(change, 400, _("Say why in a comment, so the next person knows."))
    try:
        applied = service.perform(
            change.id,
            user,
            step=request.form.get("step", ""),
            verb=verb,
            revision=request.form.get("revision", type=int) or 0,
            comment=comment,
            data=data,
        )
    except engine.ActionRefused as refused:
        return _refused(change, refused)
    return _saved(change, applied)


def _saved(change: ChangeRequest, applied: service.Applied):  # noqa: ANN202
    """Commit, and show the request again with what was just saved."""
    db.session.commit()
    message = _saved_message(applied.events)
    if not request.htmx:
        flash(message, "info")
        return redirect(url_for("requests.detail", number=change.number))
    return render_detail(db.session.get(ChangeRequest, change.id), notice=message, fragment=True)


def _saved_message(events) -> str:  # noqa: ANN001
    """What the person just did, in a sentence of their language."""
    from portal.approvals.views import SAVED_MESSAGES

    for event in events:
        if event.kind in SAVED_MESSAGES:
            return str(SAVED_MESSAGES[event.kind])
    return _("Saved.")


def _refused(change: ChangeRequest, refused: engine.ActionRefused):  # noqa: ANN202
    """Nothing changed: the page again, with the reason where the buttons were."""
    db.session.rollback()
    return _refusal_page(change, service.REFUSAL_STATUS.get(refused.code, 400), refused.message(_))


def _refusal_page(change: ChangeRequest, status: int, message: str):  # noqa: ANN202
    db.session.expire_all()
    change = db.session.get(ChangeRequest, change.id)
    if not request.htmx:
        flash(message, "error")
        return redirect(url_for("requests.detail", number=change.number))
    return render_detail(change, error=message, fragment=True), status


@bp.route("/requests/<number>/revise", methods=["GET", "POST"])
@login_required
def revise(number: str):
    """The requester changes the answers of a request that was sent back, and sends it again."""
    user = current_user._get_current_object()
    change = request_or_404(user, number)
    if change.requester_id != user.id:
        abort(403)
    if change.status != "sent_back":
        flash(_("This request is not waiting for changes."), "info")
        return redirect(url_for("requests.detail", number=number))
    form_def = form_def_of(change.form_version)
    ctx = entry_context(form_def)
    formdata = (
        request.form if request.method == "POST" else formdata_of(change.answers, form_def, ctx)
    )
    entry = open_entry(
        change.form_version.form,
        None,
        formdata,
        version=change.form_version,
        files=list(change.attachments),
    )
    if request.method == "POST":
        if check(entry, report_empty=True):
            try:
                service.revise(change.id, user, stored_answers(entry))
            except engine.ActionRefused as refused:
                db.session.rollback()
                flash(refused.message(_), "error")
                return redirect(url_for("requests.detail", number=number))
            db.session.commit()
            flash(
                _("Your changes are sent. The request goes on from where it was sent back."), "info"
            )
            return redirect(url_for("requests.detail", number=number))
        flash(_("Some answers need your attention. They are marked below."), "error")
    return render_template("approvals/revise.html", entry=entry, change=change), (
        422 if request.method == "POST" else 200
    )


@bp.post("/requests/<number>/reassign")
@login_required
def reassign(number: str):
    """An admin gives one person's part of an open step to someone else, or adds someone."""
    user = current_user._get_current_object()
    if not user.is_admin:
        abort(403)
    change = request_or_404(user, number)
    try:
        applied = service.reassign(
            change.id,
            user,
            step=request.form.get("step", ""),
            from_user_id=request.form.get("from_user", type=int),
            to_user_id=request.form.get("to_user", type=int) or 0,
        )
    except engine.ActionRefused as refused:
        return _refused(change, refused)
    return _saved(change, applied)
