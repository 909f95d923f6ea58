"""Who acts: "who acts" rules turned into the people they name for one request.

A rule's spec (its name and parameter check) is pure and lives in ``rules.py``; here it is
paired with the look-up that needs the database. Built-in rules and plug-in rules are the
same kind of object, registered through the ``register_approver_rules`` hook.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask import current_app

from portal.approvals.rules import Rule, RuleSpec


@dataclass(frozen=True)
class ApproverRule:
    """A rule a chain can name: its spec, and ``people(params, request)`` -> user ids."""

    spec: RuleSpec
    people: Callable[[Any, Any], Iterable[int]]

    @property
    def name(self) -> str:
        return self.spec.name


def approver_rules() -> dict[str, ApproverRule]:
    return current_app.extensions["portal.registries"].approver_rules


def resolver_for(change) -> Callable[[Rule], set[int]]:  # noqa: ANN001
    """The engine's ``resolve``: the active people a rule names for this request now."""
    rules = approver_rules()

    def resolve(rule: Rule) -> set[int]:
        found = rules.get(rule.name)
        return set(found.people(rule.params, change)) if found is not None else set()

    return resolve
