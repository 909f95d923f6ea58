"""Edits of an approval chain as the designer makes them: pure functions over the plain
``chain:`` dict of a draft (the shape the YAML has), each returning a new dict.

The designer shows the steps as one flat list; a step may "run at the same time as the
one before it", and consecutive steps joined that way are written as a ``parallel`` group.
So every operation here addresses a step by its *flat index* and rebuilds the groups.

Nothing here validates: the loader (``portal.approvals.definition.load_chain``) does, and
the designer shows its problems beside the inputs.  Whatever the admin typed is kept as
typed, even when it is wrong, so that nothing is lost.

Pure Python: no Flask, no database.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from portal.approvals.definition import KIND_KEYS, KINDS, REQUESTER_KINDS
from portal.approvals.impact import DIMENSIONS

DEFAULT_ASSIGNEES = {"role": "approver"}
"""Who acts on a new approval or task step until the admin picks someone else."""
UNITS = ("hours", "days")
OPERATORS = ("==", "!=", "in")
"""What the condition picker writes: equals, differs from, and "includes" (a choice of a
multiple-choice field)."""

_SIMPLE = re.compile(
    r"\s*(?:(?P<field>[a-z][a-z0-9_]*)\s*(?P<op>==|!=)\s*(?P<q>['\"])(?P<value>.*?)(?P=q)"
    r"|(?P<q2>['\"])(?P<value2>.*?)(?P=q2)\s+in\s+(?P<field2>[a-z][a-z0-9_]*))\s*"
)
_DURATION = re.compile(r"\s*(\d+)\s+(working\s+)?(hour|hours|day|days)\s*", re.IGNORECASE)


@dataclass
class Entry:
    """One step of the flat list: the step's dict, and whether it runs at the same time as
    the step before it (the two are in one parallel group)."""

    step: dict
    with_previous: bool = False


# --- the flat list of steps ------------------------------------------------------------


def flatten(chain: Mapping | None) -> list[Entry]:
    """The chain's steps as a flat list (copies), parallel groups marked by
    ``with_previous``.  Items that are neither steps nor groups are kept as steps so that
    the loader can report them."""
    entries: list[Entry] = []
    items = (chain or {}).get("steps")
    for item in items if isinstance(items, list) else []:
        if isinstance(item, Mapping) and isinstance(item.get("parallel"), list):
            for j, step in enumerate(item["parallel"]):
                entries.append(Entry(_as_step(step), with_previous=j > 0))
        else:
            entries.append(Entry(_as_step(item)))
    return entries


def _as_step(item: Any) -> dict:
    return copy.deepcopy(dict(item)) if isinstance(item, Mapping) else {"name": str(item)}


def rebuild(chain: Mapping | None, entries: Iterable[Entry]) -> dict:
    """A copy of ``chain`` with ``entries`` as its steps: runs of joined steps become
    ``parallel`` groups (a group of one is a plain step)."""
    result = copy.deepcopy(dict(chain or {}))
    stages: list[list[dict]] = []
    for i, entry in enumerate(entries):
        if entry.with_previous and i > 0 and stages:
            stages[-1].append(entry.step)
        else:
            stages.append([entry.step])
    result["steps"] = [group[0] if len(group) == 1 else {"parallel": group} for group in stages]
    return result


def step_paths(chain: Mapping | None) -> list[str]:
    """For each flat index, the step's place as the loader names it in problems
    (``chain.steps[3]`` or ``chain.steps[3].parallel[1]``)."""
    paths: list[str] = []
    items = (chain or {}).get("steps")
    for i, item in enumerate(items if isinstance(items, list) else []):
        if isinstance(item, Mapping) and isinstance(item.get("parallel"), list):
            paths += [f"chain.steps[{i}].parallel[{j}]" for j in range(len(item["parallel"]))]
        else:
            paths.append(f"chain.steps[{i}]")
    return paths


def _edit(chain: Mapping | None, index: int, change) -> dict:  # noqa: ANN001
    """Apply ``change(entry)`` to the step at ``index`` (IndexError when there is none)."""
    entries = flatten(chain)
    if not 0 <= index < len(entries):
        raise IndexError(index)
    change(entries[index])
    return rebuild(chain, entries)


def _set(step: dict, key: str, value: Any) -> None:
    """Set ``key``, or remove it when ``value`` is None or empty."""
    if value is None or value == "" or value == [] or value == {}:
        step.pop(key, None)
    else:
        step[key] = value


# --- steps -----------------------------------------------------------------------------


def free_step_name(chain: Mapping | None, wanted: str) -> str:
    """``wanted`` when no step has it, else ``wanted_2``, ``wanted_3``…"""
    taken = {entry.step.get("name") for entry in flatten(chain)}
    if wanted not in taken:
        return wanted
    number = 2
    while f"{wanted}_{number}" in taken:
        number += 1
    return f"{wanted}_{number}"


def add_step(chain: Mapping | None, kind: str = "task", name: str | None = None) -> dict:
    """A new step at the end; an approval or task step starts with ``{role: approver}``."""
    kind = kind if kind in KINDS else "task"
    step: dict[str, Any] = {"name": free_step_name(chain, name or kind), "kind": kind}
    if kind not in REQUESTER_KINDS:
        step["assignees"] = dict(DEFAULT_ASSIGNEES)
    entries = flatten(chain)
    entries.append(Entry(step))
    return rebuild(chain, entries)


def remove_step(chain: Mapping | None, index: int) -> dict:
    """Remove the step at ``index``; the rest of its parallel group stays together."""
    entries = flatten(chain)
    if not 0 <= index < len(entries):
        raise IndexError(index)
    removed = entries.pop(index)
    if not removed.with_previous and index < len(entries):
        entries[index].with_previous = False
    return rebuild(chain, entries)


def move_step(chain: Mapping | None, index: int, offset: int) -> dict:
    """Move the step at ``index`` by ``offset`` places (-1 up, +1 down, or further),
    stopping at either end.  The groups keep their places: a step moved into a group's
    place runs in that group."""
    entries = flatten(chain)
    if not 0 <= index < len(entries):
        raise IndexError(index)
    target = max(0, min(len(entries) - 1, index + offset))
    steps = [entry.step for entry in entries]
    steps.insert(target, steps.pop(index))
    for entry, step in zip(entries, steps, strict=True):
        entry.step = step
    return rebuild(chain, entries)


def set_parallel(chain: Mapping | None, index: int, with_previous: bool) -> dict:
    """Whether the step runs at the same time as the step before it."""

    def change(entry: Entry) -> None:
        entry.with_previous = bool(with_previous) and index > 0

    return _edit(chain, index, change)


def set_name(chain: Mapping | None, index: int, name: str) -> dict:
    return _edit(chain, index, lambda entry: _set(entry.step, "name", (name or "").strip()))


def set_labels(chain: Mapping | None, index: int, labels: Mapping[str, str]) -> dict:
    """One label per language; empty ones are left out (no label at all shows the name)."""
    texts = {lang: text.strip() for lang, text in labels.items() if text and text.strip()}
    return _edit(chain, index, lambda entry: _set(entry.step, "label", texts))


def set_kind(chain: Mapping | None, index: int, kind: str) -> dict:
    """Change the step's kind, dropping what that kind cannot have (a confirmation has no
    assignees; only an approval has veto, a decision rule or keeps approvals)."""

    def change(entry: Entry) -> None:
        step = entry.step
        step["kind"] = kind
        if kind not in KINDS:
            return
        for key in list(step):
            if key not in KIND_KEYS[kind]:
                del step[key]
        if kind in REQUESTER_KINDS:
            step.pop("assignees", None)
        if kind != "approval" and step.get("decide") not in (None, "any"):
            del step["decide"]
        if kind not in REQUESTER_KINDS:
            rules = [r for r in _rule_list(step.get("assignees")) if r != {"requester": True}]
            if kind == "approval" or not rules:
                step["assignees"] = _one_or_many(rules or [dict(DEFAULT_ASSIGNEES)])

    return _edit(chain, index, change)


def _rule_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _one_or_many(rules: list) -> Any:
    if not rules:
        return None
    return rules[0] if len(rules) == 1 else rules


def set_assignees(chain: Mapping | None, index: int, rules: list[dict]) -> dict:
    """Who acts: one rule is written as itself, several as a list, none leaves it out."""
    return _edit(chain, index, lambda entry: _set(entry.step, "assignees", _one_or_many(rules)))


def set_decision(
    chain: Mapping | None,
    index: int,
    mode: str,
    count: Any = None,
    veto: bool = False,
    keep_approvals: bool = False,
) -> dict:
    """``any``, ``all``, ``quorum`` N or ``percent`` P, with veto (quorum and percent only)
    and whether approvals stand after a send back (approval steps only)."""

    def change(entry: Entry) -> None:
        step = entry.step
        if mode in ("quorum", "percent"):
            step["decide"] = {mode: number_or_text(count)}
            _set(step, "veto", True if veto else None)
        else:
            _set(step, "decide", mode if mode == "all" else None)
            step.pop("veto", None)
        if step.get("kind") == "approval":
            _set(step, "keep_approvals_on_send_back", True if keep_approvals else None)
        else:
            step.pop("keep_approvals_on_send_back", None)

    return _edit(chain, index, change)


def set_condition(chain: Mapping | None, index: int, when: str | None) -> dict:
    """The step's ``when`` (None or blank: the step always applies)."""
    return _edit(chain, index, lambda entry: _set(entry.step, "when", (when or "").strip()))


def set_deadline(
    chain: Mapping | None,
    index: int,
    deadline: str | None,
    remind_before: str | None = None,
    escalate_to: dict | None = None,
) -> dict:
    """Deadline, reminder and escalation, as duration texts (``2 working days``) and a rule."""

    def change(entry: Entry) -> None:
        _set(entry.step, "deadline", deadline)
        _set(entry.step, "remind_before", remind_before)
        _set(entry.step, "escalate_to", escalate_to)

    return _edit(chain, index, change)


def set_impact(
    chain: Mapping | None,
    fields: Mapping[str, str | None],
    thresholds: Mapping[str, Mapping[str, Any] | None],
) -> dict:
    """The impact matrix: for each dimension the field it is read from (None: not
    measured) and its bounds ``{low, medium}`` (None: no bounds)."""
    result = copy.deepcopy(dict(chain or {}))
    impact: dict[str, Any] = {}
    written_fields = {d: fields[d] for d in DIMENSIONS if d in fields}
    if written_fields:
        impact["fields"] = written_fields
    written_bounds = {d: thresholds[d] for d in DIMENSIONS if d in thresholds}
    if written_bounds:
        impact["thresholds"] = written_bounds
    _set(result, "impact", impact)
    if "steps" in result:  # keep steps after impact, as the shipped files write it
        result["steps"] = result.pop("steps")
    return result


# --- the small texts pickers make ------------------------------------------------------


def number_or_text(value: Any) -> Any:
    """A whole number when ``value`` is one (``"2"`` -> 2), else the text as typed."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value if value is not None else "").strip()
    if re.fullmatch(r"-?\d{1,9}", text):
        return int(text)
    if re.fullmatch(r"-?\d{1,9}\.\d+", text):
        return float(text)
    return text


def duration_text(amount: Any, unit: str, working: bool) -> str | None:
    """``(2, "days", True)`` -> ``"2 working days"``; None when no amount was given.  An
    amount that is not a number is kept, so the loader reports it beside the input."""
    amount = str(amount if amount is not None else "").strip()
    if not amount:
        return None
    unit = unit if unit in UNITS else "days"
    if amount == "1":
        unit = unit[:-1]
    return f"{amount} {'working ' if working else ''}{unit}"


def duration_parts(text: Any) -> tuple[str, str, bool]:
    """The picker's ``(amount, unit, working)`` of a duration text; a text that is not a
    duration comes back whole as the amount, so the admin sees what is there."""
    if not isinstance(text, str) or not text.strip():
        return "", "days", True
    match = _DURATION.fullmatch(text)
    if not match:
        return text, "days", False
    unit = match.group(3).lower()
    return match.group(1), unit if unit.endswith("s") else unit + "s", bool(match.group(2))


def _quoted(value: str) -> str:
    if "'" in value and '"' not in value:
        return f'"{value}"'
    return "'" + value.replace("'", "") + "'"


def condition_text(field: str, op: str, value: str) -> str | None:
    """What the condition picker means: ``impact == 'high'``, ``reason != 'legal'``,
    ``'erp' in affected_systems``; None when no field was picked."""
    if not field:
        return None
    if op == "in":
        return f"{_quoted(value or '')} in {field}"
    return f"{field} {op if op in OPERATORS else '=='} {_quoted(value or '')}"


def condition_parts(text: Any) -> tuple[str, str, str] | None:
    """``(field, op, value)`` when the condition is one the picker can show, else None
    (the admin then sees it in the text box only)."""
    if not isinstance(text, str):
        return None
    match = _SIMPLE.fullmatch(text)
    if not match:
        return None
    if match.group("field"):
        return match.group("field"), match.group("op"), match.group("value")
    return match.group("field2"), "in", match.group("value2")
