"""What publishing a draft changes: the difference between two definitions, for people.

Both sides are canonical definitions (``Definition.to_dict()``), so a text written plainly
in one and as ``{en: ...}`` in the other is no difference. Fields and chain steps are
matched by name: a field renamed reads as one removed and one added, which is what it is
for the requests filled in before (their answers keep the old name). Pure: no Flask.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from portal.designer.editing import default_as_text

FORM_KEYS = ("title", "description", "default_language", "number_prefix")


@dataclass(frozen=True)
class Change:
    """One named thing that differs: ``kind`` is added, removed, changed or moved."""

    kind: str
    name: str
    keys: tuple[str, ...] = ()
    """For a changed field or step, the keys that differ (``label.de``, ``options``)."""
    default: tuple[str, str] | None = None
    """For a field whose default answer changed: the old and the new one, as text ("" for
    none), so the admin sees what a new request will start with."""


@dataclass
class Difference:
    form: list[str] = field(default_factory=list)
    """The form's own keys that differ (title, number_prefix…)."""
    fields: list[Change] = field(default_factory=list)
    steps: list[Change] = field(default_factory=list)
    chain_other: list[str] = field(default_factory=list)
    """Chain keys beyond its steps that differ (impact, stages)."""

    @property
    def empty(self) -> bool:
        return not (self.form or self.fields or self.steps or self.chain_other)


def difference(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> Difference:
    """What ``new`` changes compared with ``old`` (None: nothing published yet)."""
    old = old or {}
    found = Difference()
    found.form = [key for key in FORM_KEYS if old.get(key) != new.get(key)]
    found.fields = _named_changes(old.get("fields") or [], new.get("fields") or [])
    old_chain, new_chain = old.get("chain") or {}, new.get("chain") or {}
    found.steps = _named_changes(_steps(old_chain), _steps(new_chain))
    keys = dict.fromkeys([*old_chain, *new_chain])
    found.chain_other = [
        key
        for key in keys
        if key not in ("steps", "stages") and old_chain.get(key) != new_chain.get(key)
    ]
    return found


def _steps(chain: Mapping) -> list:
    """The chain's steps in order, whether written as ``steps`` or in ``stages``."""
    if isinstance(chain.get("steps"), list):
        return list(chain["steps"])
    steps = []
    for stage in chain.get("stages") or []:
        if isinstance(stage, Mapping):
            steps += list(stage.get("steps") or [])
        elif isinstance(stage, list):
            steps += stage
    return steps


def _named_changes(old: list, new: list) -> list[Change]:
    old_by = {item.get("name"): item for item in old if isinstance(item, Mapping)}
    new_by = {item.get("name"): item for item in new if isinstance(item, Mapping)}
    changes = []
    for name, item in new_by.items():
        if name not in old_by:
            changes.append(Change("added", str(name)))
        elif item != old_by[name]:
            keys = tuple(_keys(old_by[name], item))
            default = None
            if "default" in keys:
                default = (
                    default_as_text(old_by[name].get("default")),
                    default_as_text(item.get("default")),
                )
            changes.append(Change("changed", str(name), keys, default))
    changes += [Change("removed", str(name)) for name in old_by if name not in new_by]
    kept_old = [name for name in old_by if name in new_by]
    kept_new = [name for name in new_by if name in old_by]
    if kept_old != kept_new:
        changes += [
            Change("moved", str(name))
            for position, name in enumerate(kept_new)
            if kept_old[position] != name
        ]
    return changes


def _keys(old: Mapping, new: Mapping) -> list[str]:
    """The keys that differ, one level into texts (``label.de``)."""
    keys = []
    for key in dict.fromkeys([*old, *new]):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if isinstance(a, Mapping) and isinstance(b, Mapping) and key in _TEXTS:
            keys += [
                f"{key}.{lang}" for lang in dict.fromkeys([*a, *b]) if a.get(lang) != b.get(lang)
            ]
        else:
            keys.append(key)
    return keys


_TEXTS = ("label", "help", "placeholder", "title", "description")
