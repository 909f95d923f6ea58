"""What the chain designer's templates show: each step with its pickers' state and the
loader's problems beside the inputs they concern, and the choices the pickers offer
(roles, groups, the draft's fields, plug-in rules).  Read-only."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from flask import current_app
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from portal.accounts.models import Organisation, Role, User
from portal.approvals.definition import STEP_KEYS, ChainDef, load_chain
from portal.approvals.impact import (
    BUSINESS_VALUE_FIELD,
    COMPUTED_NAMES,
    DEFAULT_FIELDS,
    DEFAULT_THRESHOLDS,
    DIMENSIONS,
    FEASIBILITY_FIELD,
    LEVELS,
)
from portal.approvals.models import Group
from portal.approvals.rules import BUILT_IN_RULES, ROLES
from portal.approvals.views import IMPACT_LABELS
from portal.designer import chain_editing as edit
from portal.designer.chain_forms import Pickers, escalation_choice, pickers_for
from portal.forms.definition import DefinitionError, localize
from portal.forms.service import check_definition
from portal.i18n import available_locales

#: A condition on one dimension of the impact matrix, as the pickers name it.
COMPUTED_DIMENSION_LABELS = {
    "cost": _l("computed cost impact"),
    "time": _l("computed time impact"),
    "resources": _l("computed resources impact"),
    "risk": _l("computed risk impact"),
}

STEP_SLOTS = STEP_KEYS
"""The inputs a problem can be shown beside; others go at the top of the step."""
NUMBER_TYPES = ("number", "percent", "money")
CHOICE_TYPES = ("select", "radio", "multiselect")
SAMPLE_LIMIT = 200


@dataclass
class FieldChoice:
    """A field of the draft's form, as the pickers offer it."""

    name: str
    type: str
    label: str
    options: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class StepView:
    index: int
    path: str
    step: dict
    with_previous: bool
    pickers: Pickers
    problems: dict[str, list[str]]

    @property
    def kind(self) -> str:
        return str(self.step.get("kind") or "")

    @property
    def name(self) -> str:
        return str(self.step.get("name") or "")

    def label(self, language: str) -> str:
        label = self.step.get("label")
        if isinstance(label, Mapping):
            return str(label.get(language) or "")
        return str(label) if isinstance(label, str) and language == "en" else ""

    @property
    def decide(self) -> tuple[str, Any]:
        decide = self.step.get("decide")
        if isinstance(decide, Mapping) and len(decide) == 1:
            ((mode, count),) = decide.items()
            return str(mode), count
        return (decide if decide in ("any", "all") else "any"), ""

    @property
    def condition(self) -> tuple[str, str, str]:
        return edit.condition_parts(self.step.get("when")) or ("", "==", "")

    @property
    def when(self) -> str:
        when = self.step.get("when")
        return when if isinstance(when, str) else ""

    def duration(self, key: str) -> tuple[str, str, bool]:
        return edit.duration_parts(self.step.get(key))

    @property
    def escalation(self) -> tuple[str, str]:
        return escalation_choice(self.step.get("escalate_to"))

    @property
    def requester_step(self) -> bool:
        return self.kind in edit.REQUESTER_KINDS


class ChainView:
    """The chain of one draft as the designer shows it."""

    def __init__(self, draft):  # noqa: ANN001
        self.draft = draft
        self.definition: dict = dict(draft.definition or {})
        chain = self.definition.get("chain")
        self.chain: dict = dict(chain) if isinstance(chain, Mapping) else {}
        self.default_language = str(self.definition.get("default_language") or "en")
        self.locale = str(get_locale() or "en")
        self.languages = available_locales()
        self.roles = ROLES
        self.levels = LEVELS
        self.dimensions = DIMENSIONS
        registry = current_app.extensions["portal.registries"].approver_rules
        self.plugin_rules = sorted(name for name in registry if name not in BUILT_IN_RULES)
        self.problems = self._problems()
        self.steps = self._steps()

    # --- problems

    def _problems(self) -> list[tuple[str, str]]:
        try:
            check_definition(self.definition)
        except DefinitionError as error:
            return [(_place(p), p.message(gettext)) for p in error.problems]
        return []

    def _steps(self) -> list[StepView]:
        paths = edit.step_paths(self.chain)
        by_step: list[dict[str, list[str]]] = [{} for _ in paths]
        self.chain_problems: list[tuple[str, str]] = []
        self.impact_problems: list[tuple[str, str]] = []
        self.form_problems: list[tuple[str, str]] = []
        for path, message in self.problems:
            index, rest = _step_of(path, paths)
            if index is not None:
                slot = re.match(r"\.([a-z_]+)", rest)
                key = slot.group(1) if slot and slot.group(1) in STEP_SLOTS else ""
                by_step[index].setdefault(key, []).append(message)
            elif path.startswith("chain.impact"):
                self.impact_problems.append((path, message))
            elif path == "chain" or path.startswith("chain."):
                self.chain_problems.append((path, message))
            else:
                self.form_problems.append((path, message))
        return [
            StepView(
                index=i,
                path=paths[i] if i < len(paths) else "",
                step=entry.step,
                with_previous=entry.with_previous,
                pickers=pickers_for(entry.step.get("assignees"), self.plugin_rules),
                problems=by_step[i] if i < len(by_step) else {},
            )
            for i, entry in enumerate(edit.flatten(self.chain))
        ]

    @property
    def has_problems(self) -> bool:
        return bool(self.problems)

    # --- the form's fields

    def _text(self, value: Any) -> str:
        if isinstance(value, Mapping):
            return localize(value, self.locale, self.default_language)
        return str(value) if value is not None else ""

    @cached_property
    def fields(self) -> list[FieldChoice]:
        """The form's fields that hold a value, in order."""
        found = []
        for item in self.definition.get("fields") or []:
            if not (isinstance(item, Mapping) and isinstance(item.get("name"), str)):
                continue
            if item.get("type") == "section":
                continue
            options = []
            for option in item.get("options") or []:
                if isinstance(option, Mapping):
                    value = str(option.get("value", ""))
                    options.append((value, self._text(option.get("label")) or value))
                else:
                    options.append((str(option), str(option)))
            label = self._text(item.get("label")) or item["name"]
            found.append(FieldChoice(item["name"], str(item.get("type")), label, options))
        return found

    @property
    def field_names(self) -> set[str]:
        return {f.name for f in self.fields}

    @property
    def email_fields(self) -> list[FieldChoice]:
        return [f for f in self.fields if f.type == "email"]

    def condition_names(self) -> list[tuple[str, str, list[tuple[str, str]]]]:
        """What a condition can be about: the computed impact names, then the fields;
        each with its options (levels for the computed ones)."""
        levels = [(level, str(IMPACT_LABELS[level])) for level in LEVELS]
        computed = {
            "impact": gettext("computed impact"),
            "priority": gettext("computed priority"),
        }
        for dimension in DIMENSIONS:
            computed[f"impact_{dimension}"] = str(COMPUTED_DIMENSION_LABELS[dimension])
        names = [(name, computed[name], levels) for name in COMPUTED_NAMES]
        names += [(f.name, f.label, f.options) for f in self.fields if f.name not in COMPUTED_NAMES]
        return names

    def step_label(self, step) -> str:  # noqa: ANN001
        """A loaded step's label in the viewer's language (its name without one)."""
        return localize(step.label, self.locale, self.default_language) or step.name

    # --- the impact matrix

    def impact_field(self, dimension: str) -> str:
        """The field a dimension is read from now ("-" when not measured)."""
        impact = self.chain.get("impact") if isinstance(self.chain.get("impact"), Mapping) else {}
        fields = impact.get("fields") if isinstance(impact.get("fields"), Mapping) else {}
        name = fields[dimension] if dimension in fields else DEFAULT_FIELDS.get(dimension)
        return name if isinstance(name, str) and name in self.field_names else "-"

    def impact_bounds(self, dimension: str) -> tuple[Any, Any]:
        impact = self.chain.get("impact") if isinstance(self.chain.get("impact"), Mapping) else {}
        bounds = impact.get("thresholds") if isinstance(impact.get("thresholds"), Mapping) else {}
        value = bounds[dimension] if dimension in bounds else DEFAULT_THRESHOLDS.get(dimension)
        if isinstance(value, Mapping):
            return value.get("low", ""), value.get("medium", "")
        return "", ""

    # --- pickers' choices

    @cached_property
    def groups(self) -> list[Group]:
        return list(db_scalars(select(Group).order_by(Group.name)))

    def group_names(self, step: StepView) -> list[tuple[str, str]]:
        """Every group, plus those the step names that do not exist (yet)."""
        known = [(g.name, g.title or g.name) for g in self.groups]
        names = {name for name, _ in known}
        return known + [(n, n) for n in step.pickers.groups if n not in names]

    def person(self, email: str) -> User | None:
        return self._people_by_email.get(email.lower())

    @cached_property
    def _people_by_email(self) -> dict[str, User]:
        emails = {e.lower() for step in self.steps for e in step.pickers.users}
        for step in self.steps:
            choice, email = step.escalation
            if choice == "user" and email:
                emails.add(email.lower())
        if not emails:
            return {}
        users = db_scalars(select(User).where(func.lower(User.email).in_(emails)))
        return {u.email.lower(): u for u in users}

    # --- the simulate panel

    @cached_property
    def chain_def(self) -> ChainDef | None:
        """The chain, loaded on its own (so that a problem in the form alone does not stop
        the dry run); None while the chain has problems."""
        if not self.chain or self.chain_problems or any(s.problems for s in self.steps):
            return None
        if self.impact_problems:
            return None
        registry = current_app.extensions["portal.registries"].approver_rules
        try:
            return load_chain(
                self.chain,
                field_names=self.field_names,
                rule_names=set(registry),
                rule_specs={name: rule.spec for name, rule in registry.items()},
                default_language=self.default_language,
            )
        except DefinitionError:
            return None

    @cached_property
    def sample_fields(self) -> list[FieldChoice]:
        """The fields the chain reads: in conditions, the impact matrix, the priority and
        ``{field: ...}`` rules; all the fields when it reads none."""
        chain = self.chain_def
        if chain is None:
            return []
        used: set[str] = {BUSINESS_VALUE_FIELD, FEASIBILITY_FIELD}
        used |= {name for name in chain.impact.fields.values() if name}
        for step in chain.steps:
            if step.when is not None:
                used |= set(step.when.names)
            used |= {r.params for r in step.assignees if r.name == "field"}
        return [f for f in self.fields if f.name in used and f.type != "file"]

    def sample_answers(self, args) -> dict[str, Any]:  # noqa: ANN001
        answers: dict[str, Any] = {}
        for item in self.sample_fields:
            key = f"a_{item.name}"
            if item.type == "multiselect":
                answers[item.name] = [v for v in args.getlist(key) if v]
            elif item.type == "checkbox":
                answers[item.name] = bool(args.get(key))
            elif item.type in NUMBER_TYPES:
                text = (args.get(key) or "").strip()
                answers[item.name] = edit.number_or_text(text) if text else None
            else:
                answers[item.name] = (args.get(key) or "").strip()
        return answers

    @cached_property
    def sample_requesters(self) -> list[User]:
        return list(
            db_scalars(
                select(User)
                .where(User.role == Role.CLIENT.value, User.active.is_(True))
                .order_by(User.name)
                .limit(SAMPLE_LIMIT)
            )
        )

    @cached_property
    def organisations(self) -> list[Organisation]:
        return list(
            db_scalars(select(Organisation).order_by(Organisation.name).limit(SAMPLE_LIMIT))
        )


def _place(problem) -> str:  # noqa: ANN001
    """The problem's path; a missing ``assignees`` is reported on the step, but the admin
    fixes it with the "who acts" pickers, so it is shown there."""
    if "needs assignees" in problem.msgid:
        return problem.path + ".assignees"
    return problem.path


def db_scalars(query):  # noqa: ANN001, ANN201
    from portal.extensions import db

    return db.session.scalars(query).all()


def _step_of(path: str, paths: list[str]) -> tuple[int | None, str]:
    """The flat index of the step a problem's path is in, and the rest of the path."""
    best = None
    for i, prefix in enumerate(paths):
        if path == prefix or (path.startswith(prefix) and path[len(prefix)] in ".["):
            if best is None or len(prefix) > len(paths[best]):
                best = i
    if best is None:
        return None, ""
    return best, path[len(paths[best]) :]


def chain_view(draft) -> ChainView:  # noqa: ANN001
    return ChainView(draft)
