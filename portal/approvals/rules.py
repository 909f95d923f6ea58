"""Who acts on a step: the rules a chain names, and how their parameters are checked.

A chain says who acts with rules like ``{role: approver}`` or ``{user: [a@x.org, b@x.org]}``.
This module knows their names and checks their parameters, purely: it never looks a person
up.  Turning a rule into user ids is the caller's job (the engine asks through
``Context.resolve``), because that needs the database, delegations and organisations.

Plug-ins add rules the same way the built-ins are described here: a :class:`RuleSpec` with
a name, a parameter check and (optionally) a way to put the parameters in canonical form.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from portal.forms.definition import N_

ROLES = ("client", "approver", "admin")
"""The roles a ``{role: ...}`` rule may name (the values of ``portal.accounts.models.Role``)."""

EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
GROUP = re.compile(r"\S(.{0,98}\S)?")
FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")

Problems = list[tuple[str, dict]]
"""What a check returns: ``(msgid, params)`` pairs, empty when the parameters are fine."""


@dataclass(frozen=True)
class Rule:
    """One "who acts" rule as written in a chain: ``Rule("role", "approver")``.

    ``params`` is canonical: a ``user`` rule always holds a tuple of e-mail addresses,
    ``org_approvers`` and ``requester`` hold True.
    """

    name: str
    params: Any

    def to_data(self) -> dict:
        """The rule as plain data, as an admin writes it (``{user: a@x.org}``)."""
        params = self.params
        if self.name == "user" and isinstance(params, tuple) and len(params) == 1:
            params = params[0]
        return {self.name: _plain(params)}


def _plain(value):
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _accept(params: Any, field_names: Collection[str]) -> Problems:
    return []


def _same(params: Any) -> Any:
    return params


@dataclass(frozen=True)
class RuleSpec:
    """A kind of rule: its name, how its parameters are checked and made canonical.

    ``check(params, field_names)`` returns problems as ``(msgid, params)`` pairs (msgids
    marked with ``N_`` so they can be translated); ``normalize(params)`` is called only on
    parameters that passed the check.  ``people(params)`` may say how many people the rule
    can yield at most, when that is known from the chain alone (explicit user lists), so
    that an impossible quorum is refused when the chain is loaded.
    """

    name: str
    check: Callable[[Any, Collection[str]], Problems] = _accept
    normalize: Callable[[Any], Any] = _same
    people: Callable[[Any], frozenset[str] | None] | None = None


# --- the built-in rules ----------------------------------------------------------------


def _check_user(params: Any, field_names: Collection[str]) -> Problems:
    emails = [params] if isinstance(params, str) else params
    if not isinstance(emails, list) or not emails:
        msgid = N_("user needs an e-mail address, or a list of them: {user: ana@example.com}")
        return [(msgid, {})]
    problems: Problems = []
    seen: set[str] = set()
    for email in emails:
        if not (isinstance(email, str) and EMAIL.fullmatch(email)):
            problems.append((N_("'%(value)s' is not an e-mail address"), {"value": email}))
        elif email.lower() in seen:
            problems.append((N_("the address %(value)s is listed twice"), {"value": email}))
        else:
            seen.add(email.lower())
    return problems


def _normalize_user(params: Any) -> tuple[str, ...]:
    return (params,) if isinstance(params, str) else tuple(params)


def _user_people(params: Any) -> frozenset[str]:
    return frozenset(email.lower() for email in _normalize_user(params))


def _check_role(params: Any, field_names: Collection[str]) -> Problems:
    if not isinstance(params, str) or params not in ROLES:
        return [
            (
                N_("unknown role '%(value)s'; use one of %(roles)s"),
                {"value": params, "roles": ", ".join(ROLES)},
            )
        ]
    return []


def _check_group(params: Any, field_names: Collection[str]) -> Problems:
    if not (isinstance(params, str) and GROUP.fullmatch(params)):
        return [(N_("group needs the name of a group, like {group: ccb}"), {})]
    return []


def _check_true(name: str) -> Callable[[Any, Collection[str]], Problems]:
    def check(params: Any, field_names: Collection[str]) -> Problems:
        if params is not True:
            return [(N_("write this rule as {%(rule)s: true}"), {"rule": name})]
        return []

    return check


def _check_field(params: Any, field_names: Collection[str]) -> Problems:
    if not (isinstance(params, str) and FIELD_NAME.fullmatch(params)):
        return [(N_("field needs the name of a field of the form, like {field: reviewer}"), {})]
    if params not in field_names:
        return [(N_("there is no field named '%(name)s'"), {"name": params})]
    return []


BUILT_IN_SPECS: Mapping[str, RuleSpec] = {
    spec.name: spec
    for spec in (
        RuleSpec("user", _check_user, _normalize_user, _user_people),
        RuleSpec("role", _check_role),
        RuleSpec("group", _check_group),
        RuleSpec("org_approvers", _check_true("org_approvers")),
        RuleSpec("field", _check_field),
        RuleSpec("requester", _check_true("requester")),
    )
}
"""The rules every portal knows.  ``requester`` is resolved by the engine itself."""

BUILT_IN_RULES = frozenset(BUILT_IN_SPECS)


def check_rule_params(
    name: str,
    params: Any,
    *,
    field_names: Collection[str],
    specs: Mapping[str, RuleSpec] | None = None,
) -> Problems:
    """The problems with ``params`` for the rule ``name`` (empty when they are fine).

    ``specs`` are the plug-in rules; a built-in is used when ``name`` is not among them.
    A rule that has no spec at all (a name known only by name) accepts any parameters.
    """
    spec = (specs or {}).get(name) or BUILT_IN_SPECS.get(name)
    if spec is None:
        return []
    return list(spec.check(params, field_names))


def spec_for(name: str, specs: Mapping[str, RuleSpec] | None = None) -> RuleSpec:
    """The spec of rule ``name``: a plug-in's, a built-in, or one that accepts anything."""
    return (specs or {}).get(name) or BUILT_IN_SPECS.get(name) or RuleSpec(name)
