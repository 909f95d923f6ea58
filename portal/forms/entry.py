"""Filling in a form: the draft kept while typing, the field views the page draws, and the
conversion of valid answers into a submitted request."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, request
from flask_babel import get_locale, get_timezone
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import MultiDict

from portal.accounts.models import User
from portal.extensions import db
from portal.forms import uploads
from portal.forms.builder import (
    answers_from_formdata,
    form_class_for,
    validate_visible,
    visible_names,
)
from portal.forms.definition import FieldDef, FormDef, localize
from portal.forms.field_types import EntryContext, FieldType
from portal.forms.models import Form, FormVersion
from portal.forms.service import field_types, form_def_of
from portal.requests.models import Attachment, ChangeRequest, Draft
from portal.requests.numbering import next_number

DRAFT_TOKEN_MAX_AGE = 7 * 24 * 3600


def entry_context(form_def: FormDef) -> EntryContext:
    return EntryContext(
        locale=str(get_locale()),
        default_language=form_def.default_language,
        timezone=ZoneInfo(str(get_timezone())),
    )


# -- who is typing ----------------------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="portal.draft")


def draft_token(user: User, form: Form, draft: Draft | None) -> str:
    """Signed proof, kept in the page, that this person opened this form.

    It lets their answers be saved even when their sign-in has ended meanwhile, so nothing
    typed is lost; and it names the draft (its nonce), so the same draft is never sent twice
    and a late autosave cannot bring a sent draft back.
    """
    nonce = draft.nonce if draft is not None else new_nonce()
    return _serializer().dumps({"u": user.id, "f": form.id, "n": nonce})


def new_nonce() -> str:
    return secrets.token_hex(16)


@dataclass(frozen=True)
class Typist:
    """Who is filling in the form, whether they are still signed in, and which draft."""

    user: User | None
    signed_in: bool
    nonce: str | None


def typing_user(form: Form) -> Typist:
    """The person whose draft this is, from their session or else from the page's token."""
    try:
        data = _serializer().loads(request.form.get("draft_token", ""), max_age=DRAFT_TOKEN_MAX_AGE)
    except BadSignature:
        data = {}
    if data.get("f") != form.id:
        data = {}
    if current_user.is_authenticated:
        user = current_user._get_current_object()
        nonce = data.get("n") if data.get("u") == user.id else None
        return Typist(user, True, nonce)
    user = db.session.get(User, data["u"]) if data.get("u") else None
    if user is None or not user.active:
        return Typist(None, False, None)
    return Typist(user, False, data.get("n"))


def already_sent(nonce: str | None) -> ChangeRequest | None:
    """The request this draft already became, if it was sent (a double tap, a late save)."""
    if not nonce:
        return None
    return db.session.scalar(_SENT_FROM, {"nonce": nonce})


def may_submit(user: User) -> bool:
    """Requests belong to a client organisation, so clients are the ones who submit."""
    return user.is_client and user.organisation_id is not None


# -- drafts -----------------------------------------------------------------------------------


def find_draft(user: User, form: Form) -> Draft | None:
    return db.session.scalar(_DRAFT_OF, {"user_id": user.id, "form_id": form.id})


# Built once: the form page and each save and submission run them.
_SENT_FROM = select(ChangeRequest).where(ChangeRequest.draft_nonce == bindparam("nonce"))
_DRAFT_OF = select(Draft).where(
    Draft.user_id == bindparam("user_id"), Draft.form_id == bindparam("form_id")
)


def draft_for(user: User, form: Form, nonce: str | None = None) -> Draft:
    """The person's draft of this form, started on the published version when new.

    Two saves of a new draft can arrive at once; the second finds the first one's draft.
    """
    draft = find_draft(user, form)
    if draft is None:
        try:
            with db.session.begin_nested():
                draft = Draft(
                    user=user,
                    form=form,
                    form_version=form.published,
                    answers={},
                    nonce=nonce or new_nonce(),
                    attachments=[],  # known to be empty: no query to find out
                )
                db.session.add(draft)
        except IntegrityError:
            draft = find_draft(user, form)
    return draft


# -- what the page draws ----------------------------------------------------------------------


@dataclass
class FieldView:
    """One field as the page draws it."""

    field: FieldDef
    type: FieldType
    bound: Any
    label: str
    help: str
    placeholder: str
    visible: bool
    condition: str | None
    errors: list[str] = field(default_factory=list)
    files: list[Attachment] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.field.name


@dataclass
class Entry:
    """A form being filled in: its definition, the bound WTForms form and the field views."""

    form: Form
    form_def: FormDef
    wtform: Any
    raw: dict[str, Any]
    visible: set[str]
    views: list[FieldView]
    ctx: EntryContext
    version: FormVersion

    def view(self, name: str) -> FieldView | None:
        return next((v for v in self.views if v.name == name), None)

    @property
    def has_errors(self) -> bool:
        return any(v.errors for v in self.views)


def field_view(
    f: FieldDef,
    form_def: FormDef,
    types: dict[str, FieldType],
    wtform: Any,
    locale: str,
    *,
    visible: bool = True,
    condition: str | None = None,
    files: list[Attachment] | None = None,
) -> FieldView:
    """One field as the page draws it, its texts in ``locale``."""
    return FieldView(
        field=f,
        type=types[f.type],
        bound=wtform[f.name] if f.name in wtform else None,
        label=localize(f.label, locale, form_def.default_language),
        help=localize(f.help, locale, form_def.default_language),
        placeholder=localize(f.placeholder, locale, form_def.default_language),
        visible=visible,
        condition=condition,
        files=files or [],
    )


def open_entry(
    form: Form,
    draft: Draft | None,
    formdata=None,  # noqa: ANN001
    *,
    version: FormVersion | None = None,
    files: list[Attachment] | None = None,
) -> Entry:
    """Bind the form to posted data, else to the draft's saved answers, else to defaults.

    ``version`` and ``files`` open a submitted request again for revision: its version, and
    the files it already has.
    """
    from portal.forms.builder import draft_formdata

    if version is None:
        version = draft.form_version if draft is not None else form.published
    form_def = form_def_of(version)
    types = field_types()
    ctx = entry_context(form_def)
    form_class = form_class_for(version.checksum, form_def, types, ctx)
    if formdata is None and draft is not None and draft.answers:
        formdata = draft_formdata(draft.answers)
    if formdata is not None:
        # Answers given (posted, a draft, a request being revised) are all there is: a
        # question they leave empty stays empty instead of taking its default again.
        unset = {f.name: None for f in form_def.fields if f.has_value}
        wtform = form_class(formdata=formdata, data=unset)
    else:
        wtform = form_class(formdata=None)  # a new request: every default filled in
    raw = (
        answers_from_formdata(form_def, formdata, types)
        if formdata is not None
        else _defaults(form_def)
    )
    visible = visible_names(form_def, raw)
    if files is None:
        files = draft.attachments if draft is not None else []
    views = [
        field_view(
            f,
            form_def,
            types,
            wtform,
            ctx.locale,
            visible=f.name in visible,
            condition=json.dumps(f.visible_if.tree) if f.visible_if else None,
            files=[a for a in files if a.field_name == f.name],
        )
        for f in form_def.fields
    ]
    return Entry(form, form_def, wtform, raw, visible, views, ctx, version)


def _defaults(form_def: FormDef) -> dict[str, Any]:
    return {f.name: f.default for f in form_def.fields if f.has_value and f.default is not None}


def check(entry: Entry, *, report_empty: bool) -> bool:
    """Validate the visible fields and put each message beside its field.

    While typing (``report_empty`` False) an empty field is not scolded for being empty;
    on submit it is.
    """
    validate_visible(entry.wtform, entry.form_def, entry.visible)
    ok = True
    for view in entry.views:
        if not view.visible or not view.field.has_value:
            view.errors = []
            continue
        if view.type.widget == "file":
            view.errors = _file_errors(view)
        else:
            view.errors = [str(e) for e in (view.bound.errors if view.bound is not None else [])]
        if view.errors:
            ok = False
        empty = (
            not view.files if view.type.widget == "file" else _is_empty(entry.raw.get(view.name))
        )
        if not report_empty and empty:
            view.errors = []
    return ok


def _file_errors(view: FieldView) -> list[str]:
    count = len(view.files)
    limit = view.field.extra.get("max_files") or (10 if view.field.multiple else 1)
    if view.field.required and count == 0:
        return [str(_l("Add at least one file."))]
    if count > limit:
        return [str(_l("Add at most %(num)d files.", num=limit))]
    return []


def _is_empty(value: Any) -> bool:
    return value in (None, "", [], False)


# -- submitting -------------------------------------------------------------------------------


def stored_answers(entry: Entry) -> dict[str, Any]:
    """The visible answers as JSON values, each converted by its field type."""
    from portal.default_plugins.field_types import MoneyType

    answers: dict[str, Any] = {}
    for view in entry.views:
        if not view.visible or not view.field.has_value:
            continue
        if view.type.widget == "file":
            value = [
                {"id": a.id, "filename": a.filename, "content_type": a.content_type, "size": a.size}
                for a in view.files
            ] or None
        elif isinstance(view.type, MoneyType):
            value = MoneyType.money_value(view.bound)
        else:
            value = view.type.to_storage(view.bound.data, view.field, entry.ctx)
        if value is not None:
            answers[view.name] = value
    return answers


def request_title(form_def: FormDef, answers: dict[str, Any]) -> str:
    """The answer that names the request: a field called ``title``, else the first text
    answer, else the form's own title."""
    if isinstance(answers.get("title"), str):
        return answers["title"][:300]
    for question in form_def.fields:
        if question.type == "text" and isinstance(answers.get(question.name), str):
            return answers[question.name][:300]
    return localize(form_def.title, form_def.default_language, form_def.default_language)[:300]


def submit(entry: Entry, user: User, *, nonce: str, draft: Draft | None = None) -> ChangeRequest:
    """Turn valid answers into a request, in the caller's transaction (the caller commits).

    ``nonce`` names the page the answers came from, so the same page is never sent twice.
    A ``draft`` kept while typing goes with the submission: its files move to the request
    and the draft itself is removed.
    """
    answers = stored_answers(entry)
    change = ChangeRequest(
        draft_nonce=nonce,
        number=next_number(entry.form_def.number_prefix),
        form_version=entry.version,
        organisation_id=user.organisation_id,
        requester=user,
        title=request_title(entry.form_def, answers),
        answers=answers,
    )
    db.session.add(change)
    if draft is not None:
        _move_files(draft, change, answers)
        db.session.delete(draft)
    db.session.flush()
    from portal.approvals import service as approvals

    approvals.start(change, user)
    return change


def _move_files(draft: Draft, change: ChangeRequest, answers: dict[str, Any]) -> None:
    """The draft's files of the answered fields become the request's; the others (of a field
    that ended up hidden) are not part of the request and are removed."""
    kept = {
        a["id"]
        for value in answers.values()
        if isinstance(value, list)
        for a in value
        if isinstance(a, dict)
    }
    for attachment in list(draft.attachments):
        if attachment.id in kept:
            attachment.request = change
            attachment.draft = None
        else:
            uploads.path_of(current_app.config["UPLOAD_FOLDER"], attachment.storage_key).unlink(
                missing_ok=True
            )
            db.session.delete(attachment)


def formdata_of(answers: dict[str, Any], form_def: FormDef, ctx: EntryContext) -> MultiDict:
    """Stored answers as form data again, to open a submitted request for revision."""
    types = field_types()
    data = MultiDict()
    for f in form_def.fields:
        if f.has_value and f.name in answers:
            for key, value in types[f.type].to_formdata(answers[f.name], f, ctx).items():
                for item in value if isinstance(value, list) else [value]:
                    data.add(key, item)
    return data
