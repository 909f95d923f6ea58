"""Filling in and submitting a request form, phone first.

The page posts every change to ``autosave`` (htmx), which keeps the draft on the server and
returns the messages for each field; files are uploaded as soon as they are chosen. Without
JavaScript the same form still submits and the same messages appear beside the fields.
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from portal.database import utcnow
from portal.extensions import db
from portal.forms import bp, uploads
from portal.forms.entry import (
    already_sent,
    check,
    draft_for,
    draft_token,
    find_draft,
    may_submit,
    new_nonce,
    open_entry,
    submit,
    typing_user,
)
from portal.forms.models import Form
from portal.forms.service import form_def_of, published_form
from portal.requests.models import Attachment, Draft


def _form_or_404(name: str) -> Form:
    form = published_form(name)
    if form is None:
        abort(404)
    return form


@bp.get("/")
@login_required
def index():
    forms = db.session.scalars(select(Form).where(Form.archived.is_(False)).order_by(Form.name))
    available = [(f, form_def_of(f.published)) for f in forms if f.published is not None]
    return render_template("forms/index.html", forms=available)


@bp.get("/<name>/new")
@login_required
def fill(name: str):
    form = _form_or_404(name)
    user = current_user._get_current_object()
    draft = find_draft(user, form) if may_submit(user) else None
    if draft is not None and already_sent(draft.nonce) is not None:
        # A save that crossed the submission on its way left the sent answers behind.
        db.session.delete(draft)
        db.session.commit()
        draft = None
    entry = open_entry(form, draft)
    return render_template(
        "forms/fill.html",
        entry=entry,
        draft=draft,
        token=draft_token(user, form, draft),
        preview=not may_submit(user),
        attempted=False,
    )


@bp.post("/<name>/draft")
def autosave(name: str):
    """Keep what was typed, and answer with the messages for each field."""
    form = _form_or_404(name)
    typist = typing_user(form)
    if typist.user is None:
        return render_template("forms/_save_status.html", state="signed-out"), 401
    if not may_submit(typist.user):
        abort(403)
    if already_sent(typist.nonce) is not None:  # a save that arrives after the submit
        return render_template("forms/_save_status.html", state="sent")
    draft = draft_for(typist.user, form, typist.nonce)
    entry = open_entry(form, draft, request.form)
    draft.answers = entry.raw
    draft.updated_at = utcnow()
    nonce = draft.nonce
    try:
        db.session.commit()
    except StaleDataError:  # the draft was sent (and so removed) while this save was on its way
        db.session.rollback()
        if already_sent(nonce) is not None:
            return render_template("forms/_save_status.html", state="sent")
        abort(409)
    if not typist.signed_in:
        return render_template("forms/_save_status.html", state="signed-out", draft=draft)
    check(entry, report_empty=bool(request.form.get("attempted")))
    return render_template("forms/_autosave.html", entry=entry, draft=draft)


@bp.post("/<name>/submit")
def submit_form(name: str):
    """Send the answers. Valid answers become a request in one transaction; anything else
    (answers that need attention, a sign-in that has ended, a failure on the way) leaves
    them in the person's draft, so nothing typed is lost."""
    form = _form_or_404(name)
    typist = typing_user(form)
    user = typist.user
    if user is None:
        return current_app.login_manager.unauthorized()
    if not may_submit(user):
        abort(403)
    sent = already_sent(typist.nonce)
    if sent is not None:  # a second tap on Submit: the same request, not a second one
        return redirect(url_for("requests.submitted", number=sent.number))
    draft = find_draft(user, form)
    entry = open_entry(form, draft, request.form)
    if not typist.signed_in:
        _keep_draft(user, form, typist.nonce, entry)
        flash(_("Your session ended. Your answers are saved: sign in to send them."), "info")
        return redirect(url_for("accounts.login", next=url_for("forms.fill", name=name)))
    if not check(entry, report_empty=True):
        draft = _keep_draft(user, form, typist.nonce, entry)
        flash(_("Some answers need your attention. They are marked below."), "error")
        page = render_template(
            "forms/fill.html",
            entry=entry,
            draft=draft,
            token=draft_token(user, form, draft),
            preview=False,
            attempted=True,
        )
        return page, 422
    nonce = draft.nonce if draft is not None else typist.nonce or new_nonce()
    try:
        number = submit(entry, user, nonce=nonce, draft=draft).number
        db.session.commit()
    except IntegrityError:  # the same page was sent a moment ago by another tap
        db.session.rollback()
        change = already_sent(nonce)
        if change is None:
            _keep_draft(user, form, nonce, entry)
            raise
        number = change.number
    except Exception:
        db.session.rollback()
        _keep_draft(user, form, nonce, entry)
        raise
    return redirect(url_for("requests.submitted", number=number))


def _keep_draft(user, form: Form, nonce: str | None, entry) -> Draft:  # noqa: ANN001
    """Save what was typed in the person's draft (made when they have none) and commit,
    keeping what the session has loaded instead of reading it all again."""
    draft = draft_for(user, form, nonce)
    draft.answers = entry.raw
    draft.updated_at = utcnow()
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True
    return draft


@bp.post("/<name>/discard")
@login_required
def discard(name: str):
    form = _form_or_404(name)
    draft = find_draft(current_user, form)
    if draft is not None:
        for attachment in list(draft.attachments):
            uploads.path_of(current_app.config["UPLOAD_FOLDER"], attachment.storage_key).unlink(
                missing_ok=True
            )
            db.session.delete(attachment)
        db.session.delete(draft)
        db.session.commit()
    flash(_("The draft is discarded."), "info")
    return redirect(url_for("forms.fill", name=name))


@bp.post("/<name>/files/<field_name>")
@login_required
def upload(name: str, field_name: str):
    """Take the chosen files for a file field now, so a dropped connection later loses none."""
    form = _form_or_404(name)
    user = current_user._get_current_object()
    if not may_submit(user):
        abort(403)
    draft = draft_for(user, form, typing_user(form).nonce)
    form_def = form_def_of(draft.form_version)
    field = form_def.field(field_name)
    if field is None or field.type != "file":
        abort(404)
    errors = _take_files(draft, field, request.files.getlist("file"), user)
    db.session.commit()
    if not request.htmx:
        for message in errors:
            flash(message, "error")
        return redirect(url_for("forms.fill", name=name) + f"#field-{field_name}")
    entry = open_entry(form, draft)
    view = entry.view(field_name)
    view.errors = errors
    return render_template("forms/_files.html", view=view, entry=entry), 422 if errors else 200


def _take_files(draft, field, files, user) -> list[str]:  # noqa: ANN001
    config = current_app.config
    max_mb = field.extra.get("max_size_mb") or config["UPLOAD_MAX_FILE_MB"]
    max_bytes = int(max_mb * 1024 * 1024)
    allowed = uploads.allowed_types(field.extra.get("accept"))
    limit = field.extra.get("max_files") or (10 if field.multiple else 1)
    present = [a for a in draft.attachments if a.field_name == field.name]
    errors: list[str] = []
    chosen = [f for f in files if f and f.filename]
    if not chosen:
        return [_("Choose a file to upload.")]
    if not field.multiple:  # a single-file field: the new file replaces the old one
        for old in present:
            _remove(old)
        present = []
    for incoming in chosen:
        filename = uploads.clean_filename(incoming.filename)
        if len(present) >= limit:
            errors.append(
                _("%(name)s was not added: at most %(num)d files.", name=filename, num=limit)
            )
            continue
        data = incoming.stream.read(max_bytes + 1)
        if len(data) > max_bytes:
            errors.append(_("%(name)s is larger than %(size)s MB.", name=filename, size=max_mb))
            continue
        if not data:
            errors.append(_("%(name)s is empty.", name=filename))
            continue
        found = uploads.inspect(data)
        if found.content_type is None or found.content_type not in allowed:
            errors.append(_("%(name)s is not a kind of file this question accepts.", name=filename))
            continue
        attachment = Attachment(
            draft=draft,
            field_name=field.name,
            filename=filename,
            storage_key=uploads.store(config["UPLOAD_FOLDER"], data),
            content_type=found.content_type,
            size=found.size,
            sha256=found.sha256,
            uploaded_by_id=user.id,
            organisation_id=user.organisation_id,
        )
        db.session.add(attachment)
        present.append(attachment)
    return errors


def _remove(attachment: Attachment) -> None:
    uploads.path_of(current_app.config["UPLOAD_FOLDER"], attachment.storage_key).unlink(
        missing_ok=True
    )
    db.session.delete(attachment)


@bp.post("/<name>/files/<field_name>/<int:attachment_id>/remove")
@login_required
def remove_file(name: str, field_name: str, attachment_id: int):
    form = _form_or_404(name)
    draft = find_draft(current_user, form)
    attachment = db.session.get(Attachment, attachment_id)
    if draft is None or attachment is None or attachment.draft_id != draft.id:
        abort(404)
    _remove(attachment)
    db.session.commit()
    if not request.htmx:
        return redirect(url_for("forms.fill", name=name) + f"#field-{field_name}")
    db.session.refresh(draft)
    entry = open_entry(form, draft)
    return render_template("forms/_files.html", view=entry.view(field_name), entry=entry)
