"""Load and validate an approval chain (the ``chain:`` part of a form file) into frozen
dataclasses.

A chain lists the steps a submitted request walks: who acts on each, how the step
decides, when it applies, and its deadline.  :func:`load_chain` turns the plain data (from
YAML or JSON) into a :class:`ChainDef`, or raises
:class:`~portal.forms.definition.DefinitionError` listing *every* problem at once, each
with its path (``chain.steps[3].parallel[1].assignees[0]``) and a translatable message, in
the order the admin wrote them.

Pure Python on purpose: no Flask, WTForms or SQLAlchemy.  ``docs/approvals.md`` documents
the format for admins.
"""

from __future__ import annotations

import datetime
import difflib
import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from portal.approvals.impact import (
    COMPUTED_NAMES,
    DEFAULT_FIELDS,
    DEFAULT_THRESHOLDS,
    DIMENSIONS,
    ImpactMatrix,
)
from portal.approvals.rules import (
    BUILT_IN_RULES,
    Rule,
    RuleSpec,
    check_rule_params,
    spec_for,
)
from portal.forms.conditions import Condition, ConditionError, compile_condition
from portal.forms.definition import (
    N_,
    DefinitionError,
    Problem,
    ProblemCollector,
    localized_text,
)

__all__ = [
    "KINDS",
    "ChainDef",
    "DecidePolicy",
    "DefinitionError",
    "Duration",
    "Problem",
    "Rule",
    "StageDef",
    "StepDef",
    "load_chain",
]

KINDS = ("approval", "confirmation", "task", "feedback")
REQUESTER_KINDS = ("confirmation", "feedback")
"""Step kinds the requester acts on (their assignees are the requester)."""

STEP_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
LANGUAGE = re.compile(r"[a-z]{2,3}(_[A-Za-z]{2,4})?")
DURATION = re.compile(r"\s*(\d+)\s+(working\s+)?(hour|hours|day|days)\s*", re.IGNORECASE)
MAX_STEPS = 50
MAX_DURATION = 1000
MAX_QUORUM = 1000
WORKING_DAY_HOURS = 8
"""How many working hours a working day counts for when two durations are compared."""

CHAIN_KEYS = ("impact", "steps")
STEP_KEYS = (
    "name",
    "kind",
    "label",
    "assignees",
    "decide",
    "veto",
    "when",
    "deadline",
    "remind_before",
    "escalate_to",
    "keep_approvals_on_send_back",
)
_APPROVAL_ONLY = ("veto", "keep_approvals_on_send_back")
_OTHER_KEYS = tuple(key for key in STEP_KEYS if key not in _APPROVAL_ONLY)
KIND_KEYS = {kind: STEP_KEYS if kind == "approval" else _OTHER_KEYS for kind in KINDS}
IMPACT_KEYS = ("fields", "thresholds")
THRESHOLD_KEYS = ("low", "medium")


# --- public data types -----------------------------------------------------------------


@dataclass(frozen=True)
class Duration:
    """A deadline or reminder offset as the admin wrote it: ``2 working days``."""

    amount: int
    unit: str  # "hours" or "days"
    working: bool = False

    def __str__(self) -> str:
        unit = self.unit if self.amount != 1 else self.unit[:-1]
        return f"{self.amount} {'working ' if self.working else ''}{unit}"

    @classmethod
    def parse(cls, text: Any) -> Duration:
        """``"2 working days"`` -> Duration(2, "days", True); ValueError(msgid) otherwise."""
        match = DURATION.fullmatch(text) if isinstance(text, str) else None
        if not match:
            raise ValueError(
                N_(
                    "write a duration like '2 working days', '4 working hours', "
                    "'3 days' or '8 hours'"
                )
            )
        amount = int(match.group(1))
        if not 1 <= amount <= MAX_DURATION:
            raise ValueError(N_("a duration must be from 1 to 1000 hours or days"))
        unit = match.group(3).lower()
        unit = unit if unit.endswith("s") else unit + "s"
        return cls(amount, unit, bool(match.group(2)))

    def hours(self, working_day_hours: int = 24) -> int:
        """The nominal length in hours: a day counts ``working_day_hours`` when working
        (24 otherwise, and for calendar days)."""
        per_day = working_day_hours if self.working else 24
        return self.amount * (per_day if self.unit == "days" else 1)

    def as_timedelta(self) -> datetime.timedelta | None:
        """The length of a calendar duration; None for working time (which needs the
        working calendar: the caller counts working hours itself)."""
        if self.working:
            return None
        return datetime.timedelta(hours=self.hours())

    def is_shorter_than(self, other: Duration) -> bool:
        """Whether this duration is shorter than ``other``.  Days count 24 hours, except
        that when both are working time a working day counts 8 working hours."""
        per_day = WORKING_DAY_HOURS if self.working and other.working else 24
        return self.hours(per_day) < other.hours(per_day)


@dataclass(frozen=True)
class DecidePolicy:
    """How an approval step decides: ``any`` one, ``all``, a ``quorum`` of N approvals, or
    a ``percent`` of the assignees (rounded up)."""

    mode: str = "any"  # "any" | "all" | "quorum" | "percent"
    count: int | None = None  # N for quorum, P for percent

    def needed(self, eligible: int) -> int:
        """How many approvals complete the step when ``eligible`` people may vote."""
        if self.mode == "all":
            return eligible
        if self.mode == "quorum":
            return int(self.count or 1)
        if self.mode == "percent":
            return max(1, -(-int(self.count or 100) * eligible // 100))
        return 1

    def to_data(self) -> str | dict:
        if self.mode in ("any", "all"):
            return self.mode
        return {self.mode: self.count}

    def __str__(self) -> str:
        if self.mode in ("any", "all"):
            return self.mode
        return f"{self.mode} {self.count}{'%' if self.mode == 'percent' else ''}"


@dataclass(frozen=True)
class StepDef:
    """One step, as validated.

    ``assignees`` of a confirmation or feedback step is always ``(Rule("requester", True),)``.
    ``veto`` says whether one reject rejects the step: always True under ``any`` and
    ``all``; under ``quorum`` and ``percent`` as written (False when left out).
    """

    name: str
    kind: str
    label: Mapping[str, str] = field(default_factory=dict)
    assignees: tuple[Rule, ...] = ()
    decide: DecidePolicy = DecidePolicy()
    veto: bool = True
    when: Condition | None = None
    deadline: Duration | None = None
    remind_before: Duration | None = None
    escalate_to: Rule | None = None
    keep_approvals_on_send_back: bool = False

    @property
    def acted_on_by_requester(self) -> bool:
        return self.kind in REQUESTER_KINDS

    def to_dict(self, default_language: str = "en") -> dict:
        data: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.label:
            data["label"] = _text_data(self.label, default_language)
        if not self.acted_on_by_requester:
            rules = [rule.to_data() for rule in self.assignees]
            data["assignees"] = rules[0] if len(rules) == 1 else rules
        if self.decide.mode != "any":
            data["decide"] = self.decide.to_data()
        if self.decide.mode in ("quorum", "percent") and self.veto:
            data["veto"] = True
        if self.when is not None:
            data["when"] = self.when.source
        if self.deadline is not None:
            data["deadline"] = str(self.deadline)
        if self.remind_before is not None:
            data["remind_before"] = str(self.remind_before)
        if self.escalate_to is not None:
            data["escalate_to"] = self.escalate_to.to_data()
        if self.keep_approvals_on_send_back:
            data["keep_approvals_on_send_back"] = True
        return data


@dataclass(frozen=True)
class StageDef:
    """One stage of the chain: a single step, or a parallel group of steps that run at once
    and must all finish before the next stage."""

    steps: tuple[StepDef, ...]

    @property
    def parallel(self) -> bool:
        return len(self.steps) > 1


@dataclass(frozen=True)
class ChainDef:
    """A whole chain: its stages in order, and the impact matrix its ``when`` conditions see."""

    stages: tuple[StageDef, ...]
    impact: ImpactMatrix = field(default_factory=ImpactMatrix)
    default_language: str = "en"
    _by_name: Mapping[str, StepDef] = field(init=False, repr=False, compare=False)
    _stage_of: Mapping[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "_by_name", {s.name: s for s in self.steps})
        object.__setattr__(
            self,
            "_stage_of",
            {s.name: i for i, stage in enumerate(self.stages) for s in stage.steps},
        )

    @property
    def steps(self) -> tuple[StepDef, ...]:
        """Every step, in chain order (the steps of a parallel group in the order written)."""
        return tuple(step for stage in self.stages for step in stage.steps)

    def step(self, name: str) -> StepDef:
        """The step called ``name``; KeyError when there is none."""
        return self._by_name[name]

    def has_step(self, name: str) -> bool:
        return name in self._by_name

    def stage_of(self, name: str) -> int:
        """The index of the stage holding step ``name``."""
        return self._stage_of[name]

    def to_dict(self) -> dict:
        """The chain as plain data in canonical form, leaving out defaults.

        ``load_chain(chain.to_dict(), ...) == chain`` holds, given the same field names,
        rules and default language.
        """
        data: dict[str, Any] = {}
        impact = self.impact.to_dict()
        if impact:
            data["impact"] = impact
        data["steps"] = [self._stage_data(stage) for stage in self.stages]
        return data

    def _stage_data(self, stage: StageDef) -> dict:
        steps = [step.to_dict(self.default_language) for step in stage.steps]
        return {"parallel": steps} if stage.parallel else steps[0]


def _text_data(texts: Mapping[str, str], default_language: str) -> str | dict:
    if set(texts) == {default_language}:
        return texts[default_language]
    return dict(texts)


# --- loading ---------------------------------------------------------------------------


def load_chain(
    data: Any,
    *,
    field_names: Collection[str],
    rule_names: Collection[str] = BUILT_IN_RULES,
    rule_specs: Mapping[str, RuleSpec] | None = None,
    default_language: str = "en",
    path: str = "chain",
) -> ChainDef:
    """Validate ``data`` (the value of the ``chain:`` key) and build a :class:`ChainDef`.

    ``field_names`` are the form's fields that hold a value (for ``{field: ...}`` rules,
    ``when`` conditions and the impact matrix); ``rule_names`` the rules plug-ins
    registered (the built-in ones are always known); ``rule_specs`` their parameter
    checks, when known; ``default_language`` the form's, for plain-text labels.
    Raises :class:`DefinitionError` listing every problem found, in document order.
    """
    known = set(BUILT_IN_RULES) | set(rule_names) | set(rule_specs or ())
    loader = _Loader(set(field_names), known, rule_specs or {}, default_language)
    return loader.load(data, path)


@dataclass(frozen=True)
class _At:
    """Where a problem is: its path for people, its position for document order."""

    path: str
    order: tuple = ()

    def key(self, name: Any, index: int) -> _At:
        return _At(f"{self.path}.{name}" if self.path else str(name), self.order + (index,))

    def item(self, index: int) -> _At:
        return _At(f"{self.path}[{index}]", self.order + (index,))

    def first(self) -> _At:
        """A place before every key of this mapping (for a key that is missing)."""
        return _At(self.path, self.order + (-1,))


class _Loader(ProblemCollector):
    """One validation run: walks the data, collects problems, builds the dataclasses."""

    def __init__(self, field_names, known_rules, specs, default_language):
        super().__init__()
        self.field_names: set[str] = field_names
        self.known_rules: set[str] = known_rules
        self.specs: Mapping[str, RuleSpec] = specs
        self.default_language = default_language
        self.names: dict[str, str] = {}  # step name -> path of the step that has it first
        self.step_count = 0

    # --- the chain

    def load(self, data: Any, path: str) -> ChainDef:
        root = _At(path)
        if not isinstance(data, Mapping):
            self.problem(root, N_("a chain must be a mapping with a list of steps: {steps: [...]}"))
            self.fail()
        position = _positions(data)
        for key in data:
            if key not in CHAIN_KEYS:
                self.unknown_key(root.key(key, position[key]), key, CHAIN_KEYS)
        impact = self.impact(data, root, position)
        stages = self.stages(data, root, position)
        self.fail()
        return ChainDef(stages=stages, impact=impact, default_language=self.default_language)

    def stages(self, data: Mapping, root: _At, position: dict) -> tuple[StageDef, ...]:
        if "steps" not in data:
            self.problem(root.first(), N_("steps is required: a list of the chain's steps"))
            return ()
        at = root.key("steps", position["steps"])
        items = data["steps"]
        if not isinstance(items, list) or not items:
            self.problem(at, N_("steps must be a list with at least one step"))
            return ()
        stages = []
        for i, item in enumerate(items):
            if isinstance(item, Mapping) and "parallel" in item:
                steps = self.group(item, at.item(i))
            else:
                step = self.step(item, at.item(i))
                steps = (step,) if step else ()
            if steps:
                stages.append(StageDef(steps))
        if self.step_count > MAX_STEPS:
            self.problem(
                at,
                N_("a chain can have at most %(limit)d steps; this one has %(count)d"),
                limit=MAX_STEPS,
                count=self.step_count,
            )
        return tuple(stages)

    def group(self, data: Mapping, at: _At) -> tuple[StepDef, ...]:
        position = _positions(data)
        for key in data:
            if key != "parallel":
                self.problem(
                    at.key(key, position[key]),
                    N_("a parallel group has only the key parallel: the list of its steps"),
                )
        group_at = at.key("parallel", position["parallel"])
        items = data["parallel"]
        if not isinstance(items, list) or len(items) < 2:
            self.problem(
                group_at,
                N_(
                    "a parallel group needs a list of at least two steps; "
                    "write a single step without parallel"
                ),
            )
            items = items if isinstance(items, list) else []
        steps = []
        for j, item in enumerate(items):
            if isinstance(item, Mapping) and "parallel" in item:
                self.problem(
                    group_at.item(j),
                    N_("parallel groups cannot be nested; list all their steps in one group"),
                )
                continue
            step = self.step(item, group_at.item(j))
            if step:
                steps.append(step)
        return tuple(steps)

    # --- one step

    def step(self, data: Any, at: _At) -> StepDef | None:
        self.step_count += 1
        if not isinstance(data, Mapping):
            self.problem(at, N_("each step must be a mapping with at least name and kind"))
            return None
        position = _positions(data)
        name = self.step_name(data, at, position)
        kind = self.kind(data, at, position)
        allowed = KIND_KEYS.get(kind, STEP_KEYS)
        for key in data:
            if key in allowed:
                continue
            if key in STEP_KEYS:
                self.problem(
                    at.key(key, position[key]),
                    N_("%(key)s is not allowed for a %(kind)s step"),
                    key=key,
                    kind=kind,
                )
            else:
                self.unknown_key(at.key(key, position[key]), key, allowed)

        def get(key: str):
            return data.get(key) if key in allowed else None

        def where(key: str) -> _At:
            return at.key(key, position.get(key, -1))

        decide = self.decide(get("decide"), where("decide"), kind)
        veto = self.veto(get("veto"), where("veto"), decide)
        assignees = self.assignees(get("assignees"), where("assignees"), at, kind)
        deadline = self.duration(get("deadline"), where("deadline"))
        remind_before = self.duration(get("remind_before"), where("remind_before"))
        escalate_to = self.escalate_to(get("escalate_to"), where("escalate_to"), kind)
        step = StepDef(
            name=name,
            kind=kind or "",
            label=self.text(get("label"), where("label"), "label"),
            assignees=assignees,
            decide=decide,
            veto=veto,
            when=self.condition(get("when"), where("when")),
            deadline=deadline,
            remind_before=remind_before,
            escalate_to=escalate_to,
            keep_approvals_on_send_back=self.boolean(
                get("keep_approvals_on_send_back"), where("keep_approvals_on_send_back")
            ),
        )
        self.check_quorum(step, where("decide"))
        self.check_timing(step, where)
        return step

    def step_name(self, data: Mapping, at: _At, position: dict) -> str:
        if "name" not in data:
            self.problem(at.first(), N_("name is required"))
            return ""
        value = data["name"]
        name_at = at.key("name", position["name"])
        if not (isinstance(value, str) and STEP_NAME.fullmatch(value)):
            self.problem(
                name_at,
                N_(
                    "'%(value)s' is not a valid step name: start with a lower-case letter, "
                    "then use lower-case letters, digits and _ (at most 63)"
                ),
                value=value,
            )
            return value if isinstance(value, str) else ""
        if value in self.names:
            self.problem(
                name_at,
                N_("the name '%(name)s' is already used by %(other)s"),
                name=value,
                other=self.names[value],
            )
        else:
            self.names[value] = at.path
        return value

    def kind(self, data: Mapping, at: _At, position: dict) -> str | None:
        if "kind" not in data:
            self.problem(
                at.first(), N_("kind is required: one of %(kinds)s"), kinds=", ".join(KINDS)
            )
            return None
        value = data["kind"]
        if value not in KINDS or not isinstance(value, str):
            self.problem(
                at.key("kind", position["kind"]),
                N_("unknown step kind '%(kind)s'; use one of %(kinds)s"),
                kind=value,
                kinds=", ".join(KINDS),
            )
            return None
        return value

    def decide(self, value: Any, at: _At, kind: str | None) -> DecidePolicy:
        if value is None or value == "any":
            return DecidePolicy()
        if kind is not None and kind != "approval":
            self.problem(
                at,
                N_(
                    "only approval steps decide by all, a quorum or a percentage; "
                    "a %(kind)s step is done when one person acts"
                ),
                kind=kind,
            )
            return DecidePolicy()
        if value == "all":
            return DecidePolicy("all")
        if isinstance(value, Mapping) and len(value) == 1:
            ((mode, count),) = value.items()
            if mode == "quorum":
                if not _whole(count) or not 1 <= count <= MAX_QUORUM:
                    self.problem(
                        at.key("quorum", 0),
                        N_("quorum must be a whole number of approvals, 1 or more"),
                    )
                    return DecidePolicy()
                return DecidePolicy("quorum", int(count))
            if mode == "percent":
                if not _whole(count) or not 1 <= count <= 100:
                    self.problem(
                        at.key("percent", 0),
                        N_("percent must be a whole number from 1 to 100"),
                    )
                    return DecidePolicy()
                return DecidePolicy("percent", int(count))
        self.problem(
            at,
            N_("decide must be any, all, {quorum: N} (N approvals) or {percent: P} (P %% of them)"),
        )
        return DecidePolicy()

    def veto(self, value: Any, at: _At, decide: DecidePolicy) -> bool:
        if value is None:
            return decide.mode in ("any", "all")
        if not isinstance(value, bool):
            self.problem(at, N_("%(key)s must be true or false"), key="veto")
            return False
        if decide.mode in ("any", "all"):
            self.problem(
                at,
                N_(
                    "veto applies only to decide: quorum or percent; under any and all "
                    "one reject already rejects the step"
                ),
            )
            return True
        return value

    def assignees(self, value: Any, at: _At, step_at: _At, kind: str | None) -> tuple[Rule, ...]:
        requester = (Rule("requester", True),)
        if value is None:
            if kind in REQUESTER_KINDS:
                return requester
            if kind is not None:
                self.problem(
                    step_at.first(),
                    N_("this %(kind)s step needs assignees: who acts on it, like {role: approver}"),
                    kind=kind,
                )
            return ()
        if isinstance(value, list):
            if not value:
                self.problem(at, N_("assignees must name at least one rule"))
                return ()
            found = [self.rule(item, at.item(j)) for j, item in enumerate(value)]
        else:
            found = [self.rule(value, at)]
        rules: list[Rule] = []
        for j, rule in enumerate(found):
            if rule is None:
                continue
            if rule in rules:
                self.problem(at.item(j), N_("this rule is listed twice"))
                continue
            rules.append(rule)
        if kind in REQUESTER_KINDS and any(rule != requester[0] for rule in rules):
            self.problem(
                at,
                N_(
                    "a %(kind)s step is acted on by the requester; leave assignees out "
                    "(or write {requester: true})"
                ),
                kind=kind,
            )
            return requester
        if kind == "approval" and requester[0] in rules:
            self.problem(
                at,
                N_("the requester cannot approve their own request; remove {requester: true}"),
            )
        return tuple(rules)

    def rule(self, value: Any, at: _At) -> Rule | None:
        if not isinstance(value, Mapping) or len(value) != 1:
            self.problem(
                at,
                N_(
                    "a rule is a mapping with one key, like {role: approver}, "
                    "{group: ccb} or {user: ana@example.com}"
                ),
            )
            return None
        ((name, params),) = value.items()
        if name not in self.known_rules or not isinstance(name, str):
            known = sorted(self.known_rules)
            close = difflib.get_close_matches(str(name), known, n=1)
            if close:
                self.problem(
                    at,
                    N_("unknown rule '%(name)s'; did you mean '%(suggestion)s'?"),
                    name=name,
                    suggestion=close[0],
                )
            else:
                self.problem(
                    at,
                    N_("unknown rule '%(name)s'; known rules are %(known)s"),
                    name=name,
                    known=", ".join(known),
                )
            return None
        problems = check_rule_params(name, params, field_names=self.field_names, specs=self.specs)
        for msgid, msg_params in problems:
            self.problem(at, msgid, **msg_params)
        if problems:
            return None
        return Rule(name, spec_for(name, self.specs).normalize(params))

    def escalate_to(self, value: Any, at: _At, kind: str | None) -> Rule | None:
        if value is None:
            return None
        if isinstance(value, list):
            self.problem(at, N_("escalate_to is one rule, like {role: admin}"))
            return None
        rule = self.rule(value, at)
        if rule is not None and rule.name == "requester":
            self.problem(at, N_("a step cannot be escalated to the requester"))
            return None
        return rule

    def condition(self, value: Any, at: _At) -> Condition | None:
        if value is None:
            return None
        try:
            return compile_condition(value, self.field_names | set(COMPUTED_NAMES))
        except ConditionError as exc:
            self.problem(at, exc.msgid, **exc.params)
            return None

    def duration(self, value: Any, at: _At) -> Duration | None:
        if value is None:
            return None
        try:
            return Duration.parse(value)
        except ValueError as exc:
            self.problem(at, str(exc))
            return None

    def boolean(self, value: Any, at: _At) -> bool:
        if value is None:
            return False
        if not isinstance(value, bool):
            self.problem(at, N_("%(key)s must be true or false"), key=at.path.rsplit(".", 1)[-1])
            return False
        return value

    def text(self, value: Any, at: _At, key: str) -> dict:
        """A localized text: a plain string (default language) or {language: text}."""
        if value is None:
            return {}
        return localized_text(value, at, key, self.default_language, self.problem)

    # --- checks across the keys of one step

    def check_quorum(self, step: StepDef, at: _At) -> None:
        """A quorum larger than an explicit list of people can never be reached.

        Only explicit lists are known here; for roles and groups the engine checks when
        the step starts (and blocks the step)."""
        if step.decide.mode != "quorum" or not step.assignees:
            return
        people: set[str] = set()
        for rule in step.assignees:
            spec = spec_for(rule.name, self.specs)
            found = spec.people(rule.params) if spec.people else None
            if found is None:
                return
            people |= found
        if step.decide.count > len(people):
            self.problem(
                at,
                N_(
                    "decide asks for %(needed)d approvals, but the assignees name only "
                    "%(count)d people"
                ),
                needed=step.decide.count,
                count=len(people),
            )

    def check_timing(self, step: StepDef, where) -> None:
        if step.remind_before is not None:
            if step.deadline is None:
                self.problem(
                    where("remind_before"),
                    N_("remind_before needs a deadline to count back from"),
                )
            elif not step.remind_before.is_shorter_than(step.deadline):
                self.problem(
                    where("remind_before"),
                    N_(
                        "remind_before (%(remind)s) must be shorter than the "
                        "deadline (%(deadline)s)"
                    ),
                    remind=str(step.remind_before),
                    deadline=str(step.deadline),
                )
        if step.escalate_to is not None and step.deadline is None:
            self.problem(
                where("escalate_to"),
                N_("escalate_to needs a deadline: the step is escalated when it passes"),
            )

    # --- the impact matrix

    def impact(self, data: Mapping, root: _At, position: dict) -> ImpactMatrix:
        if data.get("impact") is None:
            return ImpactMatrix()
        at = root.key("impact", position["impact"])
        value = data["impact"]
        if not isinstance(value, Mapping):
            self.problem(at, N_("impact must be a mapping with fields and thresholds"))
            return ImpactMatrix()
        inner = _positions(value)
        for key in value:
            if key not in IMPACT_KEYS:
                self.unknown_key(at.key(key, inner[key]), key, IMPACT_KEYS)
        fields = dict(DEFAULT_FIELDS)
        thresholds = {d: dict(t) for d, t in DEFAULT_THRESHOLDS.items()}
        if value.get("fields") is not None:
            self.impact_fields(value["fields"], at.key("fields", inner["fields"]), fields)
        if value.get("thresholds") is not None:
            self.impact_thresholds(
                value["thresholds"], at.key("thresholds", inner["thresholds"]), thresholds
            )
        return ImpactMatrix(fields=fields, thresholds=thresholds)

    def dimensions(self, value: Any, at: _At, what: str):
        """The (dimension, value, place) of a mapping keyed by dimension; others reported."""
        if not isinstance(value, Mapping):
            self.problem(
                at,
                N_("%(key)s must be a mapping of the dimensions %(dimensions)s"),
                key=what,
                dimensions=", ".join(DIMENSIONS),
            )
            return
        for i, (dimension, item) in enumerate(value.items()):
            if dimension not in DIMENSIONS:
                self.problem(
                    at.key(dimension, i),
                    N_("unknown dimension '%(key)s'; the dimensions are %(dimensions)s"),
                    key=dimension,
                    dimensions=", ".join(DIMENSIONS),
                )
                continue
            yield dimension, item, at.key(dimension, i)

    def impact_fields(self, value: Any, at: _At, fields: dict) -> None:
        for dimension, name, where in self.dimensions(value, at, "fields"):
            if name is None:
                fields.pop(dimension, None)
            elif not isinstance(name, str) or name not in self.field_names:
                self.problem(where, N_("there is no field named '%(name)s'"), name=name)
            else:
                fields[dimension] = name

    def impact_thresholds(self, value: Any, at: _At, thresholds: dict) -> None:
        for dimension, bounds, where in self.dimensions(value, at, "thresholds"):
            if bounds is None:
                thresholds.pop(dimension, None)
                continue
            if not isinstance(bounds, Mapping) or set(bounds) != set(THRESHOLD_KEYS):
                self.problem(
                    where,
                    N_("write the bounds of %(dimension)s as {low: 5, medium: 15}"),
                    dimension=dimension,
                )
                continue
            low, medium = bounds["low"], bounds["medium"]
            if not (_number(low) and _number(medium) and low >= 0 and medium >= 0):
                self.problem(where, N_("the bounds must be numbers, 0 or more"))
                continue
            if medium < low:
                self.problem(
                    where,
                    N_("the medium bound (%(medium)s) is below the low bound (%(low)s)"),
                    low=low,
                    medium=medium,
                )
                continue
            thresholds[dimension] = {"low": _plain_number(low), "medium": _plain_number(medium)}


def _positions(data: Mapping) -> dict:
    return {key: i for i, key in enumerate(data)}


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return (
        isinstance(value, int | float | Decimal)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def _plain_number(value):
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value
