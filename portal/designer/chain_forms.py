"""What the chain designer's step form sends, turned into edits of the chain dict, and the
other way: a step's dict turned into what its pickers show.

The step form is plain HTML (checkboxes, selects, number inputs), so the values arrive as a
multi-dict (``getlist``).  Pure Python: no Flask, no database; ``chain_editing`` does the
edits.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import yaml

from portal.approvals.definition import KINDS
from portal.approvals.rules import ROLES
from portal.designer import chain_editing as edit

BUILT_IN_PICKERS = ("user", "role", "group", "org_approvers", "field", "requester")
DECIDE_MODES = ("any", "all", "quorum", "percent")


class MultiDict(Protocol):
    def get(self, key: str, default: Any = None) -> Any: ...

    def getlist(self, key: str) -> list[str]: ...


@dataclass
class Pickers:
    """What a step's "who acts" pickers show: the built-in rules as choices, a plug-in
    rule's parameters as text, and any other rule as written (so nothing is lost)."""

    users: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    org_approvers: bool = False
    fields: list[str] = field(default_factory=list)
    requester: bool = False
    plugin: dict[str, str] = field(default_factory=dict)
    other: list[str] = field(default_factory=list)


def as_yaml(value: Any) -> str:
    """One line of YAML flow style, as an admin would write it: ``{grop: ccb}``."""
    return yaml.safe_dump(value, default_flow_style=True, allow_unicode=True).strip()


def parse_yaml(text: str) -> Any:
    """YAML text back to data; the text itself when it is not YAML."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def pickers_for(assignees: Any, plugin_rules: Collection[str]) -> Pickers:
    """The pickers' state for a step's ``assignees`` (a rule or a list of rules)."""
    found = Pickers()
    rules = assignees if isinstance(assignees, list) else [assignees] if assignees else []
    for rule in rules:
        if not (isinstance(rule, Mapping) and len(rule) == 1):
            found.other.append(as_yaml(rule))
            continue
        ((name, params),) = rule.items()
        if name == "user" and isinstance(params, str | list):
            found.users += [params] if isinstance(params, str) else [str(p) for p in params]
        elif name == "role" and params in ROLES:
            found.roles.append(params)
        elif name == "group" and isinstance(params, str):
            found.groups.append(params)
        elif name == "org_approvers" and params is True:
            found.org_approvers = True
        elif name == "field" and isinstance(params, str):
            found.fields.append(params)
        elif name == "requester" and params is True:
            found.requester = True
        elif name in plugin_rules and name not in BUILT_IN_PICKERS:
            found.plugin[name] = params if isinstance(params, str) else as_yaml(params)
        else:
            found.other.append(as_yaml(rule))
    return found


def rules_from_form(form: MultiDict, plugin_rules: Collection[str]) -> list[dict]:
    """The rules the pickers of one step say, in a fixed order: people, roles, groups,
    organisation approvers, fields, the requester, plug-in rules, rules as written."""
    rules: list[dict] = []
    users = _unique(form.getlist("users"))
    if users:
        rules.append({"user": users[0] if len(users) == 1 else users})
    rules += [{"role": role} for role in _unique(form.getlist("roles"))]
    rules += [{"group": group} for group in _unique(form.getlist("groups"))]
    if form.get("org_approvers"):
        rules.append({"org_approvers": True})
    rules += [{"field": name} for name in _unique(form.getlist("fields"))]
    if form.get("requester"):
        rules.append({"requester": True})
    for name in sorted(plugin_rules):
        text = (form.get(f"rule:{name}") or "").strip()
        if text and name not in BUILT_IN_PICKERS:
            rules.append({name: parse_yaml(text)})
    for line in (form.get("other_rules") or "").splitlines():
        if line.strip():
            rules.append(parse_yaml(line.strip()))
    return rules


def _unique(values: list[str]) -> list[str]:
    seen: list[str] = []
    for value in values:
        value = value.strip()
        if value and value not in seen:
            seen.append(value)
    return seen


def escalation_choice(rule: Any) -> tuple[str, str]:
    """The escalation select's value for a rule, and the e-mail input's text."""
    if not rule:
        return "", ""
    if isinstance(rule, Mapping) and len(rule) == 1:
        ((name, params),) = rule.items()
        if name in ("role", "group") and isinstance(params, str):
            return f"{name}:{params}", ""
        if name == "org_approvers" and params is True:
            return "org_approvers", ""
        if name == "user" and isinstance(params, str):
            return "user", params
    return "rule:" + as_yaml(rule), ""


def escalation_rule(choice: str, email: str) -> Any:
    """The rule an escalation choice stands for (None: nobody)."""
    choice = (choice or "").strip()
    if not choice:
        return None
    if choice == "org_approvers":
        return {"org_approvers": True}
    if choice == "user":
        return {"user": (email or "").strip()}
    if choice.startswith("rule:"):
        return parse_yaml(choice[5:])
    name, _, value = choice.partition(":")
    return {name: value}


def condition_from_form(form: MultiDict) -> str | None:
    """The step's ``when`` from the condition picker and the text box.

    The text box wins when the admin changed it; otherwise the picker says, as long as the
    condition was one the picker can show (an advanced one stays as written)."""
    before = (form.get("when_before") or "").strip()
    text = (form.get("when_text") or "").strip()
    if text != before:
        return text or None
    if before and edit.condition_parts(before) is None:
        return before
    field = form.get("when_field") or ""
    value = form.get("when_value") or ""
    parts = edit.condition_parts(before)
    if parts and parts[0] != field:
        value = ""  # another field: the value of the one before means nothing there
    return edit.condition_text(field, form.get("when_op") or "==", value)


def apply_step_form(
    chain: Mapping | None,
    index: int,
    form: MultiDict,
    *,
    languages: Collection[str],
    plugin_rules: Collection[str] = (),
) -> dict:
    """Every setting of one step, as its form sent them, applied to the chain."""
    entries = edit.flatten(chain)
    current = entries[index].step
    kind = form.get("kind") or current.get("kind") or "task"
    if kind != current.get("kind") and kind in KINDS:
        chain = edit.set_kind(chain, index, kind)
    chain = edit.set_name(chain, index, form.get("name") or "")
    labels = {lang: form.get(f"label_{lang}") or "" for lang in languages}
    old_label = current.get("label")
    if isinstance(old_label, Mapping):  # keep the texts of languages the portal does not ship
        labels = {**{k: v for k, v in old_label.items() if k not in labels}, **labels}
    chain = edit.set_labels(chain, index, labels)
    chain = edit.set_parallel(chain, index, bool(form.get("with_previous")))
    if form.get("pickers") and kind not in edit.REQUESTER_KINDS:  # a requester's has none
        chain = edit.set_assignees(chain, index, rules_from_form(form, plugin_rules))
    mode = form.get("decide") if form.get("decide") in DECIDE_MODES else "any"
    chain = edit.set_decision(
        chain,
        index,
        mode,
        form.get("decide_count"),
        veto=bool(form.get("veto")),
        keep_approvals=bool(form.get("keep_approvals")),
    )
    chain = edit.set_condition(chain, index, condition_from_form(form))
    chain = edit.set_deadline(
        chain,
        index,
        edit.duration_text(
            form.get("deadline_amount"), form.get("deadline_unit"), _working(form, "deadline")
        ),
        edit.duration_text(
            form.get("remind_amount"), form.get("remind_unit"), _working(form, "remind")
        ),
        escalation_rule(form.get("escalate") or "", form.get("escalate_user") or ""),
    )
    return chain


def _working(form: MultiDict, prefix: str) -> bool:
    return (form.get(f"{prefix}_time") or "working") == "working"


def impact_from_form(chain: Mapping | None, form: MultiDict, dimensions: Collection[str]) -> dict:
    """The impact matrix settings: per dimension a field (``-`` for not measured) and its
    two bounds (both empty: no bounds)."""
    fields: dict[str, str | None] = {}
    thresholds: dict[str, Any] = {}
    for dimension in dimensions:
        name = (form.get(f"field_{dimension}") or "").strip()
        fields[dimension] = None if name in ("", "-") else name
        low = (form.get(f"low_{dimension}") or "").strip()
        medium = (form.get(f"medium_{dimension}") or "").strip()
        if low or medium:
            thresholds[dimension] = {
                "low": edit.number_or_text(low),
                "medium": edit.number_or_text(medium),
            }
        else:
            thresholds[dimension] = None
    return edit.set_impact(chain, fields, thresholds)
