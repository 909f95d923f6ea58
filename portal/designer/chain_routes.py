"""The chain designer's pages: one draft's approval chain, edited step by step, and a
simulate panel that shows what the chain would do with sample answers.

Every edit saves the draft (whatever was typed, even when wrong) and renders the chain
again with the loader's problems beside the inputs they concern.  One URL serves the whole
page or, for htmx, the fragment (``Vary: HX-Request``).  Admins only, on every route.
"""

from __future__ import annotations

from types import SimpleNamespace

from flask import abort, current_app, make_response, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import func, or_, select

from portal.accounts.models import Organisation, Role, User
from portal.accounts.roles import admin_required
from portal.approvals.impact import DIMENSIONS
from portal.designer import bp
from portal.designer import chain_editing as edit
from portal.designer.chain_forms import apply_step_form, impact_from_form
from portal.designer.chain_view import ChainView, chain_view
from portal.designer.drafts import draft_or_404, save_definition
from portal.designer.simulate import simulate as run_simulation
from portal.extensions import db
from portal.i18n import available_locales

PEOPLE_LIMIT = 20


def _fragment_or_page(draft, view: ChainView, status: int = 200, notice: str | None = None):
    if request.headers.get("HX-Request"):
        body = render_template("designer/_chain_editor.html", draft=draft, view=view, notice=notice)
    else:
        body = render_template("designer/chain.html", draft=draft, view=view, notice=notice)
    response = make_response(body, status)
    response.headers["Vary"] = "HX-Request"
    return response


def _after_edit(draft, chain: dict | None, notice: str | None = None):
    """Save the chain into the draft, then answer with the chain as it now stands."""
    definition = dict(draft.definition or {})
    if chain is None or (not chain.get("steps") and not chain.get("impact")):
        definition.pop("chain", None)
    else:
        definition["chain"] = chain
    save_definition(draft, definition, current_user)
    db.session.commit()
    if not request.headers.get("HX-Request"):
        return redirect(url_for("designer.chain", draft_id=draft.id), code=303)
    response = _fragment_or_page(draft, chain_view(draft), notice=notice)
    response.headers["HX-Trigger"] = "chain-changed"
    return response


def _chain_of(draft) -> dict:
    chain = (draft.definition or {}).get("chain")
    return dict(chain) if isinstance(chain, dict) else {}


def _gone(draft):
    """A step that is no longer there (another tab removed it): show the chain as it is."""
    notice = gettext("That step is no longer in the chain; here it is as it stands now.")
    return _fragment_or_page(draft, chain_view(draft), 409, notice)


@bp.get("/drafts/<int:draft_id>/chain")
@admin_required
def chain(draft_id: int):
    """The chain designer of one draft, with its simulate panel."""
    draft = draft_or_404(draft_id)
    return _fragment_or_page(draft, chain_view(draft))


@bp.post("/drafts/<int:draft_id>/chain/steps")
@admin_required
def chain_add_step(draft_id: int):
    draft = draft_or_404(draft_id)
    return _after_edit(draft, edit.add_step(_chain_of(draft), request.form.get("kind") or "task"))


@bp.post("/drafts/<int:draft_id>/chain/steps/<int:index>")
@admin_required
def chain_save_step(draft_id: int, index: int):
    """Every setting of one step, from its form."""
    draft = draft_or_404(draft_id)
    chain = _chain_of(draft)
    if not 0 <= index < len(edit.flatten(chain)):
        return _gone(draft)
    registry = current_app.extensions["portal.registries"].approver_rules
    updated = apply_step_form(
        chain, index, request.form, languages=available_locales(), plugin_rules=set(registry)
    )
    return _after_edit(draft, updated)


@bp.post("/drafts/<int:draft_id>/chain/steps/<int:index>/move")
@admin_required
def chain_move_step(draft_id: int, index: int):
    """Up or down one place (``direction``), or to a place (``to``, when dragged)."""
    draft = draft_or_404(draft_id)
    chain = _chain_of(draft)
    if not 0 <= index < len(edit.flatten(chain)):
        return _gone(draft)
    direction = request.form.get("direction")
    if direction in ("up", "down"):
        offset = -1 if direction == "up" else 1
    else:
        target = edit.number_or_text(request.form.get("to"))
        if not isinstance(target, int):
            return _fragment_or_page(draft, chain_view(draft), 422)
        offset = target - index
    return _after_edit(draft, edit.move_step(chain, index, offset))


@bp.post("/drafts/<int:draft_id>/chain/steps/<int:index>/remove")
@admin_required
def chain_remove_step(draft_id: int, index: int):
    draft = draft_or_404(draft_id)
    chain = _chain_of(draft)
    if not 0 <= index < len(edit.flatten(chain)):
        return _gone(draft)
    return _after_edit(draft, edit.remove_step(chain, index))


@bp.post("/drafts/<int:draft_id>/chain/impact")
@admin_required
def chain_impact(draft_id: int):
    """Which fields give cost, time, resources and risk, and their bounds."""
    draft = draft_or_404(draft_id)
    return _after_edit(draft, impact_from_form(_chain_of(draft), request.form, DIMENSIONS))


@bp.get("/drafts/<int:draft_id>/chain/people")
@admin_required
def chain_people(draft_id: int):
    """Staff whose name or e-mail address holds ``q``, as choices for one step's form."""
    draft = draft_or_404(draft_id)
    step = edit.number_or_text(request.args.get("step"))
    if not isinstance(step, int) or not 0 <= step < len(edit.flatten(_chain_of(draft))):
        abort(404)
    query = (request.args.get("q") or "").strip()[:100]
    people = []
    if query:
        pattern = f"%{query.lower()}%"
        people = db.session.scalars(
            select(User)
            .where(User.active.is_(True), User.role.in_([Role.APPROVER.value, Role.ADMIN.value]))
            .where(or_(func.lower(User.name).like(pattern), func.lower(User.email).like(pattern)))
            .order_by(User.name)
            .limit(PEOPLE_LIMIT)
        ).all()
    response = make_response(
        render_template(
            "designer/_chain_people.html", draft=draft, index=step, people=people, query=query
        )
    )
    response.headers["Vary"] = "HX-Request"
    return response


@bp.get("/drafts/<int:draft_id>/chain/simulate")
@admin_required
def chain_simulate(draft_id: int):
    """A dry run of the draft's chain with the sample answers of the query string.  It only
    reads: the engine runs on copies, and nothing is stored."""
    draft = draft_or_404(draft_id)
    view = chain_view(draft)
    result, failed = None, []
    requester = _sample_requester(request.args.get("requester"))
    organisation_id = _sample_organisation(request.args.get("organisation"), requester)
    if view.chain_def is not None:
        answers = view.sample_answers(request.args)
        sample = SimpleNamespace(
            id=None,
            organisation_id=organisation_id,
            requester_id=requester.id if requester else None,
            answers=answers,
        )
        rules = current_app.extensions["portal.registries"].approver_rules

        def resolve(rule):
            found = rules.get(rule.name)
            if found is None:
                return set()
            try:
                return set(found.people(rule.params, sample))
            except Exception:  # a plug-in rule that needs a real request
                current_app.logger.exception("simulating the rule %s", rule.name)
                db.session.rollback()
                failed.append(rule.name)
                return set()

        result = run_simulation(
            view.chain_def,
            answers,
            resolve=resolve,
            requester_id=requester.id if requester else None,
        )
    db.session.rollback()  # a dry run never leaves anything behind
    people = {}
    if result is not None:
        ids = {uid for run in result.steps for uid in run.people if uid > 0}
        if ids:
            people = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}
    template = "designer/_chain_result.html"
    if request.args.get("panel"):
        template = "designer/_chain_simulate.html"
    if not request.headers.get("HX-Request"):
        template = "designer/chain.html"
    response = make_response(
        render_template(
            template,
            draft=draft,
            view=view,
            result=result,
            people=people,
            requester=requester,
            failed=sorted(set(failed)),
            simulated=True,
        )
    )
    response.headers["Vary"] = "HX-Request"
    return response


def _sample_requester(value) -> User | None:  # noqa: ANN001
    number = edit.number_or_text(value)
    return db.session.get(User, number) if isinstance(number, int) else None


def _sample_organisation(value, requester: User | None) -> int | None:  # noqa: ANN001
    number = edit.number_or_text(value)
    if isinstance(number, int) and db.session.get(Organisation, number) is not None:
        return number
    return requester.organisation_id if requester else None
