"""The designer's pages: the forms and drafts, one draft being edited, publishing it,
a form's versions, and the YAML of a draft or a version.

Every route is for admins only (``admin_required``), fragments included. Editing posts the
whole editor (every input, named after what it edits) on each change; the answer is either
the messages and the preview (a text was typed) or the editor drawn again (its structure
changed: a field added, moved, retyped…). Without JavaScript the same post saves and
comes back to the page.
"""

from __future__ import annotations

import copy

import yaml
from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from werkzeug.routing import BuildError

from portal.accounts.models import User
from portal.accounts.roles import admin_required
from portal.audit.trace import record
from portal.designer import bp, editing, posted, workbench
from portal.designer.diff import difference
from portal.designer.drafts import draft_from_version, draft_or_404, new_draft, save_definition
from portal.designer.models import FormDraft
from portal.extensions import db
from portal.forms.definition import LANGUAGE, NUMBER_PREFIX, SLUG, DefinitionError, Problem
from portal.forms.models import Form, FormVersion
from portal.forms.service import check_definition, field_rules, publish
from portal.i18n import available_locales

TYPE_LABELS = {
    "text": _l("Short text"),
    "textarea": _l("Long text"),
    "number": _l("Number"),
    "money": _l("Amount of money"),
    "percent": _l("Percentage"),
    "date": _l("Date"),
    "datetime": _l("Date and time"),
    "email": _l("E-mail address"),
    "phone": _l("Phone number"),
    "url": _l("Web address"),
    "select": _l("Drop-down list"),
    "multiselect": _l("Several choices"),
    "radio": _l("One choice"),
    "checkbox": _l("Tick box"),
    "file": _l("Files and photos"),
    "section": _l("Section heading"),
}
OPERATOR_LABELS = {
    "answered": _l("is answered"),
    "not_answered": _l("is not answered"),
    "eq": _l("is"),
    "ne": _l("is not"),
    "contains": _l("includes"),
    "gt": _l("is more than"),
    "ge": _l("is at least"),
    "lt": _l("is less than"),
    "le": _l("is at most"),
}
FILE_KIND_LABELS = (
    ("image", _l("Photos and images")),
    ("pdf", _l("PDF")),
    ("document", _l("Documents")),
    ("spreadsheet", _l("Spreadsheets")),
    ("text", _l("Text files")),
    ("archive", _l("Archives (zip)")),
)
PRESET_LABELS = {
    "digits": _l("Digits only"),
    "letters": _l("Letters only"),
    "letters_digits": _l("Letters and digits"),
    "project_code": _l("Project code like AB-1234"),
    "postcode": _l("Postcode"),
    "phone": _l("Phone number"),
}


def _user():
    return current_user._get_current_object()


def _name_problems(draft: FormDraft, definition: dict) -> list[Problem]:
    """A draft's form name must be free: no other draft and no other form has it."""
    name = definition.get("name")
    if not isinstance(name, str) or not SLUG.fullmatch(name) or name == draft.form_name:
        return []
    other = db.session.scalar(select(FormDraft.id).where(FormDraft.form_name == name))
    form = db.session.scalar(select(Form.id).where(Form.name == name))
    if other is not None or form is not None:
        return [
            Problem(
                "name", _("the name '%(value)s' is already used by another form"), {"value": name}
            )
        ]
    return []


def _chain_url(draft: FormDraft) -> str | None:
    """The chain designer's page for this draft, once that part of the designer exists."""
    try:
        return url_for("designer.chain", draft_id=draft.id)
    except BuildError:
        return None


def _editor_context(draft: FormDraft, outcome: posted.Outcome | None = None) -> dict:
    data = draft.definition
    checked = workbench.check(data, _name_problems(draft, data))
    languages = workbench.languages_of(data, available_locales())
    wanted = request.form.get("preview_lang") if request.method == "POST" else None
    locale = wanted if wanted in languages else None
    return {
        "draft": draft,
        "data": data,
        "checked": checked,
        "preview": workbench.preview(checked.definition, locale) if checked.definition else None,
        "editors": workbench.field_editors(copy.deepcopy(data)),
        "languages": languages,
        "preview_lang": locale or "",
        "default_language": editing.default_language(data),
        "types": field_rules(),
        "type_labels": TYPE_LABELS,
        "operator_labels": OPERATOR_LABELS,
        "preset_labels": PRESET_LABELS,
        "presets": editing.PATTERN_PRESETS,
        "preset_of": workbench.preset_of,
        "slot_id": workbench.slot_id,
        "slots": workbench.slot_paths(data),
        "outcome": outcome or posted.Outcome(),
        "chain_url": _chain_url(draft),
        "announcement": _announcement(data, outcome),
        "published": _published(draft.form_name),
        "open_names": _open_names(outcome),
        "file_kinds": FILE_KIND_LABELS,
    }


def _open_names(outcome: posted.Outcome | None) -> set[str]:
    """The questions whose editors stay open after a redraw: those the page had open, or
    only the new one after an addition."""
    if request.method != "POST" or (
        outcome and outcome.announce and outcome.announce[0] == "added"
    ):
        return set()
    return set(request.form.getlist("open"))


def _published(name: str) -> Form | None:
    return db.session.scalar(select(Form).where(Form.name == name))


def _announcement(data: dict, outcome: posted.Outcome | None) -> str:
    """The sentence a screen reader hears after a field was added, moved or removed."""
    if outcome is None or outcome.announce is None:
        return ""
    what, params = outcome.announce
    fields = editing.fields_of(copy.deepcopy(data))
    language = editing.default_language(data)

    def label(item) -> str:  # noqa: ANN001
        texts = editing.texts_of(item.get("label"), language) if isinstance(item, dict) else {}
        return texts.get(language) or next(iter(texts.values()), "") or str(item.get("name", ""))

    if what == "moved":
        index = params["index"]
        return _(
            "%(label)s moved to position %(position)d of %(count)d.",
            label=label(fields[index]),
            position=index + 1,
            count=params["count"],
        )
    if what == "added":
        return _("%(label)s added at the end.", label=label(fields[params["index"]]))
    if what == "removed":
        return _("%(label)s removed.", label=label(params["field"]))
    return ""


# --- the list ---------------------------------------------------------------------------


@bp.get("/")
@admin_required
def index():
    """Published forms and drafts in progress."""
    forms = db.session.scalars(select(Form).order_by(Form.name)).all()
    drafts = db.session.scalars(select(FormDraft).order_by(FormDraft.form_name)).all()
    by_name = {draft.form_name: draft for draft in drafts}
    published = {form.name for form in forms}
    return render_template(
        "designer/index.html",
        forms=forms,
        drafts=[d for d in drafts if d.form_name not in published],
        draft_of=by_name,
    )


@bp.route("/new", methods=["GET", "POST"])
@admin_required
def new():
    """A new form: its name, title, language and number prefix; fields come next."""
    languages = available_locales()
    values = {"name": "", "title": "", "language": "en", "number_prefix": ""}
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = {key: request.form.get(key, "").strip() for key in values}
        values["number_prefix"] = values["number_prefix"].upper()
        if not SLUG.fullmatch(values["name"]):
            errors["name"] = _(
                "Use 2 to 63 lower-case letters, digits and hyphens, like change-request."
            )
        elif db.session.scalar(select(Form.id).where(Form.name == values["name"])) or (
            db.session.scalar(select(FormDraft.id).where(FormDraft.form_name == values["name"]))
        ):
            errors["name"] = _("Another form already has this name.")
        if not values["title"]:
            errors["title"] = _("Give the form a title.")
        if not LANGUAGE.fullmatch(values["language"]):
            errors["language"] = _("Choose a language.")
        if values["number_prefix"] and not NUMBER_PREFIX.fullmatch(values["number_prefix"]):
            errors["number_prefix"] = _("Use 1 to 6 capital letters, like CR.")
        if not errors:
            definition = editing.blank_definition(
                values["name"],
                {values["language"]: values["title"]},
                values["language"],
                values["number_prefix"],
            )
            draft = new_draft(definition, _user(), "blank", keep_name=True)
            db.session.commit()
            return redirect(url_for("designer.edit", draft_id=draft.id))
    status = 422 if errors else 200
    return (
        render_template("designer/new.html", values=values, errors=errors, languages=languages),
        status,
    )


# --- editing ----------------------------------------------------------------------------


@bp.get("/drafts/<int:draft_id>")
@admin_required
def edit(draft_id: int):
    """One draft: its form, with the live preview beside it."""
    draft = draft_or_404(draft_id)
    return render_template("designer/edit.html", **_editor_context(draft))


@bp.post("/drafts/<int:draft_id>")
@admin_required
def save(draft_id: int):
    """Every change on the editor: save the draft, answer with what the page must redraw."""
    draft = draft_or_404(draft_id)
    data = copy.deepcopy(draft.definition)
    before = workbench.structure(data)
    labels = posted.Labels(
        question=_("Question %(number)d"),
        section=_("Section %(number)d"),
        option=_("Option %(number)d"),
    )
    outcome = posted.apply(data, request.form, field_rules(), labels)
    save_definition(draft, data, _user())
    if not _name_problems(draft, data) and isinstance(data.get("name"), str):
        if SLUG.fullmatch(data["name"]) and data["name"] != draft.form_name:
            if _published(draft.form_name) is None:  # a published form keeps its name
                draft.form_name = data["name"]
    db.session.commit()
    if not request.headers.get("HX-Request"):
        return redirect(url_for("designer.edit", draft_id=draft.id))
    context = _editor_context(draft, outcome)
    if workbench.structure(data) != before or outcome.focus is not None:
        response = Response(render_template("designer/_editor_swap.html", **context))
        response.headers["HX-Retarget"] = "#editor"
        response.headers["HX-Reswap"] = "outerHTML"
        return response
    return render_template("designer/_messages.html", **context)


@bp.post("/drafts/<int:draft_id>/discard")
@admin_required
def discard(draft_id: int):
    draft = draft_or_404(draft_id)
    db.session.delete(draft)
    db.session.commit()
    flash(_("The draft is discarded."), "info")
    return redirect(url_for("designer.index"))


# --- publishing -------------------------------------------------------------------------


def _publish_context(draft: FormDraft) -> dict:
    data = draft.definition
    checked = workbench.check(data, _name_problems(draft, data))
    form = _published(draft.form_name)
    current = form.published if form is not None else None
    diff = None
    if checked.definition is not None:
        diff = difference(current.definition if current else None, checked.definition.to_dict())
    return {
        "draft": draft,
        "checked": checked,
        "current": current,
        "diff": diff,
        "chain_url": _chain_url(draft),
        "type_labels": TYPE_LABELS,
    }


@bp.get("/drafts/<int:draft_id>/publish")
@admin_required
def review(draft_id: int):
    """What publishing would change, compared with the published version."""
    draft = draft_or_404(draft_id)
    return render_template("designer/publish.html", **_publish_context(draft))


@bp.post("/drafts/<int:draft_id>/publish")
@admin_required
def publish_draft(draft_id: int):
    """Publish the draft as a new immutable version, leave a trace, close the draft."""
    draft = draft_or_404(draft_id)
    context = _publish_context(draft)
    if context["checked"].definition is None or draft.definition.get("name") != draft.form_name:
        flash(_("The draft has problems to fix before it can be published."), "error")
        return render_template("designer/publish.html", **context), 422
    try:
        version, created = publish(draft.definition, _user().id)
    except DefinitionError:  # checked a moment ago; a field type may have gone since
        db.session.rollback()
        flash(_("The draft has problems to fix before it can be published."), "error")
        return render_template("designer/publish.html", **context), 422
    if created:
        db.session.flush()
        record(
            event="form_published",
            actor_id=_user().id,
            ip_address=request.remote_addr,
            data={
                "form": version.form.name,
                "version": version.number,
                "checksum": version.checksum,
                "source": draft.source,
            },
        )
        flash(
            _(
                "%(name)s version %(number)d is published.",
                name=version.form.name,
                number=version.number,
            ),
            "info",
        )
    else:
        flash(_("Nothing changed: version %(number)d stays.", number=version.number), "info")
    db.session.delete(draft)
    db.session.commit()
    return redirect(url_for("designer.versions", name=version.form.name))


# --- published forms --------------------------------------------------------------------


def _form_or_404(name: str) -> Form:
    form = db.session.scalar(select(Form).where(Form.name == name))
    if form is None:
        abort(404)
    return form


def _version_or_404(form: Form, version_number: int) -> FormVersion:
    version = next((v for v in form.versions if v.number == version_number), None)
    if version is None:
        abort(404)
    return version


@bp.get("/<name>/versions")
@admin_required
def versions(name: str):
    """A form's published versions, newest first, and its open draft."""
    form = _form_or_404(name)
    draft = db.session.scalar(select(FormDraft).where(FormDraft.form_name == form.name))
    ids = {v.published_by_id for v in form.versions if v.published_by_id}
    people = db.session.scalars(select(User).where(User.id.in_(ids))).all() if ids else []
    return render_template(
        "designer/versions.html",
        form=form,
        versions=list(reversed(form.versions)),
        draft=draft,
        publishers={person.id: person.name for person in people},
    )


@bp.post("/<name>/edit")
@admin_required
def edit_form(name: str):
    """Open the draft of a published form (made from its newest version when there is none)."""
    form = _form_or_404(name)
    if form.published is None:
        abort(404)
    draft = draft_from_version(form.published, _user())
    db.session.commit()
    return redirect(url_for("designer.edit", draft_id=draft.id))


@bp.post("/<name>/versions/<int:version_number>/restore")
@admin_required
def restore(name: str, version_number: int):
    """A new draft from an earlier version; publishing it makes a new version."""
    form = _form_or_404(name)
    version = _version_or_404(form, version_number)
    existing = db.session.scalar(select(FormDraft).where(FormDraft.form_name == form.name))
    if existing is not None:
        flash(
            _("This form already has a draft: publish or discard it before restoring a version."),
            "error",
        )
        return redirect(url_for("designer.versions", name=form.name))
    draft = new_draft(version.definition, _user(), f"version:{version.number}", keep_name=True)
    draft.based_on_version_id = version.id
    db.session.commit()
    flash(_("A draft was made from version %(number)d.", number=version.number), "info")
    return redirect(url_for("designer.edit", draft_id=draft.id))


@bp.post("/<name>/archive")
@admin_required
def archive(name: str):
    """Archive a form (clients no longer see it) or bring it back."""
    form = _form_or_404(name)
    form.archived = request.form.get("archived") == "1"
    db.session.commit()
    if form.archived:
        flash(_("The form is archived: clients no longer see it."), "info")
    else:
        flash(_("The form is back: clients can fill it in again."), "info")
    return redirect(url_for("designer.versions", name=form.name))


# --- YAML -------------------------------------------------------------------------------


def _yaml_response(data: dict, filename: str) -> Response:
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    response = Response(text, mimetype="application/yaml")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def export_data(data: dict) -> dict:
    """What a draft exports: its checked, canonical definition, or as it is while it has
    problems (``portal forms validate`` then lists them)."""
    try:
        return check_definition(data).to_dict()
    except DefinitionError:
        return data


@bp.get("/drafts/<int:draft_id>/export.yaml")
@admin_required
def export_draft(draft_id: int):
    draft = draft_or_404(draft_id)
    return _yaml_response(export_data(draft.definition), f"{draft.form_name}-draft.yaml")


@bp.get("/<name>/versions/<int:version_number>/export.yaml")
@admin_required
def export_version(name: str, version_number: int):
    form = _form_or_404(name)
    version = _version_or_404(form, version_number)
    return _yaml_response(version.definition, f"{form.name}-v{version.number}.yaml")


# --- the template gallery ---------------------------------------------------------------


def _template_or_404(template_name: str) -> tuple:
    """The card and the definition of a shipped template."""
    from portal.forms.templates_library import list_templates, load_template

    card = next((c for c in list_templates() if c.name == template_name), None)
    if card is None:
        abort(404)
    return card, load_template(template_name)


def _counts(data: dict) -> tuple[int, int]:
    """How many questions (sections aside) and chain steps a definition has."""
    from portal.designer.diff import _steps

    rules = field_rules()
    questions = [
        f
        for f in data.get("fields") or []
        if isinstance(f, dict) and getattr(rules.get(f.get("type")), "has_value", True)
    ]
    return len(questions), len(_steps(data.get("chain") or {}))


@bp.get("/templates")
@admin_required
def gallery():
    """The ready templates, as cards in the reader's language."""
    from portal.forms.templates_library import list_templates, load_template

    locale = str(get_locale())
    cards = []
    for card in list_templates():
        questions, steps = _counts(load_template(card.name))
        cards.append(
            {
                "name": card.name,
                "title": card.title_in(locale),
                "summary": card.summary_in(locale),
                "category": card.category_in(locale),
                "questions": questions,
                "steps": steps,
            }
        )
    return render_template("designer/gallery.html", cards=cards)


@bp.get("/templates/<template_name>")
@admin_required
def template_preview(template_name: str):
    """One template: its card, and its form as a client would see it (read-only)."""
    card, data = _template_or_404(template_name)
    locale = str(get_locale())
    definition = check_definition(data)
    questions, steps = _counts(data)
    chain = definition.chain
    step_labels = []
    if chain is not None:
        for stage in chain.stages:
            for step in stage.steps:
                step_labels.append(step.label or {"en": step.name})
    return render_template(
        "designer/template.html",
        card=card,
        title=card.title_in(locale),
        summary=card.summary_in(locale),
        category=card.category_in(locale),
        questions=questions,
        steps=step_labels,
        default_language=definition.form.default_language,
        preview=workbench.preview(definition),
    )


@bp.post("/templates/<template_name>/use")
@admin_required
def use_template(template_name: str):
    """An editable copy of the template, under a form name nobody uses yet."""
    _card, data = _template_or_404(template_name)
    draft = new_draft(data, _user(), f"template:{template_name}")
    db.session.commit()
    flash(_("This is your copy of the template: change anything, then publish it."), "info")
    return redirect(url_for("designer.edit", draft_id=draft.id))
