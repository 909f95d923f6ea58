"""Every hook a plug-in can implement, and nothing else.

Hooks are called with keyword arguments. A spec may gain arguments over time, never lose
them, so a plug-in written today keeps working.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from collections.abc import Callable

    from portal.forms.field_types import FieldType

hookspec = pluggy.HookspecMarker("portal")
hookimpl = pluggy.HookimplMarker("portal")


# -- Forms --------------------------------------------------------------------------------


@hookspec
def register_field_types(register: Callable[[FieldType], None]) -> None:
    """Register field types by calling ``register(field_type)`` once for each.

    A field type names itself (``field_type.rules.name``); two plug-ins registering the same
    name stop the portal at start-up with both plug-ins named.
    """
